//! The operator's side of the store (tokens, users, sessions, incidents), on every backend.

use downbeat_store::testing::each_backend;
use downbeat_store::*;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn token(name: &str, role: &str, fill: u8) -> ApiToken {
    ApiToken {
        id: 0,
        name: name.into(),
        role: role.into(),
        hash: [fill; 32],
        created_ms: T0,
        revoked_ms: None,
    }
}

fn incident(service: &str, kind: &str, status: &str, draft: bool, at: i64) -> IncidentRow {
    IncidentRow {
        id: 0,
        service: service.into(),
        kind: kind.into(),
        title: format!("{kind} at {at}"),
        status: status.into(),
        impact: "major".into(),
        components: r#"{"login":"major_outage"}"#.into(),
        draft,
        source: "operator".into(),
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

fn update(at: i64, status: &str, message: &str) -> IncidentUpdateRow {
    IncidentUpdateRow {
        id: 0,
        incident: 0,
        at_ms: at,
        status: status.into(),
        message: message.into(),
        components: "{}".into(),
        author: "alice".into(),
    }
}

#[tokio::test]
async fn tokens_are_found_by_hash_until_revoked_and_names_are_unique() {
    each_backend(|s, name| async move {
        s.create_token(token("ci", "editor", 1)).await.unwrap();
        s.create_token(token("bot", "viewer", 2)).await.unwrap();
        let dup = s.create_token(token("ci", "admin", 3)).await;
        assert!(
            matches!(dup, Err(StoreError::Conflict(_))),
            "{name}: {dup:?}"
        );
        let found = s.token_by_hash([1; 32]).await.unwrap().expect(name);
        assert_eq!((found.name.as_str(), found.role.as_str()), ("ci", "editor"));
        assert!(s.token_by_hash([9; 32]).await.unwrap().is_none(), "{name}");
        assert!(s.revoke_token("ci", T0 + 1).await.unwrap(), "{name}");
        assert!(
            !s.revoke_token("ci", T0 + 2).await.unwrap(),
            "{name}: twice"
        );
        assert!(s.token_by_hash([1; 32]).await.unwrap().is_none(), "{name}");
        let all = s.tokens().await.unwrap();
        assert_eq!(all.len(), 2, "{name}");
        assert_eq!(all[1].revoked_ms, Some(T0 + 1), "{name}: {all:?}");
    })
    .await;
}

#[tokio::test]
async fn users_are_upserted_and_sessions_expire() {
    each_backend(|s, name| async move {
        let mut u = UserRow {
            name: "alice".into(),
            role: "editor".into(),
            password_hash: "$argon2id$v=19$x".into(),
            created_ms: T0,
            failed_logins: 0,
            locked_until_ms: None,
        };
        s.save_user(u.clone()).await.unwrap();
        u.failed_logins = 5;
        u.locked_until_ms = Some(T0 + 900_000);
        s.save_user(u.clone()).await.unwrap();
        assert_eq!(s.user("alice").await.unwrap(), Some(u.clone()), "{name}");
        assert_eq!(s.users().await.unwrap().len(), 1, "{name}");
        assert!(s.user("bob").await.unwrap().is_none(), "{name}");

        let session = SessionRow {
            id_hash: [7; 32],
            user: "alice".into(),
            csrf: "c".into(),
            created_ms: T0,
            expires_ms: T0 + 1_000,
        };
        s.insert_session(session.clone()).await.unwrap();
        assert_eq!(
            s.session([7; 32], T0 + 999).await.unwrap(),
            Some(session),
            "{name}"
        );
        assert!(
            s.session([7; 32], T0 + 1_000).await.unwrap().is_none(),
            "{name}: expired"
        );
        s.delete_session([7; 32]).await.unwrap();
        assert!(
            s.session([7; 32], T0).await.unwrap().is_none(),
            "{name}: deleted"
        );
    })
    .await;
}

#[tokio::test]
async fn incidents_keep_their_updates_and_refuse_stale_versions() {
    each_backend(|s, name| async move {
        let id = s
            .insert_incident(
                incident("melodia", "incident", "investigating", false, T0),
                vec![update(T0, "investigating", "Looking into it")],
            )
            .await
            .unwrap();
        let rec = s.incident(id).await.unwrap().expect(name);
        assert_eq!(rec.incident.version, 1, "{name}");
        assert_eq!(rec.updates.len(), 1, "{name}");
        assert_eq!(rec.updates[0].incident, id, "{name}");

        let mut row = rec.incident.clone();
        row.status = "resolved".into();
        row.resolved_ms = Some(T0 + 60_000);
        s.update_incident(row.clone(), vec![update(T0 + 60_000, "resolved", "Fixed")])
            .await
            .unwrap();
        // The same version again lost the race.
        let stale = s.update_incident(row.clone(), vec![]).await;
        assert!(
            matches!(stale, Err(StoreError::Conflict(_))),
            "{name}: {stale:?}"
        );
        row.id = id + 1000;
        let missing = s.update_incident(row, vec![]).await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{name}: {missing:?}"
        );

        let rec = s.incident(id).await.unwrap().expect(name);
        assert_eq!(rec.incident.version, 2, "{name}");
        assert_eq!(rec.incident.status, "resolved", "{name}");
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
            async move { s.insert_incident(row, vec![]).await.unwrap() }
        };
        let resolved = add(incident("melodia", "incident", "resolved", false, T0)).await;
        let open = add(incident(
            "melodia",
            "incident",
            "identified",
            false,
            T0 + 10,
        ))
        .await;
        let draft = add(incident(
            "melodia",
            "incident",
            "investigating",
            true,
            T0 + 20,
        ))
        .await;
        let maint = add(incident(
            "melodia",
            "maintenance",
            "scheduled",
            false,
            T0 + 30,
        ))
        .await;
        let other = add(incident(
            "other",
            "incident",
            "investigating",
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
                kind: Some("incident".into()),
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
