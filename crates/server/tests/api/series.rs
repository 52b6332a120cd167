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

/// Every time, duration and limit parameter is bounded: out of range is a 422 naming it,
/// never a panic (`since=300000000y` used to overflow into a capacity panic).
#[tokio::test]
async fn out_of_range_times_and_limits_are_refused_by_name() {
    let app = spawn_app().await;
    let paths = [
        ("/api/v1/services/melodia/reports?since=300000000y", "since"),
        (
            "/api/v1/services/melodia/reports?since=401d&bucket=1h",
            "since",
        ),
        (
            "/api/v1/services/melodia/reports?since=1990-01-01T00:00:00Z&bucket=1h",
            "since",
        ),
        ("/api/v1/services/melodia/events?since=300000000y", "since"),
        (
            "/api/v1/services/melodia/events?since=2999-01-01T00:00:00Z",
            "since",
        ),
        ("/api/v1/services/melodia/events?limit=100000", "limit"),
        (
            "/api/v1/services/melodia/summary?window=300000000y",
            "window",
        ),
        ("/api/v1/services/melodia/incidents?limit=100000", "limit"),
    ];
    for (path, field) in paths {
        let (s, v) = app.get_json(path).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
        assert_eq!(v["field"], json!(field), "{path}: {v}");
    }
    // The server is still there.
    let (s, _) = app.get_json("/api/v1/services/melodia/reports").await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}

/// Cached answers are keyed by what a request means, not how it is written: spellings of the
/// same range share one answer instead of each costing a trip to the store.
#[tokio::test]
async fn spellings_of_one_range_share_a_cached_answer() {
    let app = spawn_app().await;
    let now = app.clock.now_ms();
    // Written straight to the store: the intake's change counter does not move, so only
    // the cache's freshness decides what is served.
    let report = |client: u8| downbeat_store::NewReport {
        service: "melodia".into(),
        received_at_ms: now - 60_000,
        problem: "login".into(),
        platform: None,
        country: None,
        city: None,
        message: None,
        client_hash: [client; 16],
        network_hash: [client; 16],
        counted: true,
    };
    let (_, stored) = app.app.store.insert_reports(vec![report(1)]).await;
    stored.unwrap();
    let total = |v: &serde_json::Value| {
        v["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["count"].as_u64().unwrap())
            .sum::<u64>()
    };
    let (_, first) = app
        .get_json("/api/v1/services/melodia/reports?since=24h&bucket=1h")
        .await;
    assert_eq!(total(&first), 1, "{first}");
    let (_, stored) = app.app.store.insert_reports(vec![report(2)]).await;
    stored.unwrap();
    for spelling in ["1440m", "1d", "86400s"] {
        let (_, again) = app
            .get_json(&format!(
                "/api/v1/services/melodia/reports?since={spelling}&bucket=1h"
            ))
            .await;
        assert_eq!(again, first, "since={spelling} is the same range");
    }
    let (_, summary_a) = app
        .get_json("/api/v1/services/melodia/summary?window=60m")
        .await;
    let (_, summary_b) = app
        .get_json("/api/v1/services/melodia/summary?window=1h")
        .await;
    assert_eq!(summary_a, summary_b);
    // A later clock makes the answer stale: the new report shows.
    app.clock.advance(Duration::from_secs(2));
    let (_, fresh) = app
        .get_json("/api/v1/services/melodia/reports?since=24h&bucket=1h")
        .await;
    assert_eq!(total(&fresh), 2, "{fresh}");
    app.stop().await;
}
