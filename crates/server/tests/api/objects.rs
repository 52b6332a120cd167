//! Services, components, monitors and destinations managed at runtime through the API: in
//! force at once (a page, reports, probes, deliveries), held to the config check's rules in
//! its words, never over the file's objects, kept across a restart, and followed by every
//! node of a cluster.

use crate::helpers::*;
use axum::Router;
use axum::routing::{get, post};
use downbeat_api::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A loopback target counting its hits: `/ok` answers 200, `/down` 503.
async fn target() -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = Router::new()
        .route(
            "/ok",
            get(move || {
                h.fetch_add(1, Ordering::SeqCst);
                async { "ok" }
            }),
        )
        .route(
            "/down",
            get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "busy") }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (port, hits)
}

/// A loopback webhook receiver keeping every body.
async fn receiver() -> (u16, Arc<std::sync::Mutex<Vec<Value>>>) {
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: axum::Json<Value>| {
            g.lock().unwrap().push(body.0);
            async { "ok" }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (port, got)
}

const FILE_MONITOR: &str = r#"
[[monitor]]
id = "from-file"
service = "melodia"
kind = "tcp"
target = "127.0.0.1:9"
interval = "1m"
"#;

/// The error `downbeat config check` gives for `table` as a monitor of the file: the words
/// the API must use too.
fn check_says(table: &str) -> String {
    let text = format!("{}\n[[monitor]]\n{table}", config_text(""));
    match downbeat_config::parse_str(&text, "f.toml") {
        Err(downbeat_config::ConfigError::Invalid { message, .. }) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_and_monitor_made_through_the_api_are_in_force_at_once() {
    let (port, hits) = target().await;
    let app = spawn_with(downbeat_store::testing::sqlite(), FILE_MONITOR).await;
    let editor = token(&app, "terraform", Role::Editor).await;

    // A new service with a component: its page, its reports, its status.
    let (s, v) = send(&app, Method::POST, "/api/v1/services", Some(&editor),
        Some(json!({"id": "radio", "name": "Radio <FM>", "component": [{"id": "stream", "name": "Streaming"}]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["origin"].as_str(), v["kind"].as_str()),
        (Some("store"), Some("service"))
    );
    app.pages.refresh().await;
    let page = app.client.get(app.url("/s/radio")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Radio &#60;FM&#62;") || html.contains("Radio &lt;FM&gt;"),
        "the name is shown, escaped"
    );
    assert!(html.contains("Streaming"), "the component is shown");
    let r = app
        .report("radio", json!({"problem": "login"}), "203.0.113.7")
        .await;
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "reports to the new service are taken"
    );

    // A monitor of it, probed within one interval; the public list shows it.
    let (s, v) = send(&app, Method::POST, "/api/v1/monitors", Some(&editor),
        Some(json!({"id": "radio-web", "service": "radio", "component": "stream", "kind": "http",
                    "target": format!("http://127.0.0.1:{port}/ok"), "interval": "5s", "timeout": "2s"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let state = |v: &Value| {
        v["monitors"][0]["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    loop {
        app.clock.set(jiff::Timestamp::now());
        let (_, v) = app.viewer_json("/api/v1/services/radio/monitors").await;
        if state(&v) == "up" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new monitor was never probed: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(hits.load(Ordering::SeqCst) >= 1);

    // Changed: another target, probed from now on (it fails: the monitor goes down).
    let (s, v) = send(&app, Method::PUT, "/api/v1/monitors/radio-web", Some(&editor),
        Some(json!({"service": "radio", "kind": "http", "target": format!("http://127.0.0.1:{port}/down"),
                    "interval": "5s", "timeout": "2s"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["config"]["target"],
        format!("http://127.0.0.1:{port}/down")
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        app.clock.set(jiff::Timestamp::now());
        let (_, v) = app.viewer_json("/api/v1/services/radio/monitors").await;
        if state(&v) == "down" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the changed monitor never probed its new target: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Removed: it stops.
    let (s, _) = send(
        &app,
        Method::DELETE,
        "/api/v1/monitors/radio-web",
        Some(&editor),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = app.viewer_json("/api/v1/services/radio/monitors").await;
    assert_eq!(v["monitors"].as_array().map(Vec::len), Some(0), "{v}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = app
        .app
        .store
        .probe_results("radio-web", 0, 10_000)
        .await
        .unwrap()
        .len();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = app
        .app
        .store
        .probe_results("radio-web", 0, 10_000)
        .await
        .unwrap()
        .len();
    assert_eq!(before, after, "a removed monitor is probed no more");

    // The objects of the file are listed as the file's; the store's as the store's.
    let (s, v) = send(
        &app,
        Method::GET,
        "/api/v1/config/objects",
        Some(&editor),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let origin = |kind: &str, id: &str| {
        v["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["kind"] == kind && o["id"] == id)
            .map(|o| o["origin"].as_str().unwrap().to_owned())
    };
    assert_eq!(origin("monitor", "from-file").as_deref(), Some("file"));
    assert_eq!(origin("service", "melodia").as_deref(), Some("file"));
    assert_eq!(origin("service", "radio").as_deref(), Some("store"));

    // Kept across a restart.
    let (store, clock) = app.stop().await;
    let app = spawn_on(store, FILE_MONITOR, clock).await;
    let (s, _) = app.get_json("/api/v1/services/radio/status").await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the stored service is back after a restart"
    );
}

#[tokio::test]
async fn refusals_use_the_config_checks_words_and_leave_the_files_objects_alone() {
    let app = spawn_with(downbeat_store::testing::sqlite(), FILE_MONITOR).await;
    let editor = token(&app, "ed", Role::Editor).await;
    let viewer = token(&app, "viewer", Role::Viewer).await;
    let monitor = |extra: Value| {
        let mut m =
            json!({"id": "api", "service": "melodia", "kind": "tcp", "target": "127.0.0.1:9"});
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        m
    };

    // Roles.
    let (s, _) = send(
        &app,
        Method::POST,
        "/api/v1/monitors",
        Some(&viewer),
        Some(monitor(json!({}))),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = send(
        &app,
        Method::GET,
        "/api/v1/destinations",
        Some(&editor),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "destinations are the admins'");

    // A bad interval: 422, in the words `config check` uses for the same table.
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/monitors",
        Some(&editor),
        Some(monitor(json!({"interval": "1s"}))),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "interval", "{v}");
    let words = check_says(
        "id = \"api\"\nservice = \"melodia\"\nkind = \"tcp\"\ntarget = \"127.0.0.1:9\"\ninterval = \"1s\"",
    );
    let said = v["error"].as_str().unwrap();
    assert!(
        said.contains(&words) && said.starts_with("monitor \"api\""),
        "{said} / {words}"
    );

    // An unknown service, an unknown key, a probe option of the wrong kind.
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/monitors",
        Some(&editor),
        Some(monitor(json!({"service": "nope"}))),
    )
    .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("service")),
        "{v}"
    );
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/monitors",
        Some(&editor),
        Some(monitor(json!({"intervall": "30s"}))),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"].as_str().unwrap().contains("intervall"), "{v}");

    // The file's monitor: shown, never changed here (409 naming the file and key).
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/monitors",
        Some(&editor),
        Some(monitor(json!({"id": "from-file"}))),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let said = v["error"].as_str().unwrap();
    assert!(
        said.contains("test.toml") && said.contains("monitor[0]"),
        "{said}"
    );
    let (s, v) = send(
        &app,
        Method::DELETE,
        "/api/v1/monitors/from-file",
        Some(&editor),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = send(
        &app,
        Method::DELETE,
        "/api/v1/services/melodia/config",
        Some(&editor),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/services/melodia/components",
        Some(&editor),
        Some(json!({"id": "x", "name": "X"})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "a file's service gets no components here: {v}"
    );

    // Ids clash: twice the same monitor; an id the body contradicts.
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/monitors",
        Some(&editor),
        Some(monitor(json!({}))),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/monitors",
        Some(&editor),
        Some(monitor(json!({}))),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = send(
        &app,
        Method::PUT,
        "/api/v1/monitors/api",
        Some(&editor),
        Some(monitor(json!({"id": "other"}))),
    )
    .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("id")),
        "{v}"
    );
    let (s, _) = send(
        &app,
        Method::PUT,
        "/api/v1/monitors/missing",
        Some(&editor),
        Some(monitor(json!({"id": "missing"}))),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A stored service its monitor leans on cannot go; its components are managed here.
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/services",
        Some(&editor),
        Some(json!({"id": "radio", "name": "Radio"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/services/radio/components",
        Some(&editor),
        Some(json!({"id": "stream", "name": "Stream"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["config"]["component"][0]["id"], "stream", "{v}");
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/services/radio/components",
        Some(&editor),
        Some(json!({"id": "Bad Id", "name": "B"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["field"].as_str().unwrap().starts_with("component[1]"),
        "{v}"
    );
    let (s, v) = send(&app, Method::POST, "/api/v1/monitors", Some(&editor), Some(json!({"id": "radio-tcp", "service": "radio", "component": "stream", "kind": "tcp", "target": "127.0.0.1:9"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = send(
        &app,
        Method::DELETE,
        "/api/v1/services/radio/components/stream",
        Some(&editor),
        None,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "a monitor names the component: {v}"
    );
    assert!(v["error"].as_str().unwrap().contains("radio-tcp"), "{v}");
    let (s, v) = send(
        &app,
        Method::DELETE,
        "/api/v1/services/radio/config",
        Some(&editor),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _) = send(
        &app,
        Method::DELETE,
        "/api/v1/monitors/radio-tcp",
        Some(&editor),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = send(
        &app,
        Method::DELETE,
        "/api/v1/services/radio/config",
        Some(&editor),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get_json("/api/v1/services/radio/status").await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "a removed service is gone at once"
    );

    // Malformed bodies.
    let r = app
        .client
        .post(app.url("/api/v1/monitors"))
        .bearer_auth(&editor)
        .header("content-type", "application/json")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_added_at_runtime_is_told_and_keeps_its_secret() {
    let (port, got) = receiver().await;
    let app = spawn_with(downbeat_store::testing::sqlite(), "").await;
    let admin = token(&app, "root", Role::Admin).await;
    let editor = token(&app, "ed", Role::Editor).await;
    let hook = format!("http://127.0.0.1:{port}/hook");
    let (s, v) = send(&app, Method::POST, "/api/v1/destinations", Some(&admin),
        Some(json!({"channel": "webhook", "id": "ops", "url": hook, "secret": "a secret of sixteen+", "events": ["incident"]}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let shown = v.to_string();
    assert!(
        !shown.contains("sixteen"),
        "a secret is never shown: {shown}"
    );
    assert_eq!(v["secrets_set"], json!(["secret"]), "{v}");
    assert_eq!(
        v["config"]["url"],
        format!("http://127.0.0.1:{port}/…"),
        "the URL's path is hidden"
    );

    // Changed without the secret or the URL: both kept (it still validates and delivers).
    let (s, v) = send(&app, Method::PUT, "/api/v1/destinations/ops", Some(&admin),
        Some(json!({"channel": "webhook", "url": format!("http://127.0.0.1:{port}/…"), "events": ["incident"], "per_minute": 30}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["secrets_set"], json!(["secret"]), "{v}");

    // An incident published now reaches it.
    let (s, v) = send(&app, Method::POST, "/api/v1/services/melodia/incidents", Some(&editor),
        Some(json!({"title": "Login failing", "status": "investigating", "impact": "major", "message": "Looking into it."}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    until("the runtime destination receives the incident", || async {
        !got.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(
        got.lock().unwrap()[0]["type"],
        "incident.created",
        "{:?}",
        got.lock().unwrap()
    );

    // Removed: nothing more is sent to it.
    let (s, _) = send(
        &app,
        Method::DELETE,
        "/api/v1/destinations/ops",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let n = got.lock().unwrap().len();
    let (s, _) = send(&app, Method::POST, "/api/v1/services/melodia/incidents", Some(&editor),
        Some(json!({"title": "Playback failing", "status": "investigating", "impact": "minor", "message": "Looking."}))).await;
    assert_eq!(s, StatusCode::CREATED);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        got.lock().unwrap().len(),
        n,
        "a removed destination is told nothing"
    );
}

#[tokio::test]
async fn apply_checks_everything_first_and_writes_all_or_nothing() {
    let app = spawn_with(downbeat_store::testing::sqlite(), FILE_MONITOR).await;
    let admin = token(&app, "root", Role::Admin).await;
    let apply = |config: &str, prune: bool, dry_run: bool| json!({"config": config, "prune": prune, "dry_run": dry_run});
    let two = r#"
[[service]]
id = "radio"
name = "Radio"

[[monitor]]
id = "radio-tcp"
service = "radio"
kind = "tcp"
target = "127.0.0.1:9"
"#;
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/admin/apply",
        Some(&admin),
        Some(apply(two, true, true)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["create"],
        json!(["service \"radio\"", "monitor \"radio-tcp\""]),
        "{v}"
    );
    let (s, _) = app.get_json("/api/v1/services/radio/status").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a dry run changes nothing");

    // One bad object: nothing written.
    let bad = format!(
        "{two}\n[[monitor]]\nid = \"bad\"\nservice = \"radio\"\nkind = \"tcp\"\ntarget = \"127.0.0.1:9\"\ninterval = \"2d\"\n"
    );
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/admin/apply",
        Some(&admin),
        Some(apply(&bad, true, false)),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"].as_str().unwrap().starts_with("monitor \"bad\""),
        "{v}"
    );
    assert!(
        app.app.store.config_objects().await.unwrap().is_empty(),
        "nothing half-applied"
    );

    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/admin/apply",
        Some(&admin),
        Some(apply(two, true, false)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = app.get_json("/api/v1/services/radio/status").await;
    assert_eq!(s, StatusCode::OK);
    // Again: nothing to do. Then without the monitor, pruned.
    let (_, v) = send(
        &app,
        Method::POST,
        "/api/v1/admin/apply",
        Some(&admin),
        Some(apply(two, true, false)),
    )
    .await;
    assert_eq!(
        (
            v["unchanged"].as_u64(),
            v["create"].as_array().map(Vec::len)
        ),
        (Some(2), Some(0)),
        "{v}"
    );
    let one = "[[service]]\nid = \"radio\"\nname = \"Radio FM\"\n";
    let (_, v) = send(
        &app,
        Method::POST,
        "/api/v1/admin/apply",
        Some(&admin),
        Some(apply(one, true, false)),
    )
    .await;
    assert_eq!(v["change"], json!(["service \"radio\""]), "{v}");
    assert_eq!(v["remove"], json!(["monitor \"radio-tcp\""]), "{v}");
    // The file's objects and settings are not the store's to apply.
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/admin/apply",
        Some(&admin),
        Some(apply(FILE_MONITOR, true, false)),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/v1/admin/apply",
        Some(&admin),
        Some(apply("[server]\nregion = \"x\"\n", true, false)),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"].as_str().unwrap().contains("server"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_follows_a_change_made_through_one() {
    let Some(store) = downbeat_store::testing::postgres().await else {
        return;
    };
    let nodes = spawn_nodes(store, "", 2).await;
    let editor = token(&nodes[0], "ed", Role::Editor).await;
    let (s, v) = send(
        &nodes[0],
        Method::POST,
        "/api/v1/services",
        Some(&editor),
        Some(json!({"id": "radio", "name": "Radio"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    until("the other node serves the new service", || async {
        nodes[1].get_json("/api/v1/services/radio/status").await.0 == StatusCode::OK
    })
    .await;
    let (s, _) = send(
        &nodes[1],
        Method::DELETE,
        "/api/v1/services/radio/config",
        Some(&editor),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    until("the first node forgets it", || async {
        nodes[0].get_json("/api/v1/services/radio/status").await.0 == StatusCode::NOT_FOUND
    })
    .await;
}
