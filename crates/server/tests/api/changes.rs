//! Changes operators made (issue 18, items 1–2): a `deployer` token records them, bad ones
//! are refused naming the field, operators list them, and a draft that follows one names it
//! as the probable cause — in the evidence only: no version reaches a public surface.

use crate::drafts::{probe_and_push, refusing_tls_listener};
use crate::helpers::*;
use downbeat_api::auth::{self, Role};
use downbeat_domain::ManualClock;
use downbeat_store::testing;
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

async fn record(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url("/api/v1/services/melodia/changes"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn list(app: &TestApp, token: &str) -> (StatusCode, Value) {
    let r = app
        .client
        .get(app.url("/api/v1/services/melodia/changes?since=1d"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_deployer_records_changes_that_operators_list_newest_first() {
    let app = spawn_app().await;
    let ci = token(&app, "ci", Role::Deployer).await;
    let ago = |m: i64| {
        (Timestamp::from_millisecond(app.clock.now_ms()).unwrap() - SignedDuration::from_mins(m))
            .to_string()
    };
    let (s, first) = record(
        &app,
        &ci,
        json!({"kind": "deploy", "component": "login", "version": "2.3.0",
               "title": "login-frontend 2.3.0", "link": "https://ci.example/runs/812",
               "at": ago(5)}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["recorded_by"], "ci");
    assert_eq!(first["version"], "2.3.0");
    let (s, second) = record(&app, &ci, json!({"kind": "rollback", "component": "login"})).await;
    assert_eq!(s, StatusCode::CREATED, "{second}");

    for reader in [token(&app, "viewer", Role::Viewer).await, ci.clone()] {
        let (s, l) = list(&app, &reader).await;
        assert_eq!(s, StatusCode::OK, "{l}");
        let kinds: Vec<&str> = l["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["rollback", "deploy"], "{l}");
    }
    // Recording is the deployer's (or an admin's); reading needs a token.
    let editor = token(&app, "editor", Role::Editor).await;
    let signal = token(&app, "social", Role::Signal).await;
    assert_eq!(
        record(&app, &editor, json!({"kind": "deploy"})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        record(&app, &signal, json!({"kind": "deploy"})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(list(&app, &signal).await.0, StatusCode::FORBIDDEN);
    let r = app
        .client
        .get(app.url("/api/v1/services/melodia/changes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_bad_change_is_refused_naming_what_is_wrong() {
    let app = spawn_app().await;
    let ci = token(&app, "ci", Role::Deployer).await;
    let ahead = (Timestamp::from_millisecond(app.clock.now_ms()).unwrap()
        + SignedDuration::from_hours(2))
    .to_string();
    for (body, status, says) in [
        (json!({"kind": "hotfix"}), 422, "kind"),
        (json!({"component": "login"}), 422, "kind"),
        (
            json!({"kind": "deploy", "component": "billing"}),
            422,
            "component",
        ),
        (json!({"kind": "deploy", "at": ahead}), 422, "at"),
        (
            json!({"kind": "deploy", "link": "javascript:alert(1)"}),
            422,
            "link",
        ),
        (
            json!({"kind": "deploy", "version": "v".repeat(65)}),
            422,
            "version",
        ),
        (json!({"kind": "deploy", "commit": "abc123"}), 400, "commit"),
    ] {
        let (s, v) = record(&app, &ci, body.clone()).await;
        assert_eq!(s.as_u16(), status, "{body}: {v}");
        let said = v.to_string();
        assert!(said.contains(says), "{body}: {said}");
    }
    assert_eq!(list(&app, &ci).await.1["changes"], json!([]));
}

/// The login front end is deployed, and a minute later its TLS handshakes fail: the draft's
/// evidence names the deploy first; the public sees no version.
#[tokio::test]
async fn a_draft_after_a_deploy_names_it_as_the_probable_cause() {
    let refusing = refusing_tls_listener().await;
    let extra = format!(
        "[probes]\nfailures_to_open = 1\nsuccesses_to_close = 1\n\
         [[monitor]]\nid = \"login-edge\"\nservice = \"melodia\"\ncomponent = \"login\"\nkind = \"tls\"\n\
         target = \"127.0.0.1:{}\"\ninterval = \"1h\"\ntimeout = \"2s\"\n",
        refusing.port(),
    );
    let clock = Arc::new(ManualClock::new(
        "2026-12-07T08:10:00Z".parse::<Timestamp>().unwrap(),
    ));
    let app = spawn_raw(testing::sqlite(), &config_text(&extra), clock).await;
    let ci = token(&app, "ci", Role::Deployer).await;
    // A service-wide config change earlier, and the login deploy: the deploy of the failing
    // component is the suspect.
    for body in [
        json!({"kind": "config", "title": "bigger buffers", "at": "2026-12-07T08:05:00Z"}),
        json!({"kind": "deploy", "component": "login", "version": "2.3.0",
               "title": "login-frontend: new TLS configuration", "at": "2026-12-07T08:09:00Z"}),
    ] {
        let (s, v) = record(&app, &ci, body).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let region = downbeat_domain::Slug::parse("eu-agent").unwrap();
    let agent = auth::create_token_for_regions(
        &*app.app.store,
        "agent",
        Role::Agent,
        &[region],
        app.clock.now_ms(),
    )
    .await
    .unwrap();
    let failed = probe_and_push(&app, &agent, "login-edge").await;
    downbeat_server::jobs::incidents_once(&app.app)
        .await
        .unwrap();
    let snapshot = downbeat_incidents::snapshot(&app.app.incidents, "melodia");
    let draft = &snapshot.drafts[0];
    let evidence = draft.evidence.as_ref().expect("a draft's evidence");
    let diagnosis = evidence["diagnosis"].as_str().unwrap();
    assert!(
        diagnosis.starts_with(
            "login 2.3.0 was deployed at 08:09 UTC (“login-frontend: new TLS configuration”), \
             1 min before the onset; consider rolling it back."
        ),
        "{diagnosis}"
    );
    assert_eq!(
        evidence["changes"].as_array().unwrap().len(),
        2,
        "{evidence}"
    );
    // The public: the page and the API know nothing of versions.
    let page = app
        .client
        .get(app.url("/s/melodia"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (_, public) = app.get_json("/api/v1/services/melodia/incidents").await;
    for text in [page, public.to_string()] {
        assert!(!text.contains("2.3.0") && !text.contains("new TLS configuration"));
    }

    // The pipeline rolls back; four minutes later the handshake works again: the evidence
    // tells the rollback before the recovery.
    app.clock.set("2026-12-07T08:30:00Z".parse().unwrap());
    let (s, v) = record(
        &app,
        &ci,
        json!({"kind": "rollback", "component": "login", "version": "2.2.9"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    app.clock.set("2026-12-07T08:34:00Z".parse().unwrap());
    let mut passed = failed.clone();
    passed["outcome"] = json!("up");
    passed["cause"] = Value::Null;
    passed["error"] = Value::Null;
    passed["started_at"] = json!("2026-12-07T08:34:00Z");
    let r = app
        .client
        .post(app.url("/api/v1/agent/results"))
        .bearer_auth(&agent)
        .json(&json!({"region": "eu-agent", "results": [{
            "monitor": "login-edge", "reliable": true, "result": passed}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    downbeat_server::jobs::incidents_once(&app.app)
        .await
        .unwrap();
    let snapshot = downbeat_incidents::snapshot(&app.app.incidents, "melodia");
    let draft = &snapshot.drafts[0];
    assert!(draft.recovered_at.is_some(), "the signals recovered");
    assert_eq!(
        draft.evidence.as_ref().unwrap()["recovery"],
        "login rolled back (2.2.9) at 08:30 UTC; the signals recovered 4 min later.",
    );
}

/// The playlists check fails first and the draft names no suspect: the login deploy is a
/// change to another component. A round later login fails too: the draft's evidence now
/// names the deploy (the demo's morning outage, when the checks fail in that order).
#[tokio::test]
async fn a_drafts_probable_change_is_found_once_its_component_fails_too() {
    let refusing = refusing_tls_listener().await;
    let port = refusing.port();
    let config = format!(
        "[probes]\nfailures_to_open = 1\nsuccesses_to_close = 1\n\n\
         [[service]]\nid = \"melodia\"\nname = \"Melodia\"\n\
         [[service.component]]\nid = \"login\"\nname = \"Login\"\n\
         [[service.component]]\nid = \"playlists\"\nname = \"Playlists\"\n\n\
         [[monitor]]\nid = \"playlists-edge\"\nservice = \"melodia\"\ncomponent = \"playlists\"\nkind = \"tls\"\n\
         target = \"127.0.0.1:{port}\"\ninterval = \"1h\"\ntimeout = \"2s\"\n\n\
         [[monitor]]\nid = \"login-edge\"\nservice = \"melodia\"\ncomponent = \"login\"\nkind = \"tls\"\n\
         target = \"127.0.0.1:{port}\"\ninterval = \"1h\"\ntimeout = \"2s\"\n"
    );
    let clock = Arc::new(ManualClock::new(
        "2026-12-07T08:10:00Z".parse::<Timestamp>().unwrap(),
    ));
    let app = spawn_raw(testing::sqlite(), &config, clock).await;
    let ci = token(&app, "ci", Role::Deployer).await;
    let (s, v) = record(
        &app,
        &ci,
        json!({"kind": "deploy", "component": "login", "version": "2.3.0", "at": "2026-12-07T08:09:00Z"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let region = downbeat_domain::Slug::parse("eu-agent").unwrap();
    let agent = auth::create_token_for_regions(
        &*app.app.store,
        "agent",
        Role::Agent,
        &[region],
        app.clock.now_ms(),
    )
    .await
    .unwrap();
    let evidence = |app: &TestApp| {
        let snapshot = downbeat_incidents::snapshot(&app.app.incidents, "melodia");
        snapshot.drafts[0]
            .evidence
            .clone()
            .expect("a draft's evidence")
    };
    probe_and_push(&app, &agent, "playlists-edge").await;
    downbeat_server::jobs::incidents_once(&app.app)
        .await
        .unwrap();
    assert!(
        evidence(&app).get("probable_change").is_none(),
        "only playlists fails: {}",
        evidence(&app)
    );
    probe_and_push(&app, &agent, "login-edge").await;
    downbeat_server::jobs::incidents_once(&app.app)
        .await
        .unwrap();
    let ev = evidence(&app);
    assert_eq!(ev["probable_change"]["minutes_before_onset"], 1, "{ev}");
    assert!(
        ev["diagnosis"]
            .as_str()
            .unwrap()
            .starts_with("login 2.3.0 was deployed at 08:09 UTC"),
        "{ev}"
    );
}
