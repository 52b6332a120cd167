//! The multi-node backend: PostgreSQL through a connection pool.
//!
//! Several stateless Downbeat nodes can share one database. Migrations take an advisory lock
//! so nodes starting together apply each migration once. A batch of reports goes in with one
//! `INSERT ... SELECT FROM UNNEST(...)` and one roll-up upsert, in one transaction.
//!
//! Each stage's implementation lives beside the stage (`<stage>/postgres.rs`); this module
//! holds the pool, the helpers that run a shared statement and map its rows, and [`Store`]'s
//! own methods; `connect` makes the pool's connections (TLS from the URL, [`PgTimeouts`],
//! the watchdog that fails a connection whose server falls silent); `changes` is the change
//! feed ([`ChangeFeed`]: `LISTEN/NOTIFY` on a connection of its own, node heartbeats).

use crate::migrate::{self, Migration};
use crate::sql::{Arg, FromRow, One, Param, Sql};
use crate::{
    Backend, PruneCutoffs, PruneOutcome, Store, StoreError, comments, probes, reports, signals,
};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::types::ToSql;

mod announce;
mod changes;
mod connect;
pub use changes::{Change, ChangeFeed};
pub use connect::PgTimeouts;
pub(crate) use connect::chain;

/// Arbitrary constant naming Downbeat's migration lock among the database's advisory locks.
const MIGRATION_LOCK: i64 = 0x646f_776e_6265_6174; // "downbeat"

pub struct PgStore {
    pool: Pool,
    /// How the change feed makes its own connection.
    feed: std::sync::Arc<changes::FeedSettings>,
    /// This node's stripe of the report roll-up ([`crate::reports::STRIPES`]): its place
    /// among the live nodes, kept by the change feed; 0 without one.
    stripe: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// What this node wrote, said to the other nodes a few times a second.
    announcer: std::sync::Arc<announce::Announcer>,
}

impl PgStore {
    /// Connects to `url` (its TLS settings included, see [`connect`]), checks the server
    /// answers, and applies pending migrations; every wait is bounded by `timeouts`.
    pub async fn connect(url: &str, timeouts: PgTimeouts) -> Result<Self, StoreError> {
        Self::connect_knowing(url, timeouts, migrate::POSTGRES).await
    }

    /// [`PgStore::connect`] for a binary that knows the migrations `list` (tests: an older
    /// release beside a newer one).
    pub(crate) async fn connect_knowing(
        url: &str,
        timeouts: PgTimeouts,
        list: &[Migration],
    ) -> Result<Self, StoreError> {
        let (cfg, connector) = connect::settings(url, timeouts)?;
        let (config, feed_connector) = connect::settings(url, timeouts)?;
        let feed = std::sync::Arc::new(changes::FeedSettings {
            config,
            connector: feed_connector,
        });
        let timeouts = connector.timeouts();
        let mgr = Manager::from_connect(
            cfg,
            connector,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(16)
            .runtime(Runtime::Tokio1)
            .timeouts(Timeouts {
                // a healthy pool frees a connection within one statement
                wait: Some(timeouts.statement),
                // The connector gives up at the connect timeout itself, saying why (no
                // answer, TLS, sign-in); the pool's own limit comes a little later, so the
                // two never race to report the same timeout in vaguer words.
                create: Some(
                    timeouts.connect + timeouts.connect / 4 + std::time::Duration::from_millis(250),
                ),
                recycle: Some(timeouts.connect),
            })
            .build()
            .map_err(|e| StoreError::Config(format!("PostgreSQL pool: {e}")))?;
        let store = PgStore {
            announcer: announce::start(pool.clone()),
            pool,
            feed,
            stripe: Default::default(),
        };
        store.migrate(list).await?;
        Ok(store)
    }

    /// This node's stripe of the report roll-up.
    pub(crate) fn stripe(&self) -> i64 {
        self.stripe.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Notes that what `payloads` describe (`reports <service>`, `monitor <id>`) is
    /// committed, for the other nodes to hear within [`announce::EVERY`].
    pub(crate) fn announce(&self, payloads: impl IntoIterator<Item = String>) {
        self.announcer.changed(payloads);
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    async fn migrate(&self, list: &[Migration]) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)",
        )
        .await?;
        let current: i64 = tx
            .query_one(migrate::sql::CURRENT_VERSION.postgres, &[])
            .await?
            .get(0);
        let latest = migrate::latest(list);
        if current > latest {
            let newer = tx
                .query(migrate::sql::NEWER.postgres, &[&latest])
                .await?
                .iter()
                .map(|r| migrate::Unknown {
                    version: r.get(0),
                    name: r.get(1),
                    keeps_working_from: r.get(2),
                })
                .collect::<Vec<_>>();
            migrate::may_run_beside(latest, &newer)?;
        }
        for m in list.iter().filter(|m| m.version > current) {
            tx.batch_execute(m.sql)
                .await
                .map_err(|e| StoreError::Migration(format!("{}: {e}", m.name)))?;
            tx.execute(
                migrate::sql::RECORD_VERSION.postgres,
                &[
                    &m.version,
                    &m.name,
                    &jiff::Timestamp::now().as_millisecond(),
                ],
            )
            .await?;
            if m.version >= migrate::RECORDS_COMPATIBILITY_FROM {
                tx.execute(
                    migrate::sql::RECORD_COMPATIBILITY.postgres,
                    &[&migrate::keeps_working_from(m.version), &m.version],
                )
                .await?;
            }
            tracing::info!(
                version = m.version,
                name = m.name,
                "applied PostgreSQL migration"
            );
        }
        tx.commit().await?;
        Ok(())
    }
}

