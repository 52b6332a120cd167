//! Downbeat's Prometheus side as an operator gets it (issue 18): the rules in
//! `contrib/prometheus` pass `promtool check rules` and their unit tests, every metric they
//! and the Grafana dashboard in `contrib/grafana` name is one a running server exports, and
//! a real Prometheus scrapes a running server on loopback and loads the rules.
//!
//! `promtool` and `prometheus` come from Debian's `prometheus` package (.ci/run installs
//! it). Without them, the tests that need them are skipped with a loud message — except
//! under CI (`CI` set), where that is a failure.

use crate::helpers::{TestApp, spawn_raw};
use axum::http::StatusCode as AxStatus;
use axum::routing::{get, post};
use downbeat_domain::ManualClock;
use downbeat_domain::event::Notice;
use downbeat_server::testing::until;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RULES: &str = "prometheus/downbeat.rules.yml";
const RULE_TESTS: &str = "prometheus/downbeat.rules.test.yml";
const DASHBOARD: &str = "grafana/downbeat.json";

fn contrib(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contrib")
        .join(file)
}

fn read(file: &str) -> String {
    let path = contrib(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `program` when it runs; None after saying why the test is skipped (a panic under CI).
fn tool(program: &str, what: &str) -> Option<PathBuf> {
    crate::peers::tool(&[program], what, "prometheus").map(|(path, _)| path)
}

/// `promtool check rules` (syntax, PromQL, templates) and `promtool test rules` (the
/// alerts fire when they should, with the labels and words they should).
#[test]
fn the_rules_pass_promtool_and_their_unit_tests() {
    let Some(promtool) = tool("promtool", "promtool on the shipped rules") else {
        return;
    };
    for args in [["check", "rules", RULES], ["test", "rules", RULE_TESTS]] {
        let out = Command::new(&promtool)
            .args(&args[..2])
            .arg(contrib(args[2]))
            .output()
            .expect("run promtool");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "promtool {args:?}:\n{text}");
        assert!(text.contains("SUCCESS"), "promtool {args:?}:\n{text}");
    }
}

/// The metric names (`downbeat_…`) and recorded series (`downbeat:…`) a text mentions,
/// wherever they are: expressions, comments, annotations, test series.
fn names_in(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut metrics, mut recorded) = (BTreeSet::new(), BTreeSet::new());
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')) {
        if word.starts_with("downbeat_") {
            metrics.insert(word.to_owned());
        } else if word.starts_with("downbeat:") {
            recorded.insert(word.to_owned());
        }
    }
    (metrics, recorded)
}

/// The series names of every family in an OpenMetrics exposition (from its `# TYPE`
/// lines), by family: a counter's samples end in `_total`, a histogram's in `_bucket`,
/// `_sum` and `_count`.
fn exported(exposition: &str) -> BTreeMap<String, Vec<String>> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(family, kind)| {
            let series = match kind {
                "counter" => vec![format!("{family}_total")],
                "histogram" => ["_bucket", "_sum", "_count"]
                    .iter()
                    .map(|s| format!("{family}{s}"))
                    .collect(),
                _ => vec![family.to_owned()],
            };
            (family.to_owned(), series)
        })
        .collect()
}

/// The rule and test files and the dashboard, as one text to look for names in.
fn shipped_text() -> String {
    [RULES, RULE_TESTS, DASHBOARD]
        .iter()
        .map(|f| read(f))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Families appear in `/metrics` only once they have a sample (prometheus-client prints no
/// `# TYPE` line for an empty family), so this server has something of every kind to
/// count: a report and a refused one, a monitor probing a loopback page, a polled feed and
/// a source answering garbage, and a notification to a webhook that takes it and to one
/// gone for good.
async fn busy_app() -> TestApp {
    let feed = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Melodia forum</title>\
         <entry><id>tag:forum.example,2026:1</id><title>Melodia is down for me</title><updated>{}</updated></entry></feed>",
        jiff::Timestamp::now()
    );
    let routes = axum::Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/feed.atom", get(move || async move { feed }))
        .route("/broken", get(|| async { "<html>Bad gateway" }))
        .route("/hook", post(|| async { AxStatus::OK }))
        .route("/gone", post(|| async { AxStatus::GONE }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, routes).await.unwrap() });
    let config = format!(
        r#"
[notify]
public_url = "https://status.example"

[[notify.webhook]]
id = "ops"
url = "http://{at}/hook"
secret = "a-webhook-secret-0123"

[[notify.webhook]]
id = "old-chat"
url = "http://{at}/gone"
secret = "a-webhook-secret-0123"

[[service]]
id = "melodia"
name = "Melodia"

[[service.signal]]
source = "forum"
name = "the forum"
[service.signal.poll]
kind = "feed"
url = "http://{at}/feed.atom"
include = ["melodia"]
every = "10s"

[[service.signal]]
source = "broken"
name = "a broken feed"
[service.signal.poll]
kind = "feed"
url = "http://{at}/broken"
include = ["melodia"]
every = "10s"

[[monitor]]
id = "web"
service = "melodia"
kind = "http"
target = "http://{at}/ok"
interval = "5s"
timeout = "2s"
"#
    );
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    let app = spawn_raw(downbeat_store::testing::sqlite(), &config, clock).await;
    let r = app
        .report("melodia", json!({"problem": "login"}), "192.0.2.1")
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
    let r = app
        .report("no-such-service", json!({"problem": "login"}), "192.0.2.1")
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    let notice = Notice::monitor("melodia", "web", true, app.clock.now_ms());
    assert_eq!(app.app.notifier.enqueue(notice).await.unwrap(), 2);
    app
}

