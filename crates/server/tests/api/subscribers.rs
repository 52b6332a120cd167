//! Webhook subscribers through the API: registered with a secret shown once, verified by
//! echoing a signed challenge before anything else is sent, signed deliveries a receiver
//! verifies (signature and timestamp), management by token, a loop of their own (so dead
//! endpoints never hold up confirmation mails), and every bad request answered with a 4xx
//! naming what is wrong.

use crate::helpers::{TestApp, spawn_with, until};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use downbeat_domain::event::{Event, IncidentChange, Notice};
use downbeat_server::testing::smtp_sink::SmtpSink;
use downbeat_store::{DeliveryState, testing};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Seen = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// The challenge of a verification request, if `body` is one.
fn challenge_of(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    (v["type"] == "subscription.verify").then(|| v["data"]["challenge"].as_str().unwrap().into())
}

/// An endpoint that echoes its verification challenge and records everything else.
async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let router = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |State(seen): State<Seen>, h: HeaderMap, body: axum::body::Bytes| async move {
                    if let Some(challenge) = challenge_of(&body) {
                        return (StatusCode::OK, challenge);
                    }
                    seen.lock().unwrap().push((h, body.to_vec()));
                    (StatusCode::NO_CONTENT, String::new())
                },
            ),
        )
        .with_state(seen.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, router).await });
    (url, seen)
}

/// Waits until the subscription `token` manages is verified.
async fn verified(app: &TestApp, token: &str) {
    until("the endpoint is verified", || async {
        let (_, v) = app
            .get_json(&format!("/api/v1/subscriptions/{token}"))
            .await;
        v["confirmed"] == true
    })
    .await;
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
    assert_eq!(sub["verified"], false, "not before it echoes the challenge");
    let (s, _) = post(
        &app,
        path,
        "application/json",
        &json!({"webhook": url}).to_string(),
    )
    .await;
    assert_eq!(s, 409, "registered once");
    verified(&app, &token).await;

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
            axum::routing::post(
                |State(status): State<Arc<AtomicU16>>, body: axum::body::Bytes| async move {
                    match challenge_of(&body) {
                        Some(challenge) => (StatusCode::OK, challenge),
                        None => (
                            StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap(),
                            String::new(),
                        ),
                    }
                },
            ),
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
    verified(&app, sub["token"].as_str().unwrap()).await;
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

/// Regression: a webhook subscription was active at once, so anyone could point Downbeat's
/// signed requests at any URL. Now the endpoint gets a signed challenge and nothing else
/// until it echoes one; its token's holder cannot confirm it instead; and one that never
/// echoes is dropped when the challenge's attempts run out (its URL free again).
#[tokio::test]
async fn an_unverified_endpoint_gets_only_its_signed_challenge_and_is_dropped_in_the_end() {
    let seen: Seen = Arc::default();
    let router = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |State(seen): State<Seen>, h: HeaderMap, body: axum::body::Bytes| async move {
                    seen.lock().unwrap().push((h, body.to_vec()));
                    StatusCode::NO_CONTENT // but no echo
                },
            ),
        )
        .with_state(seen.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, router).await });
    let app = spawn_with(
        testing::sqlite(),
        "[notify]\npublic_url = \"https://status.example\"\nmax_attempts = 2\n\
         [notify.subscribers]\nwebhook = true\nallow_private_targets = true\n",
    )
    .await;
    let path = "/api/v1/services/melodia/subscriptions";
    let body = json!({"webhook": url}).to_string();
    let (s, sub) = post(&app, path, "application/json", &body).await;
    assert_eq!(s, 201, "{sub}");
    let (token, secret) = (
        sub["token"].as_str().unwrap().to_owned(),
        sub["secret"].as_str().unwrap().to_owned(),
    );
    until("the challenge arrives", || async {
        !seen.lock().unwrap().is_empty()
    })
    .await;
    let first = seen.lock().unwrap()[0].clone();
    let v = verify(&secret, &first.0, &first.1);
    assert_eq!(v["type"], "subscription.verify");
    let challenge = v["data"]["challenge"].as_str().unwrap().to_owned();
    assert_eq!(challenge.len(), 64, "{v}");

    let (_, state) = app
        .get_json(&format!("/api/v1/subscriptions/{token}"))
        .await;
    assert_eq!(state["confirmed"], false, "{state}");
    let r = app
        .client
        .post(app.url(&format!("/subscriptions/{token}/confirm")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409, "only the endpoint confirms");
    let news = Event::IncidentCreated(IncidentChange {
        incident: 6,
        seq: 1,
        news: json!({"title": "Login failing", "status": "investigating"}).into(),
    });
    let e = Notice::new("melodia", app.clock.now_ms(), news);
    assert_eq!(
        app.app.notifier.enqueue(e).await.unwrap(),
        0,
        "no news for an unverified endpoint"
    );

    let challenges = || async {
        let d = app.app.store.deliveries(None, 10).await.unwrap();
        assert_eq!(d.len(), 1, "the challenge is all there is: {d:?}");
        d.into_iter().next().unwrap()
    };
    until("the first attempt is recorded", || async {
        challenges().await.attempts == 1
    })
    .await;
    let d = challenges().await;
    assert_eq!(
        d.state,
        DeliveryState::Pending,
        "an answer without the echo"
    );
    assert_eq!(
        d.last_error.as_deref(),
        Some("HTTP 204 without the verification challenge echoed")
    );
    app.clock.advance(Duration::from_secs(3600));
    until("the attempts run out", || async {
        challenges().await.state == DeliveryState::Failed
    })
    .await;
    until("the subscription is dropped", || async {
        app.get_json(&format!("/api/v1/subscriptions/{token}"))
            .await
            .0
            .as_u16()
            == 404
    })
    .await;
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "two challenges and nothing else");
    // (Signed like the first; its timestamp is the test clock's, an hour ahead.)
    let second: Value = serde_json::from_slice(&got[1].1).unwrap();
    assert_eq!(second["type"], "subscription.verify");
    assert_ne!(
        second["data"]["challenge"], challenge,
        "a fresh challenge each time"
    );
    let (s, again) = post(&app, path, "application/json", &body).await;
    assert_eq!(s, 201, "the URL may be registered again: {again}");
    app.stop().await;
}

