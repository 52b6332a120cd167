//! [`NotifyStore`] on SQLite. One writer connection serialises claims, so two workers never
//! claim the same delivery.

use super::sql::*;
use super::*;
use crate::sqlite::{SqliteStore, execute, query, query_one, query_opt};

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
            execute(&tx, &INSERT_EVENT, &event_params(&e))?;
            let mut new = 0;
            for d in &destinations {
                new += execute(&tx, &INSERT_DELIVERY, &[&e.id, d, &now_ms])? as u32;
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
        let (due, key) = (which.due('?', ""), which.key().to_owned());
        let holder = holder.to_owned();
        self.write(move |c| {
            let tx = c.transaction()?;
            // SQLite has no `FOR UPDATE SKIP LOCKED` (nor needs it, with one writer), and its
            // `RETURNING` cannot feed a join: claim the ids, then read each with its event.
            let ids = {
                let mut st = tx.prepare_cached(&format!(
                    "UPDATE notify_deliveries SET claimed_by = ?2, claimed_until_ms = ?4
                     WHERE id IN ({due})
                     RETURNING id"
                ))?;
                st.query_map(
                    rusqlite::params![key, holder, now_ms, now_ms + claim_ms, limit],
                    |r| r.get::<_, i64>(0),
                )?
                .collect::<Result<Vec<_>, _>>()?
            };
            let mut out = Vec::with_capacity(ids.len());
            {
                let mut st = tx.prepare_cached(concat!(
                    "SELECT ",
                    delivery_columns!(),
                    ", ",
                    event_columns!(),
                    " FROM notify_deliveries d JOIN notify_events e ON e.id = d.event_id
                     WHERE d.id = ?1"
                ))?;
                for id in ids {
                    let mut rows = st.query([id])?;
                    let row = rows.next()?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
                    out.push(ClaimedDelivery::from_row(row)?);
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
            let delivered = delivered_ms(&a);
            let params = attempt_params(&delivery, &holder, &a, &delivered);
            Ok(execute(c, &RECORD_ATTEMPT, &params)? == 1)
        })
        .await
    }

    async fn deliveries(
        &self,
        event_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let event_id = event_id.map(str::to_owned);
        self.read(move |c| query(c, &DELIVERIES, &[&event_id, &i64::from(limit)]))
            .await
    }

    async fn add_subscriber(&self, n: SubscriberRow) -> Result<(SubscriberRow, bool), StoreError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            let components = join_components(&n.components);
            let params = subscriber_params(&n, &components);
            let inserted = execute(&tx, &INSERT_SUBSCRIBER, &params)? == 1;
            let row = query_one(
                &tx,
                &SUBSCRIBER_BY_ADDRESS,
                &[&n.service, &n.kind, &n.address],
            )?;
            tx.commit()?;
            Ok((row, inserted))
        })
        .await
    }

    async fn subscriber(&self, id: i64) -> Result<Option<SubscriberRow>, StoreError> {
        self.read(move |c| query_opt(c, &SUBSCRIBER, &[&id])).await
    }

    async fn subscriber_by_token(
        &self,
        token_hash: &str,
        not_before_ms: i64,
    ) -> Result<Option<SubscriberRow>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.read(move |c| query_opt(c, &SUBSCRIBER_BY_TOKEN, &[&token_hash, &not_before_ms]))
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
            Ok(execute(
                c,
                &ADD_SUBSCRIBER_TOKEN,
                &[&token_hash, &subscriber, &now_ms],
            )? == 1)
        })
        .await
    }

    async fn confirm_subscriber(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        self.write(move |c| Ok(execute(c, &CONFIRM_SUBSCRIBER, &[&id, &now_ms])? == 1))
            .await
    }

    async fn mark_confirmation_sent(
        &self,
        id: i64,
        now_ms: i64,
        unless_since_ms: i64,
    ) -> Result<bool, StoreError> {
        self.write(move |c| {
            Ok(execute(
                c,
                &MARK_CONFIRMATION_SENT,
                &[&id, &now_ms, &unless_since_ms],
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
            let components = join_components(&components);
            Ok(execute(c, &SET_SUBSCRIBER_COMPONENTS, &[&id, &components])? == 1)
        })
        .await
    }

    async fn delete_subscriber(&self, id: i64) -> Result<bool, StoreError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            execute(
                &tx,
                &DELETE_PENDING_DELIVERIES,
                &[&subscriber_destination(id)],
            )?;
            execute(&tx, &DELETE_SUBSCRIBER_TOKENS, &[&id])?;
            let n = execute(&tx, &DELETE_SUBSCRIBER, &[&id])?;
            tx.commit()?;
            Ok(n == 1)
        })
        .await
    }

    async fn confirmed_subscribers(&self, service: &str) -> Result<Vec<SubscriberRow>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| query(c, &CONFIRMED_SUBSCRIBERS, &[&service]))
            .await
    }

    async fn prune_notifications(&self, p: NotifyPrune) -> Result<NotifyPruned, StoreError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            let deliveries = execute(&tx, &PRUNE_DELIVERIES, &[&p.settled_before_ms])? as u64;
            let events = execute(&tx, &PRUNE_EVENTS, &[&p.settled_before_ms])? as u64;
            let tokens = execute(&tx, &PRUNE_TOKENS, &[&p.tokens_before_ms])? as u64;
            execute(&tx, &PRUNE_UNCONFIRMED_TOKENS, &[&p.unconfirmed_before_ms])?;
            let subscribers = execute(&tx, &PRUNE_UNCONFIRMED, &[&p.unconfirmed_before_ms])? as u64;
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
        let rows: Vec<FlapState> = self.read(|c| query(c, &FLAP_STATES, &[])).await?;
        Ok(rows.into_iter().map(|f| (f.0, f.1)).collect())
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
                Some(state) => execute(c, &SAVE_FLAP_STATE, &[&monitor, &state, &now_ms])?,
                None => execute(c, &DELETE_FLAP_STATE, &[&monitor])?,
            };
            Ok(())
        })
        .await
    }
}
