//! `spawn_app()`: the whole product on one listener (the shared harness), with this suite's
//! config; its `pages` handle lets tests refresh the pages instead of waiting for the
//! refresher.

use downbeat_domain::ManualClock;
use downbeat_server::testing::{self as harness};
use downbeat_store::testing::{self, TestStore};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::ops::Deref;
use std::sync::Arc;

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

/// The shared harness (`downbeat_server::testing`) with this suite's shortcuts.
pub struct TestApp(harness::TestApp);

impl Deref for TestApp {
    type Target = harness::TestApp;
    fn deref(&self) -> &harness::TestApp {
        &self.0
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(&config_text(""), testing::sqlite(), jiff::Timestamp::now()).await
}

pub async fn spawn_with(config: &str, store: TestStore, now: jiff::Timestamp) -> TestApp {
    let clock = Arc::new(ManualClock::new(now));
    TestApp(harness::spawn(config, store, clock).await)
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

    /// The report form's token on `service`'s page, read as a browser would (None when
    /// there is no such page).
    pub async fn form_token(&self, service: &str) -> Option<String> {
        let r = self.get(&format!("/s/{service}")).await;
        if r.status() != StatusCode::OK {
            return None;
        }
        let html = r.text().await.expect("body");
        let rest = html.split("name=\"form_token\" value=\"").nth(1)?;
        Some(rest.split('"').next()?.to_owned())
    }

    /// Posts the report form as a browser would: with the token from the page.
    pub async fn post_form(
        &self,
        service: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Response {
        let token = self.form_token(service).await;
        let mut fields = form.to_vec();
        if let Some(t) = &token {
            fields.push(("form_token", t));
        }
        self.post_form_raw(service, &fields, headers).await
    }

    /// Posts exactly these form fields (no token unless given) to the report form's route.
    pub async fn post_form_raw(
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

    pub async fn stop(self) {
        self.0.stop().await;
    }
}

/// A spread of reports like the DESIGN.md outage: mostly login, mobile-heavy, four countries.
pub fn outage(i: u32) -> Value {
    let problem = if i % 10 < 7 { "login" } else { "playback" };
    let platform = ["ios", "android", "desktop", "web"][(i % 4) as usize];
    let country = ["GB", "US", "DE", "JP"][(i % 4) as usize];
    // Half of them say what their screen shows, so the pages' checks (html-validate,
    // axe-core) see the messages too.
    match i % 4 {
        0 => json!({"problem": problem, "platform": platform, "country": country,
            "message": "Something went wrong"}),
        1 => json!({"problem": problem, "platform": platform, "country": country,
            "message": "Can't log in <again>"}),
        _ => json!({"problem": problem, "platform": platform, "country": country}),
    }
}

pub fn normal(i: u32) -> Value {
    let problems = ["playback", "login", "search", "other"];
    json!({"problem": problems[(i % 4) as usize], "platform": "web", "country": "US"})
}

/// This crate's npm folder, when node and its packages (and chromium, with `chromium`) are
/// here; see `downbeat_server::testing::browser_tools::tools`.
pub fn node_tools(what: &str, chromium: bool) -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    downbeat_server::testing::browser_tools::tools(&dir, what, chromium)
}
