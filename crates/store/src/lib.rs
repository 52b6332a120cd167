//! Downbeat's store: one interface, two real backends.
//!
//! SQLite (a WAL-mode file in the data directory) is the embedded default; PostgreSQL lets
//! several stateless nodes share one database. Both implement [`Store`] with the same
//! semantics, and every storage test runs against both. The backend is chosen once, in
//! [`open`]; everything else holds an `Arc<dyn Store>`.
//!
//! [`Store`] is the sum of one trait per stage of the data flow. Each stage is one module
//! with its trait, row types, SQL and row mappers, and its two implementations in
//! `<stage>/sqlite.rs` and `<stage>/postgres.rs`. A statement is written once where the
//! dialects agree (most do) and per backend only where they differ, with a comment saying
//! how; a row is read by one mapper on both backends. Methods on `dyn Store` need no import;
//! code that names a concrete store, or is generic over a stage trait, can bring them in
//! with `use downbeat_store::prelude::*`.
//!
//! # Layout
//! - [`reports`]: intake — crowd reports, minute roll-ups, daily salts, cities ([`ReportStore`]).
//! - [`detection`]: detector states, verdict events, leases ([`DetectionStore`]).
//! - [`probes`]: monitor results, hourly roll-ups, daily sums, monitor states ([`ProbeStore`]).
//! - [`incidents`]: incidents, maintenance windows, updates, post-mortems ([`IncidentStore`]).
//! - [`notifications`]: outbox, deliveries, subscribers, flap states ([`NotifyStore`]).
//! - [`people`]: API tokens, admin users, sessions ([`PeopleStore`]).
//! - [`comments`]: community comments, their moderation, paused networks ([`CommentStore`]).
//! - [`signals`]: external signals, per source and minute, and their posts ([`SignalStore`]).
//! - [`changes`]: deploys and other changes operators made, as recorded ([`ChangeStore`]).
//! - [`polls`]: where each built-in poller of a signal source got to ([`PollStore`]).
//! - `sql`: what the backends share — one placeholder style, parameters, row mappers, and
//!   the stored words of the domain's enums (`Word`): rows carry `downbeat_domain` types,
//!   read from their words and JSON in the mappers and written through `Param`.
//! - [`error`]: [`StoreError`], the one error type callers match on.
//! - [`migrate`]: versioned migrations, one directory per backend under `migrations/`.
//! - [`sqlite`]: the embedded backend — one writer connection, a few readers; prune.
//! - [`postgres`]: the multi-node backend — a connection pool, locked migrations; prune;
//!   `postgres/connect.rs`: how its connections are made (TLS from the URL with rustls,
//!   [`PgTimeouts`], a watchdog for a server that falls silent); `postgres/changes.rs`:
//!   the change feed between nodes ([`ChangeFeed`], `LISTEN/NOTIFY`).
//! - `testing` (feature `testing`): fresh stores on every backend for tests.

pub mod changes;
pub mod cluster;
pub mod comments;
pub mod detection;
pub mod error;
pub mod incidents;
pub mod migrate;
pub mod notifications;
pub mod objects;
pub mod people;
pub mod polls;
pub mod postgres;
pub mod probes;
pub mod reports;
pub mod signals;
pub(crate) mod sql;
pub mod sqlite;

use async_trait::async_trait;
pub use changes::{ChangeRow, ChangeStore};
pub use cluster::{ClusterStore, Member, Members, NODE_TIMEOUT_MS};
pub use comments::*;
pub use detection::*;
pub use error::StoreError;
pub use incidents::*;
pub use notifications::*;
pub use objects::{ObjectRow, ObjectStore};
pub use people::*;
pub use polls::PollStore;
pub use postgres::{Change, ChangeFeed, PgTimeouts};
pub use probes::*;
pub use reports::*;
pub use signals::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The stage traits, for code that calls store methods on something other than `dyn Store`.
pub mod prelude {
    pub use crate::{
        ChangeStore, ClusterStore, CommentStore, DetectionStore, IncidentStore, NotifyStore,
        ObjectStore, PeopleStore, PollStore, ProbeStore, ReportStore, SignalStore, Store,
    };
}

