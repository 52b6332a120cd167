//! [`NotifyStore`] on PostgreSQL. Claims lock their rows with `FOR UPDATE SKIP LOCKED`, so
//! nodes claiming at the same moment take different deliveries.

use super::sql::*;
use super::*;
use crate::postgres::{PgStore, execute, query, query_one, query_opt};

#[async_trait]
impl NotifyStore for PgStore {
    fn shared(&self) -> bool {
        true
    }

    async fn enqueue_notification(
        &self,
        e: NotifyEventRow,
        destinations: Vec<String>,
        now_ms: i64,
    ) -> Result<u32, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        execute(&tx, &INSERT_EVENT, &event_params(&e)).await?;
        let mut new = 0;
        for d in &destinations {
            new += execute(&tx, &INSERT_DELIVERY, &[&e.id, d, &now_ms]).await? as u32;
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
        let (due, key) = (which.due('$', "FOR UPDATE SKIP LOCKED"), which.key());
        let client = self.client().await?;
        // One statement: `SKIP LOCKED` lets concurrent nodes pass over each other's rows,
        // and the claimed rows feed the join directly (both PostgreSQL's; SQLite claims ids
        // first, then reads them).
        let rows = client
            .query(
                &format!(
                    concat!(
                        "WITH claimed AS (
                        UPDATE notify_deliveries SET claimed_by = $2, claimed_until_ms = $4
                        WHERE id IN ({due})
                        RETURNING *)
                     SELECT ",
                        delivery_columns!(),
                        ", ",
                        event_columns!(),
                        " FROM claimed d JOIN notify_events e ON e.id = d.event_id
                     ORDER BY d.next_attempt_ms, d.id"
                    ),
                    due = due
                ),
                &[
                    &key,
                    &holder,
                    &now_ms,
                    &(now_ms + claim_ms),
                    &i64::from(limit),
                ],
            )
            .await?;
        rows.iter().map(ClaimedDelivery::from_row).collect()
    }

    async fn record_attempt(
        &self,
        delivery: i64,
        holder: &str,
        a: Attempt,
    ) -> Result<bool, StoreError> {
        let holder = holder.to_owned();
        let delivered = delivered_ms(&a);
        let client = self.client().await?;
        let params = attempt_params(&delivery, &holder, &a, &delivered);
        Ok(execute(&client, &RECORD_ATTEMPT, &params).await? == 1)
    }

    async fn deliveries(
        &self,
        event_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let client = self.client().await?;
        query(&client, &DELIVERIES, &[&event_id, &i64::from(limit)]).await
    }

    async fn add_subscriber(&self, n: SubscriberRow) -> Result<(SubscriberRow, bool), StoreError> {
        let client = self.client().await?;
        let components = join_components(&n.components);
        let params = subscriber_params(&n, &components);
        let inserted = execute(&client, &INSERT_SUBSCRIBER, &params).await? == 1;
        let row = query_one(
            &client,
            &SUBSCRIBER_BY_ADDRESS,
            &[&n.service, &n.kind, &n.address],
        )
        .await?;
        Ok((row, inserted))
    }

    async fn subscriber(&self, id: i64) -> Result<Option<SubscriberRow>, StoreError> {
        let client = self.client().await?;
        query_opt(&client, &SUBSCRIBER, &[&id]).await
    }

    async fn subscriber_by_token(
        &self,
        token_hash: &str,
        not_before_ms: i64,
    ) -> Result<Option<SubscriberRow>, StoreError> {
        let client = self.client().await?;
        query_opt(
            &client,
            &SUBSCRIBER_BY_TOKEN,
            &[&token_hash, &not_before_ms],
        )
        .await
    }

    async fn add_subscriber_token(
        &self,
        subscriber: i64,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = execute(
            &client,
            &ADD_SUBSCRIBER_TOKEN,
            &[&token_hash, &subscriber, &now_ms],
        )
        .await?;
        Ok(n == 1)
    }

    async fn confirm_subscriber(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        let client = self.client().await?;
        Ok(execute(&client, &CONFIRM_SUBSCRIBER, &[&id, &now_ms]).await? == 1)
    }

    async fn mark_confirmation_sent(
        &self,
        id: i64,
        now_ms: i64,
        unless_since_ms: i64,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = execute(
            &client,
            &MARK_CONFIRMATION_SENT,
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
        let components = join_components(&components);
        let client = self.client().await?;
        Ok(execute(&client, &SET_SUBSCRIBER_COMPONENTS, &[&id, &components]).await? == 1)
    }

    async fn delete_subscriber(&self, id: i64) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        execute(
            &tx,
            &DELETE_PENDING_DELIVERIES,
            &[&subscriber_destination(id)],
        )
        .await?;
        execute(&tx, &DELETE_SUBSCRIBER_TOKENS, &[&id]).await?;
        let n = execute(&tx, &DELETE_SUBSCRIBER, &[&id]).await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn confirmed_subscribers(&self, service: &str) -> Result<Vec<SubscriberRow>, StoreError> {
        let client = self.client().await?;
        query(&client, &CONFIRMED_SUBSCRIBERS, &[&service]).await
    }

    async fn prune_notifications(&self, p: NotifyPrune) -> Result<NotifyPruned, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let deliveries = execute(&tx, &PRUNE_DELIVERIES, &[&p.settled_before_ms]).await?;
        let events = execute(&tx, &PRUNE_EVENTS, &[&p.settled_before_ms]).await?;
        let tokens = execute(&tx, &PRUNE_TOKENS, &[&p.tokens_before_ms]).await?;
        execute(&tx, &PRUNE_UNCONFIRMED_TOKENS, &[&p.unconfirmed_before_ms]).await?;
        let subscribers = execute(&tx, &PRUNE_UNCONFIRMED, &[&p.unconfirmed_before_ms]).await?;
        tx.commit().await?;
        Ok(NotifyPruned {
            deliveries,
            events,
            tokens,
            subscribers,
        })
    }

    async fn flap_states(&self) -> Result<Vec<(String, String)>, StoreError> {
        let client = self.client().await?;
        let rows: Vec<FlapState> = query(&client, &FLAP_STATES, &[]).await?;
        Ok(rows.into_iter().map(|f| (f.0, f.1)).collect())
    }

    async fn save_flap_state(
        &self,
        monitor: &str,
        state: Option<String>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        match state {
            Some(state) => execute(&client, &SAVE_FLAP_STATE, &[&monitor, &state, &now_ms]).await?,
            None => execute(&client, &DELETE_FLAP_STATE, &[&monitor]).await?,
        };
        Ok(())
    }
}
