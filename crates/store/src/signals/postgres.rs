//! [`SignalStore`] on PostgreSQL.

use super::sql::*;
use super::*;
use crate::postgres::{PgStore, execute, query};

#[async_trait]
impl SignalStore for PgStore {
    async fn insert_signals(
        &self,
        service: &str,
        batch: &[Signal],
        now_ms: i64,
    ) -> Result<SignalsStored, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut out = SignalsStored::default();
        // Posts in key order, so two nodes storing overlapping batches lock rows in one order.
        let mut posts: Vec<(String, &Post)> = batch
            .iter()
            .filter_map(|s| match s {
                Signal::Post(p) => Some((post_key(p), p)),
                Signal::Count { .. } => None,
            })
            .collect();
        posts.sort_by(|a, b| (a.1.source.as_str(), &a.0).cmp(&(b.1.source.as_str(), &b.0)));
        for (key, p) in &posts {
            let new = execute(
                &tx,
                &INSERT_POST,
                &[
                    &service,
                    &p.source.as_str(),
                    key,
                    &p.at_ms,
                    &p.text,
                    &p.url,
                    &p.lang,
                    &now_ms,
                    &p.kind.as_ref().map(|k| k.as_str()),
                ],
            )
            .await?
                > 0;
            if new {
                execute(
                    &tx,
                    &ADD_POST,
                    &[&service, &p.source.as_str(), &minute_of(p.at_ms)],
                )
                .await?;
                out.new_posts += 1;
            } else {
                out.known_posts += 1;
            }
        }
        for ((source, minute), count) in counts_of(batch) {
            execute(&tx, &SET_COUNT, &[&service, &source, &minute, &count]).await?;
            out.counts += 1;
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn signal_minutes(
        &self,
        service: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<SignalMinute>, StoreError> {
        let client = self.client().await?;
        query(&client, &SIGNAL_MINUTES, &[&service, &since_ms, &until_ms]).await
    }

    async fn signal_kinds(
        &self,
        service: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<SignalKind>, StoreError> {
        let client = self.client().await?;
        query(&client, &SIGNAL_KINDS, &[&service, &since_ms, &until_ms]).await
    }
}
