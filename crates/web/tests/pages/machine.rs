//! The machine-readable twins: Atom feeds, the badge, Statuspage-shaped summaries.

use crate::helpers::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_are_atom_xml() {
    let app = spawn_app().await;
    for path in ["/feed.atom", "/s/melodia/feed.atom"] {
        let r = app.get(path).await;
        assert_eq!(
            r.headers()["content-type"],
            "application/atom+xml; charset=utf-8"
        );
        let body = r.text().await.unwrap();
        let doc =
            roxmltree::Document::parse(&body).unwrap_or_else(|e| panic!("{path}: {e}\n{body}"));
        let root = doc.root_element();
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2005/Atom")
        );
        for required in ["title", "id", "updated", "author"] {
            assert!(
                root.children().any(|c| c.has_tag_name(required)),
                "{path}: no {required}"
            );
        }
        let updated = root
            .children()
            .find(|c| c.has_tag_name("updated"))
            .and_then(|n| n.text())
            .unwrap();
        assert!(updated.parse::<jiff::Timestamp>().is_ok(), "{updated}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_badge_is_an_svg_with_the_verdict() {
    let app = spawn_app().await;
    let r = app.get("/s/melodia/badge.svg").await;
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let svg = r.text().await.unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert_eq!(
        doc.root_element().attribute("aria-label"),
        Some("Melodia: no problems")
    );
    assert!(svg.contains("#2e7d32"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_have_the_statuspage_shape() {
    let app = spawn_app().await;
    let one: Value = app
        .get("/s/melodia/api/v2/summary.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["page"]["id"], "melodia");
    assert_eq!(one["page"]["name"], "Melodia");
    assert!(
        one["page"]["updated_at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );
    assert_eq!(one["incidents"], serde_json::json!([]));
    assert_eq!(one["scheduled_maintenances"], serde_json::json!([]));
    assert_eq!(one["status"]["indicator"], "none");
    assert_eq!(one["status"]["description"], "All Systems Operational");
    let comps = one["components"].as_array().unwrap();
    assert_eq!(comps.len(), 2);
    assert_eq!(comps[0]["id"], "login");
    assert_eq!(comps[0]["status"], "operational");
    assert_eq!(
        comps[1]["description"],
        "Streaming audio to every app and the web player."
    );
    assert_eq!(one["crowd"]["verdict"], "no_problems");

    let all: Value = app.get("/api/v2/summary.json").await.json().await.unwrap();
    assert_eq!(all["page"]["id"], "downbeat");
    let comps = all["components"].as_array().unwrap();
    let group = comps.iter().find(|c| c["id"] == "melodia").unwrap();
    assert_eq!(group["group"], true);
    assert_eq!(
        group["components"],
        serde_json::json!(["melodia.login", "melodia.playback"])
    );
    assert!(
        comps
            .iter()
            .any(|c| c["id"] == "melodia.login" && c["group_id"] == "melodia")
    );
    assert_eq!(all["status"]["indicator"], "none");
    app.stop().await;
}
