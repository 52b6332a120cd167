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

    /// A change of a service's overall crowd verdict in the minute `minute_ms`: keyed by the
    /// minute, so the same change seen again (after a restart, or by the next lease holder)
    /// has the same id.
    pub fn verdict(service: &str, minute_ms: i64, data: Value) -> Self {
        Event {
            id: format!("verdict-{service}-{minute_ms}"),
            kind: "crowd.verdict",
            service: service.to_owned(),
            occurred_ms: minute_ms,
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

/// The event a change to an incident or maintenance window means to the public, if any:
/// none for drafts. `created` is true when the public first sees it (created published, or
/// a draft just published). A maintenance window's updates are events only when they move
/// it to a new status (started, completed).
pub fn for_incident(
    rec: &downbeat_store::IncidentRecord,
    incident: &crate::incidents::Incident,
    created: bool,
) -> Option<Event> {
    let row = &rec.incident;
    if row.draft {
        return None;
    }
    let last = rec.updates.last();
    let status = last.map_or(row.status.as_str(), |u| u.status.as_str());
    let moved = match rec.updates.len() {
        0 | 1 => true,
        n => rec.updates[n - 2].status != status,
    };
    let kind = match (row.kind.as_str(), status) {
        ("incident", _) if created => "incident.created",
        ("incident", "resolved") => "incident.resolved",
        ("incident", _) => "incident.updated",
        (_, "scheduled") if created => "maintenance.scheduled",
        (_, "in_progress") if created || moved => "maintenance.started",
        (_, "completed") if moved => "maintenance.completed",
        _ => return None,
    };
    let mut data = serde_json::to_value(incident).unwrap_or(Value::Null);
    if let (Some(obj), Some(u)) = (data.as_object_mut(), last) {
        obj.insert("message".into(), Value::String(u.message.clone()));
    }
    Some(Event::incident(
        kind,
        &row.service,
        row.id,
        rec.updates.len(),
        row.updated_ms,
        data,
    ))
}
