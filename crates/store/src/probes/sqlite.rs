//! [`ProbeStore`] on SQLite.

use super::sql::*;
use super::*;
use crate::sql::Word;
use crate::sql::{Sql, sql};
use crate::sqlite::{SqliteStore, execute, query};
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
            let mut new = Vec::with_capacity(batch.len());
            {
                // Row by row through cached statements (PostgreSQL sends arrays instead); a
                // row already there changes nothing and is not rolled up again.
                let mut ins = tx.prepare_cached(
                    "INSERT INTO probe_results (monitor, region, at_ms, outcome, cause, total_ms, reliable, result)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (monitor, region, at_ms) DO NOTHING",
                )?;
                for r in &batch {
                    let n = ins.execute(params![&*r.monitor, &*r.region, r.at_ms, r.outcome.word(), r.cause.map(Word::word), r.total_ms, r.reliable, r.result])?;
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
            }
            tx.commit()?;
            Ok(new)
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
