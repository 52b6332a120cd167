//! Several `downbeat serve` processes on one PostgreSQL database behind nginx
//! (`deploy/nginx/downbeat-cluster.conf`, the file README.md shows), as an operator runs
//! them (issue 16): real processes, real PostgreSQL, a real `downbeat agent`, loopback only.
//!
//! - Three nodes, monitors probed from the server's region and from an agent's: one result
//!   per round and region while a node is SIGKILLed mid-outage and started again, each
//!   change told once, every acknowledged report counted once, every node agreeing.
//! - Two nodes started at the same moment on an empty database migrate it once.
//! - PostgreSQL restarted under two nodes: no acknowledged report or delivery is lost, and
//!   the nodes are ready again by themselves.
//!
//! Skipped with a loud message where PostgreSQL or nginx is missing, except under CI (`CI`
//! set), where that fails.

use super::BIN;
use crate::agent::create_token;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use downbeat_monitors::owners::Owners;
use downbeat_store::testing::{self, PgCluster, TestStore};
use downbeat_store::{Member, Members, StoreTarget};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every monitor's interval.
const INTERVAL_MS: i64 = 5_000;
const MONITORS: [&str; 6] = ["api", "login", "search", "stream", "upload", "web"];
/// The agent's region (the nodes probe from "central").
const AGENT_REGION: &str = "eu-west";

// ---------------------------------------------------------------------------------------
// Processes

