//! `format = "template"`: the operator's own body, rendered from their template with the
//! event's variables ([`TemplateVars`]; escaped for the body's content type by
//! `downbeat_config::template`), sent with their headers and the usual event id,
//! signature and token.

use super::alert::alert;
use super::webhook::occurred_at;
use super::{Clients, HttpRequest, HttpTarget, Parcel, SendError, Transport};
use crate::message::Severity;
use downbeat_config::WebhookTemplate;
use downbeat_config::template::TemplateVars;
use std::sync::Arc;

/// Posts `template`'s body.
#[derive(Debug, Clone)]
pub struct Template {
    pub template: Arc<WebhookTemplate>,
    pub target: HttpTarget,
}

/// The variables a template sees for `parcel`.
pub fn vars(parcel: &Parcel<'_>) -> TemplateVars {
    let (event, msg) = (parcel.event, parcel.message);
    let alert = alert(event);
    TemplateVars {
        id: event.id.clone(),
        kind: event.kind.as_str().to_owned(),
        service: event.service.clone(),
        occurred_at: occurred_at(event),
        occurred_ms: event.occurred_ms,
        link: msg.link.clone(),
        title: msg.title.clone(),
        text: msg.text.clone(),
        severity: match msg.severity {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Good => "good",
            Severity::Info => "info",
        }
        .to_owned(),
        data: serde_json::from_str(&event.data).unwrap_or(serde_json::Value::Null),
        alert_key: alert.key,
        alert_action: alert.action.as_str().to_owned(),
    }
}

impl Template {
    pub fn request(&self, parcel: &Parcel<'_>) -> Result<HttpRequest, SendError> {
        let t = &self.template;
        let body = t.body.render(&vars(parcel))?;
        let mut req =
            self.target
                .request(parcel, t.body.content_type(), body.into_bytes(), Vec::new());
        // The operator's headers go first; what Downbeat sends stays as it is.
        let own = t
            .headers
            .iter()
            .map(|(k, v)| (k.clone().into(), v.expose().to_owned()));
        req.headers.splice(0..0, own);
        Ok(req)
    }
}

impl Transport for Template {
    async fn send(&self, clients: Clients<'_>, parcel: &Parcel<'_>) -> Result<u16, SendError> {
        self.target.post(clients, self.request(parcel)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tests::{event, hostile, parcel, plain};
    use downbeat_config::Secret;
    use downbeat_config::template::BodyTemplate;
    use serde_json::Value;

    #[test]
    fn the_operators_body_and_headers_are_sent_with_values_escaped() {
        let template = WebhookTemplate {
            body: BodyTemplate::new(
                r#"{"summary": {{ title }}, "key": {{ alert_key }}, "action": {{ alert_action }}, "sev": {{ severity }}}"#.into(),
                "application/json".into(),
            )
            .unwrap(),
            headers: vec![("X-Api-Key".into(), Secret::new("k1"))],
        };
        let t = Template {
            template: Arc::new(template),
            target: plain(),
        };
        let (e, m) = (event(), hostile());
        let r = t.request(&parcel(&e, &m)).unwrap();
        assert_eq!(r.content_type, "application/json");
        assert_eq!(r.header("x-api-key"), Some("k1"));
        assert_eq!(r.header("x-downbeat-event-id"), Some("incident-1-update-1"));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["summary"], m.title.as_str());
        assert_eq!(v["action"], "trigger");
        assert_eq!(v["sev"], "critical");
    }
}
