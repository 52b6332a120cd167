//! What both backends share: statements written once, parameters bound once, rows read once.
//!
//! A statement is written in PostgreSQL's `$N` placeholders; [`sql!`] derives SQLite's `?N`
//! spelling at compile time (rusqlite binds `?NNN` by number, as PostgreSQL binds `$N`), so
//! the two texts cannot drift apart. A row type is read by one [`FromRow`] impl over
//! [`RowLike`], which both `rusqlite::Row` and `tokio_postgres::Row` implement; a value is
//! bound through [`Param`], which both drivers accept.

use crate::StoreError;
use downbeat_domain::event::CheckState;
use downbeat_domain::{
    CommentState, ComponentState, CountryCode, Platform, Role, Verdict, incident, probe,
};

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

    /// A word column, read as the domain value it names.
    fn word<T: Word>(&self, idx: usize, at: At) -> Result<T, StoreError> {
        let w: String = self.get(idx)?;
        T::from_word(&w).ok_or_else(|| at.unreadable(w, "unknown word"))
    }

    /// A nullable word column.
    fn word_opt<T: Word>(&self, idx: usize, at: At) -> Result<Option<T>, StoreError> {
        let w: Option<String> = self.get(idx)?;
        w.map(|w| T::from_word(&w).ok_or_else(|| at.unreadable(w, "unknown word")))
            .transpose()
    }

    /// A JSON column, read as the value it holds.
    fn json<T: serde::de::DeserializeOwned>(&self, idx: usize, at: At) -> Result<T, StoreError> {
        let text: String = self.get(idx)?;
        serde_json::from_str(&text).map_err(|e| at.unreadable(text, e))
    }

    /// A nullable JSON column.
    fn json_opt<T: serde::de::DeserializeOwned>(
        &self,
        idx: usize,
        at: At,
    ) -> Result<Option<T>, StoreError> {
        let text: Option<String> = self.get(idx)?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| at.unreadable(t, e)))
            .transpose()
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

/// A value both drivers can bind: a driver-native value, or a word of the domain's
/// vocabulary ([`Word`]), bound as its stored word. Integers travel as `i64` (PostgreSQL's
/// `BIGINT`), never as `u32`, which tokio-postgres would take for an OID.
pub(crate) trait Param: Sync {
    fn arg(&self) -> Arg<'_>;
}

/// A value a driver binds natively.
pub(crate) trait Native: rusqlite::ToSql + tokio_postgres::types::ToSql + Sync {}
impl<T> Native for T where T: rusqlite::ToSql + tokio_postgres::types::ToSql + Sync {}

/// One bound parameter, as both drivers take it.
#[derive(Debug)]
pub(crate) enum Arg<'a> {
    Native(&'a dyn Native),
    /// A domain value's stored word (`None`: NULL).
    Word(Option<&'static str>),
    /// A value serialized for a text column: JSON (`None`: NULL).
    Text(Option<String>),
}

// The native types the statements bind. (Listed rather than a blanket impl over every
// `ToSql` type, which would overlap with the impls for domain types below.)
macro_rules! native_params {
    ($($t:ty),* $(,)?) => {$(
        impl Param for $t {
            fn arg(&self) -> Arg<'_> {
                Arg::Native(self)
            }
        }
    )*};
}
native_params!(
    i64,
    f64,
    bool,
    String,
    &str,
    &[u8],
    Vec<u8>,
    Option<i64>,
    Option<f64>,
    Option<String>,
    Option<&str>,
);

impl<T: Word> Param for T {
    fn arg(&self) -> Arg<'_> {
        Arg::Word(Some(self.word()))
    }
}

impl<T: Word> Param for Option<T> {
    fn arg(&self) -> Arg<'_> {
        Arg::Word(self.map(Word::word))
    }
}

// JSON columns: written as the text `serde_json` makes of them, read with
// [`RowLike::json`].
impl Param for incident::Components {
    fn arg(&self) -> Arg<'_> {
        Arg::Text(Some(to_json(self)))
    }
}

