//! Fresh stores for tests, on every backend.
//!
//! SQLite always: a new file in a temporary directory. PostgreSQL when
//! `DOWNBEAT_TEST_POSTGRES_URL` names a server (`.ci/run` starts a throwaway cluster and sets
//! it): each test gets its own new database there. Without it, PostgreSQL tests are skipped
//! with a loud message — except under CI (`CI` set), where a missing server is a failure.

use crate::StoreTarget;
use std::sync::atomic::{AtomicU32, Ordering};

/// The variable naming the PostgreSQL server for tests.
pub const PG_ENV: &str = "DOWNBEAT_TEST_POSTGRES_URL";

/// A store target that lives as long as this value.
pub struct TestStore {
    pub target: StoreTarget,
    pub name: &'static str,
    /// Where SQLite's file lives, and a data directory for anything else.
    pub dir: tempfile::TempDir,
}

/// A fresh SQLite store in a new temporary directory.
pub fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    TestStore {
        target: StoreTarget::Sqlite(dir.path().join(crate::sqlite::FILE_NAME)),
        name: "sqlite",
        dir,
    }
}

/// A fresh database on the test PostgreSQL server, or `None` (with a loud message) when no
/// server is configured.
pub async fn postgres() -> Option<TestStore> {
    let Ok(base) = std::env::var(PG_ENV) else {
        if std::env::var_os("CI").is_some() {
            panic!("{PG_ENV} is not set under CI: PostgreSQL tests must run there");
        }
        eprintln!(
            "\n*** SKIPPED: PostgreSQL store tests ({PG_ENV} is not set; .ci/run sets it) ***\n"
        );
        return None;
    };
    static N: AtomicU32 = AtomicU32::new(0);
    let db = format!(
        "downbeat_test_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        jiff::Timestamp::now().as_millisecond() % 1_000_000
    );
    let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach test PostgreSQL at {PG_ENV}: {e}"));
    let task = tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create test database");
    drop(client);
    let _ = task.await;
    Some(TestStore {
        target: StoreTarget::Postgres(with_database(&base, &db)),
        name: "postgres",
        dir: tempfile::tempdir().expect("temporary directory"),
    })
}

/// Every backend available here: SQLite, then PostgreSQL if configured.
pub async fn all() -> Vec<TestStore> {
    let mut v = vec![sqlite()];
    v.extend(postgres().await);
    v
}

/// Runs `test` on a fresh, opened store of every available backend, naming the backend.
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(std::sync::Arc<dyn crate::Store>, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for t in &all().await {
        let store = crate::open(&t.target)
            .await
            .unwrap_or_else(|e| panic!("{}: open: {e}", t.name));
        test(store, t.name).await;
    }
}

/// Runs `sql` on the database at `target` behind the store's back, for tests of what the
/// store itself never writes (an unknown word, damaged JSON).
pub async fn execute_raw(target: &StoreTarget, sql: &str) {
    match target {
        StoreTarget::Sqlite(path) => rusqlite::Connection::open(path)
            .and_then(|c| c.execute_batch(sql))
            .unwrap_or_else(|e| panic!("raw SQL on SQLite: {e}")),
        StoreTarget::Postgres(url) => {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("cannot reach test PostgreSQL: {e}"));
            let task = tokio::spawn(conn);
            client
                .batch_execute(sql)
                .await
                .unwrap_or_else(|e| panic!("raw SQL on PostgreSQL: {e}"));
            drop(client);
            let _ = task.await;
        }
    }
}

/// `base` with its database name replaced by `db`.
fn with_database(base: &str, db: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (base, String::new()),
    };
    let after_scheme = head.find("://").map_or(0, |i| i + 3);
    match head[after_scheme..].find('/') {
        Some(i) => format!("{}/{db}{query}", &head[..after_scheme + i]),
        None => format!("{head}/{db}{query}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_database_name() {
        use super::with_database as w;
        assert_eq!(w("postgres://u@h:5/postgres", "t1"), "postgres://u@h:5/t1");
        assert_eq!(w("postgres://u@h:5", "t1"), "postgres://u@h:5/t1");
        assert_eq!(
            w("postgres://u@h/p?sslmode=disable", "t"),
            "postgres://u@h/t?sslmode=disable"
        );
    }
}
