//! Webhook subscribers through the API: registered with a secret shown once, signed
//! deliveries a receiver verifies (signature and timestamp), management by token, and every
//! bad request answered with a 4xx naming what is wrong.

use crate::helpers::{TestApp, spawn_with, until};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use downbeat_domain::event::{Event, IncidentChange, Notice};
use downbeat_store::{DeliveryState, testing};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Seen = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let router = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |State(seen): State<Seen>, h: HeaderMap, body: axum::body::Bytes| async move {
                    seen.lock().unwrap().push((h, body.to_vec()));
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(seen.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, router).await });
    (url, seen)
}

/// Verifies a delivery as a subscriber would: HMAC over `timestamp.body`, fresh timestamp.
fn verify(secret: &str, h: &HeaderMap, body: &[u8]) -> Value {
    let get = |n: &str| h.get(n).unwrap().to_str().unwrap().to_owned();
    let ts = get("x-downbeat-timestamp");
    let age = jiff::Timestamp::now().as_second() - ts.parse::<i64>().unwrap();
    assert!(age.abs() < 300, "a replayed or skewed timestamp: {age} s");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(get("x-downbeat-signature"), format!("sha256={hex}"));
    let v: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v["id"], get("x-downbeat-event-id"));
    v
}

async fn post(app: &TestApp, path: &str, ct: &str, body: &str) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(path))
        .header("content-type", ct)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

const HOOKS: &str = "[notify]\npublic_url = \"https://status.example\"\n\
    [notify.subscribers]\nwebhook = true\nallow_private_targets = true\n";

#[tokio::test]
async fn a_webhook_subscriber_gets_signed_events_and_manages_them_by_token() {
    let (url, seen) = receiver().await;
    let app = spawn_with(testing::sqlite(), HOOKS).await;
    let path = "/api/v1/services/melodia/subscriptions";
    let (s, sub) = post(
        &app,
        path,
        "application/json",
        &json!({"webhook": url, "components": ["login"]}).to_string(),
    )
    .await;
    assert_eq!(s, 201, "{sub}");
    let (token, secret) = (
        sub["token"].as_str().unwrap().to_owned(),
        sub["secret"].as_str().unwrap().to_owned(),
    );
    // Login is Melodia's only component here: asking for every component is the whole service.
    assert_eq!(sub["components"], json!([]));
    let (s, _) = post(
        &app,
        path,
        "application/json",
        &json!({"webhook": url}).to_string(),
    )
    .await;
    assert_eq!(s, 409, "registered once");

    let created = Event::IncidentCreated(IncidentChange {
        incident: 4,
        seq: 1,
        news: json!({"title": "Login failing", "status": "investigating"}).into(),
    });
    let e = Notice::new("melodia", app.clock.now_ms(), created).about(["login"]);
    assert_eq!(app.app.notifier.enqueue(e).await.unwrap(), 1);
    // Monitors and crowd verdicts are not for the public.
    assert_eq!(
        app.app
            .notifier
            .enqueue(Notice::monitor("melodia", "m", true, 1))
            .await
            .unwrap(),
        0
    );
    for _ in 0..1500 {
        if !seen.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let v = verify(&secret, &got[0].0, &got[0].1);
    assert_eq!(v["type"], "incident.created");
    assert_eq!(v["link"], "https://status.example/s/melodia/incidents/4");

    let (s, v) = app
        .get_json(&format!("/api/v1/subscriptions/{token}"))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["kind"].as_str(), v["confirmed"].as_bool()),
        (Some("webhook"), Some(true))
    );
    let del = |t: String| {
        let r = app
            .client
            .delete(app.url(&format!("/api/v1/subscriptions/{t}")))
            .send();
        async move { r.await.unwrap().status().as_u16() }
    };
    assert_eq!(del(token.clone()).await, 204);
    assert_eq!(del(token.clone()).await, 404);
    let (s, _) = app
        .get_json(&format!("/api/v1/subscriptions/{token}"))
        .await;
    assert_eq!(s, 404);
    app.stop().await;
}

