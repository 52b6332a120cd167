//! Published incidents and maintenance on the pages, the feeds and the summary; drafts
//! nowhere; operator strings (titles, messages, post-mortems) escaped.

use crate::helpers::*;
use downbeat_domain::incident::{Impact, Status};
use downbeat_domain::{Clock, ComponentState};
use downbeat_incidents::model::Components;
use downbeat_incidents::ops::{self, NewIncident, NewMaintenance, NewUpdate};

const HOSTILE: &str = "Login <script>alert(1)</script> & \"more\"";
/// HOSTILE as askama escapes it.
const ESCAPED: &str = "Login &#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;more&#34;";

fn components(state: ComponentState) -> Components {
    [("login".to_owned(), state)].into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_incidents_reach_every_page_escaped_and_drafts_none() {
    let app = spawn_app().await;
    let service = app.app.config.load().services[0].clone();
    let incident = ops::create(
        &app.app.incidents,
        &service,
        NewIncident {
            title: HOSTILE.into(),
            status: Some(Status::Identified),
            impact: Some(Impact::Major),
            message: "Logins fail <b>for some</b>.\nWe are on it.".into(),
            components: components(ComponentState::PartialOutage),
            draft: false,
        },
        "alice",
    )
    .await
    .unwrap();
    let draft = ops::create(
        &app.app.incidents,
        &service,
        NewIncident {
            title: "Secret draft".into(),
            status: None,
            impact: None,
            message: "Not yet public".into(),
            components: Components::new(),
            draft: true,
        },
        "alice",
    )
    .await
    .unwrap();
    let now = app.clock.now();
    let window = NewMaintenance {
        title: "Database <upgrade>".into(),
        message: "Playlists are read-only.".into(),
        scheduled_for: now + jiff::SignedDuration::from_hours(2),
        scheduled_until: now + jiff::SignedDuration::from_hours(3),
        components: ops::MaintenanceComponents::Ids(vec!["playback".into()]),
    };
    ops::schedule_maintenance(&app.app.incidents, &service, window, "alice")
        .await
        .unwrap();
    app.pages.refresh().await;

    let html = app.page("/s/melodia").await;
    assert!(!html.contains("<script>alert(1)"), "title unescaped");
    assert!(html.contains(ESCAPED), "{html}");
    assert!(
        html.contains("Logins fail &#60;b&#62;for some&#60;/b&#62;."),
        "message escaped"
    );
    assert!(
        html.contains("<span class=\"dot partial_outage\"></span>Partial outage"),
        "component state from the incident"
    );
    assert!(
        html.contains("Database &#60;upgrade&#62;") && html.contains("Scheduled · "),
        "maintenance listed"
    );
    assert!(!html.contains("Secret draft"), "a draft is public");

    let page = app
        .page(&format!("/s/melodia/incidents/{}", incident.id))
        .await;
    assert!(page.contains(&format!("<h1>{ESCAPED}</h1>")), "{page}");
    assert!(page.contains("Identified") && page.contains("Login and accounts"));
    assert!(page.contains("We are on it."));
    let r = app.get(&format!("/s/melodia/incidents/{}", draft.id)).await;
    assert_eq!(r.status().as_u16(), 404, "a draft has no public page");
    let r = app.get("/s/melodia/incidents/99999").await;
    assert_eq!(r.status().as_u16(), 404);
    let history = app.page("/s/melodia/incidents").await;
    assert!(history.contains(ESCAPED) && !history.contains("Secret draft"));

    let feed = app.page("/s/melodia/feed.atom").await;
    let doc = roxmltree::Document::parse(&feed).expect("the feed is XML");
    let titles: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .filter_map(|n| n.text())
        .collect();
    assert!(titles.iter().any(|t| t.contains(HOSTILE)), "{titles:?}");
    assert!(!titles.iter().any(|t| t.contains("Secret")), "{titles:?}");
    let all = app.page("/feed.atom").await;
    assert!(
        all.contains("Database &lt;upgrade&gt;") || all.contains("Database &#60;upgrade&#62;"),
        "{all}"
    );

    let summary: serde_json::Value =
        serde_json::from_str(&app.page("/s/melodia/api/v2/summary.json").await).unwrap();
    assert_eq!(summary["incidents"][0]["name"], HOSTILE, "{summary}");
    assert_eq!(summary["incidents"][0]["status"], "identified");
    assert_eq!(summary["incidents"][0]["impact"], "major");
    assert_eq!(
        summary["incidents"][0]["incident_updates"][0]["body"],
        "Logins fail <b>for some</b>.\nWe are on it."
    );
    assert_eq!(summary["scheduled_maintenances"][0]["status"], "scheduled");
    assert!(summary["scheduled_maintenances"][0]["scheduled_for"].is_string());
    assert_eq!(
        summary["status"]["indicator"], "major",
        "{}",
        summary["status"]
    );

    // Resolved, with a post-mortem that tries markup: rendered as Markdown, never as HTML.
    ops::update(
        &app.app.incidents,
        incident.id,
        NewUpdate {
            status: Some(Status::Resolved),
            message: "Fixed.".into(),
            components: None,
            impact: None,
            title: None,
        },
        "alice",
    )
    .await
    .unwrap();
    ops::set_postmortem(
        &app.app.incidents,
        incident.id,
        "# Root cause\nAn *expired* certificate.\n\n<script>alert(2)</script>\n[x](javascript:alert(3))",
    )
    .await
    .unwrap();
    app.pages.refresh().await;
    let page = app
        .page(&format!("/s/melodia/incidents/{}", incident.id))
        .await;
    assert!(
        page.contains("<h1>Root cause</h1>") || page.contains("Root cause</h1>"),
        "{page}"
    );
    assert!(page.contains("<em>expired</em>"), "{page}");
    assert!(
        !page.contains("<script>alert(2)") && !page.contains("javascript:"),
        "{page}"
    );
    assert!(page.contains("Time to resolve"), "{page}");
    let html = app.page("/s/melodia").await;
    assert!(
        html.contains("No open incidents."),
        "resolved leaves the front"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&app.page("/s/melodia/api/v2/summary.json").await).unwrap();
    assert_eq!(summary["incidents"], serde_json::json!([]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_reaches_the_pages_without_a_manual_refresh() {
    let app = spawn_app().await;
    let _ = app.page("/s/melodia").await;
    let service = app.app.config.load().services[0].clone();
    ops::create(
        &app.app.incidents,
        &service,
        NewIncident {
            title: "Playback stutters".into(),
            status: None,
            impact: None,
            message: "Looking.".into(),
            components: Components::new(),
            draft: false,
        },
        "alice",
    )
    .await
    .unwrap();
    // The background refresher alone, within seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if app.page("/s/melodia").await.contains("Playback stutters") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not on the page after 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    app.stop().await;
}

/// An open incident with a hostile title (and a maintenance window), and a resolved one
/// with a post-mortem; the pages refreshed. Returns their ids.
pub async fn open_and_resolved_incidents(app: &TestApp) -> (i64, i64) {
    let service = app.app.config.load().services[0].clone();
    let new = |title: &str| NewIncident {
        title: title.into(),
        status: None,
        impact: Some(Impact::Critical),
        message: "Logins fail <b>for some</b>.\nWe are on it.".into(),
        components: components(ComponentState::MajorOutage),
        draft: false,
    };
    let open = ops::create(&app.app.incidents, &service, new(HOSTILE), "alice")
        .await
        .unwrap();
    let done = ops::create(
        &app.app.incidents,
        &service,
        new("Playback outage"),
        "alice",
    )
    .await
    .unwrap();
    let resolve = NewUpdate {
        status: Some(Status::Resolved),
        message: "Fixed.".into(),
        components: None,
        impact: None,
        title: None,
    };
    ops::update(&app.app.incidents, done.id, resolve, "alice")
        .await
        .unwrap();
    let markdown = "# Root cause\n\nAn *expired* certificate.\n\n| When | What |\n|---|---|\n| 08:00 | expiry |\n\n<script>alert(2)</script>";
    ops::set_postmortem(&app.app.incidents, done.id, markdown)
        .await
        .unwrap();
    let now = app.clock.now();
    let window = NewMaintenance {
        title: "Database <upgrade>".into(),
        message: "Playlists are read-only.".into(),
        scheduled_for: now - jiff::SignedDuration::from_mins(5),
        scheduled_until: now + jiff::SignedDuration::from_hours(1),
        components: ops::MaintenanceComponents::Ids(vec!["playback".into()]),
    };
    ops::schedule_maintenance(&app.app.incidents, &service, window, "alice")
        .await
        .unwrap();
    app.pages.refresh().await;
    (open.id, done.id)
}

/// An incident stored before input refused non-characters (a U+FFFE in its title) must not
/// make the feeds invalid XML for every reader: what XML cannot carry is left out.
#[tokio::test]
async fn a_stored_non_character_leaves_the_feeds_well_formed() {
    let app = spawn_app().await;
    let now = app.clock.now_ms();
    let mut row = downbeat_incidents::model::new_row(
        "melodia",
        downbeat_domain::incident::Kind::Incident,
        "Login \u{FFFE}failing".into(),
        Status::Investigating,
        now,
    );
    row.published_ms = Some(now);
    app.app
        .store
        .insert_incident(
            row,
            vec![downbeat_store::IncidentUpdateRow {
                id: 0,
                incident: 0,
                at_ms: now,
                status: Status::Investigating,
                message: "Looking \u{FFFF}into it.".into(),
                components: Default::default(),
                author: "legacy".into(),
            }],
            None,
        )
        .await
        .unwrap();
    downbeat_incidents::refresh(&app.app.incidents, "melodia")
        .await
        .unwrap();
    app.pages.refresh().await;
    for path in ["/s/melodia/feed.atom", "/feed.atom"] {
        let feed = app.page(path).await;
        let doc = roxmltree::Document::parse(&feed)
            .unwrap_or_else(|e| panic!("{path} is not XML: {e}\n{feed}"));
        let titles: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("title"))
            .filter_map(|n| n.text())
            .collect();
        assert!(
            titles.iter().any(|t| t.contains("Login failing")),
            "{path}: {titles:?}"
        );
    }
    app.stop().await;
}
