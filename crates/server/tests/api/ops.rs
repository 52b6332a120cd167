//! Operations endpoints and retention.

use crate::helpers::*;
use downbeat_store::testing;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    let (s, v) = app.get_json("/healthz").await;
    assert_eq!((s, v), (StatusCode::OK, json!({"status": "ok"})));
    let (s, v) = app.get_json("/readyz").await;
    assert_eq!(
        (s, v),
        (
            StatusCode::OK,
            json!({"status": "ready", "store": "sqlite"})
        )
    );
    assert!(app.report_counted("login", "192.0.2.1").await);
    assert!(!app.report_counted("login", "192.0.2.1").await);
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics")
    );
    let m = r.text().await.unwrap();
    for line in [
        r#"downbeat_reports_received_total{service="melodia"} 2"#,
        r#"downbeat_reports_counted_total{service="melodia"} 1"#,
        "downbeat_store_commit_duration_seconds_count",
        "downbeat_ingest_queue_depth",
        r#"route="/api/v1/services/{service}/reports",status="202""#,
    ] {
        assert!(m.contains(line), "metrics lack {line:?}:\n{m}");
    }
    app.stop().await;
}

#[tokio::test]
async fn prune_deletes_past_retention_but_keeps_roll_ups_longer() {
    let t = testing::sqlite();
    let config = Arc::new(
        downbeat_config::parse_str(
            &config_text("[retention]\nraw = \"30d\"\nrollups = \"90d\"\n"),
            "t",
        )
        .unwrap(),
    );
    let store = downbeat_store::open(&t.target).await.unwrap();
    let now = jiff::Timestamp::now();
    let clock = Arc::new(downbeat_domain::ManualClock::new(now));
    let (app, running) = downbeat_server::start(config, store.clone(), clock.clone())
        .await
        .unwrap();
    let day = 86_400_000;
    let row = |age_days: i64, client: u8| downbeat_store::NewReport {
        service: "melodia".into(),
        received_at_ms: now.as_millisecond() - age_days * day,
        problem: "login".into(),
        platform: None,
        country: None,
        city: None,
        message: None,
        client_hash: [client; 16],
        network_hash: [0; 16],
        counted: true,
    };
    store
        .insert_reports(vec![row(100, 1), row(45, 2), row(1, 3)])
        .await
        .1
        .unwrap();
    let out = downbeat_server::jobs::prune_once(&app, now).await.unwrap();
    assert_eq!((out.reports, out.rollups), (2, 1));
    let since = now.as_millisecond() - 200 * day;
    assert_eq!(
        store.summary("melodia", since).await.unwrap().total,
        2,
        "45-day-old roll-up kept"
    );
    assert_eq!(
        store
            .recent_counted_clients("melodia", since)
            .await
            .unwrap()
            .len(),
        1,
        "only the recent raw report"
    );
    running.stop(&app).await;
}

/// No metric label takes client-chosen text: invented methods and unknown paths collapse
/// into one label value each, so a client cannot grow /metrics without bound.
#[tokio::test]
async fn invented_methods_and_paths_do_not_grow_the_metrics() {
    let app = spawn_app().await;
    let lines = |text: &str| text.lines().filter(|l| l.contains("http_request")).count();
    let metrics = || async {
        app.client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let send = |method: String, path: String| {
        let (client, url) = (app.client.clone(), app.url(&path));
        async move {
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            client.request(m, url).send().await.unwrap();
        }
    };
    send("FOO0".into(), "/api/v1/services/melodia/status".into()).await;
    send("GET".into(), "/no/such/thing/0".into()).await;
    send("BAR0".into(), "/no/such/thing/0".into()).await;
    metrics().await; // its own line appears once it has been asked for
    let before = lines(&metrics().await);
    for i in 1..=4 {
        send(format!("FOO{i}"), "/api/v1/services/melodia/status".into()).await;
        send(format!("BAR{i}"), format!("/no/such/thing/{i}")).await;
        send("GET".into(), format!("/no/such/thing/{i}?x={i}")).await;
    }
    let after = metrics().await;
    assert_eq!(lines(&after), before, "{after}");
    assert!(!after.contains("FOO") && !after.contains("BAR") && !after.contains("thing"));
    assert!(after.contains(r#"method="other""#), "{after}");
    app.stop().await;
}
