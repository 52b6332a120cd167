//! Probe latency judged against its own baseline: one gauge detector per monitor and vantage
//! region learns what a probe usually takes at this time of day and week, and a result far
//! above that is `overload` even when it is under the monitor's static `max_latency`.
//!
//! Only results whose checks passed are fed (a timeout's duration says nothing about
//! latency), and without the time the prober's own host could not run
//! ([`downbeat_probe::stall`]): a busy prober is not a slow target. A result is *far above* when the detector calls it rarer than one in a million
//! (score ≥ `problems_score`), it is at least [`MIN_EXCESS_MS`] above the baseline and at
//! least [`MIN_RATIO`] times it — so sub-millisecond jitter on a fast target never counts —
//! and the detector is past its warm-up. Outliers teach the baseline little (the detector
//! clips what it learns to the normal band), so a slow spell is not learned as normal unless
//! it lasts for hours.
//!
//! States are saved in the store's detector table under the pseudo-service [`STATE_KEY`]
//! (not a valid service id, so it never meets the crowd detectors), one series per
//! `monitor@region`, every [`SAVE_EVERY`] and at shutdown.

use downbeat_detect::{Detector, DetectorConfig, Direction};
use downbeat_probe::{Outcome, ProbeResult};
use downbeat_store::{DetectionStore, DetectorState, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The store key of the latency detectors (contains `:`, which no service id may).
pub const STATE_KEY: &str = "monitors:latency";
/// How often changed latency baselines are saved (and at shutdown).
pub const SAVE_EVERY: Duration = Duration::from_secs(15 * 60);
/// Detectors saved per transaction.
pub const SAVE_CHUNK: usize = 256;
/// A far-above result exceeds its baseline by at least this much (tens of milliseconds of
/// scheduling noise on a busy host are not an overload)…
pub const MIN_EXCESS_MS: f64 = 200.0;
/// …and is at least this many times it.
pub const MIN_RATIO: f64 = 3.0;

/// The detector settings for probe latency in milliseconds.
pub fn detector_config() -> DetectorConfig {
    DetectorConfig {
        // Loopback and LAN targets answer in well under a millisecond with microsecond
        // jitter; a floor on the scale keeps that from making every blip look rare.
        min_scale: 1.0,
        min_excess: MIN_EXCESS_MS / 2.0,
        problems_min_excess: MIN_EXCESS_MS,
        nominal_interval_s: 60,
        ..DetectorConfig::for_gauge(Direction::Up)
    }
}

#[derive(Default)]
struct Series {
    detectors: HashMap<String, Detector>,
    /// Series observed since the last save.
    dirty: std::collections::HashSet<String>,
}

/// Every (monitor, region) latency detector.
#[derive(Default)]
pub struct Latency {
    series: Mutex<Series>,
}

/// The series key of a monitor seen from a region.
pub fn series_key(monitor: &str, region: &str) -> String {
    format!("{monitor}@{region}")
}

impl Latency {
    /// Feeds the result's total time to its series and, when it is far above the baseline,
    /// marks the result `overload` (see the module docs). Returns whether it did.
    pub fn judge(&self, monitor: &str, region: &str, result: &mut ProbeResult) -> bool {
        if result.outcome == Outcome::Down {
            return false;
        }
        // The prober's own stall is not the target's latency (see `downbeat_probe::stall`).
        let Some(total) = result.timings.unstalled_total() else {
            return false;
        };
        let ms = total.as_secs_f64() * 1000.0;
        let key = series_key(monitor, region);
        let mut s = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let detector = s
            .detectors
            .entry(key.clone())
            .or_insert_with(|| Detector::new(detector_config()));
        let warming = detector.warming_up();
        let a = detector.observe(result.started_at.as_second(), ms);
        let threshold = detector.config().problems_score;
        s.dirty.insert(key);
        let far = !warming
            && !a.ignored
            && a.score >= threshold
            && a.value - a.expected >= MIN_EXCESS_MS
            && a.value >= MIN_RATIO * a.expected.max(0.0);
        if far {
            result.mark_above_baseline(Duration::from_secs_f64(a.expected.max(0.0) / 1000.0));
        }
        far
    }

    /// Restores saved detectors (a state this binary cannot read is relearned).
    pub async fn load(&self, store: &dyn DetectionStore) -> Result<usize, StoreError> {
        let saved = store.detector_states(STATE_KEY).await?;
        let mut s = self.series.lock().unwrap_or_else(|e| e.into_inner());
        for st in saved {
            match serde_json::from_str::<Detector>(&st.state) {
                Ok(d) => {
                    s.detectors.insert(st.series, d);
                }
                Err(e) => {
                    tracing::warn!(series = %st.series, error = %e, "discarding unreadable latency baseline")
                }
            }
        }
        Ok(s.detectors.len())
    }

    /// Saves the detectors observed since the last save, [`SAVE_CHUNK`] per transaction:
    /// a detector's JSON is about 10 KB, so ten thousand monitors saved in one go would
    /// hold some 100 MB of text at once.
    pub async fn save(&self, store: &dyn DetectionStore, now_ms: i64) -> Result<usize, StoreError> {
        let mut dirty: Vec<String> = {
            let mut s = self.series.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut s.dirty).into_iter().collect()
        };
        let mut saved = 0;
        while !dirty.is_empty() {
            let keys: Vec<String> = dirty.drain(..dirty.len().min(SAVE_CHUNK)).collect();
            let states: Vec<DetectorState> = {
                let s = self.series.lock().unwrap_or_else(|e| e.into_inner());
                keys.iter()
                    .filter_map(|k| {
                        let state = serde_json::to_string(s.detectors.get(k)?).ok()?;
                        Some(DetectorState {
                            series: k.clone(),
                            state,
                            through_minute_ms: now_ms,
                        })
                    })
                    .collect()
            };
            let n = states.len();
            if let Err(e) = store.save_detector_states(STATE_KEY, states, None).await {
                // Try again next time rather than forget what changed.
                let mut s = self.series.lock().unwrap_or_else(|e| e.into_inner());
                s.dirty.extend(keys);
                s.dirty.extend(dirty);
                return Err(e);
            }
            saved += n;
        }
        Ok(saved)
    }

    /// The baseline of a series right now: expected and upper bound of normal, in ms.
    pub fn baseline(&self, monitor: &str, region: &str, t_unix_s: i64) -> Option<(f64, f64)> {
        let s = self.series.lock().unwrap_or_else(|e| e.into_inner());
        s.detectors
            .get(&series_key(monitor, region))
            .filter(|d| !d.warming_up())
            .map(|d| {
                let b = d.baseline(t_unix_s);
                (b.expected, b.upper)
            })
    }
}
