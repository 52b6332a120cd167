//! The `downbeat` binary as a user runs it: help, config errors, a server killed with
//! SIGKILL mid-stream that loses no acknowledged report, and one killed with notifications
//! pending that delivers each exactly once after its restart; operators' users.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_downbeat");

mod agent;
mod cluster;
mod demo;
mod import;
mod manage;
mod notify;
mod user;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run downbeat");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_subcommand_explains_itself() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for word in ["serve", "config", "just me"] {
        assert!(out.contains(word), "--help lacks {word:?}:\n{out}");
    }
    let (code, out, _) = run(&["serve", "--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--config",
        "--listen",
        "--data-dir",
        "--database-url",
        "DOWNBEAT_LISTEN",
        "SIGTERM",
    ] {
        assert!(out.contains(flag), "serve --help lacks {flag:?}:\n{out}");
    }
    let (code, out, _) = run(&["config", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("example") && out.contains("check"), "{out}");
}

#[test]
fn the_example_config_is_printed_and_passes_its_own_check() {
    let dir = tempfile::tempdir().unwrap();
    let (code, example, _) = run(&["config", "example"]);
    assert_eq!(code, 0);
    let path = dir.path().join("downbeat.toml");
    std::fs::write(&path, &example).unwrap();
    let (code, out, err) = run(&["config", "check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok"), "{out}");
}

#[test]
fn a_bad_config_is_refused_naming_file_and_key_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[[service]]\nid = \"Not A Slug\"\nname = \"X\"\n").unwrap();
    for cmd in [
        &["config", "check", "--config"][..],
        &["serve", "--config"][..],
    ] {
        let mut args = cmd.to_vec();
        args.push(path.to_str().unwrap());
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("bad.toml") && err.contains("service[0].id"),
            "{args:?}: {err}"
        );
    }
    let (code, _, err) = run(&["serve", "--config", "/nonexistent/downbeat.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/downbeat.toml"), "{err}");
}

