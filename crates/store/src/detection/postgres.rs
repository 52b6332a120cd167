//! [`DetectionStore`] on PostgreSQL.

use super::sql::*;
use super::*;
use crate::postgres::{PgStore, execute, query, query_one};
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
    ) -> Result<(), StoreError> {
        let series: Vec<&str> = states.iter().map(|d| d.series.as_str()).collect();
        let blobs: Vec<&str> = states.iter().map(|d| d.state.as_str()).collect();
        let through: Vec<i64> = states.iter().map(|d| d.through_minute_ms).collect();
        // Every state in one statement through `UNNEST` (SQLite loops over a cached one).
        self.client()
            .await?
            .execute(
                "INSERT INTO detector_states (service, series, state, through_minute_ms)
                 SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::bigint[])
                 ON CONFLICT (service, series) DO UPDATE
                 SET state = excluded.state, through_minute_ms = excluded.through_minute_ms",
                &[&service, &series, &blobs, &through],
            )
            .await?;
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

    async fn insert_verdict_event(&self, e: VerdictEvent) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let id: One<i64> = query_one(&client, &INSERT_VERDICT_EVENT, &verdict_params(&e)).await?;
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
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = execute(
            &client,
            &TRY_LEASE,
            &[&name, &holder, &(now_ms + ttl_ms), &now_ms],
        )
        .await?;
        Ok(n == 1)
    }
}