async fn metrics_text(app: &TestApp) -> String {
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    r.text().await.unwrap()
}

/// Every name the rules and the dashboard use is exported by a running server (a renamed
/// metric breaks this, not the operator's alerts), every recorded series they use is
/// recorded by the rules, and every family the server exports is on the dashboard.
#[tokio::test]
async fn the_rules_and_the_dashboard_name_only_metrics_a_running_server_exports() {
    let text = shipped_text();
    let (used, recorded) = names_in(&text);
    for name in [
        "downbeat_http_request_duration_seconds_bucket",
        "downbeat_reports_rejected_total",
        "downbeat_notify_failed_total",
        "downbeat_poll_failures_total",
        "downbeat_poll_garbage_total",
    ] {
        assert!(used.contains(name), "{name} is used: {used:?}");
    }
    let records: BTreeSet<String> = read(RULES)
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- record: "))
        .map(|l| l.trim().to_owned())
        .collect();
    let unrecorded: Vec<&String> = recorded.difference(&records).collect();
    assert!(unrecorded.is_empty(), "never recorded: {unrecorded:?}");

    let app = busy_app().await;
    // The pollers' first rounds and the deliveries happen on their own, within seconds.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (families, missing) = loop {
        let families = exported(&metrics_text(&app).await);
        let series: BTreeSet<&String> = families.values().flatten().collect();
        let missing: Vec<&String> = used.iter().filter(|n| !series.contains(n)).collect();
        if missing.is_empty() || Instant::now() > deadline {
            let missing: Vec<String> = missing.into_iter().cloned().collect();
            break (families, missing);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        missing.is_empty(),
        "named in contrib/ but not exported: {missing:?}\nexported: {families:?}"
    );
    let dashboard = read(DASHBOARD);
    let (on_dashboard, _) = names_in(&dashboard);
    let absent: Vec<&String> = families
        .iter()
        .filter(|(_, series)| !series.iter().any(|s| on_dashboard.contains(s)))
        .map(|(family, _)| family)
        .collect();
    assert!(
        absent.is_empty(),
        "exported but on no panel of {DASHBOARD}: {absent:?}"
    );
    app.stop().await;
}

