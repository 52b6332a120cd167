//! The rows the store reads and writes. Plain data: the domain types are converted at the
//! edges so each backend binds strings and integers.

use std::collections::BTreeMap;
use std::sync::Arc;

/// A keyed hash, truncated to 16 bytes: enough to tell clients apart, useless to recover an
/// address without the day's salt.
pub type Hash16 = [u8; 16];

/// A report to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub service: Arc<str>,
    pub received_at_ms: i64,
    pub problem: Arc<str>,
    pub platform: Option<&'static str>,
    pub country: Option<&'static str>,
    pub city: Option<String>,
    pub client_hash: Hash16,
    pub network_hash: Hash16,
    /// False when the same client already counted within the dedupe window.
    pub counted: bool,
}

/// The last counted report of a client for a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentClient {
    pub service: String,
    pub client_hash: Hash16,
    pub last_counted_ms: i64,
}

/// Counted reports in a window, broken down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub total: u64,
    pub by_problem: BTreeMap<String, u64>,
    pub by_platform: BTreeMap<String, u64>,
    pub by_country: BTreeMap<String, u64>,
}

impl Summary {
    /// Adds one roll-up row; '' (not given) platforms and countries count in the total only.
    pub fn add(&mut self, problem: String, platform: String, country: String, count: u64) {
        self.total += count;
        *self.by_problem.entry(problem).or_default() += count;
        if !platform.is_empty() {
            *self.by_platform.entry(platform).or_default() += count;
        }
        if !country.is_empty() {
            *self.by_country.entry(country).or_default() += count;
        }
    }
}

/// Counted reports in one time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketCount {
    pub start_ms: i64,
    pub count: u64,
}

/// What [`crate::Store::prune`] deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneCutoffs {
    pub raw_before_ms: i64,
    pub rollups_before_ms: i64,
    pub salts_before_day: i64,
}

/// How many rows a prune deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneOutcome {
    pub reports: u64,
    pub rollups: u64,
    pub salts: u64,
    pub probe_results: u64,
}

pub const MINUTE_MS: i64 = 60_000;

/// The key of a minute roll-up row.
pub type RollupKey<'a> = (&'a str, i64, &'a str, &'a str, &'a str);

/// Aggregates the counted reports of a batch into roll-up increments, so a batch touches
/// each roll-up row once.
pub fn rollup_increments(batch: &[NewReport]) -> BTreeMap<RollupKey<'_>, i64> {
    let mut out = BTreeMap::new();
    for r in batch.iter().filter(|r| r.counted) {
        let minute = r.received_at_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        let key = (
            &*r.service,
            minute,
            &*r.problem,
            r.platform.unwrap_or(""),
            r.country.unwrap_or(""),
        );
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

/// Counted reports of one minute from one /24 (or /48) network, by problem, platform and
/// country ('' when not given): what the crowd detector reads, so it can weigh networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkMinute {
    pub minute_ms: i64,
    pub network_hash: Hash16,
    pub problem: String,
    pub platform: String,
    pub country: String,
    pub count: u64,
}

/// A detector's saved state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorState {
    pub series: String,
    pub state: String,
    pub through_minute_ms: i64,
}

/// A verdict change with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictEvent {
    pub id: i64,
    pub service: String,
    pub series: String,
    pub at_ms: i64,
    pub verdict: String,
    pub previous: String,
    pub score: f64,
    pub observed: f64,
    pub expected: f64,
    pub explanation: String,
    /// JSON.
    pub evidence: String,
}

/// A monitor result to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProbeResult {
    pub monitor: Arc<str>,
    pub region: Arc<str>,
    pub at_ms: i64,
    pub outcome: &'static str,
    pub cause: Option<&'static str>,
    pub total_ms: Option<f64>,
    /// False when the vantage could not reach its canary: its failures blame nobody.
    pub reliable: bool,
    /// The whole result as JSON.
    pub result: String,
}

/// A stored monitor result.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredProbeResult {
    pub monitor: String,
    pub region: String,
    pub at_ms: i64,
    pub outcome: String,
    pub cause: Option<String>,
    pub total_ms: Option<f64>,
    pub reliable: bool,
    pub result: String,
}

/// Probes of one monitor from one region in one hour.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeHour {
    pub region: String,
    pub hour_ms: i64,
    pub probes: u64,
    pub failures: u64,
    pub total_ms: f64,
}

/// Probes of one monitor in one UTC day, all regions together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeDay {
    pub day_ms: i64,
    pub probes: u64,
    pub failures: u64,
}

pub const DAY_MS: i64 = 86_400_000;

/// Counted reports naming one city.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CityCount {
    /// As typed (trimmed); untrusted text.
    pub city: String,
    /// The report's country, when given.
    pub country: Option<String>,
    pub count: u64,
}

/// The cities most named in a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopCities {
    /// Counted reports that named a city (all of them, not only the listed cities).
    pub named: u64,
    pub cities: Vec<CityCount>,
}

/// A monitor's hysteresis state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorState {
    pub monitor: String,
    /// "up" or "down".
    pub state: String,
    pub since_ms: i64,
    pub cause: Option<String>,
}

pub const HOUR_MS: i64 = 3_600_000;

/// The hourly roll-up increments of a batch of results: (monitor, region, hour) →
/// (probes, failures, total ms).
pub fn probe_hour_increments(
    batch: &[NewProbeResult],
) -> BTreeMap<(&str, &str, i64), (i64, i64, f64)> {
    let mut out = BTreeMap::new();
    for r in batch {
        let hour = r.at_ms.div_euclid(HOUR_MS) * HOUR_MS;
        let e = out
            .entry((&*r.monitor, &*r.region, hour))
            .or_insert((0, 0, 0.0));
        e.0 += 1;
        e.1 += i64::from(r.outcome == "down");
        e.2 += r.total_ms.unwrap_or(0.0);
    }
    out
}
