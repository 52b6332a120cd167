//! `spawn_app()`: the whole product on one listener at 127.0.0.1:0 (the shared harness), a
//! fresh SQLite store and a manual clock; and [`Browser`], a client that
//! keeps cookies like a browser and can pose as a client behind the (trusted) loopback proxy.

use downbeat_api::auth::{Role, hash_password};
use downbeat_domain::ManualClock;
use downbeat_domain::incident::{Impact, Kind, Source, Status};
use downbeat_incidents::model::{Components, new_row};
use downbeat_server::testing::{self as harness};
use downbeat_store::testing;
use downbeat_store::{IncidentUpdateRow, LoginFailureRow, UserRow};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

pub const PASSWORD: &str = "correct horse battery staple";

/// Melodia with two components; loopback is a trusted proxy, so tests can pose as remote
/// clients (X-Forwarded-For) behind HTTPS (X-Forwarded-Proto). `extra` is appended.
pub fn config_text(extra: &str) -> String {
    format!(
        r#"
[server]
trusted_proxies = ["127.0.0.0/8", "::1"]

[[service]]
id = "melodia"
name = "Melodia"

[[service.component]]
id = "login"
name = "Login and accounts"

[[service.component]]
id = "playback"
name = "Playback"

{extra}
"#
    )
}

/// The shared harness (`downbeat_server::testing`) with this suite's shortcuts.
pub struct TestApp(harness::TestApp);

impl Deref for TestApp {
    type Target = harness::TestApp;
    fn deref(&self) -> &harness::TestApp {
        &self.0
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(&config_text("")).await
}

/// A server with `config` as its config file; the listener is bound before this returns,
/// so requests queue until the app is ready.
pub async fn spawn_with(config: &str) -> TestApp {
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    TestApp(harness::spawn(config, testing::sqlite(), clock).await)
}

/// A server reading its config from the file at `path` (so the reload button reads it
/// again).
pub async fn spawn_file(path: &std::path::Path) -> TestApp {
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    TestApp(harness::spawn_file(path, testing::sqlite(), clock).await)
}

impl TestApp {
    /// A browser on this machine (plain HTTP over loopback).
    pub fn browser(&self) -> Browser {
        Browser::new(self.url(""), None)
    }

    /// A browser at `ip`, reaching us through the trusted proxy over HTTPS.
    pub fn remote_browser(&self, ip: &str) -> Browser {
        Browser::new(self.url(""), Some((ip.to_owned(), true)))
    }

    pub async fn add_user(&self, name: &str, role: Role) {
        self.app
            .store
            .save_user(UserRow {
                name: name.to_owned(),
                role,
                password_hash: hash_password(PASSWORD).unwrap(),
                created_ms: self.clock.now_ms(),
                from_config: false,
            })
            .await
            .unwrap();
    }

    pub async fn user(&self, name: &str) -> UserRow {
        self.app.store.user(name).await.unwrap().expect("user")
    }

    /// The failed sign-ins of `name` from `client` (an address, or an IPv6 /64).
    pub async fn failures(&self, name: &str, client: &str) -> Option<LoginFailureRow> {
        self.app.store.login_failure(name, client).await.unwrap()
    }

    /// A draft like the ones Downbeat writes from its signals, with evidence; `recovered`
    /// marks it ready to resolve.
    pub async fn draft(&self, title: &str, explanation: &str, recovered: bool) -> i64 {
        let now = self.clock.now_ms();
        let mut row = new_row(
            "melodia",
            Kind::Incident,
            title.to_owned(),
            Status::Investigating,
            now,
        );
        let mut components = Components::new();
        components.insert("login".into(), downbeat_domain::ComponentState::MajorOutage);
        row.components = components.clone();
        row.impact = Impact::Major;
        row.draft = true;
        row.source = Source::Crowd;
        row.onset_ms = Some(now - 10 * 60_000);
        row.detected_ms = Some(now - 6 * 60_000);
        row.recovered_ms = recovered.then_some(now);
        row.evidence = Some(evidence(explanation));
        let id = self
            .app
            .store
            .insert_incident(
                row,
                vec![IncidentUpdateRow {
                    id: 0,
                    incident: 0,
                    at_ms: now,
                    status: Status::Investigating,
                    message: format!(
                        "Downbeat drafted this incident from its signals: {explanation}."
                    ),
                    components,
                    author: "downbeat".into(),
                }],
                None,
            )
            .await
            .unwrap();
        downbeat_incidents::refresh(&self.app.incidents, "melodia")
            .await
            .unwrap();
        id
    }

    /// An incident as the JSON API shows it to the public (None when it is not public).
    pub async fn public_incident(&self, id: i64) -> Option<Value> {
        let r = reqwest::get(self.url(&format!("/api/v1/incidents/{id}")))
            .await
            .unwrap();
        (r.status() == StatusCode::OK).then_some(r.json().await.unwrap())
    }

