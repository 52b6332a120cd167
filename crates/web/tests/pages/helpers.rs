//! `spawn_app()`: the API and the pages on one listener, a fresh store, a manual clock, and
//! the [`Pages`] handle so tests refresh the pages instead of waiting for the refresher.

use downbeat_domain::{Clock, ManualClock};
use downbeat_server::App;
use downbeat_store::testing::{self, TestStore};
use downbeat_web::Pages;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

pub const MINUTE: i64 = 60_000;

/// Melodia with components and tips, plus `extra` services; loopback is a trusted proxy so
/// tests choose client addresses with X-Forwarded-For.
pub fn config_text(extra: &str) -> String {
    format!(
        r#"
[server]
trusted_proxies = ["127.0.0.0/8", "::1"]

[[service]]
id = "melodia"
name = "Melodia"
tips = ["Check whether other apps can reach the internet.", "Log out and back in, then restart the app."]

[[service.component]]
id = "login"
name = "Login and accounts"

[[service.component]]
id = "playback"
name = "Playback"
description = "Streaming audio to every app and the web player."

{extra}
"#
    )
}

/// A service whose every operator-written string is hostile.
pub const EVIL: &str = r#"
[[service]]
id = "evil"
name = "Evil <script>alert(1)</script> & Co"
tips = ["<img src=x onerror=alert(2)>"]
problems = ["login", { id = "hack", label = "<b onmouseover=alert(3)>Hack</b>" }]

[[service.component]]
id = "core"
name = "<i>Core</i>"
description = "\"quoted\" & <u>under</u>"
"#;

pub struct TestApp {
    pub app: App,
    pub pages: Pages,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub _store: TestStore,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(&config_text(""), testing::sqlite(), jiff::Timestamp::now()).await
}

pub async fn spawn_with(config: &str, store: TestStore, now: jiff::Timestamp) -> TestApp {
    let clock = Arc::new(ManualClock::new(now));
    let config = Arc::new(downbeat_config::parse_str(config, "test.toml").expect("test config"));
    let db = downbeat_store::open(&store.target)
        .await
        .expect("open store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local address");
    let (tx, rx) = oneshot::channel::<()>();
    let (app, running) = App::start(config, db, clock.clone())
        .await
        .expect("start app");
    let pages = Pages::new(app.clone());
    let router = downbeat_server::api::router(app.clone()).merge(pages.router());
    let handle = tokio::spawn(downbeat_server::serve_app(
        app.clone(),
        running,
        router,
        listener,
        async {
            let _ = rx.await;
        },
    ));
    pages.refresh().await;
    TestApp {
        app,
        pages,
        addr,
        // No automatic decompression: the tests look at the bytes as sent.
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        clock,
        _store: store,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

/// A client address on its own /24 for every `n`.
pub fn spread_ip(n: u32) -> String {
    format!(
        "{}.{}.{}.9",
        1 + n % 220,
        (n / 220) % 256,
        (n / 56_320) % 256
    )
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut r = self.client.get(self.url(path));
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().await.expect("request")
    }

    /// The body of a GET that must answer 200.
    pub async fn page(&self, path: &str) -> String {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.text().await.expect("body")
    }

    /// Posts JSON reports concurrently through the API, one client address each.
    pub async fn post_many(&self, count: u32, first_client: u32, body: impl Fn(u32) -> Value) {
        let sem = Arc::new(tokio::sync::Semaphore::new(32));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..count {
            let permit = sem.clone().acquire_owned().await.expect("semaphore");
            let (client, url, b, ip) = (
                self.client.clone(),
                self.url("/api/v1/services/melodia/reports"),
                body(i),
                spread_ip(first_client + i),
            );
            tasks.spawn(async move {
                let r = client
                    .post(url)
                    .header("x-forwarded-for", ip)
                    .json(&b)
                    .send()
                    .await
                    .expect("post");
                drop(permit);
                r.status().as_u16()
            });
        }
        while let Some(status) = tasks.join_next().await {
            assert_eq!(status.expect("task"), 202);
        }
    }

    /// Posts the report form as a browser would.
    pub async fn post_form(
        &self,
        service: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Response {
        let mut r = self
            .client
            .post(self.url(&format!("/s/{service}/report")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).expect("form"));
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().await.expect("post form")
    }

    /// Runs the crowd detector as of the clock's now, then refreshes the pages.
    pub async fn detect(&self) {
        downbeat_server::crowd::run_once(&self.app, self.clock.now())
            .await
            .expect("crowd detection");
        self.pages.refresh().await;
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server result");
        }
    }
}

/// A spread of reports like the DESIGN.md outage: mostly login, mobile-heavy, four countries.
pub fn outage(i: u32) -> Value {
    let problem = if i % 10 < 7 { "login" } else { "playback" };
    let platform = ["ios", "android", "desktop", "web"][(i % 4) as usize];
    let country = ["GB", "US", "DE", "JP"][(i % 4) as usize];
    json!({"problem": problem, "platform": platform, "country": country})
}

pub fn normal(i: u32) -> Value {
    let problems = ["playback", "login", "search", "other"];
    json!({"problem": problems[(i % 4) as usize], "platform": "web", "country": "US"})
}

/// This crate's npm folder, when node and its packages (and chromium, with `chromium`) are
/// here; see [`crate::browser_tools::tools`].
pub fn node_tools(what: &str, chromium: bool) -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    crate::browser_tools::tools(&dir, what, chromium)
}
