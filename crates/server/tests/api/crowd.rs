//! Live crowd verdicts: outage scenarios replayed through the HTTP API on a manual clock,
//! with the detector stepped minute by minute.

use crate::helpers::*;
use downbeat_domain::Clock;
use serde_json::{Value, json};
use std::sync::Arc;

pub const MINUTE: i64 = 60_000;

/// A client address on its own /24 for every `n` (only ever sent as X-Forwarded-For).
fn spread_ip(n: u32) -> String {
    format!(
        "{}.{}.{}.9",
        1 + n % 220,
        (n / 220) % 256,
        (n / 56_320) % 256
    )
}

/// Posts `count` reports concurrently; `body(i)` and `ip(i)` choose each one.
pub async fn post_many(
    app: &TestApp,
    count: u32,
    body: impl Fn(u32) -> Value,
    ip: impl Fn(u32) -> String,
) {
    let sem = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let (client, url, b, addr) = (
            app.client.clone(),
            app.url("/api/v1/services/melodia/reports"),
            body(i),
            ip(i),
        );
        tasks.spawn(async move {
            let r = client
                .post(url)
                .header("x-forwarded-for", addr)
                .json(&b)
                .send()
                .await
                .unwrap();
            drop(permit);
            r.status().as_u16()
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 202);
    }
}

/// Drives minutes `[from, to)` after `t0`: `per_minute(m)` reports in each, then steps the
/// detector. Returns the verdict seen after each minute.
pub struct Driver<'a> {
    pub app: &'a TestApp,
    pub t0: i64,
    pub next_client: u32,
}

impl Driver<'_> {
    pub async fn minute(
        &mut self,
        m: i64,
        count: u32,
        body: impl Fn(u32) -> Value,
        ip: Option<&dyn Fn(u32) -> String>,
    ) -> String {
        self.app.clock.set_ms(self.t0 + m * MINUTE + 10_000);
        let base = self.next_client;
        self.next_client += count;
        match ip {
            Some(f) => post_many(self.app, count, body, move |i| f(base + i)).await,
            None => post_many(self.app, count, body, move |i| spread_ip(base + i)).await,
        }
        self.app.detect().await;
        self.app.verdict().await.0
    }
}

pub fn normal(i: u32) -> Value {
    let problems = ["playback", "login", "search", "other"];
    let platform = ["ios", "web", "desktop"][(i % 3) as usize];
    json!({"problem": problems[(i % 4) as usize], "platform": platform, "country": "US"})
}

/// The DESIGN.md pattern: mostly login, 65% mobile, several countries.
pub fn outage(i: u32) -> Value {
    let problem = if i % 10 < 7 { "login" } else { "playback" };
    let platform = match i % 20 {
        0..=12 => {
            if i.is_multiple_of(2) {
                "ios"
            } else {
                "android"
            }
        }
        13..=17 => "desktop",
        _ => "web",
    };
    let country = ["GB", "US", "DE", "JP"][(i % 4) as usize];
    json!({"problem": problem, "platform": platform, "country": country})
}

