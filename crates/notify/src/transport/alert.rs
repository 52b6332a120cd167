//! What an event opens or closes in an on-call service (PagerDuty, Opsgenie, a template's
//! `alert_key`): its subject, stable from the first alert to the last — a monitor, an
//! incident, the service's crowd verdict, a certificate — so the service's
//! deduplication turns a trigger and its resolve into one alert.

use downbeat_domain::event::EventKind;
use downbeat_store::{NotifyEventRow, OutboxKind};
use serde_json::Value;

/// Whether an event opens (or adds to) its subject's alert, or closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Trigger,
    Resolve,
}

impl Action {
    /// PagerDuty's `event_action` word.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Trigger => "trigger",
            Action::Resolve => "resolve",
        }
    }
}

/// An event as an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// `<service>/<subject kind>/<subject>`, e.g. `melodia/monitor/login-api`.
    pub key: String,
    pub action: Action,
}

/// The alert `event` opens or closes.
pub fn alert(event: &NotifyEventRow) -> Alert {
    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    let field = |k: &str| match data.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let svc = &event.service;
    let keyed = |kind: &str, subject: String| {
        // Data without its subject (an older payload) keys the alert by the event alone.
        let subject = if subject.is_empty() {
            event.id.clone()
        } else {
            subject
        };
        format!("{svc}/{kind}/{subject}")
    };
    let state_up = || field("state") == "up";
    let (key, resolves) = match event.kind {
        OutboxKind::Confirmation => (keyed("subscription", String::new()), false),
        OutboxKind::Event(kind) => match kind {
            EventKind::MonitorDown | EventKind::MonitorFlapping => {
                (keyed("monitor", field("monitor")), false)
            }
            EventKind::MonitorUp => (keyed("monitor", field("monitor")), true),
            EventKind::MonitorSettled => (keyed("monitor", field("monitor")), state_up()),
            EventKind::CertificateExpiring => (keyed("certificate", field("monitor")), false),
            EventKind::CrowdVerdict => (format!("{svc}/crowd"), field("verdict") == "no_problems"),
            EventKind::IncidentCreated | EventKind::IncidentUpdated | EventKind::IncidentDraft => {
                (keyed("incident", field("id")), false)
            }
            EventKind::IncidentResolved => (keyed("incident", field("id")), true),
            EventKind::MaintenanceScheduled | EventKind::MaintenanceStarted => {
                (keyed("maintenance", field("id")), false)
            }
            EventKind::MaintenanceCompleted => (keyed("maintenance", field("id")), true),
        },
    };
    Alert {
        key,
        action: if resolves {
            Action::Resolve
        } else {
            Action::Trigger
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: EventKind, id: &str, data: Value) -> NotifyEventRow {
        NotifyEventRow {
            id: id.into(),
            kind: OutboxKind::Event(kind),
            service: "melodia".into(),
            occurred_ms: 0,
            link: String::new(),
            data: data.to_string(),
        }
    }

    #[test]
    fn an_alert_and_its_end_share_their_key() {
        use serde_json::json;
        for (open, close) in [
            (
                row(
                    EventKind::MonitorDown,
                    "m-down-1",
                    json!({"monitor": "api", "state": "down"}),
                ),
                row(
                    EventKind::MonitorUp,
                    "m-up-2",
                    json!({"monitor": "api", "state": "up"}),
                ),
            ),
            (
                row(
                    EventKind::MonitorFlapping,
                    "m-f-1",
                    json!({"monitor": "api", "state": "down"}),
                ),
                row(
                    EventKind::MonitorSettled,
                    "m-s-2",
                    json!({"monitor": "api", "state": "up"}),
                ),
            ),
            (
                row(
                    EventKind::IncidentCreated,
                    "incident-7-update-1",
                    json!({"id": 7}),
                ),
                row(
                    EventKind::IncidentResolved,
                    "incident-7-update-3",
                    json!({"id": 7}),
                ),
            ),
            (
                row(
                    EventKind::CrowdVerdict,
                    "verdict-1",
                    json!({"verdict": "problems"}),
                ),
                row(
                    EventKind::CrowdVerdict,
                    "verdict-2",
                    json!({"verdict": "no_problems"}),
                ),
            ),
        ] {
            let (a, b) = (alert(&open), alert(&close));
            assert_eq!(a.key, b.key, "{}", open.id);
            assert_eq!(
                (a.action, b.action),
                (Action::Trigger, Action::Resolve),
                "{}",
                open.id
            );
        }
        let other = alert(&row(
            EventKind::IncidentCreated,
            "incident-8-update-1",
            json!({"id": 8}),
        ));
        assert_eq!(other.key, "melodia/incident/8");
        let bare = alert(&row(EventKind::MonitorDown, "m-down-9", json!({})));
        assert_eq!(
            bare.key, "melodia/monitor/m-down-9",
            "keyed by the event alone"
        );
    }
}
