//! Webhook notifications delivered to a real receiver on loopback: signed, retried with
//! backoff, isolated per destination, given up on, and not lost (or doubled) by a restart.

use crate::helpers::{TestApp, spawn_on, spawn_with, until};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use downbeat_domain::ManualClock;
use downbeat_domain::event::Notice;
use downbeat_store::testing;
use downbeat_store::{DeliveryRow, DeliveryState};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "a-webhook-secret-0123";

/// What a receiver path does with the n-th request it gets (0-based).
#[derive(Clone, Copy)]
enum Behaviour {
    Ok,
    /// 500, then 200.
    FailOnce,
    AlwaysFail,
    /// 410 Gone, as a deleted chat webhook answers.
    Gone,
    Hang,
    /// Never answers the first request; 200 after that.
    HangOnce,
}

#[derive(Default)]
struct Seen {
    /// Per path: (event id, answered 2xx) for every verified request.
    requests: HashMap<String, Vec<(String, bool)>>,
    bad_signatures: u32,
    /// (event id, type) of every verified request, in arrival order.
    events: Vec<(String, String)>,
}

#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

impl Receiver {
    async fn start(paths: &[(&'static str, Behaviour)]) -> Receiver {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let behaviours: Arc<HashMap<String, Behaviour>> =
            Arc::new(paths.iter().map(|(p, b)| (p.to_string(), *b)).collect());
        let state = (seen.clone(), behaviours);
        let router = axum::Router::new()
            .route("/{path}", axum::routing::post(receive))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver { addr, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// (event id, answered 2xx) of every request to `path`.
    fn requests(&self, path: &str) -> Vec<(String, bool)> {
        let s = self.seen.lock().unwrap();
        assert_eq!(s.bad_signatures, 0, "every request is signed correctly");
        s.requests.get(path).cloned().unwrap_or_default()
    }

    fn delivered(&self, path: &str) -> usize {
        self.requests(path).iter().filter(|(_, ok)| *ok).count()
    }
}

type ReceiverState = (Arc<Mutex<Seen>>, Arc<HashMap<String, Behaviour>>);

async fn receive(
    State((seen, behaviours)): State<ReceiverState>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ts = header("x-downbeat-timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let fresh = ts
        .parse::<i64>()
        .is_ok_and(|t| (t - jiff::Timestamp::now().as_second()).abs() < 7 * 86_400);
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = header("x-downbeat-event-id").to_owned();
    let valid = fresh
        && header("x-downbeat-signature") == format!("sha256={expected}")
        && json["id"] == id.as_str()
        && json["type"].is_string()
        && json["link"]
            .as_str()
            .is_some_and(|l| l.starts_with("https://status.example/s/"))
        && json["occurred_at"].is_string();
    let n = {
        let mut s = seen.lock().unwrap();
        if !valid {
            s.bad_signatures += 1;
            return StatusCode::BAD_REQUEST;
        }
        s.events
            .push((id.clone(), json["type"].as_str().unwrap_or("").to_owned()));
        s.requests.entry(path.clone()).or_default().len()
    };
    let behaviour = behaviours.get(&path).copied().unwrap_or(Behaviour::Ok);
    let status = match (behaviour, n) {
        (Behaviour::Ok, _) | (Behaviour::FailOnce, 1..) | (Behaviour::HangOnce, 1..) => {
            StatusCode::OK
        }
        (Behaviour::FailOnce, 0) | (Behaviour::AlwaysFail, _) => StatusCode::INTERNAL_SERVER_ERROR,
        (Behaviour::Gone, _) => StatusCode::GONE,
        (Behaviour::Hang, _) | (Behaviour::HangOnce, 0) => {
            seen.lock()
                .unwrap()
                .requests
                .entry(path)
                .or_default()
                .push((id, false));
            std::future::pending::<()>().await;
            unreachable!()
        }
    };
    seen.lock()
        .unwrap()
        .requests
        .entry(path)
        .or_default()
        .push((id, status.is_success()));
    status
}

fn notify_config(hooks: &[(&str, String)], extra: &str) -> String {
    let mut s = format!("[notify]\npublic_url = \"https://status.example\"\n{extra}\n");
    for (id, url) in hooks {
        s.push_str(&format!(
            "[[notify.webhook]]\nid = \"{id}\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n"
        ));
    }
    s
}

async fn delivery(app: &TestApp, event: &str, dest: &str) -> DeliveryRow {
    app.app
        .store
        .deliveries(Some(event), 100)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.destination == dest)
        .unwrap_or_else(|| panic!("no delivery of {event} to {dest}"))
}

async fn metrics(app: &TestApp) -> String {
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    r.text().await.unwrap()
}

fn down(since_ms: i64) -> Notice {
    Notice::monitor("melodia", "login-api", true, since_ms)
}

#[tokio::test]
async fn a_500_is_retried_with_backoff_and_delivered_once() {
    let rx = Receiver::start(&[("flaky", Behaviour::FailOnce), ("ok", Behaviour::Ok)]).await;
    let config = notify_config(&[("flaky", rx.url("flaky")), ("fine", rx.url("ok"))], "");
    let app = spawn_with(testing::sqlite(), &config).await;
    let event = down(app.clock.now_ms());
    let id = event.id();
    assert_eq!(app.app.notifier.enqueue(event.clone()).await.unwrap(), 2);
    assert_eq!(
        app.app.notifier.enqueue(event).await.unwrap(),
        0,
        "enqueued once"
    );

    until("the healthy destination has it", || async {
        rx.delivered("ok") == 1
    })
    .await;
    until("the flaky one is rescheduled", || async {
        delivery(&app, &id, "flaky").await.attempts == 1
    })
    .await;
    let d = delivery(&app, &id, "flaky").await;
    assert_eq!(
        (d.state, d.last_status),
        (DeliveryState::Pending, Some(500))
    );
    let wait = d.next_attempt_ms - app.clock.now_ms();
    assert!(
        (5_000..=10_000).contains(&wait),
        "backoff with jitter: {wait} ms"
    );

    app.clock.advance(Duration::from_millis(wait as u64));
    until("the retry is delivered", || async {
        delivery(&app, &id, "flaky").await.state == DeliveryState::Delivered
    })
    .await;
    assert_eq!(
        rx.requests("flaky"),
        [(id.clone(), false), (id.clone(), true)]
    );
    assert_eq!(rx.requests("ok"), [(id.clone(), true)], "delivered once");

    let metrics = metrics(&app).await;
    assert!(
        metrics.contains(r#"downbeat_notify_attempts_total{destination="flaky"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"downbeat_notify_delivered_total{destination="flaky"} 1"#),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_hanging_destination_does_not_hold_back_a_healthy_one() {
    let rx = Receiver::start(&[("hang", Behaviour::Hang), ("ok", Behaviour::Ok)]).await;
    let config = notify_config(
        &[("stuck", rx.url("hang")), ("fine", rx.url("ok"))],
        "timeout = \"60s\"",
    );
    let app = spawn_with(testing::sqlite(), &config).await;
    for i in 0..6 {
        app.app
            .notifier
            .enqueue(down(app.clock.now_ms() + i))
            .await
            .unwrap();
    }
    until("the stuck one holds its concurrency (4) open", || async {
        rx.requests("hang").len() == 4
    })
    .await;
    until("the healthy destination has all six", || async {
        rx.delivered("ok") == 6
    })
    .await;
    assert_eq!(rx.requests("hang").len(), 4, "no more than its concurrency");
    let stuck = app.app.store.deliveries(None, 100).await.unwrap();
    assert!(
        stuck
            .iter()
            .filter(|d| d.destination == "stuck")
            .all(|d| d.state == DeliveryState::Pending && d.attempts == 0),
        "{stuck:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_destination_that_always_fails_is_finally_marked_failed() {
    let rx = Receiver::start(&[("down", Behaviour::AlwaysFail)]).await;
    let config = notify_config(&[("dead", rx.url("down"))], "max_attempts = 3");
    let app = spawn_with(testing::sqlite(), &config).await;
    let event = down(app.clock.now_ms());
    let id = event.id();
    app.app.notifier.enqueue(event).await.unwrap();
    for attempt in 1..=3 {
        until("the next attempt is recorded", || async {
            delivery(&app, &id, "dead").await.attempts == attempt
        })
        .await;
        app.clock.advance(Duration::from_secs(3600));
    }
    let d = delivery(&app, &id, "dead").await;
    assert_eq!((d.state, d.attempts), (DeliveryState::Failed, 3));
    assert_eq!(d.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(rx.requests("down").len(), 3, "no attempt after giving up");
    let metrics = metrics(&app).await;
    assert!(
        metrics.contains(r#"downbeat_notify_failed_total{destination="dead"} 1"#),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_destination_that_refuses_for_good_is_not_retried() {
    let rx = Receiver::start(&[("gone", Behaviour::Gone), ("ok", Behaviour::Ok)]).await;
    let config = notify_config(
        &[("gone", rx.url("gone")), ("ok", rx.url("ok"))],
        "max_attempts = 5",
    );
    let app = spawn_with(testing::sqlite(), &config).await;
    let event = down(app.clock.now_ms());
    let id = event.id();
    app.app.notifier.enqueue(event).await.unwrap();
    until("the refusal is settled", || async {
        delivery(&app, &id, "gone").await.state == DeliveryState::Failed
    })
    .await;
    let d = delivery(&app, &id, "gone").await;
    assert_eq!(d.attempts, 1, "a 4xx other than 408/425/429 is final");
    assert_eq!(d.last_error.as_deref(), Some("HTTP 410"));
    app.clock.advance(Duration::from_secs(3600));
    until("the other destination has it", || async {
        delivery(&app, &id, "ok").await.state == DeliveryState::Delivered
    })
    .await;
    assert_eq!(rx.requests("gone").len(), 1, "no retry after a refusal");
    app.stop().await;
}

#[tokio::test]
async fn a_delivery_cut_off_by_a_restart_is_delivered_once_after_it() {
    let rx = Receiver::start(&[("once", Behaviour::HangOnce)]).await;
    let config = notify_config(&[("hook", rx.url("once"))], "");
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    let app = spawn_on(testing::sqlite(), &config, clock.clone()).await;
    let event = down(clock.now_ms());
    let id = event.id();
    let event2 = event.clone();
    app.app.notifier.enqueue(event.clone()).await.unwrap();
    until("the request is in flight", || async {
        rx.requests("once").len() == 1
    })
    .await;
    // Stopped mid-request: the attempt is never recorded, the claim stays behind.
    let (store, clock) = app.stop().await;
    clock.advance(Duration::from_secs(120));
    let app = spawn_on(store, &config, clock).await;
    assert_eq!(
        app.app.notifier.enqueue(event).await.unwrap(),
        0,
        "re-enqueued on start: nothing new"
    );
    until("delivered after the restart", || async {
        delivery(&app, &id, "hook").await.state == DeliveryState::Delivered
    })
    .await;
    assert_eq!(rx.delivered("once"), 1);
    assert_eq!(
        delivery(&app, &id, "hook").await.attempts,
        1,
        "the cut-off attempt left no record"
    );
    // Much later, and after another restart that reports the same event again: nothing.
    app.clock.advance(Duration::from_secs(7200));
    let (store, clock) = app.stop().await;
    let app = spawn_on(store, &config, clock).await;
    assert_eq!(app.app.notifier.enqueue(event2).await.unwrap(), 0);
    app.stop().await;
    assert_eq!(rx.delivered("once"), 1, "exactly once across two restarts");
    assert_eq!(
        rx.requests("once").len(),
        2,
        "the cut-off request and the delivered one"
    );
}

#[tokio::test]
async fn published_incident_changes_are_notified_to_destinations_that_want_them() {
    use downbeat_api::auth::{self, Role};
    let rx = Receiver::start(&[("ops", Behaviour::Ok), ("mon", Behaviour::Ok)]).await;
    let mut config = notify_config(&[], "");
    config.push_str(&format!(
        "[[notify.webhook]]\nid = \"ops\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\nevents = [\"incident\"]\n\
         [[notify.webhook]]\nid = \"mon\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\nevents = [\"monitor\"]\n",
        rx.url("ops"),
        rx.url("mon")
    ));
    let app = spawn_with(testing::sqlite(), &config).await;
    let token = auth::create_token(&*app.app.store, "ci", Role::Editor, app.clock.now_ms())
        .await
        .unwrap();
    let post = |path: String, body: Value| {
        let r = app
            .client
            .post(app.url(&path))
            .bearer_auth(&token)
            .json(&body)
            .send();
        async move {
            let r = r.await.unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.json::<Value>().await.unwrap()
        }
    };
    let created = post(
        "/api/v1/services/melodia/incidents".into(),
        serde_json::json!({"title": "Login failing", "message": "Looking into it.", "draft": true}),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    post(format!("/api/v1/incidents/{id}/publish"), Value::Null).await;
    post(
        format!("/api/v1/incidents/{id}/updates"),
        serde_json::json!({"status": "monitoring", "message": "A fix is out."}),
    )
    .await;
    post(
        format!("/api/v1/incidents/{id}/updates"),
        serde_json::json!({"status": "resolved", "message": "All good."}),
    )
    .await;
    until("three incident events arrive", || async {
        rx.delivered("ops") == 3
    })
    .await;
    let mut events = rx.seen.lock().unwrap().events.clone();
    events.sort();
    assert_eq!(
        events,
        [
            (
                format!("incident-{id}-update-1"),
                "incident.created".to_owned()
            ),
            (
                format!("incident-{id}-update-2"),
                "incident.updated".to_owned()
            ),
            (
                format!("incident-{id}-update-3"),
                "incident.resolved".to_owned()
            ),
        ],
        "the draft was not announced; the monitor-only destination heard nothing"
    );
    app.stop().await;
    assert!(rx.requests("mon").is_empty());
}
