//! Probes: monitor results from every vantage region, their hourly roll-ups, and each
//! monitor's hysteresis state ([`ProbeStore`]).

mod postgres;
mod sqlite;

use crate::StoreError;
use crate::sql::{At, FromRow, Param, RowLike};
use async_trait::async_trait;
use downbeat_domain::event::CheckState;
use downbeat_domain::probe::{Cause, Outcome};
use std::collections::BTreeMap;
use std::sync::Arc;

#[async_trait]
pub trait ProbeStore: Send + Sync + 'static {
    /// Stores a batch of monitor results and their hourly roll-ups in one transaction. A
    /// result is stored once per (monitor, region, start time): the answer says, per result
    /// of the batch in order, whether it is new (false: stored before, by a retried push or
    /// earlier in this batch). Only new results count in the roll-ups.
    async fn insert_probe_results(
        &self,
        batch: Vec<NewProbeResult>,
    ) -> Result<Vec<bool>, StoreError>;

    /// Stores a batch like [`ProbeStore::insert_probe_results`] and, in the same transaction,
    /// judges its monitors with `judge`: each monitor's counters and state are read and
    /// locked (one node at a time per monitor, in monitor order), the new results are
    /// judged against them and the latest result per region before the batch, and what
    /// changed is written back — a change saved untold (`notified` false). A change is
    /// therefore decided once, whichever node stored the result that made it.
    async fn record_probe_results(
        &self,
        batch: Vec<NewProbeResult>,
        judge: Arc<dyn Judge>,
    ) -> Result<Judged, StoreError>;

    /// The states and the newest result per region since `since_ms` of `monitors`: one
    /// node's picture of monitors another node judged.
    async fn monitor_pictures(
        &self,
        monitors: Vec<String>,
        since_ms: i64,
    ) -> Result<(Vec<MonitorState>, Vec<StoredProbeResult>), StoreError>;

    /// Results of a monitor at or after `since_ms`, oldest first, at most `limit`.
    async fn probe_results(
        &self,
        monitor: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<StoredProbeResult>, StoreError>;

    /// The newest result of every (monitor, region) since `since_ms`: restores the picture
    /// after a restart.
    async fn latest_probe_results(
        &self,
        since_ms: i64,
    ) -> Result<Vec<StoredProbeResult>, StoreError>;

    /// Hourly roll-ups of a monitor since `since_ms` (uptime bars).
    async fn probe_hours(&self, monitor: &str, since_ms: i64)
    -> Result<Vec<ProbeHour>, StoreError>;

    /// Probes and failures of a monitor per UTC day, all regions together, from the hourly
    /// roll-ups at or after `since_ms`; oldest first, days without probes absent.
    async fn probe_days(&self, monitor: &str, since_ms: i64) -> Result<Vec<ProbeDay>, StoreError>;

    /// Every monitor's saved hysteresis state.
    async fn monitor_states(&self) -> Result<Vec<MonitorState>, StoreError>;

    /// Saves one monitor's hysteresis state.
    async fn save_monitor_state(&self, state: MonitorState) -> Result<(), StoreError>;

    /// Marks the change of `monitor` to the state that began at `since_ms` as told to the
    /// notifier (a newer state of the monitor is left as it is).
    async fn monitor_notified(&self, monitor: &str, since_ms: i64) -> Result<(), StoreError>;
}

/// The columns [`StoredProbeResult`] reads, in order.
macro_rules! result_columns {
    () => {
        "monitor, region, at_ms, outcome, cause, total_ms, reliable, result"
    };
}
pub(crate) use result_columns;

/// Statements both backends run as written. (Batch inserts and the latest result per region
/// differ: see `sqlite.rs` and `postgres.rs`.)
pub(crate) mod sql {
    use crate::sql::{Sql, sql};

