//! The multi-node backend: PostgreSQL through a connection pool.
//!
//! Several stateless Downbeat nodes can share one database. Migrations take an advisory lock
//! so nodes starting together apply each migration once. A batch of reports goes in with one
//! `INSERT ... SELECT FROM UNNEST(...)` and one roll-up upsert, in one transaction.

use crate::migrate::{self, Migration};
use crate::model::*;
use crate::{Backend, Store, StoreError};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::str::FromStr;
use tokio_postgres::NoTls;

mod notify;
mod operator;

/// Arbitrary constant naming Downbeat's migration lock among the database's advisory locks.
const MIGRATION_LOCK: i64 = 0x646f_776e_6265_6174; // "downbeat"

pub struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// Connects to `url`, checks the server answers, and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        // The URL may hold a password: errors describe it, never echo it.
        let cfg = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?;
        let mgr = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(16)
            .build()
            .map_err(|e| StoreError::Config(format!("PostgreSQL pool: {e}")))?;
        let store = PgStore { pool };
        store.migrate(migrate::POSTGRES).await?;
        Ok(store)
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
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await?
            .get(0);
        if current > migrate::latest(list) {
            return Err(StoreError::Migration(format!(
                "database schema version {current} is newer than this binary knows ({}); upgrade Downbeat",
                migrate::latest(list)
            )));
        }
        for m in list.iter().filter(|m| m.version > current) {
            tx.batch_execute(m.sql)
                .await
                .map_err(|e| StoreError::Migration(format!("{}: {e}", m.name)))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES ($1, $2, $3)",
                &[
                    &m.version,
                    &m.name,
                    &jiff::Timestamp::now().as_millisecond(),
                ],
            )
            .await?;
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

