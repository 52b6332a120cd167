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
    /// The components it concerns; empty means the whole service. Destinations and
    /// subscribers that chose components hear of events naming one of theirs, or none.
    pub components: Vec<String>,
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
            components: Vec::new(),
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
            components: Vec::new(),
            occurred_ms: minute_ms,
            path: format!("/s/{service}"),
            data,
        }
    }

    /// A monitor going down (`down`) or coming back, as of `since_ms` (when the state began:
    /// the same transition seen again after a restart has the same id).
    pub fn monitor(service: &str, monitor: &str, down: bool, since_ms: i64) -> Self {
        Self::monitor_of(service, None, monitor, down, since_ms)
    }

    /// [`Event::monitor`] for a monitor of `component`.
    pub fn monitor_of(
        service: &str,
        component: Option<&str>,
        monitor: &str,
        down: bool,
        since_ms: i64,
    ) -> Self {
        let (kind, word) = if down {
            ("monitor.down", "down")
        } else {
            ("monitor.up", "up")
        };
        Event {
            id: format!("monitor-{monitor}-{word}-{since_ms}"),
            kind,
            service: service.to_owned(),
            components: component.map(str::to_owned).into_iter().collect(),
            occurred_ms: since_ms,
            path: format!("/s/{service}"),
            data: json!({ "monitor": monitor, "state": word }),
        }
    }

    /// A monitor started flapping: its first change past the limit, at `at_ms`.
    pub fn flapping(
        service: &str,
        component: Option<&str>,
        monitor: &str,
        at_ms: i64,
        data: Value,
    ) -> Self {
        Event {
            id: format!("monitor-{monitor}-flapping-{at_ms}"),
            kind: "monitor.flapping",
            service: service.to_owned(),
            components: component.map(str::to_owned).into_iter().collect(),
            occurred_ms: at_ms,
            path: format!("/s/{service}"),
            data,
        }
    }

    /// A flapping monitor settled: keyed by its last change, at `last_ms`.
    pub fn settled(
        service: &str,
        component: Option<&str>,
        monitor: &str,
        last_ms: i64,
        data: Value,
    ) -> Self {
        Event {
            id: format!("monitor-{monitor}-settled-{last_ms}"),
            kind: "monitor.settled",
            service: service.to_owned(),
            components: component.map(str::to_owned).into_iter().collect(),
            occurred_ms: last_ms,
            path: format!("/s/{service}"),
            data,
        }
    }

    /// A monitored certificate has fewer than `threshold` days left: one event per
    /// certificate (its end of validity, `not_after_s`) and threshold, whichever node or
    /// restart sees it.
    pub fn certificate(
        service: &str,
        component: Option<&str>,
        monitor: &str,
        not_after_s: i64,
        threshold: u32,
        at_ms: i64,
        data: Value,
    ) -> Self {
        Event {
            id: format!("certificate-{monitor}-{not_after_s}-{threshold}d"),
            kind: "certificate.expiring",
            service: service.to_owned(),
            components: component.map(str::to_owned).into_iter().collect(),
            occurred_ms: at_ms,
            path: format!("/s/{service}"),
            data,
        }
    }

    /// The operators' alert of an incident drafted from signals, before anyone publishes
    /// it; its link is the admin page.
    pub fn draft(service: &str, incident: i64, at_ms: i64, data: Value) -> Self {
        Event {
            id: format!("incident-{incident}-draft"),
            kind: "incident.draft",
            service: service.to_owned(),
            components: Vec::new(),
            occurred_ms: at_ms,
            path: format!("/admin/incidents/{incident}"),
            data,
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
    let mut event = Event::incident(
        kind,
        &row.service,
        row.id,
        rec.updates.len(),
        row.updated_ms,
        incident_data(incident, last),
    );
    event.components = incident.components.keys().cloned().collect();
    Some(event)
}

/// An incident as events carry it: without the operators' evidence, with its latest message.
pub fn incident_data(
    incident: &crate::incidents::Incident,
    last: Option<&downbeat_store::IncidentUpdateRow>,
) -> Value {
    let mut data = serde_json::to_value(incident).unwrap_or(Value::Null);
    if let Some(obj) = data.as_object_mut() {
        obj.remove("evidence");
        if let Some(u) = last {
            obj.insert("message".into(), Value::String(u.message.clone()));
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use downbeat_store::{IncidentRecord, IncidentRow, IncidentUpdateRow};

    fn record(kind: &str, draft: bool, statuses: &[&str]) -> IncidentRecord {
        IncidentRecord {
            incident: IncidentRow {
                id: 7,
                service: "melodia".into(),
                kind: kind.into(),
                title: "t".into(),
                status: statuses.last().unwrap().to_string(),
                impact: "minor".into(),
                components: "{}".into(),
                draft,
                source: "operator".into(),
                evidence: None,
                created_ms: 0,
                updated_ms: 60_000,
                published_ms: (!draft).then_some(0),
                resolved_ms: None,
                onset_ms: None,
                detected_ms: None,
                acknowledged_ms: None,
                scheduled_start_ms: None,
                scheduled_end_ms: None,
                recovered_ms: None,
                postmortem: None,
                postmortem_ms: None,
                version: 1,
            },
            updates: statuses
                .iter()
                .enumerate()
                .map(|(i, s)| IncidentUpdateRow {
                    id: i as i64,
                    incident: 7,
                    at_ms: 0,
                    status: s.to_string(),
                    message: "m".into(),
                    components: "{}".into(),
                    author: "a".into(),
                })
                .collect(),
        }
    }

    fn kind_of(kind: &str, draft: bool, statuses: &[&str], created: bool) -> Option<String> {
        let rec = record(kind, draft, statuses);
        let incident = crate::incidents::Incident::from_record(&rec);
        for_incident(&rec, &incident, created).map(|e| format!("{} {}", e.kind, e.id))
    }

    #[test]
    fn incident_changes_map_to_events_with_stable_ids() {
        type Case<'a> = (&'a str, bool, &'a [&'a str], bool, Option<&'a str>);
        let cases: &[Case] = &[
            ("incident", true, &["investigating"], true, None),
            (
                "incident",
                false,
                &["investigating"],
                true,
                Some("incident.created incident-7-update-1"),
            ),
            (
                "incident",
                false,
                &["investigating", "monitoring"],
                false,
                Some("incident.updated incident-7-update-2"),
            ),
            (
                "incident",
                false,
                &["investigating", "resolved"],
                false,
                Some("incident.resolved incident-7-update-2"),
            ),
            (
                "maintenance",
                false,
                &["scheduled"],
                true,
                Some("maintenance.scheduled incident-7-update-1"),
            ),
            (
                "maintenance",
                false,
                &["in_progress"],
                true,
                Some("maintenance.started incident-7-update-1"),
            ),
            (
                "maintenance",
                false,
                &["scheduled", "scheduled"],
                false,
                None,
            ),
            (
                "maintenance",
                false,
                &["scheduled", "in_progress"],
                false,
                Some("maintenance.started incident-7-update-2"),
            ),
            (
                "maintenance",
                false,
                &["scheduled", "in_progress", "completed"],
                false,
                Some("maintenance.completed incident-7-update-3"),
            ),
        ];
        for (kind, draft, statuses, created, want) in cases {
            assert_eq!(
                kind_of(kind, *draft, statuses, *created).as_deref(),
                *want,
                "{kind} {statuses:?} created={created}"
            );
        }
    }

    #[test]
    fn a_monitor_transition_has_the_same_id_when_seen_again() {
        let a = Event::monitor("melodia", "login-api", true, 1_000);
        assert_eq!(a.id, "monitor-login-api-down-1000");
        assert_eq!(a, Event::monitor("melodia", "login-api", true, 1_000));
        assert_eq!(
            Event::monitor("melodia", "login-api", false, 2_000).kind,
            "monitor.up"
        );
    }
}