    pub const PROBE_RESULTS: Sql = sql!(concat!(
        "SELECT ",
        result_columns!(),
        " FROM probe_results
         WHERE monitor = $1 AND at_ms >= $2 ORDER BY at_ms, id LIMIT $3"
    ));
    pub const PROBE_HOURS: Sql = sql!(
        "SELECT region, hour_ms, probes, failures, total_ms FROM probe_hours
         WHERE monitor = $1 AND hour_ms >= $2 ORDER BY hour_ms, region"
    );
    // SUM over BIGINT is NUMERIC in PostgreSQL: cast back (a no-op in SQLite).
    pub const PROBE_DAYS: Sql = sql!(
        "SELECT (hour_ms / $3) * $3 AS d, CAST(SUM(probes) AS BIGINT), CAST(SUM(failures) AS BIGINT)
         FROM probe_hours WHERE monitor = $1 AND hour_ms >= $2 GROUP BY d ORDER BY d"
    );
    pub const MONITOR_STATES: Sql =
        sql!("SELECT monitor, state, since_ms, cause, notified FROM monitor_states");
    pub const MONITOR_STATE: Sql = sql!(
        "SELECT monitor, state, since_ms, cause, notified FROM monitor_states WHERE monitor = $1"
    );
    pub const ENSURE_JUDGING: Sql =
        sql!("INSERT INTO monitor_judging (monitor) VALUES ($1) ON CONFLICT (monitor) DO NOTHING");
    pub const JUDGING: Sql =
        sql!("SELECT bad_rounds, good_rounds FROM monitor_judging WHERE monitor = $1");
    pub const SAVE_JUDGING: Sql =
        sql!("UPDATE monitor_judging SET bad_rounds = $2, good_rounds = $3 WHERE monitor = $1");
    /// A monitor's results since `$2`, for its latest per region ([`super::newest_per_region`]).
    pub const RECENT_RESULTS: Sql = sql!(
        "SELECT region, at_ms, outcome, cause, reliable FROM probe_results
         WHERE monitor = $1 AND at_ms >= $2"
    );
    /// Parameters: [`super::monitor_state_params`].
    pub const SAVE_MONITOR_STATE: Sql = sql!(
        "INSERT INTO monitor_states (monitor, state, since_ms, cause, notified)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (monitor) DO UPDATE SET state = excluded.state, since_ms = excluded.since_ms,
            cause = excluded.cause, notified = excluded.notified"
    );
    /// The first monitor after `$1` with raw results (see `reports::sql::PRUNE_REPORTS`).
    pub const NEXT_RESULT_MONITOR: Sql =
        sql!("SELECT monitor FROM probe_results WHERE monitor > $1 ORDER BY monitor LIMIT 1");
    pub const MONITOR_NOTIFIED: Sql =
        sql!("UPDATE monitor_states SET notified = $3 WHERE monitor = $1 AND since_ms = $2");
    // By time, one monitor and one chunk at a time, through the (monitor, at_ms) index (see
    // `reports::sql::PRUNE_REPORTS`).
    pub const PRUNE_RESULTS: Sql = sql!(
        "DELETE FROM probe_results WHERE id IN
         (SELECT id FROM probe_results WHERE monitor = $1 AND at_ms < $2 LIMIT $3)"
    );
    pub const PRUNE_HOURS: Sql = sql!("DELETE FROM probe_hours WHERE hour_ms < $1");
}

/// The monitors stage's rule, which the store applies inside the transaction that stores
/// a batch of results ([`ProbeStore::record_probe_results`]).
pub trait Judge: Send + Sync + 'static {
    /// How far before a result the latest results of the other regions still matter
    /// (freshness and clock skew).
    fn lookback_ms(&self, monitor: &str) -> i64;

    /// Judges the new results of `monitor` (in batch order) given its shared counters and
    /// state and its latest result per region before them; updates `judging` and returns
    /// the changes, oldest first (the last one is the monitor's new state).
    fn judge(
        &self,
        monitor: &str,
        judging: &mut Judging,
        latest: Vec<LatestResult>,
        new: &[&NewProbeResult],
    ) -> Vec<MonitorState>;
}

