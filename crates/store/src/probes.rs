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
