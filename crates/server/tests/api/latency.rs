//! Probe latency against its own baseline: a target that turns slow is `overload`, even
//! under its static `max_latency`, and the baseline survives a restart.

use crate::helpers::*;
use axum::Router;
use axum::routing::get;
use downbeat_detect::Detector;
use downbeat_monitors::latency::{self, Latency};
use downbeat_probe::{Cause, Detail, Outcome, ProbeDef, ProbeKind, ProbeSpec, Prober};
use downbeat_store::DetectorState;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A loopback target answering `/` at once, or after 300 ms while `slow` is set.
async fn target(slow: Arc<AtomicBool>) -> u16 {
    let app = Router::new().route(
        "/",
        get(move || {
            let slow = slow.clone();
            async move {
                if slow.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    port
}

fn spec(port: u16) -> ProbeSpec {
    let mut def = ProbeDef::new(ProbeKind::Http, format!("http://127.0.0.1:{port}/"));
    // The static limit is generous: only the baseline can call 300 ms too slow.
    def.http.max_latency_ms = Some(2_000);
    def.timeout_ms = Some(5_000);
    ProbeSpec::parse(def).unwrap()
}

/// Teaches `judge` the target's usual latency from eu-west: 90 real probes of a fast target,
/// none called slow, on a virtual minute-by-minute clock (the detector takes time as data).
/// Returns the clock: minute `k` of it.
async fn warm_up(
    spec: &ProbeSpec,
    prober: &Prober,
    judge: &Latency,
) -> impl Fn(i64) -> jiff::Timestamp + use<> {
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2);
    let at = move |k: i64| start + jiff::SignedDuration::from_mins(k);
    for k in 0..90 {
        let mut r = downbeat_probe::probe(spec, prober).await;
        assert_eq!(r.outcome, Outcome::Up, "{r:?}");
        r.started_at = at(k);
        assert!(
            !judge.judge("api", "eu-west", &mut r),
            "a normal answer was called slow at point {k}: {}",
            r.explanation()
        );
        assert_eq!(r.outcome, Outcome::Up);
    }
    at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_turns_slow_after_warm_up_is_overload() {
    for store in downbeat_store::testing::all().await {
        let db = downbeat_store::open(&store.target).await.unwrap();
        turns_slow(db.as_ref(), store.name).await;
    }
}

async fn turns_slow(db: &dyn downbeat_store::Store, backend: &str) {
    let slow = Arc::new(AtomicBool::new(false));
    let port = target(slow.clone()).await;
    let spec = spec(port);
    let prober = Prober::new().unwrap();
    let judge = Latency::default();
    let at = warm_up(&spec, &prober, &judge).await;
    slow.store(true, Ordering::Relaxed);
    let mut r = downbeat_probe::probe(&spec, &prober).await;
    r.started_at = at(90);
    assert_eq!(
        r.outcome,
        Outcome::Up,
        "300 ms is under the static limit: {r:?}"
    );
    assert!(judge.judge("api", "eu-west", &mut r), "{r:?}");
    assert_eq!(
        (r.outcome, r.cause, r.detail),
        (
            Outcome::Down,
            Some(Cause::Overload),
            Some(Detail::AboveBaseline)
        )
    );
    assert!(
        r.explanation().contains("far above its own baseline"),
        "{}",
        r.explanation()
    );
    // The same answer from a region with no baseline yet is not judged.
    let mut fresh = downbeat_probe::probe(&spec, &prober).await;
    fresh.started_at = at(90);
    assert!(!judge.judge("api", "us-east", &mut fresh));

    // Saved and restored, the baseline still knows 300 ms is not usual.
    let saved = judge.save(db, 0).await.unwrap();
    assert_eq!(saved, 2, "{backend}: both series were observed");
    assert_eq!(judge.save(db, 0).await.unwrap(), 0, "nothing new");
    // The crowd detectors of real services never see these series.
    assert!(db.detector_states("api").await.unwrap().is_empty());
    let restored = Latency::default();
    assert_eq!(restored.load(db).await.unwrap(), 2, "{backend}");
    let mut again = downbeat_probe::probe(&spec, &prober).await;
    again.started_at = at(91);
    assert!(
        restored.judge("api", "eu-west", &mut again),
        "{backend}: {again:?}"
    );
}

/// A fast target probed while the prober's own host cannot run (its only thread blocked for
/// 300 ms mid-probe, as a busy machine would) is not called slow: the stall is measured,
/// recorded in the result and left out of the latency. The same 300 ms from the target is.
#[tokio::test(flavor = "current_thread")]
async fn a_probe_slowed_by_its_own_busy_host_is_not_overload() {
    // The target runs on its own thread, so only the prober's runtime is blocked.
    let slow = Arc::new(AtomicBool::new(false));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let target_slow = slow.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            port_tx.send(target(target_slow).await).unwrap();
            std::future::pending::<()>().await
        })
    });
    let spec = spec(port_rx.recv().unwrap());
    let prober = Prober::new().unwrap();
    let judge = Latency::default();
    let at = warm_up(&spec, &prober, &judge).await;
    let (mut r, ()) = tokio::join!(downbeat_probe::probe(&spec, &prober), async {
        // The probe has started and waits on the network; now the host stalls.
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(300));
    });
    r.started_at = at(90);
    let total = r.timings.total.unwrap();
    let stalled = r.timings.stalled.expect("the stall is recorded");
    assert!(total >= Duration::from_millis(300), "{r:?}");
    assert!(stalled >= Duration::from_millis(250), "{r:?}");
    assert!(
        !judge.judge("api", "eu-west", &mut r),
        "the host's stall was called the target's: {}",
        r.explanation()
    );
    assert_eq!(r.outcome, Outcome::Up);

    slow.store(true, Ordering::Relaxed);
    let mut r = downbeat_probe::probe(&spec, &prober).await;
    r.started_at = at(91);
    assert!(judge.judge("api", "eu-west", &mut r), "{r:?}");
}