/// A monitor's shared hysteresis: its state (none before its first change) and counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judging {
    pub state: Option<MonitorState>,
    pub bad_rounds: u32,
    pub good_rounds: u32,
}

/// What [`ProbeStore::record_probe_results`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Judged {
    /// Per result of the batch in order: whether it is new (see `insert_probe_results`).
    pub new: Vec<bool>,
    /// The changes decided, saved untold, in order.
    pub changes: Vec<MonitorState>,
}

/// A monitor's latest result from one region, as [`Judge::judge`] sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestResult {
    pub region: String,
    pub at_ms: i64,
    pub outcome: Outcome,
    pub cause: Option<Cause>,
    pub reliable: bool,
}

impl FromRow for LatestResult {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(LatestResult {
            region: r.get(0)?,
            at_ms: r.get(1)?,
            outcome: r.word(2, At("probe_results", "outcome"))?,
            cause: r.word_opt(3, At("probe_results", "cause"))?,
            reliable: r.get(4)?,
        })
    }
}

/// Keeps the newest of `rows` per region.
pub(crate) fn newest_per_region(rows: Vec<LatestResult>) -> Vec<LatestResult> {
    let mut by: BTreeMap<String, LatestResult> = BTreeMap::new();
    for r in rows {
        match by.get(&r.region) {
            Some(old) if old.at_ms >= r.at_ms => {}
            _ => {
                by.insert(r.region.clone(), r);
            }
        }
    }
    by.into_values().collect()
}

/// The counters as stored (never negative).
fn rounds(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// A monitor's counters row: (bad rounds, good rounds).
pub(crate) struct Counters(pub u32, pub u32);

impl FromRow for Counters {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(Counters(rounds(r.get(0)?), rounds(r.get(1)?)))
    }
}

/// A monitor result to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProbeResult {
    pub monitor: Arc<str>,
    pub region: Arc<str>,
    pub at_ms: i64,
    pub outcome: Outcome,
    pub cause: Option<Cause>,
    pub total_ms: Option<f64>,
    /// False when the vantage could not reach its canary: its failures blame nobody.
    pub reliable: bool,
    /// The whole result as JSON: the probe crate's `ProbeResult`, which the store does not
    /// depend on (it sits beside the store, not below it).
    pub result: String,
}

/// A stored monitor result.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredProbeResult {
    pub monitor: String,
    pub region: String,
    pub at_ms: i64,
    pub outcome: Outcome,
    pub cause: Option<Cause>,
    pub total_ms: Option<f64>,
    pub reliable: bool,
    /// The whole result as JSON (see [`NewProbeResult::result`]).
    pub result: String,
}

impl FromRow for StoredProbeResult {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(StoredProbeResult {
            monitor: r.get(0)?,
            region: r.get(1)?,
            at_ms: r.get(2)?,
            outcome: r.word(3, At("probe_results", "outcome"))?,
            cause: r.word_opt(4, At("probe_results", "cause"))?,
            total_ms: r.get(5)?,
            reliable: r.get(6)?,
            result: r.get(7)?,
        })
    }
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

impl FromRow for ProbeHour {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(ProbeHour {
            region: r.get(0)?,
            hour_ms: r.get(1)?,
            probes: r.count(2)?,
            failures: r.count(3)?,
            total_ms: r.get(4)?,
        })
    }
}

/// Probes of one monitor in one UTC day, all regions together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeDay {
    pub day_ms: i64,
    pub probes: u64,
    pub failures: u64,
}

impl FromRow for ProbeDay {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(ProbeDay {
            day_ms: r.get(0)?,
            probes: r.count(1)?,
            failures: r.count(2)?,
        })
    }
}

pub const DAY_MS: i64 = 86_400_000;

