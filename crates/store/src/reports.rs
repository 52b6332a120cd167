//! Intake: crowd reports, their minute roll-ups and the daily salts that key client hashes
//! ([`ReportStore`]).
//!
//! Writes arrive in batches ([`ReportStore::insert_reports`]): the ingest queue above the
//! store group-commits many reports per transaction, and a report is acknowledged only after
//! its batch has committed. [`ReportStore::insert_reports_once`] also decides, in the same
//! transaction, which reports count (`counted_clients`: one client, one count per service
//! and window, whichever node it reached).

mod postgres;
mod sqlite;

use crate::StoreError;
use crate::sql::{At, FromRow, RowLike, Word, bytes};
use async_trait::async_trait;
use downbeat_domain::{CountryCode, Platform};
use std::collections::BTreeMap;
use std::sync::Arc;

#[async_trait]
pub trait ReportStore: Send + Sync + 'static {
    /// Writes a batch of reports and their minute roll-ups in one transaction. When this
    /// returns `Ok`, every report of the batch is durable. The batch is handed over (and
    /// handed back, for reuse) so a backend working on another thread need not copy it.
    async fn insert_reports(
        &self,
        batch: Vec<NewReport>,
    ) -> (Vec<NewReport>, Result<(), StoreError>);

    /// Writes a batch like [`ReportStore::insert_reports`], deciding in the same transaction
    /// which of its reports count, the same way on every node that shares the store: a
    /// report that asks to count (`counted`) counts only if its client (its `client_hash`, or
    /// the same client under yesterday's salt in [`CountingBatch::earlier`]) has not counted
    /// for the service within `window_ms` before it. The decision is the `counted_clients`
    /// table's: one row per (service, client), which a report that counts inserts or moves
    /// forward, so of two nodes counting one client at once, one wins. In the batch handed
    /// back, `counted` says what was stored (unchanged when the write failed).
    async fn insert_reports_once(
        &self,
        batch: CountingBatch,
    ) -> (CountingBatch, Result<(), StoreError>);

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

    /// The cities named by counted reports of a service since `since_ms` (raw reports, so
    /// at most the raw retention back): per exact (city, country), with the reports and the
    /// distinct client networks that named it; most networks first, then most reports (ties
    /// by city, then country, in byte order), at most `limit`; with how many counted reports
    /// named a city at all.
    ///
    /// Network hashes are keyed by the day's salt, so one network has another hash each UTC
    /// day: the networks counted are those of the day with the most, a lower bound that one
    /// network crossing midnight can never raise.
    async fn top_cities(
        &self,
        service: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<TopCities, StoreError>;

    /// The messages of counted reports of a service since `since_ms` (raw reports, so at
    /// most the raw retention back), newest first, at most [`MAX_MESSAGES_READ`]: the
    /// crowd stage clusters them and shows only what enough networks typed.
    async fn report_messages(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<ReportMessage>, StoreError>;

    /// The keys of the message clusters an operator hid for a service.
    async fn hidden_messages(&self, service: &str) -> Result<Vec<String>, StoreError>;

    /// Hides (`hide`) or shows again a message cluster by its key; hiding twice keeps the
    /// first record.
    async fn set_message_hidden(
        &self,
        service: &str,
        key: &str,
        hide: Option<(&str, i64)>,
    ) -> Result<(), StoreError>;
}

/// The most messages [`ReportStore::report_messages`] reads at once: in a wave of reports,
/// the newest few thousand say what the screens say now.
pub const MAX_MESSAGES_READ: i64 = 5_000;

/// The message of one counted report; untrusted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMessage {
    pub text: String,
    pub network_hash: Hash16,
    pub at_ms: i64,
}

impl FromRow for ReportMessage {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(ReportMessage {
            text: r.get(0)?,
            network_hash: bytes(r.get(1)?, "hash")?,
            at_ms: r.get(2)?,
        })
    }
}

/// Statements both backends run as written. (Batch inserts and the city ranking differ:
/// see `sqlite.rs` and `postgres.rs`.)
pub(crate) mod sql {
    use crate::sql::{Sql, sql};

