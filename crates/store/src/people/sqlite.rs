//! [`PeopleStore`] on SQLite.

use super::sql::*;
use super::*;
use crate::sqlite::{SqliteStore, bind, execute, query, query_one, query_opt};

#[async_trait]
impl PeopleStore for SqliteStore {
    async fn create_token(&self, t: ApiToken) -> Result<i64, StoreError> {
        self.write(move |c| {
            let mut st = c.prepare_cached(INSERT_TOKEN.sqlite)?;
            match st.query_row(
                bind(&token_params(&t, &t.hash.as_slice(), &t.regions_text())),
                |r| r.get::<_, i64>(0),
            ) {
                Ok(id) => Ok(id),
                Err(e)
                    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) =>
                {
                    Err(name_taken(&t))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    async fn token_by_hash(&self, hash: Hash32) -> Result<Option<ApiToken>, StoreError> {
        self.read(move |c| query_opt(c, &TOKEN_BY_HASH, &[&hash.as_slice()]))
            .await
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.read(move |c| query(c, &TOKENS, &[])).await
    }

    async fn revoke_token(&self, name: &str, now_ms: i64) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.write(move |c| Ok(execute(c, &REVOKE_TOKEN, &[&name, &now_ms])? > 0))
            .await
    }

    async fn save_user(&self, u: UserRow) -> Result<u64, StoreError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            let ended = execute(
                &tx,
                &END_SESSIONS_ON_NEW_PASSWORD,
                &[&u.name, &u.password_hash],
            )?;
            execute(
                &tx,
                &FORGET_FAILURES_ON_NEW_PASSWORD,
                &[&u.name, &u.password_hash],
            )?;
            execute(&tx, &SAVE_USER, &user_params(&u))?;
            tx.commit()?;
            Ok(ended as u64)
        })
        .await
    }

    async fn user(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        let name = name.to_owned();
        self.read(move |c| query_opt(c, &USER, &[&name])).await
    }

    async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        self.read(move |c| query(c, &USERS, &[])).await
    }

    async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.write(move |c| {
            let tx = c.transaction()?;
            execute(&tx, &DELETE_USER_SESSIONS, &[&name])?;
            execute(&tx, &DELETE_USER_FAILURES, &[&name])?;
            let n = execute(&tx, &DELETE_USER, &[&name])?;
            tx.commit()?;
            Ok(n == 1)
        })
        .await
    }

    async fn login_failure(
        &self,
        user: &str,
        client: &str,
    ) -> Result<Option<LoginFailureRow>, StoreError> {
        let (user, client) = (user.to_owned(), client.to_owned());
        self.read(move |c| query_opt(c, &LOGIN_FAILURE, &[&user, &client]))
            .await
    }

    async fn login_failures(&self, user: &str) -> Result<Vec<LoginFailureRow>, StoreError> {
        let user = user.to_owned();
        self.read(move |c| query(c, &LOGIN_FAILURES, &[&user]))
            .await
    }

    async fn record_login_failure(
        &self,
        user: &str,
        client: &str,
        now_ms: i64,
        lock: LockPolicy,
    ) -> Result<LoginFailureRow, StoreError> {
        let (user, client) = (user.to_owned(), client.to_owned());
        self.write(move |c| {
            let tx = c.transaction()?;
            execute(
                &tx,
                &FORGET_LOGIN_FAILURES,
                &[&(now_ms - lock.forget_ms), &now_ms],
            )?;
            let row = query_one(
                &tx,
                &RECORD_LOGIN_FAILURE,
                &failure_params(&user.as_str(), &client.as_str(), &now_ms, &lock),
            )?;
            tx.commit()?;
            Ok(row)
        })
        .await
    }

    async fn clear_login_failures(&self, user: &str, client: &str) -> Result<(), StoreError> {
        let (user, client) = (user.to_owned(), client.to_owned());
        self.write(move |c| {
            execute(c, &CLEAR_LOGIN_FAILURES, &[&user, &client])?;
            Ok(())
        })
        .await
    }

    async fn insert_session(&self, s: SessionRow) -> Result<(), StoreError> {
        self.write(move |c| {
            execute(c, &DELETE_EXPIRED_SESSIONS, &[&s.created_ms])?;
            execute(
                c,
                &INSERT_SESSION,
                &session_params(&s, &s.id_hash.as_slice()),
            )?;
            Ok(())
        })
        .await
    }

    async fn session(
        &self,
        id_hash: Hash32,
        now_ms: i64,
    ) -> Result<Option<SessionRow>, StoreError> {
        self.read(move |c| query_opt(c, &SESSION, &[&id_hash.as_slice(), &now_ms]))
            .await
    }

    async fn delete_session(&self, id_hash: Hash32) -> Result<(), StoreError> {
        self.write(move |c| {
            execute(c, &DELETE_SESSION, &[&id_hash.as_slice()])?;
            Ok(())
        })
        .await
    }
}
