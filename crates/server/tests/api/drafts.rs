//! Drafts from the monitors speak public words: a monitor brought down by real TLS failures
//! on loopback (a certificate nobody trusts, a fatal handshake alert) drafts an incident whose
//! text, once public (published by an operator, or at once with `auto_publish`), names no
//! host, port, address, URL or raw error on any public surface: the API, the pages, both
//! Atom feeds, the Statuspage summary, a public webhook and a subscriber's mail. The
//! operators' diagnosis stays in the evidence, which the admin area shows.

use crate::helpers::{config_text, spawn_raw};
use axum::extract::State;
use axum::http::HeaderMap;
use downbeat_api::auth::{self, Role};
use downbeat_domain::Clock;
use downbeat_server::testing::smtp_sink::SmtpSink;
use downbeat_server::testing::until;
use downbeat_store::{UserRow, testing};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A TLS server on loopback with a fresh self-signed certificate that no prober trusts.
async fn untrusted_tls_listener() -> SocketAddr {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
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
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            // The prober rejects the certificate: the handshake ends there.
            tokio::spawn(async move { drop(acceptor.accept(tcp).await) });
        }
    });
    addr
}

/// A TLS front end with a broken configuration: it reads the ClientHello and answers with a
/// fatal `handshake_failure` alert (the demo's login API fault).
pub(crate) async fn refusing_tls_listener() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut hello = [0u8; 4096];
                let _ = tcp.read(&mut hello).await;
                // record: alert, TLS 1.2, length 2; alert: fatal (2), handshake_failure (40)
                let _ = tcp
                    .write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
                    .await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    addr
}

/// Every body a public webhook received.
type Bodies = Arc<Mutex<Vec<String>>>;

