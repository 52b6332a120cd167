//! The store's one error type.

/// What went wrong in the store, in terms callers can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is busy: retry later (HTTP 503).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store settings are wrong (bad URL, unwritable directory).
    #[error("store configuration: {0}")]
    Config(String),
    /// A migration failed or the schema is newer than this binary.
    #[error("store migration: {0}")]
    Migration(String),
    /// A write lost a race or broke a uniqueness rule (a name taken, a stale version).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row to change does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A stored value this version cannot read: a word outside the vocabulary, or JSON of
    /// the wrong shape (a row written by hand, or by a newer version).
    #[error("store: {table}.{column} holds {value:?}, which this version cannot read ({why})")]
    Unreadable {
        table: &'static str,
        column: &'static str,
        value: String,
        why: String,
    },
    /// Anything else the database reported.
    #[error("store error: {0}")]
    Internal(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::*;
        match e.sqlite_error_code() {
            Some(DatabaseBusy | DatabaseLocked | CannotOpen | DiskFull | SystemIoFailure) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Internal(e.to_string()),
        }
    }
}

// Both keep their sources in the message: tokio-postgres says only "db error" or "error
// communicating with the server" at the top, and the reason (the server's message, a
// timeout, a TLS verdict) below.
impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // A server shutting down, starting up or in recovery says so with a code (class 57P:
        // operator intervention; class 08: connection exception): retry later, like a
        // server that cannot be reached.
        let going_away = e.code().is_some_and(|c| {
            let c = c.code();
            c.starts_with("57P") || c.starts_with("08")
        });
        if e.is_closed() || e.code().is_none() || going_away {
            StoreError::Unavailable(crate::postgres::chain(&e))
        } else {
            StoreError::Internal(crate::postgres::chain(&e))
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        let words = match &e {
            deadpool_postgres::PoolError::Backend(pg) => crate::postgres::chain(pg),
            other => other.to_string(),
        };
        StoreError::Unavailable(format!("no PostgreSQL connection: {words}"))
    }
}
