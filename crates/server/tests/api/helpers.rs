//! `spawn_app()`: the shared harness (`downbeat_server::testing`) with this suite's config
//! (Melodia, and trusted loopback proxies so tests choose client addresses with
//! X-Forwarded-For), plus the suite's own shortcuts.

use downbeat_domain::ManualClock;
pub use downbeat_server::testing::until;
use downbeat_server::testing::{self as harness};
use downbeat_store::testing::{self, TestStore};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::ops::Deref;
use std::sync::Arc;

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

/// The shared harness with this suite's shortcuts.
pub struct TestApp {
    inner: harness::TestApp,
    /// A viewer's API token, made on first use.
    viewer: tokio::sync::OnceCell<String>,
}

impl Deref for TestApp {
    type Target = harness::TestApp;
    fn deref(&self) -> &harness::TestApp {
        &self.inner
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(testing::sqlite(), "").await
}

/// A server on `store` with `extra` config.
pub async fn spawn_with(store: TestStore, extra: &str) -> TestApp {
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    spawn_on(store, extra, clock).await
}

pub async fn spawn_on(store: TestStore, extra: &str, clock: Arc<ManualClock>) -> TestApp {
    spawn_raw(store, &config_text(extra), clock).await
}

/// `n` servers (nodes of one cluster) on `store`'s database with `extra` config, on one
/// clock.
pub async fn spawn_nodes(store: TestStore, extra: &str, n: usize) -> Vec<TestApp> {
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    harness::cluster::spawn_nodes(&config_text(extra), store, n, clock)
        .await
        .into_iter()
        .map(|inner| TestApp {
            inner,
            viewer: tokio::sync::OnceCell::new(),
        })
        .collect()
}

/// A server with exactly `config` as its config file.
/// `n` nodes with exactly `config` on `store`'s database and `clock`.
pub async fn spawn_nodes_on(
    store: TestStore,
    config: &str,
    n: usize,
    clock: Arc<ManualClock>,
) -> Vec<TestApp> {
    harness::cluster::spawn_nodes(config, store, n, clock)
        .await
        .into_iter()
        .map(|inner| TestApp {
            inner,
            viewer: tokio::sync::OnceCell::new(),
        })
        .collect()
}

pub async fn spawn_raw(store: TestStore, config: &str, clock: Arc<ManualClock>) -> TestApp {
    TestApp {
        inner: harness::spawn(config, store, clock).await,
        viewer: tokio::sync::OnceCell::new(),
    }
}

impl TestApp {
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

    /// A GET with a viewer's token: what operators see (targets, errors, their diagnosis).
    pub async fn viewer_json(&self, path: &str) -> (StatusCode, Value) {
        let token = self
            .viewer
            .get_or_init(|| async {
                downbeat_api::auth::create_token(
                    &*self.app.store,
                    "test-viewer",
                    downbeat_api::auth::Role::Viewer,
                    self.clock.now_ms(),
                )
                .await
                .expect("a viewer token")
            })
            .await;
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Graceful shutdown; gives the store and the clock back so a test can start again on
    /// the same data.
    pub async fn stop(self) -> (TestStore, Arc<ManualClock>) {
        self.inner.stop().await
    }
}

/// An API token of `role` made straight in the store.
pub async fn token(app: &TestApp, name: &str, role: downbeat_api::auth::Role) -> String {
    downbeat_api::auth::create_token(&*app.app.store, name, role, app.clock.now_ms())
        .await
        .unwrap()
}

/// A request with an optional token and JSON body: its status and JSON answer (null when
/// the answer is not JSON).
pub async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = app.client.request(method, app.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}
