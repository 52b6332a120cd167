//! [`ReportStore`] on PostgreSQL.

use super::sql::*;
use super::*;
use crate::postgres::{PgStore, cached, execute, query, query_one};
use crate::sql::{One, Word};

/// Counts and writes a batch in one statement, so one round trip and an implicit
/// transaction, whatever the batch's size: a node's group commit gets smaller batches the
/// more nodes share the load, and each batch's fixed cost is then paid more often.
///
/// - `won`: a candidate (see [`CountingBatch::candidates`]) counts when its
///   `counted_clients` row is inserted, or moved forward because the last count is a window
///   old. `ON CONFLICT ... DO UPDATE ... WHERE` takes the row's lock, so a node counting the
///   same client at the same moment waits for this statement and then sees its mark. Rows
///   are taken in candidate order (`rank`: by service and client, the same on every node),
///   so concurrent batches lock them in one order. Yesterday's key is only read (near
///   midnight, two nodes at the same millisecond could still both count one client: a
///   window of milliseconds once a day, left as it is).
/// - `rows`: every report, counted when it asked to and won.
/// - the reports, and the roll-up increments of the counted ones (in key order, bytewise, so
///   concurrent batches lock minute rows in one order too), in this node's stripe of each
///   minute (`$13`, see [`STRIPES`]).
///
/// Returns the (service, client) pairs that counted.
const COUNT_AND_INSERT: &str = "
WITH input AS (
    SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
        $6::text[], $7::bytea[], $8::bytea[], $9::bytea[], $10::bigint[], $12::text[])
        AS r(service, at, problem, platform, country, city, client, network, earlier, rank,
            message)
),
won AS (
    INSERT INTO counted_clients AS m (service, client_hash, counted_at_ms)
    SELECT c.service, c.client, c.at FROM input c
    WHERE c.rank IS NOT NULL AND (c.earlier IS NULL OR NOT EXISTS (
        SELECT 1 FROM counted_clients y WHERE y.service = c.service
        AND y.client_hash = c.earlier AND y.counted_at_ms > c.at - $11))
    ORDER BY c.rank
    ON CONFLICT (service, client_hash) DO UPDATE
        SET counted_at_ms = excluded.counted_at_ms
        WHERE m.counted_at_ms <= excluded.counted_at_ms - $11
    RETURNING service, client_hash
),
rows AS (
    SELECT i.*, (i.rank IS NOT NULL AND EXISTS (
        SELECT 1 FROM won w WHERE w.service = i.service AND w.client_hash = i.client)) AS counted
    FROM input i
),
stored AS (
    INSERT INTO reports (service, received_at_ms, problem, platform, country, city,
        client_hash, network_hash, counted, message)
    SELECT service, at, problem, platform, country, city, client, network, counted, message
    FROM rows
),
minutes AS (
    INSERT INTO report_minutes (service, minute_ms, problem, platform, country, count)
    SELECT * FROM (
        SELECT service, at - at % 60000 + $13 AS minute, problem, COALESCE(platform, '') AS platform,
            COALESCE(country, '') AS country, COUNT(*)
        FROM rows WHERE counted
        GROUP BY 1, 2, 3, 4, 5
    ) AS g
    ORDER BY g.service COLLATE \"C\", g.minute, g.problem COLLATE \"C\",
        g.platform COLLATE \"C\", g.country COLLATE \"C\"
    ON CONFLICT (service, minute_ms, problem, platform, country)
    DO UPDATE SET count = report_minutes.count + excluded.count
)
SELECT service, client_hash FROM won";

