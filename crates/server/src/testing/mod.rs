//! Test support (feature `testing`), shared by every crate's integration tests:
//! [`spawn`] starts the whole product on 127.0.0.1:0 through the same [`crate::build`] as
//! `downbeat serve`, with a fresh store and a manual clock; [`smtp_sink`] is a small mail
//! relay; [`browser_tools`] says whether node, the npm packages and chromium are here;
//! [`cluster`] starts several nodes on one PostgreSQL database.

pub mod browser_tools;
pub mod cluster;
pub mod smtp_sink;

use crate::build;
use downbeat_api::App;
use downbeat_domain::{Clock, ManualClock};
use downbeat_store::testing::TestStore;
use downbeat_web::Pages;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Downbeat serving on a loopback port, with handles to step its jobs.
pub struct TestApp {
    pub app: App,
    pub pages: Pages,
    pub addr: SocketAddr,
    /// Follows no redirects and decompresses nothing: tests look at answers as sent.
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub store: TestStore,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Downbeat with exactly `config` as its config file, on `store`, on `clock`. The listener
/// is bound and the pages rendered before this returns, so requests queue until the app is
/// ready: no sleeping.
pub async fn spawn(config: &str, store: TestStore, clock: Arc<ManualClock>) -> TestApp {
    let config = downbeat_config::parse_str(config, "test.toml").expect("test config");
    spawn_config(config, store, clock).await
}

/// [`spawn`] with the config file at `path`, read as `downbeat serve --config` reads it:
/// a reload (`POST /api/v1/admin/reload`, the admin area's button) reads it again.
pub async fn spawn_file(
    path: &std::path::Path,
    store: TestStore,
    clock: Arc<ManualClock>,
) -> TestApp {
    let config = downbeat_config::load_file(path).expect("test config file");
    spawn_config(config, store, clock).await
}

async fn spawn_config(
    config: downbeat_config::Config,
    store: TestStore,
    clock: Arc<ManualClock>,
) -> TestApp {
    let config = Arc::new(config);
    let timeouts = downbeat_store::PgTimeouts {
        connect: config.server.database_connect_timeout.as_duration(),
        statement: config.server.database_statement_timeout.as_duration(),
    };
    let db = downbeat_store::open_with(&store.target, timeouts)
        .await
        .expect("open store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local address");
    let (tx, rx) = oneshot::channel::<()>();
    let downbeat = build(config, db, clock.clone()).await.expect("start app");
    let (app, pages) = (downbeat.app.clone(), downbeat.pages.clone());
    let handle = tokio::spawn(downbeat.serve(listener, async {
        let _ = rx.await;
    }));
    pages.refresh().await;
    TestApp {
        app,
        pages,
        addr,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
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

    /// A GET and its JSON body (`Null` when the body is not JSON).
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
    /// every few seconds; stepping it here keeps tests independent of real time), then
    /// refreshes the pages.
    pub async fn detect(&self) {
        downbeat_crowd::run_once(&self.app.crowd, self.clock.now())
            .await
            .expect("crowd detection");
        self.pages.refresh().await;
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

/// Log lines written while a test runs, for tests that check what is logged and in which
/// span. Install with [`capture_logs`]; the test's runtime must have one thread (the
/// default `#[tokio::test]`), so the server's tasks log through the same subscriber.
#[derive(Clone, Default)]
pub struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    /// Everything logged so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures this thread's logs (at info and above, as `downbeat serve` writes them) until
/// the guard is dropped.
pub fn capture_logs() -> (Logs, tracing::subscriber::DefaultGuard) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
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