/// nginx, or `None` (loudly) where it is missing — a failure under CI.
fn nginx_binary() -> Option<PathBuf> {
    for candidate in ["nginx", "/usr/sbin/nginx"] {
        if Command::new(candidate)
            .arg("-v")
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return Some(candidate.into());
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!("nginx not found under CI (.ci/run installs it)");
    }
    eprintln!(
        "\n*** SKIPPED: cluster tests behind nginx (nginx is not installed; .ci/run installs it) ***\n"
    );
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wall_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A child process killed (SIGKILL) and reaped on drop, its log kept in a file whose tail
/// is printed when the test fails.
struct Proc {
    child: Option<Child>,
    name: String,
    log: PathBuf,
}

impl Proc {
    /// Spawns `cmd` with stderr (and stdout) into `log`; `on_line` sees every stderr line.
    fn spawn(
        name: &str,
        mut cmd: Command,
        log: &Path,
        on_line: impl Fn(&str) + Send + 'static,
    ) -> Proc {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the log");
        writeln!(file, "---- {name} started at {}", jiff::Timestamp::now()).unwrap();
        let mut child = cmd
            .stdout(file.try_clone().unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                on_line(&line);
            }
        });
        Proc {
            child: Some(child),
            name: name.to_owned(),
            log: log.to_owned(),
        }
    }

    /// SIGKILL, and reap it.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends `signal` (`-TERM`, `-QUIT`) and waits up to 10 s for the exit, then SIGKILL.
    fn stop_with(&mut self, signal: &str) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args([signal, &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("---- last lines of {} ({}):", self.name, self.log.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// A `downbeat serve` process on a port of its own; its cluster name comes from its
/// "serving" log line.
struct Node {
    proc: Proc,
    port: u16,
    serving: std::sync::mpsc::Receiver<String>,
    id: Option<String>,
}

/// Spawns a node per port, back to back (`node0`, `node1`…, data and log in `dir`), and
/// waits until every one is ready.
async fn spawn_ready(
    config: &Path,
    dir: &Path,
    ports: &[u16],
    http: &reqwest::Client,
) -> Vec<Node> {
    let mut nodes: Vec<Node> = ports
        .iter()
        .enumerate()
        .map(|(k, port)| {
            Node::spawn(
                &format!("node{k}"),
                config,
                &dir.join(format!("data{k}")),
                *port,
                &dir.join(format!("node{k}.log")),
            )
        })
        .collect();
    for n in &mut nodes {
        n.ready(http).await;
    }
    nodes
}

impl Node {
    /// Spawns the node; [`Node::ready`] waits for it.
    fn spawn(name: &str, config: &Path, data: &Path, port: u16, log: &Path) -> Node {
        let mut cmd = Command::new(BIN);
        cmd.args(["--log-format", "json", "serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(data);
        let (tx, serving) = std::sync::mpsc::channel();
        let tx = Mutex::new(tx);
        let proc = Proc::spawn(name, cmd, log, move |line| {
            if let Ok(v) = serde_json::from_str::<Value>(line)
                && v["fields"]["message"] == "serving"
            {
                let node = v["fields"]["node"].as_str().unwrap_or_default().to_owned();
                let _ = tx.lock().unwrap().send(node);
            }
        });
        Node {
            proc,
            port,
            serving,
            id: None,
        }
    }

    /// Waits (bounded) until the node serves and `/readyz` answers 200.
    async fn ready(&mut self, http: &reqwest::Client) {
        // Polled, not waited for: the test's own servers share this runtime.
        let deadline = Instant::now() + Duration::from_secs(30);
        let id = loop {
            match self.serving.try_recv() {
                Ok(id) => break id,
                Err(std::sync::mpsc::TryRecvError::Empty) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(_) => panic!("{} never logged \"serving\"", self.proc.name),
            }
        };
        assert!(!id.is_empty(), "the serving line names the node");
        self.id = Some(id);
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        until(&format!("{} ready", self.proc.name), 10_000, || async {
            http.get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
        })
        .await;
    }

    fn id(&self) -> &str {
        self.id.as_deref().expect("the node is ready")
    }
}

/// nginx with `deploy/nginx/downbeat-cluster.conf`, its ports replaced; stopped on drop.
struct Nginx {
    proc: Proc,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGKILL would leave the workers running: SIGTERM stops master and workers.
        self.proc.stop_with("-TERM");
    }
}

/// The shipped nginx config with the load balancer on `lb` and the nodes on `nodes` (at
/// most three; the others' lines removed).
fn nginx_config(lb: u16, nodes: &[u16]) -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx/downbeat-cluster.conf");
    let mut text = std::fs::read_to_string(&path).expect("deploy/nginx/downbeat-cluster.conf");
    assert!(text.contains("listen 127.0.0.1:8080;"), "the listen line");
    text = text.replace("listen 127.0.0.1:8080;", &format!("listen 127.0.0.1:{lb};"));
    for (k, shipped) in ["127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"]
        .iter()
        .enumerate()
    {
        assert!(text.contains(shipped), "the upstream names {shipped}");
        text = match nodes.get(k) {
            Some(port) => text.replace(shipped, &format!("127.0.0.1:{port}")),
            None => text
                .lines()
                .filter(|l| !l.contains(shipped))
                .map(|l| format!("{l}\n"))
                .collect(),
        };
    }
    text
}

async fn start_nginx(bin: &Path, dir: &Path, nodes: &[u16], http: &reqwest::Client) -> Nginx {
    use std::os::unix::fs::MetadataExt;
    let prefix = dir.join("nginx");
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    std::fs::create_dir_all(prefix.join("temp")).unwrap();
    let port = free_port();
    let conf = prefix.join("downbeat-cluster.conf");
    std::fs::write(&conf, nginx_config(port, nodes)).unwrap();
    // As root, nginx would run its workers as `nobody`, who cannot enter the temporary
    // directory.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let globals = if root {
        "daemon off; user root;"
    } else {
        "daemon off;"
    };
    let mut cmd = Command::new(bin);
    cmd.arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(prefix.join("logs/error.log"))
        .args(["-g", globals]);
    let proc = Proc::spawn("nginx", cmd, &prefix.join("logs/stderr.log"), |_| {});
    let url = format!("http://127.0.0.1:{port}/healthz");
    until("nginx answers", 10_000, || async {
        http.get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    Nginx { proc, port }
}

fn agent(lb: u16, token: &str, dir: &Path) -> Proc {
    let mut cmd = Command::new(BIN);
    cmd.args(["agent", "--server"])
        .arg(format!("http://127.0.0.1:{lb}"))
        .args(["--region", AGENT_REGION, "--buffer-dir"])
        .arg(dir.join("agent-buffer"))
        .env("DOWNBEAT_AGENT_TOKEN", token)
        .env("DOWNBEAT_LOG", "info");
    Proc::spawn("agent", cmd, &dir.join("agent.log"), |_| {})
}

// ---------------------------------------------------------------------------------------
// The world around the nodes

/// Polls `done` every 100 ms until it holds; fails after `ms`.
async fn until<F, Fut>(what: &str, ms: u64, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_millis(ms);
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {ms} ms");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The monitored target: `/health` answers 200 while `up`, else 503.
async fn target(up: Arc<AtomicBool>) -> u16 {
    let router = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let up = up.load(Ordering::SeqCst);
            async move {
                if up {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

/// A webhook destination: every delivery's event id and body.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Receiver {
    async fn start(&self) -> u16 {
        let router = axum::Router::new()
            .route(
                "/{path}",
                axum::routing::post(
                    |State(r): State<Receiver>,
                     UrlPath(_): UrlPath<String>,
                     headers: HeaderMap,
                     body: axum::body::Bytes| async move {
                        let id = headers
                            .get("x-downbeat-event-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        r.got.lock().unwrap().push((id, body));
                        StatusCode::OK
                    },
                ),
            )
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await });
        port
    }

    fn deliveries(&self) -> Vec<(String, Value)> {
        self.got.lock().unwrap().clone()
    }

    /// The event types told about monitor `m`, in order of arrival.
    fn told(&self, m: &str) -> Vec<String> {
        self.deliveries()
            .iter()
            .filter(|(_, e)| e.to_string().contains(&format!("\"{m}\"")))
            .filter_map(|(_, e)| e["type"].as_str().map(str::to_owned))
            .collect()
    }

    /// Fails when one event id arrived twice.
    fn assert_each_once(&self) {
        let ids: Vec<String> = self.deliveries().into_iter().map(|(id, _)| id).collect();
        assert!(
            ids.iter().all(|id| !id.is_empty()),
            "an event without an id"
        );
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "a delivery went out twice: {ids:?}"
        );
    }
}

/// What the report posters were told.
#[derive(Debug, Default)]
struct Tally {
    /// 202 and counted.
    counted: u64,
    /// 202 but not counted (every report is from a new address: must stay 0).
    not_counted: u64,
    /// 503 (the store could not take it).
    unavailable: u64,
    /// No answer or a 502/504 from nginx: stored or not, nobody knows.
    unknown: u64,
    /// Any other answer.
    other: Vec<u16>,
}

/// Reports through the load balancer from `workers` clients in turn, each report from an
/// address of its own (`X-Forwarded-For`), until `stop`.
fn report_wave(lb: u16, workers: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Tally> {
    let next = Arc::new(AtomicU32::new(1));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (next, tally, stop) = (next.clone(), tally.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let url = format!("http://127.0.0.1:{lb}/api/v1/services/melodia/reports");
            while !stop.load(Ordering::SeqCst) {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
                let problem = ["login", "playback", "search"][i as usize % 3];
                let r = http
                    .post(&url)
                    .header("x-forwarded-for", ip)
                    .json(&json!({"problem": problem, "platform": "web", "country": "GB"}))
                    .send()
                    .await;
                // What the answer says, decided before taking the tally's lock.
                let said: Result<bool, u16> = match r {
                    Err(_) => Err(0),
                    Ok(r) if r.status().as_u16() == 202 => match r.json::<Value>().await {
                        Ok(v) => Ok(v["counted"] == Value::Bool(true)),
                        Err(_) => Err(0),
                    },
                    Ok(r) => Err(r.status().as_u16()),
                };
                {
                    let mut t = tally.lock().unwrap();
                    match said {
                        Ok(true) => t.counted += 1,
                        Ok(false) => t.not_counted += 1,
                        Err(503) => t.unavailable += 1,
                        Err(0 | 502 | 504) => t.unknown += 1,
                        Err(s) => t.other.push(s),
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::spawn(async move {
        for t in tasks {
            t.await.unwrap();
        }
        Arc::try_unwrap(tally).unwrap().into_inner().unwrap()
    })
}

// ---------------------------------------------------------------------------------------
// What the nodes say

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Node `port`'s crowd verdict and its monitors' states (the public view).
async fn view(http: &reqwest::Client, port: u16) -> Option<(String, BTreeMap<String, String>)> {
    let get = |path: &str| {
        http.get(format!(
            "http://127.0.0.1:{port}/api/v1/services/melodia/{path}"
        ))
        .send()
    };
    let status: Value = get("status").await.ok()?.json().await.ok()?;
    let monitors: Value = get("monitors").await.ok()?.json().await.ok()?;
    let states = monitors["monitors"]
        .as_array()?
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap_or_default().to_owned(),
                m["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Some((status["verdict"].as_str()?.to_owned(), states))
}

/// Waits (bounded by `ms`) until every node in `ports` shows every monitor `state`, and
/// fails unless each monitor's change showed on all of them within 2 s of the first.
async fn every_node_shows(http: &reqwest::Client, ports: &[u16], state: &str, ms: u64) {
    let deadline = Instant::now() + Duration::from_millis(ms);
    let mut first: BTreeMap<(&str, u16), Instant> = BTreeMap::new();
    loop {
        for &port in ports {
            let Some((_, states)) = view(http, port).await else {
                continue;
            };
            for m in MONITORS {
                if states.get(m).map(String::as_str) == Some(state) {
                    first.entry((m, port)).or_insert_with(Instant::now);
                }
            }
        }
        if first.len() == MONITORS.len() * ports.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every node shows every monitor {state} within {ms} ms: {:?}",
            first.keys().collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for m in MONITORS {
        let seen: Vec<Instant> = ports.iter().map(|p| first[&(m, *p)]).collect();
        let spread = *seen.iter().max().unwrap() - *seen.iter().min().unwrap();
        assert!(
            spread <= Duration::from_secs(2),
            "{m} {state}: the nodes disagreed for {spread:?}"
        );
    }
}

/// Fails unless every node in `ports` says the same verdict and monitor states within 2 s.
async fn nodes_agree(http: &reqwest::Client, ports: &[u16]) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut views = Vec::new();
        for &port in ports {
            views.push(view(http, port).await);
        }
        if views.iter().all(Option::is_some) && views.windows(2).all(|w| w[0] == w[1]) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the nodes disagree for more than 2 s: {views:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (bounded) until every node in `ports` counts the same total of reports, and
/// returns it.
async fn counted_everywhere(http: &reqwest::Client, ports: &[u16]) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut totals = Vec::new();
        for &port in ports {
            let v = async {
                http.get(format!(
                    "http://127.0.0.1:{port}/api/v1/services/melodia/summary?window=60m"
                ))
                .send()
                .await
                .ok()?
                .json::<Value>()
                .await
                .ok()?["total"]
                    .as_u64()
            };
            totals.push(v.await);
        }
        if let Some(Some(t)) = totals.first()
            && totals.iter().all(|x| *x == Some(*t))
        {
            return *t;
        }
        assert!(
            Instant::now() < deadline,
            "the nodes count different totals: {totals:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---------------------------------------------------------------------------------------
// The database

async fn db(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(conn);
    client
}

fn url_of(target: &StoreTarget) -> String {
    match target {
        StoreTarget::Postgres(url) => url.clone(),
        StoreTarget::Sqlite(_) => unreachable!("a PostgreSQL store"),
    }
}

/// Which live node probes each monitor, as every node computes it (rendezvous hashing
/// over the `nodes` table, with the product's own [`Owners`]).
async fn owners(db: &tokio_postgres::Client) -> BTreeMap<&'static str, String> {
    let rows = db
        .query(
            "SELECT id, started_ms, CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)
               FROM nodes
              WHERE seen_ms >= CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) - $1",
            &[&downbeat_store::NODE_TIMEOUT_MS],
        )
        .await
        .unwrap();
    let members = Members {
        now_ms: rows.first().map_or(0, |r| r.get(2)),
        nodes: rows
            .iter()
            .map(|r| Member {
                id: r.get(0),
                started_ms: r.get(1),
            })
            .collect(),
    };
    let view = Owners::new("the test".into());
    let now = tokio::time::Instant::now();
    view.set(&members, now);
    let later = now + Duration::from_secs(10);
    MONITORS
        .iter()
        .map(|m| (*m, view.owner_at(m, later).unwrap().to_string()))
        .collect()
}

/// The live nodes' ids in the `nodes` table.
async fn live_nodes(db: &tokio_postgres::Client) -> BTreeSet<String> {
    db.query(
        "SELECT id FROM nodes
          WHERE seen_ms >= CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) - $1",
        &[&downbeat_store::NODE_TIMEOUT_MS],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Each (monitor, region)'s result start times since `since_ms`, oldest first.
async fn results(
    db: &tokio_postgres::Client,
    since_ms: i64,
) -> BTreeMap<(String, String), Vec<i64>> {
    let mut out: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for r in db
        .query(
            "SELECT monitor, region, at_ms FROM probe_results WHERE at_ms >= $1
              ORDER BY monitor, region, at_ms",
            &[&since_ms],
        )
        .await
        .unwrap()
    {
        out.entry((r.get(0), r.get(1))).or_default().push(r.get(2));
    }
    out
}

/// Six monitors of `target` every 5 s, down at once when `quorum` regions fail and up at
/// once when they pass; their changes to the receiver's `/pager`.
fn config(dir: &Path, url: &str, target: u16, receiver: u16, quorum: u32) -> PathBuf {
    let mut text = format!(
        r#"[server]
region = "central"
database_url = "{url}"
trusted_proxies = ["127.0.0.0/8"]
database_connect_timeout = "1s"
database_statement_timeout = "2s"

[probes]
quorum = {quorum}
failures_to_open = 1
successes_to_close = 1

[[service]]
id = "melodia"
name = "Melodia"

[[notify.webhook]]
id = "pager"
url = "http://127.0.0.1:{receiver}/pager"
secret = "s3cret-s3cret-s3cret"
events = ["monitor"]
"#
    );
    for m in MONITORS {
        text += &format!(
            "\n[[monitor]]\nid = \"{m}\"\nservice = \"melodia\"\nkind = \"http\"\n\
             target = \"http://127.0.0.1:{target}/health\"\ninterval = \"5s\"\ntimeout = \"2s\"\n"
        );
    }
    let path = dir.join("downbeat.toml");
    std::fs::write(&path, text).unwrap();
    path
}

// ---------------------------------------------------------------------------------------
// The tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_of_three_behind_nginx_survives_a_sigkill_mid_outage() {
    let Some(nginx) = nginx_binary() else { return };
    let Some(store) = testing::postgres().await else {
        return;
    };
    let url = url_of(&store.target);
    let dir = tempfile::tempdir().unwrap();
    let http = http();
    let up = Arc::new(AtomicBool::new(true));
    let target = target(up.clone()).await;
    let receiver = Receiver::default();
    let receiver_port = receiver.start().await;
    let config = config(dir.path(), &url, target, receiver_port, 2);
    let token = create_token(
        &config,
        &dir.path().join("cli"),
        "agents",
        "agent",
        &[AGENT_REGION],
    );
    let db = db(&url).await;
    let t0 = wall_ms();

    let ports = [free_port(), free_port(), free_port()];
    let mut nodes = spawn_ready(&config, dir.path(), &ports, &http).await;
    let lb = start_nginx(&nginx, dir.path(), &ports, &http).await;
    let _agent = agent(lb.port, &token, dir.path());
    until("three live nodes", 10_000, || async {
        live_nodes(&db).await.len() == 3
    })
    .await;

    // Reports through the load balancer for the whole run.
    let stop = Arc::new(AtomicBool::new(false));
    let wave = report_wave(lb.port, 2, stop.clone());

    // Both regions' results arrive; every node agrees everything is up.
    until("results from both regions", 20_000, || async {
        let r = results(&db, t0).await;
        MONITORS.iter().all(|m| {
            ["central", AGENT_REGION].iter().all(|reg| {
                r.get(&(m.to_string(), reg.to_string()))
                    .is_some_and(|v| v.len() >= 2)
            })
        })
    })
    .await;
    every_node_shows(&http, &ports, "up", 5_000).await;
    nodes_agree(&http, &ports).await;

    // The outage.
    up.store(false, Ordering::SeqCst);
    every_node_shows(&http, &ports, "down", 15_000).await;
    nodes_agree(&http, &ports).await;

    // The node probing the most monitors dies mid-outage.
    let owned = owners(&db).await;
    let victim = (0..3)
        .max_by_key(|&k| owned.values().filter(|o| *o == nodes[k].id()).count())
        .unwrap();
    let victim_id = nodes[victim].id().to_owned();
    let orphans: Vec<&str> = MONITORS
        .iter()
        .copied()
        .filter(|m| owned[m] == victim_id)
        .collect();
    assert!(!orphans.is_empty(), "every node owns nothing? {owned:?}");
    nodes[victim].proc.kill();
    let killed_ms = wall_ms();
    eprintln!("SIGKILLed node{victim} ({victim_id}), which probed {orphans:?}; owners {owned:?}");
    let alive: Vec<u16> = (0..3).filter(|&k| k != victim).map(|k| ports[k]).collect();

    // Another node takes its monitors over: the failover time.
    let mut taken_over: BTreeMap<&str, i64> = BTreeMap::new();
    until("the dead node's monitors probed again", 20_000, || {
        let db = &db;
        let orphans = &orphans;
        async move {
            let r = results(db, killed_ms).await;
            orphans
                .iter()
                .all(|m| r.contains_key(&(m.to_string(), "central".to_string())))
        }
    })
    .await;
    let after = results(&db, killed_ms).await;
    for m in &orphans {
        taken_over.insert(
            m,
            after[&(m.to_string(), "central".to_string())][0] - killed_ms,
        );
    }
    let first = taken_over.values().min().unwrap();
    let last = taken_over.values().max().unwrap();
    eprintln!(
        "FAILOVER: from the SIGKILL to the first probe of a dead node's monitor by another node: {first} ms (all {} taken over within {last} ms: {taken_over:?})",
        orphans.len()
    );
    // The budget: 4 s without a beat (NODE_TIMEOUT_MS), the survivors' next beat (1 s),
    // then the monitor's next round (one interval), and 1.5 s for a loaded machine:
    // measured 4.1 s for the first monitor taken over and 5.4 s for the last.
    assert!(
        *last <= downbeat_store::NODE_TIMEOUT_MS + 1_000 + INTERVAL_MS + 1_500,
        "taken over within a beat after the timeout and one round: {taken_over:?}"
    );
    // The survivors agree and keep serving through the balancer.
    nodes_agree(&http, &alive).await;
    assert_eq!(
        live_nodes(&db).await.len(),
        2,
        "the killed node is out of the live set"
    );

    // The killed node comes back (a new name) while the outage goes on, then it ends.
    let mut back = Node::spawn(
        "node-restarted",
        &config,
        &dir.path().join(format!("data{victim}")),
        ports[victim],
        &dir.path().join(format!("node{victim}.log")),
    );
    back.ready(&http).await;
    nodes[victim] = back;
    until("three live nodes again", 10_000, || async {
        live_nodes(&db).await.len() == 3
    })
    .await;
    // It counts from 3 s after its first beat: a round after that.
    tokio::time::sleep(Duration::from_millis(4_000)).await;
    every_node_shows(&http, &ports, "down", 5_000).await;
    up.store(true, Ordering::SeqCst);
    every_node_shows(&http, &ports, "up", 15_000).await;
    nodes_agree(&http, &ports).await;
    // A round more, then stop.
    tokio::time::sleep(Duration::from_millis(INTERVAL_MS as u64)).await;
    stop.store(true, Ordering::SeqCst);
    let tally = wave.await.unwrap();
    let end_ms = wall_ms();

    // Every acknowledged report counted once, on every node.
    eprintln!("reports through nginx: {tally:?}");
    assert!(tally.other.is_empty(), "unexpected answers: {tally:?}");
    assert_eq!(tally.not_counted, 0, "a new address not counted: {tally:?}");
    assert!(
        tally.counted > 100,
        "too few reports went through: {tally:?}"
    );
    let total = counted_everywhere(&http, &ports).await;
    assert!(
        tally.counted <= total && total <= tally.counted + tally.unknown,
        "{} acknowledged as counted ({} without an answer), {total} counted",
        tally.counted,
        tally.unknown
    );

    // One result per round and region. The dead node's monitors lose the rounds between
    // its last probe and the takeover (4 s without a beat, then the next round): one or
    // two rounds, never doubled. Nothing else is lost or doubled — neither when the node
    // came back nor in the agent's region, whose pushes go through the balancer.
    let stored = results(&db, t0).await;
    let mut lost = BTreeMap::new();
    for m in MONITORS {
        for region in ["central", AGENT_REGION] {
            let at: Vec<i64> = stored[&(m.to_string(), region.to_string())]
                .iter()
                .copied()
                .filter(|t| *t <= end_ms)
                .collect();
            let gaps: Vec<i64> = at.windows(2).map(|w| w[1] - w[0]).collect();
            assert!(
                gaps.iter().all(|g| *g >= INTERVAL_MS * 8 / 10),
                "{m} {region}: a round probed twice: gaps {gaps:?}"
            );
            let long: Vec<(i64, i64)> = at
                .windows(2)
                .filter(|w| w[1] - w[0] > INTERVAL_MS * 13 / 10)
                .map(|w| (w[0], w[1]))
                .collect();
            if region == "central" && orphans.contains(&m) {
                assert!(
                    long.len() <= 1
                        && long.iter().all(|(a, b)| *a <= killed_ms
                            && *b >= killed_ms
                            && b - a <= 3 * INTERVAL_MS + 500),
                    "{m} {region}: rounds lost beyond the failover's: gaps {gaps:?}"
                );
                let rounds = long
                    .first()
                    .map_or(0, |(a, b)| (b - a + INTERVAL_MS / 2) / INTERVAL_MS - 1);
                lost.insert(m, rounds);
            } else {
                assert!(long.is_empty(), "{m} {region}: a round lost: gaps {gaps:?}");
            }
        }
    }
    eprintln!("rounds lost at the failover, per monitor of the dead node: {lost:?} (none doubled)");

    // Every change told once: each monitor down once, then up once, each event once.
    until("every change delivered", 15_000, || async {
        MONITORS.iter().all(|m| receiver.told(m).len() >= 2)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    receiver.assert_each_once();
    for m in MONITORS {
        assert_eq!(receiver.told(m), ["monitor.down", "monitor.up"], "{m}");
    }
    eprintln!(
        "cluster test took {:.1} s",
        (wall_ms() - t0) as f64 / 1000.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_two_nodes_started_together_on_an_empty_database_migrate_it_once() {
    let Some(store) = testing::postgres().await else {
        return;
    };
    let url = url_of(&store.target);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("downbeat.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndatabase_url = \"{url}\"\n\n[[service]]\nid = \"melodia\"\nname = \"Melodia\"\n"
        ),
    )
    .unwrap();
    let http = http();
    let ports = [free_port(), free_port()];
    let logs = [dir.path().join("node0.log"), dir.path().join("node1.log")];
    // Spawned back to back: both find the database empty.
    let nodes = spawn_ready(&config, dir.path(), &ports, &http).await;
    let db = db(&url).await;
    let latest = downbeat_store::migrate::latest(downbeat_store::migrate::POSTGRES);
    let versions: Vec<(i64, i64)> = db
        .query(
            "SELECT version, COUNT(*) FROM schema_migrations GROUP BY version ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let want: Vec<(i64, i64)> = (1..=latest).map(|v| (v, 1)).collect();
    assert_eq!(versions, want, "each version applied once");
    // And by one of the two: every migration is logged once across both nodes.
    let applied: usize = logs
        .iter()
        .map(|l| {
            std::fs::read_to_string(l)
                .unwrap()
                .matches("applied PostgreSQL migration")
                .count()
        })
        .sum();
    assert_eq!(
        applied as i64, latest,
        "migrations applied across both nodes"
    );
    // Each sees the other (heartbeats on the change feed; without monitors there is
    // nothing to share in the `nodes` table).
    until("each node sees two live nodes", 10_000, || async {
        logs.iter().all(|l| {
            std::fs::read_to_string(l)
                .unwrap_or_default()
                .contains("\"live_nodes\":2")
        })
    })
    .await;
    drop(nodes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_survives_a_postgres_restart_without_losing_a_report_or_a_delivery() {
    let Some(nginx) = nginx_binary() else { return };
    let Some(pg) = PgCluster::start(None) else {
        return;
    };
    let pg = Arc::new(pg);
    let url = url_of(&TestStore::on_cluster(&pg).target);
    let dir = tempfile::tempdir().unwrap();
    let http = http();
    let up = Arc::new(AtomicBool::new(true));
    let target = target(up.clone()).await;
    let receiver = Receiver::default();
    let receiver_port = receiver.start().await;
    let config = config(dir.path(), &url, target, receiver_port, 1);
    let db = db(&url).await;
    let t0 = wall_ms();
    let ports = [free_port(), free_port()];
    let _nodes = spawn_ready(&config, dir.path(), &ports, &http).await;
    let lb = start_nginx(&nginx, dir.path(), &ports, &http).await;
    until("two live nodes", 10_000, || async {
        live_nodes(&db).await.len() == 2
    })
    .await;
    until("a result of every monitor", 15_000, || async {
        let r = results(&db, t0).await;
        MONITORS
            .iter()
            .all(|m| r.contains_key(&(m.to_string(), "central".to_string())))
    })
    .await;
    every_node_shows(&http, &ports, "up", 5_000).await;
    drop(db);

    let stop = Arc::new(AtomicBool::new(false));
    let wave = report_wave(lb.port, 2, stop.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The outage begins; as soon as a node shows its first change, PostgreSQL stops: its
    // notification may still be on its way into the outbox, the other changes come later.
    up.store(false, Ordering::SeqCst);
    until("a first monitor down", 10_000, || async {
        view(&http, ports[0])
            .await
            .is_some_and(|(_, s)| s.values().any(|v| v == "down"))
    })
    .await;
    let stopping = pg.clone();
    tokio::task::spawn_blocking(move || stopping.stop())
        .await
        .unwrap();
    let stopped_at = Instant::now();
    for port in ports {
        let r = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "readyz without a database"
        );
    }
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(stopped_at.elapsed())).await;
    let starting = pg.clone();
    tokio::task::spawn_blocking(move || starting.start_again())
        .await
        .unwrap();
    let restarted = Instant::now();

    // The nodes are ready again by themselves, and finish the story.
    for port in ports {
        let url = format!("http://127.0.0.1:{port}/readyz");
        until("ready again", 20_000, || async {
            http.get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
        })
        .await;
    }
    eprintln!(
        "nodes ready {:?} after PostgreSQL came back",
        restarted.elapsed()
    );
    every_node_shows(&http, &ports, "down", 20_000).await;
    up.store(true, Ordering::SeqCst);
    every_node_shows(&http, &ports, "up", 15_000).await;
    nodes_agree(&http, &ports).await;
    let db = self::db(&url).await;
    assert_eq!(live_nodes(&db).await.len(), 2, "both nodes beat again");
    stop.store(true, Ordering::SeqCst);
    let tally = wave.await.unwrap();

    // Every acknowledged report is stored; a refused one (503) may be too, when the
    // outcome of its commit was unknown.
    eprintln!("reports through nginx: {tally:?}");
    assert!(tally.other.is_empty(), "unexpected answers: {tally:?}");
    assert_eq!(tally.not_counted, 0, "{tally:?}");
    assert!(tally.unavailable > 0, "no report met the outage: {tally:?}");
    assert!(tally.counted > 50, "{tally:?}");
    let total = counted_everywhere(&http, &ports).await;
    eprintln!("{total} counted after the restart");
    assert!(
        tally.counted <= total && total <= tally.counted + tally.unknown + tally.unavailable,
        "{tally:?}, {total} counted"
    );

    // Every change told once.
    until("every change delivered", 15_000, || async {
        MONITORS.iter().all(|m| receiver.told(m).len() >= 2)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    receiver.assert_each_once();
    for m in MONITORS {
        assert_eq!(receiver.told(m), ["monitor.down", "monitor.up"], "{m}");
    }
}
