//! Other monitors' alerts in (issue 18, items 4 and 5): Alertmanager's webhook payload and
//! generic inbound webhooks (Uptime Kuma's and Gatus's payloads), posted with an
//! integration token, mapped by `[integrations]` to component states. Alerts that fire
//! together draft one incident; resolved ones move the components back; a repeat changes
//! nothing; what the alerts say stays in the operators' evidence; bad payloads are refused
//! naming what is wrong; a flood is rate limited per integration. `alertmanager.rs` runs a
//! real Alertmanager.

use crate::helpers::*;
use downbeat_api::auth::{self, Role};
use downbeat_domain::ManualClock;
use downbeat_store::testing::{self, TestStore};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

/// Melodia with three components, Alertmanager routes for login and search, and the
/// example file's Uptime Kuma and Gatus webhooks. `extra` goes under `[integrations]`'s
/// Alertmanager table (rate limits).
pub fn config(extra: &str) -> String {
    format!(
        r#"
[[service]]
id = "melodia"
name = "Melodia"

[[service.component]]
id = "login"
name = "Login and accounts"

[[service.component]]
id = "search"
name = "Search"

[[service.component]]
id = "playback"
name = "Playback"

[integrations.alertmanager]
{extra}

[[integrations.alertmanager.route]]
match = {{ alertname = "LoginErrors" }}
service = "melodia"
component = "login"

[[integrations.alertmanager.route]]
match_re = {{ alertname = "Search.*" }}
service = "melodia"
component = "search"

[[integrations.webhook]]
id = "uptime-kuma"
service = "melodia"
component = {{ pointer = "/monitor/name", map = {{ "Melodia login" = "login", "Melodia stream" = "playback" }} }}
state = {{ pointer = "/heartbeat/status", map = {{ "0" = "major_outage", "1" = "operational" }} }}
message = {{ pointer = "/heartbeat/msg" }}

[[integrations.webhook]]
id = "gatus"
service = "melodia"
component = {{ pointer = "/text", pattern = '^\w+: .*? - (.+?) - ', map = {{ "search-api" = "search" }} }}
state = {{ pointer = "/text", pattern = '^(TRIGGERED|RESOLVED):', map = {{ TRIGGERED = "partial_outage", RESOLVED = "operational" }} }}
message = {{ pointer = "/text" }}
rate_limit_burst = 2
rate_limit_per_minute = 1
"#
    )
}

pub async fn spawn(store: TestStore, extra: &str) -> TestApp {
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    spawn_raw(store, &config(extra), clock).await
}

pub async fn token(app: &TestApp, name: &str, role: Role) -> String {
    auth::create_token(&*app.app.store, name, role, app.clock.now_ms())
        .await
        .unwrap()
}

async fn post(app: &TestApp, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// One alert as Alertmanager's webhook lists it, with words no public page may show.
fn alert(name: &str, instance: &str, severity: &str, starts: &str, ends: Option<&str>) -> Value {
    json!({
        "status": if ends.is_some() { "resolved" } else { "firing" },
        "labels": {"alertname": name, "instance": instance, "severity": severity, "team": "auth"},
        "annotations": {
            "summary": format!("{name}: 12% of sign-ins fail on {instance}"),
            "description": "db-7.internal answers slowly; see https://grafana.internal/d/auth",
            "runbook_url": "https://runbooks.internal/login-errors",
        },
        "startsAt": starts,
        "endsAt": ends.unwrap_or("0001-01-01T00:00:00Z"),
        "generatorURL": "http://prometheus.internal:9090/graph?g0.expr=rate%28x%5B5m%5D%29",
        // Alertmanager's is a hash of the labels: one per alert.
        "fingerprint": format!("{:016x}", fingerprint(&format!("{name}/{instance}"))),
    })
}

fn fingerprint(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Alertmanager's webhook payload, version 4, for the group `name`.
fn group(name: &str, alerts: Vec<Value>) -> Value {
    let firing = alerts.iter().any(|a| a["status"] == "firing");
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
        "truncatedAlerts": 0,
        "status": if firing { "firing" } else { "resolved" },
        "receiver": "downbeat",
        "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name, "team": "auth"},
        "commonAnnotations": {"runbook_url": "https://runbooks.internal/login-errors"},
        "externalURL": "http://alertmanager.internal:9093",
        "alerts": alerts,
    })
}

