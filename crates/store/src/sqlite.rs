//! The embedded backend: a SQLite file in WAL mode.
//!
//! One writer connection (SQLite allows one writer at a time anyway) and a small pool of
//! reader connections, which WAL lets read while the writer commits. Every call runs on
//! tokio's blocking pool. `synchronous = FULL` makes each commit durable against power loss,
//! not only against a killed process; group commit keeps that affordable.

use crate::migrate::{self, Migration};
use crate::model::*;
use crate::{Backend, Store, StoreError};
use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

mod notify;
mod operator;

/// The database file's name inside the data directory.
pub const FILE_NAME: &str = "downbeat.sqlite3";

const READERS: usize = 4;

pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    reader_slots: Arc<Semaphore>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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

fn apply_migrations(conn: &mut Connection, list: &[Migration]) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms INTEGER NOT NULL)",
    )?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    if current > migrate::latest(list) {
        return Err(StoreError::Migration(format!(
            "database schema version {current} is newer than this binary knows ({}); upgrade Downbeat",
            migrate::latest(list)
        )));
    }
    for m in list.iter().filter(|m| m.version > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)
            .map_err(|e| StoreError::Migration(format!("{}: {e}", m.name)))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?1, ?2, ?3)",
            params![m.version, m.name, jiff::Timestamp::now().as_millisecond()],
        )?;
        tx.commit()?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied SQLite migration"
        );
    }
    Ok(())
}

