//! Opsgenie's Alert API: an event opening its subject's alert ([`super::alert`]) creates
//! an alert whose `alias` is the subject's key (Opsgenie deduplicates open alerts on it);
//! one closing it closes the alert by that alias. The API key goes as
//! `Authorization: GenieKey …`.

use super::alert::{Action, alert};
use super::chat::is_absolute;
use super::{Clients, HttpRequest, HttpTarget, Parcel, SendError, Transport, path_segment};
use crate::message::Severity;
use downbeat_config::Secret;
use serde_json::json;

/// Creates and closes alerts through the API at `base` (`https://api.opsgenie.com`).
#[derive(Debug, Clone)]
pub struct Opsgenie {
    pub base: HttpTarget,
    pub api_key: Secret,
}

impl Opsgenie {
    pub fn request(&self, parcel: &Parcel<'_>) -> HttpRequest {
        let (event, msg) = (parcel.event, parcel.message);
        let alert = alert(event);
        let (url, body) = match alert.action {
            Action::Trigger => {
                let mut details = json!({
                    "event_id": event.id,
                    "type": event.kind.as_str(),
                    "service": event.service,
                });
                if is_absolute(msg) {
                    details["link"] = json!(msg.link);
                }
                let body = json!({
                    // Opsgenie's limits: message 130 characters, alias 512, description 15000.
                    "message": msg.title.chars().take(130).collect::<String>(),
                    "alias": alert.key.chars().take(512).collect::<String>(),
                    "description": msg.text.chars().take(15_000).collect::<String>(),
                    "priority": match msg.severity {
                        Severity::Critical => "P1",
                        Severity::Warning => "P3",
                        Severity::Good | Severity::Info => "P5",
                    },
                    "tags": ["downbeat", event.service, event.kind.as_str()],
                    "details": details,
                    "entity": event.service,
                    "source": "Downbeat",
                });
                (self.base.at("/v2/alerts"), body)
            }
            Action::Resolve => {
                let path = format!(
                    "/v2/alerts/{}/close?identifierType=alias",
                    path_segment(&alert.key)
                );
                let note = msg.title.chars().take(25_000).collect::<String>();
                (
                    self.base.at(&path),
                    json!({"source": "Downbeat", "note": note}),
                )
            }
        };
        let mut req = self.base.request(
            parcel,
            "application/json",
            serde_json::to_vec(&body).unwrap_or_default(),
            vec![(
                "authorization",
                format!("GenieKey {}", self.api_key.expose()),
            )],
        );
        req.url = url;
        req
    }
}

impl Transport for Opsgenie {
    async fn send(&self, clients: Clients<'_>, parcel: &Parcel<'_>) -> Result<u16, SendError> {
        self.base.post(clients, self.request(parcel)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tests::{event, hostile, parcel};
    use serde_json::Value;

    #[test]
    fn alerts_are_created_and_closed_by_alias() {
        let og = Opsgenie {
            base: HttpTarget::to("https://api.example/"),
            api_key: Secret::new("genie-1"),
        };
        let (e, mut m) = (event(), hostile());
        m.title = "é".repeat(200);
        let r = og.request(&parcel(&e, &m));
        assert_eq!(r.url, "https://api.example/v2/alerts");
        assert_eq!(r.header("authorization"), Some("GenieKey genie-1"));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["message"].as_str().unwrap().chars().count(), 130);
        assert_eq!(v["alias"], "melodia/incident/incident-1-update-1");
        assert_eq!(v["priority"], "P1");
        let resolved = downbeat_store::NotifyEventRow {
            kind: downbeat_store::OutboxKind::Event(
                downbeat_domain::event::EventKind::IncidentResolved,
            ),
            ..event()
        };
        let r = og.request(&parcel(&resolved, &m));
        assert_eq!(
            r.url,
            "https://api.example/v2/alerts/melodia%2Fincident%2Fincident-1-update-1/close?identifierType=alias"
        );
    }
}
