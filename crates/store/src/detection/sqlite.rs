//! [`DetectionStore`] on SQLite.

use super::sql::*;
use super::*;
use crate::sql::One;
use crate::sqlite::{SqliteStore, check_fence, query, query_one, query_opt};
use rusqlite::params;

#[async_trait]
impl DetectionStore for SqliteStore {
    async fn detector_states(&self, service: &str) -> Result<Vec<DetectorState>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| query(c, &DETECTOR_STATES, &[&service]))
            .await
    }

    async fn save_detector_states(
        &self,
        service: &str,
        states: Vec<DetectorState>,
        fence: Option<&Fence>,
    ) -> Result<(), StoreError> {
        let service = service.to_owned();
        let fence = fence.cloned();
        self.write(move |c| {
            let tx = c.transaction()?;
            check_fence(&tx, fence.as_ref())?;
            {
                // Row by row through a cached statement (PostgreSQL sends arrays instead).
                let mut st = tx.prepare_cached(
                    "INSERT INTO detector_states (service, series, state, through_minute_ms)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (service, series) DO UPDATE
                     SET state = excluded.state, through_minute_ms = excluded.through_minute_ms",
                )?;
                for d in &states {
                    st.execute(params![service, d.series, d.state, d.through_minute_ms])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn delete_detector_states(
        &self,
        service: &str,
        series: Vec<String>,
    ) -> Result<u64, StoreError> {
        let service = service.to_owned();
        self.write(move |c| {
            let tx = c.transaction()?;
            let mut n = 0;
            {
                // Row by row through a cached statement (PostgreSQL sends an array instead).
                let mut st = tx.prepare_cached(
                    "DELETE FROM detector_states WHERE service = ?1 AND series = ?2",
                )?;
                for s in &series {
                    n += st.execute(params![service, s])? as u64;
                }
            }
            tx.commit()?;
            Ok(n)
        })
        .await
    }

    async fn insert_verdict_event(
        &self,
        e: VerdictEvent,
        fence: Option<&Fence>,
    ) -> Result<i64, StoreError> {
        let fence = fence.cloned();
        self.write(move |c| {
            let tx = c.transaction()?;
            check_fence(&tx, fence.as_ref())?;
            let id: One<i64> = query_one(&tx, &INSERT_VERDICT_EVENT, &verdict_params(&e))?;
            tx.commit()?;
            Ok(id.0)
        })
        .await
    }

    async fn verdict_events(
        &self,
        service: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<VerdictEvent>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| {
            query(
                c,
                &VERDICT_EVENTS,
                &[&service, &since_ms, &i64::from(limit)],
            )
        })
        .await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Option<Fence>, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |c| {
            let token: Option<One<i64>> = query_opt(
                c,
                &TRY_LEASE,
                &[&name, &holder, &(now_ms + ttl_ms), &now_ms],
            )?;
            Ok(token.map(|One(token)| Fence {
                name,
                holder,
                token,
            }))
        })
        .await
    }
}