impl PgStore {
    /// One transaction: every report through UNNEST, then the roll-up increments.
    async fn insert_batch(&self, batch: &[NewReport]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let services: Vec<&str> = batch.iter().map(|r| &*r.service).collect();
        let times: Vec<i64> = batch.iter().map(|r| r.received_at_ms).collect();
        let problems: Vec<&str> = batch.iter().map(|r| &*r.problem).collect();
        let platforms: Vec<Option<&str>> = batch.iter().map(|r| r.platform).collect();
        let countries: Vec<Option<&str>> = batch.iter().map(|r| r.country).collect();
        let cities: Vec<Option<&str>> = batch.iter().map(|r| r.city.as_deref()).collect();
        let clients: Vec<&[u8]> = batch.iter().map(|r| &r.client_hash[..]).collect();
        let networks: Vec<&[u8]> = batch.iter().map(|r| &r.network_hash[..]).collect();
        let counted: Vec<bool> = batch.iter().map(|r| r.counted).collect();

        let inc = rollup_increments(batch);
        let r_services: Vec<&str> = inc.keys().map(|k| k.0).collect();
        let r_minutes: Vec<i64> = inc.keys().map(|k| k.1).collect();
        let r_problems: Vec<&str> = inc.keys().map(|k| k.2).collect();
        let r_platforms: Vec<&str> = inc.keys().map(|k| k.3).collect();
        let r_countries: Vec<&str> = inc.keys().map(|k| k.4).collect();
        let r_counts: Vec<i64> = inc.values().copied().collect();

        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO reports (service, received_at_ms, problem, platform, country, city,
                client_hash, network_hash, counted)
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                $6::text[], $7::bytea[], $8::bytea[], $9::bool[])",
            &[
                &services, &times, &problems, &platforms, &countries, &cities, &clients, &networks,
                &counted,
            ],
        )
        .await?;
        if !r_counts.is_empty() {
            tx.execute(
                "INSERT INTO report_minutes (service, minute_ms, problem, platform, country, count)
                 SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[])
                 ON CONFLICT (service, minute_ms, problem, platform, country)
                 DO UPDATE SET count = report_minutes.count + excluded.count",
                &[&r_services, &r_minutes, &r_problems, &r_platforms, &r_countries, &r_counts],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn probe_row(r: &tokio_postgres::Row) -> StoredProbeResult {
    StoredProbeResult {
        monitor: r.get(0),
        region: r.get(1),
        at_ms: r.get(2),
        outcome: r.get(3),
        cause: r.get(4),
        total_ms: r.get(5),
        reliable: r.get(6),
        result: r.get(7),
    }
}

fn hash16(v: &[u8]) -> Result<Hash16, StoreError> {
    v.try_into()
        .map_err(|_| StoreError::Internal("stored hash is not 16 bytes".into()))
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client().await?.query_one("SELECT 1", &[]).await?;
        Ok(())
    }

    async fn insert_reports(
        &self,
        batch: Vec<NewReport>,
    ) -> (Vec<NewReport>, Result<(), StoreError>) {
        let result = self.insert_batch(&batch).await;
        (batch, result)
    }

    async fn recent_counted_clients(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<RecentClient>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT service, client_hash, MAX(received_at_ms) FROM reports
                 WHERE service = $1 AND received_at_ms >= $2 AND counted GROUP BY service, client_hash",
                &[&service, &since_ms],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(RecentClient {
                    service: r.get(0),
                    client_hash: hash16(r.get::<_, &[u8]>(1))?,
                    last_counted_ms: r.get(2),
                })
            })
            .collect()
    }

    async fn summary(&self, service: &str, since_ms: i64) -> Result<Summary, StoreError> {
        let since_minute = since_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        let rows = self
            .client()
            .await?
            .query(
                "SELECT problem, platform, country, SUM(count)::bigint FROM report_minutes
                 WHERE service = $1 AND minute_ms >= $2 GROUP BY problem, platform, country",
                &[&service, &since_minute],
            )
            .await?;
        let mut s = Summary::default();
        for r in rows {
            s.add(
                r.get(0),
                r.get(1),
                r.get(2),
                r.get::<_, i64>(3).max(0) as u64,
            );
        }
        Ok(s)
    }

    async fn report_counts(
        &self,
        service: &str,
        since_ms: i64,
        until_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<BucketCount>, StoreError> {
        let bucket_ms = bucket_ms.max(MINUTE_MS);
        let rows = self
            .client()
            .await?
            .query(
                "SELECT (minute_ms / $4) * $4 AS b, SUM(count)::bigint FROM report_minutes
                 WHERE service = $1 AND minute_ms >= $2 AND minute_ms < $3 GROUP BY b ORDER BY b",
                &[&service, &since_ms, &until_ms, &bucket_ms],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| BucketCount {
                start_ms: r.get(0),
                count: r.get::<_, i64>(1).max(0) as u64,
            })
            .collect())
    }

    async fn daily_salt(&self, day: i64, candidate: [u8; 32]) -> Result<[u8; 32], StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO daily_salts (day, salt) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING",
                &[&day, &&candidate[..]],
            )
            .await?;
        let row = client
            .query_one("SELECT salt FROM daily_salts WHERE day = $1", &[&day])
            .await?;
        row.get::<_, &[u8]>(0)
            .try_into()
            .map_err(|_| StoreError::Internal("stored salt is not 32 bytes".into()))
    }

    async fn network_minutes(
        &self,
        service: &str,
        from_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<NetworkMinute>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT (received_at_ms / 60000) * 60000 AS m, network_hash, problem,
                        COALESCE(platform, ''), COALESCE(country, ''), COUNT(*)
                 FROM reports
                 WHERE service = $1 AND received_at_ms >= $2 AND received_at_ms < $3 AND counted
                 GROUP BY m, network_hash, problem, platform, country",
                &[&service, &from_ms, &until_ms],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(NetworkMinute {
                    minute_ms: r.get(0),
                    network_hash: hash16(r.get::<_, &[u8]>(1))?,
                    problem: r.get(2),
                    platform: r.get(3),
                    country: r.get(4),
                    count: r.get::<_, i64>(5).max(0) as u64,
                })
            })
            .collect()
    }

    async fn detector_states(&self, service: &str) -> Result<Vec<DetectorState>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT series, state, through_minute_ms FROM detector_states WHERE service = $1",
                &[&service],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| DetectorState {
                series: r.get(0),
                state: r.get(1),
                through_minute_ms: r.get(2),
            })
            .collect())
    }

    async fn save_detector_states(
        &self,
        service: &str,
        states: Vec<DetectorState>,
    ) -> Result<(), StoreError> {
        let series: Vec<&str> = states.iter().map(|d| d.series.as_str()).collect();
        let blobs: Vec<&str> = states.iter().map(|d| d.state.as_str()).collect();
        let through: Vec<i64> = states.iter().map(|d| d.through_minute_ms).collect();
        self.client()
            .await?
            .execute(
                "INSERT INTO detector_states (service, series, state, through_minute_ms)
                 SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::bigint[])
                 ON CONFLICT (service, series) DO UPDATE
                 SET state = excluded.state, through_minute_ms = excluded.through_minute_ms",
                &[&service, &series, &blobs, &through],
            )
            .await?;
        Ok(())
    }

    async fn insert_verdict_event(&self, e: VerdictEvent) -> Result<i64, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                "INSERT INTO verdict_events (service, series, at_ms, verdict, previous, score, observed,
                    expected, explanation, evidence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 RETURNING id",
                &[&e.service, &e.series, &e.at_ms, &e.verdict, &e.previous, &e.score, &e.observed, &e.expected, &e.explanation, &e.evidence],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn verdict_events(
        &self,
        service: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<VerdictEvent>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, service, series, at_ms, verdict, previous, score, observed, expected,
                        explanation, evidence
                 FROM verdict_events WHERE service = $1 AND at_ms >= $2
                 ORDER BY at_ms DESC, id DESC LIMIT $3",
                &[&service, &since_ms, &(limit as i64)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| VerdictEvent {
                id: r.get(0),
                service: r.get(1),
                series: r.get(2),
                at_ms: r.get(3),
                verdict: r.get(4),
                previous: r.get(5),
                score: r.get(6),
                observed: r.get(7),
                expected: r.get(8),
                explanation: r.get(9),
                evidence: r.get(10),
            })
            .collect())
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO leases (name, holder, expires_at_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at_ms = excluded.expires_at_ms
                 WHERE leases.holder = excluded.holder OR leases.expires_at_ms <= $4",
                &[&name, &holder, &(now_ms + ttl_ms), &now_ms],
            )
            .await?;
        Ok(n == 1)
    }

    async fn insert_probe_results(&self, batch: Vec<NewProbeResult>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let monitors: Vec<&str> = batch.iter().map(|r| &*r.monitor).collect();
        let regions: Vec<&str> = batch.iter().map(|r| &*r.region).collect();
        let ats: Vec<i64> = batch.iter().map(|r| r.at_ms).collect();
        let outcomes: Vec<&str> = batch.iter().map(|r| r.outcome).collect();
        let causes: Vec<Option<&str>> = batch.iter().map(|r| r.cause).collect();
        let totals: Vec<Option<f64>> = batch.iter().map(|r| r.total_ms).collect();
        let reliable: Vec<bool> = batch.iter().map(|r| r.reliable).collect();
        let results: Vec<&str> = batch.iter().map(|r| r.result.as_str()).collect();
        let inc = probe_hour_increments(&batch);
        let h_mon: Vec<&str> = inc.keys().map(|k| k.0).collect();
        let h_reg: Vec<&str> = inc.keys().map(|k| k.1).collect();
        let h_hour: Vec<i64> = inc.keys().map(|k| k.2).collect();
        let h_n: Vec<i64> = inc.values().map(|v| v.0).collect();
        let h_f: Vec<i64> = inc.values().map(|v| v.1).collect();
        let h_t: Vec<f64> = inc.values().map(|v| v.2).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO probe_results (monitor, region, at_ms, outcome, cause, total_ms, reliable, result)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                $6::float8[], $7::bool[], $8::text[])",
            &[&monitors, &regions, &ats, &outcomes, &causes, &totals, &reliable, &results],
        )
        .await?;
        tx.execute(
            "INSERT INTO probe_hours (monitor, region, hour_ms, probes, failures, total_ms)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::float8[])
             ON CONFLICT (monitor, region, hour_ms) DO UPDATE SET probes = probe_hours.probes + excluded.probes,
                failures = probe_hours.failures + excluded.failures, total_ms = probe_hours.total_ms + excluded.total_ms",
            &[&h_mon, &h_reg, &h_hour, &h_n, &h_f, &h_t],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn probe_results(
        &self,
        monitor: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<StoredProbeResult>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT monitor, region, at_ms, outcome, cause, total_ms, reliable, result FROM probe_results
                 WHERE monitor = $1 AND at_ms >= $2 ORDER BY at_ms, id LIMIT $3",
                &[&monitor, &since_ms, &(limit as i64)],
            )
            .await?;
        Ok(rows.iter().map(probe_row).collect())
    }

    async fn latest_probe_results(
        &self,
        since_ms: i64,
    ) -> Result<Vec<StoredProbeResult>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT DISTINCT ON (monitor, region) monitor, region, at_ms, outcome, cause, total_ms, reliable, result
                 FROM probe_results WHERE at_ms >= $1 ORDER BY monitor, region, id DESC",
                &[&since_ms],
            )
            .await?;
        Ok(rows.iter().map(probe_row).collect())
    }

    async fn probe_hours(
        &self,
        monitor: &str,
        since_ms: i64,
    ) -> Result<Vec<ProbeHour>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT region, hour_ms, probes, failures, total_ms FROM probe_hours
                 WHERE monitor = $1 AND hour_ms >= $2 ORDER BY hour_ms, region",
                &[&monitor, &since_ms],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| ProbeHour {
                region: r.get(0),
                hour_ms: r.get(1),
                probes: r.get::<_, i64>(2).max(0) as u64,
                failures: r.get::<_, i64>(3).max(0) as u64,
                total_ms: r.get(4),
            })
            .collect())
    }

    async fn probe_days(&self, monitor: &str, since_ms: i64) -> Result<Vec<ProbeDay>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT (hour_ms / $3) * $3 AS d, SUM(probes)::bigint, SUM(failures)::bigint
                 FROM probe_hours WHERE monitor = $1 AND hour_ms >= $2 GROUP BY d ORDER BY d",
                &[&monitor, &since_ms, &DAY_MS],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| ProbeDay {
                day_ms: r.get(0),
                probes: r.get::<_, i64>(1).max(0) as u64,
                failures: r.get::<_, i64>(2).max(0) as u64,
            })
            .collect())
    }

    async fn top_cities(
        &self,
        service: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<TopCities, StoreError> {
        let mut client = self.client().await?;
        // Both reads in one snapshot, so the shares add up.
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let named: i64 = tx
            .query_one(
                "SELECT COUNT(*) FROM reports WHERE service = $1 AND received_at_ms >= $2
                 AND counted AND city IS NOT NULL",
                &[&service, &since_ms],
            )
            .await?
            .get(0);
        let rows = tx
            .query(
                "SELECT city, country, COUNT(*) AS n FROM reports
                 WHERE service = $1 AND received_at_ms >= $2 AND counted AND city IS NOT NULL
                 GROUP BY city, country
                 ORDER BY n DESC, city COLLATE \"C\", COALESCE(country, '') COLLATE \"C\" LIMIT $3",
                &[&service, &since_ms, &i64::from(limit)],
            )
            .await?;
        tx.commit().await?;
        Ok(TopCities {
            named: named.max(0) as u64,
            cities: rows
                .iter()
                .map(|r| CityCount {
                    city: r.get(0),
                    country: r.get(1),
                    count: r.get::<_, i64>(2).max(0) as u64,
                })
                .collect(),
        })
    }

    async fn monitor_states(&self) -> Result<Vec<MonitorState>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT monitor, state, since_ms, cause FROM monitor_states",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| MonitorState {
                monitor: r.get(0),
                state: r.get(1),
                since_ms: r.get(2),
                cause: r.get(3),
            })
            .collect())
    }

    async fn save_monitor_state(&self, m: MonitorState) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO monitor_states (monitor, state, since_ms, cause) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (monitor) DO UPDATE SET state = excluded.state, since_ms = excluded.since_ms,
                    cause = excluded.cause",
                &[&m.monitor, &m.state, &m.since_ms, &m.cause],
            )
            .await?;
        Ok(())
    }

    async fn prune(&self, cut: PruneCutoffs) -> Result<PruneOutcome, StoreError> {
        const CHUNK: i64 = 10_000;
        let client = self.client().await?;
        let mut out = PruneOutcome::default();
        loop {
            let n = client
                .execute(
                    // Ids grow with time: look only at the oldest chunk (see the SQLite
                    // backend).
                    "DELETE FROM reports WHERE id IN
                     (SELECT id FROM reports ORDER BY id LIMIT $2) AND received_at_ms < $1",
                    &[&cut.raw_before_ms, &CHUNK],
                )
                .await?;
            out.reports += n;
            if n < CHUNK as u64 {
                break;
            }
        }
        loop {
            let n = client
                .execute(
                    "DELETE FROM report_minutes WHERE ctid IN
                     (SELECT ctid FROM report_minutes WHERE minute_ms < $1 LIMIT $2)",
                    &[&cut.rollups_before_ms, &CHUNK],
                )
                .await?;
            out.rollups += n;
            if n < CHUNK as u64 {
                break;
            }
        }
        loop {
            let n = client
                .execute(
                    "DELETE FROM probe_results WHERE id IN
                     (SELECT id FROM probe_results ORDER BY id LIMIT $2) AND at_ms < $1",
                    &[&cut.raw_before_ms, &CHUNK],
                )
                .await?;
            out.probe_results += n;
            if n < CHUNK as u64 {
                break;
            }
        }
        client
            .execute(
                "DELETE FROM probe_hours WHERE hour_ms < $1",
                &[&cut.rollups_before_ms],
            )
            .await?;
        out.salts = client
            .execute(
                "DELETE FROM daily_salts WHERE day < $1",
                &[&cut.salts_before_day],
            )
            .await?;
        Ok(out)
    }
}
