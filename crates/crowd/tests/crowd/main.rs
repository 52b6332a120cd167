//! The crowd stage on a real store: reports written as the intake writes them, the detector
//! stepped minute by minute on a manual clock. (The outage scenarios through the HTTP API are
//! in the server's suite.) One test binary.

use downbeat_crowd::{Crowd, CrowdStatus, MAX_SERIES_PER_DIMENSION};
use downbeat_domain::{Clock, CountryCode, ManualClock, Platform, Verdict};
use downbeat_notify::Notifier;
use downbeat_store::testing::{self, TestStore};
use downbeat_store::{NewReport, Store};
use std::sync::Arc;

const MINUTE: i64 = 60_000;

const CONFIG: &str = r#"
[[service]]
id = "melodia"
name = "Melodia"

[[notify.webhook]]
id = "ops"
url = "http://127.0.0.1:9/hook"
secret = "a-webhook-secret-0123"
events = ["crowd"]
"#;

/// One node's crowd stage on a store, its clock at the start of minute 0 plus `t0`.
struct Rig {
    store: Arc<dyn Store>,
    crowd: Crowd,
    clock: Arc<ManualClock>,
    t0: i64,
    /// The next client (each on its own network).
    next: u32,
    /// What the reports' listeners say their screen shows, from now on.
    said: Option<&'static str>,
}

impl Rig {
    async fn new(target: &TestStore, t0: i64) -> Rig {
        let store = downbeat_store::open(&target.target)
            .await
            .unwrap_or_else(|e| panic!("{}: open: {e}", target.name));
        let clock = Arc::new(ManualClock::new(
            jiff::Timestamp::from_millisecond(t0).unwrap(),
        ));
        Rig::on(store, clock, t0)
    }

    /// A fresh stage (a restart) on the same store and clock.
    fn on(store: Arc<dyn Store>, clock: Arc<ManualClock>, t0: i64) -> Rig {
        Rig::on_config(store, clock, t0, CONFIG)
    }

    /// [`Rig::new`] with the config `text`.
    async fn with_config(target: &TestStore, t0: i64, text: &str) -> Rig {
        let rig = Rig::new(target, t0).await;
        Rig::on_config(rig.store, rig.clock, t0, text)
    }

    fn on_config(store: Arc<dyn Store>, clock: Arc<ManualClock>, t0: i64, text: &str) -> Rig {
        let config = downbeat_config::Live::new(downbeat_config::parse_str(text, "test").unwrap());
        let c: Arc<dyn Clock> = clock.clone();
        let node: Arc<str> = "node-a".into();
        let notifier = Notifier::new(
            config.clone(),
            store.clone(),
            c.clone(),
            node.clone(),
            &mut prometheus_client::registry::Registry::default(),
        );
        let crowd = Crowd::new(
            config,
            store.clone(),
            store.clone(),
            store.clone(),
            c,
            node,
            notifier,
        );
        Rig {
            store,
            crowd,
            clock,
            t0,
            next: 0,
            said: None,
        }
    }

    /// Commits `count` reports from `country`, each from its own network, received 10 s
    /// into minute `m`.
    async fn reports(&mut self, m: i64, count: u32, country: &str) {
        self.reports_from(m, &[(country, count)]).await;
    }

    /// [`Rig::reports`] from several countries, in one batch.
    async fn reports_from(&mut self, m: i64, counts: &[(&str, u32)]) {
        let at = self.t0 + m * MINUTE + 10_000;
        let batch = counts
            .iter()
            .flat_map(|&(country, count)| std::iter::repeat_n(country, count as usize))
            .map(|country| {
                self.next += 1;
                let n = self.next.to_be_bytes();
                let id = |tag: u8| {
                    let mut h = [tag; 16];
                    h[..4].copy_from_slice(&n);
                    h
                };
                NewReport {
                    service: "melodia".into(),
                    received_at_ms: at,
                    problem: "playback".into(),
                    platform: Some(Platform::Web),
                    country: Some(CountryCode::parse(country).unwrap()),
                    city: None,
                    message: self.said.map(str::to_owned),
                    client_hash: id(1),
                    network_hash: id(2),
                    counted: true,
                }
            })
            .collect();
        let (_, r) = self.store.insert_reports(batch).await;
        r.unwrap();
    }

    /// Runs the crowd tick as the job does once minute `m` is complete (5 s grace), and
    /// returns the status then.
    async fn judge(&self, m: i64) -> Arc<CrowdStatus> {
        self.clock.set_ms(self.t0 + (m + 1) * MINUTE + 6_000);
        downbeat_crowd::run_once(&self.crowd, self.clock.now())
            .await
            .unwrap();
        self.crowd.status(&self.crowd.config.load().services[0])
    }

    /// Minutes `[from, to)` of `per_minute` reports from the United States, judged.
    async fn calm(&mut self, from: i64, to: i64, per_minute: u32) {
        for m in from..to {
            self.reports(m, per_minute + (m % 3) as u32, "US").await;
            let s = self.judge(m).await;
            assert_eq!(s.verdict, Verdict::NoProblems, "false alarm at minute {m}");
        }
    }
}

/// The start of a minute some hours ago (the stage judges only the last hour on its first run,
/// and the outbox gives up on events older than a day).
fn t0() -> i64 {
    let now = jiff::Timestamp::now().as_millisecond();
    now / MINUTE * MINUTE - 300 * MINUTE
}

fn hot_countries(s: &CrowdStatus) -> Vec<&str> {
    s.hot_series
        .iter()
        .filter_map(|h| h.series.strip_prefix("country:"))
        .collect()
}

mod late;
mod messages;
mod notices;
mod signals;
mod slots;
