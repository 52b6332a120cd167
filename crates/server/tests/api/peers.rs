//! Real peers the tests start: Debian's Prometheus-family daemons (Prometheus,
//! Alertmanager), each on a loopback port of its own with its config, data and log in a
//! temporary directory — ready once `/-/ready` answers, killed on drop, with its log's last
//! lines printed when the test failed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The first of `programs` that runs, with its version line; None after saying why it is
/// skipped — a panic under CI (`CI` set), where `.ci/run` installs `package`.
pub fn tool(programs: &[&str], what: &str, package: &str) -> Option<(PathBuf, String)> {
    for program in programs {
        if let Ok(out) = Command::new(program).arg("--version").output()
            && out.status.success()
        {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let version = text.lines().next().unwrap_or_default().to_owned();
            return Some((PathBuf::from(program), version));
        }
    }
    let program = programs.join(" or ");
    if std::env::var_os("CI").is_some() {
        panic!("{what}: {program} is missing; under CI this must run (.ci/run installs {package})");
    }
    eprintln!("\n*** SKIPPED: {what}: {program} is missing (apt-get install {package}) ***\n");
    None
}

/// A daemon of the test's own.
pub struct Daemon {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    name: &'static str,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts `bin` with `config` as `--config.file`, its data under `storage_flag`
    /// (`--storage.tsdb.path`, `--storage.path`), `extra` arguments and a free loopback
    /// port, and waits until it is ready.
    pub async fn start(
        name: &'static str,
        bin: &Path,
        config: &str,
        storage_flag: &str,
        extra: &[&str],
    ) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join(format!("{name}.yml"));
        std::fs::write(&config_file, config).unwrap();
        // A port free a moment ago: these daemons cannot be handed a bound socket.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join(format!("{name}.log"));
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "{storage_flag}={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let mut d = Daemon {
            child,
            url: format!("http://127.0.0.1:{port}"),
            name,
            log,
            _dir: dir,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!("{name} exited: {status}");
            }
            let ready = http.get(format!("{}/-/ready", d.url)).send().await;
            if ready.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
                return d;
            }
            assert!(Instant::now() < deadline, "{name} never got ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            eprintln!("---- last lines of {}'s log:", self.name);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}
