//! Remote agents against the real server (integrity items 2 and 16): a token pushes only for
//! the regions it names; results with absurd numbers, from too far ahead or too long ago
//! are refused naming the field; a retried push is stored once, also after a restart; a
//! late backlog fills history without replaying changes that ended; the agent's pushes fit
//! the server's body limit whatever its backlog; and the agent speaks HTTPS to a private CA,
//! plain HTTP only to this machine.

use crate::helpers::*;
use downbeat_agent::buffer::Buffer;
use downbeat_agent::http::{Client, HttpError, ServerError};
use downbeat_agent::protocol::PushedResult;
use downbeat_agent::run::AgentError;
use downbeat_agent::{Agent, AgentOptions};
use downbeat_api::auth::{self, Role};
use downbeat_domain::{Clock, Slug};
use downbeat_store::testing;
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A loopback TCP target that accepts every connection (this server's own probe of the
/// monitor passes).
async fn target() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { while l.accept().await.is_ok() {} });
    addr
}

/// One monitor, `login-api`, that one failing region opens and one good result closes.
async fn config() -> String {
    format!(
        "[probes]\nquorum = 1\nfailures_to_open = 1\nsuccesses_to_close = 1\n\
         [[monitor]]\nid = \"login-api\"\nservice = \"melodia\"\ncomponent = \"login\"\n\
         kind = \"tcp\"\ntarget = \"{}\"\ninterval = \"1m\"\ntimeout = \"1s\"\n",
        target().await
    )
}

async fn token(app: &TestApp, name: &str, role: Role, regions: &[&str]) -> String {
    let regions: Vec<Slug> = regions.iter().map(|r| Slug::parse(r).unwrap()).collect();
    auth::create_token_for_regions(&*app.app.store, name, role, &regions, app.clock.now_ms())
        .await
        .unwrap()
}

/// A result of `login-api` that started at `at`, up or down.
fn result(at: Timestamp, down: bool) -> Value {
    let result = if down {
        json!({"kind": "tcp", "started_at": at.to_string(), "outcome": "down",
               "cause": "connect", "detail": "refused", "error": "connection refused",
               "timings": {"total_ms": 1.0}})
    } else {
        json!({"kind": "tcp", "started_at": at.to_string(), "outcome": "up",
               "timings": {"connect_ms": 0.5, "total_ms": 1.0}})
    };
    json!({"monitor": "login-api", "reliable": true, "result": result})
}

