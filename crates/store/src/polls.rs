//! Where each built-in poller of a signal source got to ([`PollStore`]): its own state as
//! JSON (cursor, conditional-request validators, recently seen posts). The posts a round
//! found are stored first ([`crate::SignalStore::insert_signals`], which keeps each once),
//! the state after: a crash between the two fetches those posts again, and storing them
//! again changes nothing.

use crate::StoreError;
use crate::postgres::{PgStore, execute as pg_execute, query_opt as pg_query_opt};
use crate::sql::One;
use crate::sqlite::{SqliteStore, execute, query_opt};
use async_trait::async_trait;

#[async_trait]
pub trait PollStore: Send + Sync {
    /// The state last saved for `service`'s source `source`, if any.
    async fn poll_state(&self, service: &str, source: &str) -> Result<Option<String>, StoreError>;

    /// Saves it, replacing the one before.
    async fn save_poll_state(
        &self,
        service: &str,
        source: &str,
        state: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;
}

mod sql {
    use crate::sql::{Sql, sql};

    pub const POLL_STATE: Sql =
        sql!("SELECT state FROM poll_states WHERE service = $1 AND source = $2");
    pub const SAVE_POLL_STATE: Sql = sql!(
        "INSERT INTO poll_states (service, source, state, updated_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (service, source) DO UPDATE SET state = excluded.state,
            updated_ms = excluded.updated_ms"
    );
}

#[async_trait]
impl PollStore for SqliteStore {
    async fn poll_state(&self, service: &str, source: &str) -> Result<Option<String>, StoreError> {
        let (service, source) = (service.to_owned(), source.to_owned());
        self.read(move |c| query_opt::<One<String>>(c, &sql::POLL_STATE, &[&service, &source]))
            .await
            .map(|o| o.map(|One(s)| s))
    }

    async fn save_poll_state(
        &self,
        service: &str,
        source: &str,
        state: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let (service, source, state) = (service.to_owned(), source.to_owned(), state.to_owned());
        self.write(move |c| {
            execute(
                c,
                &sql::SAVE_POLL_STATE,
                &[&service, &source, &state, &now_ms],
            )
            .map(drop)
        })
        .await
    }
}

#[async_trait]
impl PollStore for PgStore {
    async fn poll_state(&self, service: &str, source: &str) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        pg_query_opt::<One<String>>(&client, &sql::POLL_STATE, &[&service, &source])
            .await
            .map(|o| o.map(|One(s)| s))
    }

    async fn save_poll_state(
        &self,
        service: &str,
        source: &str,
        state: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        pg_execute(
            &client,
            &sql::SAVE_POLL_STATE,
            &[&service, &source, &state, &now_ms],
        )
        .await
        .map(drop)
    }
}