    pub async fn incident(&self, id: i64) -> downbeat_store::IncidentRow {
        self.app
            .store
            .incident(id)
            .await
            .unwrap()
            .expect("incident")
            .incident
    }

    pub async fn stop(self) {
        self.0.stop().await;
    }

    /// Stops, then starts again on the same store and clock with `config` as the file (a
    /// restart after the operator edited it).
    pub async fn restart_with(self, config: &str) -> TestApp {
        let (store, clock) = self.0.stop().await;
        TestApp(harness::spawn(config, store, clock).await)
    }
}

/// Evidence shaped like `incidents::signals::evidence`.
pub fn evidence(explanation: &str) -> Value {
    json!({
        "at": "2026-11-22T08:20:00Z",
        "crowd": {
            "service": "melodia", "name": "Melodia", "verdict": "problems",
            "since": "2026-11-22T08:12:00Z", "as_of": "2026-11-22T08:19:00Z",
            "observed": 1480.0, "expected": 104.2, "lower": 79.0, "upper": 133.0, "score": 1.0,
            "explanation": explanation,
            "breakdown": {
                "problems": [{"id": "login", "label": "Login", "share": 0.71}],
                "platforms": [{"id": "ios", "label": "iPhone app", "share": 0.4}],
                "countries": [{"id": "GB", "label": "United Kingdom", "share": 0.31}]
            },
            "networks": 512,
            "hot_series": [{"series": "country:GB", "label": "United Kingdom", "verdict": "problems",
                            "since": "2026-11-22T08:13:00Z", "observed": 400.0, "expected": 20.0, "score": 1.0}]
        },
        "monitors": [{
            "monitor": "login-api", "component": "login", "state": "down",
            "since": "2026-11-22T08:14:00Z", "probable_cause": "tls_certificate",
            "regions": {
                "eu-west": {"at": "2026-11-22T08:19:30Z", "outcome": "down", "cause": "tls_certificate",
                            "reliable": true, "explanation": "certificate expired 2 hours ago"},
                "us-east": {"at": "2026-11-22T08:19:31Z", "outcome": "down", "cause": "tls_certificate",
                            "reliable": true, "explanation": "certificate expired 2 hours ago"}
            }
        }],
        "diagnosis": "TLS certificate expired, seen from 2 of 2 regions."
    })
}

/// What came back.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The `Set-Cookie` header setting `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The first form's CSRF token on the page.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .unwrap_or_else(|| panic!("no CSRF field on the page:\n{}", self.body));
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    #[track_caller]
    pub fn assert(&self, status: StatusCode, contains: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(
            self.body.contains(contains),
            "expected {contains:?} in:\n{}",
            self.body
        );
    }
}

/// A cookie-keeping client that does not follow redirects (tests look at them).
pub struct Browser {
    base: String,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    /// Posing as this address, over HTTPS or not, behind the loopback proxy.
    via: Option<(String, bool)>,
    /// Sent as `Origin` on POSTs when set.
    pub origin: Option<String>,
}

impl Browser {
    fn new(base: String, via: Option<(String, bool)>) -> Browser {
        Browser {
            base,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            via,
            origin: None,
        }
    }

    fn prepare(&self, mut req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header("cookie", c.join("; "));
        }
        if let Some((ip, https)) = &self.via {
            req = req.header("x-forwarded-for", ip.as_str());
            if *https {
                req = req.header("x-forwarded-proto", "https");
            }
        }
        req
    }

    async fn finish(&mut self, resp: reqwest::Response) -> Page {
        let status = resp.status();
        let headers = resp.headers().clone();
        for v in headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (kv, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            if val.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), val.to_owned());
            }
        }
        Page {
            status,
            headers,
            body: resp.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.prepare(self.client.get(format!("{}{path}", self.base)));
        let resp = req.send().await.expect("request");
        self.finish(resp).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut req = self.prepare(self.client.post(format!("{}{path}", self.base)));
        if let Some(o) = &self.origin {
            req = req.header("origin", o.as_str());
        }
        let body = serde_urlencoded::to_string(fields).unwrap();
        let resp = req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("request");
        self.finish(resp).await
    }

    /// The same browser (cookies and all) pointed at `app`: a server started again.
    pub fn at(mut self, app: &TestApp) -> Browser {
        self.base = app.url("");
        self
    }

    /// Opens the sign-in page and sends it.
    pub async fn login(&mut self, user: &str, password: &str) -> Page {
        let form = self.get("/admin/login").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.csrf();
        self.post(
            "/admin/login",
            &[("csrf", &csrf), ("user", user), ("password", password)],
        )
        .await
    }

    /// Signs in and checks it worked.
    pub async fn sign_in(&mut self, user: &str) {
        let r = self.login(user, PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }

    /// The session's CSRF token, from the dashboard's sign-out form.
    pub async fn csrf(&mut self) -> String {
        self.get("/admin").await.csrf()
    }
}
