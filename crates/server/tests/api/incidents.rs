//! Incidents and maintenance through the API: tokens and roles, every transition (legal and
//! not), drafts, post-mortems, maintenance on the clock, and drafts from a replayed outage.

use crate::crowd::{Driver, MINUTE, normal, outage, start_of_minute};
use crate::helpers::*;
use downbeat_api::auth::Role;
use downbeat_domain::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    send(app, reqwest::Method::POST, path, token, Some(body)).await
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    send(app, reqwest::Method::GET, path, token, None).await
}

fn incident_body() -> Value {
    json!({"title": "Login failing", "status": "investigating", "impact": "major",
           "message": "We are looking into failed logins.", "components": {"login": "major_outage"}})
}

#[tokio::test]
async fn tokens_and_roles_guard_every_change() {
    let app = spawn_app().await;
    let editor = token(&app, "ci", Role::Editor).await;
    let viewer = token(&app, "dash", Role::Viewer).await;
    let agent = token(&app, "probe-eu", Role::Agent).await;
    let path = "/api/v1/services/melodia/incidents";

    let r = app
        .client
        .post(app.url(path))
        .json(&incident_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("www-authenticate").is_some());
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("Bearer"), "{e}");

    let (s, e) = post(&app, path, Some("dbt_not-a-token"), incident_body()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{e}");
    let r = app
        .client
        .post(app.url(path))
        .header("authorization", "Basic abc")
        .json(&incident_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for weak in [&viewer, &agent] {
        let (s, e) = post(&app, path, Some(weak), incident_body()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
        assert!(e["error"].as_str().unwrap().contains("editor"), "{e}");
    }
    let (s, created) = post(&app, path, Some(&editor), incident_body()).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["updates"][0]["author"], "ci");
    let id = created["id"].as_i64().unwrap();

    // A viewer reads, changes nothing.
    let (s, _) = get(&app, &format!("/api/v1/incidents/{id}"), Some(&viewer)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = post(
        &app,
        &format!("/api/v1/incidents/{id}/updates"),
        Some(&viewer),
        json!({"message": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Revoked: refused at once.
    assert!(
        app.app
            .store
            .revoke_token("ci", app.clock.now_ms())
            .await
            .unwrap()
    );
    let (s, _) = post(&app, path, Some(&editor), incident_body()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn an_incident_walks_its_lifecycle_and_refuses_illegal_steps() {
    let app = spawn_app().await;
    let t = token(&app, "ci", Role::Editor).await;
    let (s, i) = post(
        &app,
        "/api/v1/services/melodia/incidents",
        Some(&t),
        incident_body(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{i}");
    let id = i["id"].as_i64().unwrap();
    assert_eq!(i["status"], "investigating");
    assert_eq!(i["draft"], false);
    assert_eq!(i["components"]["login"], "major_outage");
    assert_eq!(i["url"], format!("/s/melodia/incidents/{id}"));
    assert!(i["acknowledged_at"].is_string(), "{i}");
    let updates = format!("/api/v1/incidents/{id}/updates");

    // Bad input, each with a clear error.
    let cases = [
        (json!({"status": "on-fire", "message": "x"}), 400, "on-fire"),
        (
            json!({"status": "scheduled", "message": "x"}),
            422,
            "status",
        ),
        (json!({"message": "  "}), 422, "message"),
        (
            json!({"message": "x", "components": {"nope": "major_outage"}}),
            422,
            "nope",
        ),
        (
            json!({"message": "x", "components": {"login": "sideways"}}),
            400,
            "sideways",
        ),
        (json!({"message": "x", "colour": "red"}), 400, "colour"),
        (
            json!({"message": "x", "impact": "maintenance"}),
            422,
            "impact",
        ),
    ];
    for (body, code, word) in cases {
        let (s, e) = post(&app, &updates, Some(&t), body.clone()).await;
        assert_eq!(s.as_u16(), code, "{body} -> {e}");
        assert!(e["error"].as_str().unwrap().contains(word), "{body} -> {e}");
    }
    let (s, e) = post(
        &app,
        "/api/v1/services/melodia/incidents",
        Some(&t),
        json!({"title": "", "message": "m"}),
    )
    .await;
    assert_eq!(s.as_u16(), 422, "{e}");
    let (s, _) = post(
        &app,
        "/api/v1/services/nope/incidents",
        Some(&t),
        incident_body(),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = post(
        &app,
        "/api/v1/incidents/999999/updates",
        Some(&t),
        json!({"message": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = get(&app, "/api/v1/incidents/abc", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A post-mortem before resolution is refused.
    let pm = format!("/api/v1/incidents/{id}/postmortem");
    let (s, e) = send(
        &app,
        reqwest::Method::PUT,
        &pm,
        Some(&t),
        Some(json!({"markdown": "# Why"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");

    for (status, msg) in [
        ("identified", "Found it"),
        ("monitoring", "Fix deployed"),
        ("resolved", "All good"),
    ] {
        app.clock.advance(std::time::Duration::from_secs(60));
        let (s, i) = post(
            &app,
            &updates,
            Some(&t),
            json!({"status": status, "message": msg}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{i}");
        assert_eq!(i["status"], status);
    }
    let (_, i) = get(&app, &format!("/api/v1/incidents/{id}"), None).await;
    assert_eq!(i["updates"].as_array().unwrap().len(), 4, "{i}");
    assert_eq!(
        i["components"]["login"], "operational",
        "resolution restores components"
    );
    assert_eq!(i["time_to_resolve_s"], 180, "{i}");
    assert_eq!(i["time_to_acknowledge_s"], 0, "{i}");
    assert!(
        i.get("evidence").is_none(),
        "public answers carry no evidence"
    );

    // Nothing follows resolution but a post-mortem.
    let (s, e) = post(
        &app,
        &updates,
        Some(&t),
        json!({"status": "investigating", "message": "again"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["error"].as_str().unwrap().contains("resolved"), "{e}");
    let (s, i) = send(
        &app,
        reqwest::Method::PUT,
        &pm,
        Some(&t),
        Some(json!({"markdown": "# What happened\n<script>x</script>"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{i}");
    let r = app
        .client
        .put(app.url(&pm))
        .bearer_auth(&t)
        .header("content-type", "text/markdown")
        .body("# Root cause\nA certificate.")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, p) = get(&app, &pm, None).await;
    assert_eq!(p["markdown"], "# Root cause\nA certificate.");

    let (s, list) = get(&app, "/api/v1/services/melodia/incidents", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["incidents"].as_array().unwrap().len(), 1);
    let (s, e) = get(&app, "/api/v1/services/melodia/incidents?limit=0", None).await;
    assert_eq!(s.as_u16(), 422, "{e}");
    let (s, _) = get(&app, "/api/v1/services/melodia/incidents?bogus=1", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test]
async fn drafts_stay_private_until_published() {
    let app = spawn_app().await;
    let editor = token(&app, "ci", Role::Editor).await;
    let viewer = token(&app, "dash", Role::Viewer).await;
    let mut body = incident_body();
    body["draft"] = json!(true);
    let (s, d) = post(
        &app,
        "/api/v1/services/melodia/incidents",
        Some(&editor),
        body,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let id = d["id"].as_i64().unwrap();
    assert_eq!(d["draft"], true);
    assert!(d["acknowledged_at"].is_null());
    let one = format!("/api/v1/incidents/{id}");
    assert_eq!(get(&app, &one, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &one, Some(&viewer)).await.0, StatusCode::OK);
    let (s, _) = get(&app, "/api/v1/services/melodia/incidents?drafts=true", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, l) = get(
        &app,
        "/api/v1/services/melodia/incidents?drafts=true",
        Some(&viewer),
    )
    .await;
    assert_eq!(l["incidents"].as_array().unwrap().len(), 1);
    let (_, l) = get(&app, "/api/v1/services/melodia/incidents", None).await;
    assert_eq!(l["incidents"].as_array().unwrap().len(), 0);
    assert!(
        downbeat_incidents::snapshot(&app.app.incidents, "melodia")
            .incidents
            .is_empty()
    );

    let publish = format!("/api/v1/incidents/{id}/publish");
    assert_eq!(
        post(&app, &publish, Some(&viewer), json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    app.clock.advance(std::time::Duration::from_secs(90));
    let (s, p) = post(&app, &publish, Some(&editor), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["draft"], false);
    assert_eq!(p["time_to_acknowledge_s"], 90, "{p}");
    assert_eq!(
        post(&app, &publish, Some(&editor), json!({})).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(get(&app, &one, None).await.0, StatusCode::OK);
    let snap = downbeat_incidents::snapshot(&app.app.incidents, "melodia");
    assert_eq!(snap.incidents.len(), 1);
    assert_eq!(
        snap.component_states().get("login"),
        Some(&downbeat_domain::ComponentState::MajorOutage)
    );
    app.stop().await;
}

#[tokio::test]
async fn maintenance_starts_and_completes_on_the_clock() {
    let app = spawn_app().await;
    let t = token(&app, "ci", Role::Editor).await;
    let now = app.clock.now();
    let at = |mins: i64| {
        jiff::Timestamp::from_millisecond(now.as_millisecond() + mins * MINUTE)
            .unwrap()
            .to_string()
    };
    let path = "/api/v1/services/melodia/maintenance";
    let (s, e) = post(
        &app,
        path,
        Some(&t),
        json!({"title": "DB upgrade", "message": "m",
        "scheduled_for": at(60), "scheduled_until": at(30)}),
    )
    .await;
    assert_eq!(s.as_u16(), 422, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("scheduled_until"),
        "{e}"
    );
    let (s, e) = post(
        &app,
        path,
        Some(&t),
        json!({"title": "DB upgrade", "message": "m",
        "scheduled_for": "tomorrow", "scheduled_until": at(30)}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, m) = post(
        &app,
        path,
        Some(&t),
        json!({"title": "DB upgrade", "message": "Logins pause.",
        "scheduled_for": at(60), "scheduled_until": at(120), "components": ["login"]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["status"], "scheduled");
    assert_eq!(m["impact"], "maintenance");
    let id = m["id"].as_i64().unwrap();
    let state = |app: &TestApp| {
        downbeat_incidents::snapshot(&app.app.incidents, "melodia")
            .component_states()
            .get("login")
            .copied()
    };
    assert_eq!(state(&app), None, "scheduled is not yet in progress");

    // An illegal step for maintenance.
    let (s, e) = post(
        &app,
        &format!("/api/v1/incidents/{id}/updates"),
        Some(&t),
        json!({"status": "identified", "message": "x"}),
    )
    .await;
    assert_eq!(s.as_u16(), 422, "{e}");

    app.clock.set_ms(now.as_millisecond() + 61 * MINUTE);
    downbeat_server::jobs::incidents_once(&app.app)
        .await
        .unwrap();
    let (_, m) = get(&app, &format!("/api/v1/incidents/{id}"), None).await;
    assert_eq!(m["status"], "in_progress", "{m}");
    assert_eq!(
        state(&app),
        Some(downbeat_domain::ComponentState::UnderMaintenance)
    );
    let (s, e) = post(
        &app,
        &format!("/api/v1/incidents/{id}/updates"),
        Some(&t),
        json!({"status": "scheduled", "message": "back"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");

    app.clock.set_ms(now.as_millisecond() + 121 * MINUTE);
    downbeat_server::jobs::incidents_once(&app.app)
        .await
        .unwrap();
    let (_, m) = get(&app, &format!("/api/v1/incidents/{id}"), None).await;
    assert_eq!(m["status"], "completed", "{m}");
    assert_eq!(m["updates"].as_array().unwrap().len(), 3, "{m}");
    assert_eq!(m["updates"][1]["author"], "downbeat");
    assert_eq!(state(&app), None);
    let (_, l) = get(&app, path, None).await;
    assert_eq!(l["incidents"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = spawn_app().await;
    let (s, doc) = get(&app, "/api/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/services/{service}/reports",
        "/api/v1/services/{service}/incidents",
        "/api/v1/incidents/{id}/updates",
        "/api/v1/incidents/{id}/postmortem",
        "/api/v1/services/{service}/maintenance",
        "/api/v1/monitors/{id}/results",
    ] {
        assert!(paths.contains_key(p), "{p} missing from {:?}", paths.keys());
    }
    assert!(paths["/api/v1/services/{service}/incidents"]["post"]["requestBody"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    app.stop().await;
}

/// The DESIGN.md morning: a replayed outage reaches *problems*, Downbeat drafts an incident
/// with the evidence and the time to detect; calm again, the draft awaits resolution.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_outage_drafts_an_incident_with_evidence_and_time_to_detect() {
    let app = spawn_app().await;
    let t0 = start_of_minute(&app) - 200 * MINUTE;
    let mut d = Driver {
        app: &app,
        t0,
        next_client: 0,
    };
    let round = |app: &TestApp| {
        let a = app.app.clone();
        async move { downbeat_server::jobs::incidents_once(&a).await.unwrap() }
    };
    for m in 0..120 {
        d.minute(m, 6 + (m % 3) as u32, normal, None).await;
    }
    round(&app).await;
    let drafts = |app: &TestApp| {
        downbeat_incidents::snapshot(&app.app.incidents, "melodia")
            .drafts
            .clone()
    };
    assert!(drafts(&app).is_empty(), "no draft while calm");
    let mut drafted_at = None;
    for k in 0..10 {
        let v = d.minute(120 + k, 150, outage, None).await;
        round(&app).await;
        if !drafts(&app).is_empty() {
            assert_eq!(v, "problems", "a draft only at problems");
            drafted_at = Some(k);
            break;
        }
    }
    assert!(drafted_at.is_some(), "no draft during the outage");
    let draft = drafts(&app)[0].clone();
    assert_eq!(draft.source, downbeat_domain::incident::Source::Crowd);
    assert!(draft.draft);
    let onset = t0 + 120 * MINUTE;
    assert_eq!(draft.onset_at.unwrap().as_millisecond(), onset, "{draft:?}");
    let ttd = draft.time_to_detect_s.unwrap();
    assert!((60..=180).contains(&ttd), "time to detect {ttd} s");
    let evidence = draft.evidence.clone().unwrap();
    assert_eq!(evidence["crowd"]["verdict"], "problems", "{evidence}");
    assert_eq!(
        evidence["crowd"]["breakdown"]["problems"][0]["id"], "login",
        "{evidence}"
    );
    assert!(draft.title.contains("login"), "{}", draft.title);
    assert!(
        draft.updates[0].message.contains("login"),
        "{}",
        draft.updates[0].message
    );
    // Not public until an operator publishes it; one draft, not one per round.
    let (_, l) = get(&app, "/api/v1/services/melodia/incidents", None).await;
    assert!(l["incidents"].as_array().unwrap().is_empty());
    d.minute(131, 150, outage, None).await;
    round(&app).await;
    assert_eq!(drafts(&app).len(), 1);

    for m in 132..160 {
        d.minute(m, 6 + (m % 3) as u32, normal, None).await;
    }
    round(&app).await;
    let draft = drafts(&app)[0].clone();
    assert!(
        draft.recovered_at.is_some(),
        "signals recovered: marked for resolution"
    );
    app.stop().await;
}

/// Text that feeds and pages cannot carry is refused at input, naming the field and the
/// character.
#[tokio::test]
async fn non_characters_are_refused_by_field() {
    let app = spawn_app().await;
    let token = token(&app, "ed", Role::Editor).await;
    for (body, field) in [
        (
            json!({"title": "Login \u{FFFE}failing", "message": "m"}),
            "title",
        ),
        (
            json!({"title": "Login failing", "message": "see \u{FDD0}"}),
            "message",
        ),
    ] {
        let r = app
            .client
            .post(app.url("/api/v1/services/melodia/incidents"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["field"], json!(field), "{v}");
        assert!(v["error"].as_str().unwrap().contains("U+"), "{v}");
    }
    app.stop().await;
}