pub fn start_of_minute(app: &TestApp) -> i64 {
    (app.clock.now_ms() / MINUTE) * MINUTE
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_detected_explained_recorded_and_recovers() {
    let app = spawn_app().await;
    let t0 = start_of_minute(&app) - 200 * MINUTE;
    let mut d = Driver {
        app: &app,
        t0,
        next_client: 0,
    };
    for m in 0..120 {
        let v = d.minute(m, 6 + (m % 3) as u32, normal, None).await;
        assert_eq!(v, "no_problems", "false alarm at baseline minute {m}");
    }
    let (mut possible_at, mut problems_at) = (None, None);
    for k in 0..8 {
        let v = d.minute(120 + k, 150, outage, None).await;
        if v != "no_problems" && possible_at.is_none() {
            possible_at = Some(k);
        }
        if v == "problems" && problems_at.is_none() {
            problems_at = Some(k);
        }
    }
    // The verdict lags the minute by one (a minute is judged once it has ended).
    let possible_at = possible_at.expect("never reached possible problems");
    let problems_at = problems_at.expect("never reached problems");
    assert!(
        possible_at <= 3,
        "possible problems only {possible_at} minutes after onset"
    );
    assert!(
        problems_at <= 6,
        "problems only {problems_at} minutes after onset"
    );
    let (_, status) = app.verdict().await;
    let why = status["explanation"].as_str().unwrap();
    assert!(
        why.contains("login") && why.contains("mobile app") && why.contains('×'),
        "{why}"
    );
    assert!(
        status["observed"].as_f64().unwrap() > 5.0 * status["expected"].as_f64().unwrap(),
        "{status}"
    );
    assert_eq!(status["breakdown"]["problems"][0]["id"], json!("login"));
    // calm again: recovery needs sustained normal volume
    let mut last = String::new();
    for m in 128..150 {
        last = d.minute(m, 6 + (m % 3) as u32, normal, None).await;
    }
    assert_eq!(last, "no_problems", "no recovery after 22 calm minutes");
    let (s, events) = app
        .get_json("/api/v1/services/melodia/events?since=1d")
        .await;
    assert_eq!(s.as_u16(), 200);
    let overall: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["series"] == "all")
        .map(|e| e["verdict"].as_str().unwrap())
        .rev()
        .collect();
    assert_eq!(overall.first(), Some(&"possible_problems"), "{overall:?}");
    assert!(overall.contains(&"problems"), "{overall:?}");
    assert_eq!(overall.last(), Some(&"no_problems"), "{overall:?}");
    assert!(
        overall.len() <= 5,
        "one alarm per event, not one per minute: {overall:?}"
    );
    let first = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["series"] == "all")
        .unwrap();
    assert!(
        first["evidence"]["breakdown"]["platforms"].is_array(),
        "{first}"
    );
    assert!(
        first["evidence"]["networks"].as_u64().unwrap() > 50,
        "{first}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_a_few_networks_does_not_make_an_outage() {
    let app = spawn_app().await;
    let t0 = start_of_minute(&app) - 200 * MINUTE;
    let mut d = Driver {
        app: &app,
        t0,
        next_client: 0,
    };
    for m in 0..90 {
        d.minute(m, 6 + (m % 3) as u32, normal, None).await;
    }
    // Two /24 networks, every address in them, 150 reports a minute for ten minutes.
    let flood_ip = |i: u32| format!("203.0.{}.{}", 113 + (i % 2), 1 + (i / 2) % 254);
    for m in 90..100 {
        let v = d.minute(m, 150, outage, Some(&flood_ip)).await;
        assert_eq!(
            v, "no_problems",
            "a flood from two networks raised {v} at minute {m}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_baseline_survives_a_restart() {
    let app = spawn_app().await;
    let t0 = start_of_minute(&app) - 200 * MINUTE;
    let mut d = Driver {
        app: &app,
        t0,
        next_client: 0,
    };
    for m in 0..60 {
        d.minute(m, 6 + (m % 3) as u32, normal, None).await;
    }
    let next = d.next_client;
    let (store, clock) = app.stop().await;
    let app = spawn_on(store, "", clock).await;
    let mut d = Driver {
        app: &app,
        t0,
        next_client: next,
    };
    // A detector that forgot everything would still be warming up (it judges nothing in its
    // first 30 minutes); a restored one catches the outage at once.
    let mut seen = None;
    for k in 0..6 {
        if d.minute(60 + k, 150, outage, None).await != "no_problems" {
            seen = Some(k);
            break;
        }
    }
    assert!(
        seen.is_some_and(|k| k <= 3),
        "outage after restart seen at {seen:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn status_before_any_report_is_calm_and_events_validate_parameters() {
    let app = spawn_app().await;
    app.detect().await;
    let (v, status) = app.verdict().await;
    assert_eq!(v, "no_problems", "{status}");
    for (path, want) in [
        ("/api/v1/services/melodia/events?limit=0", 422),
        ("/api/v1/services/melodia/events?since=soon", 422),
        ("/api/v1/services/nobody/status", 404),
        ("/api/v1/services/melodia/events", 200),
    ] {
        let (s, body) = app.get_json(path).await;
        assert_eq!(s.as_u16(), want, "{path}: {body}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_baseline_judges_from_the_first_minute() {
    let store = downbeat_store::testing::sqlite();
    let now = jiff::Timestamp::now();
    // two weeks of hourly counts: about 8 reports a minute
    let mut csv = String::from("timestamp,count\n");
    let start = now.as_second() / 3600 * 3600 - 14 * 86_400;
    for h in 0..14 * 24 {
        csv.push_str(&format!("{},{}\n", start + h * 3600, 480 + (h % 7) * 3));
    }
    let db = downbeat_store::open(&store.target).await.unwrap();
    let s = downbeat_crowd::seed_from_csv(&*db, "melodia", csv.as_bytes(), now)
        .await
        .unwrap();
    assert_eq!((s.rows, s.bucket_s), (14 * 24, 3600));
    drop(db);
    let app = spawn_on(store, "", Arc::new(downbeat_domain::ManualClock::new(now))).await;
    let t0 = start_of_minute(&app);
    let mut d = Driver {
        app: &app,
        t0,
        next_client: 0,
    };
    // at the usual level: calm; then an outage, caught at once (no 30-minute warm-up)
    for m in 0..3 {
        assert_eq!(d.minute(m, 8, normal, None).await, "no_problems");
    }
    let mut seen = None;
    for k in 0..6 {
        if d.minute(3 + k, 150, outage, None).await != "no_problems" {
            seen = Some(k);
            break;
        }
    }
    assert!(
        seen.is_some_and(|k| k <= 3),
        "seeded outage seen at {seen:?}"
    );
    app.stop().await;

    let store = downbeat_store::testing::sqlite();
    let db = downbeat_store::open(&store.target).await.unwrap();
    let err = downbeat_crowd::seed_from_csv(
        &*db,
        "melodia",
        "t,v\n2026-01-01T00:00:00Z,x\n".as_bytes(),
        now,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("line 2"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_agree_and_record_each_change_once() {
    for store in downbeat_store::testing::all().await {
        let name = store.name;
        let a = spawn_with(store, "").await;
        // a second node on the same database, sharing the clock
        let config = Arc::new(downbeat_config::parse_str(&config_text(""), "t").unwrap());
        let db_b = downbeat_store::open(&a.store.target).await.unwrap();
        let clock: Arc<dyn downbeat_domain::Clock> = a.clock.clone();
        let (b, running_b) = downbeat_server::start(config, db_b, clock).await.unwrap();
        let t0 = start_of_minute(&a) - 200 * MINUTE;
        let mut d = Driver {
            app: &a,
            t0,
            next_client: 0,
        };
        for m in 0..60 {
            d.minute(m, 6 + (m % 3) as u32, normal, None).await;
            downbeat_crowd::run_once(&b.crowd, a.clock.now())
                .await
                .unwrap();
        }
        for k in 0..6 {
            d.minute(60 + k, 150, outage, None).await;
            downbeat_crowd::run_once(&b.crowd, a.clock.now())
                .await
                .unwrap();
        }
        let sb = b.crowd.status(&b.config.load().services[0]);
        let (va, _) = a.verdict().await;
        assert_eq!(va, sb.verdict.as_str(), "{name}: nodes disagree");
        assert_ne!(va, "no_problems", "{name}");
        let (_, events) = a.get_json("/api/v1/services/melodia/events?since=1d").await;
        let overall: Vec<&str> = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["series"] == "all")
            .map(|e| e["verdict"].as_str().unwrap())
            .collect();
        let mut dedup = overall.clone();
        dedup.dedup();
        assert_eq!(
            overall, dedup,
            "{name}: a change was recorded twice: {overall:?}"
        );
        assert!(!overall.is_empty(), "{name}");
        running_b.stop(&b).await;
        a.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regional_outage_is_detected_in_its_country() {
    let app = spawn_app().await;
    let t0 = start_of_minute(&app) - 200 * MINUTE;
    let mut d = Driver {
        app: &app,
        t0,
        next_client: 0,
    };
    let countries = ["US", "DE", "FR", "JP", "GB"];
    let spread = |i: u32| json!({"problem": "playback", "platform": "web", "country": countries[(i % 5) as usize]});
    for m in 0..75 {
        d.minute(m, 20, spread, None).await;
    }
    // The United Kingdom only: its usual 4 a minute become 40.
    let mut seen = None;
    for k in 0..8 {
        d.minute(75 + k, 16, spread, None).await;
        let base = d.next_client;
        d.next_client += 36;
        post_many(
            &app,
            36,
            |_| json!({"problem": "playback", "platform": "ios", "country": "GB"}),
            move |i| spread_ip(base + i),
        )
        .await;
        app.detect().await;
        let (_, status) = app.verdict().await;
        let hot: Vec<String> = status["hot_series"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["series"].as_str().unwrap().starts_with("country:"))
            .map(|s| s["series"].as_str().unwrap().to_owned())
            .collect();
        if !hot.is_empty() {
            assert_eq!(hot, ["country:GB"], "only the United Kingdom: {status}");
            seen = Some(k);
            break;
        }
    }
    assert!(
        seen.is_some_and(|k| k <= 4),
        "regional outage seen at {seen:?}"
    );
    app.stop().await;
}