/// The server's own probes go through the baseline: a saved baseline of ~2 ms, then a
/// target answering in 300 ms (under its 2 s `max_latency`) shows as down with cause
/// `overload` in the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_calls_a_slow_answer_overload_against_a_saved_baseline() {
    let slow = Arc::new(AtomicBool::new(true));
    let port = target(slow).await;
    let store = downbeat_store::testing::sqlite();
    {
        let db = downbeat_store::open(&store.target).await.unwrap();
        let mut d = Detector::new(latency::detector_config());
        let now = jiff::Timestamp::now().as_second();
        for k in 0..240 {
            let t = now - (240 - k) * 60;
            d.warm_up(t, 2.0 + 0.1 * ((k % 7) as f64));
        }
        db.save_detector_states(
            latency::STATE_KEY,
            vec![DetectorState {
                series: latency::series_key("slow-api", "eu-west"),
                state: serde_json::to_string(&d).unwrap(),
                through_minute_ms: now * 1000,
            }],
            None,
        )
        .await
        .unwrap();
    }
    let config = format!(
        r#"
[server]
region = "eu-west"

[probes]
failures_to_open = 1

[[service]]
id = "melodia"
name = "Melodia"

[[monitor]]
id = "slow-api"
service = "melodia"
kind = "http"
target = "http://127.0.0.1:{port}/"
interval = "5s"
timeout = "3s"
max_latency_ms = 2000
"#
    );
    let clock = Arc::new(downbeat_domain::ManualClock::new(jiff::Timestamp::now()));
    let app = spawn_raw(store, &config, clock.clone()).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let m = loop {
        clock.set(jiff::Timestamp::now());
        let (_, v) = app.get_json("/api/v1/services/melodia/monitors").await;
        let m = v["monitors"][0].clone();
        if m["state"] == "down" {
            break m;
        }
        assert!(Instant::now() < deadline, "never called slow: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(m["probable_cause"], "overload", "{m}");
    let r = &m["regions"]["eu-west"];
    assert_eq!(
        (r["cause"].as_str(), r["detail"].as_str()),
        (Some("overload"), Some("above_baseline")),
        "{m}"
    );
    app.stop().await;
}

/// Thousands of monitors: baselines are saved in chunks, and every one comes back.
#[tokio::test]
async fn many_baselines_save_in_chunks_and_all_come_back() {
    let judge = Latency::default();
    let n = 2 * latency::SAVE_CHUNK + 7;
    for i in 0..n {
        let mut r: downbeat_probe::ProbeResult = serde_json::from_value(serde_json::json!({
            "kind": "http", "started_at": "2026-11-22T10:00:00Z", "outcome": "up",
            "timings": {"total_ms": 3.0}
        }))
        .unwrap();
        judge.judge(&format!("m{i}"), "eu-west", &mut r);
    }
    // The chunking is the server's; the store's own tests cover both backends.
    let store = downbeat_store::testing::sqlite();
    let db = downbeat_store::open(&store.target).await.unwrap();
    assert_eq!(judge.save(db.as_ref(), 0).await.unwrap(), n);
    assert_eq!(judge.save(db.as_ref(), 0).await.unwrap(), 0, "nothing new");
    let restored = Latency::default();
    assert_eq!(restored.load(db.as_ref()).await.unwrap(), n);
}
