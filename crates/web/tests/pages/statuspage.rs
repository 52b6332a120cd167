//! Atlassian Statuspage's public API v2: the eight documents, site-wide and per service,
//! validated against JSON Schemas written from Statuspage's documented responses
//! (`statuspage-schemas/`, checked by Python's `jsonschema`), and holding the right items:
//! published incidents only, maintenance apart, each list filtered as Statuspage filters it.

use crate::helpers::*;
use downbeat_domain::incident::{Impact, Status};
use downbeat_domain::{Clock, ComponentState};
use downbeat_incidents::model::Components;
use downbeat_incidents::ops::{
    self, MaintenanceComponents, NewIncident, NewMaintenance, NewUpdate,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The eight documents: path under `api/v2/`, and the schema file (stem) it must match.
const DOCUMENTS: [(&str, &str); 8] = [
    ("summary.json", "summary"),
    ("status.json", "status"),
    ("components.json", "components"),
    ("incidents.json", "incidents"),
    ("incidents/unresolved.json", "incidents-unresolved"),
    ("scheduled-maintenances.json", "scheduled-maintenances"),
    (
        "scheduled-maintenances/upcoming.json",
        "scheduled-maintenances-upcoming",
    ),
    (
        "scheduled-maintenances/active.json",
        "scheduled-maintenances-active",
    ),
];
const SCOPES: [&str; 2] = ["/api/v2/", "/s/melodia/api/v2/"];

const OPEN: &str = "Login errors for some listeners";
const RESOLVED: &str = "Slow playlists earlier today";
const POSTMORTEM: &str = "Search was down";
const DRAFT: &str = "Secret draft about the database";
const UPCOMING: &str = "Planned database upgrade";
const ACTIVE: &str = "CDN migration under way";
const COMPLETED: &str = "Cache warm-up";

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pages/statuspage-schemas")
}

