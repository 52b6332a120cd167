//! PagerDuty's Events API v2: each event is a `trigger` or a `resolve` of its subject's
//! alert ([`super::alert`]), whose key is the `dedup_key`, so a monitor coming back up
//! resolves the incident its going down opened. The routing key goes in the body only.

use super::alert::{Action, alert};
use super::chat::is_absolute;
use super::webhook::occurred_at;
use super::{Clients, HttpRequest, HttpTarget, Parcel, SendError, Transport};
use crate::message::Severity;
use downbeat_config::Secret;
use serde_json::{Value, json};

/// Enqueues the event at `target` (the Events API's `/v2/enqueue`).
#[derive(Debug, Clone)]
pub struct PagerDuty {
    pub target: HttpTarget,
    pub routing_key: Secret,
}

impl PagerDuty {
    pub fn request(&self, parcel: &Parcel<'_>) -> HttpRequest {
        let body = serde_json::to_vec(&self.body(parcel)).unwrap_or_default();
        self.target
            .request(parcel, "application/json", body, Vec::new())
    }

    fn body(&self, parcel: &Parcel<'_>) -> Value {
        let (event, msg) = (parcel.event, parcel.message);
        let alert = alert(event);
        let mut v = json!({
            "routing_key": self.routing_key.expose(),
            "event_action": alert.action.as_str(),
            "dedup_key": alert.key,
            "client": "Downbeat",
        });
        if is_absolute(msg) {
            v["client_url"] = json!(msg.link);
            v["links"] = json!([{"href": msg.link, "text": "Status page"}]);
        }
        if alert.action == Action::Resolve {
            // A resolve needs only its key; the payload would be ignored.
            return v;
        }
        let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
        let mut payload = json!({
            // PagerDuty's limit is 1024 characters.
            "summary": msg.title.chars().take(1024).collect::<String>(),
            "source": event.service,
            "severity": match msg.severity {
                Severity::Critical => "critical",
                Severity::Warning => "warning",
                Severity::Good | Severity::Info => "info",
            },
            "timestamp": occurred_at(event),
            "group": event.service,
            "class": event.kind.as_str(),
            "custom_details": {"text": msg.text, "event_id": event.id, "data": data},
        });
        if let Some(monitor) = data.get("monitor").and_then(Value::as_str) {
            payload["component"] = json!(monitor);
        }
        v["payload"] = payload;
        v
    }
}

impl Transport for PagerDuty {
    async fn send(&self, clients: Clients<'_>, parcel: &Parcel<'_>) -> Result<u16, SendError> {
        self.target.post(clients, self.request(parcel)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tests::{event, hostile, parcel};

    #[test]
    fn a_trigger_carries_the_payload_and_a_resolve_only_its_key() {
        let (e, m) = (event(), hostile());
        let pd = PagerDuty {
            target: HttpTarget::to("https://events.example/v2/enqueue"),
            routing_key: Secret::new("R0UTINGKEY"),
        };
        let v: Value = serde_json::from_slice(&pd.request(&parcel(&e, &m)).body).unwrap();
        assert_eq!(v["event_action"], "trigger");
        assert_eq!(v["routing_key"], "R0UTINGKEY");
        assert_eq!(
            v["payload"]["summary"],
            m.title.as_str(),
            "plain text, as typed"
        );
        assert_eq!(v["payload"]["severity"], "critical");
        assert_eq!(v["payload"]["class"], "incident.created");
        let resolved = downbeat_store::NotifyEventRow {
            kind: downbeat_store::OutboxKind::Event(
                downbeat_domain::event::EventKind::IncidentResolved,
            ),
            ..event()
        };
        let r: Value = serde_json::from_slice(&pd.request(&parcel(&resolved, &m)).body).unwrap();
        assert_eq!(r["event_action"], "resolve");
        assert_eq!(r["dedup_key"], v["dedup_key"]);
        assert!(r.get("payload").is_none());
        assert!(
            !format!("{pd:?}").contains("R0UTINGKEY"),
            "keys never print"
        );
    }
}