impl PgStore {
    /// Counts the batch's reports against `counted_clients` and writes them, in one
    /// statement ([`COUNT_AND_INSERT`]).
    async fn insert_counted(&self, batch: &mut CountingBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let asked: Vec<bool> = batch.reports.iter().map(|r| r.counted).collect();
        let order = batch.candidates();
        let mut rank: Vec<Option<i64>> = vec![None; batch.reports.len()];
        for (k, &i) in order.iter().enumerate() {
            rank[i] = Some(k as i64);
        }
        let written = async {
            let b = &batch.reports;
            let services: Vec<&str> = b.iter().map(|r| &*r.service).collect();
            let times: Vec<i64> = b.iter().map(|r| r.received_at_ms).collect();
            let problems: Vec<&str> = b.iter().map(|r| &*r.problem).collect();
            let platforms: Vec<Option<&str>> =
                b.iter().map(|r| r.platform.map(Word::word)).collect();
            let countries: Vec<Option<&str>> =
                b.iter().map(|r| r.country.map(Word::word)).collect();
            let cities: Vec<Option<&str>> = b.iter().map(|r| r.city.as_deref()).collect();
            let messages: Vec<Option<&str>> = b.iter().map(|r| r.message.as_deref()).collect();
            let clients: Vec<&[u8]> = b.iter().map(|r| &r.client_hash[..]).collect();
            let networks: Vec<&[u8]> = b.iter().map(|r| &r.network_hash[..]).collect();
            let earlier: Vec<Option<&[u8]>> = (0..b.len())
                .map(|i| {
                    rank[i]?;
                    batch
                        .earlier
                        .get(i)
                        .and_then(|h| h.as_ref())
                        .map(|h| &h[..])
                })
                .collect();
            let client = self.client().await?;
            let rows = client
                .query(
                    &cached(&client, COUNT_AND_INSERT).await?,
                    &[
                        &services,
                        &times,
                        &problems,
                        &platforms,
                        &countries,
                        &cities,
                        &clients,
                        &networks,
                        &earlier,
                        &rank,
                        &batch.window_ms,
                        &messages,
                        &self.stripe(),
                    ],
                )
                .await?;
            let mut won = std::collections::HashSet::with_capacity(rows.len());
            for row in &rows {
                let service: String = row.try_get(0)?;
                let client: Vec<u8> = row.try_get(1)?;
                won.insert((service, client));
            }
            Ok::<_, StoreError>(won)
        }
        .await;
        match written {
            Ok(won) => {
                for i in order {
                    let r = &mut batch.reports[i];
                    r.counted = won.contains(&(r.service.to_string(), r.client_hash.to_vec()));
                }
                self.announce_reports(&batch.reports);
                Ok(())
            }
            Err(e) => {
                // Nothing was stored: the batch goes back as it came.
                for (r, a) in batch.reports.iter_mut().zip(asked) {
                    r.counted = a;
                }
                Err(e)
            }
        }
    }

    /// One transaction: every report through `UNNEST` (one round trip for the whole batch,
    /// where SQLite loops over a cached statement), then the roll-up increments.
    async fn insert_batch(&self, batch: &[NewReport]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        insert_rows(&tx, batch, self.stripe()).await?;
        tx.commit().await?;
        self.announce_reports(batch);
        Ok(())
    }

    /// Says `reports <service>` for each service with counted reports in `batch`.
    fn announce_reports(&self, batch: &[NewReport]) {
        let services: std::collections::BTreeSet<&str> = batch
            .iter()
            .filter(|r| r.counted)
            .map(|r| &*r.service)
            .collect();
        self.announce(services.into_iter().map(|s| format!("reports {s}")));
    }
}

/// The reports (through `UNNEST`: one round trip for the whole batch) and their roll-up
/// increments in `stripe` (see [`STRIPES`]), in the caller's transaction.
async fn insert_rows(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &[NewReport],
    stripe: i64,
) -> Result<(), StoreError> {
    let services: Vec<&str> = batch.iter().map(|r| &*r.service).collect();
    let times: Vec<i64> = batch.iter().map(|r| r.received_at_ms).collect();
    let problems: Vec<&str> = batch.iter().map(|r| &*r.problem).collect();
    let platforms: Vec<Option<&str>> = batch.iter().map(|r| r.platform.map(Word::word)).collect();
    let countries: Vec<Option<&str>> = batch.iter().map(|r| r.country.map(Word::word)).collect();
    let cities: Vec<Option<&str>> = batch.iter().map(|r| r.city.as_deref()).collect();
    let messages: Vec<Option<&str>> = batch.iter().map(|r| r.message.as_deref()).collect();
    let clients: Vec<&[u8]> = batch.iter().map(|r| &r.client_hash[..]).collect();
    let networks: Vec<&[u8]> = batch.iter().map(|r| &r.network_hash[..]).collect();
    let counted: Vec<bool> = batch.iter().map(|r| r.counted).collect();

    let inc = rollup_increments(batch);
    let r_services: Vec<&str> = inc.keys().map(|k| k.0).collect();
    let r_minutes: Vec<i64> = inc.keys().map(|k| k.1 + stripe).collect();
    let r_problems: Vec<&str> = inc.keys().map(|k| k.2).collect();
    let r_platforms: Vec<&str> = inc.keys().map(|k| k.3).collect();
    let r_countries: Vec<&str> = inc.keys().map(|k| k.4).collect();
    let r_counts: Vec<i64> = inc.values().copied().collect();

    tx.execute(
        &cached(
            tx,
            "INSERT INTO reports (service, received_at_ms, problem, platform, country, city,
            client_hash, network_hash, counted, message)
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
            $6::text[], $7::bytea[], $8::bytea[], $9::bool[], $10::text[])",
        )
        .await?,
        &[
            &services, &times, &problems, &platforms, &countries, &cities, &clients, &networks,
            &counted, &messages,
        ],
    )
    .await?;
    if !r_counts.is_empty() {
        tx.execute(
            &cached(tx, "INSERT INTO report_minutes (service, minute_ms, problem, platform, country, count)
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[])
             ON CONFLICT (service, minute_ms, problem, platform, country)
             DO UPDATE SET count = report_minutes.count + excluded.count").await?,
            &[&r_services, &r_minutes, &r_problems, &r_platforms, &r_countries, &r_counts],
        )
        .await?;
    }
    Ok(())
}

