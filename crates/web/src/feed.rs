//! Atom feeds of crowd verdict changes: one per service and one for all services. Entries
//! come from the stored verdict events of each service's overall series.

use crate::model::{FEED_ENTRIES, PageModel};
use crate::state::Web;
use crate::time::{rfc3339, rfc3339_ms};
use crate::views::{Feed, FeedEntry};
use downbeat_store::VerdictEvent;

fn words(verdict: &str) -> &str {
    match verdict {
        "no_problems" => "no problems",
        "possible_problems" => "possible problems",
        "problems" => "problems",
        other => other,
    }
}

fn entry(name: &str, e: &VerdictEvent) -> FeedEntry {
    FeedEntry {
        id: format!("urn:downbeat:{}:verdict:{}", e.service, e.id),
        title: format!("{name}: {} (was {})", words(&e.verdict), words(&e.previous)),
        updated: rfc3339_ms(e.at_ms),
        link: format!("/s/{}", e.service),
        content: e.explanation.clone(),
    }
}

pub fn service(web: &Web, m: &PageModel) -> Feed {
    let id = m.service.id.as_str();
    Feed {
        title: format!("{}: crowd verdict changes", m.service.name),
        id: format!("urn:downbeat:{id}:verdicts"),
        updated: m
            .events
            .first()
            .map_or_else(|| rfc3339(web.started), |e| rfc3339_ms(e.at_ms)),
        alternate: format!("/s/{id}"),
        self_href: format!("/s/{id}/feed.atom"),
        entries: m.events.iter().map(|e| entry(&m.service.name, e)).collect(),
    }
}

pub fn all(web: &Web) -> Feed {
    let models = web.models();
    let mut events: Vec<(&str, &VerdictEvent)> = models
        .iter()
        .flat_map(|m| m.events.iter().map(|e| (m.service.name.as_str(), e)))
        .collect();
    events.sort_by(|a, b| b.1.at_ms.cmp(&a.1.at_ms).then(b.1.id.cmp(&a.1.id)));
    events.truncate(FEED_ENTRIES);
    Feed {
        title: "Downbeat: crowd verdict changes".into(),
        id: "urn:downbeat:verdicts".into(),
        updated: events
            .first()
            .map_or_else(|| rfc3339(web.started), |(_, e)| rfc3339_ms(e.at_ms)),
        alternate: "/".into(),
        self_href: "/feed.atom".into(),
        entries: events.iter().map(|(n, e)| entry(n, e)).collect(),
    }
}
