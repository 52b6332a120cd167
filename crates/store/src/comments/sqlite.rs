//! [`CommentStore`] on SQLite.

use super::sql::*;
use super::*;
use crate::sql::One;
use crate::sqlite::{SqliteStore, execute, query, query_one, query_opt};

#[async_trait]
impl CommentStore for SqliteStore {
    async fn insert_comment(&self, c: NewComment) -> Result<i64, StoreError> {
        self.write(move |conn| {
            let One(id) = query_one(
                conn,
                &INSERT_COMMENT,
                &new_comment_params(&c, &c.client_hash.as_slice(), &c.network_hash.as_slice()),
            )?;
            Ok(id)
        })
        .await
    }

    async fn shown_comments(
        &self,
        service: &str,
        limit: u32,
    ) -> Result<Vec<CommentRow>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| {
            query(
                c,
                &NEWEST_IN_STATE,
                &[&service, &CommentState::Shown, &i64::from(limit)],
            )
        })
        .await
    }

    async fn pending_comments(
        &self,
        service: &str,
        limit: u32,
    ) -> Result<Vec<CommentRow>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| {
            query(
                c,
                &OLDEST_IN_STATE,
                &[&service, &CommentState::Pending, &i64::from(limit)],
            )
        })
        .await
    }

    async fn pending_comment_count(&self, service: &str) -> Result<u64, StoreError> {
        let service = service.to_owned();
        self.read(move |c| {
            let One(n): One<i64> = query_one(c, &PENDING_COUNT, &[&service])?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    async fn moderated_comments(
        &self,
        service: &str,
        limit: u32,
    ) -> Result<Vec<CommentRow>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| query(c, &MODERATED, &[&service, &i64::from(limit)]))
            .await
    }

    async fn comment(&self, service: &str, id: i64) -> Result<Option<CommentRow>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| query_opt(c, &COMMENT, &[&service, &id]))
            .await
    }

    async fn moderate_comment(
        &self,
        id: i64,
        service: &str,
        state: CommentState,
        by: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let (service, by) = (service.to_owned(), by.to_owned());
        self.write(move |c| Ok(execute(c, &MODERATE, &[&id, &service, &state, &by, &now_ms])? > 0))
            .await
    }

    async fn ban_network(
        &self,
        service: &str,
        network_hash: Hash16,
        until_ms: i64,
        by: &str,
    ) -> Result<(), StoreError> {
        let (service, by) = (service.to_owned(), by.to_owned());
        self.write(move |c| {
            execute(
                c,
                &BAN_NETWORK,
                &[&service, &network_hash.as_slice(), &until_ms, &by],
            )?;
            Ok(())
        })
        .await
    }

    async fn network_banned(
        &self,
        service: &str,
        network_hash: Hash16,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let service = service.to_owned();
        self.read(move |c| {
            let hit: Option<One<i64>> = query_opt(
                c,
                &NETWORK_BANNED,
                &[&service, &network_hash.as_slice(), &now_ms],
            )?;
            Ok(hit.is_some())
        })
        .await
    }
}
