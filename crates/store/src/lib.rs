//! Downbeat's store: one interface, two real backends.
//!
//! SQLite (a WAL-mode file in the data directory) is the embedded default; PostgreSQL lets
//! several stateless nodes share one database. Both implement [`Store`] with the same
//! semantics, and every storage test runs against both. The backend is chosen once, in
//! [`open`]; everything else holds an `Arc<dyn Store>`.
//!
//! Writes of crowd reports arrive in batches ([`Store::insert_reports`]): the ingest queue
//! above the store group-commits many reports per transaction, and a report is acknowledged
//! only after its batch has committed.
//!
//! # Layout
//! - [`model`]: the rows the store reads and writes.
//! - [`operator`]: tokens, users, sessions and incidents ([`OperatorStore`]).
//! - [`notify`]: the notification outbox ([`NotifyStore`]).
//! - [`error`]: [`StoreError`], the one error type callers match on.
//! - [`migrate`]: versioned migrations, one directory per backend under `migrations/`.
//! - [`sqlite`]: the embedded backend (one writer connection, a few readers).
//! - [`postgres`]: the multi-node backend (a connection pool).
//! - `testing` (feature `testing`): fresh stores on every backend for tests.

pub mod error;
pub mod migrate;
pub mod model;
pub mod notify;
pub mod operator;
pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
pub use error::StoreError;
pub use model::*;
pub use notify::*;
pub use operator::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The storage interface. Times are unix milliseconds.
#[async_trait]
pub trait Store: OperatorStore + NotifyStore + Send + Sync + 'static {
    /// Which backend this is, for logs and `/readyz`.
    fn backend(&self) -> Backend;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Writes a batch of reports and their minute roll-ups in one transaction. When this
    /// returns `Ok`, every report of the batch is durable. The batch is handed over (and
    /// handed back, for reuse) so a backend working on another thread need not copy it.
    async fn insert_reports(
        &self,
        batch: Vec<NewReport>,
    ) -> (Vec<NewReport>, Result<(), StoreError>);

    /// The latest counted report time per client hash of `service` since `since_ms`:
    /// restores the dedupe window after a restart.
    async fn recent_counted_clients(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<RecentClient>, StoreError>;

    /// Counted reports of a service since `since_ms` (from the minute roll-ups, so the window
    /// starts at the beginning of that minute), broken down by problem, platform and country.
    async fn summary(&self, service: &str, since_ms: i64) -> Result<Summary, StoreError>;

    /// Counted reports per bucket of `bucket_ms` (a multiple of a minute) in
    /// `[since_ms, until_ms)`. Buckets are aligned to multiples of `bucket_ms` since the
    /// epoch; empty buckets are absent.
    async fn report_counts(
        &self,
        service: &str,
        since_ms: i64,
        until_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<BucketCount>, StoreError>;

    /// The salt of a UTC day: the stored one, or `candidate` stored as that day's salt if
    /// none exists yet. Every node therefore agrees on the salt.
    async fn daily_salt(&self, day: i64, candidate: [u8; 32]) -> Result<[u8; 32], StoreError>;

    /// Counted reports in `[from_ms, until_ms)` per minute, network, problem, platform and
    /// country.
    async fn network_minutes(
        &self,
        service: &str,
        from_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<NetworkMinute>, StoreError>;

    /// The saved detector states of a service.
    async fn detector_states(&self, service: &str) -> Result<Vec<DetectorState>, StoreError>;

    /// Saves (inserts or replaces) detector states of a service, in one transaction.
    async fn save_detector_states(
        &self,
        service: &str,
        states: Vec<DetectorState>,
    ) -> Result<(), StoreError>;

    /// Records a verdict change; returns its id. (`event.id` is ignored.)
    async fn insert_verdict_event(&self, event: VerdictEvent) -> Result<i64, StoreError>;

    /// Verdict changes of a service at or after `since_ms`, newest first, at most `limit`.
    async fn verdict_events(
        &self,
        service: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<VerdictEvent>, StoreError>;

    /// Takes or renews the lease `name` for `holder` until `now_ms + ttl_ms`, if it is free,
    /// expired, or already held by `holder`. Returns whether `holder` holds it now.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Stores a batch of monitor results and their hourly roll-ups in one transaction.
    async fn insert_probe_results(&self, batch: Vec<NewProbeResult>) -> Result<(), StoreError>;

    /// Results of a monitor at or after `since_ms`, oldest first, at most `limit`.
    async fn probe_results(
        &self,
        monitor: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<StoredProbeResult>, StoreError>;

    /// The newest result of every (monitor, region) since `since_ms`: restores the picture
    /// after a restart.
    async fn latest_probe_results(
        &self,
        since_ms: i64,
    ) -> Result<Vec<StoredProbeResult>, StoreError>;

    /// Hourly roll-ups of a monitor since `since_ms` (uptime bars).
    async fn probe_hours(&self, monitor: &str, since_ms: i64)
    -> Result<Vec<ProbeHour>, StoreError>;

    /// Probes and failures of a monitor per UTC day, all regions together, from the hourly
    /// roll-ups at or after `since_ms`; oldest first, days without probes absent.
    async fn probe_days(&self, monitor: &str, since_ms: i64) -> Result<Vec<ProbeDay>, StoreError>;

    /// The cities named by counted reports of a service since `since_ms` (raw reports, so
    /// at most the raw retention back): per exact (city, country), most reports first (ties
    /// by city, then country, in byte order), at most `limit`; with how many counted reports
    /// named a city at all.
    async fn top_cities(
        &self,
        service: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<TopCities, StoreError>;

    /// Every monitor's saved hysteresis state.
    async fn monitor_states(&self) -> Result<Vec<MonitorState>, StoreError>;

    /// Saves one monitor's hysteresis state.
    async fn save_monitor_state(&self, state: MonitorState) -> Result<(), StoreError>;

    /// Deletes raw reports and probe results older than `raw_before_ms`, roll-ups older than
    /// `rollups_before_ms` and salts of days before `salts_before_day`.
    async fn prune(&self, cutoffs: PruneCutoffs) -> Result<PruneOutcome, StoreError>;
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

/// Opens (creating and migrating as needed) the store at `target`.
pub async fn open(target: &StoreTarget) -> Result<Arc<dyn Store>, StoreError> {
    match target {
        StoreTarget::Sqlite(path) => Ok(Arc::new(sqlite::SqliteStore::open(path).await?)),
        StoreTarget::Postgres(url) => Ok(Arc::new(postgres::PgStore::connect(url).await?)),
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
