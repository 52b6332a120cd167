//! Monitors against real loopback targets, through the API.

use crate::helpers::*;
use axum::Router;
use axum::http::StatusCode as AxStatus;
use axum::routing::get;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn targets() -> (u16, u16) {
    let app = Router::new().route("/ok", get(|| async { "ok" })).route(
        "/busy",
        get(|| async { (AxStatus::SERVICE_UNAVAILABLE, "busy") }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    // a port nobody listens on
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    (port, closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_find_and_name_causes_with_hysteresis() {
    let (port, closed) = targets().await;
    let config = format!(
        r#"
[server]
region = "eu-west"

[probes]
failures_to_open = 2
successes_to_close = 2

[[service]]
id = "melodia"
name = "Melodia"

[[monitor]]
id = "web-ok"
service = "melodia"
kind = "http"
target = "http://127.0.0.1:{port}/ok"
interval = "5s"
timeout = "2s"
body_contains = "ok"

[[monitor]]
id = "api-busy"
service = "melodia"
kind = "http"
target = "http://127.0.0.1:{port}/busy"
interval = "5s"
timeout = "2s"

[[monitor]]
id = "port-closed"
service = "melodia"
kind = "tcp"
target = "127.0.0.1:{closed}"
interval = "5s"
timeout = "2s"
"#
    );
    let clock = Arc::new(downbeat_domain::ManualClock::new(jiff::Timestamp::now()));
    let app = spawn_raw(downbeat_store::testing::sqlite(), &config, clock.clone()).await;
    // Results carry real times; keep the manual clock near real time for freshness.
    let deadline = Instant::now() + Duration::from_secs(25);
    let body = loop {
        clock.set(jiff::Timestamp::now());
        let (_, v) = app.viewer_json("/api/v1/services/melodia/monitors").await;
        let states: Vec<&str> = v["monitors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["state"].as_str().unwrap())
            .collect();
        if states == ["up", "down", "down"] {
            break v;
        }
        assert!(Instant::now() < deadline, "monitors never settled: {v}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let by_id = |id: &str| {
        body["monitors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap()
            .clone()
    };
    let ok = by_id("web-ok");
    assert_eq!(ok["regions"]["eu-west"]["outcome"], "up", "{ok}");
    assert!(
        ok["regions"]["eu-west"]["timings"]["total_ms"]
            .as_f64()
            .unwrap()
            > 0.0,
        "{ok}"
    );
    assert!(ok["probable_cause"].is_null(), "{ok}");
    let busy = by_id("api-busy");
    assert_eq!(busy["probable_cause"], "overload", "{busy}");
    assert_eq!(busy["regions"]["eu-west"]["http_status"], 503, "{busy}");
    let closed_m = by_id("port-closed");
    assert_eq!(
        closed_m["regions"]["eu-west"]["cause"], "connect",
        "{closed_m}"
    );
    let diagnosis = body["diagnosis"].as_str().unwrap();
    assert!(
        diagnosis.contains("eu-west") && diagnosis.contains("overload"),
        "{diagnosis}"
    );

    // Without a token, the public view: states, causes in words, regions, timings; no
    // target, address, error text or operator diagnosis.
    let (s, public) = app.get_json("/api/v1/services/melodia/monitors").await;
    assert_eq!(s.as_u16(), 200, "{public}");
    let text = public.to_string();
    for secret in [
        "127.0.0.1",
        "/busy",
        "/ok",
        "\"target\"",
        "\"error\"",
        "\"address\"",
        "os error",
    ] {
        assert!(
            !text.contains(secret),
            "the public view shows {secret}: {text}"
        );
    }
    let busy_public = public["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "api-busy")
        .unwrap();
    assert_eq!(busy_public["state"], "down", "{busy_public}");
    assert_eq!(
        busy_public["cause_words"], "overload (busy or very slow)",
        "{busy_public}"
    );
    assert_eq!(
        busy_public["regions"]["eu-west"]["state"], "failing",
        "{busy_public}"
    );
    assert!(busy_public["regions"]["eu-west"]["timings"]["total_ms"].is_number());
    let (_, history) = app
        .get_json("/api/v1/monitors/port-closed/results?since=5m")
        .await;
    let text = history.to_string();
    assert!(
        !text.contains("127.0.0.1") && !text.contains("os error"),
        "{text}"
    );
    assert!(history["results"][0]["cause"] == "connect", "{history}");

    // history, and its parameters
    let (s, r) = app
        .get_json("/api/v1/monitors/web-ok/results?since=5m")
        .await;
    assert_eq!(s.as_u16(), 200, "{r}");
    let results = r["results"].as_array().unwrap();
    assert!(
        !results.is_empty()
            && results
                .iter()
                .all(|x| x["region"] == "eu-west" && x["outcome"] == "up"),
        "{r}"
    );
    for (path, want) in [
        ("/api/v1/monitors/nope/results", 404),
        ("/api/v1/monitors/web-ok/results?since=soon", 422),
        ("/api/v1/services/nobody/monitors", 404),
    ] {
        let (s, v) = app.get_json(path).await;
        assert_eq!(s.as_u16(), want, "{path}: {v}");
    }
    // the state survives a restart
    let (store, _) = app.stop().await;
    let app = spawn_raw(store, &config, clock.clone()).await;
    let (_, v) = app.get_json("/api/v1/services/melodia/monitors").await;
    let busy: &Value = v["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "api-busy")
        .unwrap();
    assert_eq!(
        busy["state"], "down",
        "restart forgot an open monitor: {busy}"
    );
    app.stop().await;
}