/// Regression: email and webhook subscribers shared one delivery loop, so a few endpoints
/// that accept connections and never answer held every slot and delayed confirmation mails
/// by hours. Each kind now has its own loop, and an endpoint gets one request at a time.
#[tokio::test]
async fn endpoints_that_never_answer_do_not_delay_a_confirmation_mail() {
    // Accepts connections, reads nothing, answers nothing.
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole = black_hole.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let holding = held.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = black_hole.accept().await {
            holding.lock().unwrap().push(conn);
        }
    });
    let sink = SmtpSink::start(None).await;
    let app = spawn_with(
        testing::sqlite(),
        &format!(
            "[notify]\npublic_url = \"https://status.example\"\ntimeout = \"120s\"\n\
             [notify.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"s@melodia.example\"\n\
             [notify.subscribers]\nemail = true\nwebhook = true\nallow_private_targets = true\n\
             concurrency = 2\nwebhook_timeout = \"120s\"\n",
            sink.port()
        ),
    )
    .await;
    let path = "/api/v1/services/melodia/subscriptions";
    for n in 0..3 {
        let body = json!({"webhook": format!("http://{hole}/hook/{n}")}).to_string();
        let (s, sub) = post(&app, path, "application/json", &body).await;
        assert_eq!(s, 201, "{sub}");
    }
    // Whatever they are sent (challenges now; before, this event went to all three), the
    // endpoints hold requests that will not end before the test does.
    let news = Event::IncidentCreated(IncidentChange {
        incident: 7,
        seq: 1,
        news: json!({"title": "Login failing", "status": "investigating"}).into(),
    });
    let e = Notice::new("melodia", app.clock.now_ms(), news);
    app.app.notifier.enqueue(e).await.unwrap();
    until("the endpoints hold two requests", || async {
        held.lock().unwrap().len() >= 2
    })
    .await;

    let (s, v) = post(
        &app,
        path,
        "application/json",
        &json!({"email": "ana@listener.example"}).to_string(),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let mails = sink.wait_for("ana@listener.example", 1).await;
    assert!(
        mails[0].body().contains("To confirm, open this link"),
        "{}",
        mails[0].body()
    );
    assert_eq!(
        held.lock().unwrap().len(),
        2,
        "one request at a time per endpoint, at most the loop's concurrency"
    );
    app.stop().await;
}
