//! Incidents, their updates and versions.

use super::*;
use downbeat_domain::ComponentState;
use downbeat_domain::incident::{Impact, Kind, Source, Status};

fn incident(service: &str, kind: Kind, status: Status, draft: bool, at: i64) -> IncidentRow {
    IncidentRow {
        id: 0,
        service: service.into(),
        kind,
        title: format!("{} at {at}", kind.as_str()),
        status,
        impact: Impact::Major,
        components: [("login".to_owned(), ComponentState::MajorOutage)].into(),
        draft,
        source: Source::Operator,
        evidence: None,
        created_ms: at,
        updated_ms: at,
        published_ms: (!draft).then_some(at),
        resolved_ms: None,
        onset_ms: Some(at - 300_000),
        detected_ms: Some(at - 120_000),
        acknowledged_ms: None,
        scheduled_start_ms: None,
        scheduled_end_ms: None,
        recovered_ms: None,
        postmortem: None,
        postmortem_ms: None,
        version: 0,
    }
}

fn update(at: i64, status: Status, message: &str) -> IncidentUpdateRow {
    IncidentUpdateRow {
        id: 0,
        incident: 0,
        at_ms: at,
        status,
        message: message.into(),
        components: Components::new(),
        author: "alice".into(),
    }
}

#[tokio::test]
async fn incidents_keep_their_updates_and_refuse_stale_versions() {
    each_backend(|s, name| async move {
        let id = s
            .insert_incident(
                incident("melodia", Kind::Incident, Status::Investigating, false, T0),
                vec![update(T0, Status::Investigating, "Looking into it")],
                None,
            )
            .await
            .unwrap();
        let rec = s.incident(id).await.unwrap().expect(name);
        assert_eq!(rec.incident.version, 1, "{name}");
        assert_eq!(rec.updates.len(), 1, "{name}");
        assert_eq!(rec.updates[0].incident, id, "{name}");

        let mut row = rec.incident.clone();
        row.status = Status::Resolved;
        row.resolved_ms = Some(T0 + 60_000);
        s.update_incident(
            row.clone(),
            vec![update(T0 + 60_000, Status::Resolved, "Fixed")],
            None,
        )
        .await
        .unwrap();
        // The same version again lost the race.
        let stale = s.update_incident(row.clone(), vec![], None).await;
        assert!(
            matches!(stale, Err(StoreError::Conflict(_))),
            "{name}: {stale:?}"
        );
        row.id = id + 1000;
        let missing = s.update_incident(row, vec![], None).await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{name}: {missing:?}"
        );

        let rec = s.incident(id).await.unwrap().expect(name);
        assert_eq!(rec.incident.version, 2, "{name}");
        assert_eq!(rec.incident.status, Status::Resolved, "{name}");
        let messages: Vec<_> = rec.updates.iter().map(|u| u.message.as_str()).collect();
        assert_eq!(messages, ["Looking into it", "Fixed"], "{name}");
        assert!(s.incident(id + 1000).await.unwrap().is_none(), "{name}");
    })
    .await;
}

#[tokio::test]
async fn incident_lists_filter_by_service_kind_draft_and_openness() {
    each_backend(|s, name| async move {
        let add = |row: IncidentRow| {
            let s = s.clone();
            async move { s.insert_incident(row, vec![], None).await.unwrap() }
        };
        let resolved = add(incident(
            "melodia",
            Kind::Incident,
            Status::Resolved,
            false,
            T0,
        ))
        .await;
        let open = add(incident(
            "melodia",
            Kind::Incident,
            Status::Identified,
            false,
            T0 + 10,
        ))
        .await;
        let draft = add(incident(
            "melodia",
            Kind::Incident,
            Status::Investigating,
            true,
            T0 + 20,
        ))
        .await;
        let maint = add(incident(
            "melodia",
            Kind::Maintenance,
            Status::Scheduled,
            false,
            T0 + 30,
        ))
        .await;
        let other = add(incident(
            "other",
            Kind::Incident,
            Status::Investigating,
            false,
            T0 + 40,
        ))
        .await;
        let ids = |f: IncidentFilter| {
            let s = s.clone();
            async move {
                s.incidents(IncidentFilter { limit: 100, ..f })
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| r.incident.id)
                    .collect::<Vec<_>>()
            }
        };
        let melodia = || IncidentFilter {
            service: Some("melodia".into()),
            ..Default::default()
        };
        assert_eq!(
            ids(melodia()).await,
            [maint, open, resolved],
            "{name}: public"
        );
        assert_eq!(
            ids(IncidentFilter {
                include_drafts: true,
                ..melodia()
            })
            .await,
            [maint, draft, open, resolved],
            "{name}: with drafts"
        );
        assert_eq!(
            ids(IncidentFilter {
                kind: Some(Kind::Incident),
                open_only: true,
                ..melodia()
            })
            .await,
            [open],
            "{name}: open incidents"
        );
        assert_eq!(
            ids(IncidentFilter {
                since_ms: Some(T0 + 5),
                ..melodia()
            })
            .await,
            [maint, open],
            "{name}: since"
        );
        assert_eq!(
            ids(IncidentFilter::default()).await.len(),
            4,
            "{name}: all services"
        );
        assert!(
            ids(IncidentFilter::default()).await.contains(&other),
            "{name}"
        );
    })
    .await;
}
