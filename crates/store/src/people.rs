//! People: API tokens, admin users, their signed-in sessions and their failed sign-ins per
//! client ([`PeopleStore`]). Secrets are stored only as hashes.

mod postgres;
mod sqlite;

use crate::StoreError;
use crate::sql::{At, FromRow, Param, RowLike, bytes};
use async_trait::async_trait;
use downbeat_domain::{Role, Slug};

#[async_trait]
pub trait PeopleStore: Send + Sync + 'static {
    /// Stores a new token. A name already taken is [`StoreError::Conflict`].
    async fn create_token(&self, token: ApiToken) -> Result<i64, StoreError>;
    /// The unrevoked token with this hash.
    async fn token_by_hash(&self, hash: Hash32) -> Result<Option<ApiToken>, StoreError>;
    /// Every token, revoked ones included, by name.
    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError>;
    /// Revokes a token by name; whether one was revoked.
    async fn revoke_token(&self, name: &str, now_ms: i64) -> Result<bool, StoreError>;

    /// Inserts or replaces a user. When its password hash changes, its sessions end and its
    /// sign-in failures are forgotten, in the same transaction (a new password signs everyone
    /// out, whoever set it). Returns how many sessions ended.
    async fn save_user(&self, user: UserRow) -> Result<u64, StoreError>;
    async fn user(&self, name: &str) -> Result<Option<UserRow>, StoreError>;
    async fn users(&self) -> Result<Vec<UserRow>, StoreError>;
    /// Deletes a user with its sessions and sign-in failures; whether there was one.
    async fn delete_user(&self, name: &str) -> Result<bool, StoreError>;

    /// The failed sign-ins of `user` from `client` since the last success from there.
    async fn login_failure(
        &self,
        user: &str,
        client: &str,
    ) -> Result<Option<LoginFailureRow>, StoreError>;
    /// Every client's failed sign-ins for `user`, by client.
    async fn login_failures(&self, user: &str) -> Result<Vec<LoginFailureRow>, StoreError>;
    /// Counts one more failed sign-in of `user` from `client` at `now_ms` and, every
    /// `lock.every` failures, locks that pair for `lock.for_ms` — in one statement, so racing
    /// attempts each count. Failures older than `lock.forget_ms` that lock nothing are
    /// forgotten first (any user's). Returns the pair's row as it now is.
    async fn record_login_failure(
        &self,
        user: &str,
        client: &str,
        now_ms: i64,
        lock: LockPolicy,
    ) -> Result<LoginFailureRow, StoreError>;
    /// Forgets the failures of `user` from `client` (it signed in from there).
    async fn clear_login_failures(&self, user: &str, client: &str) -> Result<(), StoreError>;

    async fn insert_session(&self, session: SessionRow) -> Result<(), StoreError>;
    /// The session with this hash, if it has not expired at `now_ms`.
    async fn session(&self, id_hash: Hash32, now_ms: i64)
    -> Result<Option<SessionRow>, StoreError>;
    async fn delete_session(&self, id_hash: Hash32) -> Result<(), StoreError>;
}

/// Every statement of this stage runs as written on both backends; only telling a unique
/// violation apart is the driver's (see `sqlite.rs` and `postgres.rs`).
pub(crate) mod sql {
    use crate::sql::{Sql, sql};

