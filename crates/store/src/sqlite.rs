//! The embedded backend: a SQLite file in WAL mode.
//!
//! One writer connection (SQLite allows one writer at a time anyway) and a small pool of
//! reader connections, which WAL lets read while the writer commits. Every call runs on
//! tokio's blocking pool. `synchronous = FULL` makes each commit durable against power loss,
//! not only against a killed process; group commit keeps that affordable.
//!
//! Each stage's implementation lives beside the stage (`<stage>/sqlite.rs`); this module
//! holds the connections, the helpers that run a shared statement and map its rows, and
//! [`Store`]'s own methods.

use crate::migrate::{self, Migration};
use crate::sql::{FromRow, One, Param, Sql};
use crate::{
    Backend, PruneCutoffs, PruneOutcome, Store, StoreError, comments, probes, reports, signals,
};
use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// The database file's name inside the data directory.
pub const FILE_NAME: &str = "downbeat.sqlite3";

const READERS: usize = 4;

pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    reader_slots: Arc<Semaphore>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-applied transaction (rusqlite rolls
    // back on drop), so the connection is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl SqliteStore {
    /// Opens or creates the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(path))
            .await
            .map_err(|e| StoreError::Internal(format!("open task failed: {e}")))?
    }

    fn open_blocking(path: PathBuf) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Config(format!(
                    "cannot create data directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let mut writer = Connection::open(&path).map_err(|e| {
            StoreError::Config(format!(
                "cannot open SQLite database {}: {e}",
                path.display()
            ))
        })?;
        let mode: String =
            writer.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Config(format!(
                "SQLite refused WAL mode (got {mode})"
            )));
        }
        writer.pragma_update(None, "synchronous", "FULL")?;
        configure(&writer)?;
        apply_migrations(&mut writer, migrate::SQLITE)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            configure(&r)?;
            readers.push(r);
        }
        Ok(SqliteStore {
            path,
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(Mutex::new(readers)),
            reader_slots: Arc::new(Semaphore::new(READERS)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The writer connection, for a write that must hand its input back even when its task
    /// fails (see `reports/sqlite.rs`).
    pub(crate) fn writer(&self) -> Arc<Mutex<Connection>> {
        self.writer.clone()
    }

    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&writer)))
            .await
            .map_err(|e| StoreError::Internal(format!("write task failed: {e}")))?
    }

    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let _slot = self
            .reader_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("store closed".into()))?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = lock(&readers)
                .pop()
                .ok_or_else(|| StoreError::Internal("no reader".into()))?;
            let out = f(&conn);
            lock(&readers).push(conn);
            out
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }
}

impl SqliteStore {
    /// Deletes the rows `prune` selects (parameters: a key, the cut-off, a chunk size) for
    /// each key `next_key` walks through (parameter: the previous key), in chunks so the
    /// writer lock is never held long: ingestion keeps flowing. Returns how many went.
    async fn prune_by_key(
        &self,
        next_key: &'static Sql,
        prune: &'static Sql,
        before_ms: i64,
    ) -> Result<u64, StoreError> {
        const CHUNK: i64 = 5_000;
        let mut deleted = 0;
        let mut key = String::new();
        loop {
            let after = key;
            let next: Option<One<String>> = self
                .read(move |c| query_opt(c, next_key, &[&after]))
                .await?;
            let Some(One(next)) = next else {
                return Ok(deleted);
            };
            key = next;
            loop {
                let k = key.clone();
                let n = self
                    .write(move |c| Ok(execute(c, prune, &[&k, &before_ms, &CHUNK])? as u64))
                    .await?;
                deleted += n;
                if n < CHUNK as u64 {
                    break;
                }
            }
        }
    }
}

