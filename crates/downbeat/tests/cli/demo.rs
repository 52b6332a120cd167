//! `downbeat demo` as a newcomer runs it: the README's first command starts it, bad options
//! are refused, and a short accelerated story seen in Chromium reaches *problems* with the
//! right probable cause and a draft incident, then recovers with a resolved incident.
//! Screenshots in `artifacts/screenshots/` at the workspace root.

use super::{BIN, run};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `downbeat demo` and everything it printed so far.
struct Demo {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Demo {
    fn start(args: &[&str]) -> Demo {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn downbeat demo");
        let stdout = child.stdout.take().expect("piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Demo { child, lines }
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits until a printed line contains `needle`; returns that line.
    fn wait_for(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(l) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return l.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the demo exited ({status}) before printing {needle:?}:\n{}",
                    self.text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} within {within:?}:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The base URL, from the "Status page" line.
    fn base(&mut self) -> String {
        let line = self.wait_for("Status page", Duration::from_secs(60));
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("a URL on the status page line");
        url.trim_end_matches("/s/melodia").to_owned()
    }

    /// SIGTERM, then the exit code (the demo drains and deletes its data).
    fn stop(mut self) -> i32 {
        // The shell's own kill: no procps needed.
        let _ = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the demo did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-w", "\n%{http_code}", url])
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// The first command of the README's "Try it" block, as arguments after `cargo run ... --`.
fn readme_first_command() -> Vec<String> {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let text = std::fs::read_to_string(&readme).expect("README.md");
    let section = text.split("## Try it").nth(1).expect("a Try it section");
    let block = section.split("```sh").nth(1).expect("a sh block");
    let first = block
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap();
    let command = first.split('#').next().unwrap().trim();
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(
        words.get(..4),
        Some(&["cargo", "run", "--release", "--"][..]),
        "the README's first command runs the binary: {command}"
    );
    words[4..].iter().map(|w| w.to_string()).collect()
}

#[test]
fn the_readme_first_command_starts_the_demo() {
    let args = readme_first_command();
    assert_eq!(args.first().map(String::as_str), Some("demo"), "{args:?}");
    // As shown, plus a port of our own (8080 may be taken on a test machine).
    let mut argv: Vec<&str> = args.iter().map(String::as_str).collect();
    argv.extend(["--listen", "127.0.0.1:0"]);
    let mut demo = Demo::start(&argv);
    let base = demo.base();
    let (code, body) = get(&format!("{base}/healthz"));
    assert_eq!(code, 200, "{body}");
    let (code, body) = get(&format!("{base}/api/v1/services/melodia/status"));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("verdict"), "{body}");
    let (code, page) = get(&format!("{base}/s/melodia"));
    assert_eq!(code, 200);
    assert!(page.contains("Is Melodia down?"), "{page}");
    // The probes run: the first results arrive within seconds of real time.
    demo.wait_for("CROWD", Duration::from_secs(60));
    assert_eq!(demo.stop(), 0, "a clean exit on SIGTERM");
}

#[test]
fn bad_demo_options_are_refused_with_exit_code_2() {
    let (code, _, err) = run(&["demo", "--scenario", "nope", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2, "{err}");
    for name in [
        "morning-outage",
        "expired-certificate",
        "dns-failure",
        "regional-cdn",
    ] {
        assert!(err.contains(name), "the scenarios are listed: {err}");
    }
    let (code, _, err) = run(&["demo", "--speed", "0", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--speed"), "{err}");
}

/// The npm folder of the pages' browser tests (its playwright-core and launch.js), or None
/// (after saying why) when the tools are missing outside CI.
fn node_tools() -> Option<PathBuf> {
    downbeat_server::testing::browser_tools::tools(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/tests/browser"),
        "demo browser test",
        true,
    )
}

/// The morning outage's pipeline records the bad login deploy a minute before the onset: the
/// draft names it as the probable cause (issue 18, item 2).
#[test]
fn the_morning_outages_draft_names_the_bad_deploy() {
    let mut demo = Demo::start(&[
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--speed",
        "300",
        "--scenario",
        "morning-outage",
    ]);
    demo.wait_for("PIPELINE  deploy 2.3.0 recorded", Duration::from_secs(90));
    let cause = demo.wait_for("probable cause:", Duration::from_secs(90));
    // The deploy's minute is the pipeline's; the onset's is when the probes and the crowd
    // see it, a minute or two on a busy machine.
    assert!(
        cause.contains(
            "#1 probable cause: login 2.3.0 was deployed at 08:09 UTC (“login-frontend 2.3.0: \
             new TLS configuration”), "
        ) && cause.contains("before the onset; consider rolling it back."),
        "{cause}"
    );
    assert_eq!(demo.stop(), 0);
}

/// Only ap-southeast's probes see the CDN's 502s (no quorum: the monitor stays up) while the
/// crowd's reports come from Asia: the draft ties them, by place (issue 18, item 7).
#[test]
fn the_regional_cdn_draft_says_where_it_fails() {
    let mut demo = Demo::start(&[
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--speed",
        "300",
        "--scenario",
        "regional-cdn",
    ]);
    let drafted = demo.wait_for("INCIDENT  #1 drafted", Duration::from_secs(120));
    assert!(
        drafted.contains("\"Melodia: playback fails in Asia\""),
        "{drafted}\n{}",
        demo.text()
    );
    assert_eq!(demo.stop(), 0);
}

#[test]
fn a_short_demo_in_chromium_reaches_problems_with_its_cause_and_a_draft_then_recovers() {
    let Some(npm) = node_tools() else {
        return;
    };
    let mut demo = Demo::start(&[
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--speed",
        "300",
        "--scenario",
        "dns-failure",
    ]);
    let base = demo.base();
    let admin = demo.wait_for("Admin area", Duration::from_secs(10));
    let password = admin
        .rsplit("password ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_owned();
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../artifacts/screenshots");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/tests/browser/demo.js");
    let out = Command::new("node")
        .arg(&script)
        .args([
            &base,
            "demo",
            &password,
            &shots.display().to_string(),
            "DNS",
            &npm.join("launch.js").display().to_string(),
            "240",
        ])
        .env("NODE_PATH", npm.join("node_modules"))
        .current_dir(&npm)
        .output()
        .expect("run node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "browser: {text}\nnarration:\n{}",
        demo.text()
    );
    eprintln!("browser: {text}screenshots in {}", shots.display());
    // The narration told the whole story, with the detection delay.
    let resolved = demo.wait_for("RESOLVED", Duration::from_secs(60));
    assert!(resolved.contains("time to detect"), "{resolved}");
    let story = demo.text();
    for tag in [
        "ONSET", "PROBES", "CROWD", "INCIDENT", "ACK", "UPDATE", "END",
    ] {
        assert!(
            story
                .lines()
                .any(|l| l.get(8..).is_some_and(|r| r.trim_start().starts_with(tag))),
            "the narration lacks {tag}:\n{story}"
        );
    }
    assert!(story.contains("drafted from the signals"), "{story}");
    // Listeners post about it as the outage rises (the scenario's social chatter, posted as
    // the service's `social` signal source).
    assert!(
        story
            .lines()
            .any(|l| l.contains("CROWD") && l.contains("posts on social media: ")),
        "the crowd's verdict lines never mention the posts:\n{story}"
    );
    // The on-call pager (a signed webhook the demo verifies) heard of the draft before the
    // operator published it.
    let pos = |needle: &str| story.find(needle).unwrap_or(usize::MAX);
    assert!(
        pos("draft incident, not yet public") < pos("ACK "),
        "the draft alert comes first:\n{story}"
    );
    assert_eq!(demo.stop(), 0);
}
