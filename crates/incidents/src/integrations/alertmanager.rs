//! Alertmanager's webhook receiver: its payload (version 4), checked, and each alert group
//! mapped by `[integrations.alertmanager]` routes to one [`Notification`] per service.
//!
//! Alertmanager posts a group's notification after `group_wait`, again after each
//! `group_interval` in which it changed, and again every `repeat_interval`; each lists
//! every firing alert of the group (unless `max_alerts` truncated it) and, with
//! `send_resolved`, the alerts resolved since the last one.

use super::{IntegrationError, Notification, Received, capped, limits};
use crate::Incidents;
use downbeat_config::AlertmanagerSettings;
use downbeat_domain::ComponentState;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// The payload version this receiver reads.
pub const VERSION: &str = "4";
/// How far back an alert's start is believed as the incident's onset.
const MAX_ONSET_AGE_MS: i64 = 24 * 3_600_000;
/// Alerts of one notification kept in the evidence.
const MAX_EVIDENCE_ALERTS: usize = 100;

/// Alertmanager's webhook payload, version 4. Fields Alertmanager may add later are
/// ignored; a missing one is an error naming it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    /// "4".
    pub version: String,
    /// Identifies the alert group (its route and grouping labels).
    pub group_key: String,
    /// Alerts `max_alerts` left out of this notification.
    #[serde(default)]
    pub truncated_alerts: u64,
    /// firing or resolved.
    pub status: String,
    pub receiver: String,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(rename = "externalURL", default)]
    pub external_url: String,
    pub alerts: Vec<Alert>,
}

/// One alert of a group.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// firing or resolved.
    pub status: String,
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[schema(value_type = String)]
    pub starts_at: Timestamp,
    /// `0001-01-01T00:00:00Z` while firing with no end known.
    #[schema(value_type = String)]
    pub ends_at: Timestamp,
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

impl Alert {
    fn firing(&self) -> bool {
        self.status == "firing"
    }

    /// Who it is across notifications: the same alert firing again later is another.
    fn identity(&self) -> String {
        let who = if self.fingerprint.is_empty() {
            hash(&format!("{:?}", self.labels))
        } else {
            self.fingerprint.clone()
        };
        format!("{who}@{}", self.starts_at)
    }
}

fn hash(s: &str) -> String {
    downbeat_domain::hex::hex(&Sha256::digest(s.as_bytes())[..16])
}

fn status_ok(s: &str) -> bool {
    matches!(s, "firing" | "resolved")
}

impl Payload {
    /// The payload in `body`, or what is wrong with it: another version (named first,
    /// before its shape, which another version may change), a field of the wrong type, a
    /// status that is neither firing nor resolved.
    pub fn from_json(body: Value) -> Result<Payload, IntegrationError> {
        let Some(obj) = body.as_object() else {
            return Err(IntegrationError::Malformed(
                "expected Alertmanager's webhook payload: a JSON object with version, groupKey, status, alerts…".into(),
            ));
        };
        match obj.get("version") {
            Some(Value::String(v)) if v == VERSION => {}
            Some(v) => {
                let shown: String = v.to_string().chars().take(40).collect();
                return Err(IntegrationError::Invalid {
                    field: "version",
                    message: format!(
                        "{shown} is not a payload version this server reads: it reads Alertmanager's webhook payload version \"{VERSION}\""
                    ),
                });
            }
            None => {
                return Err(IntegrationError::Invalid {
                    field: "version",
                    message: format!(
                        "missing: Alertmanager's webhook payload says version \"{VERSION}\""
                    ),
                });
            }
        }
        let p: Payload = serde_path_to_error::deserialize(body).map_err(|e| {
            let path = e.path().to_string();
            IntegrationError::Malformed(format!("invalid payload at `{path}`: {}", e.into_inner()))
        })?;
        if !status_ok(&p.status) {
            return Err(IntegrationError::Invalid {
                field: "status",
                message: format!("{:?} is neither firing nor resolved", capped(&p.status)),
            });
        }
        if let Some((index, a)) = p
            .alerts
            .iter()
            .enumerate()
            .find(|(_, a)| !status_ok(&a.status))
        {
            return Err(IntegrationError::InvalidRow {
                list: "alerts",
                index,
                field: "status",
                message: format!("{:?} is neither firing nor resolved", capped(&a.status)),
            });
        }
        Ok(p)
    }
}

