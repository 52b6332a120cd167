//! [`ProbeStore`] on PostgreSQL.

use super::sql::*;
use super::*;
use crate::postgres::{PgStore, cached, execute, query};
use crate::sql::Word;

impl PgStore {
    /// Says `monitor <id>` for each monitor with results in `batch`.
    fn announce_monitors(&self, batch: &[NewProbeResult]) {
        let monitors: std::collections::BTreeSet<&str> =
            batch.iter().map(|r| &*r.monitor).collect();
        self.announce(monitors.into_iter().map(|m| format!("monitor {m}")));
    }
}

#[async_trait]
impl ProbeStore for PgStore {
    async fn insert_probe_results(
        &self,
        batch: Vec<NewProbeResult>,
    ) -> Result<Vec<bool>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let new = insert_results(&tx, &batch).await?;
        tx.commit().await?;
        self.announce_monitors(&batch);
        Ok(new)
    }

    async fn record_probe_results(
        &self,
        batch: Vec<NewProbeResult>,
        judge: Arc<dyn Judge>,
    ) -> Result<Judged, StoreError> {
        if batch.is_empty() {
            return Ok(Judged::default());
        }
        let monitors = batch_monitors(&batch);
        let since = lookback_since(&batch, judge.as_ref());
        let mut client = self.client().await?;
        // The counters' rows exist before the transaction locks them (an insert's lock
        // would be taken in another order than the sorted `FOR UPDATE`).
        client
            .execute(
                &cached(
                    &client,
                    "INSERT INTO monitor_judging (monitor) SELECT * FROM UNNEST($1::text[])
                 ON CONFLICT (monitor) DO NOTHING",
                )
                .await?,
                &[&monitors],
            )
            .await?;
        let tx = client.transaction().await?;
        // Locked in monitor order: a node judging an overlapping batch waits here, then
        // sees what this one decided.
        let rows = tx
            .query(
                &cached(
                    &tx,
                    "SELECT monitor, bad_rounds, good_rounds FROM monitor_judging
                 WHERE monitor = ANY($1) ORDER BY monitor FOR UPDATE",
                )
                .await?,
                &[&monitors],
            )
            .await?;
        let mut judging = BTreeMap::new();
        for r in &rows {
            let Counters(bad_rounds, good_rounds) = Counters::from_row(&Skip1(r))?;
            judging.insert(
                r.try_get::<_, String>(0)?,
                Judging {
                    state: None,
                    bad_rounds,
                    good_rounds,
                },
            );
        }
        let states = tx
            .query(
                &cached(
                    &tx,
                    "SELECT monitor, state, since_ms, cause, notified FROM monitor_states
                 WHERE monitor = ANY($1)",
                )
                .await?,
                &[&monitors],
            )
            .await?;
        for r in &states {
            let s = MonitorState::from_row(r)?;
            if let Some(j) = judging.get_mut(&s.monitor) {
                j.state = Some(s);
            }
        }
        let recent = tx
            .query(
                &cached(
                    &tx,
                    "SELECT monitor, region, at_ms, outcome, cause, reliable FROM probe_results
                 WHERE monitor = ANY($1) AND at_ms >= $2",
                )
                .await?,
                &[&monitors, &since],
            )
            .await?;
        let mut latest: BTreeMap<String, Vec<LatestResult>> = BTreeMap::new();
        for r in &recent {
            let monitor: String = r.try_get(0)?;
            latest
                .entry(monitor)
                .or_default()
                .push(LatestResult::from_row(&Skip1(r))?);
        }
        let new = insert_results(&tx, &batch).await?;
        let changes = judge_batch(judge.as_ref(), &batch, &new, &mut judging, latest);
        let ms: Vec<&str> = judging.keys().map(String::as_str).collect();
        let bad: Vec<i64> = judging.values().map(|j| i64::from(j.bad_rounds)).collect();
        let good: Vec<i64> = judging.values().map(|j| i64::from(j.good_rounds)).collect();
        tx.execute(
            &cached(
                &tx,
                "UPDATE monitor_judging SET bad_rounds = u.bad, good_rounds = u.good
             FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) AS u(monitor, bad, good)
             WHERE monitor_judging.monitor = u.monitor",
            )
            .await?,
            &[&ms, &bad, &good],
        )
        .await?;
        for s in last_change_per_monitor(&changes) {
            execute(&tx, &SAVE_MONITOR_STATE, &monitor_state_params(s)).await?;
        }
        tx.commit().await?;
        self.announce_monitors(&batch);
        Ok(Judged { new, changes })
    }

    async fn monitor_pictures(
        &self,
        monitors: Vec<String>,
        since_ms: i64,
    ) -> Result<(Vec<MonitorState>, Vec<StoredProbeResult>), StoreError> {
        let client = self.client().await?;
        let states = client
            .query(
                &cached(
                    &client,
                    "SELECT monitor, state, since_ms, cause, notified FROM monitor_states
                 WHERE monitor = ANY($1)",
                )
                .await?,
                &[&monitors],
            )
            .await?;
        let results = client
            .query(
                &cached(
                    &client,
                    concat!(
                        "SELECT DISTINCT ON (monitor, region) ",
                        result_columns!(),
                        " FROM probe_results WHERE monitor = ANY($1) AND at_ms >= $2
                      ORDER BY monitor, region, at_ms DESC, id DESC"
                    ),
                )
                .await?,
                &[&monitors, &since_ms],
            )
            .await?;
        Ok((
            states
                .iter()
                .map(MonitorState::from_row)
                .collect::<Result<_, _>>()?,
            results
                .iter()
                .map(StoredProbeResult::from_row)
                .collect::<Result<_, _>>()?,
        ))
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

/// Stores a batch in `tx` and rolls up what is new; per result, whether it is new.
async fn insert_results(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &[NewProbeResult],
) -> Result<Vec<bool>, StoreError> {
    let monitors: Vec<&str> = batch.iter().map(|r| &*r.monitor).collect();
    let regions: Vec<&str> = batch.iter().map(|r| &*r.region).collect();
    let ats: Vec<i64> = batch.iter().map(|r| r.at_ms).collect();
    let outcomes: Vec<&str> = batch.iter().map(|r| r.outcome.word()).collect();
    let causes: Vec<Option<&str>> = batch.iter().map(|r| r.cause.map(Word::word)).collect();
    let totals: Vec<Option<f64>> = batch.iter().map(|r| r.total_ms).collect();
    let reliable: Vec<bool> = batch.iter().map(|r| r.reliable).collect();
    let results: Vec<&str> = batch.iter().map(|r| r.result.as_str()).collect();
    // The whole batch as arrays through `UNNEST` (SQLite loops over cached statements).
    // A row already there (or earlier in the batch) is skipped; the keys of the rows
    // stored come back, to roll up only those.
    let rows = tx
            .query(
                &cached(tx, "INSERT INTO probe_results (monitor, region, at_ms, outcome, cause, total_ms, reliable, result)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                    $6::float8[], $7::bool[], $8::text[])
                 ON CONFLICT (monitor, region, at_ms) DO NOTHING
                 RETURNING monitor, region, at_ms").await?,
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
    let inc = probe_hour_increments(batch.iter().zip(&new).filter(|(_, n)| **n).map(|(r, _)| r));
    let h_mon: Vec<&str> = inc.keys().map(|k| k.0).collect();
    let h_reg: Vec<&str> = inc.keys().map(|k| k.1).collect();
    let h_hour: Vec<i64> = inc.keys().map(|k| k.2).collect();
    let h_n: Vec<i64> = inc.values().map(|v| v.0).collect();
    let h_f: Vec<i64> = inc.values().map(|v| v.1).collect();
    let h_t: Vec<f64> = inc.values().map(|v| v.2).collect();
    tx.execute(
            &cached(tx, "INSERT INTO probe_hours (monitor, region, hour_ms, probes, failures, total_ms)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::float8[])
             ON CONFLICT (monitor, region, hour_ms) DO UPDATE SET probes = probe_hours.probes + excluded.probes,
                failures = probe_hours.failures + excluded.failures, total_ms = probe_hours.total_ms + excluded.total_ms").await?,
            &[&h_mon, &h_reg, &h_hour, &h_n, &h_f, &h_t],
        )
        .await?;
    Ok(new)
}

/// A row read from its second column on: the first names the monitor.
struct Skip1<'a>(&'a tokio_postgres::Row);

impl crate::sql::RowLike for Skip1<'_> {
    fn get<T: crate::sql::Column>(&self, idx: usize) -> Result<T, StoreError> {
        crate::sql::RowLike::get(self.0, idx + 1)
    }
}