/// One transaction: the reports, then their roll-up increments.
fn insert_batch(conn: &mut Connection, batch: &[NewReport]) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO reports (service, received_at_ms, problem, platform, country, city,
                client_hash, network_hash, counted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for r in batch {
            insert.execute(params![
                &*r.service,
                r.received_at_ms,
                &*r.problem,
                r.platform,
                r.country,
                r.city,
                &r.client_hash[..],
                &r.network_hash[..],
                r.counted,
            ])?;
        }
        let mut upsert = tx.prepare_cached(
            "INSERT INTO report_minutes (service, minute_ms, problem, platform, country, count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (service, minute_ms, problem, platform, country)
             DO UPDATE SET count = count + excluded.count",
        )?;
        for ((service, minute, problem, platform, country), n) in rollup_increments(batch) {
            upsert.execute(params![service, minute, problem, platform, country, n])?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn probe_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredProbeResult> {
    Ok(StoredProbeResult {
        monitor: r.get(0)?,
        region: r.get(1)?,
        at_ms: r.get(2)?,
        outcome: r.get(3)?,
        cause: r.get(4)?,
        total_ms: r.get(5)?,
        reliable: r.get(6)?,
        result: r.get(7)?,
    })
}

fn hash16(v: Vec<u8>) -> Result<Hash16, StoreError> {
    v.try_into()
        .map_err(|_| StoreError::Internal("stored hash is not 16 bytes".into()))
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| {
            Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())?)
        })
        .await
    }

    async fn insert_reports(
        &self,
        batch: Vec<NewReport>,
    ) -> (Vec<NewReport>, Result<(), StoreError>) {
        if batch.is_empty() {
            return (batch, Ok(()));
        }
        let writer = self.writer.clone();
        let done = tokio::task::spawn_blocking(move || {
            let result = insert_batch(&mut lock(&writer), &batch);
            (batch, result)
        })
        .await;
        match done {
            Ok(out) => out,
            Err(e) => (
                Vec::new(),
                Err(StoreError::Internal(format!("write task failed: {e}"))),
            ),
        }
    }

    async fn recent_counted_clients(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<RecentClient>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| {
            let mut st = c.prepare(
                "SELECT service, client_hash, MAX(received_at_ms) FROM reports
                 WHERE service = ?1 AND received_at_ms >= ?2 AND counted = 1 GROUP BY service, client_hash",
            )?;
            let rows = st.query_map(params![service, since_ms], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?, r.get(2)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (service, hash, last_counted_ms) = row?;
                out.push(RecentClient {
                    service,
                    client_hash: hash16(hash)?,
                    last_counted_ms,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn summary(&self, service: &str, since_ms: i64) -> Result<Summary, StoreError> {
        let service = service.to_owned();
        let since_minute = since_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT problem, platform, country, SUM(count) FROM report_minutes
                 WHERE service = ?1 AND minute_ms >= ?2 GROUP BY problem, platform, country",
            )?;
            let mut rows = st.query(params![service, since_minute])?;
            let mut s = Summary::default();
            while let Some(r) = rows.next()? {
                s.add(
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, i64>(3)?.max(0) as u64,
                );
            }
            Ok(s)
        })
        .await
    }

    async fn report_counts(
        &self,
        service: &str,
        since_ms: i64,
        until_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<BucketCount>, StoreError> {
        let service = service.to_owned();
        let bucket_ms = bucket_ms.max(MINUTE_MS);
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT (minute_ms / ?4) * ?4 AS b, SUM(count) FROM report_minutes
                 WHERE service = ?1 AND minute_ms >= ?2 AND minute_ms < ?3 GROUP BY b ORDER BY b",
            )?;
            let rows = st.query_map(params![service, since_ms, until_ms, bucket_ms], |r| {
                Ok(BucketCount {
                    start_ms: r.get(0)?,
                    count: r.get::<_, i64>(1)?.max(0) as u64,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn daily_salt(&self, day: i64, candidate: [u8; 32]) -> Result<[u8; 32], StoreError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO daily_salts (day, salt) VALUES (?1, ?2) ON CONFLICT (day) DO NOTHING",
                params![day, &candidate[..]],
            )?;
            let salt: Option<Vec<u8>> = c
                .query_row("SELECT salt FROM daily_salts WHERE day = ?1", [day], |r| {
                    r.get(0)
                })
                .optional()?;
            salt.and_then(|s| s.try_into().ok())
                .ok_or_else(|| StoreError::Internal("daily salt missing after insert".into()))
        })
        .await
    }

    async fn network_minutes(
        &self,
        service: &str,
        from_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<NetworkMinute>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT (received_at_ms / 60000) * 60000 AS m, network_hash, problem,
                        COALESCE(platform, ''), COALESCE(country, ''), COUNT(*)
                 FROM reports
                 WHERE service = ?1 AND received_at_ms >= ?2 AND received_at_ms < ?3 AND counted = 1
                 GROUP BY m, network_hash, problem, platform, country",
            )?;
            let mut rows = st.query(params![service, from_ms, until_ms])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(NetworkMinute {
                    minute_ms: r.get(0)?,
                    network_hash: hash16(r.get(1)?)?,
                    problem: r.get(2)?,
                    platform: r.get(3)?,
                    country: r.get(4)?,
                    count: r.get::<_, i64>(5)?.max(0) as u64,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn detector_states(&self, service: &str) -> Result<Vec<DetectorState>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT series, state, through_minute_ms FROM detector_states WHERE service = ?1",
            )?;
            let rows = st.query_map([service], |r| {
                Ok(DetectorState {
                    series: r.get(0)?,
                    state: r.get(1)?,
                    through_minute_ms: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn save_detector_states(
        &self,
        service: &str,
        states: Vec<DetectorState>,
    ) -> Result<(), StoreError> {
        let service = service.to_owned();
        self.write(move |c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO detector_states (service, series, state, through_minute_ms)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (service, series) DO UPDATE
                     SET state = excluded.state, through_minute_ms = excluded.through_minute_ms",
                )?;
                for d in &states {
                    st.execute(params![service, d.series, d.state, d.through_minute_ms])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn insert_verdict_event(&self, e: VerdictEvent) -> Result<i64, StoreError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO verdict_events (service, series, at_ms, verdict, previous, score, observed,
                    expected, explanation, evidence) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![e.service, e.series, e.at_ms, e.verdict, e.previous, e.score, e.observed, e.expected, e.explanation, e.evidence],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn verdict_events(
        &self,
        service: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<VerdictEvent>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT id, service, series, at_ms, verdict, previous, score, observed, expected,
                        explanation, evidence
                 FROM verdict_events WHERE service = ?1 AND at_ms >= ?2
                 ORDER BY at_ms DESC, id DESC LIMIT ?3",
            )?;
            let rows = st.query_map(params![service, since_ms, limit], |r| {
                Ok(VerdictEvent {
                    id: r.get(0)?,
                    service: r.get(1)?,
                    series: r.get(2)?,
                    at_ms: r.get(3)?,
                    verdict: r.get(4)?,
                    previous: r.get(5)?,
                    score: r.get(6)?,
                    observed: r.get(7)?,
                    expected: r.get(8)?,
                    explanation: r.get(9)?,
                    evidence: r.get(10)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |c| {
            let n = c.execute(
                "INSERT INTO leases (name, holder, expires_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at_ms = excluded.expires_at_ms
                 WHERE leases.holder = excluded.holder OR leases.expires_at_ms <= ?4",
                params![name, holder, now_ms + ttl_ms, now_ms],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn insert_probe_results(&self, batch: Vec<NewProbeResult>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut ins = tx.prepare_cached(
                    "INSERT INTO probe_results (monitor, region, at_ms, outcome, cause, total_ms, reliable, result)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for r in &batch {
                    ins.execute(params![&*r.monitor, &*r.region, r.at_ms, r.outcome, r.cause, r.total_ms, r.reliable, r.result])?;
                }
                let mut up = tx.prepare_cached(
                    "INSERT INTO probe_hours (monitor, region, hour_ms, probes, failures, total_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (monitor, region, hour_ms) DO UPDATE SET probes = probes + excluded.probes,
                        failures = failures + excluded.failures, total_ms = total_ms + excluded.total_ms",
                )?;
                for ((m, r, h), (n, f, t)) in probe_hour_increments(&batch) {
                    up.execute(params![m, r, h, n, f, t])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn probe_results(
        &self,
        monitor: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<StoredProbeResult>, StoreError> {
        let monitor = monitor.to_owned();
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT monitor, region, at_ms, outcome, cause, total_ms, reliable, result FROM probe_results
                 WHERE monitor = ?1 AND at_ms >= ?2 ORDER BY at_ms, id LIMIT ?3",
            )?;
            let rows = st.query_map(params![monitor, since_ms, limit], probe_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn latest_probe_results(
        &self,
        since_ms: i64,
    ) -> Result<Vec<StoredProbeResult>, StoreError> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT p.monitor, p.region, p.at_ms, p.outcome, p.cause, p.total_ms, p.reliable, p.result
                 FROM probe_results p
                 JOIN (SELECT monitor, region, MAX(id) AS id FROM probe_results WHERE at_ms >= ?1
                       GROUP BY monitor, region) l ON l.id = p.id",
            )?;
            let rows = st.query_map([since_ms], probe_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn probe_hours(
        &self,
        monitor: &str,
        since_ms: i64,
    ) -> Result<Vec<ProbeHour>, StoreError> {
        let monitor = monitor.to_owned();
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT region, hour_ms, probes, failures, total_ms FROM probe_hours
                 WHERE monitor = ?1 AND hour_ms >= ?2 ORDER BY hour_ms, region",
            )?;
            let rows = st.query_map(params![monitor, since_ms], |r| {
                Ok(ProbeHour {
                    region: r.get(0)?,
                    hour_ms: r.get(1)?,
                    probes: r.get::<_, i64>(2)?.max(0) as u64,
                    failures: r.get::<_, i64>(3)?.max(0) as u64,
                    total_ms: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn probe_days(&self, monitor: &str, since_ms: i64) -> Result<Vec<ProbeDay>, StoreError> {
        let monitor = monitor.to_owned();
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT (hour_ms / ?3) * ?3 AS d, SUM(probes), SUM(failures) FROM probe_hours
                 WHERE monitor = ?1 AND hour_ms >= ?2 GROUP BY d ORDER BY d",
            )?;
            let rows = st.query_map(params![monitor, since_ms, DAY_MS], |r| {
                Ok(ProbeDay {
                    day_ms: r.get(0)?,
                    probes: r.get::<_, i64>(1)?.max(0) as u64,
                    failures: r.get::<_, i64>(2)?.max(0) as u64,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn top_cities(
        &self,
        service: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<TopCities, StoreError> {
        let service = service.to_owned();
        self.read(move |c| {
            // Both reads in one snapshot, so the shares add up.
            let tx = c.unchecked_transaction()?;
            let named: i64 = tx.query_row(
                "SELECT COUNT(*) FROM reports WHERE service = ?1 AND received_at_ms >= ?2
                 AND counted = 1 AND city IS NOT NULL",
                params![service, since_ms],
                |r| r.get(0),
            )?;
            let mut st = tx.prepare_cached(
                "SELECT city, country, COUNT(*) AS n FROM reports
                 WHERE service = ?1 AND received_at_ms >= ?2 AND counted = 1 AND city IS NOT NULL
                 GROUP BY city, country ORDER BY n DESC, city, COALESCE(country, '') LIMIT ?3",
            )?;
            let rows = st.query_map(params![service, since_ms, limit], |r| {
                Ok(CityCount {
                    city: r.get(0)?,
                    country: r.get(1)?,
                    count: r.get::<_, i64>(2)?.max(0) as u64,
                })
            })?;
            let cities = rows.collect::<Result<Vec<_>, _>>()?;
            Ok(TopCities {
                named: named.max(0) as u64,
                cities,
            })
        })
        .await
    }

    async fn monitor_states(&self) -> Result<Vec<MonitorState>, StoreError> {
        self.read(|c| {
            let mut st =
                c.prepare_cached("SELECT monitor, state, since_ms, cause FROM monitor_states")?;
            let rows = st.query_map([], |r| {
                Ok(MonitorState {
                    monitor: r.get(0)?,
                    state: r.get(1)?,
                    since_ms: r.get(2)?,
                    cause: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn save_monitor_state(&self, m: MonitorState) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO monitor_states (monitor, state, since_ms, cause) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (monitor) DO UPDATE SET state = excluded.state, since_ms = excluded.since_ms,
                    cause = excluded.cause",
                params![m.monitor, m.state, m.since_ms, m.cause],
            )?;
            Ok(())
        })
        .await
    }

    async fn prune(&self, cut: PruneCutoffs) -> Result<PruneOutcome, StoreError> {
        // Deletes in chunks so the writer lock is never held long: ingestion keeps flowing.
        const CHUNK: i64 = 5_000;
        let mut out = PruneOutcome::default();
        loop {
            let n = self
                .write(move |c| {
                    Ok(c.execute(
                        // Ids grow with time: look only at the oldest chunk, and stop at the
                        // first chunk that is not entirely past retention.
                        "DELETE FROM reports WHERE id IN
                         (SELECT id FROM reports ORDER BY id LIMIT ?2) AND received_at_ms < ?1",
                        params![cut.raw_before_ms, CHUNK],
                    )? as u64)
                })
                .await?;
            out.reports += n;
            if n < CHUNK as u64 {
                break;
            }
        }
        // Roll-ups have no rowid: delete them a few hours of minutes at a time instead.
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
        loop {
            let n = self
                .write(move |c| {
                    Ok(c.execute(
                        "DELETE FROM probe_results WHERE id IN
                         (SELECT id FROM probe_results ORDER BY id LIMIT ?2) AND at_ms < ?1",
                        params![cut.raw_before_ms, CHUNK],
                    )? as u64)
                })
                .await?;
            out.probe_results += n;
            if n < CHUNK as u64 {
                break;
            }
        }
        self.write(move |c| {
            Ok(c.execute(
                "DELETE FROM probe_hours WHERE hour_ms < ?1",
                [cut.rollups_before_ms],
            )?)
        })
        .await?;
        out.salts = self
            .write(move |c| {
                Ok(c.execute(
                    "DELETE FROM daily_salts WHERE day < ?1",
                    [cut.salts_before_day],
                )? as u64)
            })
            .await?;
        Ok(out)
    }
}
