//! External signals: each configured source's posts and counts per minute
//! ([`SignalStore`]). A count replaces the minute's count from its source (a retried batch
//! changes nothing); a post is kept once per source (by its URL, or a digest of its time and
//! text) and adds one to its minute only the first time, with the problem kind its text
//! speaks of when whoever stored it could tell ([`SignalStore::signal_kinds`]).

use crate::StoreError;
use crate::sql::{FromRow, RowLike};
use async_trait::async_trait;
use downbeat_domain::signal::{Post, Signal};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

mod postgres;
mod sqlite;

/// A source's posts in one minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalMinute {
    pub source: String,
    pub minute_ms: i64,
    pub count: u64,
}

impl FromRow for SignalMinute {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(SignalMinute {
            source: r.get(0)?,
            minute_ms: r.get(1)?,
            count: r.count(2)?,
        })
    }
}

/// A source's posts of one problem kind in a time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalKind {
    pub source: String,
    /// The kind the posts' text speaks of; `None` for the posts whose words told none.
    pub kind: Option<String>,
    pub count: u64,
}

impl FromRow for SignalKind {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(SignalKind {
            source: r.get(0)?,
            kind: r.get(1)?,
            count: r.count(2)?,
        })
    }
}

/// What storing a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalsStored {
    /// Posts stored for the first time.
    pub new_posts: u64,
    /// Posts already stored (the same URL, or the same time and text, from the source).
    pub known_posts: u64,
    /// Counts set.
    pub counts: u64,
}

#[async_trait]
pub trait SignalStore: Send + Sync {
    /// Stores a checked batch for `service`, at once: all of it or, on error, none.
    async fn insert_signals(
        &self,
        service: &str,
        batch: &[Signal],
        now_ms: i64,
    ) -> Result<SignalsStored, StoreError>;

    /// Posts per source and minute in `since_ms..until_ms`, by source then minute; minutes
    /// with none are left out.
    async fn signal_minutes(
        &self,
        service: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<SignalMinute>, StoreError>;

    /// Stored posts (not counts) whose time is in `since_ms..until_ms`, per source and
    /// problem kind, by source then kind, the unclassified last.
    async fn signal_kinds(
        &self,
        service: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<SignalKind>, StoreError>;
}

const MINUTE_MS: i64 = 60_000;

/// The key a post is kept under.
fn post_key(p: &Post) -> String {
    match &p.url {
        Some(url) if url.len() <= 512 => url.clone(),
        _ => {
            let mut h = Sha256::new();
            h.update(p.at_ms.to_be_bytes());
            h.update(p.text.as_bytes());
            h.update(p.url.as_deref().unwrap_or("").as_bytes());
            format!("sha256:{}", downbeat_domain::hex::hex(&h.finalize()))
        }
    }
}

/// A batch's counts, one per (source, minute): the last given for a minute wins, as a
/// retried or corrected count replaces an earlier one.
fn counts_of(batch: &[Signal]) -> BTreeMap<(&str, i64), i64> {
    let mut out = BTreeMap::new();
    for s in batch {
        if let Signal::Count {
            source,
            at_ms,
            count,
        } = s
        {
            out.insert((source.as_str(), minute_of(*at_ms)), i64::from(*count));
        }
    }
    out
}

fn minute_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(MINUTE_MS) * MINUTE_MS
}

pub(crate) mod sql {
    use crate::sql::{Sql, sql};

    pub const INSERT_POST: Sql = sql!(
        "INSERT INTO signal_posts (service, source, key, at_ms, text, url, lang, received_ms, kind)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (service, source, key) DO NOTHING"
    );
    pub const ADD_POST: Sql = sql!(
        "INSERT INTO signal_minutes (service, source, minute_ms, counted, posts)
         VALUES ($1, $2, $3, 0, 1) ON CONFLICT (service, source, minute_ms)
         DO UPDATE SET posts = signal_minutes.posts + 1"
    );
    pub const SET_COUNT: Sql = sql!(
        "INSERT INTO signal_minutes (service, source, minute_ms, counted, posts)
         VALUES ($1, $2, $3, $4, 0) ON CONFLICT (service, source, minute_ms)
         DO UPDATE SET counted = excluded.counted"
    );
    // SUM-free: one row per (source, minute); the cast keeps the sum BIGINT on PostgreSQL.
    pub const SIGNAL_MINUTES: Sql = sql!(
        "SELECT source, minute_ms, CAST(counted + posts AS BIGINT) FROM signal_minutes
         WHERE service = $1 AND minute_ms >= $2 AND minute_ms < $3 AND counted + posts > 0
         ORDER BY source, minute_ms"
    );
    pub const SIGNAL_KINDS: Sql = sql!(
        "SELECT source, kind, COUNT(*) FROM signal_posts
         WHERE service = $1 AND at_ms >= $2 AND at_ms < $3
         GROUP BY source, kind ORDER BY source, kind NULLS LAST"
    );
    pub const PRUNE_SIGNAL_MINUTES: Sql = sql!("DELETE FROM signal_minutes WHERE minute_ms < $1");
    pub const PRUNE_SIGNAL_POSTS: Sql = sql!("DELETE FROM signal_posts WHERE at_ms < $1");
}