/// The words of the alerts above that must never reach a public surface.
pub const PRIVATE: [&str; 6] = [
    "LoginErrors",
    "auth-1",
    "db-7.internal",
    "grafana.internal",
    "runbooks.internal",
    "12% of sign-ins",
];

/// Every incident of melodia, drafts and evidence included (a viewer's view).
pub async fn incidents(app: &TestApp) -> Vec<Value> {
    let (s, v) = app
        .viewer_json("/api/v1/services/melodia/incidents?drafts=true")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["incidents"].as_array().cloned().unwrap_or_default()
}

/// What the public sees: the API's incident list, the status page, each incident's page
/// and the Statuspage summary.
pub async fn public_text(app: &TestApp) -> String {
    app.pages.refresh().await;
    let (_, list) = app.get_json("/api/v1/services/melodia/incidents").await;
    let mut text = list.to_string();
    let mut paths = vec![
        "/s/melodia".to_owned(),
        "/s/melodia/incidents".to_owned(),
        "/s/melodia/feed.atom".to_owned(),
        "/s/melodia/api/v2/summary.json".to_owned(),
    ];
    for i in list["incidents"].as_array().into_iter().flatten() {
        paths.push(format!("/s/melodia/incidents/{}", i["id"]));
    }
    for p in paths {
        let r = app.client.get(app.url(&p)).send().await.unwrap();
        assert!(r.status().is_success(), "{p}: {}", r.status());
        text.push_str(&r.text().await.unwrap());
    }
    text
}

