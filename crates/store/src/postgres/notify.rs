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
        which: Claim<'_>,
        holder: &str,
        now_ms: i64,
        claim_ms: i64,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let (filter, destination) = match which {
            Claim::Destination(d) => ("destination = $1", d.to_owned()),
            Claim::Subscribers => ("destination LIKE $1", format!("{SUBSCRIBER_PREFIX}%")),
        };
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "WITH claimed AS (
                        UPDATE notify_deliveries SET claimed_by = $2, claimed_until_ms = $4
                        WHERE id IN (
                            SELECT id FROM notify_deliveries
                            WHERE {filter} AND state = 'pending'
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

    async fn add_subscriber(&self, n: SubscriberRow) -> Result<(SubscriberRow, bool), StoreError> {
        let client = self.client().await?;
        let inserted = client
            .execute(
                "INSERT INTO notify_subscribers
                    (service, kind, address, components, secret, created_ms, confirmed_ms,
                     confirm_sent_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (service, kind, address) DO NOTHING",
                &[
                    &n.service,
                    &n.kind.as_str(),
                    &n.address,
                    &join_components(&n.components),
                    &n.secret,
                    &n.created_ms,
                    &n.confirmed_ms,
                    &n.confirm_sent_ms,
                ],
            )
            .await?
            == 1;
        let row = client
            .query_one(
                &format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM notify_subscribers s
                     WHERE service = $1 AND kind = $2 AND address = $3"
                ),
                &[&n.service, &n.kind.as_str(), &n.address],
            )
            .await?;
        Ok((subscriber_row(&row)?, inserted))
    }

    async fn subscriber(&self, id: i64) -> Result<Option<SubscriberRow>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {SUBSCRIBER_COLUMNS} FROM notify_subscribers s WHERE id = $1"),
                &[&id],
            )
            .await?;
        row.as_ref().map(subscriber_row).transpose()
    }

    async fn subscriber_by_token(
        &self,
        token_hash: &str,
        not_before_ms: i64,
    ) -> Result<Option<SubscriberRow>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM notify_subscriber_tokens t
                     JOIN notify_subscribers s ON s.id = t.subscriber
                     WHERE t.hash = $1 AND t.created_ms >= $2"
                ),
                &[&token_hash, &not_before_ms],
            )
            .await?;
        row.as_ref().map(subscriber_row).transpose()
    }

    async fn add_subscriber_token(
        &self,
        subscriber: i64,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO notify_subscriber_tokens (hash, subscriber, created_ms)
                 SELECT $1, id, $3 FROM notify_subscribers WHERE id = $2",
                &[&token_hash, &subscriber, &now_ms],
            )
            .await?;
        Ok(n == 1)
    }

    async fn confirm_subscriber(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE notify_subscribers SET confirmed_ms = COALESCE(confirmed_ms, $2)
                 WHERE id = $1",
                &[&id, &now_ms],
            )
            .await?;
        Ok(n == 1)
    }

    async fn mark_confirmation_sent(
        &self,
        id: i64,
        now_ms: i64,
        unless_since_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE notify_subscribers SET confirm_sent_ms = $2
                 WHERE id = $1 AND (confirm_sent_ms IS NULL OR confirm_sent_ms <= $3)",
                &[&id, &now_ms, &unless_since_ms],
            )
            .await?;
        Ok(n == 1)
    }

    async fn set_subscriber_components(
        &self,
        id: i64,
        components: Vec<String>,
    ) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE notify_subscribers SET components = $2 WHERE id = $1",
                &[&id, &join_components(&components)],
            )
            .await?;
        Ok(n == 1)
    }

    async fn delete_subscriber(&self, id: i64) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "DELETE FROM notify_deliveries WHERE destination = $1 AND state = 'pending'",
            &[&subscriber_destination(id)],
        )
        .await?;
        tx.execute(
            "DELETE FROM notify_subscriber_tokens WHERE subscriber = $1",
            &[&id],
        )
        .await?;
        let n = tx
            .execute("DELETE FROM notify_subscribers WHERE id = $1", &[&id])
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn confirmed_subscribers(&self, service: &str) -> Result<Vec<SubscriberRow>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM notify_subscribers s
                     WHERE service = $1 AND confirmed_ms IS NOT NULL ORDER BY id"
                ),
                &[&service],
            )
            .await?;
        rows.iter().map(subscriber_row).collect()
    }

    async fn prune_notifications(&self, p: NotifyPrune) -> Result<NotifyPruned, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let deliveries = tx
            .execute(
                "DELETE FROM notify_deliveries
                 WHERE state IN ('delivered', 'failed') AND created_ms < $1",
                &[&p.settled_before_ms],
            )
            .await?;
        let events = tx
            .execute(
                "DELETE FROM notify_events WHERE occurred_ms < $1 AND NOT EXISTS
                    (SELECT 1 FROM notify_deliveries d WHERE d.event_id = notify_events.id)",
                &[&p.settled_before_ms],
            )
            .await?;
        let tokens = tx
            .execute(
                "DELETE FROM notify_subscriber_tokens WHERE created_ms < $1",
                &[&p.tokens_before_ms],
            )
            .await?;
        tx.execute(
            "DELETE FROM notify_subscriber_tokens WHERE subscriber IN
                (SELECT id FROM notify_subscribers
                 WHERE confirmed_ms IS NULL AND created_ms < $1)",
            &[&p.unconfirmed_before_ms],
        )
        .await?;
        let subscribers = tx
            .execute(
                "DELETE FROM notify_subscribers WHERE confirmed_ms IS NULL AND created_ms < $1",
                &[&p.unconfirmed_before_ms],
            )
            .await?;
        tx.commit().await?;
        Ok(NotifyPruned {
            deliveries,
            events,
            tokens,
            subscribers,
        })
    }

    async fn flap_states(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT monitor, state FROM notify_flaps ORDER BY monitor",
                &[],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn save_flap_state(
        &self,
        monitor: &str,
        state: Option<String>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        match state {
            Some(state) => {
                client
                    .execute(
                        "INSERT INTO notify_flaps (monitor, state, updated_ms) VALUES ($1, $2, $3)
                         ON CONFLICT (monitor) DO UPDATE SET state = $2, updated_ms = $3",
                        &[&monitor, &state, &now_ms],
                    )
                    .await?
            }
            None => {
                client
                    .execute("DELETE FROM notify_flaps WHERE monitor = $1", &[&monitor])
                    .await?
            }
        };
        Ok(())
    }
}

const SUBSCRIBER_COLUMNS: &str = "s.id, s.service, s.kind, s.address, s.components, s.secret,
    s.created_ms, s.confirmed_ms, s.confirm_sent_ms";

fn subscriber_row(r: &Row) -> Result<SubscriberRow, StoreError> {
    let kind: &str = r.get(2);
    let components: &str = r.get(4);
    Ok(SubscriberRow {
        id: r.get(0),
        service: r.get(1),
        kind: SubscriberKind::parse(kind)
            .ok_or_else(|| StoreError::Internal(format!("unknown subscriber kind {kind:?}")))?,
        address: r.get(3),
        components: split_components(components),
        secret: r.get(5),
        created_ms: r.get(6),
        confirmed_ms: r.get(7),
        confirm_sent_ms: r.get(8),
    })
}