#[test]
fn database_passwords_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[[service]]\nid = \"m\"\nname = \"M\"\n").unwrap();
    // Nothing listens on port 1: the server fails to connect and says so, without the secret.
    let out = Command::new(BIN)
        .args([
            "serve",
            "--config",
            cfg.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env(
            "DOWNBEAT_DATABASE_URL",
            "postgres://downbeat:hunter2@127.0.0.1:1/db?connect_timeout=2",
        )
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(!all.contains("hunter2"), "{all}");
    assert!(all.contains("***") || all.contains("store"), "{all}");
    // Logs to a pipe or file are plain text: no terminal colour codes.
    assert!(all.contains("opening store"), "{all}");
    assert!(
        !all.contains('\x1b'),
        "escape codes in a log that is not a terminal: {all:?}"
    );
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `downbeat token create` with the store flags; returns (exit code, last line of stdout, stderr).
fn create_token(config: &Path, data: &Path, name: &str, role: &str) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args([
            "token", "create", "--name", name, "--role", role, "--config",
        ])
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("run downbeat token create");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code().unwrap_or(-1),
        stdout.lines().last().unwrap_or_default().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `downbeat ARGS --server URL` with `DOWNBEAT_TOKEN`: (exit code, stdout, stderr).
fn against(args: &[&str], url: &str, token: &str) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .args(["--server", url])
        .env("DOWNBEAT_TOKEN", token)
        .output()
        .expect("run downbeat");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const MELODIA: &str = "[[service]]\nid = \"melodia\"\nname = \"Melodia\"\n\n[[service.component]]\nid = \"login\"\nname = \"Login\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_printed_once_and_work_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = (dir.path().join("downbeat.toml"), dir.path().join("data"));
    std::fs::write(&config, MELODIA).unwrap();
    let server = start_server(&config, &data);
    let (code, token, err) = create_token(&config, &data, "ci", "editor");
    assert_eq!(code, 0, "{err}");
    assert!(token.starts_with("dbt_") && token.len() > 40, "{token:?}");
    let (code, _, err) = create_token(&config, &data, "ci", "editor");
    assert_eq!(code, 2, "a second token with the same name: {err}");
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = create_token(&config, &data, "x", "root");
    assert_eq!(code, 2);
    assert!(err.contains("--role"), "{err}");

    let client = reqwest::Client::new();
    let url = format!("http://{}/api/v1/services/melodia/incidents", server.addr);
    let body = serde_json::json!({"title": "Login failing", "message": "Looking into it."});
    let r = client
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let (code, out, _) = run(&[
        "token",
        "list",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("ci\teditor") && !out.contains(&token), "{out}");
    let (code, _, err) = run(&[
        "token",
        "revoke",
        "ci",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let r = client
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "a revoked token still works");
}

/// schemathesis (from PyPI; `.ci/run` installs it and sets DOWNBEAT_SCHEMATHESIS) fuzzes every
/// operation of the OpenAPI document against a running server, with an editor token, and
/// must find no 5xx.
#[test]
fn openapi_fuzzing_finds_no_server_error() {
    let tool = std::env::var("DOWNBEAT_SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".into());
    if Command::new(&tool).arg("--version").output().is_err() {
        if std::env::var_os("CI").is_some() {
            panic!("schemathesis not found ({tool}); .ci/run installs it");
        }
        eprintln!(
            "\n*** SKIPPED: OpenAPI fuzzing (schemathesis not installed; .ci/run installs it) ***\n"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = (dir.path().join("downbeat.toml"), dir.path().join("data"));
    // Mail subscriptions on, to a relay port nobody listens on: the subscription endpoints
    // get fuzzed with their validation live, and no mail leaves the machine.
    std::fs::write(
        &config,
        format!(
            "{MELODIA}[notify]\npublic_url = \"https://status.example\"\n\
             [notify.smtp]\nhost = \"127.0.0.1\"\nport = 9\ntls = \"none\"\nfrom = \"s@melodia.example\"\n\
             [notify.subscribers]\nper_client_per_hour = 100000\n"
        ),
    )
    .unwrap();
    let server = start_server(&config, &data);
    // An admin: every operation is reached, the config's management included.
    let (code, token, err) = create_token(&config, &data, "fuzz", "admin");
    assert_eq!(code, 0, "{err}");
    // One incident, so the {id} operations reach real data.
    let r = Command::new("curl")
        .args([
            "-sf",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
        ])
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"))
        .arg("-d")
        .arg(r#"{"title": "Login failing", "message": "Looking into it."}"#)
        .arg(format!(
            "http://{}/api/v1/services/melodia/incidents",
            server.addr
        ))
        .status()
        .expect("curl");
    assert!(r.success(), "could not create the seed incident");
    let settings = dir.path().join("schemathesis.toml");
    std::fs::write(
        &settings,
        "[parameters]\n\"path.service\" = \"melodia\"\n\"path.id\" = \"1\"\n",
    )
    .unwrap();
    let max_time = std::env::var("DOWNBEAT_FUZZ_SECONDS").unwrap_or_else(|_| "60".into());
    let out = Command::new(&tool)
        .current_dir(dir.path()) // its cache stays out of the source tree
        .arg("--config-file")
        .arg(&settings)
        .args([
            "run",
            "--checks",
            "not_a_server_error",
            "--phases",
            "examples,coverage,fuzzing",
        ])
        .args(["--max-time", &max_time, "--no-color"])
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("http://{}/api/openapi.json", server.addr))
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found failures:\n{text}");
    assert!(text.contains("passed"), "{text}");
}

/// The served OpenAPI document passes `openapi-spec-validator` (from PyPI; `.ci/run`
/// installs it and sets DOWNBEAT_OPENAPI_VALIDATOR): a document generators and gateways can
/// read, not only schemathesis.
#[test]
fn the_openapi_document_validates() {
    let tool = std::env::var("DOWNBEAT_OPENAPI_VALIDATOR")
        .unwrap_or_else(|_| "openapi-spec-validator".into());
    if Command::new(&tool).arg("--help").output().is_err() {
        if std::env::var_os("CI").is_some() {
            panic!("openapi-spec-validator not found ({tool}); .ci/run installs it");
        }
        eprintln!(
            "\n*** SKIPPED: OpenAPI validation (openapi-spec-validator not installed; .ci/run installs it) ***\n"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = (dir.path().join("downbeat.toml"), dir.path().join("data"));
    std::fs::write(&config, MELODIA).unwrap();
    let server = start_server(&config, &data);
    let doc = dir.path().join("openapi.json");
    let fetched = Command::new("curl")
        .args(["-sf", "-o"])
        .arg(&doc)
        .arg(format!("http://{}/api/openapi.json", server.addr))
        .status()
        .expect("curl");
    assert!(fetched.success(), "could not fetch the OpenAPI document");
    let out = Command::new(&tool)
        .arg(&doc)
        .output()
        .expect("run the validator");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the OpenAPI document is invalid:\n{text}"
    );
}

/// A `downbeat serve` child on a port the OS picked, found from its JSON log.
struct Server {
    child: Child,
    addr: String,
}

fn start_server(config: &Path, data: &Path) -> Server {
    let mut child = Command::new(BIN)
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
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
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["fields"]["message"] == "serving"
            {
                let _ = tx.send(v["fields"]["addr"].as_str().unwrap_or_default().to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server reports its address");
    Server { child, addr }
}

async fn total(client: &reqwest::Client, addr: &str) -> u64 {
    let v: Value = client
        .get(format!(
            "http://{addr}/api/v1/services/melodia/summary?window=24h"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["total"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_acknowledging_loses_no_acknowledged_report() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("downbeat.toml");
    std::fs::write(
        &config,
        "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\n[[service]]\nid = \"melodia\"\nname = \"Melodia\"\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut server = start_server(&config, &data);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    let sent = Arc::new(AtomicU64::new(0));
    let acked_counted = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut posters = Vec::new();
    for worker in 0..32u64 {
        let (client, addr) = (client.clone(), server.addr.clone());
        let (sent, acked_counted, stop) = (sent.clone(), acked_counted.clone(), stop.clone());
        posters.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let n = worker * 1_000_000 + i;
                i += 1;
                sent.fetch_add(1, Ordering::SeqCst);
                let r = client
                    .post(format!("http://{addr}/api/v1/services/melodia/reports"))
                    .header("x-forwarded-for", format!("10.{}.{}.{}", worker, (i >> 8) & 255, i & 255))
                    .json(&serde_json::json!({"problem": if n.is_multiple_of(2) { "login" } else { "playback" }}))
                    .send()
                    .await;
                let Ok(r) = r else { break };
                if r.status() != reqwest::StatusCode::ACCEPTED {
                    break;
                }
                let Ok(body) = r.json::<Value>().await else { break };
                if body["counted"] == Value::Bool(true) {
                    acked_counted.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    // Kill mid-stream, once a good number are acknowledged.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked_counted.load(Ordering::SeqCst) < 2_000 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
    server.child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    for p in posters {
        p.await.unwrap();
    }
    let acked = acked_counted.load(Ordering::SeqCst);
    let sent = sent.load(Ordering::SeqCst);
    assert!(acked >= 2_000, "only {acked} acknowledged before the kill");

    let mut server = start_server(&config, &data);
    let counted = total(&client, &server.addr).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert!(
        counted >= acked,
        "lost reports: {acked} acknowledged as counted, {counted} counted after restart"
    );
    assert!(counted <= sent, "counted {counted} > sent {sent}");
}

#[test]
fn seed_reads_a_csv_and_names_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[[service]]\nid = \"melodia\"\nname = \"M\"\n").unwrap();
    let csv = dir.path().join("past.csv");
    let mut text = String::from("timestamp,count\n");
    for h in 0..48 {
        text.push_str(&format!("{},{}\n", 1_767_225_600 + h * 3600, 300 + h));
    }
    std::fs::write(&csv, text).unwrap();
    let data = dir.path().join("data");
    let args = |file: &Path, service: &str| {
        vec![
            "seed".to_owned(),
            "--config".into(),
            cfg.display().to_string(),
            "--data-dir".into(),
            data.display().to_string(),
            "--service".into(),
            service.into(),
            file.display().to_string(),
        ]
    };
    let out = Command::new(BIN)
        .args(args(&csv, "melodia"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("48 rows of 3600-second buckets"));
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "t,v\n2026-01-01T00:00:00Z,12\nyesterday,3\n").unwrap();
    let out = Command::new(BIN)
        .args(args(&bad, "melodia"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(BIN)
        .args(args(&csv, "nobody"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `downbeat change record` (issue 18): a pipeline's runner records a deploy with a deployer
/// token; the server's refusal is exit code 2 with its words, an unreachable server 1.
#[test]
fn a_pipeline_records_a_change_and_hears_why_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = (dir.path().join("downbeat.toml"), dir.path().join("data"));
    std::fs::write(&config, MELODIA).unwrap();
    let server = start_server(&config, &data);
    let (code, token, err) = create_token(&config, &data, "pipeline", "deployer");
    assert_eq!(code, 0, "{err}");
    let url = format!("http://{}", server.addr);
    let change = |extra: &[&str]| {
        let out = Command::new(BIN)
            .args(["change", "record", "--server", &url, "--service", "melodia"])
            .args(extra)
            .env("DOWNBEAT_TOKEN", &token)
            .output()
            .expect("run downbeat change record");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = change(&[
        "--kind",
        "deploy",
        "--component",
        "login",
        "--version",
        "2.3.0",
        "--title",
        "login-frontend 2.3.0",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["kind"].as_str(), v["version"].as_str()),
        (Some("deploy"), Some("2.3.0"))
    );
    assert_eq!(v["recorded_by"], "pipeline");

    let (code, _, err) = change(&["--kind", "deploy", "--component", "billing"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("\"billing\" is not a component of this service"),
        "{err}"
    );
    let (code, _, err) = change(&["--kind", "hotfix"]);
    assert_eq!(code, 2);
    assert!(err.contains("kind"), "{err}");

    drop(server);
    let (code, _, err) = change(&["--kind", "deploy"]);
    assert_eq!(code, 1, "no server: {err}");
}

/// `downbeat gate` (issue 18): exit code 3 while a quiet service tells nothing, 1 once the
/// crowd is unhappy since the change, 2 for a question the server refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_asks_the_gate_and_exits_by_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = (dir.path().join("downbeat.toml"), dir.path().join("data"));
    let text = format!("[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\n{MELODIA}");
    std::fs::write(&config, text).unwrap();
    let server = start_server(&config, &data);
    let (code, token, err) = create_token(&config, &data, "pipeline", "deployer");
    assert_eq!(code, 0, "{err}");
    let url = format!("http://{}", server.addr);
    let cmd = |args: &[&str]| against(args, &url, &token);
    let (code, out, err) = cmd(&[
        "change",
        "record",
        "--service",
        "melodia",
        "--kind",
        "deploy",
    ]);
    assert_eq!(code, 0, "{err}");
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"].to_string();
    let gate = |wait: &str| {
        cmd(&[
            "gate",
            "--service",
            "melodia",
            "--since",
            &id,
            "--window",
            "1m",
            "--wait",
            wait,
            "--every",
            "1s",
        ])
    };
    let (code, out, err) = gate("0s");
    assert_eq!(code, 3, "a quiet service: {out}{err}");
    assert!(err.contains("inconclusive"), "{err}");

    // The crowd reports trouble right after the deploy.
    let client = reqwest::Client::new();
    for i in 0..30 {
        let r = client
            .post(format!("{url}/api/v1/services/melodia/reports"))
            .header("x-forwarded-for", format!("203.0.{i}.7"))
            .json(&serde_json::json!({"problem": "login"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
    }
    let (code, out, err) = gate("20s");
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "fail");
    assert!(
        err.contains("the gate failed: reports (all): 30 against"),
        "{err}"
    );

    let (code, _, err) = cmd(&["gate", "--service", "melodia", "--since", "tomorrow"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("since"), "{err}");
}