impl Param for serde_json::Value {
    fn arg(&self) -> Arg<'_> {
        Arg::Text(Some(to_json(self)))
    }
}

impl Param for Option<serde_json::Value> {
    fn arg(&self) -> Arg<'_> {
        Arg::Text(self.as_ref().map(to_json))
    }
}

fn to_json(v: &impl serde::Serialize) -> String {
    // Maps with string keys and `Value`s always serialize.
    serde_json::to_string(v).expect("JSON of a map or value")
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Arg::Native(v) => v.to_sql(),
            Arg::Word(w) => w.to_sql(),
            Arg::Text(t) => t.to_sql(),
        }
    }
}

impl tokio_postgres::types::ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.to_sql_checked(ty, out)
    }

    /// Checked per value, by the value's own type (see `to_sql_checked`).
    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }

    fn to_sql_checked(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Arg::Native(v) => v.to_sql_checked(ty, out),
            Arg::Word(w) => w.to_sql_checked(ty, out),
            Arg::Text(t) => t.to_sql_checked(ty, out),
        }
    }

    fn encode_format(&self, ty: &tokio_postgres::types::Type) -> tokio_postgres::types::Format {
        match self {
            Arg::Native(v) => v.encode_format(ty),
            Arg::Word(w) => w.encode_format(ty),
            Arg::Text(t) => t.encode_format(ty),
        }
    }
}

/// A closed vocabulary stored as words in a text column: each domain enum (and the country
/// code) the store reads and writes, with its word from the type's own `as_str`. Reading an unknown word is
/// [`StoreError::Unreadable`], never a default.
pub(crate) trait Word: Copy + Sync + Sized + 'static {
    /// The stored word.
    fn word(self) -> &'static str;
    /// The value a stored word names, exactly as `word` spells it.
    fn from_word(word: &str) -> Option<Self>;
}

/// [`Word`] for enums: the word is `as_str`, read back by looking through every value.
macro_rules! words {
    ($($t:ty => $all:expr),* $(,)?) => {$(
        impl Word for $t {
            fn word(self) -> &'static str {
                self.as_str()
            }
            fn from_word(word: &str) -> Option<Self> {
                $all.into_iter().find(|v| v.as_str() == word)
            }
        }
    )*};
}
words!(
    incident::Kind => incident::Kind::ALL,
    incident::Status => incident::Status::ALL,
    incident::Impact => incident::Impact::ALL,
    incident::Source => incident::Source::ALL,
    ComponentState => ComponentState::ALL,
    Verdict => Verdict::ALL,
    Role => Role::ALL,
    probe::Outcome => probe::Outcome::ALL,
    probe::Cause => probe::Cause::ALL,
    CheckState => CheckState::ALL,
    crate::DeliveryState => crate::DeliveryState::ALL,
    crate::SubscriberKind => crate::SubscriberKind::ALL,
    crate::OutboxKind => crate::OutboxKind::ALL,
    Platform => Platform::ALL,
    CommentState => CommentState::ALL,
    downbeat_domain::change::ChangeKind => downbeat_domain::change::ChangeKind::ALL,
);

impl Word for CountryCode {
    fn word(self) -> &'static str {
        self.as_str()
    }
    fn from_word(word: &str) -> Option<Self> {
        // `parse` also takes lower case, which the store never writes.
        CountryCode::parse(word).ok().filter(|c| c.as_str() == word)
    }
}

/// Where a value was read from, for errors: a table and a column.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At(pub &'static str, pub &'static str);

impl At {
    /// What a stored value this version cannot read is.
    pub fn unreadable(self, value: impl Into<String>, why: impl std::fmt::Display) -> StoreError {
        StoreError::Unreadable {
            table: self.0,
            column: self.1,
            value: value.into(),
            why: why.to_string(),
        }
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
