//! [`ReportStore`] on SQLite.

use super::sql::*;
use super::*;
use crate::sql::{One, Word};
use crate::sqlite::{SqliteStore, execute, lock, query, query_one, query_opt};
use rusqlite::{Connection, params};

/// One transaction: the reports, then their roll-up increments. Row by row through cached
/// statements (PostgreSQL sends each list as arrays through `UNNEST` instead).
fn insert_batch(conn: &mut Connection, batch: &[NewReport]) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    insert_rows(&tx, batch)?;
    tx.commit()?;
    Ok(())
}

/// Counts the batch's candidates against `counted_clients` (see
/// [`ReportStore::insert_reports_once`]), then writes the reports, in one transaction. The
/// one writer connection makes the decisions one at a time.
fn insert_counted(conn: &mut Connection, batch: &mut CountingBatch) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut earlier = tx.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM counted_clients WHERE service = ?1
                AND client_hash = ?2 AND counted_at_ms > ?3 - ?4)",
        )?;
        let mut mark = tx.prepare_cached(
            "INSERT INTO counted_clients (service, client_hash, counted_at_ms)
             VALUES (?1, ?2, ?3)
             ON CONFLICT (service, client_hash) DO UPDATE
                 SET counted_at_ms = excluded.counted_at_ms
                 WHERE counted_at_ms <= excluded.counted_at_ms - ?4",
        )?;
        let window = batch.window_ms;
        for i in batch.candidates() {
            let r = &batch.reports[i];
            let seen_yesterday = match batch.earlier.get(i).copied().flatten() {
                Some(key) => earlier.query_row(
                    params![&*r.service, &key[..], r.received_at_ms, window],
                    |row| row.get::<_, bool>(0),
                )?,
                None => false,
            };
            let counts = !seen_yesterday
                && mark.execute(params![
                    &*r.service,
                    &r.client_hash[..],
                    r.received_at_ms,
                    window
                ])? == 1;
            batch.reports[i].counted = counts;
        }
    }
    insert_rows(&tx, &batch.reports)?;
    tx.commit()?;
    Ok(())
}

/// The reports, then their roll-up increments, in the caller's transaction.
fn insert_rows(tx: &rusqlite::Transaction<'_>, batch: &[NewReport]) -> Result<(), StoreError> {
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO reports (service, received_at_ms, problem, platform, country, city,
                client_hash, network_hash, counted, message)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for r in batch {
            insert.execute(params![
                &*r.service,
                r.received_at_ms,
                &*r.problem,
                r.platform.map(Word::word),
                r.country.map(Word::word),
                r.city,
                &r.client_hash[..],
                &r.network_hash[..],
                r.counted,
                r.message,
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
    Ok(())
}

#[async_trait]
impl ReportStore for SqliteStore {
    async fn insert_reports(
        &self,
        batch: Vec<NewReport>,
    ) -> (Vec<NewReport>, Result<(), StoreError>) {
        if batch.is_empty() {
            return (batch, Ok(()));
        }
        let writer = self.writer();
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

    async fn insert_reports_once(
        &self,
        batch: CountingBatch,
    ) -> (CountingBatch, Result<(), StoreError>) {
        if batch.is_empty() {
            return (batch, Ok(()));
        }
        let writer = self.writer();
        let done = tokio::task::spawn_blocking(move || {
            let mut batch = batch;
            let asked: Vec<bool> = batch.reports.iter().map(|r| r.counted).collect();
            let result = insert_counted(&mut lock(&writer), &mut batch);
            if result.is_err() {
                // Rolled back: the batch goes back as it came.
                for (r, a) in batch.reports.iter_mut().zip(asked) {
                    r.counted = a;
                }
            }
            (batch, result)
        })
        .await;
        match done {
            Ok(out) => out,
            Err(e) => (
                CountingBatch::default(),
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
        self.read(move |c| query(c, &RECENT_COUNTED_CLIENTS, &[&service, &since_ms]))
            .await
    }

    async fn summary(&self, service: &str, since_ms: i64) -> Result<Summary, StoreError> {
        let service = service.to_owned();
        let since_minute = since_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        let rows = self
            .read(move |c| query(c, &SUMMARY, &[&service, &since_minute]))
            .await?;
        Ok(Summary::from_rows(rows))
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
        let (since_ms, until_ms) = minute_bounds(since_ms, until_ms);
        self.read(move |c| {
            query(
                c,
                &REPORT_COUNTS,
                &[&service, &since_ms, &until_ms, &bucket_ms],
            )
        })
        .await
    }

    async fn daily_salt(&self, day: i64, candidate: [u8; 32]) -> Result<[u8; 32], StoreError> {
        self.write(move |c| {
            execute(c, &INSERT_SALT, &[&day, &&candidate[..]])?;
            let salt: Option<One<Vec<u8>>> = query_opt(c, &SALT, &[&day])?;
            stored_salt(salt.map(|s| s.0))
        })
        .await
    }

    async fn report_messages(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<ReportMessage>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| {
            query(
                c,
                &REPORT_MESSAGES,
                &[&service, &since_ms, &MAX_MESSAGES_READ],
            )
        })
        .await
    }

    async fn hidden_messages(&self, service: &str) -> Result<Vec<String>, StoreError> {
        let service = service.to_owned();
        let rows: Vec<One<String>> = self
            .read(move |c| query(c, &HIDDEN_MESSAGES, &[&service]))
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn set_message_hidden(
        &self,
        service: &str,
        key: &str,
        hide: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        let (service, key) = (service.to_owned(), key.to_owned());
        let hide = hide.map(|(by, at)| (by.to_owned(), at));
        self.write(move |c| {
            match &hide {
                Some((by, at)) => execute(c, &HIDE_MESSAGE, &[&service, &key, by, at])?,
                None => execute(c, &SHOW_MESSAGE, &[&service, &key])?,
            };
            Ok(())
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
        self.read(move |c| query(c, &NETWORK_MINUTES, &[&service, &from_ms, &until_ms]))
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
            let named: One<i64> = query_one(&tx, &CITIES_NAMED, &[&service, &since_ms])?;
            // SQLite's default collation already compares bytes (PostgreSQL needs `"C"`).
            let mut st = tx.prepare_cached(
                "SELECT city, country, SUM(n) AS total, MAX(nets) AS networks FROM
                   (SELECT city, country, received_at_ms / 86400000 AS day, COUNT(*) AS n,
                           COUNT(DISTINCT network_hash) AS nets
                    FROM reports
                    WHERE service = ?1 AND received_at_ms >= ?2 AND counted AND city IS NOT NULL
                    GROUP BY city, country, day) AS per_day
                 GROUP BY city, country
                 ORDER BY networks DESC, total DESC, city, COALESCE(country, '') LIMIT ?3",
            )?;
            let mut rows = st.query(params![service, since_ms, limit])?;
            let mut cities = Vec::new();
            while let Some(r) = rows.next()? {
                cities.push(CityCount::from_row(r)?);
            }
            Ok(TopCities {
                named: named.0.max(0) as u64,
                cities,
            })
        })
        .await
    }
}
