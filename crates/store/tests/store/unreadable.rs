//! Stored values this version cannot read: a word outside the vocabulary, or JSON of the
//! wrong shape, written behind the store's back (by hand, or by a newer version). Reading
//! one is an error naming the table, column and value, never a silent default.

use super::*;
use downbeat_domain::event::{CheckState, EventKind};
use downbeat_domain::incident::{Impact, Kind, Source, Status};
use downbeat_domain::probe::Cause;
use downbeat_domain::{Role, Slug, Verdict};

/// One row in every table with a typed column (the report names a platform and a country).
async fn fill(s: &std::sync::Arc<dyn Store>) -> i64 {
    let incident = IncidentRow {
        id: 0,
        service: "melodia".into(),
        kind: Kind::Incident,
        title: "Login fails".into(),
        status: Status::Investigating,
        impact: Impact::Major,
        components: Components::new(),
        draft: false,
        source: Source::Operator,
        evidence: None,
        created_ms: T0,
        updated_ms: T0,
        published_ms: Some(T0),
        resolved_ms: None,
        onset_ms: None,
        detected_ms: None,
        acknowledged_ms: None,
        scheduled_start_ms: None,
        scheduled_end_ms: None,
        recovered_ms: None,
        postmortem: None,
        postmortem_ms: None,
        version: 0,
        origin: None,
    };
    let update = IncidentUpdateRow {
        id: 0,
        incident: 0,
        at_ms: T0,
        status: Status::Investigating,
        message: "Looking into it".into(),
        components: Components::new(),
        author: "alice".into(),
    };
    let id = s
        .insert_incident(incident, vec![update], None)
        .await
        .unwrap();
    insert(s, vec![report("melodia", T0, "login", 1, true)]).await;
    s.insert_probe_results(vec![probe("api", "eu-west", T0, true)])
        .await
        .unwrap();
    s.save_monitor_state(MonitorState {
        monitor: "api".into(),
        state: CheckState::Down,
        since_ms: T0,
        cause: Some(Cause::Dns),
        notified: true,
    })
    .await
    .unwrap();
    s.insert_verdict_event(super::detection::ev(T0, Verdict::Problems), None)
        .await
        .unwrap();
    let event = NotifyEventRow {
        id: "incident-1-update-1".into(),
        kind: OutboxKind::Event(EventKind::IncidentCreated),
        service: "melodia".into(),
        occurred_ms: T0,
        link: "/s/melodia/incidents/1".into(),
        data: "{}".into(),
    };
    s.enqueue_notification(event, vec!["hook".into()], T0)
        .await
        .unwrap();
    s.create_token(ApiToken {
        id: 0,
        name: "ci".into(),
        role: Role::Editor,
        hash: [7; 32],
        created_ms: T0,
        revoked_ms: None,
        regions: vec![Slug::parse("eu-west").unwrap()],
    })
    .await
    .unwrap();
    s.save_user(UserRow {
        name: "alice".into(),
        role: Role::Admin,
        password_hash: "$argon2id$".into(),
        created_ms: T0,
        from_config: false,
    })
    .await
    .unwrap();
    id
}

/// Reads what `table` holds back through the store.
async fn read(s: &std::sync::Arc<dyn Store>, table: &str, incident: i64) -> Option<StoreError> {
    match table {
        "incidents" | "incident_updates" => s.incident(incident).await.err(),
        "reports" => s.network_minutes("melodia", 0, T0 + 60_000).await.err(),
        "probe_results" => s.probe_results("api", 0, 10).await.err(),
        "monitor_states" => s.monitor_states().await.err(),
        "verdict_events" => s.verdict_events("melodia", 0, 10).await.err(),
        "notify_events" => s
            .claim_deliveries(Claim::Destination("hook"), "w", T0, 60_000, 10)
            .await
            .err(),
        "api_tokens" => s.tokens().await.err(),
        "users" => s.users().await.err(),
        _ => unreachable!("no reader for {table}"),
    }
}

// (Delivery states, subscriber kinds and comment states are not here: a CHECK constraint in
// the schema refuses any other word, on both backends.)
#[tokio::test]
async fn unknown_stored_words_are_errors_naming_their_column() {
    let cases = [
        ("incidents", "kind", "outage"),
        ("incidents", "status", "on_fire"),
        ("incidents", "impact", "apocalyptic"),
        ("incidents", "source", "gossip"),
        ("incidents", "components", r#"{"login":"melted"}"#),
        ("incidents", "evidence", "not json"),
        ("incident_updates", "status", "on_fire"),
        ("incident_updates", "components", r#"["login"]"#),
        ("reports", "platform", "toaster"),
        ("reports", "country", "ZZ"),
        ("probe_results", "outcome", "sideways"),
        ("probe_results", "cause", "gremlins"),
        ("monitor_states", "state", "sideways"),
        ("monitor_states", "cause", "gremlins"),
        ("verdict_events", "verdict", "doom"),
        ("verdict_events", "previous", "doom"),
        ("notify_events", "kind", "incident.exploded"),
        ("api_tokens", "role", "root"),
        ("api_tokens", "regions", "eu-west EU_WEST"),
        ("users", "role", "root"),
    ];
    for t in testing::all().await {
        let name = t.name;
        let s = open(&t.target).await.unwrap();
        let id = fill(&s).await;
        for (table, column, value) in cases {
            // Each case spoils one column, then puts back the word it found there.
            let was = format!("{table}_{column}_was");
            testing::execute_raw(
                &t.target,
                &format!(
                    "CREATE TABLE {was} AS SELECT {column} AS v FROM {table};
                     UPDATE {table} SET {column} = '{value}'"
                ),
            )
            .await;
            match read(&s, table, id).await {
                Some(StoreError::Unreadable {
                    table: tb,
                    column: col,
                    value: v,
                    ..
                }) => assert_eq!((tb, col, v.as_str()), (table, column, value), "{name}"),
                other => panic!("{name}: {table}.{column} = {value:?} read as {other:?}"),
            }
            testing::execute_raw(
                &t.target,
                &format!(
                    "UPDATE {table} SET {column} = (SELECT v FROM {was} LIMIT 1);
                     DROP TABLE {was}"
                ),
            )
            .await;
            assert!(
                read(&s, table, id).await.is_none(),
                "{name}: {table}.{column} restored"
            );
        }
    }
}