/// The official state of a component on the public Statuspage summary.
async fn public_state(app: &TestApp, component: &str) -> String {
    app.pages.refresh().await;
    let (_, v) = app.get_json("/s/melodia/api/v2/summary.json").await;
    v["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == component)
        .map(|c| c["status"].as_str().unwrap().to_owned())
        .unwrap()
}

#[tokio::test]
async fn alerts_of_one_group_draft_one_incident_that_moves_recovers_and_ignores_repeats() {
    let app = spawn(testing::sqlite(), "").await;
    let am = token(&app, "alertmanager", Role::Integration).await;
    let path = "/api/v1/integrations/alertmanager";
    let start = "2026-12-07T08:01:00Z";
    let firing = group(
        "LoginErrors",
        vec![
            alert("LoginErrors", "auth-1", "critical", start, None),
            alert("LoginErrors", "auth-2", "warning", start, None),
        ],
    );
    let (s, v) = post(&app, path, &am, &firing).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["applied"][0]["outcome"], "drafted", "{v}");
    assert_eq!(
        v["applied"][0]["components"],
        json!({"login": "major_outage"})
    );
    let id = v["applied"][0]["incident"].as_i64().unwrap();

    let all = incidents(&app).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let draft = &all[0];
    assert_eq!(
        draft["title"],
        "Melodia: major outage of Login and accounts"
    );
    assert_eq!(
        draft["updates"][0]["message"],
        "Downbeat drafted this incident from monitoring alerts: major outage of Login and accounts."
    );
    assert_eq!(
        (draft["draft"].clone(), draft["source"].clone()),
        (json!(true), json!("integration"))
    );
    assert_eq!(draft["components"], json!({"login": "major_outage"}));
    assert_eq!(draft["impact"], "major");
    // The operators' evidence: both alerts, with what they say.
    let ev = &draft["evidence"];
    let alerts = ev["alertmanager"]["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2, "{ev}");
    assert!(
        ev.to_string().contains("db-7.internal answers slowly"),
        "{ev}"
    );
    assert_eq!(
        ev["alertmanager"]["alerts"][1]["labels"]["instance"],
        "auth-2"
    );
    assert!(
        ev["diagnosis"]
            .as_str()
            .unwrap()
            .starts_with("Alertmanager: 2 firing")
    );

    // A repeat (repeat_interval) changes nothing; the signals' job leaves it alone.
    let (s, v) = post(&app, path, &am, &firing).await;
    assert_eq!(
        (s, v["applied"][0]["outcome"].clone()),
        (StatusCode::OK, json!("unchanged"))
    );
    downbeat_server::jobs::incidents_once(&app.app)
        .await
        .unwrap();
    let again = incidents(&app).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["version"], draft["version"], "nothing written");
    assert_eq!(
        again[0]["recovered_at"],
        Value::Null,
        "the crowd is calm, but the alerts fire"
    );

    // An operator publishes it: the public learns the config's words, never the alerts'.
    let editor = token(&app, "editor", Role::Editor).await;
    let (s, v) = post(
        &app,
        &format!("/api/v1/incidents/{id}/publish"),
        &editor,
        &json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let public = public_text(&app).await;
    assert!(public.contains("Melodia: major outage of Login and accounts"));
    for word in PRIVATE {
        assert!(!public.contains(word), "{word:?} reached a public page");
    }
    assert!(!public.contains("\"evidence\""));
    assert_eq!(public_state(&app, "login").await, "major_outage");

    // auth-2 resolves; auth-1 still fires: nothing moves (login's worst is auth-1's).
    let half = group(
        "LoginErrors",
        vec![
            alert("LoginErrors", "auth-1", "critical", start, None),
            alert(
                "LoginErrors",
                "auth-2",
                "warning",
                start,
                Some("2026-12-07T08:20:00Z"),
            ),
        ],
    );
    let (_, v) = post(&app, path, &am, &half).await;
    assert_eq!(v["applied"][0]["outcome"], "unchanged", "{v}");

    // Both resolved: login is operational again, the incident awaits an operator.
    let resolved = group(
        "LoginErrors",
        vec![alert(
            "LoginErrors",
            "auth-1",
            "critical",
            start,
            Some("2026-12-07T08:25:00Z"),
        )],
    );
    let (_, v) = post(&app, path, &am, &resolved).await;
    assert_eq!(v["applied"][0]["outcome"], "moved", "{v}");
    let now = &incidents(&app).await[0];
    assert_eq!(now["components"], json!({"login": "operational"}));
    assert!(now["recovered_at"].is_string(), "{now}");
    assert_eq!(now["status"], "investigating", "an operator resolves it");
    assert_eq!(public_state(&app, "login").await, "operational");
    let (_, v) = post(&app, path, &am, &resolved).await;
    assert_eq!(
        v["applied"][0]["outcome"], "unchanged",
        "a resolved repeat: {v}"
    );

    // It fires again before anyone came: the same incident, no longer recovered.
    let refire = "2026-12-07T08:40:00Z";
    let (_, v) = post(
        &app,
        path,
        &am,
        &group(
            "LoginErrors",
            vec![alert("LoginErrors", "auth-1", "warning", refire, None)],
        ),
    )
    .await;
    assert_eq!(
        (
            v["applied"][0]["outcome"].clone(),
            v["applied"][0]["incident"].clone()
        ),
        (json!("moved"), json!(id))
    );
    let now = &incidents(&app).await[0];
    assert_eq!(now["components"], json!({"login": "degraded_performance"}));
    assert_eq!(now["recovered_at"], Value::Null);

    // An operator resolves it while the alert still fires: the repeats draft nothing…
    let (s, v) = post(
        &app,
        &format!("/api/v1/incidents/{id}/updates"),
        &editor,
        &json!({"status": "resolved", "message": "Fixed the database."}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let still = group(
        "LoginErrors",
        vec![alert("LoginErrors", "auth-1", "warning", refire, None)],
    );
    let (_, v) = post(&app, path, &am, &still).await;
    assert_eq!(v["applied"][0]["outcome"], "resolved_by_operator", "{v}");
    assert_eq!(incidents(&app).await.len(), 1);
    // …and an alert firing anew drafts a new incident.
    let (_, v) = post(
        &app,
        path,
        &am,
        &group(
            "LoginErrors",
            vec![alert(
                "LoginErrors",
                "auth-3",
                "critical",
                "2026-12-07T09:00:00Z",
                None,
            )],
        ),
    )
    .await;
    assert_eq!(v["applied"][0]["outcome"], "drafted", "{v}");
    assert_eq!(incidents(&app).await.len(), 2);
}

#[tokio::test]
async fn what_no_route_takes_moves_nothing_and_is_said_in_the_answer() {
    let app = spawn(testing::sqlite(), "").await;
    let am = token(&app, "alertmanager", Role::Integration).await;
    let mut alerts = vec![
        alert("DiskFull", "db-1", "critical", "2026-12-07T08:01:00Z", None),
        alert("DiskFull", "db-2", "critical", "2026-12-07T08:01:00Z", None),
        // Routed, but info moves nothing.
        alert(
            "SearchIndexAge",
            "search-1",
            "info",
            "2026-12-07T08:01:00Z",
            None,
        ),
    ];
    alerts[0]["labels"]["team"] = json!("storage");
    let (s, v) = post(
        &app,
        "/api/v1/integrations/alertmanager",
        &am,
        &group("DiskFull", alerts),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["ignored"],
        json!(["2 alerts named \"DiskFull\": no [[integrations.alertmanager.route]] takes them"])
    );
    assert_eq!(v["applied"][0]["outcome"], "nothing_firing", "{v}");
    assert_eq!(
        v["applied"][0]["components"],
        json!({"search": "operational"})
    );
    assert!(incidents(&app).await.is_empty());
}

#[tokio::test]
async fn uptime_kuma_and_gatus_move_the_components_they_are_mapped_to() {
    let app = spawn(testing::sqlite(), "").await;
    let t = token(&app, "monitors", Role::Integration).await;
    // Uptime Kuma's webhook notification (application/json), as its webhook provider posts
    // it: {heartbeat, monitor, msg}; status 0 is down, 1 up.
    let kuma = |status: u8, name: &str, msg: &str| {
        json!({
            "heartbeat": {
                "monitorID": 3, "status": status, "time": "2026-12-07 08:01:00.123",
                "msg": msg, "important": true, "duration": 60, "ping": null,
                "timezone": "Europe/Berlin", "timezoneOffset": "+01:00",
                "localDateTime": "2026-12-07 09:01:00"
            },
            "monitor": {
                "id": 3, "name": name, "description": null, "pathName": name,
                "url": "https://auth.melodia.internal/health", "method": "GET", "hostname": null,
                "port": null, "maxretries": 0, "weight": 2000, "active": true, "type": "http",
                "interval": 60, "retryInterval": 60, "resendInterval": 0, "keyword": null,
                "expiryNotification": false, "ignoreTls": false, "upsideDown": false,
                "maxredirects": 10, "accepted_statuscodes": ["200-299"],
                "dns_resolve_type": "A", "dns_resolve_server": "1.1.1.1",
                "notificationIDList": {"1": true}, "tags": []
            },
            "msg": format!("[{name}] [{}] {msg}", if status == 0 { "🔴 Down" } else { "✅ Up" })
        })
    };
    let kuma_path = "/api/v1/integrations/webhook/uptime-kuma";
    // Its "Test" button: no monitor, no heartbeat. Accepted, moves nothing, says why.
    let (s, v) = post(
        &app,
        kuma_path,
        &t,
        &json!({"heartbeat": null, "monitor": null, "msg": "Uptime Kuma Alert - Testing"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["applied"], json!([]));
    assert!(
        v["ignored"][0]
            .as_str()
            .unwrap()
            .contains("no component at \"/monitor/name\""),
        "{v}"
    );
    let (_, v) = post(&app, kuma_path, &t, &kuma(0, "Billing", "timeout")).await;
    assert!(
        v["ignored"][0].as_str().unwrap().contains("\"Billing\""),
        "{v}"
    );

    let down = kuma(0, "Melodia login", "connect ECONNREFUSED 10.0.4.7:443");
    let (_, v) = post(&app, kuma_path, &t, &down).await;
    assert_eq!(v["applied"][0]["outcome"], "drafted", "{v}");
    let (_, v) = post(&app, kuma_path, &t, &kuma(0, "Melodia stream", "timeout")).await;
    assert_eq!(
        v["applied"][0]["outcome"], "moved",
        "one incident per webhook: {v}"
    );
    let (_, v) = post(&app, kuma_path, &t, &down).await;
    assert_eq!(v["applied"][0]["outcome"], "unchanged", "a resend: {v}");

    // Gatus's custom provider with its documented body, and no Content-Type (Gatus sets
    // none unless told).
    let gatus = |state: &str| {
        format!(
            "{{\n  \"text\": \"{state}: core - search-api - health check failed - dial tcp 10.0.4.9:443: connect: connection refused\"\n}}\n"
        )
    };
    let gatus_post = |body: String| {
        app.client
            .post(app.url("/api/v1/integrations/webhook/gatus"))
            .header("authorization", format!("Bearer {t}"))
            .body(body)
            .send()
    };
    let r = gatus_post(gatus("TRIGGERED")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["applied"][0]["outcome"], "drafted", "{v}");
    assert_eq!(
        v["applied"][0]["components"],
        json!({"search": "partial_outage"})
    );

    let all = incidents(&app).await;
    let of = |origin_words: &str| {
        all.iter()
            .find(|i| i["evidence"]["integration"]["name"] == origin_words)
            .unwrap_or_else(|| panic!("an incident from {origin_words}: {all:?}"))
            .clone()
    };
    let from_kuma = of("webhook uptime-kuma");
    assert_eq!(
        from_kuma["components"],
        json!({"login": "major_outage", "playback": "major_outage"})
    );
    assert_eq!(
        from_kuma["title"],
        "Melodia: major outage of Login and accounts"
    );
    assert!(
        from_kuma["evidence"]["diagnosis"]
            .as_str()
            .unwrap()
            .contains("Playback has major outage (it sent \"0\" for \"Melodia stream\"): timeout"),
        "{from_kuma}"
    );
    let from_gatus = of("webhook gatus");
    assert_eq!(from_gatus["title"], "Melodia: partial outage of Search");
    assert!(
        from_gatus["evidence"]["webhook"]["message"]
            .as_str()
            .unwrap()
            .contains("connection refused")
    );

    // Back up: the components are operational, each incident awaits an operator.
    for name in ["Melodia login", "Melodia stream"] {
        let (_, v) = post(&app, kuma_path, &t, &kuma(1, name, "200 - OK")).await;
        assert_eq!(v["applied"][0]["outcome"], "moved", "{v}");
    }
    let r = gatus_post(gatus("RESOLVED")).await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["applied"][0]["outcome"], "moved", "{v}");
    for i in incidents(&app).await {
        assert!(i["recovered_at"].is_string(), "{i}");
        assert!(
            i["components"]
                .as_object()
                .unwrap()
                .values()
                .all(|s| s == "operational"),
            "{i}"
        );
    }
    // Gatus's bucket holds 2: the third notification is refused, Kuma's is its own.
    let r = gatus_post(gatus("TRIGGERED")).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("too many notifications from webhook gatus"),
        "{v}"
    );
    assert_eq!(post(&app, kuma_path, &t, &down).await.0, StatusCode::OK);
}

#[tokio::test]
async fn bad_requests_are_refused_naming_what_is_wrong() {
    let app = spawn(testing::sqlite(), "").await;
    let am = token(&app, "alertmanager", Role::Integration).await;
    let path = "/api/v1/integrations/alertmanager";
    let good = group(
        "LoginErrors",
        vec![alert(
            "LoginErrors",
            "auth-1",
            "critical",
            "2026-12-07T08:01:00Z",
            None,
        )],
    );
    let with = |f: &dyn Fn(&mut Value)| {
        let mut p = good.clone();
        f(&mut p);
        p
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        (with(&|p| p["version"] = json!("3")), 422, "version"),
        (
            with(&|p| {
                p.as_object_mut().unwrap().remove("version");
            }),
            422,
            "version",
        ),
        (with(&|p| p["status"] = json!("pending")), 422, "status"),
        (
            with(&|p| p["alerts"][0]["status"] = json!("silenced")),
            422,
            "alerts[0].status",
        ),
        (
            with(&|p| p["alerts"][0]["startsAt"] = json!("yesterday")),
            400,
            "alerts[0].startsAt",
        ),
        (
            with(&|p| {
                p.as_object_mut().unwrap().remove("alerts");
            }),
            400,
            "alerts",
        ),
    ];
    for (body, status, says) in cases {
        let (s, v) = post(&app, path, &am, &body).await;
        assert_eq!(s.as_u16(), status, "{body}: {v}");
        assert!(v.to_string().contains(says), "{says}: {v}");
    }
    // Not JSON, or JSON in the wrong clothes.
    let raw = |ct: &'static str, body: &'static str| {
        app.client
            .post(app.url(path))
            .bearer_auth(&am)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    assert_eq!(
        raw("application/json", "{not json").await.unwrap().status(),
        400
    );
    assert_eq!(raw("text/plain", "{}").await.unwrap().status(), 415);
    // Who may post: integration tokens and admins only.
    for (role, status) in [
        (Role::Editor, StatusCode::FORBIDDEN),
        (Role::Deployer, StatusCode::FORBIDDEN),
        (Role::Signal, StatusCode::FORBIDDEN),
        (Role::Admin, StatusCode::OK),
    ] {
        let t = token(&app, role.as_str(), role).await;
        assert_eq!(post(&app, path, &t, &good).await.0, status, "{role}");
    }
    let r = app
        .client
        .post(app.url(path))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Unknown webhooks, and Alertmanager where it is not configured.
    let (s, v) = post(&app, "/api/v1/integrations/webhook/nagios", &am, &json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("configured: uptime-kuma, gatus"),
        "{v}"
    );
    let bare = spawn_raw(
        testing::sqlite(),
        "[[service]]\nid = \"melodia\"\nname = \"Melodia\"\n",
        Arc::new(ManualClock::new(jiff::Timestamp::now())),
    )
    .await;
    let t = token(&bare, "am", Role::Integration).await;
    let (s, v) = post(&bare, path, &t, &good).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("[integrations.alertmanager]"),
        "{v}"
    );
    assert!(incidents(&bare).await.is_empty());
}

/// A flood gets 429 with Retry-After once the bucket is empty, after the token: requests
/// without a valid token spend none of it.
#[tokio::test]
async fn a_flood_of_alerts_is_rate_limited_per_integration() {
    let app = spawn(
        testing::sqlite(),
        "rate_limit_burst = 3\nrate_limit_per_minute = 1",
    )
    .await;
    let am = token(&app, "alertmanager", Role::Integration).await;
    let path = "/api/v1/integrations/alertmanager";
    let body = group(
        "LoginErrors",
        vec![alert(
            "LoginErrors",
            "auth-1",
            "critical",
            "2026-12-07T08:01:00Z",
            None,
        )],
    );
    for _ in 0..5 {
        assert_eq!(
            post(&app, path, "dbt_not-a-token", &body).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    for i in 0..3 {
        assert_eq!(
            post(&app, path, &am, &body).await.0,
            StatusCode::OK,
            "request {i}"
        );
    }
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(&am)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["error"],
        format!("too many notifications from alertmanager; retry in {wait} s")
    );
    assert_eq!(incidents(&app).await.len(), 1, "the flood drafted once");
}

/// Two nodes take the same notification at the same moment (Alertmanager replicas each
/// sending, or a retry to another node): one draft.
#[tokio::test]
async fn one_notification_at_two_nodes_at_once_drafts_once() {
    let Some(store) = testing::postgres().await else {
        return;
    };
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    let nodes = spawn_nodes_on(store, &config(""), 2, clock).await;
    let am = token(&nodes[0], "alertmanager", Role::Integration).await;
    let path = "/api/v1/integrations/alertmanager";
    for round in 0..5 {
        let body = group(
            "LoginErrors",
            vec![alert(
                "LoginErrors",
                &format!("auth-{round}"),
                "critical",
                "2026-12-07T08:01:00Z",
                None,
            )],
        );
        let (a, b) = tokio::join!(
            post(&nodes[0], path, &am, &body),
            post(&nodes[1], path, &am, &body)
        );
        let mut outcomes = [
            a.1["applied"][0]["outcome"].as_str().unwrap().to_owned(),
            b.1["applied"][0]["outcome"].as_str().unwrap().to_owned(),
        ];
        outcomes.sort();
        let want: [&str; 2] = if round == 0 {
            ["drafted", "unchanged"]
        } else {
            // The first node moves it (a new alert), the other finds it knows it.
            ["moved", "unchanged"]
        };
        assert_eq!(outcomes, want, "round {round}: {a:?} {b:?}");
        assert_eq!(a.1["applied"][0]["incident"], b.1["applied"][0]["incident"]);
    }
    assert_eq!(incidents(&nodes[1]).await.len(), 1);
}
