//! [`ProbeStore`] on PostgreSQL.

use super::sql::*;
use super::*;
use crate::postgres::{PgStore, execute, query};
use crate::sql::Word;

#[async_trait]
impl ProbeStore for PgStore {
    async fn insert_probe_results(
        &self,
        batch: Vec<NewProbeResult>,
    ) -> Result<Vec<bool>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let monitors: Vec<&str> = batch.iter().map(|r| &*r.monitor).collect();
        let regions: Vec<&str> = batch.iter().map(|r| &*r.region).collect();
        let ats: Vec<i64> = batch.iter().map(|r| r.at_ms).collect();
        let outcomes: Vec<&str> = batch.iter().map(|r| r.outcome.word()).collect();
        let causes: Vec<Option<&str>> = batch.iter().map(|r| r.cause.map(Word::word)).collect();
        let totals: Vec<Option<f64>> = batch.iter().map(|r| r.total_ms).collect();
        let reliable: Vec<bool> = batch.iter().map(|r| r.reliable).collect();
        let results: Vec<&str> = batch.iter().map(|r| r.result.as_str()).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The whole batch as arrays through `UNNEST` (SQLite loops over cached statements).
        // A row already there (or earlier in the batch) is skipped; the keys of the rows
        // stored come back, to roll up only those.
        let rows = tx
            .query(
                "INSERT INTO probe_results (monitor, region, at_ms, outcome, cause, total_ms, reliable, result)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                    $6::float8[], $7::bool[], $8::text[])
                 ON CONFLICT (monitor, region, at_ms) DO NOTHING
                 RETURNING monitor, region, at_ms",
                &[&monitors, &regions, &ats, &outcomes, &causes, &totals, &reliable, &results],
            )
            .await?;
        let mut stored: std::collections::HashSet<(String, String, i64)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        // The first row of each key is the one stored.
        let new: Vec<bool> = batch
            .iter()
            .map(|r| stored.remove(&(r.monitor.to_string(), r.region.to_string(), r.at_ms)))
            .collect();
        let inc =
            probe_hour_increments(batch.iter().zip(&new).filter(|(_, n)| **n).map(|(r, _)| r));
        let h_mon: Vec<&str> = inc.keys().map(|k| k.0).collect();
        let h_reg: Vec<&str> = inc.keys().map(|k| k.1).collect();
        let h_hour: Vec<i64> = inc.keys().map(|k| k.2).collect();
        let h_n: Vec<i64> = inc.values().map(|v| v.0).collect();
        let h_f: Vec<i64> = inc.values().map(|v| v.1).collect();
        let h_t: Vec<f64> = inc.values().map(|v| v.2).collect();
        tx.execute(
            "INSERT INTO probe_hours (monitor, region, hour_ms, probes, failures, total_ms)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::float8[])
             ON CONFLICT (monitor, region, hour_ms) DO UPDATE SET probes = probe_hours.probes + excluded.probes,
                failures = probe_hours.failures + excluded.failures, total_ms = probe_hours.total_ms + excluded.total_ms",
            &[&h_mon, &h_reg, &h_hour, &h_n, &h_f, &h_t],
        )
        .await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn probe_results(
        &self,
        monitor: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<StoredProbeResult>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            &PROBE_RESULTS,
            &[&monitor, &since_ms, &i64::from(limit)],
        )
        .await
    }

    async fn latest_probe_results(
        &self,
        since_ms: i64,
    ) -> Result<Vec<StoredProbeResult>, StoreError> {
        // `DISTINCT ON` is PostgreSQL's: the first row of each (monitor, region) in id order
        // from the newest (SQLite joins on each group's largest id instead).
        let rows = self
            .client()
            .await?
            .query(
                concat!(
                    "SELECT DISTINCT ON (monitor, region) ",
                    result_columns!(),
                    " FROM probe_results WHERE at_ms >= $1 ORDER BY monitor, region, id DESC"
                ),
                &[&since_ms],
            )
            .await?;
        rows.iter().map(StoredProbeResult::from_row).collect()
    }

    async fn probe_hours(
        &self,
        monitor: &str,
        since_ms: i64,
    ) -> Result<Vec<ProbeHour>, StoreError> {
        let client = self.client().await?;
        query(&client, &PROBE_HOURS, &[&monitor, &since_ms]).await
    }

    async fn probe_days(&self, monitor: &str, since_ms: i64) -> Result<Vec<ProbeDay>, StoreError> {
        let client = self.client().await?;
        query(&client, &PROBE_DAYS, &[&monitor, &since_ms, &DAY_MS]).await
    }

    async fn monitor_states(&self) -> Result<Vec<MonitorState>, StoreError> {
        let client = self.client().await?;
        query(&client, &MONITOR_STATES, &[]).await
    }

    async fn save_monitor_state(&self, m: MonitorState) -> Result<(), StoreError> {
        let client = self.client().await?;
        execute(&client, &SAVE_MONITOR_STATE, &monitor_state_params(&m)).await?;
        Ok(())
    }

    async fn monitor_notified(&self, monitor: &str, since_ms: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        execute(&client, &MONITOR_NOTIFIED, &[&monitor, &since_ms, &true]).await?;
        Ok(())
    }
}
