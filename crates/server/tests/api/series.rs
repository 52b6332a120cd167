//! Reading reports back: summary windows and bucketed counts.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn summary_window_excludes_older_reports() {
    let app = spawn_app().await;
    assert!(app.report_counted("login", "192.0.2.1").await);
    app.clock.advance(Duration::from_secs(2 * 3600));
    assert!(app.report_counted("search", "192.0.2.2").await);
    assert_eq!(app.summary("60m").await["by_problem"], json!({"search": 1}));
    assert_eq!(app.summary("3h").await["total"], json!(2));
    assert_eq!(app.summary("24h").await["total"], json!(2));
    let (s, v) = app.get_json("/api/v1/services/melodia/summary").await;
    assert_eq!(
        (s, &v["window"]),
        (StatusCode::OK, &json!("1h")),
        "default window is an hour"
    );
    app.stop().await;
}

#[tokio::test]
async fn counts_come_in_dense_aligned_buckets() {
    let app = spawn_app().await;
    // start on a quarter hour so the buckets are predictable
    let now = app.clock.now_ms();
    let quarter = 900_000;
    app.clock.set_ms((now / quarter + 1) * quarter);
    assert!(app.report_counted("login", "192.0.2.1").await);
    assert!(app.report_counted("login", "192.0.2.2").await);
    app.clock.advance(Duration::from_secs(6 * 60));
    assert!(app.report_counted("login", "192.0.2.3").await);
    let (s, v) = app
        .get_json("/api/v1/services/melodia/reports?since=30m&bucket=5m")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let counts: Vec<u64> = v["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    // 30 minutes back from 6 minutes past the quarter, in 5-minute buckets up to now
    assert_eq!(counts, vec![0, 0, 0, 0, 0, 2, 1], "{v}");
    let (_, v) = app
        .get_json("/api/v1/services/melodia/reports?since=30m&bucket=15m")
        .await;
    let counts: Vec<u64> = v["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 3);
    assert_eq!(*counts.last().unwrap(), 3);
    // the default is the last 24 hours in 5-minute buckets
    let (_, v) = app.get_json("/api/v1/services/melodia/reports").await;
    assert_eq!(v["bucket"], json!("5m"));
    assert_eq!(v["buckets"].as_array().unwrap().len(), 24 * 12 + 1);
    // an RFC 3339 since works too
    let since = jiff::Timestamp::from_millisecond(app.clock.now_ms() - 300_000).unwrap();
    let (s, v) = app
        .get_json(&format!(
            "/api/v1/services/melodia/reports?since={since}&bucket=1m"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["count"].as_u64().unwrap())
            .sum::<u64>(),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_parameters_are_named() {
    let app = spawn_app().await;
    let cases = [
        (
            "/api/v1/services/melodia/summary?window=soon",
            422,
            "window",
        ),
        ("/api/v1/services/melodia/summary?window=1s", 422, "window"),
        ("/api/v1/services/melodia/summary?windw=1h", 400, "windw"),
        ("/api/v1/services/melodia/reports?bucket=2m", 422, "bucket"),
        (
            "/api/v1/services/melodia/reports?since=yesterday",
            422,
            "since",
        ),
        (
            "/api/v1/services/melodia/reports?since=400d&bucket=1m",
            422,
            "buckets",
        ),
        (
            "/api/v1/services/melodia/reports?since=2999-01-01T00:00:00Z",
            422,
            "future",
        ),
        ("/api/v1/services/nobody/summary", 404, "nobody"),
        ("/api/v1/services/nobody/reports", 404, "nobody"),
        ("/api/v1/nothing-here", 404, "no such endpoint"),
    ];
    for (path, want, word) in cases {
        let (s, v) = app.get_json(path).await;
        assert_eq!(s.as_u16(), want, "{path}: {v}");
        let err = v["error"].as_str().unwrap_or_default();
        assert!(
            err.contains(word),
            "{path}: {err:?} should mention {word:?}"
        );
    }
    let r = app
        .client
        .delete(app.url("/api/v1/services/melodia/reports"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.text().await.unwrap().contains("error"));
    app.stop().await;
}
