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
        origin: None,
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

/// An integration finds its incident again by origin, and a notification two nodes take
/// at the same moment drafts once: a second open incident of one origin is a conflict,
/// whether the first is committed already or being inserted at the same time. Once the
/// first is resolved, the origin may draft again (a new episode).
#[tokio::test]
async fn an_origin_has_at_most_one_open_incident() {
    each_backend(|s, name| async move {
        let from = |origin: Option<&str>, at: i64| IncidentRow {
            source: Source::Integration,
            origin: origin.map(str::to_owned),
            ..incident("melodia", Kind::Incident, Status::Investigating, true, at)
        };
        let group = "alertmanager:0123abcd";
        let (a, b) = tokio::join!(
            s.insert_incident(from(Some(group), T0), vec![], None),
            s.insert_incident(from(Some(group), T0), vec![], None),
        );
        let (first, lost) = match (a, b) {
            (Ok(id), Err(e)) | (Err(e), Ok(id)) => (id, e),
            other => panic!("{name}: exactly one of two inserts at once: {other:?}"),
        };
        assert!(
            matches!(&lost, StoreError::Conflict(m) if m.contains(group)),
            "{name}: {lost:?}"
        );
        let again = s
            .insert_incident(
                from(Some(group), T0 + 10),
                vec![update(T0 + 10, Status::Investigating, "x")],
                None,
            )
            .await;
        assert!(
            matches!(again, Err(StoreError::Conflict(_))),
            "{name}: {again:?}"
        );
        // Other origins and incidents without one are not in the way.
        let webhook = s
            .insert_incident(from(Some("webhook:kuma"), T0 + 20), vec![], None)
            .await
            .unwrap();
        for at in [T0 + 30, T0 + 40] {
            s.insert_incident(from(None, at), vec![], None)
                .await
                .unwrap();
        }
        let of = |origin: &str, open_only: bool| {
            let (s, origin) = (s.clone(), origin.to_owned());
            async move {
                s.incidents(IncidentFilter {
                    origin: Some(origin),
                    include_drafts: true,
                    open_only,
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_iter()
                .map(|r| (r.incident.id, r.incident.origin))
                .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            of(group, true).await,
            [(first, Some(group.to_owned()))],
            "{name}: nothing of the refused inserts was stored"
        );
        assert_eq!(
            of("webhook:kuma", false).await,
            [(webhook, Some("webhook:kuma".to_owned()))],
            "{name}"
        );

        // Resolved: the next episode of the group drafts anew.
        let mut row = s.incident(first).await.unwrap().expect(name).incident;
        row.status = Status::Resolved;
        row.resolved_ms = Some(T0 + 50);
        s.update_incident(row, vec![], None).await.unwrap();
        let next = s
            .insert_incident(from(Some(group), T0 + 60), vec![], None)
            .await
            .unwrap();
        assert_eq!(
            of(group, false).await,
            [
                (next, Some(group.to_owned())),
                (first, Some(group.to_owned()))
            ],
            "{name}: newest first"
        );
        assert_eq!(of(group, true).await.len(), 1, "{name}");
    })
    .await;
}
