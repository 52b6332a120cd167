//! The canary gate (issue 18, item 3) on three replayed cases — a bad deploy, a good
//! deploy, a quiet service — with reports and probe results stored as the intake and the
//! prober store them, and the answer read through the HTTP API as a rollout reads it.

use crate::helpers::*;
use downbeat_api::auth::{self, Role};
use downbeat_domain::probe::Outcome;
use downbeat_domain::{CountryCode, ManualClock, Platform};
use downbeat_store::{NewProbeResult, NewReport, testing};
use jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::Arc;

const MINUTE: i64 = 60_000;
const WEEK: i64 = 7 * 86_400_000;

/// The change, at 08:00 on a Monday.
fn change_ms() -> i64 {
    "2026-12-07T08:00:00Z"
        .parse::<Timestamp>()
        .unwrap()
        .as_millisecond()
}

struct Case {
    app: TestApp,
    token: String,
    next: u32,
}

impl Case {
    async fn new(extra: &str) -> Case {
        let clock = Arc::new(ManualClock::new(
            Timestamp::from_millisecond(change_ms()).unwrap(),
        ));
        let app = spawn_raw(testing::sqlite(), &config_text(extra), clock).await;
        let token = auth::create_token(&*app.app.store, "ci", Role::Deployer, app.clock.now_ms())
            .await
            .unwrap();
        Case {
            app,
            token,
            next: 0,
        }
    }

    /// `n` counted reports of `problem` on `service` in the minute starting at `at_ms`,
    /// each from its own network.
    async fn reports(&mut self, service: &str, at_ms: i64, n: u32, problem: &str) {
        let batch = (0..n)
            .map(|_| {
                self.next += 1;
                let id = |tag: u8| {
                    let mut h = [tag; 16];
                    h[..4].copy_from_slice(&self.next.to_be_bytes());
                    h
                };
                NewReport {
                    service: service.into(),
                    received_at_ms: at_ms + 5_000,
                    problem: problem.into(),
                    platform: Some(Platform::Web),
                    country: Some(CountryCode::parse("GB").unwrap()),
                    city: None,
                    message: None,
                    client_hash: id(1),
                    network_hash: id(2),
                    counted: true,
                }
            })
            .collect();
        let (_, r) = self.app.app.store.insert_reports(batch).await;
        r.unwrap();
    }

    /// A usual morning: about 12 reports per 10 minutes on Melodia, the half hour before the
    /// change and the same hour a week and two weeks before.
    async fn usual(&mut self) {
        for base in [change_ms(), change_ms() - WEEK, change_ms() - 2 * WEEK] {
            for m in -30i64..30 {
                if base == change_ms() && m >= 0 {
                    continue;
                }
                let n = [1, 2, 1][(m.rem_euclid(3)) as usize];
                self.reports("melodia", base + m * MINUTE, n, "playback")
                    .await;
            }
        }
    }

    /// Probe results of `login-api` from eu-west, one a minute in `minutes`, answering in
    /// `ms` milliseconds (or failing).
    async fn probes(&self, minutes: std::ops::Range<i64>, ok: bool, ms: f64) {
        let batch = minutes
            .map(|m| NewProbeResult {
                monitor: "login-api".into(),
                region: "eu-west".into(),
                at_ms: change_ms() + m * MINUTE + 1_000,
                outcome: if ok { Outcome::Up } else { Outcome::Down },
                cause: None,
                total_ms: Some(ms + (m.rem_euclid(7)) as f64),
                reliable: true,
                result: "{}".into(),
            })
            .collect();
        self.app
            .app
            .store
            .insert_probe_results(batch)
            .await
            .unwrap();
    }