#[async_trait]
impl ReportStore for PgStore {
    async fn insert_reports(
        &self,
        batch: Vec<NewReport>,
    ) -> (Vec<NewReport>, Result<(), StoreError>) {
        let result = self.insert_batch(&batch).await;
        (batch, result)
    }

    async fn insert_reports_once(
        &self,
        mut batch: CountingBatch,
    ) -> (CountingBatch, Result<(), StoreError>) {
        let result = self.insert_counted(&mut batch).await;
        (batch, result)
    }

    async fn recent_counted_clients(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<RecentClient>, StoreError> {
        let client = self.client().await?;
        query(&client, &RECENT_COUNTED_CLIENTS, &[&service, &since_ms]).await
    }

    async fn summary(&self, service: &str, since_ms: i64) -> Result<Summary, StoreError> {
        let since_minute = since_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        let client = self.client().await?;
        let rows = query(&client, &SUMMARY, &[&service, &since_minute]).await?;
        Ok(Summary::from_rows(rows))
    }

    async fn report_counts(
        &self,
        service: &str,
        since_ms: i64,
        until_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<BucketCount>, StoreError> {
        let bucket_ms = bucket_ms.max(MINUTE_MS);
        let (since_ms, until_ms) = minute_bounds(since_ms, until_ms);
        let client = self.client().await?;
        query(
            &client,
            &REPORT_COUNTS,
            &[&service, &since_ms, &until_ms, &bucket_ms],
        )
        .await
    }

    async fn daily_salt(&self, day: i64, candidate: [u8; 32]) -> Result<[u8; 32], StoreError> {
        let client = self.client().await?;
        execute(&client, &INSERT_SALT, &[&day, &&candidate[..]]).await?;
        let salt: Option<One<Vec<u8>>> =
            crate::postgres::query_opt(&client, &SALT, &[&day]).await?;
        stored_salt(salt.map(|s| s.0))
    }

    async fn report_messages(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<ReportMessage>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            &REPORT_MESSAGES,
            &[&service, &since_ms, &MAX_MESSAGES_READ],
        )
        .await
    }

    async fn hidden_messages(&self, service: &str) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let rows: Vec<One<String>> = query(&client, &HIDDEN_MESSAGES, &[&service]).await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn set_message_hidden(
        &self,
        service: &str,
        key: &str,
        hide: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        match hide {
            Some((by, at)) => execute(&client, &HIDE_MESSAGE, &[&service, &key, &by, &at]).await?,
            None => execute(&client, &SHOW_MESSAGE, &[&service, &key]).await?,
        };
        Ok(())
    }

    async fn network_minutes(
        &self,
        service: &str,
        from_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<NetworkMinute>, StoreError> {
        let client = self.client().await?;
        query(&client, &NETWORK_MINUTES, &[&service, &from_ms, &until_ms]).await
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
        let named: One<i64> = query_one(&tx, &CITIES_NAMED, &[&service, &since_ms]).await?;
        // Ties in byte order: PostgreSQL's default collation follows the locale, so name
        // `"C"` (SQLite's default already compares bytes, and knows no `"C"`).
        let rows = tx
            .query(
                &cached(&tx, "SELECT city, country, CAST(SUM(n) AS BIGINT) AS total, MAX(nets) AS networks FROM
                   (SELECT city, country, received_at_ms / 86400000 AS day, COUNT(*) AS n,
                           COUNT(DISTINCT network_hash) AS nets
                    FROM reports
                    WHERE service = $1 AND received_at_ms >= $2 AND counted AND city IS NOT NULL
                    GROUP BY city, country, day) AS per_day
                 GROUP BY city, country
                 ORDER BY networks DESC, total DESC, city COLLATE \"C\",
                          COALESCE(country, '') COLLATE \"C\" LIMIT $3").await?,
                &[&service, &since_ms, &i64::from(limit)],
            )
            .await?;
        tx.commit().await?;
        Ok(TopCities {
            named: named.0.max(0) as u64,
            cities: rows
                .iter()
                .map(CityCount::from_row)
                .collect::<Result<_, _>>()?,
        })
    }
}