/// The group's notifications, one per service its alerts are routed to, and the alerts no
/// route takes (in the config's words: their alert names and counts).
pub fn notifications(
    settings: &AlertmanagerSettings,
    p: &Payload,
    now_ms: i64,
) -> (Vec<Notification>, Vec<String>) {
    struct Routed<'a> {
        alert: &'a Alert,
        component: String,
        state: ComponentState,
    }
    let mut by_service: BTreeMap<String, Vec<Routed>> = BTreeMap::new();
    let mut unrouted: BTreeMap<&str, usize> = BTreeMap::new();
    for alert in &p.alerts {
        match settings.map(&alert.labels) {
            Some(m) => by_service
                .entry(m.route.service.to_string())
                .or_default()
                .push(Routed {
                    alert,
                    component: m.route.component.to_string(),
                    state: if alert.firing() {
                        m.state
                    } else {
                        ComponentState::Operational
                    },
                }),
            None => {
                let name = alert.labels.get("alertname").map_or("", String::as_str);
                *unrouted.entry(name).or_default() += 1;
            }
        }
    }
    let ignored = unrouted
        .into_iter()
        .map(|(name, n)| {
            format!(
                "{n} alert{} named {:?}: no [[integrations.alertmanager.route]] takes {}",
                if n == 1 { "" } else { "s" },
                capped(name),
                if n == 1 { "it" } else { "them" }
            )
        })
        .collect();
    let notes = by_service
        .into_iter()
        .map(|(service, routed)| {
            let mut states: BTreeMap<String, ComponentState> = BTreeMap::new();
            let mut firing = BTreeSet::new();
            let mut onset_ms: Option<i64> = None;
            for r in &routed {
                let s = states.entry(r.component.clone()).or_insert(r.state);
                if crate::severity(r.state) > crate::severity(*s) {
                    *s = r.state;
                }
                if r.alert.firing() && r.state != ComponentState::Operational {
                    firing.insert(r.alert.identity());
                    let start = r.alert.starts_at.as_millisecond();
                    if (now_ms - MAX_ONSET_AGE_MS..=now_ms).contains(&start) {
                        onset_ms = Some(onset_ms.map_or(start, |o| o.min(start)));
                    }
                }
            }
            let evidence = evidence(
                p,
                &routed
                    .iter()
                    .map(|r| (r.alert, r.component.as_str(), r.state))
                    .collect::<Vec<_>>(),
                &states,
            );
            Notification {
                integration: limits::alertmanager_name(),
                // One incident per group and service: a group may span services.
                origin: format!(
                    "alertmanager:{}",
                    hash(&format!("{}\n{service}", p.group_key))
                ),
                service,
                states,
                complete: p.truncated_alerts == 0,
                firing,
                onset_ms,
                evidence,
            }
        })
        .collect();
    (notes, ignored)
}