/// A Python with `jsonschema`: `DOWNBEAT_CI_PYTHON` (`.ci/run` points it at its venv), else
/// `python3`. None after saying why the test is skipped — a panic under CI.
fn python() -> Option<String> {
    let candidates: Vec<String> = std::env::var("DOWNBEAT_CI_PYTHON")
        .into_iter()
        .chain(["python3".to_owned()])
        .collect();
    for p in &candidates {
        let ok = Command::new(p)
            .args(["-c", "import jsonschema, referencing"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(p.clone());
        }
    }
    let tried = candidates.join(", ");
    if std::env::var_os("CI").is_some() {
        panic!(
            "no Python with jsonschema ({tried}); under CI this must run (.ci/run sets DOWNBEAT_CI_PYTHON)"
        );
    }
    eprintln!(
        "\n*** SKIPPED: Statuspage schema validation: no Python with jsonschema ({tried}); set DOWNBEAT_CI_PYTHON ***\n"
    );
    None
}

/// Runs `validate.py` over `documents` ({label: {schema, body}}): its exit status and output.
fn validate(python: &str, documents: &Value) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("documents.json");
    std::fs::write(&file, documents.to_string()).expect("write documents");
    let out = Command::new(python)
        .arg(schemas_dir().join("validate.py"))
        .arg(&file)
        .output()
        .expect("run validate.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn login(state: ComponentState) -> Components {
    [("login".to_owned(), state)].into_iter().collect()
}

fn update(status: Status, message: &str, components: Option<Components>) -> NewUpdate {
    NewUpdate {
        status: Some(status),
        message: message.into(),
        components,
        impact: None,
        title: None,
    }
}

/// Three published incidents (one open with two updates, one resolved, one resolved with a
/// post-mortem), a draft, and maintenance upcoming, in progress and completed; a second apart
/// each, so "newest first" has an answer.
async fn populated() -> TestApp {
    let app = spawn_app().await;
    let incidents = &app.app.incidents;
    let service = app.app.config.load().services[0].clone();
    let tick = || app.clock.set_ms(app.clock.now_ms() + 1_000);
    let incident = |title: &str, impact, components| NewIncident {
        title: title.into(),
        status: Some(Status::Identified),
        impact: Some(impact),
        message: format!("{title}: we are looking."),
        components,
        draft: false,
    };
    let playback = |state| [("playback".to_owned(), state)].into_iter().collect();
    let resolved = ops::create(
        incidents,
        &service,
        incident(
            RESOLVED,
            Impact::Minor,
            playback(ComponentState::DegradedPerformance),
        ),
        "alice",
    )
    .await
    .unwrap();
    ops::update(
        incidents,
        resolved.id,
        update(
            Status::Resolved,
            "Playlists are fast again.",
            Some(playback(ComponentState::Operational)),
        ),
        "alice",
    )
    .await
    .unwrap();
    tick();
    let searched = ops::create(
        incidents,
        &service,
        incident(POSTMORTEM, Impact::Major, Components::new()),
        "alice",
    )
    .await
    .unwrap();
    ops::update(
        incidents,
        searched.id,
        update(Status::Resolved, "Search is back.", None),
        "alice",
    )
    .await
    .unwrap();
    ops::set_postmortem(incidents, searched.id, "An index *filled up*.")
        .await
        .unwrap();
    tick();
    let mut draft = incident(DRAFT, Impact::Critical, login(ComponentState::MajorOutage));
    draft.draft = true;
    ops::create(incidents, &service, draft, "downbeat")
        .await
        .unwrap();
    tick();
    let mut open = incident(OPEN, Impact::Major, login(ComponentState::PartialOutage));
    open.status = Some(Status::Investigating);
    let open = ops::create(incidents, &service, open, "alice")
        .await
        .unwrap();
    tick();
    ops::update(
        incidents,
        open.id,
        update(
            Status::Identified,
            "A certificate expired; renewing.",
            Some(login(ComponentState::MajorOutage)),
        ),
        "alice",
    )
    .await
    .unwrap();

    let now = app.clock.now();
    let hours = jiff::SignedDuration::from_hours;
    let window = |title: &str, from, until, component: &str| NewMaintenance {
        title: title.into(),
        message: format!("{title}."),
        scheduled_for: now + from,
        scheduled_until: now + until,
        components: MaintenanceComponents::Ids(vec![component.into()]),
    };
    for w in [
        window(UPCOMING, hours(24), hours(26), "login"),
        window(
            ACTIVE,
            jiff::SignedDuration::from_mins(-10),
            hours(2),
            "playback",
        ),
    ] {
        ops::schedule_maintenance(incidents, &service, w, "alice")
            .await
            .unwrap();
    }
    let done = ops::schedule_maintenance(
        incidents,
        &service,
        window(COMPLETED, hours(-1), hours(1), "playback"),
        "alice",
    )
    .await
    .unwrap();
    ops::update(
        incidents,
        done.id,
        update(Status::Completed, "Done early.", None),
        "alice",
    )
    .await
    .unwrap();
    app.pages.refresh().await;
    app
}

/// The `name`s of a document's list, in order.
fn names(doc: &Value, list: &str) -> Vec<String> {
    doc[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {doc}"))
        .iter()
        .map(|x| x["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn by_name<'a>(doc: &'a Value, list: &str, name: &str) -> &'a Value {
    doc[list]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["name"] == name))
        .unwrap_or_else(|| panic!("no {name:?} in {list} of {doc}"))
}

/// A component (not a group) by its name.
fn component<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["components"]
        .as_array()
        .and_then(|l| l.iter().find(|c| c["name"] == name && c["group"] == false))
        .unwrap_or_else(|| panic!("no component {name:?} in {doc}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuspage_documents_match_their_schemas_and_list_the_right_items() {
    let app = populated().await;
    let mut documents = serde_json::Map::new();
    for scope in SCOPES {
        for (path, schema) in DOCUMENTS {
            let url = format!("{scope}{path}");
            let r = app
                .get_with(&url, &[("origin", "https://aggregator.example")])
                .await;
            assert_eq!(r.status(), 200, "{url}");
            assert_eq!(r.headers()["content-type"], "application/json", "{url}");
            assert_eq!(r.headers()["access-control-allow-origin"], "*", "{url}");
            let text = r.text().await.unwrap();
            for secret in [DRAFT, "evidence", "author"] {
                assert!(!text.contains(secret), "{url} shows {secret:?}: {text}");
            }
            let body: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"));
            documents.insert(url, json!({"schema": schema, "body": body}));
        }
    }

    for scope in SCOPES {
        let doc = |path: &str| &documents[&format!("{scope}{path}")]["body"];
        let summary = doc("summary.json");
        assert_eq!(names(summary, "incidents"), [OPEN], "{scope}");
        // Soonest first: what is on now, then what comes.
        assert_eq!(
            names(summary, "scheduled_maintenances"),
            [ACTIVE, UPCOMING],
            "{scope}"
        );
        assert_eq!(summary["status"]["indicator"], "critical", "{scope}");
        assert!(summary["crowd"].is_object() || summary["crowd"].is_array());
        assert_eq!(doc("status.json")["status"], summary["status"]);
        assert!(doc("status.json").get("components").is_none());

        for d in [summary, doc("components.json")] {
            // The incident's state on login; the running window's on playback.
            assert_eq!(component(d, "Login and accounts")["status"], "major_outage");
            assert_eq!(component(d, "Playback")["status"], "under_maintenance");
        }

        let all = doc("incidents.json");
        assert_eq!(
            names(all, "incidents"),
            [OPEN, POSTMORTEM, RESOLVED],
            "{scope}"
        );
        let open = by_name(all, "incidents", OPEN);
        assert_eq!(open["status"], "identified");
        assert_eq!(open["impact"], "major");
        let updates = open["incident_updates"].as_array().unwrap();
        let words: Vec<&str> = updates
            .iter()
            .map(|u| u["status"].as_str().unwrap())
            .collect();
        assert_eq!(words, ["identified", "investigating"], "newest first");
        assert_eq!(updates[0]["body"], "A certificate expired; renewing.");
        assert_eq!(updates[0]["incident_id"], open["id"]);
        let affected = &updates[0]["affected_components"][0];
        assert_eq!(affected["name"], "Login and accounts");
        assert_eq!(affected["old_status"], "partial_outage");
        assert_eq!(affected["new_status"], "major_outage");
        assert_eq!(
            updates[1]["affected_components"][0]["old_status"],
            "operational"
        );
        assert_eq!(open["components"][0]["name"], "Login and accounts");
        assert_eq!(open["components"][0]["status"], "major_outage");
        assert!(open["shortlink"].as_str().unwrap().ends_with(&format!(
            "/s/melodia/incidents/{}",
            open["id"].as_str().unwrap()
        )));
        assert_eq!(by_name(all, "incidents", RESOLVED)["status"], "resolved");
        assert!(by_name(all, "incidents", RESOLVED)["resolved_at"].is_string());
        let pm = by_name(all, "incidents", POSTMORTEM);
        assert_eq!(pm["status"], "postmortem", "{pm}");
        assert_eq!(pm["postmortem_body"], "An index *filled up*.");
        assert_eq!(names(doc("incidents/unresolved.json"), "incidents"), [OPEN]);

        let maintenance = doc("scheduled-maintenances.json");
        // Most recent first.
        assert_eq!(
            names(maintenance, "scheduled_maintenances"),
            [UPCOMING, ACTIVE, COMPLETED],
            "{scope}"
        );
        for (name, status) in [
            (UPCOMING, "scheduled"),
            (ACTIVE, "in_progress"),
            (COMPLETED, "completed"),
        ] {
            let m = by_name(maintenance, "scheduled_maintenances", name);
            assert_eq!(m["status"], status, "{name}");
            assert_eq!(m["impact"], "maintenance", "{name}");
        }
        assert_eq!(
            names(
                doc("scheduled-maintenances/upcoming.json"),
                "scheduled_maintenances"
            ),
            [UPCOMING]
        );
        assert_eq!(
            names(
                doc("scheduled-maintenances/active.json"),
                "scheduled_maintenances"
            ),
            [ACTIVE]
        );
    }
    // Site-wide, the service is a component group over its components.
    let site = &documents["/api/v2/components.json"]["body"];
    let group = by_name(site, "components", "Melodia");
    assert_eq!(group["group"], true);
    assert_eq!(group["status"], "major_outage");
    assert_eq!(
        group["components"],
        json!(["melodia.login", "melodia.playback"])
    );
    assert_eq!(component(site, "Playback")["group_id"], "melodia");
    let open = by_name(
        &documents["/api/v2/incidents.json"]["body"],
        "incidents",
        OPEN,
    );
    assert_eq!(open["components"][0]["id"], "melodia.login");
    assert_eq!(open["page_id"], "downbeat");

    let Some(python) = python() else {
        app.stop().await;
        return;
    };
    let documents = Value::Object(documents);
    let (ok, out) = validate(&python, &documents);
    assert!(ok, "documents break Statuspage's schemas:\n{out}");
    assert!(out.contains("16 documents, 0 schema violations"), "{out}");

    // The schemas bite: a resolved incident in the unresolved list, an unknown component
    // status and a missing field are each caught.
    let mut bad = documents["/s/melodia/api/v2/incidents/unresolved.json"].clone();
    bad["body"]["incidents"][0]["status"] = json!("resolved");
    let mut components = documents["/s/melodia/api/v2/components.json"].clone();
    components["body"]["components"][0]["status"] = json!("fine");
    let mut maintenance = documents["/s/melodia/api/v2/scheduled-maintenances.json"].clone();
    maintenance["body"]["scheduled_maintenances"][0]
        .as_object_mut()
        .unwrap()
        .remove("scheduled_until");
    let (ok, out) = validate(
        &python,
        &json!({"unresolved": bad, "components": components, "maintenance": maintenance}),
    );
    assert!(!ok, "{out}");
    for label in [
        "unresolved: at incidents/0/status",
        "components: at components/0/status",
        "maintenance: at scheduled_maintenances/0",
    ] {
        assert!(out.contains(label), "{label} not caught:\n{out}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuspage_api_answers_preflights_unknown_services_and_revalidation() {
    let app = spawn_app().await;
    for (path, _) in DOCUMENTS {
        let url = format!("/s/nowhere/api/v2/{path}");
        let r = app.get(&url).await;
        assert_eq!(r.status(), 404, "{url}");
        assert_eq!(r.headers()["content-type"], "application/json", "{url}");
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "{url}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "There is no such service.", "{url}");
    }

    let preflight = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            app.url("/s/melodia/api/v2/incidents.json"),
        )
        .header("origin", "https://widget.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "if-none-match")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
    assert_eq!(h["access-control-allow-headers"], "if-none-match");

    // Served from the pages' cache like the summary: ETags, 304s, compressed bodies.
    let url = "/api/v2/scheduled-maintenances/upcoming.json";
    let r = app.get(url).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=5, stale-while-revalidate=30"
    );
    let again = app.get_with(url, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["access-control-allow-origin"], "*");
    let br = app.get_with(url, &[("accept-encoding", "br")]).await;
    assert_eq!(br.headers()["content-encoding"], "br");
    app.stop().await;
}