    pub const RECENT_COUNTED_CLIENTS: Sql = sql!(
        "SELECT service, client_hash, MAX(received_at_ms) FROM reports
         WHERE service = $1 AND received_at_ms >= $2 AND counted GROUP BY service, client_hash"
    );
    // SUM over BIGINT is NUMERIC in PostgreSQL: cast back (a no-op in SQLite).
    pub const SUMMARY: Sql = sql!(
        "SELECT problem, platform, country, CAST(SUM(count) AS BIGINT) FROM report_minutes
         WHERE service = $1 AND minute_ms >= $2 GROUP BY problem, platform, country"
    );
    // A row's minute is `minute_ms` less its stripe (see [`STRIPES`](super::STRIPES)); the
    // bounds are whole minutes ([`minute_bounds`](super::minute_bounds)).
    pub const REPORT_COUNTS: Sql = sql!(
        "SELECT ((minute_ms - minute_ms % 60000) / $4) * $4 AS b, CAST(SUM(count) AS BIGINT)
         FROM report_minutes
         WHERE service = $1 AND minute_ms >= $2 AND minute_ms < $3 GROUP BY b ORDER BY b"
    );
    pub const INSERT_SALT: Sql =
        sql!("INSERT INTO daily_salts (day, salt) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING");
    pub const SALT: Sql = sql!("SELECT salt FROM daily_salts WHERE day = $1");
    pub const REPORT_MESSAGES: Sql = sql!(
        "SELECT message, network_hash, received_at_ms FROM reports
         WHERE service = $1 AND received_at_ms >= $2 AND counted AND message IS NOT NULL
         ORDER BY received_at_ms DESC LIMIT $3"
    );
    pub const HIDDEN_MESSAGES: Sql =
        sql!("SELECT key FROM hidden_messages WHERE service = $1 ORDER BY key");
    pub const HIDE_MESSAGE: Sql = sql!(
        "INSERT INTO hidden_messages (service, key, hidden_by, hidden_at_ms)
         VALUES ($1, $2, $3, $4) ON CONFLICT (service, key) DO NOTHING"
    );
    pub const SHOW_MESSAGE: Sql =
        sql!("DELETE FROM hidden_messages WHERE service = $1 AND key = $2");
    pub const NETWORK_MINUTES: Sql = sql!(
        "SELECT (received_at_ms / 60000) * 60000 AS m, network_hash, problem,
                platform, country, COUNT(*)
         FROM reports
         WHERE service = $1 AND received_at_ms >= $2 AND received_at_ms < $3 AND counted
         GROUP BY m, network_hash, problem, platform, country"
    );
    pub const CITIES_NAMED: Sql = sql!(
        "SELECT COUNT(*) FROM reports WHERE service = $1 AND received_at_ms >= $2
         AND counted AND city IS NOT NULL"
    );
    /// The first service after `$1` with raw reports: one index seek, so retention walks
    /// the services one by one.
    pub const NEXT_REPORT_SERVICE: Sql =
        sql!("SELECT service FROM reports WHERE service > $1 ORDER BY service LIMIT 1");
    // Retention goes by time, one service and one chunk at a time, through the
    // (service, received_at_ms) index: a report dated in the future (a skewed clock) holds
    // back nothing, and no index on time alone slows every insert.
    pub const PRUNE_REPORTS: Sql = sql!(
        "DELETE FROM reports WHERE id IN
         (SELECT id FROM reports WHERE service = $1 AND received_at_ms < $2 LIMIT $3)"
    );
    pub const PRUNE_SALTS: Sql = sql!("DELETE FROM daily_salts WHERE day < $1");
    /// Marks from before yesterday's salt: no hash a node computes can match them again.
    pub const PRUNE_COUNTED_CLIENTS: Sql =
        sql!("DELETE FROM counted_clients WHERE counted_at_ms < $1");
}