    /// The gate's answer `minutes` after the change.
    async fn gate(&self, service: &str, since: &str, minutes: i64) -> Value {
        self.app.clock.set_ms(change_ms() + minutes * MINUTE);
        let r = self
            .app
            .client
            .get(self.app.url(&format!(
                "/api/v1/services/{service}/gate?since={since}&window=10m"
            )))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    async fn record(&self, body: Value) -> i64 {
        let r = self
            .app
            .client
            .post(self.app.url("/api/v1/services/melodia/changes"))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }
}

const MONITOR: &str = "[[monitor]]\nid = \"login-api\"\nservice = \"melodia\"\ncomponent = \"login\"\n\
    kind = \"http\"\ntarget = \"http://127.0.0.1:9/health\"\ninterval = \"1h\"\n";

fn failing(answer: &Value) -> Vec<(String, String)> {
    answer["signals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["verdict"] == "fail")
        .map(|s| {
            (
                s["signal"].as_str().unwrap().into(),
                s["scope"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_bad_deploy_fails_the_gate_at_once_on_reports_probes_and_latency() {
    let mut c = Case::new(MONITOR).await;
    c.usual().await;
    c.probes(-30..0, true, 40.0).await;
    let id = c
        .record(
            json!({"kind": "deploy", "component": "login", "version": "2.3.0",
                       "at": "2026-12-07T08:00:00Z"}),
        )
        .await;
    // After the deploy: logins fail for many, the API fails one probe in two, answers slow.
    for m in 0..4 {
        c.reports("melodia", change_ms() + m * MINUTE, 20, "login")
            .await;
    }
    c.probes(0..4, false, 0.0).await;
    c.probes(4..10, true, 240.0).await;
    let a = c.gate("melodia", &id.to_string(), 4).await;
    assert_eq!(a["verdict"], "fail", "{a:#}");
    assert_eq!(a["complete"], false, "it fails before the window is over");
    let f = failing(&a);
    assert!(f.contains(&("reports".into(), "all".into())), "{f:?}");
    assert!(f.contains(&("reports".into(), "Login".into())), "{f:?}");
    assert!(
        f.contains(&("probe_failures".into(), "login-api eu-west".into())),
        "{f:?}"
    );
    let reasons = a["reasons"].to_string();
    assert!(reasons.contains("reports (all): 80 against"), "{reasons}");
    assert!(
        reasons
            .contains("probes of login-api eu-west failed 4 of 4 after the change, 0 of 30 before"),
        "{reasons}"
    );
    // Later, the latency too: slower answers than before.
    let a = c.gate("melodia", &id.to_string(), 10).await;
    assert!(
        failing(&a).contains(&("latency".into(), "login-api eu-west".into())),
        "{a:#}"
    );
}

#[tokio::test]
async fn a_good_deploy_waits_for_its_window_then_passes() {
    let mut c = Case::new(MONITOR).await;
    c.usual().await;
    c.probes(-30..0, true, 40.0).await;
    for m in 0..10 {
        let n = [1, 2, 1][(m % 3) as usize];
        c.reports("melodia", change_ms() + m * MINUTE, n, "playback")
            .await;
    }
    c.probes(0..10, true, 41.0).await;
    let a = c.gate("melodia", "2026-12-07T08:00:00Z", 4).await;
    assert_eq!(a["verdict"], "inconclusive", "{a:#}");
    assert!(
        a["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("the window is not over: 4 of 10 minutes")
    );
    let a = c.gate("melodia", "2026-12-07T08:00:00Z", 10).await;
    assert_eq!(a["verdict"], "pass", "{a:#}");
    assert_eq!(a["complete"], true);
    assert!(failing(&a).is_empty());

    // The shipped Argo Rollouts template asks the same question the same way: its URL
    // (args filled in, on this server) and its JSON path give "pass".
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../contrib/argo/downbeat-gate.yaml"),
    )
    .unwrap();
    let field = |key: &str| {
        template
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .unwrap()
            .trim()
            .trim_matches('"')
            .to_owned()
    };
    let url = field("url:")
        .replace("https://downbeat.example", &c.app.url(""))
        .replace("{{args.service}}", "melodia")
        .replace("{{args.since}}", "2026-12-07T08:00:00Z")
        .replace("{{args.window}}", "10m");
    assert_eq!(field("jsonPath:"), "{$.verdict}");
    assert!(template.contains("successCondition: result == \"pass\""));
    assert!(template.contains("failureCondition: result == \"fail\""));
    let r = c
        .app
        .client
        .get(url)
        .bearer_auth(&c.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["verdict"], "pass");
}

#[tokio::test]
async fn a_quiet_service_is_inconclusive_rather_than_guessed() {
    let mut c = Case::new("").await;
    c.reports("quiet", change_ms() - 20 * MINUTE, 1, "login")
        .await;
    c.reports("quiet", change_ms() + 3 * MINUTE, 2, "login")
        .await;
    let a = c.gate("quiet", "2026-12-07T08:00:00Z", 10).await;
    assert_eq!(a["verdict"], "inconclusive", "{a:#}");
    assert!(
        a["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("too little traffic"),
        "{a:#}"
    );
}

#[tokio::test]
async fn bad_questions_are_refused_naming_the_parameter() {
    let c = Case::new("").await;
    for (query, status, says) in [
        ("", 422, "since"),
        ("since=yesterday", 422, "since"),
        ("since=2026-12-07T09:00:00Z", 422, "future"),
        ("since=999", 404, "no change 999"),
        ("since=2026-12-07T07:00:00Z&window=7h", 422, "window"),
        (
            "since=2026-12-07T07:00:00Z&components=billing",
            422,
            "components",
        ),
        ("since=2026-12-07T07:00:00Z&colour=red", 400, "colour"),
    ] {
        let r = c
            .app
            .client
            .get(c.app.url(&format!("/api/v1/services/melodia/gate?{query}")))
            .bearer_auth(&c.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{query}");
        let body = r.text().await.unwrap();
        assert!(body.contains(says), "{query}: {body}");
    }
    // Only operators and pipelines ask.
    let r = c
        .app
        .client
        .get(
            c.app
                .url("/api/v1/services/melodia/gate?since=2026-12-07T07:00:00Z"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// Three cases replayed through the HTTP intake, minute by minute on the server's clock —
/// a bad deploy (the crowd turns on logins a minute after it), a good deploy, a quiet
/// service — and the gate asked every minute of the window after the change. Prints each
/// case's answers and how long each took (figures, not assertions: the machine is shared).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replayed_cases_minute_by_minute() {
    let scenario = |service: &str, per_minute: f64, outage: &str| {
        format!(
            "seed = 7\nstart = \"2026-12-07T07:30:00Z\"\nduration = \"42m\"\nservice = \"{service}\"\n\
             [baseline]\nper_minute = {per_minute}\n\
             [mix]\nproblem = {{ playback = 3, login = 1 }}\nplatform = {{ web = 1 }}\ncountry = {{ GB = 1 }}\n\
             [[change]]\nat = \"30m\"\nkind = \"deploy\"\ncomponent = \"login\"\nversion = \"2.3.0\"\n{outage}"
        )
    };
    let bad_outage = "[[outage]]\nonset = \"31m\"\nramp = \"2m\"\npeak_per_minute = 12\nplateau = \"20m\"\nrecovery = \"5m\"\n\
                      [outage.mix]\nproblem = { login = 1 }\n";
    let cases = [
        ("bad deploy", scenario("melodia", 1.2, bad_outage)),
        ("good deploy", scenario("melodia", 1.2, "")),
        ("quiet service", scenario("melodia", 0.05, "")),
    ];
    let mut table = Vec::new();
    for (name, text) in cases {
        let c = Case::new("").await;
        let s = downbeat_replay::Scenario::parse(&text, name).unwrap();
        let start = "2026-12-07T07:30:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .as_millisecond();
        let mut answers = Vec::new();
        let mut change_id = None;
        for m in 0..42u32 {
            // Each scenario minute is sent while the server's clock stands in it.
            c.app.clock.set_ms(start + i64::from(m) * MINUTE + 30_000);
            let mut o = downbeat_replay::send::SendOptions::new(
                c.app.url(""),
                "melodia",
                s.window(
                    Some(downbeat_replay::Position::Offset(m)),
                    Some(downbeat_replay::Position::Offset(m + 1)),
                )
                .unwrap(),
            );
            o.speed = downbeat_replay::Speed::Max;
            o.changes = Some(downbeat_replay::send::SignalSending {
                token: c.token.clone(),
                clock: c.app.clock.clone(),
            });
            downbeat_replay::send::send(&s, &o, |_| {}, std::future::pending())
                .await
                .unwrap();
            if m == 30 {
                let list = c
                    .app
                    .client
                    .get(c.app.url("/api/v1/services/melodia/changes?since=1h"))
                    .bearer_auth(&c.token)
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap();
                change_id = list["changes"][0]["id"].as_i64();
            }
            if m > 30 {
                // Asked at the end of each minute after the change.
                c.app.clock.set_ms(start + i64::from(m + 1) * MINUTE);
                let asked = std::time::Instant::now();
                let r = c
                    .app
                    .client
                    .get(c.app.url(&format!(
                        "/api/v1/services/melodia/gate?since={}&window=10m",
                        change_id.expect("the change was recorded")
                    )))
                    .bearer_auth(&c.token)
                    .send()
                    .await
                    .unwrap();
                let took = asked.elapsed();
                let a: Value = r.json().await.unwrap();
                // Minutes since the change (recorded half a minute into minute 30).
                let since = f64::from(m) + 1.0 - 30.5;
                answers.push((since, a["verdict"].as_str().unwrap().to_owned(), took));
            }
        }
        let verdicts: Vec<&str> = answers.iter().map(|a| a.1.as_str()).collect();
        match name {
            "bad deploy" => {
                let first = verdicts
                    .iter()
                    .position(|v| *v == "fail")
                    .expect("the bad deploy fails");
                assert!(first <= 4, "{name}: {verdicts:?}");
                assert!(
                    verdicts[first..].iter().all(|v| *v == "fail"),
                    "{verdicts:?}"
                );
            }
            "good deploy" => {
                assert!(
                    verdicts[..9].iter().all(|v| *v == "inconclusive"),
                    "{verdicts:?}"
                );
                assert_eq!(verdicts[9], "pass", "{verdicts:?}");
            }
            _ => assert!(
                verdicts.iter().all(|v| *v == "inconclusive"),
                "{verdicts:?}"
            ),
        }
        table.push((name, answers));
    }
    for (name, answers) in table {
        let row: Vec<String> = answers
            .iter()
            .map(|(m, v, took)| format!("{m:.1} min {v} ({:.1} ms)", took.as_secs_f64() * 1000.0))
            .collect();
        eprintln!("gate, {name}: {}", row.join(", "));
    }
}