fn apply_migrations(conn: &mut Connection, list: &[Migration]) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms INTEGER NOT NULL)",
    )?;
    let current: i64 = conn.query_row(migrate::sql::CURRENT_VERSION.sqlite, [], |r| r.get(0))?;
    let latest = migrate::latest(list);
    if current > latest {
        let mut stmt = conn.prepare(migrate::sql::NEWER.sqlite)?;
        let newer = stmt
            .query_map([latest], |r| {
                Ok(migrate::Unknown {
                    version: r.get(0)?,
                    name: r.get(1)?,
                    keeps_working_from: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        migrate::may_run_beside(latest, &newer)?;
    }
    for m in list.iter().filter(|m| m.version > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)
            .map_err(|e| StoreError::Migration(format!("{}: {e}", m.name)))?;
        tx.execute(
            migrate::sql::RECORD_VERSION.sqlite,
            params![m.version, m.name, jiff::Timestamp::now().as_millisecond()],
        )?;
        if m.version >= migrate::RECORDS_COMPATIBILITY_FROM {
            tx.execute(
                migrate::sql::RECORD_COMPATIBILITY.sqlite,
                params![migrate::keeps_working_from(m.version), m.version],
            )?;
        }
        tx.commit()?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied SQLite migration"
        );
    }
    Ok(())
}

/// `params` as rusqlite binds them.
pub(crate) fn bind<'a>(params: &'a [&'a dyn Param]) -> impl rusqlite::Params + 'a {
    rusqlite::params_from_iter(params.iter().map(|p| p.arg()))
}

/// Every row of `sql`.
pub(crate) fn query<T: FromRow>(
    c: &Connection,
    sql: &Sql,
    params: &[&dyn Param],
) -> Result<Vec<T>, StoreError> {
    let mut st = c.prepare_cached(sql.sqlite)?;
    let mut rows = st.query(bind(params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(T::from_row(r)?);
    }
    Ok(out)
}

/// The first row of `sql`, if any.
pub(crate) fn query_opt<T: FromRow>(
    c: &Connection,
    sql: &Sql,
    params: &[&dyn Param],
) -> Result<Option<T>, StoreError> {
    let mut st = c.prepare_cached(sql.sqlite)?;
    let mut rows = st.query(bind(params))?;
    rows.next()?.map(T::from_row).transpose()
}

/// The one row of `sql` (an error when there is none).
pub(crate) fn query_one<T: FromRow>(
    c: &Connection,
    sql: &Sql,
    params: &[&dyn Param],
) -> Result<T, StoreError> {
    let mut st = c.prepare_cached(sql.sqlite)?;
    let mut rows = st.query(bind(params))?;
    match rows.next()? {
        Some(r) => T::from_row(r),
        None => Err(rusqlite::Error::QueryReturnedNoRows.into()),
    }
}

/// Runs `sql`; how many rows it changed.
pub(crate) fn execute(
    c: &Connection,
    sql: &Sql,
    params: &[&dyn Param],
) -> Result<usize, StoreError> {
    Ok(c.prepare_cached(sql.sqlite)?.execute(bind(params))?)
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| {
            Ok(
                c.query_row(crate::sql::PING.sqlite, [], |r| r.get::<_, i64>(0))
                    .map(|_| ())?,
            )
        })
        .await
    }

    async fn prune(&self, cut: PruneCutoffs) -> Result<PruneOutcome, StoreError> {
        let mut out = PruneOutcome {
            reports: self
                .prune_by_key(
                    &reports::sql::NEXT_REPORT_SERVICE,
                    &reports::sql::PRUNE_REPORTS,
                    cut.raw_before_ms,
                )
                .await?,
            ..PruneOutcome::default()
        };
        // Roll-ups have no rowid: delete them a few hours of minutes at a time instead.
        // (PostgreSQL deletes them by `ctid` in chunks.)
        loop {
            let n = self
                .write(move |c| {
                    let oldest: Option<i64> =
                        c.query_row("SELECT MIN(minute_ms) FROM report_minutes", [], |r| {
                            r.get(0)
                        })?;
                    match oldest {
                        Some(oldest) if oldest < cut.rollups_before_ms => {
                            let upto = cut.rollups_before_ms.min(oldest + 6 * 3_600_000);
                            Ok(Some(c.execute(
                                "DELETE FROM report_minutes WHERE minute_ms < ?1",
                                [upto],
                            )? as u64))
                        }
                        _ => Ok(None),
                    }
                })
                .await?;
            match n {
                Some(n) => out.rollups += n,
                None => break,
            }
        }
        out.probe_results = self
            .prune_by_key(
                &probes::sql::NEXT_RESULT_MONITOR,
                &probes::sql::PRUNE_RESULTS,
                cut.raw_before_ms,
            )
            .await?;
        self.write(move |c| {
            execute(c, &probes::sql::PRUNE_HOURS, &[&cut.rollups_before_ms])?;
            execute(
                c,
                &signals::sql::PRUNE_SIGNAL_MINUTES,
                &[&cut.rollups_before_ms],
            )?;
            execute(c, &signals::sql::PRUNE_SIGNAL_POSTS, &[&cut.raw_before_ms])
        })
        .await?;
        out.salts = self
            .write(move |c| {
                Ok(execute(c, &reports::sql::PRUNE_SALTS, &[&cut.salts_before_day])? as u64)
            })
            .await?;
        let marks_before_ms = cut.salts_before_day * crate::DAY_MS;
        out.counted_clients = self
            .write(move |c| {
                Ok(execute(c, &reports::sql::PRUNE_COUNTED_CLIENTS, &[&marks_before_ms])? as u64)
            })
            .await?;
        (out.comments, out.banned_networks) = self
            .write(move |c| {
                let comments = execute(c, &comments::sql::PRUNE_COMMENTS, &[&cut.raw_before_ms])?;
                let bans = execute(
                    c,
                    &comments::sql::PRUNE_BANNED_NETWORKS,
                    &[&cut.raw_before_ms],
                )?;
                Ok((comments as u64, bans as u64))
            })
            .await?;
        Ok(out)
    }
}

/// Refuses a write under `fence` whose lease is no longer its holder's with its token
/// (SQLite has one writer: nothing can change hands during the transaction).
pub(crate) fn check_fence(
    tx: &rusqlite::Connection,
    fence: Option<&crate::Fence>,
) -> Result<(), StoreError> {
    let Some(f) = fence else { return Ok(()) };
    let held: Option<crate::sql::One<i64>> =
        query_opt(tx, &FENCE_HELD, &[&f.name, &f.holder, &f.token])?;
    match held {
        Some(_) => Ok(()),
        None => Err(f.lost()),
    }
}

const FENCE_HELD: crate::sql::Sql =
    crate::sql::sql!("SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND token = $3");