/// A keyed hash, truncated to 16 bytes: enough to tell clients apart, useless to recover an
/// address without the day's salt.
pub type Hash16 = [u8; 16];

/// A report to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub service: Arc<str>,
    pub received_at_ms: i64,
    pub problem: Arc<str>,
    pub platform: Option<Platform>,
    pub country: Option<CountryCode>,
    pub city: Option<String>,
    /// What the error on the listener's screen said, when they typed it.
    pub message: Option<String>,
    pub client_hash: Hash16,
    pub network_hash: Hash16,
    /// False when the same client already counted within the dedupe window.
    pub counted: bool,
}

/// Reports whose counting the store decides ([`ReportStore::insert_reports_once`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountingBatch {
    pub reports: Vec<NewReport>,
    /// Per report (same length as `reports`): the same client under yesterday's salt, near
    /// midnight, so the window spans the salt change.
    pub earlier: Vec<Option<Hash16>>,
    /// A client counts once per service within this many milliseconds.
    pub window_ms: i64,
}

impl CountingBatch {
    pub fn with_window(window_ms: i64) -> Self {
        CountingBatch {
            window_ms,
            ..CountingBatch::default()
        }
    }

    pub fn push(&mut self, report: NewReport, earlier: Option<Hash16>) {
        self.reports.push(report);
        self.earlier.push(earlier);
    }

    pub fn len(&self) -> usize {
        self.reports.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reports.is_empty()
    }

    pub fn clear(&mut self) {
        self.reports.clear();
        self.earlier.clear();
    }

    /// The reports that ask to count, first of each (service, client) only (a later one in
    /// the same batch is a duplicate: it is marked not counted here), in (service, client)
    /// order, so concurrent batches lock `counted_clients` rows in one order and cannot
    /// deadlock.
    pub(crate) fn candidates(&mut self) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.reports.len())
            .filter(|&i| self.reports[i].counted)
            .collect();
        idx.sort_by(|&a, &b| {
            let (ra, rb) = (&self.reports[a], &self.reports[b]);
            (&*ra.service, &ra.client_hash, a).cmp(&(&*rb.service, &rb.client_hash, b))
        });
        let mut out: Vec<usize> = Vec::with_capacity(idx.len());
        for i in idx {
            let same = out.last().is_some_and(|&j| {
                let (ri, rj) = (&self.reports[i], &self.reports[j]);
                ri.service == rj.service && ri.client_hash == rj.client_hash
            });
            if same {
                self.reports[i].counted = false;
            } else {
                out.push(i);
            }
        }
        out
    }
}

/// The last counted report of a client for a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentClient {
    pub service: String,
    pub client_hash: Hash16,
    pub last_counted_ms: i64,
}

impl FromRow for RecentClient {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(RecentClient {
            service: r.get(0)?,
            client_hash: bytes(r.get(1)?, "hash")?,
            last_counted_ms: r.get(2)?,
        })
    }
}

/// Counted reports in a window, broken down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub total: u64,
    pub by_problem: BTreeMap<String, u64>,
    pub by_platform: BTreeMap<String, u64>,
    pub by_country: BTreeMap<String, u64>,
}

impl Summary {
    /// Adds one roll-up row; '' (not given) platforms and countries count in the total only.
    pub fn add(&mut self, problem: String, platform: String, country: String, count: u64) {
        self.total += count;
        *self.by_problem.entry(problem).or_default() += count;
        if !platform.is_empty() {
            *self.by_platform.entry(platform).or_default() += count;
        }
        if !country.is_empty() {
            *self.by_country.entry(country).or_default() += count;
        }
    }

    fn from_rows(rows: Vec<SummaryRow>) -> Self {
        let mut s = Summary::default();
        for r in rows {
            s.add(r.problem, r.platform, r.country, r.count);
        }
        s
    }
}

/// One row of [`sql::SUMMARY`].
struct SummaryRow {
    problem: String,
    platform: String,
    country: String,
    count: u64,
}

impl FromRow for SummaryRow {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(SummaryRow {
            problem: r.get(0)?,
            platform: r.get(1)?,
            country: r.get(2)?,
            count: r.count(3)?,
        })
    }
}

