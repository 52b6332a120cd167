//! Channels and events beyond the signed webhook, with real receivers on loopback: chat and
//! push formats, mail through an SMTP sink (with authentication), operator alerts of drafts,
//! certificate warnings, flap suppression, rate limits, refusing destinations and pruning.
//! Monitor results arrive the way a remote agent sends them, so they take the real path
//! (quorum, hysteresis, notification).

use crate::helpers::{TestApp, spawn_with, until};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use downbeat_api::auth::{self, Role};
use downbeat_domain::Clock;
use downbeat_domain::event::{Event, IncidentChange, Notice};
use downbeat_server::testing::smtp_sink::SmtpSink;
use downbeat_store::testing;
use downbeat_store::{DeliveryRow, DeliveryState};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a raw receiver got: per path, (headers, body) of each request.
type Got = Arc<Mutex<HashMap<String, Vec<(HeaderMap, Vec<u8>)>>>>;

/// Records every POST; answers 500 on paths starting with `fail`, 200 otherwise, and on
/// paths starting with `slow` only half a second after recording the request.
pub(crate) struct RawReceiver {
    addr: SocketAddr,
    got: Got,
}

impl RawReceiver {
    pub(crate) async fn start() -> RawReceiver {
        let got: Got = Arc::default();
        let router = axum::Router::new()
            .route(
                "/{path}",
                axum::routing::post(
                    |State(got): State<Got>,
                     Path(path): Path<String>,
                     headers: HeaderMap,
                     body: axum::body::Bytes| async move {
                        let fail = path.starts_with("fail");
                        let slow = path.starts_with("slow");
                        got.lock()
                            .unwrap()
                            .entry(path)
                            .or_default()
                            .push((headers, body.to_vec()));
                        if slow {
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                        if fail {
                            StatusCode::INTERNAL_SERVER_ERROR
                        } else {
                            StatusCode::OK
                        }
                    },
                ),
            )
            .with_state(got.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        RawReceiver { addr, got }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    fn requests(&self, path: &str) -> Vec<(HeaderMap, Vec<u8>)> {
        self.got
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn json(&self, path: &str) -> Vec<Value> {
        self.requests(path)
            .iter()
            .map(|(_, b)| serde_json::from_slice(b).unwrap_or(Value::Null))
            .collect()
    }

    /// The event ids (`X-Downbeat-Event-Id`) `path` received, in order.
    pub(crate) fn ids(&self, path: &str) -> Vec<String> {
        self.requests(path)
            .iter()
            .map(|(h, _)| header(h, "x-downbeat-event-id"))
            .collect()
    }
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn deliveries(app: &TestApp, dest: &str) -> Vec<DeliveryRow> {
    let mut v: Vec<DeliveryRow> = app
        .app
        .store
        .deliveries(None, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.destination == dest)
        .collect();
    v.sort_by_key(|d| d.id);
    v
}

async fn editor(app: &TestApp) -> String {
    auth::create_token(&*app.app.store, "ed", Role::Editor, app.clock.now_ms())
        .await
        .unwrap()
}

async fn api_post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

/// A token for the agents of region `eu-agent`, the region [`push`] reports for.
async fn agent_token(app: &TestApp) -> String {
    let region = downbeat_domain::Slug::parse("eu-agent").unwrap();
    auth::create_token_for_regions(
        &*app.app.store,
        "agent",
        Role::Agent,
        &[region],
        app.clock.now_ms(),
    )
    .await
    .unwrap()
}

/// Pushes one result of `monitor` from region `eu-agent` at the clock's now, as an agent.
async fn push(app: &TestApp, token: &str, monitor: &str, result: Value) {
    let mut result = result;
    result["started_at"] = json!(app.clock.now().to_string());
    let body = json!({"region": "eu-agent", "results": [{
        "monitor": monitor, "reliable": true, "result": result}]});
    let r = app
        .client
        .post(app.url("/api/v1/agent/results"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

fn down() -> Value {
    json!({"kind": "tcp", "outcome": "down", "cause": "connect", "detail": "refused",
           "error": "connection refused", "timings": {"total_ms": 1.0}})
}

fn up() -> Value {
    json!({"kind": "tcp", "outcome": "up", "timings": {"total_ms": 1.0}})
}

/// A monitor on Melodia's login component that only agents' results move: this node's own
/// probe (once an hour) reaches `target`, which answers, so it never blames anyone.
fn monitor(target: SocketAddr) -> String {
    format!(
        "[probes]\nfailures_to_open = 1\nsuccesses_to_close = 1\n\
         [[monitor]]\nid = \"login-api\"\nservice = \"melodia\"\ncomponent = \"login\"\nkind = \"tcp\"\n\
         target = \"{target}\"\ninterval = \"1h\"\ntimeout = \"1s\"\n"
    )
}

#[tokio::test]
async fn chat_and_push_formats_reach_their_receivers() {
    let rx = RawReceiver::start().await;
    let mut config = String::from("[notify]\npublic_url = \"https://status.example\"\n");
    for f in ["slack", "discord", "mattermost", "teams", "ntfy"] {
        config.push_str(&format!(
            "[[notify.webhook]]\nid = \"{f}\"\nurl = \"{}\"\nformat = \"{f}\"\n",
            rx.url(f)
        ));
    }
    config.push_str(&format!(
        "[[notify.webhook]]\nid = \"other-part\"\nurl = \"{}\"\nformat = \"slack\"\ncomponents = [\"login\"]\n",
        rx.url("other")
    ));
    let app = spawn_with(testing::sqlite(), &config).await;
    let token = editor(&app).await;
    let created = api_post(
        &app,
        &token,
        "/api/v1/services/melodia/incidents",
        json!({"title": "Playback <stops> & skips", "message": "Looking into it @everyone."}),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let event_id = format!("incident-{id}-update-1");
    for f in ["slack", "discord", "mattermost", "teams", "ntfy"] {
        until(&format!("{f} has it"), || async {
            rx.requests(f).len() == 1
        })
        .await;
        assert_eq!(rx.ids(f), std::slice::from_ref(&event_id), "{f}");
    }
    let slack = &rx.json("slack")[0];
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "*<https://status.example/s/melodia/incidents/{id}|Melodia: Playback &lt;stops&gt; &amp; skips>*"
        )),
        "{text}"
    );
    let discord = &rx.json("discord")[0];
    assert_eq!(
        discord["embeds"][0]["title"],
        "Melodia: Playback <stops> & skips"
    );
    assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
    let mm = &rx.json("mattermost")[0];
    assert!(
        mm["text"]
            .as_str()
            .unwrap()
            .contains("Playback \\<stops\\> & skips"),
        "{mm}"
    );
    let teams = &rx.json("teams")[0];
    assert_eq!(
        teams["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let (h, body) = &rx.requests("ntfy")[0];
    assert_eq!(header(h, "title"), "Melodia: Playback <stops> & skips");
    assert_eq!(header(h, "priority"), "high");
    assert_eq!(
        header(h, "click"),
        format!("https://status.example/s/melodia/incidents/{id}")
    );
    assert!(header(h, "content-type").starts_with("text/plain"));
    assert!(String::from_utf8_lossy(body).contains("Looking into it"));
    // The incident names no component: it concerns the whole service, so the channel that
    // asked for login only hears of it too; one about playback only would not reach it.
    until("the login channel has it", || async {
        rx.requests("other").len() == 1
    })
    .await;
    let update = Event::IncidentUpdated(IncidentChange {
        incident: id,
        seq: 9,
        news: json!({"title": "t", "status": "identified"}).into(),
    });
    let only_playback = Notice::new("melodia", app.clock.now_ms(), update).about(["playback"]);
    assert_eq!(app.app.notifier.enqueue(only_playback).await.unwrap(), 5);
    until("the others have the playback update", || async {
        rx.requests("ntfy").len() == 2
    })
    .await;
    assert_eq!(rx.requests("other").len(), 1, "not a login matter");
    app.stop().await;
}

#[tokio::test]
async fn drafts_alert_the_operators_by_mail_before_the_public_hears() {
    let sink = SmtpSink::start(Some(("downbeat", "relay-password"))).await;
    let rx = RawReceiver::start().await;
    let config = format!(
        "{}\n[notify]\npublic_url = \"https://status.example\"\n\
         [notify.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"downbeat\"\npassword = \"relay-password\"\nfrom = \"Melodia status <status@melodia.example>\"\n\
         [notify.subscribers]\nemail = false\n\
         [[notify.email]]\nid = \"oncall\"\nto = [\"oncall@melodia.example\", \"lead@melodia.example\"]\noperators = true\nevents = [\"incident\"]\n\
         [[notify.webhook]]\nid = \"public\"\nurl = \"{}\"\nformat = \"slack\"\nevents = [\"incident\"]\n",
        monitor(rx.addr),
        sink.port(),
        rx.url("public")
    );
    let app = spawn_with(testing::sqlite(), &config).await;
    let agent = agent_token(&app).await;
    push(&app, &agent, "login-api", down()).await;
    downbeat_server::jobs::incidents_once(&app.app)
        .await
        .unwrap();
    let draft = downbeat_incidents::snapshot(&app.app.incidents, "melodia").drafts[0].clone();
    assert!(draft.draft);

    let mails = sink.wait_for("oncall@melodia.example", 1).await;
    let m = &mails[0];
    assert_eq!(m.to, ["oncall@melodia.example", "lead@melodia.example"]);
    assert_eq!(
        m.user.as_deref(),
        Some("downbeat"),
        "authenticated with AUTH"
    );
    assert_eq!(m.from, "status@melodia.example");
    let event_id = format!("incident-{}-draft", draft.id);
    assert_eq!(m.header("x-downbeat-event-id").as_deref(), Some(&*event_id));
    let subject = m.header("subject").unwrap();
    assert!(subject.starts_with("[draft] Melodia: "), "{subject}");
    assert!(
        m.body().contains(&format!(
            "https://status.example/admin/incidents/{}",
            draft.id
        )),
        "{}",
        m.body()
    );
    assert!(
        m.header("list-unsubscribe").is_none(),
        "operators' mail is config"
    );
    // The public channel heard nothing of the draft...
    assert!(rx.requests("public").is_empty());
    // ...until an operator publishes it.
    let token = editor(&app).await;
    api_post(
        &app,
        &token,
        &format!("/api/v1/incidents/{}/publish", draft.id),
        Value::Null,
    )
    .await;
    until("the public hears", || async {
        rx.requests("public").len() == 1
    })
    .await;
    assert_eq!(
        rx.ids("public"),
        [format!("incident-{}-update-1", draft.id)]
    );
    sink.wait_for("oncall@melodia.example", 2).await;
    // Another round with the monitor still down drafts nothing new and alerts nobody again.
    downbeat_server::jobs::incidents_once(&app.app)
        .await
        .unwrap();
    assert_eq!(deliveries(&app, "oncall").await.len(), 2);
    app.stop().await;
    assert_eq!(sink.refused_auth(), 0);
}

#[tokio::test]
async fn an_auto_published_draft_alerts_operators_then_announces_it() {
    let rx = RawReceiver::start().await;
    let config = format!(
        "{}\n[notify]\npublic_url = \"https://status.example\"\n\
         [[notify.webhook]]\nid = \"ops\"\nurl = \"{}\"\nformat = \"ntfy\"\noperators = true\n\
         [[notify.webhook]]\nid = \"public\"\nurl = \"{}\"\nformat = \"discord\"\n",
        monitor(rx.addr),
        rx.url("ops"),
        rx.url("public")
    );
    let config = crate::helpers::config_text(&config).replace(
        "name = \"Melodia\"\n",
        "name = \"Melodia\"\nauto_publish = true\n",
    );
    let clock = Arc::new(downbeat_domain::ManualClock::new(jiff::Timestamp::now()));
    let app = crate::helpers::spawn_raw(testing::sqlite(), &config, clock).await;
    assert!(app.app.config.load().services[0].auto_publish);
    let agent = agent_token(&app).await;
    push(&app, &agent, "login-api", down()).await;
    downbeat_server::jobs::incidents_once(&app.app)
        .await
        .unwrap();
    let (_, list) = app.get_json("/api/v1/services/melodia/incidents").await;
    let id = list["incidents"][0]["id"]
        .as_i64()
        .expect("published at once");
    until("both have it", || async {
        rx.requests("ops").len() == 3 && rx.requests("public").len() == 2
    })
    .await;
    let mut ops = rx.ids("ops");
    ops.sort();
    assert_eq!(
        ops[..2],
        [
            format!("incident-{id}-draft"),
            format!("incident-{id}-update-1")
        ]
    );
    assert!(ops[2].starts_with("monitor-login-api-down-"), "{ops:?}");
    let public = rx.ids("public");
    assert!(
        public.contains(&format!("incident-{id}-update-1")),
        "{public:?}"
    );
    assert!(!public.iter().any(|e| e.ends_with("-draft")), "{public:?}");
    // Queued first: the operators' alert precedes the announcement.
    let d = deliveries(&app, "ops").await;
    let pos = |suffix: &str| d.iter().position(|x| x.event_id.ends_with(suffix)).unwrap();
    assert!(pos("-draft") < pos("-update-1"), "{d:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_flapping_monitor_sends_a_bounded_number_of_messages_and_a_summary() {
    let rx = RawReceiver::start().await;
    let config = format!(
        "{}\n[notify]\npublic_url = \"https://status.example\"\nflap_changes = 3\nflap_window = \"30m\"\nflap_settle = \"10m\"\n\
         [[notify.webhook]]\nid = \"pager\"\nurl = \"{}\"\nformat = \"ntfy\"\nevents = [\"monitor\"]\n",
        monitor(rx.addr),
        rx.url("pager")
    );
    let app = spawn_with(testing::sqlite(), &config).await;
    let agent = agent_token(&app).await;
    // Down and up every minute for 20 minutes: 20 changes, with a restart halfway.
    for k in 0..10 {
        app.clock.advance(Duration::from_secs(60));
        push(
            &app,
            &agent,
            "login-api",
            if k % 2 == 0 { down() } else { up() },
        )
        .await;
    }
    assert!(app.app.notifier.flaps.is_flapping("login-api"));
    until("three messages", || async {
        let n = rx.requests("pager").len();
        assert!(n <= 3, "{:?}", rx.ids("pager"));
        n == 3
    })
    .await;
    let (store, clock) = app.stop().await;
    let app = crate::helpers::spawn_on(store, &config, clock).await;
    for k in 10..20 {
        app.clock.advance(Duration::from_secs(60));
        push(
            &app,
            &agent,
            "login-api",
            if k % 2 == 0 { down() } else { up() },
        )
        .await;
    }
    assert!(
        app.app.notifier.flaps.is_flapping("login-api"),
        "still flapping after the restart"
    );
    // Settles up (the 20th change); the summary comes once it has been quiet long enough.
    app.clock.advance(Duration::from_secs(9 * 60));
    assert_eq!(
        downbeat_notify::worker::settle_flaps(&app.app.notifier, app.clock.now_ms()).await,
        0
    );
    app.clock.advance(Duration::from_secs(60));
    // (The housekeeping loop may get there first; either way, one summary.)
    downbeat_notify::worker::settle_flaps(&app.app.notifier, app.clock.now_ms()).await;
    until("the summary", || async { rx.requests("pager").len() == 4 }).await;
    let kinds: Vec<String> = rx
        .ids("pager")
        .iter()
        .map(|id| {
            let parts: Vec<&str> = id.split('-').collect();
            parts[parts.len() - 2].to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        ["down", "up", "flapping", "settled"],
        "{:?}",
        rx.ids("pager")
    );
    let (h, body) = &rx.requests("pager")[3];
    assert_eq!(header(h, "title"), "Melodia: check login-api settled up");
    let body = String::from_utf8_lossy(body);
    assert!(
        body.contains("changed state 20 times while flapping (18 held back)"),
        "{body}"
    );
    assert!(!app.app.notifier.flaps.is_flapping("login-api"));
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("downbeat_notify_held_total 10"),
        "held since the restart: {metrics}"
    );
    // Back to normal: the next change is told at once.
    app.clock.advance(Duration::from_secs(3600));
    push(&app, &agent, "login-api", down()).await;
    until("the next change", || async {
        rx.requests("pager").len() == 5
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_certificate_expiring_soon_is_told_once_per_threshold() {
    let rx = RawReceiver::start().await;
    let config = format!(
        "[[monitor]]\nid = \"web-cert\"\nservice = \"melodia\"\nkind = \"tls\"\ntarget = \"127.0.0.1:1\"\ninterval = \"1h\"\ntimeout = \"1s\"\n\
         [notify]\npublic_url = \"https://status.example\"\ncert_expiry_days = [30, 7, 1]\n\
         [[notify.webhook]]\nid = \"certs\"\nurl = \"{}\"\nformat = \"mattermost\"\nevents = [\"certificate\"]\n",
        rx.url("certs")
    );
    let app = spawn_with(testing::sqlite(), &config).await;
    let agent = agent_token(&app).await;
    let not_after = app.clock.now() + jiff::SignedDuration::from_hours(5 * 24 + 12);
    let cert = |days: i64| {
        json!({"kind": "tls", "outcome": "degraded", "detail": "expires_soon",
            "timings": {"total_ms": 3.0},
            "certificate": {"subject": "CN=melodia.example", "issuer": "CN=Test CA",
                "not_before": "2026-01-01T00:00:00Z", "not_after": not_after.to_string(),
                "days_until_expiry": days}})
    };
    push(&app, &agent, "web-cert", cert(5)).await;
    // Checked twice (the housekeeping loop may check too): one warning.
    let now = app.clock.now_ms();
    downbeat_monitors::certs::check(&app.app.monitors, now).await;
    downbeat_monitors::certs::check(&app.app.monitors, now).await;
    until("the warning arrives", || async {
        rx.requests("certs").len() == 1
    })
    .await;
    assert_eq!(deliveries(&app, "certs").await.len(), 1);
    let id = format!("certificate-web-cert-{}-7d", not_after.as_second());
    assert_eq!(rx.ids("certs"), [id]);
    let text = rx.json("certs")[0]["text"].as_str().unwrap().to_owned();
    assert!(text.contains("expires in 5 days"), "{text}");
    // 110 hours on, 22 hours left (under a day): the last threshold.
    app.clock.advance(Duration::from_secs(110 * 3600));
    push(&app, &agent, "web-cert", cert(0)).await;
    downbeat_monitors::certs::check(&app.app.monitors, app.clock.now_ms()).await;
    until("the last warning", || async {
        rx.requests("certs").len() == 2
    })
    .await;
    assert_eq!(deliveries(&app, "certs").await.len(), 2);
    assert!(rx.ids("certs")[1].ends_with("-1d"));
    app.stop().await;
}

#[tokio::test]
async fn a_rate_limited_destination_waits_its_turn_without_spending_attempts() {
    let rx = RawReceiver::start().await;
    let config = format!(
        "[notify]\npublic_url = \"https://status.example\"\n\
         [[notify.webhook]]\nid = \"chat\"\nurl = \"{}\"\nformat = \"slack\"\nper_minute = 2\n\
         [[notify.webhook]]\nid = \"free\"\nurl = \"{}\"\nformat = \"slack\"\n",
        rx.url("chat"),
        rx.url("free")
    );
    let app = spawn_with(testing::sqlite(), &config).await;
    for i in 0..5 {
        app.app
            .notifier
            .enqueue(Notice::monitor(
                "melodia",
                "m",
                true,
                app.clock.now_ms() + i,
            ))
            .await
            .unwrap();
    }
    until("the unlimited one has all five", || async {
        rx.requests("free").len() == 5
    })
    .await;
    until("two through", || async { rx.requests("chat").len() == 2 }).await;
    // Several polls later, still two: the bucket is on the app's clock, which stands still.
    tokio::time::sleep(downbeat_notify::worker::POLL_EVERY * 2).await;
    assert_eq!(rx.requests("chat").len(), 2);
    let waiting = deliveries(&app, "chat").await;
    assert_eq!(
        waiting
            .iter()
            .filter(|d| d.state == DeliveryState::Pending && d.attempts == 0)
            .count(),
        3
    );
    app.clock.advance(Duration::from_secs(30));
    until("one more after 30 s", || async {
        rx.requests("chat").len() == 3
    })
    .await;
    app.clock.advance(Duration::from_secs(60));
    until("the rest", || async { rx.requests("chat").len() == 5 }).await;
    app.stop().await;
}

#[tokio::test]
async fn a_refusing_destination_and_a_refused_address_give_up_without_holding_others() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sink = SmtpSink::start_refusing(None, &["gone@melodia.example"]).await;
    let rx = RawReceiver::start().await;
    let config = format!(
        "[notify]\npublic_url = \"https://status.example\"\nmax_attempts = 2\n\
         [notify.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"status@melodia.example\"\n\
         [notify.subscribers]\nemail = false\n\
         [[notify.email]]\nid = \"gone\"\nto = [\"gone@melodia.example\"]\n\
         [[notify.email]]\nid = \"here\"\nto = [\"here@melodia.example\"]\n\
         [[notify.webhook]]\nid = \"refusing\"\nurl = \"http://127.0.0.1:{closed}/x\"\nformat = \"slack\"\n\
         [[notify.webhook]]\nid = \"fine\"\nurl = \"{}\"\nformat = \"slack\"\n",
        sink.port(),
        rx.url("fine")
    );
    let app = spawn_with(testing::sqlite(), &config).await;
    let event = Notice::monitor("melodia", "m", true, app.clock.now_ms());
    app.app.notifier.enqueue(event).await.unwrap();
    until("the healthy ones have it", || async {
        rx.requests("fine").len() == 1 && sink.mails_to("here@melodia.example").len() == 1
    })
    .await;
    until("the refused address is given up at once", || async {
        deliveries(&app, "gone").await[0].state == DeliveryState::Failed
    })
    .await;
    let gone = &deliveries(&app, "gone").await[0];
    assert_eq!(gone.attempts, 1, "a permanent refusal is not retried");
    assert!(
        gone.last_error.as_deref().unwrap_or("").contains("550"),
        "{gone:?}"
    );
    until("the refusing one is retried", || async {
        deliveries(&app, "refusing").await[0].attempts == 1
    })
    .await;
    app.clock.advance(Duration::from_secs(3600));
    until("then given up", || async {
        deliveries(&app, "refusing").await[0].state == DeliveryState::Failed
    })
    .await;
    let refusing = &deliveries(&app, "refusing").await[0];
    assert_eq!(refusing.attempts, 2);
    assert!(
        refusing
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("connect"),
        "{refusing:?}"
    );
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"downbeat_notify_attempt_outcomes_total{destination="refusing",outcome="retry"} 1"#,
        r#"downbeat_notify_attempt_outcomes_total{destination="refusing",outcome="failed"} 1"#,
        r#"downbeat_notify_attempt_outcomes_total{destination="gone",outcome="failed"} 1"#,
        r#"downbeat_notify_attempt_outcomes_total{destination="fine",outcome="delivered"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
    // Settled deliveries are pruned after [notify] keep (30 days); pending ones never are.
    let keep = app.app.config.load().notify.keep.as_millis();
    let pruned = downbeat_notify::worker::prune_once(
        &app.app.notifier,
        app.clock.now_ms() + keep + 3_600_000,
    )
    .await
    .unwrap();
    assert_eq!(pruned.deliveries, 4, "{pruned:?}");
    assert!(app.app.store.deliveries(None, 10).await.unwrap().is_empty());
    app.stop().await;
}

/// A TLS acceptor for 127.0.0.1 with a fresh self-signed certificate, and the PEM file a
/// config's `ca_file` names to trust it.
fn tls_for_loopback(dir: &std::path::Path) -> (tokio_rustls::TlsAcceptor, std::path::PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let pem = dir.join("relay-ca.pem");
    std::fs::write(&pem, cert.cert.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        cert.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), pem)
}

#[tokio::test]
async fn mail_goes_over_starttls_or_implicit_tls_with_authentication() {
    for implicit in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (acceptor, ca) = tls_for_loopback(dir.path());
        let sink =
            SmtpSink::start_tls(Some(("downbeat", "s3cret-relay")), acceptor, implicit).await;
        let mode = if implicit { "implicit" } else { "starttls" };
        let config = format!(
            "[notify]\npublic_url = \"https://status.example\"\n\
             [notify.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"{mode}\"\nusername = \"downbeat\"\npassword = \"s3cret-relay\"\nfrom = \"status@melodia.example\"\nca_file = \"{}\"\n\
             [notify.subscribers]\nemail = false\n\
             [[notify.email]]\nid = \"oncall\"\nto = [\"oncall@melodia.example\"]\n",
            sink.port(),
            ca.display()
        );
        let app = spawn_with(testing::sqlite(), &config).await;
        app.app
            .notifier
            .enqueue(Notice::monitor("melodia", "m", true, app.clock.now_ms()))
            .await
            .unwrap();
        let m = &sink.wait_for("oncall@melodia.example", 1).await[0];
        assert!(m.tls, "{mode}: the mail came over TLS");
        assert_eq!(m.user.as_deref(), Some("downbeat"), "{mode}");
        app.stop().await;
    }
    // A relay whose certificate is not trusted gets nothing, and the attempt says why.
    let dir = tempfile::tempdir().unwrap();
    let (acceptor, _) = tls_for_loopback(dir.path());
    let (_, other_ca) = tls_for_loopback(dir.path());
    let sink = SmtpSink::start_tls(None, acceptor, false).await;
    let config = format!(
        "[notify]\npublic_url = \"https://status.example\"\n\
         [notify.smtp]\nhost = \"127.0.0.1\"\nport = {}\nfrom = \"status@melodia.example\"\nca_file = \"{}\"\n\
         [notify.subscribers]\nemail = false\n\
         [[notify.email]]\nid = \"oncall\"\nto = [\"oncall@melodia.example\"]\n",
        sink.port(),
        other_ca.display()
    );
    let app = spawn_with(testing::sqlite(), &config).await;
    app.app
        .notifier
        .enqueue(Notice::monitor("melodia", "m", true, app.clock.now_ms()))
        .await
        .unwrap();
    until("the attempt fails", || async {
        deliveries(&app, "oncall").await[0].attempts == 1
    })
    .await;
    let d = &deliveries(&app, "oncall").await[0];
    assert_eq!(d.state, DeliveryState::Pending, "retried later");
    assert!(sink.mails().is_empty());
    let error = d.last_error.clone().unwrap_or_default().to_lowercase();
    assert!(
        error.contains("certificate") || error.contains("tls"),
        "{error}"
    );
    app.stop().await;
}

/// An event lost between an incident's commit and its enqueue (a crash) is enqueued again at
/// start. Simulated here by a first run with no destination: after the restart, the recent
/// incident's announcement reaches the new one, once.
#[tokio::test]
async fn recent_incident_changes_are_enqueued_again_at_start() {
    let app = spawn_with(testing::sqlite(), "").await;
    let token = editor(&app).await;
    let created = api_post(
        &app,
        &token,
        "/api/v1/services/melodia/incidents",
        json!({"title": "Login failing", "message": "Looking into it."}),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let (store, clock) = app.stop().await;
    let rx = RawReceiver::start().await;
    let config = format!(
        "[notify]\npublic_url = \"https://status.example\"\n\
         [[notify.webhook]]\nid = \"late\"\nurl = \"{}\"\nformat = \"slack\"\n",
        rx.url("late")
    );
    let app = crate::helpers::spawn_on(store, &config, clock).await;
    until("the announcement arrives", || async {
        rx.requests("late").len() == 1
    })
    .await;
    assert_eq!(rx.ids("late"), [format!("incident-{id}-update-1")]);
    downbeat_incidents::reconcile(&app.app.incidents)
        .await
        .unwrap();
    assert_eq!(deliveries(&app, "late").await.len(), 1, "once");
    app.stop().await;
}

/// Regression (the flapping test's double deliveries under load): a claim is judged on the
/// clock, and it can lapse while its send is still out (a clock that jumps, a slow answer).
/// The loop that sent it must not claim and send it again before recording the first try.
#[tokio::test]
async fn a_delivery_whose_claim_lapses_mid_send_goes_out_once() {
    let rx = RawReceiver::start().await;
    let config = format!(
        "[notify]\npublic_url = \"https://status.example\"\n\
         [[notify.webhook]]\nid = \"slow\"\nurl = \"{}\"\nformat = \"ntfy\"\n",
        rx.url("slow")
    );
    let app = spawn_with(testing::sqlite(), &config).await;
    let first = Notice::monitor("melodia", "m", true, app.clock.now_ms());
    app.app.notifier.enqueue(first).await.unwrap();
    until("the first send is out", || async {
        rx.requests("slow").len() == 1
    })
    .await;
    // While the receiver takes its time, the clock moves far past the claim, and a new
    // event wakes the loop.
    app.clock.advance(Duration::from_secs(3600));
    let second = Notice::monitor("melodia", "m", false, app.clock.now_ms());
    app.app.notifier.enqueue(second).await.unwrap();
    until("both are recorded as delivered", || async {
        let d = deliveries(&app, "slow").await;
        d.len() == 2 && d.iter().all(|d| d.state == DeliveryState::Delivered)
    })
    .await;
    let ids = rx.ids("slow");
    assert_eq!(ids.len(), 2, "each event once: {ids:?}");
    assert_ne!(ids[0], ids[1], "{ids:?}");
    app.stop().await;
}

/// Integrity item 14: a monitor's change whose notification the outbox refuses (a SQLite
/// trigger refusing every new event) is not lost: it is queued once the outbox takes events
/// again, and, when the server stops first, at its next start.
#[tokio::test]
async fn a_monitor_change_the_outbox_refused_is_queued_later_and_after_a_restart() {
    let rx = RawReceiver::start().await;
    let config = format!(
        "{}\n[notify]\npublic_url = \"https://status.example\"\n\
         [[notify.webhook]]\nid = \"pager\"\nurl = \"{}\"\nformat = \"ntfy\"\nevents = [\"monitor\"]\n",
        monitor(rx.addr),
        rx.url("pager")
    );
    let refuse = "CREATE TRIGGER refuse_events BEFORE INSERT ON notify_events
                  BEGIN SELECT RAISE(ABORT, 'the outbox refuses'); END;";
    let accept = "DROP TRIGGER refuse_events;";
    let app = spawn_with(testing::sqlite(), &config).await;
    let agent = agent_token(&app).await;

    testing::execute_raw(&app.store.target, refuse).await;
    app.clock.advance(Duration::from_secs(60));
    push(&app, &agent, "login-api", down()).await;
    assert_eq!(downbeat_monitors::untold(&app.app.monitors).await, 1);
    let saved = app.app.store.monitor_states().await.unwrap();
    assert!(!saved[0].notified, "saved as not yet told: {saved:?}");
    // The outbox takes events again: the retry (every few seconds; stepped here) queues it.
    testing::execute_raw(&app.store.target, accept).await;
    downbeat_monitors::retry_notices(&app.app.monitors)
        .await
        .unwrap();
    assert_eq!(downbeat_monitors::untold(&app.app.monitors).await, 0);
    until("the down notice", || async { rx.ids("pager").len() == 1 }).await;
    assert!(app.app.store.monitor_states().await.unwrap()[0].notified);

    // Refused again, and the server stops before the outbox takes events again.
    testing::execute_raw(&app.store.target, refuse).await;
    app.clock.advance(Duration::from_secs(60));
    push(&app, &agent, "login-api", up()).await;
    assert_eq!(downbeat_monitors::untold(&app.app.monitors).await, 1);
    let (store, clock) = app.stop().await;
    testing::execute_raw(&store.target, accept).await;
    let app = crate::helpers::spawn_on(store, &config, clock).await;
    until("the up notice after the restart", || async {
        rx.ids("pager").len() == 2
    })
    .await;
    let ids = rx.ids("pager");
    assert!(
        ids[0].starts_with("monitor-login-api-down-")
            && ids[1].starts_with("monitor-login-api-up-"),
        "{ids:?}"
    );
    assert!(app.app.store.monitor_states().await.unwrap()[0].notified);
    app.stop().await;
}

/// One request an [`ApiReceiver`] took.
#[derive(Clone, Debug)]
struct Hit {
    method: String,
    /// Path and query.
    uri: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn form(&self) -> HashMap<String, String> {
        serde_urlencoded::from_bytes(&self.body).unwrap_or_default()
    }
}

/// Stands in for the APIs of on-call, chat and push services: records every request, by
/// any method to any path, and answers 202 — or, under `/busy`, 429 with `Retry-After:
/// 600`, and under `/tgbusy` a 429 saying `retry_after` in Telegram's body.
struct ApiReceiver {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl ApiReceiver {
    async fn start() -> ApiReceiver {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let router = axum::Router::new()
            .fallback(
                |State(hits): State<Arc<Mutex<Vec<Hit>>>>,
                 method: axum::http::Method,
                 uri: axum::http::Uri,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    let uri = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
                    let busy = uri.starts_with("/busy");
                    let tg_busy = uri.starts_with("/tgbusy");
                    hits.lock().unwrap().push(Hit {
                        method: method.to_string(),
                        uri,
                        headers,
                        body: body.to_vec(),
                    });
                    use axum::response::IntoResponse;
                    if busy {
                        (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("retry-after", "600")],
                            "slow down",
                        )
                            .into_response()
                    } else if tg_busy {
                        (
                            StatusCode::TOO_MANY_REQUESTS,
                            axum::Json(json!({"ok": false, "error_code": 429,
                                "parameters": {"retry_after": 900}})),
                        )
                            .into_response()
                    } else {
                        (StatusCode::ACCEPTED, axum::Json(json!({"ok": true}))).into_response()
                    }
                },
            )
            .with_state(hits.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        ApiReceiver { addr, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The requests whose path starts with `prefix`, in order.
    fn hits(&self, prefix: &str) -> Vec<Hit> {
        let hits = self.hits.lock().unwrap();
        hits.iter()
            .filter(|h| h.uri.starts_with(prefix))
            .cloned()
            .collect()
    }
}

const HOSTILE_TITLE: &str = "<b>Login</b> & \"<a href='https://evil.example'>@room</a>\"";

#[tokio::test]
async fn on_call_message_and_push_apis_get_their_documented_requests() {
    let rx = ApiReceiver::start().await;
    let template = r#"{"summary": {{ title }}, "key": {{ alert_key }}, "action": {{ alert_action }}, "kind": {{ type }}, "status": {{ data.status | default("") }}}"#;
    let config = format!(
        "[notify]\npublic_url = \"https://status.example\"\n\
         [[notify.pagerduty]]\nid = \"pd\"\nrouting_key = \"pd-routing-key-1\"\nurl = \"{}\"\n\
         [[notify.opsgenie]]\nid = \"og\"\napi_key = \"og-key-1\"\nurl = \"{}\"\n\
         [[notify.telegram]]\nid = \"tg\"\nbot_token = \"123:tg-secret\"\nchat_id = \"-1001\"\nurl = \"{}\"\n\
         [[notify.matrix]]\nid = \"mx\"\nhomeserver = \"{}\"\nroom_id = \"!ops:matrix.example\"\naccess_token = \"mx-token\"\n\
         [[notify.pushover]]\nid = \"po\"\ntoken = \"po-app\"\nuser = \"po-user\"\nurl = \"{}\"\n\
         [[notify.webhook]]\nid = \"gchat\"\nurl = \"{}\"\nformat = \"googlechat\"\n\
         [[notify.webhook]]\nid = \"tpl\"\nurl = \"{}\"\nformat = \"template\"\ntemplate = '{template}'\nheaders = {{ X-Api-Key = \"tpl-key\" }}\n",
        rx.url("/pd/v2/enqueue"),
        rx.url("/og"),
        rx.url("/tg"),
        rx.url("/mx"),
        rx.url("/po"),
        rx.url("/gchat"),
        rx.url("/tpl"),
    );
    let app = spawn_with(testing::sqlite(), &config).await;
    let token = editor(&app).await;
    let created = api_post(
        &app,
        &token,
        "/api/v1/services/melodia/incidents",
        json!({"title": HOSTILE_TITLE, "message": "Looking into it <users/all> @everyone *now*."}),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let title = format!("Melodia: {HOSTILE_TITLE}");
    for p in ["/pd", "/og", "/tg", "/mx", "/po", "/gchat", "/tpl"] {
        until(&format!("{p} has it"), || async { rx.hits(p).len() == 1 }).await;
    }

    let pd = &rx.hits("/pd")[0];
    assert_eq!(
        (pd.method.as_str(), pd.uri.as_str()),
        ("POST", "/pd/v2/enqueue")
    );
    let v = pd.json();
    assert_eq!(v["routing_key"], "pd-routing-key-1");
    assert_eq!(v["event_action"], "trigger");
    let dedup = v["dedup_key"].as_str().unwrap().to_owned();
    assert_eq!(dedup, format!("melodia/incident/{id}"));
    assert_eq!(v["payload"]["summary"], title.as_str());
    assert_eq!(v["payload"]["source"], "melodia");
    assert_eq!(v["payload"]["severity"], "critical");
    assert_eq!(v["payload"]["class"], "incident.created");
    assert!(v["payload"]["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        v["links"][0]["href"],
        format!("https://status.example/s/melodia/incidents/{id}")
    );

    let og = &rx.hits("/og")[0];
    assert_eq!(og.uri, "/og/v2/alerts");
    assert_eq!(header(&og.headers, "authorization"), "GenieKey og-key-1");
    let v = og.json();
    assert_eq!(v["alias"], dedup.as_str());
    assert_eq!(v["priority"], "P1");
    assert!(v["message"].as_str().unwrap().chars().count() <= 130);

    let tg = &rx.hits("/tg")[0];
    assert_eq!(tg.uri, "/tg/bot123:tg-secret/sendMessage");
    let v = tg.json();
    assert_eq!(
        (v["chat_id"].as_str(), v["parse_mode"].as_str()),
        (Some("-1001"), Some("HTML"))
    );
    assert_eq!(v["disable_web_page_preview"], true);
    let text = v["text"].as_str().unwrap();
    assert!(
        text.starts_with(
            "<b>Melodia: &lt;b&gt;Login&lt;/b&gt; &amp; &quot;&lt;a href='https://evil.example'&gt;"
        ),
        "{text}"
    );
    assert!(text.contains("&lt;users/all&gt;"), "{text}");

    let mx = &rx.hits("/mx")[0];
    assert_eq!(mx.method, "PUT");
    assert_eq!(
        mx.uri,
        format!(
            "/mx/_matrix/client/v3/rooms/%21ops%3Amatrix.example/send/m.room.message/incident-{id}-update-1"
        )
    );
    assert_eq!(header(&mx.headers, "authorization"), "Bearer mx-token");
    let v = mx.json();
    assert_eq!(v["format"], "org.matrix.custom.html");
    let html = v["formatted_body"].as_str().unwrap();
    assert!(
        html.starts_with("<strong>Melodia: &lt;b&gt;Login"),
        "{html}"
    );
    assert!(!html.contains("<a href='https://evil"), "{html}");
    assert!(
        !v["body"].as_str().unwrap().contains("@room"),
        "nobody pinged"
    );

    let po = &rx.hits("/po")[0];
    assert_eq!(po.uri, "/po/1/messages.json");
    let form = po.form();
    assert_eq!(
        (form["token"].as_str(), form["user"].as_str()),
        ("po-app", "po-user")
    );
    assert_eq!(form["html"], "1");
    assert!(
        form["message"].contains("&lt;users/all&gt;"),
        "{}",
        form["message"]
    );
    assert_eq!(form["title"], title);

    let gchat = rx.hits("/gchat")[0].json();
    let first = &gchat["cardsV2"][0]["card"]["sections"][0]["widgets"][0]["textParagraph"]["text"];
    assert!(
        first
            .as_str()
            .unwrap()
            .contains("<b>Melodia: &lt;b&gt;Login&lt;/b&gt; &amp; &quot;&lt;a"),
        "{first}"
    );

    let tpl = &rx.hits("/tpl")[0];
    assert_eq!(header(&tpl.headers, "x-api-key"), "tpl-key");
    assert_eq!(
        tpl.json(),
        json!({"summary": title, "key": dedup, "action": "trigger",
               "kind": "incident.created", "status": "investigating"})
    );

    // Resolving the incident resolves PagerDuty's alert and closes Opsgenie's, by key.
    api_post(
        &app,
        &token,
        &format!("/api/v1/incidents/{id}/updates"),
        json!({"status": "resolved", "message": "Fixed."}),
    )
    .await;
    until("both on-call services hear of the end", || async {
        rx.hits("/pd").len() == 2 && rx.hits("/og").len() == 2
    })
    .await;
    let v = rx.hits("/pd")[1].json();
    assert_eq!(v["event_action"], "resolve");
    assert_eq!(v["dedup_key"], dedup.as_str());
    let close = &rx.hits("/og")[1];
    assert_eq!(
        close.uri,
        format!("/og/v2/alerts/melodia%2Fincident%2F{id}/close?identifierType=alias")
    );
    // Credentials never reach what operators read.
    for d in ["pd", "og", "tg", "mx", "po", "tpl"] {
        for row in deliveries(&app, d).await {
            assert_eq!(row.state, DeliveryState::Delivered, "{d}");
        }
    }
    let config_words = format!("{:?}", app.app.config.load().notify);
    for secret in [
        "pd-routing-key-1",
        "og-key-1",
        "tg-secret",
        "mx-token",
        "po-app",
        "tpl-key",
    ] {
        assert!(!config_words.contains(secret), "{secret} printed");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_api_asking_to_wait_is_not_asked_again_sooner() {
    let rx = ApiReceiver::start().await;
    let config = format!(
        "[notify]\nretry_after = \"1s\"\n\
         [[notify.pagerduty]]\nid = \"pd\"\nrouting_key = \"k\"\nurl = \"{}\"\n\
         [[notify.telegram]]\nid = \"tg\"\nbot_token = \"1:t\"\nchat_id = \"5\"\nurl = \"{}\"\n",
        rx.url("/busy/v2/enqueue"),
        rx.url("/tgbusy"),
    );
    let app = spawn_with(testing::sqlite(), &config).await;
    let now = app.clock.now_ms();
    app.app
        .notifier
        .enqueue(Notice::monitor("melodia", "m", true, now))
        .await
        .unwrap();
    for (d, wait_s) in [("pd", 600), ("tg", 900)] {
        until(&format!("{d} refused once"), || async {
            deliveries(&app, d).await.iter().any(|r| r.attempts == 1)
        })
        .await;
        let row = &deliveries(&app, d).await[0];
        assert_eq!(row.state, DeliveryState::Pending, "429 is not final");
        assert_eq!(row.last_status, Some(429));
        assert_eq!(
            row.last_error.as_deref(),
            Some(&*format!("HTTP 429 (retry after {wait_s}s)"))
        );
        assert!(
            row.next_attempt_ms >= now + wait_s * 1000,
            "{d}: not before it said"
        );
    }
    // A minute on, the usual backoff would have tried again; they asked for longer.
    app.clock.advance(Duration::from_secs(60));
    tokio::time::sleep(downbeat_notify::worker::POLL_EVERY * 2).await;
    assert_eq!((rx.hits("/busy").len(), rx.hits("/tgbusy").len()), (1, 1));
    app.clock.advance(Duration::from_secs(900));
    until("both asked again", || async {
        rx.hits("/busy").len() == 2 && rx.hits("/tgbusy").len() == 2
    })
    .await;
    app.stop().await;
}

/// Receives one Standard Webhooks request and verifies it with the `standardwebhooks`
/// package, printing `ok <type>` or `bad <reason>` and answering 204 or 401.
const STANDARD_WEBHOOKS_RECEIVER: &str = r#"
import sys, json
from http.server import BaseHTTPRequestHandler, HTTPServer
from standardwebhooks.webhooks import Webhook

hook = Webhook(sys.argv[1])
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        try:
            payload = hook.verify(body, {k.lower(): v for k, v in self.headers.items()})
            print("ok", payload["type"], self.headers["webhook-id"], flush=True)
            self.send_response(204)
        except Exception as e:
            print("bad", repr(e), flush=True)
            self.send_response(401)
        self.end_headers()
    def log_message(self, *a):
        pass
server = HTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

#[tokio::test]
async fn standard_webhooks_verify_with_the_reference_library() {
    use std::io::{BufRead, BufReader};
    let python = std::env::var("DOWNBEAT_CI_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_package = std::process::Command::new(&python)
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_package {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{python} cannot import standardwebhooks; under CI this must run (.ci/run installs it in target/ci-venv)"
            );
        }
        eprintln!(
            "\n*** SKIPPED: Standard Webhooks: {python} cannot import standardwebhooks (set DOWNBEAT_CI_PYTHON to a venv's python with it) ***\n"
        );
        return;
    }
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let mut child = std::process::Command::new(&python)
        .args(["-c", STANDARD_WEBHOOKS_RECEIVER, secret])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = lines.next().unwrap().unwrap().trim().parse().unwrap();
    let (tx, mut got) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let config = format!(
        "[[notify.webhook]]\nid = \"std\"\nurl = \"http://127.0.0.1:{port}/hook\"\nformat = \"standard-webhooks\"\nsecret = \"{secret}\"\n\
         [[notify.webhook]]\nid = \"wrong\"\nurl = \"http://127.0.0.1:{port}/hook\"\nformat = \"standard-webhooks\"\nsecret = \"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\nservices = [\"melodia\"]\n"
    );
    let app = spawn_with(testing::sqlite(), &config).await;
    let notice = Notice::monitor("melodia", "login-api", true, app.clock.now_ms());
    let id = notice.id();
    app.app.notifier.enqueue(notice).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(20), got.recv()).await {
            Ok(Some(line)) => seen.push(line),
            _ => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    seen.sort();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].starts_with("bad"),
        "the wrong secret is refused: {seen:?}"
    );
    assert_eq!(seen[1], format!("ok monitor.down {id}"), "{seen:?}");
    until("the verified one is delivered", || async {
        deliveries(&app, "std")
            .await
            .first()
            .is_some_and(|d| d.state == DeliveryState::Delivered)
    })
    .await;
    app.stop().await;
}
