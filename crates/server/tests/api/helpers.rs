//! `spawn_app()`: a real server on 127.0.0.1:0 with a fresh store and a manual clock.

use downbeat_domain::{Clock, ManualClock};
use downbeat_server::App;
use downbeat_store::testing::{self, TestStore};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// A config with Melodia and trusted loopback proxies, so tests choose client addresses
/// with X-Forwarded-For. `extra` is appended.
pub fn config_text(extra: &str) -> String {
    format!(
        r#"
[server]
trusted_proxies = ["127.0.0.0/8", "::1"]

{extra}

[[service]]
id = "melodia"
name = "Melodia"

[[service.component]]
id = "login"
name = "Login"

[[service]]
id = "quiet"
name = "Quiet <Service>"
problems = ["login", {{ id = "podcasts", label = "Podcasts" }}]
"#
    )
}

pub struct TestApp {
    pub app: App,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub store: TestStore,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(testing::sqlite(), "").await
}

/// A server on `store` with `extra` config. The listener is bound before this returns, so
/// requests queue until the app is ready: no sleeping.
pub async fn spawn_with(store: TestStore, extra: &str) -> TestApp {
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    spawn_on(store, extra, clock).await
}

pub async fn spawn_on(store: TestStore, extra: &str, clock: Arc<ManualClock>) -> TestApp {
    spawn_raw(store, &config_text(extra), clock).await
}

/// A server with exactly `config` as its config file.
pub async fn spawn_raw(store: TestStore, config: &str, clock: Arc<ManualClock>) -> TestApp {
    let config = Arc::new(downbeat_config::parse_str(config, "test.toml").expect("test config"));
    let db = downbeat_store::open(&store.target)
        .await
        .expect("open store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let (app, running) = App::start(config, db, clock.clone())
        .await
        .expect("start app");
    let router = downbeat_server::api::router(app.clone());
    let handle = tokio::spawn(downbeat_server::serve_app(
        app.clone(),
        running,
        router,
        listener,
        async {
            let _ = rx.await;
        },
    ));
    TestApp {
        app,
        addr,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        clock,
        store,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Posts a JSON report from client address `ip`.
    pub async fn report(&self, service: &str, body: Value, ip: &str) -> Response {
        self.client
            .post(self.url(&format!("/api/v1/services/{service}/reports")))
            .header("x-forwarded-for", ip)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Posts a report and returns whether it counted; panics unless 202.
    pub async fn report_counted(&self, problem: &str, ip: &str) -> bool {
        let r = self
            .report("melodia", json!({"problem": problem}), ip)
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        r.json::<Value>().await.unwrap()["counted"]
            .as_bool()
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Runs the crowd detector as of the clock's now (the background job does the same
    /// every few seconds; stepping it here keeps tests independent of real time).
    pub async fn detect(&self) {
        downbeat_server::crowd::run_once(&self.app, self.clock.now())
            .await
            .expect("crowd detection");
    }

    /// The crowd verdict from `/status`.
    pub async fn verdict(&self) -> (String, Value) {
        let (s, v) = self.get_json("/api/v1/services/melodia/status").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        (v["verdict"].as_str().unwrap_or_default().to_owned(), v)
    }

    pub async fn summary(&self, window: &str) -> Value {
        let (s, v) = self
            .get_json(&format!("/api/v1/services/melodia/summary?window={window}"))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// Graceful shutdown: waits until the server has drained and returned. Gives the store
    /// back so a test can start again on the same data.
    pub async fn stop(mut self) -> (TestStore, Arc<ManualClock>) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server result");
        }
        (self.store, self.clock)
    }
}

/// Waits (up to 30 s of real time) until `check` holds. Background workers run on their own;
/// this waits for what they do, and fails loudly rather than hanging.
pub async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..1500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}
