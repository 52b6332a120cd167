//! Inbound webhooks: another monitor (Uptime Kuma, Gatus, anything that posts JSON) tells
//! of one component at a time; `[[integrations.webhook]]` says where its component, state
//! and message are in the body and what they mean.
//!
//! A notification whose component or state no rule maps moves nothing and is answered 200
//! with the reason (a monitor's test message, a monitor nobody mapped, a "pending" state):
//! the sender did nothing wrong, and the answer tells its operator what Downbeat read.

use super::{IntegrationError, Notification, Received, capped, limits};
use crate::Incidents;
use downbeat_config::{ComponentField, Field, InboundWebhook, ServiceConfig};
use downbeat_domain::ComponentState;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// A value read with a field and mapped by it, or why it maps to nothing.
fn mapped<T: Clone>(
    what: &str,
    field: &Field<T>,
    body: &Value,
    word: impl Fn(&str) -> Result<T, String>,
) -> Result<(String, T), String> {
    let pointer = &field.pick.pointer;
    let Some(read) = field.pick.read(body) else {
        return Err(match &field.pick.pattern {
            Some(p) => format!("no {what} at {pointer:?} matching {:?}", p.as_str()),
            None => format!("no {what} at {pointer:?} (absent, null or not a string or number)"),
        });
    };
    if field.map.is_empty() {
        return word(&read)
            .map(|v| (read, v))
            .map_err(|e| format!("{what} at {pointer:?}: {e}"));
    }
    match field.map.get(&read) {
        Some(v) => Ok((read, v.clone())),
        None => {
            let known: Vec<&str> = field.map.keys().map(String::as_str).collect();
            Err(format!(
                "{what} {:?} at {pointer:?} is not in the map (it maps {})",
                capped(&read),
                known
                    .iter()
                    .map(|k| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
}

/// The notification `body` means to `hook`, or why it means nothing.
pub fn notification(
    hook: &InboundWebhook,
    service: &ServiceConfig,
    body: &Value,
) -> Result<Notification, String> {
    let (component_read, component) = match &hook.component {
        ComponentField::Fixed(c) => (None, c.to_string()),
        ComponentField::Read(f) => {
            let (read, c) = mapped("component", f, body, |w| {
                downbeat_config::integrations::known_component(service, w)
            })?;
            (Some(read), c.to_string())
        }
    };
    let (state_read, state) = mapped(
        "state",
        &hook.state,
        body,
        downbeat_config::integrations::integration_state,
    )?;
    let message = hook
        .message
        .as_ref()
        .and_then(|m| m.read(body))
        .map(|m| capped(&m));
    let name = service
        .components
        .iter()
        .find(|c| c.id.as_str() == component)
        .map_or(component.as_str(), |c| c.name.as_str());
    let mut diagnosis = format!(
        "Webhook {}: {name} {}",
        hook.id,
        match state {
            ComponentState::Operational => "is operational again".to_owned(),
            s => format!("has {}", s.label().to_lowercase()),
        }
    );
    diagnosis.push_str(&format!(" (it sent {:?}", capped(&state_read)));
    if let Some(c) = &component_read {
        diagnosis.push_str(&format!(" for {:?}", capped(c)));
    }
    diagnosis.push(')');
    if let Some(m) = &message {
        diagnosis.push_str(&format!(": {m}"));
    }
    let mut evidence = serde_json::Map::new();
    evidence.insert("diagnosis".into(), json!(diagnosis));
    evidence.insert(
        "webhook".into(),
        json!({
            "id": hook.id.as_str(),
            "component": component_read.as_deref().map(capped),
            "state": capped(&state_read),
            "message": message,
        }),
    );
    Ok(Notification {
        integration: limits::webhook_name(hook.id.as_str()),
        origin: format!("webhook:{}", hook.id),
        service: service.id.to_string(),
        states: BTreeMap::from([(component, state)]),
        complete: false,
        firing: BTreeSet::new(),
        onset_ms: None,
        evidence,
    })
}

/// Applies one notification of webhook `hook`.
pub async fn receive(
    incidents: &Incidents,
    hook: &InboundWebhook,
    body: &Value,
) -> Result<Received, IntegrationError> {
    let integration = limits::webhook_name(hook.id.as_str());
    let config = incidents.config.get();
    let Some(service) = config.service(hook.service.as_str()) else {
        return Err(IntegrationError::NotFound(format!(
            "unknown service {}",
            hook.service
        )));
    };
    let n = match notification(hook, service, body) {
        Ok(n) => n,
        Err(why) => {
            return Ok(Received {
                integration,
                applied: vec![],
                ignored: vec![why],
            });
        }
    };
    let now_ms = incidents.clock.now().as_millisecond();
    let applied = super::apply(incidents, service, &n, now_ms).await?;
    Ok(Received {
        integration,
        applied: vec![applied],
        ignored: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> downbeat_config::Config {
        downbeat_config::parse_str(
            "[[service]]\nid = \"melodia\"\nname = \"Melodia\"\n\
             [[service.component]]\nid = \"login\"\nname = \"Login and accounts\"\n\
             [[service.component]]\nid = \"search\"\nname = \"Search\"\n\
             [[integrations.webhook]]\nid = \"uptime-kuma\"\nservice = \"melodia\"\n\
             component = { pointer = \"/monitor/name\", map = { \"Melodia login\" = \"login\" } }\n\
             state = { pointer = \"/heartbeat/status\", map = { \"0\" = \"major_outage\", \"1\" = \"operational\" } }\n\
             message = { pointer = \"/heartbeat/msg\" }\n\
             [[integrations.webhook]]\nid = \"plain\"\nservice = \"melodia\"\n\
             component = { pointer = \"/component\" }\nstate = { pointer = \"/state\" }\n",
            "t",
        )
        .unwrap()
    }

    #[test]
    fn a_notification_is_read_mapped_and_explained_for_operators() {
        let c = config();
        let hook = c.integrations.webhook("uptime-kuma").unwrap();
        let body = json!({
            "heartbeat": {"status": 0, "msg": "connect ECONNREFUSED 10.0.4.7:443", "time": "2026-12-07 08:01:00"},
            "monitor": {"name": "Melodia login", "url": "https://auth.melodia.internal/health"},
            "msg": "[Melodia login] [🔴 Down] connect ECONNREFUSED 10.0.4.7:443"
        });
        let n = notification(hook, &c.services[0], &body).unwrap();
        assert_eq!(
            n.states,
            BTreeMap::from([("login".to_owned(), ComponentState::MajorOutage)])
        );
        assert_eq!(n.origin, "webhook:uptime-kuma");
        assert!(!n.complete && n.firing.is_empty());
        assert_eq!(
            n.evidence["diagnosis"],
            "Webhook uptime-kuma: Login and accounts has major outage (it sent \"0\" for \"Melodia login\"): connect ECONNREFUSED 10.0.4.7:443"
        );
        assert!(
            !n.evidence
                .to_string_lossy()
                .contains("auth.melodia.internal"),
            "only what the config points at is kept"
        );
    }

    trait Lossy {
        fn to_string_lossy(&self) -> String;
    }
    impl Lossy for serde_json::Map<String, Value> {
        fn to_string_lossy(&self) -> String {
            Value::Object(self.clone()).to_string()
        }
    }

    #[test]
    fn what_no_rule_maps_moves_nothing_and_says_why() {
        let c = config();
        let kuma = c.integrations.webhook("uptime-kuma").unwrap();
        let plain = c.integrations.webhook("plain").unwrap();
        let cases: Vec<(&InboundWebhook, Value, &str)> = vec![
            // Uptime Kuma's "Test" button: no monitor, no heartbeat.
            (
                kuma,
                json!({"heartbeat": null, "monitor": null, "msg": "Uptime Kuma Alert - Testing"}),
                "no component at \"/monitor/name\"",
            ),
            (
                kuma,
                json!({"heartbeat": {"status": 2}, "monitor": {"name": "Melodia login"}}),
                "state \"2\" at \"/heartbeat/status\" is not in the map (it maps \"0\", \"1\")",
            ),
            (
                kuma,
                json!({"heartbeat": {"status": 0}, "monitor": {"name": "Billing"}}),
                "component \"Billing\"",
            ),
            (
                plain,
                json!({"component": "billing", "state": "major_outage"}),
                "\"billing\" is not a component of \"melodia\"",
            ),
            (
                plain,
                json!({"component": "login", "state": "down"}),
                "\"down\" is not a component state",
            ),
        ];
        for (hook, body, says) in cases {
            let why = notification(hook, &c.services[0], &body).unwrap_err();
            assert!(why.contains(says), "{body}\n→ {why}");
        }
        let n = notification(
            plain,
            &c.services[0],
            &json!({"component": "search", "state": "degraded_performance"}),
        )
        .unwrap();
        assert_eq!(n.states["search"], ComponentState::DegradedPerformance);
    }
}