/// Counted reports in one time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketCount {
    pub start_ms: i64,
    pub count: u64,
}

impl FromRow for BucketCount {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(BucketCount {
            start_ms: r.get(0)?,
            count: r.count(1)?,
        })
    }
}

pub const MINUTE_MS: i64 = 60_000;

/// How many rows one minute's roll-up key may be split into. On PostgreSQL each node adds
/// its counts to its own stripe of the row, stored at `minute_ms + stripe` (0 to 15 ms into
/// the minute), so nodes counting the same service at the same moment do not queue on one
/// row's lock (each would wait for the other's commit, fsync included). Readers sum a
/// minute's stripes: whole-minute bounds (see [`minute_bounds`]) and `minute_ms - minute_ms
/// % 60000` give every stripe its minute. The schema is unchanged, so a node of an earlier
/// release, which writes stripe 0 and sums whatever rows a range holds, keeps working beside.
pub const STRIPES: i64 = 16;

/// `since..until` as whole minutes: a minute's row (any stripe) is in the range exactly when
/// its minute is, as it was when every row sat on the minute itself.
pub fn minute_bounds(since_ms: i64, until_ms: i64) -> (i64, i64) {
    let up = |t: i64| {
        (t.div_euclid(MINUTE_MS) + i64::from(t.rem_euclid(MINUTE_MS) != 0))
            .saturating_mul(MINUTE_MS)
    };
    (up(since_ms), up(until_ms))
}

/// The key of a minute roll-up row.
pub type RollupKey<'a> = (&'a str, i64, &'a str, &'a str, &'a str);

/// Aggregates the counted reports of a batch into roll-up increments, so a batch touches
/// each roll-up row once.
pub fn rollup_increments(batch: &[NewReport]) -> BTreeMap<RollupKey<'_>, i64> {
    let mut out = BTreeMap::new();
    for r in batch.iter().filter(|r| r.counted) {
        let minute = r.received_at_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        let key = (
            &*r.service,
            minute,
            &*r.problem,
            r.platform.map_or("", Word::word),
            r.country.map_or("", Word::word),
        );
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

/// The salt a day's row holds (the stored one, which may be another node's candidate).
fn stored_salt(salt: Option<Vec<u8>>) -> Result<[u8; 32], StoreError> {
    let salt =
        salt.ok_or_else(|| StoreError::Internal("daily salt missing after insert".into()))?;
    bytes(salt, "salt")
}

/// Counted reports of one minute from one /24 (or /48) network, by problem, platform and
/// country (when given): what the crowd detector reads, so it can weigh networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkMinute {
    pub minute_ms: i64,
    pub network_hash: Hash16,
    pub problem: String,
    pub platform: Option<Platform>,
    pub country: Option<CountryCode>,
    pub count: u64,
}

impl FromRow for NetworkMinute {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(NetworkMinute {
            minute_ms: r.get(0)?,
            network_hash: bytes(r.get(1)?, "hash")?,
            problem: r.get(2)?,
            platform: r.word_opt(3, At("reports", "platform"))?,
            country: r.word_opt(4, At("reports", "country"))?,
            count: r.count(5)?,
        })
    }
}

/// Counted reports naming one city.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CityCount {
    /// As typed (trimmed); untrusted text.
    pub city: String,
    /// The report's country, when given.
    pub country: Option<CountryCode>,
    pub count: u64,
    /// Distinct client networks that named it (on the day with the most: see
    /// [`ReportStore::top_cities`]).
    pub networks: u64,
}

impl FromRow for CityCount {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(CityCount {
            city: r.get(0)?,
            country: r.word_opt(1, At("reports", "country"))?,
            count: r.count(2)?,
            networks: r.count(3)?,
        })
    }
}

/// The cities most named in a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopCities {
    /// Counted reports that named a city (all of them, not only the listed cities).
    pub named: u64,
    pub cities: Vec<CityCount>,
}
