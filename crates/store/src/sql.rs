//! What both backends share: statements written once, parameters bound once, rows read once.
//!
//! A statement is written in PostgreSQL's `$N` placeholders; [`sql!`] derives SQLite's `?N`
//! spelling at compile time (rusqlite binds `?NNN` by number, as PostgreSQL binds `$N`), so
//! the two texts cannot drift apart. A row type is read by one [`FromRow`] impl over
//! [`RowLike`], which both `rusqlite::Row` and `tokio_postgres::Row` implement; a value is
//! bound through [`Param`], which both drivers accept.

use crate::StoreError;

/// One statement in both placeholder styles.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sql {
    pub postgres: &'static str,
    pub sqlite: &'static str,
}

/// `pg` with every `$N` placeholder spelled `?N` (same length, so the result fits an array
/// sized at compile time).
pub(crate) const fn sqlite_placeholders<const N: usize>(pg: &str) -> [u8; N] {
    let b = pg.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = if b[i] == b'$' && i + 1 < N && b[i + 1].is_ascii_digit() {
            b'?'
        } else {
            b[i]
        };
        i += 1;
    }
    out
}

/// A [`Sql`] from one text with `$N` placeholders (a literal or a `concat!`).
macro_rules! sql {
    ($text:expr) => {{
        const POSTGRES: &str = $text;
        const BYTES: [u8; POSTGRES.len()] = $crate::sql::sqlite_placeholders(POSTGRES);
        const SQLITE: &str = match ::std::str::from_utf8(&BYTES) {
            Ok(s) => s,
            Err(_) => panic!("SQL is not UTF-8"),
        };
        $crate::sql::Sql {
            postgres: POSTGRES,
            sqlite: SQLITE,
        }
    }};
}
pub(crate) use sql;

/// What a store answers when pinged.
pub(crate) const PING: Sql = sql!("SELECT 1");

/// A value both drivers can read from a column.
pub(crate) trait Column:
    rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a>
{
}
impl<T> Column for T where T: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a> {}

/// A result row of either backend.
pub(crate) trait RowLike {
    fn get<T: Column>(&self, idx: usize) -> Result<T, StoreError>;

    /// A count column: never negative.
    fn count(&self, idx: usize) -> Result<u64, StoreError> {
        Ok(self.get::<i64>(idx)?.max(0) as u64)
    }
}

impl RowLike for rusqlite::Row<'_> {
    fn get<T: Column>(&self, idx: usize) -> Result<T, StoreError> {
        Ok(rusqlite::Row::get(self, idx)?)
    }
}

impl RowLike for tokio_postgres::Row {
    fn get<T: Column>(&self, idx: usize) -> Result<T, StoreError> {
        // A column of the wrong type is our bug, not an unreachable server.
        self.try_get(idx)
            .map_err(|e| StoreError::Internal(format!("column {idx}: {e}")))
    }
}

/// A row type read the same way from both backends.
pub(crate) trait FromRow: Sized {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError>;
}

/// A single-column row.
pub(crate) struct One<T>(pub T);

impl<T: Column> FromRow for One<T> {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(One(r.get(0)?))
    }
}

/// A value both drivers can bind. Integers travel as `i64` (PostgreSQL's `BIGINT`), never as
/// `u32`, which tokio-postgres would take for an OID.
pub(crate) trait Param: Sync {
    fn sqlite(&self) -> &dyn rusqlite::ToSql;
    fn postgres(&self) -> &(dyn tokio_postgres::types::ToSql + Sync);
}

impl<T> Param for T
where
    T: rusqlite::ToSql + tokio_postgres::types::ToSql + Sync,
{
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn postgres(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        self
    }
}

/// A fixed-size byte column (a hash or a salt).
pub(crate) fn bytes<const N: usize>(v: Vec<u8>, what: &str) -> Result<[u8; N], StoreError> {
    let len = v.len();
    v.try_into()
        .map_err(|_| StoreError::Internal(format!("stored {what} is not {N} bytes ({len})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_spells_placeholders_with_question_marks() {
        const S: Sql = sql!("SELECT $1, '$', $12 FROM t WHERE a = $2");
        assert_eq!(S.postgres, "SELECT $1, '$', $12 FROM t WHERE a = $2");
        assert_eq!(S.sqlite, "SELECT ?1, '$', ?12 FROM t WHERE a = ?2");
    }
}