    /// Parameters: [`super::token_params`].
    pub const INSERT_TOKEN: Sql = sql!(
        "INSERT INTO api_tokens (name, role, hash, created_ms, revoked_ms, regions)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
    );
    pub const TOKEN_BY_HASH: Sql = sql!(
        "SELECT id, name, role, hash, created_ms, revoked_ms, regions FROM api_tokens
         WHERE hash = $1 AND revoked_ms IS NULL"
    );
    pub const TOKENS: Sql = sql!(
        "SELECT id, name, role, hash, created_ms, revoked_ms, regions FROM api_tokens ORDER BY name"
    );
    pub const REVOKE_TOKEN: Sql =
        sql!("UPDATE api_tokens SET revoked_ms = $2 WHERE name = $1 AND revoked_ms IS NULL");
    /// Parameters: `$1` the user's name, `$2` the new password hash. Run before
    /// [`SAVE_USER`]: a changed password ends the user's sessions and forgets its failures.
    pub const END_SESSIONS_ON_NEW_PASSWORD: Sql = sql!(
        "DELETE FROM sessions WHERE user_name IN
            (SELECT name FROM users WHERE name = $1 AND password_hash <> $2)"
    );
    pub const FORGET_FAILURES_ON_NEW_PASSWORD: Sql = sql!(
        "DELETE FROM login_failures WHERE user_name IN
            (SELECT name FROM users WHERE name = $1 AND password_hash <> $2)"
    );
    /// Parameters: [`super::user_params`].
    pub const SAVE_USER: Sql = sql!(
        "INSERT INTO users (name, role, password_hash, created_ms, from_config)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name) DO UPDATE SET role = excluded.role,
            password_hash = excluded.password_hash, from_config = excluded.from_config"
    );
    pub const USER: Sql = sql!(
        "SELECT name, role, password_hash, created_ms, from_config FROM users WHERE name = $1"
    );
    pub const USERS: Sql =
        sql!("SELECT name, role, password_hash, created_ms, from_config FROM users ORDER BY name");
    pub const DELETE_USER_SESSIONS: Sql = sql!("DELETE FROM sessions WHERE user_name = $1");
    pub const DELETE_USER_FAILURES: Sql = sql!("DELETE FROM login_failures WHERE user_name = $1");
    pub const DELETE_USER: Sql = sql!("DELETE FROM users WHERE name = $1");
    pub const LOGIN_FAILURE: Sql = sql!(
        "SELECT user_name, client, failures, last_failure_ms, locked_until_ms
         FROM login_failures WHERE user_name = $1 AND client = $2"
    );
    pub const LOGIN_FAILURES: Sql = sql!(
        "SELECT user_name, client, failures, last_failure_ms, locked_until_ms
         FROM login_failures WHERE user_name = $1 ORDER BY client"
    );
    /// `$1` forget failures before this, `$2` now.
    pub const FORGET_LOGIN_FAILURES: Sql = sql!(
        "DELETE FROM login_failures
         WHERE last_failure_ms < $1 AND (locked_until_ms IS NULL OR locked_until_ms <= $2)"
    );
    /// `$1` user, `$2` client, `$3` now, `$4` failures per lock, `$5` lock length. The
    /// casts type parameters PostgreSQL cannot infer from arithmetic alone.
    pub const RECORD_LOGIN_FAILURE: Sql = sql!(
        "INSERT INTO login_failures AS f (user_name, client, failures, last_failure_ms,
            locked_until_ms)
         VALUES ($1, $2, 1, $3,
            CASE WHEN CAST($4 AS BIGINT) <= 1 THEN CAST($3 AS BIGINT) + CAST($5 AS BIGINT) END)
         ON CONFLICT (user_name, client) DO UPDATE SET
            failures = f.failures + 1,
            last_failure_ms = excluded.last_failure_ms,
            locked_until_ms = CASE WHEN (f.failures + 1) % CAST($4 AS BIGINT) = 0
                THEN CAST($3 AS BIGINT) + CAST($5 AS BIGINT) ELSE f.locked_until_ms END
         RETURNING user_name, client, failures, last_failure_ms, locked_until_ms"
    );
    pub const CLEAR_LOGIN_FAILURES: Sql =
        sql!("DELETE FROM login_failures WHERE user_name = $1 AND client = $2");
    // Expired sessions go as new ones arrive.
    pub const DELETE_EXPIRED_SESSIONS: Sql = sql!("DELETE FROM sessions WHERE expires_ms < $1");
    /// Parameters: [`super::session_params`].
    pub const INSERT_SESSION: Sql = sql!(
        "INSERT INTO sessions (id_hash, user_name, csrf, created_ms, expires_ms)
         VALUES ($1, $2, $3, $4, $5)"
    );
    pub const SESSION: Sql = sql!(
        "SELECT id_hash, user_name, csrf, created_ms, expires_ms FROM sessions
         WHERE id_hash = $1 AND expires_ms > $2"
    );
    pub const DELETE_SESSION: Sql = sql!("DELETE FROM sessions WHERE id_hash = $1");
}

/// A SHA-256 digest.
pub type Hash32 = [u8; 32];

/// An API token: only the hash of its secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub hash: Hash32,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
    /// The vantage regions the token may push agent results for (and fetch assignments
    /// of); empty: none. Stored as one space-separated text.
    pub regions: Vec<Slug>,
}

impl ApiToken {
    /// The regions as stored: space-separated.
    fn regions_text(&self) -> String {
        let words: Vec<&str> = self.regions.iter().map(Slug::as_str).collect();
        words.join(" ")
    }
}

