//! `downbeat agent` processes pushing to a `downbeat serve` process: results under the
//! agent's region, quorum across vantages, the canary, and the disk buffer across a server
//! outage and an agent restart.

use super::BIN;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback HTTP target answering 200 "ok" to everything.
async fn target() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    port
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A new API token from `downbeat token create`, printed alone on the last line, reporting
/// for `regions`.
pub(crate) fn create_token(
    config: &Path,
    data: &Path,
    name: &str,
    role: &str,
    regions: &[&str],
) -> String {
    let out = Command::new(BIN)
        .args([
            "token", "create", "--name", name, "--role", role, "--config",
        ])
        .arg(config)
        .args(regions.iter().flat_map(|r| ["--region", r]))
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("run downbeat token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().last().unwrap().trim().to_owned()
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// SIGTERM, and wait for a clean exit.
    fn terminate(mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let status = self.0.wait().unwrap();
        assert!(status.success(), "exit status {status}");
    }
}

/// `downbeat serve` on `port`, ready when it logs "serving".
fn serve(config: &Path, data: &Path, port: u16) -> Proc {
    let mut child = Command::new(BIN)
        .args(["--log-format", "json", "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn downbeat serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("\"serving\"") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("server starts");
    Proc(child)
}

fn agent(port: u16, token: &str, region: &str, buffer: &Path, extra: &[&str]) -> Proc {
    let child = Command::new(BIN)
        .args(["agent", "--server"])
        .arg(format!("http://127.0.0.1:{port}"))
        .args(["--region", region, "--buffer-dir"])
        .arg(buffer)
        .args(extra)
        .env("DOWNBEAT_AGENT_TOKEN", token)
        .env("DOWNBEAT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn downbeat agent");
    Proc(child)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn monitors(port: u16) -> Value {
    client()
        .get(format!(
            "http://127.0.0.1:{port}/api/v1/services/melodia/monitors"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn monitor<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap()
}

/// Polls the monitors until `done` holds (bounded).
async fn wait_for(port: u16, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let v = monitors(port).await;
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: {v:#}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn config(dir: &Path, target: u16, closed: u16) -> std::path::PathBuf {
    let path = dir.join("downbeat.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[server]
region = "central"

[probes]
quorum = 2
failures_to_open = 1
successes_to_close = 1

[[service]]
id = "melodia"
name = "Melodia"

[[monitor]]
id = "web"
service = "melodia"
kind = "http"
target = "http://127.0.0.1:{target}/"
interval = "5s"
timeout = "2s"

[[monitor]]
id = "dead"
service = "melodia"
kind = "tcp"
target = "127.0.0.1:{closed}"
interval = "5s"
timeout = "2s"
"#
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_push_under_their_region_and_one_failing_vantage_pages_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let (target, closed) = (target().await, free_port());
    let config = config(dir.path(), target, closed);
    let data = dir.path().join("data");
    let token = create_token(
        &config,
        &data,
        "agents",
        "agent",
        &["us-east", "ap-south", "eu-broken"],
    );
    let editor = create_token(&config, &data, "someone", "editor", &[]);
    let port = free_port();
    let _server = serve(&config, &data, port);
    let http = client();

    // No token, a wrong token, the server's own region: refused.
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let r = http
        .get(url("/api/v1/agent/assignments?region=us-east"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(url("/api/v1/agent/assignments?region=us-east"))
        .bearer_auth("dbt_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(url("/api/v1/agent/assignments?region=us-east"))
        .bearer_auth(&editor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "an editor token is not an agent");
    let r = http
        .get(url("/api/v1/agent/assignments?region=central"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    // Two real agents; ap-south cannot reach its canary, so its failures blame nobody.
    let canary = format!("127.0.0.1:{}", free_port());
    let _east = agent(port, &token, "us-east", &dir.path().join("east"), &[]);
    let _south = agent(
        port,
        &token,
        "ap-south",
        &dir.path().join("south"),
        &["--canary", &canary],
    );
    let v = wait_for(port, "results from both agents", |v| {
        let web = &monitor(v, "web")["regions"];
        let dead = monitor(v, "dead");
        ["central", "us-east", "ap-south"]
            .iter()
            .all(|r| web[r]["outcome"] == "up" && dead["regions"][r]["cause"] == "connect")
            && dead["regions"]["ap-south"]["reliable"] == false
    })
    .await;
    // Down from two reliable vantages (central, us-east): quorum met.
    let dead = monitor(&v, "dead");
    assert_eq!(dead["state"], "down", "{dead:#}");
    assert_eq!(dead["probable_cause"], "connect", "{dead:#}");
    assert_eq!(dead["regions"]["us-east"]["reliable"], true, "{dead:#}");

    // One broken vantage reports `web` failing, again and again: with a quorum of two,
    // nobody is paged (failures_to_open is 1, so a single bad round would open it).
    // Three distinct start times (taken from one instant: an iteration that happens to take
    // 10 ms would otherwise give the next one the same start, and a duplicate).
    let first = jiff::Timestamp::now();
    for k in 0..3 {
        let started = first - jiff::SignedDuration::from_millis(10 * k);
        let push = json!({"region": "eu-broken", "results": [{
            "monitor": "web", "reliable": true,
            "result": {"kind": "http", "started_at": started, "outcome": "down",
                       "cause": "connect", "detail": "timed_out", "error": "connect timed out",
                       "timings": {"total_ms": 2000.0}}}]});
        let r = http
            .post(url("/api/v1/agent/results"))
            .bearer_auth(&token)
            .json(&push)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["accepted"], 1, "{answer}");
        // The same push again (a retry after a lost answer) counts once.
        let again: Value = http
            .post(url("/api/v1/agent/results"))
            .bearer_auth(&token)
            .json(&push)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(again["duplicates"], 1, "{again}");
    }
    let v = monitors(port).await;
    let web = monitor(&v, "web");
    assert_eq!(web["regions"]["eu-broken"]["outcome"], "down", "{web:#}");
    assert_eq!(web["state"], "up", "one failing vantage paged: {web:#}");
    let diagnosis = v["diagnosis"].as_str().unwrap();
    assert!(diagnosis.contains("eu-broken"), "{diagnosis}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_buffers_while_the_server_is_down_and_delivers_after_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let (target, closed) = (target().await, free_port());
    let config = config(dir.path(), target, closed);
    let data = dir.path().join("data");
    let token = create_token(&config, &data, "agents", "agent", &["us-east"]);
    let port = free_port();
    let buffer = dir.path().join("buffer");
    let server = serve(&config, &data, port);
    let east = agent(port, &token, "us-east", &buffer, &[]);
    wait_for(port, "first results from the agent", |v| {
        monitor(v, "web")["regions"]["us-east"]["outcome"] == "up"
    })
    .await;

    // The server goes away; the agent keeps probing into its buffer.
    server.terminate();
    let down_from = jiff::Timestamp::now();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&buffer).unwrap().count() < 3 {
        assert!(Instant::now() < deadline, "the agent buffers nothing");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The agent restarts too: what it buffered must survive that.
    east.terminate();
    let buffered = std::fs::read_dir(&buffer).unwrap().count();
    assert!(
        buffered >= 3,
        "{buffered} batches on disk after the agent stopped"
    );
    let _east = agent(port, &token, "us-east", &buffer, &[]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let down_until = jiff::Timestamp::now();

    // The server returns; the buffer drains into it.
    let _server = serve(&config, &data, port);
    let deadline = Instant::now() + Duration::from_secs(40);
    while std::fs::read_dir(&buffer).unwrap().count() > 0 {
        assert!(Instant::now() < deadline, "the buffer never drained");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let results: Value = client()
        .get(format!(
            "http://127.0.0.1:{port}/api/v1/monitors/web/results?since={down_from}"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let during: Vec<&Value> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["region"] == "us-east")
        .filter(|r| {
            let at: jiff::Timestamp = r["started_at"].as_str().unwrap().parse().unwrap();
            at < down_until
        })
        .collect();
    // Two monitors every 5 s for several seconds of outage: at least one result of `web`.
    assert!(
        !during.is_empty(),
        "no us-east result probed during the outage was delivered: {results:#}"
    );
}

/// `downbeat token create --region` and `downbeat agent`'s refusals, as an operator meets
/// them: an agent token names its regions, and the agent will not send its token in clear
/// to another machine.
#[test]
fn agent_tokens_name_their_regions_and_the_agent_refuses_plain_http_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), 1, 2);
    let data = dir.path().join("data");
    let token = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(["token", "create", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for (args, says) in [
        (&["--name", "a", "--role", "agent"][..], "--region"),
        (
            &["--name", "b", "--role", "agent", "--region", "EU West"][..],
            "--region \"EU West\"",
        ),
        (
            &["--name", "c", "--role", "editor", "--region", "eu-west"][..],
            "agent and admin",
        ),
    ] {
        let (code, err) = token(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (code, err) = token(&[
        "--name", "agents", "--role", "agent", "--region", "eu-west", "--region", "us-east",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("reporting for eu-west, us-east"), "{err}");
    let list = Command::new(BIN)
        .args(["token", "list", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("regions eu-west,us-east"), "{list}");

    let out = Command::new(BIN)
        .args([
            "agent",
            "--server",
            "http://192.0.2.10:8080",
            "--region",
            "eu-west",
        ])
        .arg("--buffer-dir")
        .arg(dir.path().join("buffer"))
        .env("DOWNBEAT_AGENT_TOKEN", "dbt_x")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("plain HTTP") && err.contains("--allow-plain-http"),
        "{err}"
    );
}