/// `params` as bound values; tokio-postgres takes them by reference ([`refs`]).
pub(crate) fn bind<'a>(params: &'a [&'a dyn Param]) -> Vec<Arg<'a>> {
    params.iter().map(|p| p.arg()).collect()
}

/// Bound values as tokio-postgres takes them.
pub(crate) fn refs<'a>(args: &'a [Arg<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

/// Every row of `sql`, on a pooled client or in a transaction.
/// `sql` prepared through the connection's statement cache: PostgreSQL parses and plans a
/// statement once per pooled connection instead of on every call, which is most of a small
/// transaction's cost on the server. Every cached statement names its columns (no
/// `SELECT *` of a table), so a column another node's migration adds cannot change a cached
/// statement's result type.
pub(crate) async fn cached(
    c: &impl GenericClient,
    sql: &str,
) -> Result<tokio_postgres::Statement, StoreError> {
    Ok(c.prepare_cached(sql).await?)
}

pub(crate) async fn query<T: FromRow>(
    c: &impl GenericClient,
    sql: &Sql,
    params: &[&dyn Param],
) -> Result<Vec<T>, StoreError> {
    let rows = c
        .query(&cached(c, sql.postgres).await?, &refs(&bind(params)))
        .await?;
    rows.iter().map(T::from_row).collect()
}

/// The row of `sql`, if any (more than one is an error).
pub(crate) async fn query_opt<T: FromRow>(
    c: &impl GenericClient,
    sql: &Sql,
    params: &[&dyn Param],
) -> Result<Option<T>, StoreError> {
    let row = c
        .query_opt(&cached(c, sql.postgres).await?, &refs(&bind(params)))
        .await?;
    row.as_ref().map(T::from_row).transpose()
}

/// The one row of `sql` (an error when there is none).
pub(crate) async fn query_one<T: FromRow>(
    c: &impl GenericClient,
    sql: &Sql,
    params: &[&dyn Param],
) -> Result<T, StoreError> {
    T::from_row(
        &c.query_one(&cached(c, sql.postgres).await?, &refs(&bind(params)))
            .await?,
    )
}

/// Runs `sql`; how many rows it changed.
pub(crate) async fn execute(
    c: &impl GenericClient,
    sql: &Sql,
    params: &[&dyn Param],
) -> Result<u64, StoreError> {
    Ok(
        c.execute(&cached(c, sql.postgres).await?, &refs(&bind(params)))
            .await?,
    )
}

/// Rows per delete when pruning: short statements, so no lock is held long.
const PRUNE_CHUNK: i64 = 10_000;

/// Deletes the rows `prune` selects (parameters: a key, the cut-off, a chunk size) for each
/// key `next_key` walks through (parameter: the previous key), a chunk at a time. Returns
/// how many went.
async fn prune_by_key(
    c: &impl GenericClient,
    next_key: &Sql,
    prune: &Sql,
    before_ms: i64,
) -> Result<u64, StoreError> {
    let mut deleted = 0;
    let mut key = String::new();
    while let Some(One(next)) = query_opt::<One<String>>(c, next_key, &[&key]).await? {
        key = next;
        loop {
            let n = execute(c, prune, &[&key, &before_ms, &PRUNE_CHUNK]).await?;
            deleted += n;
            if n < PRUNE_CHUNK as u64 {
                break;
            }
        }
    }
    Ok(deleted)
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client()
            .await?
            .query_one(crate::sql::PING.postgres, &[])
            .await?;
        Ok(())
    }

    fn changes(&self, node: &str) -> Option<ChangeFeed> {
        Some(changes::start(
            self.feed.clone(),
            node.to_owned(),
            self.stripe.clone(),
        ))
    }

    async fn prune(&self, cut: PruneCutoffs) -> Result<PruneOutcome, StoreError> {
        let client = self.client().await?;
        let client = &client;
        let mut out = PruneOutcome {
            reports: prune_by_key(
                client,
                &reports::sql::NEXT_REPORT_SERVICE,
                &reports::sql::PRUNE_REPORTS,
                cut.raw_before_ms,
            )
            .await?,
            ..PruneOutcome::default()
        };
        // Roll-ups have no id: chunks by physical row (`ctid`, PostgreSQL's own; SQLite goes
        // by time ranges instead).
        loop {
            let n = client
                .execute(
                    "DELETE FROM report_minutes WHERE ctid IN
                     (SELECT ctid FROM report_minutes WHERE minute_ms < $1 LIMIT $2)",
                    &[&cut.rollups_before_ms, &PRUNE_CHUNK],
                )
                .await?;
            out.rollups += n;
            if n < PRUNE_CHUNK as u64 {
                break;
            }
        }
        out.probe_results = prune_by_key(
            client,
            &probes::sql::NEXT_RESULT_MONITOR,
            &probes::sql::PRUNE_RESULTS,
            cut.raw_before_ms,
        )
        .await?;
        execute(client, &probes::sql::PRUNE_HOURS, &[&cut.rollups_before_ms]).await?;
        execute(
            client,
            &signals::sql::PRUNE_SIGNAL_MINUTES,
            &[&cut.rollups_before_ms],
        )
        .await?;
        execute(
            client,
            &signals::sql::PRUNE_SIGNAL_POSTS,
            &[&cut.raw_before_ms],
        )
        .await?;
        out.salts = execute(client, &reports::sql::PRUNE_SALTS, &[&cut.salts_before_day]).await?;
        let marks_before_ms = cut.salts_before_day * crate::DAY_MS;
        out.counted_clients = execute(
            client,
            &reports::sql::PRUNE_COUNTED_CLIENTS,
            &[&marks_before_ms],
        )
        .await?;
        out.comments = execute(
            client,
            &comments::sql::PRUNE_COMMENTS,
            &[&cut.raw_before_ms],
        )
        .await?;
        out.banned_networks = execute(
            client,
            &comments::sql::PRUNE_BANNED_NETWORKS,
            &[&cut.raw_before_ms],
        )
        .await?;
        Ok(out)
    }
}

/// The database's clock in unix milliseconds.
pub(crate) const DB_NOW_MS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// Refuses a write under `fence` whose lease is no longer its holder's with its token, or
/// has expired by the database's clock. The lease row stays locked (`FOR SHARE`) until the
/// transaction ends, so another node cannot take it over before the write commits.
pub(crate) async fn check_fence(
    tx: &deadpool_postgres::Transaction<'_>,
    fence: Option<&crate::Fence>,
) -> Result<(), StoreError> {
    let Some(f) = fence else { return Ok(()) };
    let held = tx
        .query_opt(
            &format!(
                "SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND token = $3
                 AND expires_at_ms > {DB_NOW_MS} FOR SHARE"
            ),
            &[&f.name, &f.holder, &f.token],
        )
        .await?;
    match held {
        Some(_) => Ok(()),
        None => Err(f.lost()),
    }
}