/// What operators see of a group's notification for one service: the group, its alerts
/// routed there (labels, annotations, links), and a sentence.
fn evidence(
    p: &Payload,
    routed: &[(&Alert, &str, ComponentState)],
    states: &BTreeMap<String, ComponentState>,
) -> serde_json::Map<String, Value> {
    let text = |m: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.iter().map(|(k, v)| (capped(k), capped(v))).collect()
    };
    let alerts: Vec<Value> = routed
        .iter()
        .take(MAX_EVIDENCE_ALERTS)
        .map(|(a, component, state)| {
            json!({
                "status": a.status, "labels": text(&a.labels), "annotations": text(&a.annotations),
                "starts_at": a.starts_at, "ends_at": (a.ends_at.as_millisecond() > 0).then_some(a.ends_at),
                "generator_url": capped(&a.generator_url), "fingerprint": capped(&a.fingerprint),
                "component": component, "state": state,
            })
        })
        .collect();
    let firing: Vec<String> = routed
        .iter()
        .filter(|(a, _, s)| a.firing() && *s != ComponentState::Operational)
        .map(|(a, _, _)| capped(a.labels.get("alertname").map_or("?", String::as_str)))
        .collect();
    let moved: Vec<String> = states.iter().map(|(c, s)| format!("{c} {s}")).collect();
    let diagnosis = if firing.is_empty() {
        format!(
            "Alertmanager: the group's alerts resolved ({}).",
            moved.join(", ")
        )
    } else {
        format!(
            "Alertmanager: {} firing ({}): {}.",
            firing.len(),
            firing.join(", "),
            moved.join(", ")
        )
    };
    let mut e = serde_json::Map::new();
    e.insert("diagnosis".into(), json!(diagnosis));
    e.insert(
        "alertmanager".into(),
        json!({
            "group_key": capped(&p.group_key), "receiver": capped(&p.receiver), "status": p.status,
            "group_labels": text(&p.group_labels), "common_labels": text(&p.common_labels),
            "common_annotations": text(&p.common_annotations),
            "external_url": capped(&p.external_url), "truncated_alerts": p.truncated_alerts,
            "alerts": alerts, "alerts_left_out": routed.len().saturating_sub(MAX_EVIDENCE_ALERTS),
        }),
    );
    e
}

