//! [`CommentStore`] on PostgreSQL.

use super::sql::*;
use super::*;
use crate::postgres::{PgStore, execute, query, query_one, query_opt};
use crate::sql::One;

#[async_trait]
impl CommentStore for PgStore {
    async fn insert_comment(&self, c: NewComment) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let One(id) = query_one(
            &client,
            &INSERT_COMMENT,
            &new_comment_params(&c, &c.client_hash.as_slice(), &c.network_hash.as_slice()),
        )
        .await?;
        Ok(id)
    }

    async fn shown_comments(
        &self,
        service: &str,
        limit: u32,
    ) -> Result<Vec<CommentRow>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            &NEWEST_IN_STATE,
            &[&service, &CommentState::Shown, &i64::from(limit)],
        )
        .await
    }

    async fn pending_comments(
        &self,
        service: &str,
        limit: u32,
    ) -> Result<Vec<CommentRow>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            &OLDEST_IN_STATE,
            &[&service, &CommentState::Pending, &i64::from(limit)],
        )
        .await
    }

    async fn pending_comment_count(&self, service: &str) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let One(n): One<i64> = query_one(&client, &PENDING_COUNT, &[&service]).await?;
        Ok(n.max(0) as u64)
    }

    async fn moderated_comments(
        &self,
        service: &str,
        limit: u32,
    ) -> Result<Vec<CommentRow>, StoreError> {
        let client = self.client().await?;
        query(&client, &MODERATED, &[&service, &i64::from(limit)]).await
    }

    async fn comment(&self, service: &str, id: i64) -> Result<Option<CommentRow>, StoreError> {
        let client = self.client().await?;
        query_opt(&client, &COMMENT, &[&service, &id]).await
    }

    async fn moderate_comment(
        &self,
        id: i64,
        service: &str,
        state: CommentState,
        by: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        Ok(execute(&client, &MODERATE, &[&id, &service, &state, &by, &now_ms]).await? > 0)
    }

    async fn ban_network(
        &self,
        service: &str,
        network_hash: Hash16,
        until_ms: i64,
        by: &str,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        execute(
            &client,
            &BAN_NETWORK,
            &[&service, &network_hash.as_slice(), &until_ms, &by],
        )
        .await?;
        Ok(())
    }

    async fn network_banned(
        &self,
        service: &str,
        network_hash: Hash16,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let hit: Option<One<i64>> = query_opt(
            &client,
            &NETWORK_BANNED,
            &[&service, &network_hash.as_slice(), &now_ms],
        )
        .await?;
        Ok(hit.is_some())
    }
}
