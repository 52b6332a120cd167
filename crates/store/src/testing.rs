//! Fresh stores for tests, on every backend.
//!
//! SQLite always: a new file in a temporary directory. PostgreSQL when
//! `DOWNBEAT_TEST_POSTGRES_URL` names a server (`.ci/run` starts a throwaway cluster and sets
//! it): each test gets its own new database there. Without it, PostgreSQL tests are skipped
//! with a loud message — except under CI (`CI` set), where a missing server is a failure.
//! [`PgCluster`]: a PostgreSQL server of a test's own, to stop or to serve TLS.

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

impl TestStore {
    /// The same database for another node (with a data directory of its own): two apps on
    /// one PostgreSQL database are two nodes of a cluster.
    pub fn shared(&self) -> TestStore {
        TestStore {
            target: self.target.clone(),
            name: self.name,
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// A store on `pg`'s `postgres` database (loopback, no TLS).
    pub fn on_cluster(pg: &PgCluster) -> TestStore {
        TestStore {
            target: StoreTarget::Postgres(pg.url("127.0.0.1", "?sslmode=disable")),
            name: "postgres",
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }
}

/// Opens the PostgreSQL store at `target` as a binary that knows only the migrations `list`
/// (an older or a newer release than this one, beside it).
pub async fn open_knowing(
    target: &StoreTarget,
    list: &[crate::migrate::Migration],
) -> Result<std::sync::Arc<dyn crate::Store>, crate::StoreError> {
    let StoreTarget::Postgres(url) = target else {
        panic!("open_knowing is for PostgreSQL stores (SQLite has one node)");
    };
    Ok(std::sync::Arc::new(
        crate::postgres::PgStore::connect_knowing(url, crate::PgTimeouts::default(), list).await?,
    ))
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
        StoreTarget::Postgres(url) => raw_postgres(url)
            .await
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("raw SQL on PostgreSQL: {e}")),
    }
}

/// A connection of its own to the test database at `url`, as another program (or a node of
/// an earlier release) would open it: none of the store's connection settings. It closes
/// when dropped.
pub async fn raw_postgres(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach test PostgreSQL: {e}"));
    tokio::spawn(conn);
    client
}

/// A PostgreSQL server of a test's own: a fresh cluster on a free loopback port, for tests
/// that do to a server what must not happen to the shared one (stop it, require TLS with a
/// certificate made in the test). Stopped and removed on drop.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bindir: std::path::PathBuf,
    /// Run the server as the `postgres` user (it refuses to run as root).
    as_postgres: bool,
    /// The server's options (port, socket directory, TLS), for [`PgCluster::start_again`].
    options: String,
    pub port: u16,
}

/// A certificate and key (PEM) for a [`PgCluster`] that speaks TLS.
pub struct PgTls<'a> {
    pub cert_pem: &'a str,
    pub key_pem: &'a str,
    /// Refuse connections without TLS (`hostssl` lines only in `pg_hba.conf`).
    pub required: bool,
}