/// The storage interface: every stage's trait, plus what concerns the store as a whole.
/// Times are unix milliseconds.
#[async_trait]
pub trait Store:
    ReportStore
    + ClusterStore
    + DetectionStore
    + ProbeStore
    + IncidentStore
    + NotifyStore
    + PeopleStore
    + SignalStore
    + PollStore
    + CommentStore
    + ChangeStore
    + ObjectStore
    + Send
    + Sync
    + 'static
{
    /// Which backend this is, for logs and `/readyz`.
    fn backend(&self) -> Backend;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Changes committed by any node sharing this store, as they are committed, and the
    /// count of live nodes, for node `node` (a name unique to the process); `None` where
    /// one node has the store to itself (SQLite). Needs a tokio runtime.
    fn changes(&self, node: &str) -> Option<ChangeFeed> {
        let _ = node;
        None
    }

    /// Deletes raw reports, probe results and comments older than `raw_before_ms` (and
    /// network pauses that ended before it), roll-ups older than `rollups_before_ms`, and
    /// salts of days before `salts_before_day` with the dedupe marks made under them.
    async fn prune(&self, cutoffs: PruneCutoffs) -> Result<PruneOutcome, StoreError>;
}

/// What [`Store::prune`] deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneCutoffs {
    pub raw_before_ms: i64,
    pub rollups_before_ms: i64,
    pub salts_before_day: i64,
}

/// How many rows a prune deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneOutcome {
    pub reports: u64,
    pub rollups: u64,
    pub salts: u64,
    pub probe_results: u64,
    /// Dedupe marks of clients last counted before yesterday's salt.
    pub counted_clients: u64,
    pub comments: u64,
    pub banned_networks: u64,
}

/// Which backend a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Where the store lives, as chosen from `--database-url` and `--data-dir`.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreTarget {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (it may hold a password: never print it).
    Postgres(String),
}

impl std::fmt::Debug for StoreTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreTarget::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            StoreTarget::Postgres(url) => write!(f, "{}", redact_url(url)),
        }
    }
}

impl StoreTarget {
    /// The target for an optional URL: none means the SQLite file in `data_dir`.
    pub fn from_url(url: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        match url {
            None => Ok(StoreTarget::Sqlite(data_dir.join(sqlite::FILE_NAME))),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(StoreTarget::Postgres(u.to_owned()))
            }
            Some(u) if u.starts_with("sqlite:") => {
                let path = u.trim_start_matches("sqlite:").trim_start_matches("//");
                Ok(StoreTarget::Sqlite(PathBuf::from(path)))
            }
            Some(_) => Err(StoreError::Config(
                "database URL must start with postgres://, postgresql:// or sqlite:".into(),
            )),
        }
    }
}

/// A URL with its password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<database url>".to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.split('?').next().unwrap_or(url).to_owned(),
    }
}

/// Opens (creating and migrating as needed) the store at `target`, with the default
/// PostgreSQL timeouts.
pub async fn open(target: &StoreTarget) -> Result<Arc<dyn Store>, StoreError> {
    open_with(target, PgTimeouts::default()).await
}

/// Opens the store at `target`; a PostgreSQL store waits at most `timeouts` for its server.
pub async fn open_with(
    target: &StoreTarget,
    timeouts: PgTimeouts,
) -> Result<Arc<dyn Store>, StoreError> {
    match target {
        StoreTarget::Sqlite(path) => Ok(Arc::new(sqlite::SqliteStore::open(path).await?)),
        StoreTarget::Postgres(url) => {
            Ok(Arc::new(postgres::PgStore::connect(url, timeouts).await?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:hunter2@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(redact_url("postgres://db/x?password=p"), "postgres://db/x");
        assert!(
            !format!("{:?}", StoreTarget::Postgres("postgres://a:pw@h/d".into())).contains("pw")
        );
    }
}

#[cfg(feature = "testing")]
pub mod testing;
