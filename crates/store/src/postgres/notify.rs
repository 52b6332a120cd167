//! [`NotifyStore`] on PostgreSQL. Claims lock their rows with `FOR UPDATE SKIP LOCKED`, so
//! nodes claiming at the same moment take different deliveries.

use super::PgStore;
use crate::StoreError;
use crate::notify::*;
use async_trait::async_trait;
use tokio_postgres::Row;

const DELIVERY_COLUMNS: &str = "d.id, d.event_id, d.destination, d.state, d.attempts,
    d.next_attempt_ms, d.created_ms, d.last_attempt_ms, d.last_status, d.last_error,
    d.delivered_ms";

fn delivery_row(r: &Row) -> Result<DeliveryRow, StoreError> {
    let state: &str = r.get(3);
    Ok(DeliveryRow {
        id: r.get(0),
        event_id: r.get(1),
        destination: r.get(2),
        state: DeliveryState::parse(state)
            .ok_or_else(|| StoreError::Internal(format!("unknown delivery state {state:?}")))?,
        attempts: r.get(4),
        next_attempt_ms: r.get(5),
        created_ms: r.get(6),
        last_attempt_ms: r.get(7),
        last_status: r.get(8),
        last_error: r.get(9),
        delivered_ms: r.get(10),
    })
}

#[async_trait]
impl NotifyStore for PgStore {
    async fn enqueue_notification(
        &self,
        e: NotifyEventRow,
        destinations: Vec<String>,
        now_ms: i64,
    ) -> Result<u32, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO notify_events (id, kind, service, occurred_ms, link, data)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            &[&e.id, &e.kind, &e.service, &e.occurred_ms, &e.link, &e.data],
        )
        .await?;
        let st = tx
            .prepare(
                "INSERT INTO notify_deliveries
                    (event_id, destination, state, next_attempt_ms, created_ms)
                 VALUES ($1, $2, 'pending', $3, $3)
                 ON CONFLICT (event_id, destination) DO NOTHING",
            )
            .await?;
        let mut new = 0;
        for d in &destinations {
            new += tx.execute(&st, &[&e.id, d, &now_ms]).await? as u32;
        }
        tx.commit().await?;
        Ok(new)
    }

    async fn claim_deliveries(
        &self,
        destination: &str,
        holder: &str,
        now_ms: i64,
        claim_ms: i64,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "WITH claimed AS (
                        UPDATE notify_deliveries SET claimed_by = $2, claimed_until_ms = $4
                        WHERE id IN (
                            SELECT id FROM notify_deliveries
                            WHERE destination = $1 AND state = 'pending'
                              AND next_attempt_ms <= $3
                              AND (claimed_until_ms IS NULL OR claimed_until_ms <= $3)
                            ORDER BY next_attempt_ms, id LIMIT $5
                            FOR UPDATE SKIP LOCKED)
                        RETURNING *)
                     SELECT {DELIVERY_COLUMNS}, e.id, e.kind, e.service, e.occurred_ms, e.link,
                        e.data
                     FROM claimed d JOIN notify_events e ON e.id = d.event_id
                     ORDER BY d.next_attempt_ms, d.id"
                ),
                &[
                    &destination,
                    &holder,
                    &now_ms,
                    &(now_ms + claim_ms),
                    &i64::from(limit),
                ],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ClaimedDelivery {
                    delivery: delivery_row(r)?,
                    event: NotifyEventRow {
                        id: r.get(11),
                        kind: r.get(12),
                        service: r.get(13),
                        occurred_ms: r.get(14),
                        link: r.get(15),
                        data: r.get(16),
                    },
                })
            })
            .collect()
    }

    async fn record_attempt(
        &self,
        delivery: i64,
        holder: &str,
        a: Attempt,
    ) -> Result<bool, StoreError> {
        let delivered = (a.outcome == DeliveryState::Delivered).then_some(a.at_ms);
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE notify_deliveries SET attempts = attempts + 1, state = $3,
                    next_attempt_ms = $4, last_attempt_ms = $5, last_status = $6,
                    last_error = $7, delivered_ms = $8, claimed_by = NULL,
                    claimed_until_ms = NULL
                 WHERE id = $1 AND claimed_by = $2 AND state = 'pending'",
                &[
                    &delivery,
                    &holder,
                    &a.outcome.as_str(),
                    &a.next_attempt_ms,
                    &a.at_ms,
                    &a.status,
                    &a.error,
                    &delivered,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    async fn deliveries(
        &self,
        event_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM notify_deliveries d
                     WHERE $1::text IS NULL OR d.event_id = $1 ORDER BY d.id DESC LIMIT $2"
                ),
                &[&event_id, &i64::from(limit)],
            )
            .await?;
        rows.iter().map(delivery_row).collect()
    }
}
