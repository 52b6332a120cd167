//! Events worth telling people about, each with a stable id (receivers deduplicate on it,
//! and the outbox refuses a second copy) and a link to the page that shows it.

use serde_json::{Value, json};

/// An event about to be enqueued.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    /// One of [`downbeat_config::EVENT_KINDS`].
    pub kind: &'static str,
    pub service: String,
    pub occurred_ms: i64,
    /// The page's path; the configured public URL is prefixed.
    pub path: String,
    pub data: Value,
}

impl Event {
    /// An incident or maintenance event: `kind` is e.g. `incident.updated`; `seq` tells one
    /// update of the incident from the next (the number of updates it has).
    pub fn incident(
        kind: &'static str,
        service: &str,
        incident: i64,
        seq: usize,
        at_ms: i64,
        data: Value,
    ) -> Self {
        Event {
            id: format!("incident-{incident}-update-{seq}"),
            kind,
            service: service.to_owned(),
            occurred_ms: at_ms,
            path: format!("/s/{service}/incidents/{incident}"),
            data,
        }
    }

    /// A crowd verdict change, by the id the store gave its verdict event.
    pub fn verdict(service: &str, verdict_event: i64, at_ms: i64, data: Value) -> Self {
        Event {
            id: format!("verdict-{verdict_event}"),
            kind: "crowd.verdict",
            service: service.to_owned(),
            occurred_ms: at_ms,
            path: format!("/s/{service}"),
            data,
        }
    }

    /// A monitor going down (`down`) or coming back, as of `since_ms` (when the state began:
    /// the same transition seen again after a restart has the same id).
    pub fn monitor(service: &str, monitor: &str, down: bool, since_ms: i64) -> Self {
        let (kind, word) = if down {
            ("monitor.down", "down")
        } else {
            ("monitor.up", "up")
        };
        Event {
            id: format!("monitor-{monitor}-{word}-{since_ms}"),
            kind,
            service: service.to_owned(),
            occurred_ms: since_ms,
            path: format!("/s/{service}"),
            data: json!({ "monitor": monitor, "state": word }),
        }
    }
}
