//! [`NotifyStore`] on SQLite. One writer connection serialises claims, so two workers never
//! claim the same delivery.

use super::SqliteStore;
use crate::StoreError;
use crate::notify::*;
use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

const DELIVERY_COLUMNS: &str = "d.id, d.event_id, d.destination, d.state, d.attempts,
    d.next_attempt_ms, d.created_ms, d.last_attempt_ms, d.last_status, d.last_error,
    d.delivered_ms";

fn delivery_row(r: &Row<'_>) -> rusqlite::Result<DeliveryRow> {
    let state: String = r.get(3)?;
    Ok(DeliveryRow {
        id: r.get(0)?,
        event_id: r.get(1)?,
        destination: r.get(2)?,
        state: DeliveryState::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                3,
                rusqlite::types::Type::Text,
                format!("unknown delivery state {state:?}").into(),
            )
        })?,
        attempts: r.get(4)?,
        next_attempt_ms: r.get(5)?,
        created_ms: r.get(6)?,
        last_attempt_ms: r.get(7)?,
        last_status: r.get(8)?,
        last_error: r.get(9)?,
        delivered_ms: r.get(10)?,
    })
}

#[async_trait]
impl NotifyStore for SqliteStore {
    async fn enqueue_notification(
        &self,
        e: NotifyEventRow,
        destinations: Vec<String>,
        now_ms: i64,
    ) -> Result<u32, StoreError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO notify_events (id, kind, service, occurred_ms, link, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
                params![e.id, e.kind, e.service, e.occurred_ms, e.link, e.data],
            )?;
            let mut new = 0;
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO notify_deliveries
                        (event_id, destination, state, next_attempt_ms, created_ms)
                     VALUES (?1, ?2, 'pending', ?3, ?3)
                     ON CONFLICT (event_id, destination) DO NOTHING",
                )?;
                for d in &destinations {
                    new += st.execute(params![e.id, d, now_ms])? as u32;
                }
            }
            tx.commit()?;
            Ok(new)
        })
        .await
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
            Claim::Destination(d) => ("destination = ?1", d.to_owned()),
            Claim::Subscribers => ("destination LIKE ?1", format!("{SUBSCRIBER_PREFIX}%")),
        };
        let holder = holder.to_owned();
        self.write(move |c| {
            let tx = c.transaction()?;
            let ids = {
                let mut st = tx.prepare_cached(&format!(
                    "UPDATE notify_deliveries SET claimed_by = ?2, claimed_until_ms = ?4
                     WHERE id IN (
                        SELECT id FROM notify_deliveries
                        WHERE {filter} AND state = 'pending' AND next_attempt_ms <= ?3
                          AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?3)
                        ORDER BY next_attempt_ms, id LIMIT ?5)
                     RETURNING id"
                ))?;
                st.query_map(
                    params![destination, holder, now_ms, now_ms + claim_ms, limit],
                    |r| r.get::<_, i64>(0),
                )?
                .collect::<Result<Vec<_>, _>>()?
            };
            let mut out = Vec::with_capacity(ids.len());
            {
                let mut st = tx.prepare_cached(&format!(
                    "SELECT {DELIVERY_COLUMNS}, e.id, e.kind, e.service, e.occurred_ms, e.link,
                        e.data
                     FROM notify_deliveries d JOIN notify_events e ON e.id = d.event_id
                     WHERE d.id = ?1"
                ))?;
                for id in ids {
                    out.push(st.query_row([id], |r| {
                        Ok(ClaimedDelivery {
                            delivery: delivery_row(r)?,
                            event: NotifyEventRow {
                                id: r.get(11)?,
                                kind: r.get(12)?,
                                service: r.get(13)?,
                                occurred_ms: r.get(14)?,
                                link: r.get(15)?,
                                data: r.get(16)?,
                            },
                        })
                    })?);
                }
            }
            tx.commit()?;
            out.sort_by_key(|d| (d.delivery.next_attempt_ms, d.delivery.id));
            Ok(out)
        })
        .await
    }

    async fn record_attempt(
        &self,
        delivery: i64,
        holder: &str,
        a: Attempt,
    ) -> Result<bool, StoreError> {
        let holder = holder.to_owned();
        self.write(move |c| {
            let delivered = (a.outcome == DeliveryState::Delivered).then_some(a.at_ms);
            let n = c.execute(
                "UPDATE notify_deliveries SET attempts = attempts + 1, state = ?3,
                    next_attempt_ms = ?4, last_attempt_ms = ?5, last_status = ?6,
                    last_error = ?7, delivered_ms = ?8, claimed_by = NULL,
                    claimed_until_ms = NULL
                 WHERE id = ?1 AND claimed_by = ?2 AND state = 'pending'",
                params![
                    delivery,
                    holder,
                    a.outcome.as_str(),
                    a.next_attempt_ms,
                    a.at_ms,
                    a.status,
                    a.error,
                    delivered
                ],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn deliveries(
        &self,
        event_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let event_id = event_id.map(str::to_owned);
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM notify_deliveries d
                 WHERE ?1 IS NULL OR d.event_id = ?1 ORDER BY d.id DESC LIMIT ?2"
            ))?;
            Ok(st
                .query_map(params![event_id, limit], delivery_row)?
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn add_subscriber(&self, n: SubscriberRow) -> Result<(SubscriberRow, bool), StoreError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            let inserted = tx.execute(
                "INSERT INTO notify_subscribers
                    (service, kind, address, components, secret, created_ms, confirmed_ms,
                     confirm_sent_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (service, kind, address) DO NOTHING",
                params![
                    n.service,
                    n.kind.as_str(),
                    n.address,
                    join_components(&n.components),
                    n.secret,
                    n.created_ms,
                    n.confirmed_ms,
                    n.confirm_sent_ms
                ],
            )? == 1;
            let row = tx.query_row(
                &format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM notify_subscribers s
                     WHERE service = ?1 AND kind = ?2 AND address = ?3"
                ),
                params![n.service, n.kind.as_str(), n.address],
                subscriber_row,
            )?;
            tx.commit()?;
            Ok((row, inserted))
        })
        .await
    }

    async fn subscriber(&self, id: i64) -> Result<Option<SubscriberRow>, StoreError> {
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {SUBSCRIBER_COLUMNS} FROM notify_subscribers s WHERE id = ?1"
            ))?;
            Ok(st.query_row([id], subscriber_row).optional()?)
        })
        .await
    }

    async fn subscriber_by_token(
        &self,
        token_hash: &str,
        not_before_ms: i64,
    ) -> Result<Option<SubscriberRow>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {SUBSCRIBER_COLUMNS} FROM notify_subscriber_tokens t
                 JOIN notify_subscribers s ON s.id = t.subscriber
                 WHERE t.hash = ?1 AND t.created_ms >= ?2"
            ))?;
            Ok(st
                .query_row(params![token_hash, not_before_ms], subscriber_row)
                .optional()?)
        })
        .await
    }

    async fn add_subscriber_token(
        &self,
        subscriber: i64,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let token_hash = token_hash.to_owned();
        self.write(move |c| {
            Ok(c.execute(
                "INSERT INTO notify_subscriber_tokens (hash, subscriber, created_ms)
                 SELECT ?1, id, ?3 FROM notify_subscribers WHERE id = ?2",
                params![token_hash, subscriber, now_ms],
            )? == 1)
        })
        .await
    }

    async fn confirm_subscriber(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE notify_subscribers SET confirmed_ms = COALESCE(confirmed_ms, ?2)
                 WHERE id = ?1",
                params![id, now_ms],
            )? == 1)
        })
        .await
    }

    async fn mark_confirmation_sent(
        &self,
        id: i64,
        now_ms: i64,
        unless_since_ms: i64,
    ) -> Result<bool, StoreError> {
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE notify_subscribers SET confirm_sent_ms = ?2
                 WHERE id = ?1 AND (confirm_sent_ms IS NULL OR confirm_sent_ms <= ?3)",
                params![id, now_ms, unless_since_ms],
            )? == 1)
        })
        .await
    }

    async fn set_subscriber_components(
        &self,
        id: i64,
        components: Vec<String>,
    ) -> Result<bool, StoreError> {
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE notify_subscribers SET components = ?2 WHERE id = ?1",
                params![id, join_components(&components)],
            )? == 1)
        })
        .await
    }

    async fn delete_subscriber(&self, id: i64) -> Result<bool, StoreError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM notify_deliveries WHERE destination = ?1 AND state = 'pending'",
                [subscriber_destination(id)],
            )?;
            tx.execute(
                "DELETE FROM notify_subscriber_tokens WHERE subscriber = ?1",
                [id],
            )?;
            let n = tx.execute("DELETE FROM notify_subscribers WHERE id = ?1", [id])?;
            tx.commit()?;
            Ok(n == 1)
        })
        .await
    }

    async fn confirmed_subscribers(&self, service: &str) -> Result<Vec<SubscriberRow>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {SUBSCRIBER_COLUMNS} FROM notify_subscribers s
                 WHERE service = ?1 AND confirmed_ms IS NOT NULL ORDER BY id"
            ))?;
            Ok(st
                .query_map([service], subscriber_row)?
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn prune_notifications(&self, p: NotifyPrune) -> Result<NotifyPruned, StoreError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            let deliveries = tx.execute(
                "DELETE FROM notify_deliveries
                 WHERE state IN ('delivered', 'failed') AND created_ms < ?1",
                [p.settled_before_ms],
            )? as u64;
            let events = tx.execute(
                "DELETE FROM notify_events WHERE occurred_ms < ?1 AND NOT EXISTS
                    (SELECT 1 FROM notify_deliveries d WHERE d.event_id = notify_events.id)",
                [p.settled_before_ms],
            )? as u64;
            let tokens = tx.execute(
                "DELETE FROM notify_subscriber_tokens WHERE created_ms < ?1",
                [p.tokens_before_ms],
            )? as u64;
            tx.execute(
                "DELETE FROM notify_subscriber_tokens WHERE subscriber IN
                    (SELECT id FROM notify_subscribers
                     WHERE confirmed_ms IS NULL AND created_ms < ?1)",
                [p.unconfirmed_before_ms],
            )?;
            let subscribers = tx.execute(
                "DELETE FROM notify_subscribers WHERE confirmed_ms IS NULL AND created_ms < ?1",
                [p.unconfirmed_before_ms],
            )? as u64;
            tx.commit()?;
            Ok(NotifyPruned {
                deliveries,
                events,
                tokens,
                subscribers,
            })
        })
        .await
    }

    async fn flap_states(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut st =
                c.prepare_cached("SELECT monitor, state FROM notify_flaps ORDER BY monitor")?;
            Ok(st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn save_flap_state(
        &self,
        monitor: &str,
        state: Option<String>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let monitor = monitor.to_owned();
        self.write(move |c| {
            match state {
                Some(state) => c.execute(
                    "INSERT INTO notify_flaps (monitor, state, updated_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (monitor) DO UPDATE SET state = ?2, updated_ms = ?3",
                    params![monitor, state, now_ms],
                )?,
                None => c.execute("DELETE FROM notify_flaps WHERE monitor = ?1", [monitor])?,
            };
            Ok(())
        })
        .await
    }
}

const SUBSCRIBER_COLUMNS: &str = "s.id, s.service, s.kind, s.address, s.components, s.secret,
    s.created_ms, s.confirmed_ms, s.confirm_sent_ms";

fn subscriber_row(r: &Row<'_>) -> rusqlite::Result<SubscriberRow> {
    let kind: String = r.get(2)?;
    let components: String = r.get(4)?;
    Ok(SubscriberRow {
        id: r.get(0)?,
        service: r.get(1)?,
        kind: SubscriberKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("unknown subscriber kind {kind:?}").into(),
            )
        })?,
        address: r.get(3)?,
        components: split_components(&components),
        secret: r.get(5)?,
        created_ms: r.get(6)?,
        confirmed_ms: r.get(7)?,
        confirm_sent_ms: r.get(8)?,
    })
}
