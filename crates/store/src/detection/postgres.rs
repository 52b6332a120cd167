//! [`DetectionStore`] on PostgreSQL.

use super::sql::*;
use super::*;
use crate::postgres::{DB_NOW_MS, PgStore, cached, check_fence, query, query_one};
use crate::sql::One;

#[async_trait]
impl DetectionStore for PgStore {
    async fn detector_states(&self, service: &str) -> Result<Vec<DetectorState>, StoreError> {
        let client = self.client().await?;
        query(&client, &DETECTOR_STATES, &[&service]).await
    }

    async fn save_detector_states(
        &self,
        service: &str,
        states: Vec<DetectorState>,
        fence: Option<&Fence>,
    ) -> Result<(), StoreError> {
        let series: Vec<&str> = states.iter().map(|d| d.series.as_str()).collect();
        let blobs: Vec<&str> = states.iter().map(|d| d.state.as_str()).collect();
        let through: Vec<i64> = states.iter().map(|d| d.through_minute_ms).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        check_fence(&tx, fence).await?;
        // Every state in one statement through `UNNEST` (SQLite loops over a cached one).
        tx.execute(
            &cached(
                &tx,
                "INSERT INTO detector_states (service, series, state, through_minute_ms)
                 SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::bigint[])
                 ON CONFLICT (service, series) DO UPDATE
                 SET state = excluded.state, through_minute_ms = excluded.through_minute_ms",
            )
            .await?,
            &[&service, &series, &blobs, &through],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_detector_states(
        &self,
        service: &str,
        series: Vec<String>,
    ) -> Result<u64, StoreError> {
        // All in one statement (SQLite loops over the shared one).
        Ok(self
            .client()
            .await?
            .execute(
                "DELETE FROM detector_states WHERE service = $1 AND series = ANY($2)",
                &[&service, &series],
            )
            .await?)
    }

    async fn insert_verdict_event(
        &self,
        e: VerdictEvent,
        fence: Option<&Fence>,
    ) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        check_fence(&tx, fence).await?;
        let id: One<i64> = query_one(&tx, &INSERT_VERDICT_EVENT, &verdict_params(&e)).await?;
        tx.commit().await?;
        Ok(id.0)
    }

    async fn verdict_events(
        &self,
        service: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<VerdictEvent>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            &VERDICT_EVENTS,
            &[&service, &since_ms, &i64::from(limit)],
        )
        .await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        _now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Option<Fence>, StoreError> {
        let client = self.client().await?;
        // On the database's clock: nodes' clocks may disagree (or run fast, in a demo).
        let row = client
            .query_opt(
                &format!(
                    "INSERT INTO leases (name, holder, expires_at_ms, token)
                     VALUES ($1, $2, {DB_NOW_MS} + $3, 1)
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                        expires_at_ms = excluded.expires_at_ms,
                        token = CASE WHEN leases.holder = excluded.holder
                                THEN leases.token ELSE leases.token + 1 END
                     WHERE leases.holder = excluded.holder OR leases.expires_at_ms <= {DB_NOW_MS}
                     RETURNING token"
                ),
                &[&name, &holder, &ttl_ms],
            )
            .await?;
        Ok(row
            .map(|r| r.try_get::<_, i64>(0))
            .transpose()?
            .map(|token| Fence {
                name: name.to_owned(),
                holder: holder.to_owned(),
                token,
            }))
    }
}
