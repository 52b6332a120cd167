//! The official side from stored probe results: 90-day uptime bars with a label per day,
//! and the public diagnosis, which never shows a target, an address or an error text.

use crate::helpers::*;
use downbeat_domain::probe::Outcome;
use downbeat_store::{NewProbeResult, testing};
use jiff::Timestamp;

const DAY: i64 = 86_400_000;

/// Two monitors whose targets (loopback, never probed within a test: their first run is
/// hours away) must not show on the page.
fn monitors() -> String {
    config_text(
        r#"
[[monitor]]
id = "web"
service = "melodia"
component = "playback"
kind = "http"
target = "https://127.0.0.77:1/secret-health"
interval = "24h"
timeout = "5s"

[[monitor]]
id = "api"
service = "melodia"
kind = "tcp"
target = "127.0.0.78:1"
interval = "24h"
timeout = "5s"
"#,
    )
    .replace("[server]\n", "[server]\nregion = \"eu-west\"\n")
}

fn result(monitor: &str, region: &str, at_ms: i64, json: String) -> NewProbeResult {
    let v: serde_json::Value = serde_json::from_str(&json).expect("result JSON");
    NewProbeResult {
        monitor: monitor.into(),
        region: region.into(),
        at_ms,
        outcome: if v["outcome"] == "down" {
            Outcome::Down
        } else {
            Outcome::Up
        },
        cause: None,
        total_ms: Some(10.0),
        reliable: true,
        result: json,
    }
}

fn iso(ms: i64) -> String {
    downbeat_web::time::rfc3339_ms(ms)
}

fn up(kind: &str, at_ms: i64) -> String {
    format!(
        r#"{{"kind":"{kind}","started_at":"{}","outcome":"up","timings":{{"total_ms":10.0}},"address":"127.0.0.77:1"}}"#,
        iso(at_ms)
    )
}

/// What a real https probe stores for an expired certificate: the error text and the
/// certificate name the secret origin.
fn expired(at_ms: i64, not_after_ms: i64) -> String {
    format!(
        r#"{{"kind":"http","started_at":"{}","outcome":"down","cause":"tls_certificate","detail":"expired","error":"invalid peer certificate: Expired for secret-origin.internal at 127.0.0.77:1","timings":{{"dns_ms":1.0,"connect_ms":1.0}},"address":"127.0.0.77:1","certificate":{{"subject":"CN=secret-origin.internal","issuer":"CN=Internal CA","not_before":"{}","not_after":"{}","days_until_expiry":-1}}}}"#,
        iso(at_ms),
        iso(not_after_ms - 90 * DAY),
        iso(not_after_ms)
    )
}