/// The dashboard imports as Grafana expects a shared one: its data source is an input to
/// choose at import, and every panel and query uses it.
#[test]
fn the_dashboard_asks_for_its_prometheus_at_import() {
    let d: Value = serde_json::from_str(&read(DASHBOARD)).expect("the dashboard is JSON");
    assert_eq!(d["__inputs"][0]["name"], "DS_PROMETHEUS");
    assert_eq!(d["__inputs"][0]["pluginId"], "prometheus");
    assert!(d["schemaVersion"].as_u64().is_some_and(|v| v >= 36), "{d}");
    let panels = d["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    let mut queries = 0;
    for p in panels {
        let id = p["id"].as_u64().expect("a panel id");
        assert!(ids.insert(id), "panel id {id} twice");
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${DS_PROMETHEUS}", "{p}");
        for t in p["targets"].as_array().expect("targets") {
            assert_eq!(t["datasource"]["uid"], "${DS_PROMETHEUS}", "{t}");
            assert!(t["expr"].as_str().is_some_and(|e| !e.is_empty()), "{t}");
            queries += 1;
        }
    }
    assert!(queries > 20, "{queries} queries");
    for v in d["templating"]["list"].as_array().expect("variables") {
        assert_eq!(v["datasource"]["uid"], "${DS_PROMETHEUS}", "{v}");
    }
}

/// A Prometheus of the test's own on loopback (config, data and log in a temporary
/// directory), killed on drop.
struct Prometheus {
    daemon: crate::peers::Daemon,
}

impl Prometheus {
    /// Starts `bin` scraping `target` every second as job `downbeat`, with the shipped rules
    /// evaluated every second, and waits until it is ready.
    async fn start(bin: &Path, target: SocketAddr) -> Prometheus {
        let rules = contrib(RULES).canonicalize().unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {rules}\n\
             scrape_configs:\n  - job_name: downbeat\n    static_configs:\n      - targets: [\"{target}\"]\n",
            rules = rules.display()
        );
        let daemon =
            crate::peers::Daemon::start("prometheus", bin, &config, "--storage.tsdb.path", &[])
                .await;
        Prometheus { daemon }
    }

    /// GET of its HTTP API: the answer's status and JSON body.
    async fn api(&self, path: &str, params: &[(&str, &str)]) -> (reqwest::StatusCode, Value) {
        let url =
            reqwest::Url::parse_with_params(&format!("{}{path}", self.daemon.url), params).unwrap();
        let r = reqwest::get(url).await.expect("prometheus answers");
        (r.status(), r.json().await.expect("prometheus answers JSON"))
    }

    /// An instant query's result vector (panics on an error).
    async fn query(&self, q: &str) -> Vec<Value> {
        let (status, v) = self.api("/api/v1/query", &[("query", q)]).await;
        assert_eq!(
            (status, &v["status"]),
            (reqwest::StatusCode::OK, &json!("success")),
            "{q}: {v}"
        );
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

/// What an operator does with contrib/: a Prometheus with the shipped rules scrapes a
/// running Downbeat, finds its metrics, evaluates every rule without error, can run every
/// query of the dashboard, and has DownbeatDown pending once the server stops.
#[tokio::test]
async fn a_real_prometheus_scrapes_a_running_server_and_loads_the_rules() {
    let Some(bin) = tool("prometheus", "Prometheus scraping a running server") else {
        return;
    };
    let app = busy_app().await;
    let prom = Prometheus::start(&bin, app.addr).await;
    let target = app.addr.to_string();

    until("the target is scraped and up", || async {
        let (_, v) = prom.api("/api/v1/targets", &[]).await;
        v["data"]["activeTargets"].as_array().is_some_and(|ts| {
            ts.iter().any(|t| {
                t["labels"]["job"] == "downbeat"
                    && t["labels"]["instance"] == target.as_str()
                    && t["health"] == "up"
            })
        })
    })
    .await;
    let up = prom.query(r#"up{job="downbeat"}"#).await;
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0]["value"][1], "1", "{up:?}");
    let received = prom
        .query(r#"downbeat_reports_received_total{job="downbeat",service="melodia"}"#)
        .await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["value"][1], "1", "the one report: {received:?}");
    assert_eq!(received[0]["metric"]["instance"], target.as_str());

    // Every shipped group loaded, every rule evaluated without error.
    let rules = read(RULES);
    let groups: BTreeSet<&str> = rules
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("- name: "))
        .collect();
    let rule_count = rules
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("- alert: ") || l.starts_with("- record: ")
        })
        .count();
    assert!(
        groups.len() >= 5 && rule_count >= 15,
        "{groups:?} {rule_count}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, v) = prom.api("/api/v1/rules", &[]).await;
        let loaded = v["data"]["groups"].as_array().cloned().unwrap_or_default();
        let names: BTreeSet<&str> = loaded.iter().filter_map(|g| g["name"].as_str()).collect();
        let rules: Vec<&Value> = loaded
            .iter()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .collect();
        let ok = rules.iter().filter(|r| r["health"] == "ok").count();
        if names == groups && rules.len() == rule_count && ok == rule_count {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "every shipped rule evaluated without error ({ok} of {rule_count} are): {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The recording rules record from real samples (a rate needs two scrapes).
    until("a recording rule has a sample", || async {
        !prom
            .query(r#"downbeat:reports_received:rate5m{service="melodia"}"#)
            .await
            .is_empty()
    })
    .await;

    // Every query of the dashboard is valid PromQL here, its variables filled in as
    // Grafana would; the variables find this job and this node.
    let d: Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    let fill = |e: &str| {
        e.replace("$__rate_interval", "1m")
            .replace("$__range", "1h")
            .replace("$job", "downbeat")
            .replace("$instance", ".*")
    };
    let mut ran = 0;
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = fill(t["expr"].as_str().unwrap());
            assert!(!expr.contains('$'), "a variable left in {expr}");
            prom.query(&expr).await;
            ran += 1;
        }
    }
    assert!(ran > 20, "{ran} dashboard queries");
    let variables: BTreeMap<&str, &str> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap(),
                v["query"]["query"].as_str().unwrap(),
            )
        })
        .collect();
    for (name, want) in [("job", "downbeat"), ("instance", target.as_str())] {
        // label_values(selector, label)
        let q = fill(variables[name]);
        let (selector, label) = q
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .and_then(|q| q.rsplit_once(", "))
            .unwrap_or_else(|| panic!("variable {name}: {q}"));
        let (_, v) = prom
            .api(
                &format!("/api/v1/label/{label}/values"),
                &[("match[]", selector)],
            )
            .await;
        assert_eq!(v["data"], json!([want]), "variable {name}: {q}");
    }

    // The server gone, DownbeatDown is pending for this node (it fires after 2 minutes).
    app.stop().await;
    until("DownbeatDown is pending for the stopped node", || async {
        let (_, v) = prom.api("/api/v1/alerts", &[]).await;
        v["data"]["alerts"].as_array().is_some_and(|alerts| {
            alerts.iter().any(|a| {
                a["labels"]["alertname"] == "DownbeatDown"
                    && a["labels"]["instance"] == target.as_str()
                    && a["state"] == "pending"
            })
        })
    })
    .await;
}
