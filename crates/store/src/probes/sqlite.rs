//! [`ProbeStore`] on SQLite.

use super::sql::*;
use super::*;
use crate::sql::Word;
use crate::sql::{Sql, sql};
use crate::sqlite::{SqliteStore, execute, query, query_opt};
use rusqlite::params;

/// The newest result per (monitor, region): the row with the largest id of each group.
/// (PostgreSQL says this with `DISTINCT ON`, which SQLite lacks.)
const LATEST_PROBE_RESULTS: Sql = sql!(concat!(
    "SELECT ",
    result_columns!(),
    " FROM probe_results p
     JOIN (SELECT MAX(id) AS latest FROM probe_results WHERE at_ms >= $1
           GROUP BY monitor, region) l ON l.latest = p.id"
));

/// The newest result per region of one monitor since `$2`.
const LATEST_OF_MONITOR: Sql = sql!(concat!(
    "SELECT ",
    result_columns!(),
    " FROM probe_results p
     JOIN (SELECT MAX(id) AS latest FROM probe_results WHERE monitor = $1 AND at_ms >= $2
           GROUP BY region) l ON l.latest = p.id"
));

/// Stores a batch (row by row through cached statements; PostgreSQL sends arrays instead)
/// and rolls up what is new; per result, whether it is new.
fn insert_results(
    tx: &rusqlite::Connection,
    batch: &[NewProbeResult],
) -> Result<Vec<bool>, StoreError> {
    let mut new = Vec::with_capacity(batch.len());
    // A row already there changes nothing and is not rolled up again.
    let mut ins = tx.prepare_cached(
        "INSERT INTO probe_results (monitor, region, at_ms, outcome, cause, total_ms, reliable, result)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (monitor, region, at_ms) DO NOTHING",
    )?;
    for r in batch {
        let n = ins.execute(params![
            &*r.monitor,
            &*r.region,
            r.at_ms,
            r.outcome.word(),
            r.cause.map(Word::word),
            r.total_ms,
            r.reliable,
            r.result
        ])?;
        new.push(n > 0);
    }
    let mut up = tx.prepare_cached(
        "INSERT INTO probe_hours (monitor, region, hour_ms, probes, failures, total_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (monitor, region, hour_ms) DO UPDATE SET probes = probes + excluded.probes,
            failures = failures + excluded.failures, total_ms = total_ms + excluded.total_ms",
    )?;
    let stored = batch.iter().zip(&new).filter(|(_, n)| **n).map(|(r, _)| r);
    for ((m, r, h), (n, f, t)) in probe_hour_increments(stored) {
        up.execute(params![m, r, h, n, f, t])?;
    }
    Ok(new)
}

/// Saves the last change of each monitor in `changes` (untold).
fn save_changed_states(
    tx: &rusqlite::Connection,
    changes: &[MonitorState],
) -> Result<(), StoreError> {
    for s in last_change_per_monitor(changes) {
        execute(tx, &SAVE_MONITOR_STATE, &monitor_state_params(s))?;
    }
    Ok(())
}

#[async_trait]
impl ProbeStore for SqliteStore {
    async fn insert_probe_results(
        &self,
        batch: Vec<NewProbeResult>,
    ) -> Result<Vec<bool>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let new = insert_results(&tx, &batch)?;
            tx.commit()?;
            Ok(new)
        })
        .await
    }

    async fn record_probe_results(
        &self,
        batch: Vec<NewProbeResult>,
        judge: Arc<dyn Judge>,
    ) -> Result<Judged, StoreError> {
        if batch.is_empty() {
            return Ok(Judged::default());
        }
        self.write(move |c| {
            // One writer: the transaction alone keeps the monitors' rows to this batch.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let since = lookback_since(&batch, judge.as_ref());
            let mut judging = BTreeMap::new();
            let mut latest = BTreeMap::new();
            for m in batch_monitors(&batch) {
                let counters: Option<Counters> = query_opt(&tx, &JUDGING, &[&m])?;
                let state: Option<MonitorState> = query_opt(&tx, &MONITOR_STATE, &[&m])?;
                let Counters(bad_rounds, good_rounds) = counters.unwrap_or(Counters(0, 0));
                latest.insert(m.clone(), query(&tx, &RECENT_RESULTS, &[&m, &since])?);
                judging.insert(
                    m,
                    Judging {
                        state,
                        bad_rounds,
                        good_rounds,
                    },
                );
            }
            let new = insert_results(&tx, &batch)?;
            let changes = judge_batch(judge.as_ref(), &batch, &new, &mut judging, latest);
            for (m, j) in &judging {
                execute(&tx, &ENSURE_JUDGING, &[m])?;
                let (bad, good) = (i64::from(j.bad_rounds), i64::from(j.good_rounds));
                execute(&tx, &SAVE_JUDGING, &[m, &bad, &good])?;
            }
            save_changed_states(&tx, &changes)?;
            tx.commit()?;
            Ok(Judged { new, changes })
        })
        .await
    }

    async fn monitor_pictures(
        &self,
        monitors: Vec<String>,
        since_ms: i64,
    ) -> Result<(Vec<MonitorState>, Vec<StoredProbeResult>), StoreError> {
        self.read(move |c| {
            let mut states = Vec::new();
            let mut results = Vec::new();
            for m in &monitors {
                states.extend(query_opt::<MonitorState>(c, &MONITOR_STATE, &[m])?);
                results.extend(query::<StoredProbeResult>(
                    c,
                    &LATEST_OF_MONITOR,
                    &[m, &since_ms],
                )?);
            }
            Ok((states, results))
        })
        .await
    }

    async fn probe_results(
        &self,
        monitor: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<StoredProbeResult>, StoreError> {
        let monitor = monitor.to_owned();
        self.read(move |c| query(c, &PROBE_RESULTS, &[&monitor, &since_ms, &i64::from(limit)]))
            .await
    }

    async fn latest_probe_results(
        &self,
        since_ms: i64,
    ) -> Result<Vec<StoredProbeResult>, StoreError> {
        self.read(move |c| query(c, &LATEST_PROBE_RESULTS, &[&since_ms]))
            .await
    }

    async fn probe_hours(
        &self,
        monitor: &str,
        since_ms: i64,
    ) -> Result<Vec<ProbeHour>, StoreError> {
        let monitor = monitor.to_owned();
        self.read(move |c| query(c, &PROBE_HOURS, &[&monitor, &since_ms]))
            .await
    }

    async fn probe_days(&self, monitor: &str, since_ms: i64) -> Result<Vec<ProbeDay>, StoreError> {
        let monitor = monitor.to_owned();
        self.read(move |c| query(c, &PROBE_DAYS, &[&monitor, &since_ms, &DAY_MS]))
            .await
    }

    async fn monitor_states(&self) -> Result<Vec<MonitorState>, StoreError> {
        self.read(|c| query(c, &MONITOR_STATES, &[])).await
    }

    async fn save_monitor_state(&self, m: MonitorState) -> Result<(), StoreError> {
        self.write(move |c| {
            execute(c, &SAVE_MONITOR_STATE, &monitor_state_params(&m))?;
            Ok(())
        })
        .await
    }

    async fn monitor_notified(&self, monitor: &str, since_ms: i64) -> Result<(), StoreError> {
        let monitor = monitor.to_owned();
        self.write(move |c| {
            execute(c, &MONITOR_NOTIFIED, &[&monitor, &since_ms, &true])?;
            Ok(())
        })
        .await
    }
}
