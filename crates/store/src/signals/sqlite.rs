//! [`SignalStore`] on SQLite.

use super::sql::*;
use super::*;
use crate::sqlite::{SqliteStore, execute, query};

#[async_trait]
impl SignalStore for SqliteStore {
    async fn insert_signals(
        &self,
        service: &str,
        batch: &[Signal],
        now_ms: i64,
    ) -> Result<SignalsStored, StoreError> {
        let service = service.to_owned();
        let batch = batch.to_vec();
        self.write(move |c| {
            let tx = c.transaction()?;
            let mut out = SignalsStored::default();
            for s in &batch {
                let Signal::Post(p) = s else { continue };
                let new = execute(
                    &tx,
                    &INSERT_POST,
                    &[
                        &service,
                        &p.source.as_str(),
                        &post_key(p),
                        &p.at_ms,
                        &p.text,
                        &p.url,
                        &p.lang,
                        &now_ms,
                        &p.kind.as_ref().map(|k| k.as_str()),
                    ],
                )? > 0;
                if new {
                    execute(
                        &tx,
                        &ADD_POST,
                        &[&service, &p.source.as_str(), &minute_of(p.at_ms)],
                    )?;
                    out.new_posts += 1;
                } else {
                    out.known_posts += 1;
                }
            }
            for ((source, minute), count) in counts_of(&batch) {
                execute(&tx, &SET_COUNT, &[&service, &source, &minute, &count])?;
                out.counts += 1;
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn signal_minutes(
        &self,
        service: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<SignalMinute>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| query(c, &SIGNAL_MINUTES, &[&service, &since_ms, &until_ms]))
            .await
    }

    async fn signal_kinds(
        &self,
        service: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<SignalKind>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| query(c, &SIGNAL_KINDS, &[&service, &since_ms, &until_ms]))
            .await
    }
}