/// A monitor's hysteresis state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorState {
    pub monitor: String,
    pub state: CheckState,
    pub since_ms: i64,
    pub cause: Option<Cause>,
    /// Whether the notifier has the change to this state (queued it, or held it back as
    /// flapping). Saved false with the change itself, set once it is queued, so a change
    /// whose notification could not be queued is queued again.
    pub notified: bool,
}

impl FromRow for MonitorState {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(MonitorState {
            monitor: r.get(0)?,
            state: r.word(1, At("monitor_states", "state"))?,
            since_ms: r.get(2)?,
            cause: r.word_opt(3, At("monitor_states", "cause"))?,
            notified: r.get(4)?,
        })
    }
}

/// The parameters of [`sql::SAVE_MONITOR_STATE`].
fn monitor_state_params(m: &MonitorState) -> [&dyn Param; 5] {
    [&m.monitor, &m.state, &m.since_ms, &m.cause, &m.notified]
}

pub const HOUR_MS: i64 = 3_600_000;

/// The hourly roll-up increments of a batch of results: (monitor, region, hour) →
/// (probes, failures, total ms).
pub fn probe_hour_increments<'a>(
    batch: impl IntoIterator<Item = &'a NewProbeResult>,
) -> BTreeMap<(&'a str, &'a str, i64), (i64, i64, f64)> {
    let mut out = BTreeMap::new();
    for r in batch {
        let hour = r.at_ms.div_euclid(HOUR_MS) * HOUR_MS;
        let e = out
            .entry((&*r.monitor, &*r.region, hour))
            .or_insert((0, 0, 0.0));
        e.0 += 1;
        e.1 += i64::from(r.outcome == Outcome::Down);
        e.2 += r.total_ms.unwrap_or(0.0);
    }
    out
}

/// The monitors of a batch, sorted and once each: the order their rows are locked in, so
/// two nodes locking overlapping batches never wait for each other in a circle.
pub(crate) fn batch_monitors(batch: &[NewProbeResult]) -> Vec<String> {
    let mut monitors: Vec<String> = batch.iter().map(|r| r.monitor.to_string()).collect();
    monitors.sort_unstable();
    monitors.dedup();
    monitors
}

/// Since when the latest results of a batch's monitors matter to `judge`.
pub(crate) fn lookback_since(batch: &[NewProbeResult], judge: &dyn Judge) -> i64 {
    let earliest = batch.iter().map(|r| r.at_ms).min().unwrap_or(0);
    let back = batch
        .iter()
        .map(|r| judge.lookback_ms(&r.monitor))
        .max()
        .unwrap_or(0);
    earliest.saturating_sub(back)
}

/// Runs `judge` over the new results of a batch, monitor by monitor, updating `judging`;
/// the changes decided, in monitor order and oldest first within a monitor.
pub(crate) fn judge_batch(
    judge: &dyn Judge,
    batch: &[NewProbeResult],
    new: &[bool],
    judging: &mut BTreeMap<String, Judging>,
    mut latest: BTreeMap<String, Vec<LatestResult>>,
) -> Vec<MonitorState> {
    let mut by_monitor: BTreeMap<&str, Vec<&NewProbeResult>> = BTreeMap::new();
    for (r, _) in batch.iter().zip(new).filter(|(_, n)| **n) {
        by_monitor.entry(&r.monitor).or_default().push(r);
    }
    let mut changes = Vec::new();
    for (monitor, results) in by_monitor {
        let j = judging.entry(monitor.to_owned()).or_default();
        let before = newest_per_region(latest.remove(monitor).unwrap_or_default());
        changes.extend(judge.judge(monitor, j, before, &results));
    }
    changes
}

/// The last change of each monitor in `changes`: the state to save.
pub(crate) fn last_change_per_monitor(changes: &[MonitorState]) -> Vec<&MonitorState> {
    let mut last: BTreeMap<&str, &MonitorState> = BTreeMap::new();
    for c in changes {
        last.insert(&c.monitor, c);
    }
    last.into_values().collect()
}