async fn webhook_receiver() -> (SocketAddr, Bodies) {
    let got: Bodies = Arc::default();
    let router = axum::Router::new()
        .route(
            "/public",
            axum::routing::post(
                |State(got): State<Bodies>, _h: HeaderMap, body: String| async move {
                    got.lock().unwrap().push(body);
                },
            ),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (addr, got)
}

/// Runs a real probe of `monitor`'s target and pushes its result as agent `eu-agent`.
pub(crate) async fn probe_and_push(
    app: &crate::helpers::TestApp,
    agent: &str,
    monitor: &str,
) -> Value {
    let m = app.app.config.monitor(monitor).unwrap();
    let prober = downbeat_probe::Prober::new().unwrap();
    let result = downbeat_probe::probe(&m.probe, &prober).await;
    let mut result = serde_json::to_value(&result).unwrap();
    result["started_at"] = json!(app.clock.now().to_string());
    let body = json!({"region": "eu-agent", "results": [{
        "monitor": monitor, "reliable": true, "result": result.clone()}]});
    let r = app
        .client
        .post(app.url("/api/v1/agent/results"))
        .bearer_auth(agent)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    result
}

/// Signs `user` in to the admin area (plain HTTP from loopback) and GETs `path`.
async fn admin_page(app: &crate::helpers::TestApp, user: &str, path: &str) -> String {
    let password = "correct horse battery staple";
    app.app
        .store
        .save_user(UserRow {
            name: user.to_owned(),
            role: Role::Editor,
            password_hash: auth::hash_password(password).unwrap(),
            created_ms: app.clock.now_ms(),
            from_config: false,
        })
        .await
        .unwrap();
    let cookies = |h: &reqwest::header::HeaderMap, jar: &mut BTreeMap<String, String>| {
        for v in h.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let kv = v.split(';').next().unwrap();
            let (k, val) = kv.split_once('=').unwrap();
            jar.insert(k.to_owned(), val.to_owned());
        }
    };
    let header = |jar: &BTreeMap<String, String>| {
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut jar = BTreeMap::new();
    let form = app
        .client
        .get(app.url("/admin/login"))
        .send()
        .await
        .unwrap();
    cookies(form.headers(), &mut jar);
    let html = form.text().await.unwrap();
    let at = html.find(r#"name="csrf" value=""#).expect("a CSRF field") + 19;
    let csrf = &html[at..at + html[at..].find('"').unwrap()];
    let r = app
        .client
        .post(app.url("/admin/login"))
        .header("cookie", header(&jar))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[
            ("csrf", csrf),
            ("user", user),
            ("password", password),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    cookies(r.headers(), &mut jar);
    let r = app
        .client
        .get(app.url(path))
        .header("cookie", header(&jar))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// `fields` as an `application/x-www-form-urlencoded` body.
fn form_body(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn text(app: &crate::helpers::TestApp, path: &str) -> String {
    let r = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

async fn drafted_from_tls_failures(auto_publish: bool) {
    let untrusted = untrusted_tls_listener().await;
    let refusing = refusing_tls_listener().await;
    let (hook, public_bodies) = webhook_receiver().await;
    let sink = SmtpSink::start(None).await;
    let extra = format!(
        "[probes]\nfailures_to_open = 1\nsuccesses_to_close = 1\n\
         [notify]\npublic_url = \"https://status.example\"\n\
         [notify.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"status@melodia.example\"\n\
         [[notify.webhook]]\nid = \"public\"\nurl = \"http://{hook}/public\"\nformat = \"slack\"\n\
         [[monitor]]\nid = \"login-api\"\nservice = \"melodia\"\ncomponent = \"login\"\nkind = \"http\"\n\
         target = \"https://127.0.0.1:{}/v1/handshake\"\ninterval = \"1h\"\ntimeout = \"2s\"\n\
         [[monitor]]\nid = \"login-edge\"\nservice = \"melodia\"\ncomponent = \"login\"\nkind = \"tls\"\n\
         target = \"127.0.0.1:{}\"\ninterval = \"1h\"\ntimeout = \"2s\"\n",
        sink.port(),
        untrusted.port(),
        refusing.port(),
    );
    let mut config = config_text(&extra);
    if auto_publish {
        config = config.replace(
            "name = \"Melodia\"\n",
            "name = \"Melodia\"\nauto_publish = true\n",
        );
    }
    let clock = Arc::new(downbeat_domain::ManualClock::new(jiff::Timestamp::now()));
    let app = spawn_raw(testing::sqlite(), &config, clock).await;
    assert_eq!(app.app.config.load().services[0].auto_publish, auto_publish);

    // A subscriber by mail, confirmed.
    let r = app
        .client
        .post(app.url("/s/melodia/subscribe"))
        .header("x-forwarded-for", "198.51.100.7")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("email", "ana@example.test")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let confirm = sink.wait_for("ana@example.test", 1).await;
    let manage = confirm[0]
        .link("/subscriptions/dbs_")
        .filter(|l| !l.ends_with("/unsubscribe"))
        .expect("a manage link");
    let manage = manage.strip_prefix("https://status.example").unwrap();
    let r = app
        .client
        .post(app.url(&format!("{manage}/confirm")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Both monitors fail for real; the raw results name the target and the error.
    let region = downbeat_domain::Slug::parse("eu-agent").unwrap();
    let agent = auth::create_token_for_regions(
        &*app.app.store,
        "agent",
        Role::Agent,
        &[region],
        app.clock.now_ms(),
    )
    .await
    .unwrap();
    let api = probe_and_push(&app, &agent, "login-api").await;
    assert_eq!(api["cause"], "tls_certificate", "{api}");
    let edge = probe_and_push(&app, &agent, "login-edge").await;
    assert_eq!(edge["cause"], "tls_handshake", "{edge}");
    let raw_error = edge["error"].as_str().unwrap().to_owned();
    assert!(
        raw_error.contains("HandshakeFailure"),
        "the raw error is the one to hide: {edge}"
    );
    let secrets = [
        "127.0.0.1".to_owned(),
        format!(":{}", untrusted.port()),
        format!(":{}", refusing.port()),
        "/v1/handshake".to_owned(),
        "HandshakeFailure".to_owned(),
        "fatal alert".to_owned(),
        "invalid peer certificate".to_owned(),
        "UnknownIssuer".to_owned(),
        raw_error.clone(),
    ];

    downbeat_server::jobs::incidents_once(&app.app)
        .await
        .unwrap();
    let snapshot = downbeat_incidents::snapshot(&app.app.incidents, "melodia");
    let id = if auto_publish {
        assert!(snapshot.drafts.is_empty(), "published at once");
        snapshot.incidents[0].id
    } else {
        let draft = snapshot.drafts[0].clone();
        let editor = auth::create_token(&*app.app.store, "ed", Role::Editor, app.clock.now_ms())
            .await
            .unwrap();
        let r = app
            .client
            .post(app.url(&format!("/api/v1/incidents/{}/publish", draft.id)))
            .bearer_auth(&editor)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        draft.id
    };
    app.pages.refresh().await;

    // The public update still says what is wrong, in public words.
    let (_, one) = app.get_json(&format!("/api/v1/incidents/{id}")).await;
    let message = one["updates"][0]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("TLS") && message.contains("eu-agent"),
        "{message}"
    );
    assert!(one.get("evidence").is_none(), "{one}");

    let mut public = vec![
        ("the incident", one.to_string()),
        (
            "the incident list",
            app.get_json("/api/v1/services/melodia/incidents")
                .await
                .1
                .to_string(),
        ),
    ];
    let page = format!("/s/melodia/incidents/{id}");
    for path in [
        "/s/melodia",
        "/s/melodia/incidents",
        &page,
        "/s/melodia/feed.atom",
        "/feed.atom",
        "/api/v2/summary.json",
    ] {
        let body = text(&app, path).await;
        public.push((path, body));
    }
    // The feeds and the summary carry the incident at all (else they prove nothing).
    for (what, body) in &public {
        assert!(body.contains("checks failing"), "{what} lacks the incident");
    }
    until("the public webhook hears", || async {
        !public_bodies.lock().unwrap().is_empty()
    })
    .await;
    let mails = sink.wait_for("ana@example.test", 2).await;
    let mail = &mails[1];
    assert_eq!(
        mail.header("x-downbeat-event-id"),
        Some(format!("incident-{id}-update-1"))
    );
    public.push(("the subscriber's mail", mail.data.clone() + &mail.body()));
    for body in public_bodies.lock().unwrap().iter() {
        public.push(("the public webhook", body.clone()));
    }
    for (what, body) in &public {
        for secret in &secrets {
            assert!(
                !body.contains(secret.as_str()),
                "{what} shows {secret:?} (auto_publish {auto_publish}):\n{body}"
            );
        }
    }

    // Operators still read the diagnosis: in the evidence, on the admin page.
    let (_, seen) = app.viewer_json(&format!("/api/v1/incidents/{id}")).await;
    let diagnosis = seen["evidence"]["diagnosis"].as_str().unwrap();
    assert!(
        diagnosis.contains("HandshakeFailure") && diagnosis.contains("127.0.0.1"),
        "{diagnosis}"
    );
    let page = admin_page(&app, "ops", &format!("/admin/incidents/{id}")).await;
    assert!(
        page.contains("HandshakeFailure") && page.contains(&format!(":{}", refusing.port())),
        "the admin area shows the operators' diagnosis:\n{page}"
    );
    app.stop().await;
}

/// The demo's morning: the login API's TLS fails, Downbeat drafts, an operator publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_draft_tells_the_public_no_host_port_or_raw_error() {
    drafted_from_tls_failures(false).await;
}

/// The same with `auto_publish`: the draft is public the moment it is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_published_draft_tells_the_public_no_host_port_or_raw_error() {
    drafted_from_tls_failures(true).await;
}