impl FromRow for ApiToken {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        let regions: String = r.get(6)?;
        Ok(ApiToken {
            id: r.get(0)?,
            name: r.get(1)?,
            role: r.word(2, At("api_tokens", "role"))?,
            hash: bytes(r.get(3)?, "hash")?,
            created_ms: r.get(4)?,
            revoked_ms: r.get(5)?,
            regions: regions
                .split_whitespace()
                .map(|w| {
                    Slug::parse(w)
                        .map_err(|e| At("api_tokens", "regions").unreadable(regions.clone(), e))
                })
                .collect::<Result<_, _>>()?,
        })
    }
}

/// The parameters of [`sql::INSERT_TOKEN`]. `hash` is `t.hash` as a slice and `regions` the
/// stored text of `t.regions`, made by the caller (both drivers bind byte slices, not
/// arrays).
fn token_params<'a>(
    t: &'a ApiToken,
    hash: &'a &'a [u8],
    regions: &'a String,
) -> [&'a dyn Param; 6] {
    [
        &t.name,
        &t.role,
        hash,
        &t.created_ms,
        &t.revoked_ms,
        regions,
    ]
}

/// What a second token of the same name is.
fn name_taken(t: &ApiToken) -> StoreError {
    StoreError::Conflict(format!("a token named {:?} already exists", t.name))
}

/// An admin user. `password_hash` is an argon2 PHC string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub name: String,
    /// Viewer, editor or admin.
    pub role: Role,
    pub password_hash: String,
    pub created_ms: i64,
    /// Written from the config file's `[[user]]` tables (so it goes when the file no longer
    /// names it); false for users written with `downbeat user add`.
    pub from_config: bool,
}

impl FromRow for UserRow {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(UserRow {
            name: r.get(0)?,
            role: r.word(1, At("users", "role"))?,
            password_hash: r.get(2)?,
            created_ms: r.get(3)?,
            from_config: r.get(4)?,
        })
    }
}

/// The parameters of [`sql::SAVE_USER`].
fn user_params(u: &UserRow) -> [&dyn Param; 5] {
    [
        &u.name,
        &u.role,
        &u.password_hash,
        &u.created_ms,
        &u.from_config,
    ]
}

/// Failed sign-ins of one user from one client (an address, or an IPv6 /64), since the
/// last success from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFailureRow {
    pub user: String,
    pub client: String,
    pub failures: i64,
    pub last_failure_ms: i64,
    /// Sign-ins of this user from this client are refused until then.
    pub locked_until_ms: Option<i64>,
}

impl LoginFailureRow {
    /// Whether the pair is locked at `now_ms`.
    pub fn locked_at(&self, now_ms: i64) -> bool {
        self.locked_until_ms.is_some_and(|t| t > now_ms)
    }
}

impl FromRow for LoginFailureRow {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(LoginFailureRow {
            user: r.get(0)?,
            client: r.get(1)?,
            failures: r.get(2)?,
            last_failure_ms: r.get(3)?,
            locked_until_ms: r.get(4)?,
        })
    }
}

/// How failed sign-ins lock a (user, client) pair: see
/// [`PeopleStore::record_login_failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockPolicy {
    /// Every this many failures lock the pair (at least 1)...
    pub every: i64,
    /// ...for this long.
    pub for_ms: i64,
    /// Failures this old that lock nothing are forgotten.
    pub forget_ms: i64,
}

/// The parameters of [`sql::RECORD_LOGIN_FAILURE`].
fn failure_params<'a>(
    user: &'a &'a str,
    client: &'a &'a str,
    now_ms: &'a i64,
    lock: &'a LockPolicy,
) -> [&'a dyn Param; 5] {
    [user, client, now_ms, &lock.every, &lock.for_ms]
}

/// A signed-in admin session: only the hash of its cookie value is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id_hash: Hash32,
    pub user: String,
    pub csrf: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

impl FromRow for SessionRow {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(SessionRow {
            id_hash: bytes(r.get(0)?, "hash")?,
            user: r.get(1)?,
            csrf: r.get(2)?,
            created_ms: r.get(3)?,
            expires_ms: r.get(4)?,
        })
    }
}

/// The parameters of [`sql::INSERT_SESSION`]. `id_hash` is `s.id_hash` as a slice, made by
/// the caller (both drivers bind byte slices, not arrays).
fn session_params<'a>(s: &'a SessionRow, id_hash: &'a &'a [u8]) -> [&'a dyn Param; 5] {
    [id_hash, &s.user, &s.csrf, &s.created_ms, &s.expires_ms]
}
