//! [`PeopleStore`] on PostgreSQL.

use super::sql::*;
use super::*;
use crate::postgres::{PgStore, bind, execute, query, query_one, query_opt, refs};
use tokio_postgres::error::SqlState;

#[async_trait]
impl PeopleStore for PgStore {
    async fn create_token(&self, t: ApiToken) -> Result<i64, StoreError> {
        let res = self
            .client()
            .await?
            .query_one(
                INSERT_TOKEN.postgres,
                &refs(&bind(&token_params(
                    &t,
                    &t.hash.as_slice(),
                    &t.regions_text(),
                ))),
            )
            .await;
        match res {
            Ok(row) => Ok(row.get(0)),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(name_taken(&t)),
            Err(e) => Err(e.into()),
        }
    }

    async fn token_by_hash(&self, hash: Hash32) -> Result<Option<ApiToken>, StoreError> {
        let client = self.client().await?;
        query_opt(&client, &TOKEN_BY_HASH, &[&hash.as_slice()]).await
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let client = self.client().await?;
        query(&client, &TOKENS, &[]).await
    }

    async fn revoke_token(&self, name: &str, now_ms: i64) -> Result<bool, StoreError> {
        let client = self.client().await?;
        Ok(execute(&client, &REVOKE_TOKEN, &[&name, &now_ms]).await? > 0)
    }

    async fn save_user(&self, u: UserRow) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let ended = execute(
            &tx,
            &END_SESSIONS_ON_NEW_PASSWORD,
            &[&u.name, &u.password_hash],
        )
        .await?;
        execute(
            &tx,
            &FORGET_FAILURES_ON_NEW_PASSWORD,
            &[&u.name, &u.password_hash],
        )
        .await?;
        execute(&tx, &SAVE_USER, &user_params(&u)).await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn user(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        let client = self.client().await?;
        query_opt(&client, &USER, &[&name]).await
    }

    async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let client = self.client().await?;
        query(&client, &USERS, &[]).await
    }

    async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        execute(&tx, &DELETE_USER_SESSIONS, &[&name]).await?;
        execute(&tx, &DELETE_USER_FAILURES, &[&name]).await?;
        let n = execute(&tx, &DELETE_USER, &[&name]).await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn login_failure(
        &self,
        user: &str,
        client: &str,
    ) -> Result<Option<LoginFailureRow>, StoreError> {
        let c = self.client().await?;
        query_opt(&c, &LOGIN_FAILURE, &[&user, &client]).await
    }

    async fn login_failures(&self, user: &str) -> Result<Vec<LoginFailureRow>, StoreError> {
        let c = self.client().await?;
        query(&c, &LOGIN_FAILURES, &[&user]).await
    }

    async fn record_login_failure(
        &self,
        user: &str,
        client: &str,
        now_ms: i64,
        lock: LockPolicy,
    ) -> Result<LoginFailureRow, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        execute(
            &tx,
            &FORGET_LOGIN_FAILURES,
            &[&(now_ms - lock.forget_ms), &now_ms],
        )
        .await?;
        let row = query_one(
            &tx,
            &RECORD_LOGIN_FAILURE,
            &failure_params(&user, &client, &now_ms, &lock),
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn clear_login_failures(&self, user: &str, client: &str) -> Result<(), StoreError> {
        let c = self.client().await?;
        execute(&c, &CLEAR_LOGIN_FAILURES, &[&user, &client]).await?;
        Ok(())
    }

    async fn insert_session(&self, s: SessionRow) -> Result<(), StoreError> {
        let client = self.client().await?;
        execute(&client, &DELETE_EXPIRED_SESSIONS, &[&s.created_ms]).await?;
        execute(
            &client,
            &INSERT_SESSION,
            &session_params(&s, &s.id_hash.as_slice()),
        )
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        id_hash: Hash32,
        now_ms: i64,
    ) -> Result<Option<SessionRow>, StoreError> {
        let client = self.client().await?;
        query_opt(&client, &SESSION, &[&id_hash.as_slice(), &now_ms]).await
    }

    async fn delete_session(&self, id_hash: Hash32) -> Result<(), StoreError> {
        let client = self.client().await?;
        execute(&client, &DELETE_SESSION, &[&id_hash.as_slice()]).await?;
        Ok(())
    }
}