#[tokio::test]
async fn bad_subscription_requests_get_a_4xx_naming_the_problem() {
    let app = spawn_with(
        testing::sqlite(),
        "[notify]\npublic_url = \"https://status.example\"\n[notify.subscribers]\nwebhook = true\n",
    )
    .await;
    let path = "/api/v1/services/melodia/subscriptions";
    let json_ct = "application/json";
    let cases: &[(&str, &str, &str, u16, &str)] = &[
        (path, json_ct, "{}", 422, "exactly one"),
        (
            path,
            json_ct,
            r#"{"email": "a@b.example"}"#,
            404,
            "no email subscriptions",
        ),
        (
            path,
            json_ct,
            r#"{"webhook": "ftp://h.example/x"}"#,
            422,
            "url",
        ),
        (
            path,
            json_ct,
            r#"{"webhook": "http://127.0.0.1:9/x"}"#,
            422,
            "public address",
        ),
        (
            path,
            json_ct,
            r#"{"webhook": "http://localhost/x"}"#,
            422,
            "public address",
        ),
        (
            path,
            json_ct,
            r#"{"webhook": "https://u:p@h.example/x"}"#,
            422,
            "user name",
        ),
        (
            path,
            json_ct,
            r#"{"webhook": "https://h.example/", "components": ["nope"]}"#,
            422,
            "components",
        ),
        (
            path,
            json_ct,
            r#"{"webhook": "https://h.example/", "colour": 1}"#,
            400,
            "",
        ),
        (path, json_ct, "{not json", 400, ""),
        (
            path,
            "text/plain",
            r#"{"webhook": "https://h.example/"}"#,
            415,
            "",
        ),
        (
            "/api/v1/services/nobody/subscriptions",
            json_ct,
            "{}",
            404,
            "unknown service",
        ),
    ];
    for (p, ct, body, status, says) in cases {
        let (s, v) = post(&app, p, ct, body).await;
        let s = if *status == 400 && s == 422 { 400 } else { s };
        assert_eq!(s, *status, "{body}: {v}");
        let text = v.to_string();
        assert!(text.contains(says), "{body}: {text}");
    }
    for t in ["nope", "dbs_zz", &format!("dbs_{}", "0".repeat(64))] {
        let (s, _) = app.get_json(&format!("/api/v1/subscriptions/{t}")).await;
        assert_eq!(s, 404, "{t}");
    }
    app.stop().await;
}

/// Regression: a subscriber's webhook answering 500 was recorded as delivered and never
/// retried. It now goes the destinations' way: retried after a 5xx, delivered on a 2xx.
#[tokio::test]
async fn a_subscriber_webhook_that_answers_500_is_retried_until_it_takes_the_event() {
    let status = Arc::new(AtomicU16::new(500));
    let router = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(|State(status): State<Arc<AtomicU16>>| async move {
                StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap()
            }),
        )
        .with_state(status.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, router).await });
    let app = spawn_with(testing::sqlite(), HOOKS).await;
    let (s, sub) = post(
        &app,
        "/api/v1/services/melodia/subscriptions",
        "application/json",
        &json!({"webhook": url}).to_string(),
    )
    .await;
    assert_eq!(s, 201, "{sub}");
    let created = Event::IncidentCreated(IncidentChange {
        incident: 5,
        seq: 1,
        news: json!({"title": "Login failing", "status": "investigating"}).into(),
    });
    let e = Notice::new("melodia", app.clock.now_ms(), created);
    let id = e.id();
    assert_eq!(app.app.notifier.enqueue(e).await.unwrap(), 1);
    let delivery = || async {
        let d = app.app.store.deliveries(Some(&id), 10).await.unwrap();
        assert_eq!(d.len(), 1);
        d.into_iter().next().unwrap()
    };
    until("the first attempt is recorded", || async {
        delivery().await.attempts == 1
    })
    .await;
    let d = delivery().await;
    assert_eq!(d.state, DeliveryState::Pending, "a 500 is not a delivery");
    assert_eq!(d.last_error.as_deref(), Some("HTTP 500"));
    status.store(204, Ordering::SeqCst);
    app.clock.advance(Duration::from_secs(3600));
    until("the retry delivers it", || async {
        delivery().await.state == DeliveryState::Delivered
    })
    .await;
    assert_eq!(delivery().await.attempts, 2);
    app.stop().await;
}
