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

#[cfg(test)]
mod tests {
    use super::*;

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