impl PgCluster {
    /// Starts a cluster (with TLS when `tls` is given) and waits until it takes connections.
    /// `None`, with a loud message, where the PostgreSQL server binaries are missing —
    /// except under CI, where that is a failure.
    pub fn start(tls: Option<PgTls<'_>>) -> Option<PgCluster> {
        let Some(bindir) = pg_bindir() else {
            if std::env::var_os("CI").is_some() {
                panic!("no PostgreSQL server binaries under CI (.ci/run installs them)");
            }
            eprintln!(
                "\n*** SKIPPED: no PostgreSQL server binaries (apt-get install postgresql) ***\n"
            );
            return None;
        };
        let as_postgres = run("id", &["-u"]).trim() == "0";
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().to_owned();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=40",
            path.display()
        );
        if let Some(tls) = &tls {
            std::fs::write(path.join("server.crt"), tls.cert_pem).expect("write certificate");
            std::fs::write(path.join("server.key"), tls.key_pem).expect("write key");
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={0}/server.crt -c ssl_key_file={0}/server.key",
                path.display()
            ));
        }
        let cluster = PgCluster {
            dir,
            bindir,
            as_postgres,
            options,
            port,
        };
        cluster.give_to_server(&path);
        cluster.sh(&format!(
            "{}/initdb -D {}/data -U postgres --auth=trust -E UTF8 >/dev/null",
            cluster.bindir.display(),
            path.display()
        ));
        if tls.as_ref().is_some_and(|t| t.required) {
            std::fs::write(
                path.join("data/pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
            )
            .expect("write pg_hba.conf");
        }
        cluster.start_again();
        Some(cluster)
    }

    /// Stops the server (`pg_ctl stop`, fast: open sessions are ended): until
    /// [`PgCluster::start_again`], every connection fails.
    pub fn stop(&self) {
        self.sh(&format!(
            "{}/pg_ctl -D {}/data -m fast -w stop >/dev/null",
            self.bindir.display(),
            self.dir.path().display()
        ));
    }

    /// Starts the server (again, after [`PgCluster::stop`]) on the same port with the same
    /// data, and waits until it takes connections.
    pub fn start_again(&self) {
        self.sh(&format!(
            "{}/pg_ctl -D {1}/data -l {1}/log -w -o '{2}' start >/dev/null",
            self.bindir.display(),
            self.dir.path().display(),
            self.options
        ));
    }

    /// The cluster's `postgres` database as user `postgres`, with `query` (`?sslmode=...`).
    pub fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres{query}", self.port)
    }

    /// Stops every process of the server (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&self) {
        assert!(self.signal("-STOP"), "the server is gone");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        assert!(self.signal("-CONT"), "the server is gone");
    }

    /// Sends `sig` to the postmaster and to each of its children (one may have just
    /// exited); whether the postmaster got it.
    fn signal(&self, sig: &str) -> bool {
        let mut postmaster = false;
        for (i, pid) in self.pids().iter().enumerate() {
            let sent = std::process::Command::new("kill")
                .args([sig, &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            postmaster |= sent && i == 0;
        }
        postmaster
    }

    /// The postmaster and its children.
    fn pids(&self) -> Vec<u32> {
        let Ok(head) = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid")) else {
            return Vec::new();
        };
        let Some(main) = head
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<u32>().ok())
        else {
            return Vec::new();
        };
        let mut pids = vec![main];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid ...: the command may hold spaces, so read after ')'
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(main) {
                pids.push(pid);
            }
        }
        pids
    }

    fn give_to_server(&self, path: &std::path::Path) {
        if self.as_postgres {
            run("chown", &["-R", "postgres", &path.display().to_string()]);
        }
        let key = path.join("server.key");
        if key.exists() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
                .expect("key permissions");
        }
    }

    fn sh(&self, command: &str) {
        let out = if self.as_postgres {
            std::process::Command::new("su")
                .args(["postgres", "-s", "/bin/sh", "-c", command])
                .output()
        } else {
            std::process::Command::new("sh")
                .args(["-c", command])
                .output()
        }
        .expect("run a shell");
        let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
        assert!(
            out.status.success(),
            "{command}: {}\n{}\n{log}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.pids().is_empty() {
            return;
        }
        let _ = self.signal("-CONT");
        let stop = format!(
            "{}/pg_ctl -D {}/data -m immediate -w stop >/dev/null 2>&1",
            self.bindir.display(),
            self.dir.path().display()
        );
        let _ = if self.as_postgres {
            std::process::Command::new("su")
                .args(["postgres", "-s", "/bin/sh", "-c", &stop])
                .status()
        } else {
            std::process::Command::new("sh")
                .args(["-c", &stop])
                .status()
        };
    }
}

/// The newest PostgreSQL server's binaries, as `.ci/postgres.sh` finds them.
fn pg_bindir() -> Option<std::path::PathBuf> {
    let mut found: Vec<(Vec<u32>, std::path::PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e
                .file_name()
                .to_string_lossy()
                .split('.')
                .map(|p| p.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// Runs `program` and returns its output; panics when it fails.
fn run(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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
