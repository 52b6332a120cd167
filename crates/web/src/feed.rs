//! Atom feeds: one per service and one for all services. Entries are the crowd verdict
//! changes of each service's overall series and its published incidents and maintenance.

use crate::model::{FEED_ENTRIES, PageModel};
use crate::state::Web;
use crate::time::{rfc3339, rfc3339_ms};
use crate::views::{Feed, FeedEntry};
use downbeat_incidents::{Incident, Kind};
use downbeat_store::VerdictEvent;

fn entry(name: &str, e: &VerdictEvent) -> FeedEntry {
    FeedEntry {
        id: format!("urn:downbeat:{}:verdict:{}", e.service, e.id),
        title: format!(
            "{name}: {} (was {})",
            e.verdict.label().to_lowercase(),
            e.previous.label().to_lowercase()
        ),
        updated: rfc3339_ms(e.at_ms),
        link: format!("/s/{}", e.service),
        content: e.explanation.clone(),
    }
    .xml_safe()
}

/// A published incident or maintenance window: one entry, updated with each update.
fn incident_entry(name: &str, i: &Incident) -> FeedEntry {
    let kind = match i.kind {
        Kind::Incident => "incident",
        Kind::Maintenance => "maintenance",
    };
    FeedEntry {
        id: format!("urn:downbeat:{}:{kind}:{}", i.service, i.id),
        title: format!("{name}: {} ({})", i.title, i.status.label().to_lowercase()),
        updated: rfc3339(i.updated_at),
        link: i.url.clone(),
        content: i.latest_message().to_owned(),
    }
    .xml_safe()
}

/// A service's entries, newest first: verdict changes, incidents and maintenance.
fn entries_of(m: &PageModel) -> Vec<(i64, FeedEntry)> {
    let name = m.service.name.as_str();
    let mut out: Vec<(i64, FeedEntry)> = m
        .events
        .iter()
        .map(|e| (e.at_ms, entry(name, e)))
        .chain(
            m.official
                .incidents
                .iter()
                .chain(m.official.maintenance.iter())
                .map(|i| (i.updated_at.as_millisecond(), incident_entry(name, i))),
        )
        .collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.0));
    out
}

pub fn service(web: &Web, m: &PageModel) -> Feed {
    let id = m.service.id.as_str();
    let mut entries = entries_of(m);
    entries.truncate(FEED_ENTRIES);
    Feed {
        title: downbeat_domain::text::xml_safe(&format!("{}: status updates", m.service.name))
            .into_owned(),
        id: format!("urn:downbeat:{id}:verdicts"),
        updated: entries
            .first()
            .map_or_else(|| rfc3339(web.started), |(ms, _)| rfc3339_ms(*ms)),
        alternate: format!("/s/{id}"),
        self_href: format!("/s/{id}/feed.atom"),
        entries: entries.into_iter().map(|(_, e)| e).collect(),
    }
}

pub fn all(web: &Web) -> Feed {
    let models = web.models();
    let mut entries: Vec<(i64, FeedEntry)> = models.iter().flat_map(|m| entries_of(m)).collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.0));
    entries.truncate(FEED_ENTRIES);
    Feed {
        title: "Downbeat: status updates".into(),
        id: "urn:downbeat:verdicts".into(),
        updated: entries
            .first()
            .map_or_else(|| rfc3339(web.started), |(ms, _)| rfc3339_ms(*ms)),
        alternate: "/".into(),
        self_href: "/feed.atom".into(),
        entries: entries.into_iter().map(|(_, e)| e).collect(),
    }
}