fn refused(at_ms: i64) -> String {
    format!(
        r#"{{"kind":"tcp","started_at":"{}","outcome":"down","cause":"connect","detail":"refused","error":"Connection refused (os error 111) connecting to 127.0.0.78:1","timings":{{}},"address":"127.0.0.78:1"}}"#,
        iso(at_ms)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uptime_bars_label_every_day_and_leave_unmeasured_days_empty() {
    let store = testing::sqlite();
    let now = Timestamp::now();
    let today = now.as_millisecond() / DAY * DAY;
    let db = downbeat_store::open(&store.target).await.unwrap();
    let mut rows = Vec::new();
    // Five days ago: half the probes of the component's monitor failed.
    for k in 0..10 {
        let at = today - 5 * DAY + k * 60_000;
        let json = if k % 2 == 0 {
            refused(at).replace("\"tcp\"", "\"http\"")
        } else {
            up("http", at)
        };
        rows.push(result("web", "eu-west", at, json));
    }
    // Two days ago: one failure in 200 (99.5%).
    for k in 0..200 {
        let at = today - 2 * DAY + k * 60_000;
        let json = if k == 0 {
            refused(at).replace("\"tcp\"", "\"http\"")
        } else {
            up("http", at)
        };
        rows.push(result("web", "us-east", at, json));
    }
    // Yesterday: the monitor without a component, all good.
    rows.push(result(
        "api",
        "eu-west",
        today - DAY + 5_000,
        up("tcp", today - DAY + 5_000),
    ));
    db.insert_probe_results(rows).await.unwrap();
    drop(db);

    let app = spawn_with(&monitors(), store, now).await;
    let html = app.page("/s/melodia").await;
    let date = |ms: i64| downbeat_web::time::date(ms);

    // Playback carries the "web" monitor; Login has none: 90 days of no data.
    let playback = &html[html.find("<span>Playback</span>").expect("playback")..];
    let bar = &playback[..playback.find("</ol>").unwrap()];
    assert_eq!(bar.matches("<li ").count(), 90, "{bar}");
    assert!(
        bar.contains(&format!(
            "<li class=\"down\" title=\"{0}: 50% uptime\"><span class=\"sr\">{0}: 50% uptime</span></li>",
            date(today - 5 * DAY)
        )),
        "{bar}"
    );
    assert!(
        bar.contains(&format!(
            "<li class=\"up\" title=\"{}: 99.5% uptime\"",
            date(today - 2 * DAY)
        )),
        "{bar}"
    );
    assert!(bar.contains(&format!(
        "<li class=\"nodata\" title=\"{}: no data\"",
        date(today - 3 * DAY)
    )));
    assert!(bar.contains(&format!(
        "<li class=\"nodata\" title=\"{}: no data\"",
        date(today - 89 * DAY)
    )));
    assert_eq!(bar.matches("class=\"nodata\"").count(), 88, "{bar}");
    // 5 + 1 failures in 210 probes.
    assert!(
        playback.contains("Uptime, last 90 days: 97.14% of checks passed, on 2 days with data"),
        "{playback}"
    );
    let login = &html[html.find("<span>Login and accounts</span>").unwrap()..];
    assert!(login.contains("Uptime, last 90 days: no data yet"));

    // The monitor outside any component has its own bar.
    let checks = &html[html.find("<h3>Checks</h3>").expect("checks")..];
    let api = &checks[checks.find("api (tcp check)").expect("api row")..];
    assert!(
        api.contains(&format!(
            "<li class=\"up\" title=\"{}: 100% uptime\"",
            date(today - DAY)
        )),
        "{api}"
    );
    // Login, Playback and the api check: the "web" check counts in Playback's bar.
    assert_eq!(html.matches("<ol class=\"uptime\">").count(), 3);
    app.stop().await;
}

/// Melodia whose https check fails TLS everywhere and whose tcp check fails in ap-south
/// only, as stored results restored at start.
pub async fn spawn_with_failing_checks() -> TestApp {
    let store = testing::sqlite();
    let now = Timestamp::now();
    let now_ms = now.as_millisecond();
    let db = downbeat_store::open(&store.target).await.unwrap();
    let not_after = now_ms - 2 * 3_600_000 - 60_000;
    let at = now_ms - 10_000;
    db.insert_probe_results(vec![
        result("web", "eu-west", at, expired(at, not_after)),
        result("web", "us-east", at, expired(at, not_after)),
        result("web", "ap-south", at, expired(at, not_after)),
        result("api", "eu-west", at, up("tcp", at)),
        result("api", "us-east", at, up("tcp", at)),
        result("api", "ap-south", at, refused(at)),
    ])
    .await
    .unwrap();
    drop(db);
    spawn_with(&monitors(), store, now).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_diagnosis_names_causes_and_regions_but_never_targets() {
    let app = spawn_with_failing_checks().await;
    let html = app.page("/s/melodia").await;
    assert!(
        html.contains(
            "<strong>What our checks see:</strong> All regions fail TLS: certificate expired 2 h ago; only ap-south fails to connect (connection refused): regional network or CDN.</p>"
        ),
        "{html}"
    );
    assert!(html.contains("ap-south: fails to connect (connection refused)</li>"));
    assert!(html.contains("us-east: fails TLS: certificate expired 2 h ago</li>"));
    assert!(html.contains("eu-west: passing</li>"));
    for secret in ["127.0.0.7", "secret", "Internal CA", "os error", ":1/"] {
        assert!(!html.contains(secret), "the page shows {secret:?}:\n{html}");
    }
    // The JSON API keeps the details for operators (a viewer token), and shows the public
    // view to everyone else.
    let public = app.page("/api/v1/services/melodia/monitors").await;
    for secret in ["127.0.0.7", "secret", "Internal CA", "os error"] {
        assert!(
            !public.contains(secret),
            "the public API shows {secret:?}:\n{public}"
        );
    }
    let token = downbeat_api::auth::create_token(
        &*app.app.store,
        "viewer",
        downbeat_api::auth::Role::Viewer,
        app.clock.now_ms(),
    )
    .await
    .unwrap();
    let api = app
        .client
        .get(app.url("/api/v1/services/melodia/monitors"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(api.contains("secret-origin.internal"));
    app.stop().await;
}