async fn push(
    app: &TestApp,
    token: &str,
    region: &str,
    results: Vec<Value>,
) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url("/api/v1/agent/results"))
        .bearer_auth(token)
        .json(&json!({"region": region, "results": results}))
        .send()
        .await
        .expect("an answer");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn assignments(app: &TestApp, token: &str, region: &str) -> StatusCode {
    app.client
        .get(app.url(&format!("/api/v1/agent/assignments?region={region}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

/// The stored results of `login-api` since `since`, as (region, outcome, start).
async fn history(app: &TestApp, since: Timestamp) -> Vec<(String, String, Timestamp)> {
    let (s, v) = app
        .viewer_json(&format!(
            "/api/v1/monitors/login-api/results?since={since}&limit=10000"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["region"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
                r["started_at"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn agent_tokens_push_only_for_the_regions_they_name() {
    let app = spawn_with(testing::sqlite(), &config().await).await;
    let eu = token(&app, "eu", Role::Agent, &["eu-west"]).await;
    let issued_before = token(&app, "old-agent", Role::Agent, &[]).await;
    let admin = token(&app, "root", Role::Admin, &[]).await;
    let admin_eu = token(&app, "root-eu", Role::Admin, &["eu-west"]).await;
    let now = app.clock.now();

    let (s, a) = push(&app, &eu, "eu-west", vec![result(now, false)]).await;
    assert_eq!((s, &a["accepted"]), (StatusCode::OK, &json!(1)), "{a}");
    assert_eq!(assignments(&app, &eu, "eu-west").await, StatusCode::OK);
    // Another region (one that would meet a quorum, or overwrite a real agent's results),
    // and tokens that name none: refused, saying what to do.
    for (who, token, region, says) in [
        ("eu", &eu, "us-east", "may report for eu-west"),
        (
            "a token issued before regions",
            &issued_before,
            "eu-west",
            "--region",
        ),
        ("an admin naming no region", &admin, "eu-west", "--region"),
    ] {
        let (s, e) = push(&app, token, region, vec![result(now, true)]).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{who}: {e}");
        assert!(e["error"].as_str().unwrap().contains(says), "{who}: {e}");
        assert_eq!(
            assignments(&app, token, region).await,
            StatusCode::FORBIDDEN,
            "{who}"
        );
    }
    let (s, a) = push(
        &app,
        &admin_eu,
        "eu-west",
        vec![result(now + SignedDuration::from_secs(1), false)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "an admin naming the region: {a}");
    // Nothing of the refused regions reached the monitor's picture, nor its state.
    let i = "login-api";
    let regions: Vec<String> = app
        .app
        .monitors
        .latest(i)
        .keys()
        .map(|r| r.to_string())
        .collect();
    assert!(!regions.contains(&"us-east".to_owned()), "{regions:?}");
    assert!(!app.app.monitors.state(i).0, "no refused result opened it");
    app.stop().await;
}

#[tokio::test]
async fn results_with_absurd_numbers_or_times_are_refused_naming_the_field() {
    let app = spawn_with(testing::sqlite(), &config().await).await;
    let eu = token(&app, "eu", Role::Agent, &["eu-west"]).await;
    let now = app.clock.now();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut r = result(now, true);
        edit(&mut r["result"]);
        r
    };
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "a total of 1e297 ms",
            with(&|r| r["timings"]["total_ms"] = json!(1e297)),
            "results[].result.timings.total_ms",
            "result 1: 1e+297",
        ),
        (
            "a negative connect",
            with(&|r| r["timings"]["connect_ms"] = json!(-1.0)),
            "results[].result.timings.connect_ms",
            "result 1",
        ),
        (
            "a phase longer than a day",
            with(&|r| r["timings"]["ttfb_ms"] = json!(86_400_001.0)),
            "results[].result.timings.ttfb_ms",
            "a day",
        ),
        (
            "an HTTP status that is none",
            with(&|r| r["http_status"] = json!(9999)),
            "results[].result.http_status",
            "9999",
        ),
        (
            "a start 10 minutes ahead",
            with(&|r| r["started_at"] = json!((now + SignedDuration::from_mins(10)).to_string())),
            "results[].result.started_at",
            "agent_max_skew",
        ),
        (
            "a start 3 days ago",
            with(&|r| r["started_at"] = json!((now - SignedDuration::from_hours(72)).to_string())),
            "results[].result.started_at",
            "agent_max_age",
        ),
    ];
    for (what, bad, field, says) in cases {
        // A good result first: the batch is refused whole.
        let good = result(now - SignedDuration::from_secs(1), true);
        let (s, e) = push(&app, &eu, "eu-west", vec![good, bad]).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {e}");
        assert_eq!(e["field"], field, "{what}: {e}");
        assert!(e["error"].as_str().unwrap().contains(says), "{what}: {e}");
    }
    // Nothing was stored or applied; the server answers as before.
    assert!(
        history(&app, now - SignedDuration::from_hours(1))
            .await
            .is_empty()
    );
    let i = "login-api";
    assert!(
        !app.app.monitors.state(i).0,
        "a refused batch opened the monitor"
    );
    let (s, a) = push(&app, &eu, "eu-west", vec![result(now, false)]).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    app.stop().await;
}

#[tokio::test]
async fn a_retried_push_is_stored_once_even_after_a_restart() {
    let config = config().await;
    let app = spawn_with(testing::sqlite(), &config).await;
    let eu = token(&app, "eu", Role::Agent, &["eu-west"]).await;
    let now = app.clock.now();
    let batch: Vec<Value> = (0..20)
        .map(|k| result(now - SignedDuration::from_secs(20 - k), k % 2 == 0))
        .collect();
    let (s, a) = push(&app, &eu, "eu-west", batch.clone()).await;
    assert_eq!((s, &a["accepted"]), (StatusCode::OK, &json!(20)), "{a}");
    // The answer was lost and the server restarted before the agent retried.
    let (store, clock) = app.stop().await;
    let app = spawn_on(store, &config, clock).await;
    let (s, a) = push(&app, &eu, "eu-west", batch).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(
        (&a["accepted"], &a["duplicates"]),
        (&json!(0), &json!(20)),
        "{a}"
    );
    let eu_results = history(&app, now - SignedDuration::from_mins(1))
        .await
        .into_iter()
        .filter(|(region, ..)| region == "eu-west")
        .count();
    assert_eq!(eu_results, 20, "each result once");
    app.stop().await;
}

#[tokio::test]
async fn a_late_backlog_fills_history_without_replaying_changes_that_ended() {
    let app = spawn_with(testing::sqlite(), &config().await).await;
    let agents = token(&app, "agents", Role::Agent, &["eu-west", "us-east"]).await;
    let now = app.clock.now();
    // eu-west reports all along; us-east was cut off from the server for an hour, during
    // which it saw the monitor fail for ten minutes. Its backlog arrives now, oldest first.
    let (s, a) = push(&app, &agents, "eu-west", vec![result(now, false)]).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let backlog: Vec<Value> = (0..40)
        .map(|k| {
            let at = now - SignedDuration::from_mins(60 - k);
            result(at, (10..20).contains(&k))
        })
        .collect();
    let (s, a) = push(&app, &agents, "us-east", backlog).await;
    assert_eq!((s, &a["accepted"]), (StatusCode::OK, &json!(40)), "{a}");

    let stored = history(&app, now - SignedDuration::from_hours(2)).await;
    let us: Vec<&(String, String, Timestamp)> =
        stored.iter().filter(|(r, ..)| r == "us-east").collect();
    assert_eq!(us.len(), 40, "the backlog is history");
    assert_eq!(us.iter().filter(|(_, o, _)| o == "down").count(), 10);
    // The outage it saw ended long ago: no change was replayed (nor told).
    let i = "login-api";
    assert!(!app.app.monitors.state(i).0);
    let states = app.app.store.monitor_states().await.unwrap();
    assert!(states.is_empty(), "a change was replayed: {states:?}");

    // A current failure from us-east still counts.
    let (s, a) = push(
        &app,
        &agents,
        "us-east",
        vec![result(now + SignedDuration::from_secs(1), true)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert!(app.app.monitors.state(i).0, "a current failure opens it");
    app.stop().await;
}

/// The JSON files waiting in an agent's buffer directory.
fn buffered(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json"))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_splits_a_large_backlog_to_fit_the_servers_body_limit() {
    let app = spawn_with(testing::sqlite(), &config().await).await;
    let eu = token(&app, "eu", Role::Agent, &["eu-west"]).await;
    let now = app.clock.now();
    // Three batches of a thousand results with long error texts: some 3 MB each, more
    // than the server reads in one request (2 MiB).
    let dir = tempfile::tempdir().unwrap();
    let buffer = Buffer::open(dir.path(), 100).unwrap();
    let error = "connection refused ".repeat(160);
    for b in 0..3 {
        let batch: Vec<PushedResult> = (0..1000)
            .map(|k| {
                let at = now - SignedDuration::from_secs(3600 - (b * 1000 + k));
                let mut r = result(at, true);
                r["result"]["error"] = json!(error);
                serde_json::from_value(r).unwrap()
            })
            .collect();
        buffer.append(&batch).unwrap();
    }
    drop(buffer);
    let mut opts = AgentOptions::new(&app.url(""), &eu, "eu-west", dir.path().to_owned());
    opts.clock = app.clock.clone();
    let agent = Agent::new(opts).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(agent.run(async {
        let _ = stopped.await;
    }));
    until("the backlog is delivered", || async {
        buffered(dir.path()) == 0
    })
    .await;
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    let delivered = history(&app, now - SignedDuration::from_hours(2))
        .await
        .into_iter()
        .filter(|(region, _, at)| region == "eu-west" && *at < now)
        .count();
    assert_eq!(delivered, 3000, "every buffered result stored");
    app.stop().await;
}

/// A private CA and a certificate it signed for 127.0.0.1 and localhost: the acceptor, and
/// the CA's PEM file.
fn private_ca(dir: &Path) -> (tokio_rustls::TlsAcceptor, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Downbeat test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let pem = dir.join("ca.pem");
    std::fs::write(&pem, ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], der)
    .unwrap();
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), pem)
}

/// HTTPS on 127.0.0.1 in front of `backend` (as a reverse proxy would be): its address.
async fn tls_front(acceptor: tokio_rustls::TlsAcceptor, backend: SocketAddr) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut up) = tokio::net::TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_speaks_https_to_a_private_ca_and_plain_http_only_to_this_machine() {
    let app = spawn_with(testing::sqlite(), &config().await).await;
    let eu = token(&app, "eu", Role::Agent, &["eu-west"]).await;
    let dir = tempfile::tempdir().unwrap();
    let (acceptor, ca) = private_ca(dir.path());
    let front = tls_front(acceptor, app.addr).await;
    let server = format!("https://127.0.0.1:{}", front.port());
    let path = "/api/v1/agent/assignments?region=eu-west";
    let client = |ca: Option<&Path>| {
        Client::new(&server, ca, false, &eu, "test", Duration::from_secs(10)).unwrap()
    };

    // The public roots do not vouch for a private CA; the CA file does.
    let e = client(None).get(path).await.expect_err("untrusted");
    assert!(matches!(e, HttpError::Tls(_)), "{e}");
    let answer = client(Some(&ca)).get(path).await.unwrap();
    assert_eq!(answer.status.as_u16(), 200);

    // Plain HTTP to another machine is refused unless allowed.
    let plain = |allow: bool| {
        let mut o = AgentOptions::new(
            "http://192.0.2.10:8080",
            &eu,
            "eu-west",
            dir.path().join("plain"),
        );
        o.allow_plain_http = allow;
        Agent::new(o)
    };
    assert!(
        matches!(
            plain(false),
            Err(AgentError::Server(ServerError::PlainHttp(_)))
        ),
        "plain HTTP to another host"
    );
    assert!(plain(true).is_ok());

    // An agent over HTTPS: what it buffered arrives.
    let buffer = dir.path().join("buffer");
    let probed = serde_json::from_value(result(app.clock.now(), false)).unwrap();
    Buffer::open(&buffer, 10)
        .unwrap()
        .append(&[probed])
        .unwrap();
    let mut opts = AgentOptions::new(&server, &eu, "eu-west", buffer);
    opts.ca_file = Some(ca);
    opts.clock = app.clock.clone();
    let agent = Agent::new(opts).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(agent.run(async {
        let _ = stopped.await;
    }));
    let i = "login-api";
    until("a result from the agent over HTTPS", || async {
        app.app.monitors.latest(i).contains_key("eu-west")
    })
    .await;
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    app.stop().await;
}

/// The vantages' clocks differ by up to `[probes] agent_max_skew` (30 s): a current result
/// from a region whose clock is behind another's by less than that still counts, even when
/// the monitor's freshness window (three 5 s intervals and the timeout) is shorter.
#[tokio::test]
async fn a_current_result_counts_though_another_vantage_clock_is_ahead() {
    let config = config()
        .await
        .replace("interval = \"1m\"", "interval = \"5s\"");
    let app = spawn_with(testing::sqlite(), &config).await;
    let agents = token(&app, "agents", Role::Agent, &["eu-west", "us-east"]).await;
    let now = app.clock.now();
    let ahead = now + SignedDuration::from_secs(25);
    let (s, a) = push(&app, &agents, "eu-west", vec![result(ahead, false)]).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let (s, a) = push(&app, &agents, "us-east", vec![result(now, true)]).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let i = "login-api";
    assert!(
        app.app.monitors.state(i).0,
        "the failure from us-east opens it"
    );
    app.stop().await;
}