/// Applies a checked payload: each service's notification drafts or moves its incident.
pub async fn receive(
    incidents: &Incidents,
    settings: &AlertmanagerSettings,
    p: &Payload,
) -> Result<Received, IntegrationError> {
    let now_ms = incidents.clock.now().as_millisecond();
    let (notes, ignored) = notifications(settings, p, now_ms);
    let mut applied = Vec::with_capacity(notes.len());
    let config = incidents.config.get();
    for n in &notes {
        // Routes name configured services only (checked at load).
        let Some(service) = config.service(&n.service) else {
            continue;
        };
        applied.push(super::apply(incidents, service, n, now_ms).await?);
    }
    Ok(Received {
        integration: limits::alertmanager_name(),
        applied,
        ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AlertmanagerSettings {
        downbeat_config::parse_str(
            "[[service]]\nid = \"melodia\"\nname = \"Melodia\"\n\
             [[service.component]]\nid = \"login\"\nname = \"Login\"\n\
             [[service.component]]\nid = \"search\"\nname = \"Search\"\n\
             [[service]]\nid = \"radio\"\nname = \"Radio\"\n\
             [[service.component]]\nid = \"stream\"\nname = \"Stream\"\n\
             [integrations.alertmanager]\n\
             [[integrations.alertmanager.route]]\nmatch = { alertname = \"LoginErrors\" }\nservice = \"melodia\"\ncomponent = \"login\"\n\
             [[integrations.alertmanager.route]]\nmatch = { alertname = \"SearchSlow\" }\nservice = \"melodia\"\ncomponent = \"search\"\n\
             [[integrations.alertmanager.route]]\nmatch = { alertname = \"StreamDown\" }\nservice = \"radio\"\ncomponent = \"stream\"\n",
            "t",
        )
        .unwrap()
        .integrations
        .alertmanager
        .unwrap()
    }

    fn alert(name: &str, instance: &str, severity: &str, status: &str) -> Value {
        json!({
            "status": status,
            "labels": {"alertname": name, "instance": instance, "severity": severity},
            "annotations": {"summary": format!("{name} on {instance}"), "runbook_url": "https://runbooks.internal/x"},
            "startsAt": "2026-12-07T08:01:00.123456789+01:00",
            "endsAt": if status == "firing" { "0001-01-01T00:00:00Z" } else { "2026-12-07T08:20:00Z" },
            "generatorURL": "http://prometheus.internal:9090/graph?g0.expr=x",
            "fingerprint": format!("{name}-{instance}"),
        })
    }

    fn payload(status: &str, alerts: Vec<Value>) -> Value {
        json!({
            "version": "4", "groupKey": "{}:{alertname=\"LoginErrors\"}", "truncatedAlerts": 0,
            "status": status, "receiver": "downbeat", "groupLabels": {"alertname": "LoginErrors"},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager.internal:9093",
            "alerts": alerts,
        })
    }

    const NOW: i64 = 1_796_632_400_000; // 2026-12-07T08:33:20Z

    #[test]
    fn a_group_becomes_one_notification_per_service_with_the_worst_state_per_component() {
        let p = Payload::from_json(payload(
            "firing",
            vec![
                alert("LoginErrors", "auth-1", "warning", "firing"),
                alert("LoginErrors", "auth-2", "critical", "firing"),
                alert("SearchSlow", "search-1", "warning", "resolved"),
                alert("StreamDown", "edge-1", "critical", "firing"),
                alert("DiskFull", "db-1", "critical", "firing"),
            ],
        ))
        .unwrap();
        let (notes, ignored) = notifications(&settings(), &p, NOW);
        assert_eq!(
            ignored,
            ["1 alert named \"DiskFull\": no [[integrations.alertmanager.route]] takes it"]
        );
        let services: Vec<&str> = notes.iter().map(|n| n.service.as_str()).collect();
        assert_eq!(services, ["melodia", "radio"]);
        let m = &notes[0];
        assert_eq!(
            m.states["login"],
            ComponentState::MajorOutage,
            "the worst of the two"
        );
        assert_eq!(m.states["search"], ComponentState::Operational, "resolved");
        assert_eq!(m.firing.len(), 2);
        assert!(m.complete);
        assert_eq!(
            m.onset_ms,
            Some(1_796_626_860_123),
            "the earliest start, 07:01 UTC"
        );
        assert_ne!(
            m.origin, notes[1].origin,
            "one incident per group and service"
        );
        assert!(m.origin.starts_with("alertmanager:"));
        let ev = &m.evidence;
        assert_eq!(ev["alertmanager"]["alerts"].as_array().unwrap().len(), 3);
        assert_eq!(
            ev["alertmanager"]["alerts"][0]["annotations"]["summary"],
            "LoginErrors on auth-1"
        );
        assert_eq!(
            ev["alertmanager"]["alerts"][0]["ends_at"],
            Value::Null,
            "no end known"
        );
        assert_eq!(
            ev["diagnosis"],
            "Alertmanager: 2 firing (LoginErrors, LoginErrors): login major_outage, search operational."
        );

        // The same group later: the same origin; the alert firing again later is another.
        let mut again = p.clone();
        again.alerts[0].starts_at = "2026-12-07T09:00:00Z".parse().unwrap();
        let (later, _) = notifications(&settings(), &again, NOW);
        assert_eq!(later[0].origin, m.origin);
        assert_ne!(later[0].firing, m.firing);
    }

    #[test]
    fn another_version_or_status_is_refused_naming_it() {
        let cases: Vec<(Value, &str)> = vec![
            (
                {
                    let mut p = payload("firing", vec![]);
                    p["version"] = json!("3");
                    p
                },
                "version: \"3\" is not a payload version",
            ),
            (
                {
                    let mut p = payload("firing", vec![]);
                    p["version"] = json!(4);
                    p
                },
                "version: 4 is not",
            ),
            (
                {
                    let mut p = payload("firing", vec![]);
                    p.as_object_mut().unwrap().remove("version");
                    p
                },
                "version: missing",
            ),
            (
                {
                    let mut p = payload("firing", vec![]);
                    p.as_object_mut().unwrap().remove("groupKey");
                    p
                },
                "groupKey",
            ),
            (
                payload("firing", vec![json!({"status": "firing"})]),
                "alerts[0]",
            ),
            (payload("pending", vec![]), "status: \"pending\" is neither"),
            (
                payload("firing", vec![alert("A", "b", "c", "silenced")]),
                "alerts[0].status",
            ),
            (json!([1, 2]), "a JSON object"),
        ];
        for (body, says) in cases {
            let e = Payload::from_json(body.clone()).unwrap_err().to_string();
            assert!(e.contains(says), "{body}\n→ {e}");
        }
    }
}
