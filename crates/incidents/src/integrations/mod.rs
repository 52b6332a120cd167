//! Other monitors' alerts: Alertmanager's alert groups ([`alertmanager`]) and inbound
//! webhooks' notifications ([`webhook`]), mapped by `[integrations]` to component states,
//! drafting and moving incidents ([`apply`]), each integration rate limited ([`Limits`]).
//!
//! One alert group (or one webhook) is one incident at a time, found again by its origin
//! (the store keeps at most one open incident per origin, so a notification two nodes take
//! at once drafts once). Firing alerts move the incident's components; when every one of
//! them is operational again the incident is marked recovered and awaits an operator, as
//! drafts from the signals do. A repeat of what the incident already says changes nothing.
//!
//! Public words only come from the config: a draft's title and first update name the
//! service, its components and the states. What the alerts say — labels, annotations,
//! messages, links — goes into the evidence, which only operators see.

pub mod alertmanager;
pub mod limits;
pub mod webhook;

pub use limits::Limits;

use crate::Incidents;
use crate::model::{Components, Impact, Kind, Source, Status, new_row};
use crate::ops;
use downbeat_config::ServiceConfig;
use downbeat_domain::ComponentState;
use downbeat_store::{IncidentFilter, IncidentRow, IncidentUpdateRow, StoreError};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Why an integration's request was refused; the API maps each to its answer.
#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    /// No such integration in the config.
    #[error("{0}")]
    NotFound(String),
    /// The body is not the integration's payload (not JSON, a field of the wrong type).
    #[error("{0}")]
    Malformed(String),
    /// A field's value is not acceptable (a payload version this server does not read).
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// One alert of the payload is not acceptable: `alerts[index].field`.
    #[error("{list}[{index}].{field}: {message}")]
    InvalidRow {
        list: &'static str,
        index: usize,
        field: &'static str,
        message: String,
    },
    #[error("too many notifications from {integration}; retry in {retry_after_s} s")]
    RateLimited {
        integration: String,
        retry_after_s: u64,
    },
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// What one notification says about one service once the config has mapped it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The integration, as operators read it: `alertmanager`, `webhook uptime-kuma`.
    pub integration: String,
    /// The same for every notification of one alert group or webhook (see the module).
    pub origin: String,
    pub service: String,
    /// The components this notification speaks of and the states it gives them
    /// (operational: back, or an alert that moves nothing).
    pub states: BTreeMap<String, ComponentState>,
    /// Whether the notification lists every alert of its group: then a component the
    /// incident moved before and this one does not name is operational again. Alertmanager
    /// lists every firing alert of a group unless it truncated the list; a webhook speaks
    /// of one component at a time.
    pub complete: bool,
    /// The alerts firing now, by identity (Alertmanager: fingerprint and start). An
    /// incident an operator resolved while all of these already fired is not drafted again.
    pub firing: BTreeSet<String>,
    /// When the firing alerts began, if the notification says.
    pub onset_ms: Option<i64>,
    /// What operators see of it (merged into the incident's evidence).
    pub evidence: serde_json::Map<String, Value>,
}

/// What became of one notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new incident (a draft unless the service publishes drafts at once).
    Drafted,
    /// The open incident's components moved (or it learned of more alerts).
    Moved,
    /// The open incident says this already: a repeat.
    Unchanged,
    /// Nothing fires and no incident is open: nothing to do.
    NothingFiring,
    /// An operator resolved the group's incident while these alerts already fired.
    ResolvedByOperator,
}

/// One notification's effect, as the answer tells the sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Applied {
    pub service: String,
    /// The incident it drafted or moved.
    pub incident: Option<i64>,
    pub outcome: Outcome,
    /// The states the notification gives.
    #[schema(value_type = Object)]
    pub components: BTreeMap<String, ComponentState>,
}

/// The answer to an integration's request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Received {
    pub integration: String,
    pub applied: Vec<Applied>,
    /// What moved nothing because no rule maps it, in the config's words.
    pub ignored: Vec<String>,
}

/// How often a notification retries a lost race before the sender is asked to retry.
const ATTEMPTS: usize = 4;
/// The longest text of the evidence taken from one field of a notification.
pub const MAX_EVIDENCE_CHARS: usize = 2_000;

/// The bookkeeping an integration's incident carries in its evidence.
#[derive(Debug, Default, Clone, PartialEq)]
struct Ledger {
    /// The states the integration last gave.
    states: BTreeMap<String, ComponentState>,
    /// Every alert identity applied to this incident.
    seen: BTreeSet<String>,
}

impl Ledger {
    fn of(row: &IncidentRow) -> Ledger {
        let Some(i) = row.evidence.as_ref().and_then(|e| e.get("integration")) else {
            return Ledger::default();
        };
        Ledger {
            states: i
                .get("states")
                .and_then(|s| serde_json::from_value(s.clone()).ok())
                .unwrap_or_default(),
            seen: i
                .get("seen")
                .and_then(|s| serde_json::from_value(s.clone()).ok())
                .unwrap_or_default(),
        }
    }

    fn evidence(&self, n: &Notification, now_ms: i64) -> Value {
        let mut e = serde_json::Map::new();
        e.insert("at".into(), json!(Timestamp::from_millisecond(now_ms).ok()));
        e.extend(n.evidence.clone());
        e.insert(
            "integration".into(),
            json!({
                "name": n.integration,
                "origin": n.origin,
                "states": self.states,
                "firing": n.firing,
                "seen": self.seen,
            }),
        );
        Value::Object(e)
    }
}

/// Applies one notification: drafts an incident for its origin, or moves the open one,
/// or does nothing for a repeat. Safe on several nodes at once (see the module).
pub async fn apply(
    incidents: &Incidents,
    service: &ServiceConfig,
    n: &Notification,
    now_ms: i64,
) -> Result<Applied, StoreError> {
    let applied = |incident: Option<i64>, outcome: Outcome| Applied {
        service: n.service.clone(),
        incident,
        outcome,
        components: n.states.clone(),
    };
    for _ in 0..ATTEMPTS {
        let of_origin = |open_only: bool| IncidentFilter {
            kind: Some(Kind::Incident),
            include_drafts: true,
            open_only,
            origin: Some(n.origin.clone()),
            limit: 1,
            ..Default::default()
        };
        let open = incidents.records.incidents(of_origin(true)).await?;
        if let Some(rec) = open.into_iter().next() {
            let id = rec.incident.id;
            match moved(rec.incident, n, now_ms) {
                None => return Ok(applied(Some(id), Outcome::Unchanged)),
                Some(row) => match incidents.records.update_incident(row, vec![], None).await {
                    Ok(()) => {
                        ops::after_change(incidents, &n.service).await;
                        return Ok(applied(Some(id), Outcome::Moved));
                    }
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                },
            }
        }
        if n.states.values().all(|s| *s == ComponentState::Operational) {
            return Ok(applied(None, Outcome::NothingFiring));
        }
        let last = incidents.records.incidents(of_origin(false)).await?;
        if let Some(rec) = last.first() {
            let seen = Ledger::of(&rec.incident).seen;
            if rec.incident.status.is_final() && !n.firing.is_empty() && n.firing.is_subset(&seen) {
                return Ok(applied(Some(rec.incident.id), Outcome::ResolvedByOperator));
            }
        }
        let (row, update) = draft(service, n, now_ms);
        match incidents
            .records
            .insert_incident(row, vec![update], None)
            .await
        {
            Ok(id) => {
                tracing::warn!(
                    service = %n.service, incident = id, integration = %n.integration,
                    published = service.auto_publish, "incident drafted from an integration's alerts"
                );
                ops::after_change(incidents, &n.service).await;
                crate::events::incident_drafted(incidents, id).await;
                return Ok(applied(Some(id), Outcome::Drafted));
            }
            // Another node drafted it a moment ago: move that one.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Unavailable(format!(
        "the incident of {} changed {ATTEMPTS} times while this notification was applied",
        n.origin
    )))
}

/// The open incident `row` after notification `n`, or None when `n` tells it nothing new.
/// Only the components whose integration state changed move, so what an operator set by
/// hand stays until the alerts change.
fn moved(mut row: IncidentRow, n: &Notification, now_ms: i64) -> Option<IncidentRow> {
    let before = Ledger::of(&row);
    let mut states = if n.complete {
        before
            .states
            .keys()
            .map(|c| (c.clone(), ComponentState::Operational))
            .collect()
    } else {
        before.states.clone()
    };
    states.extend(n.states.iter().map(|(c, s)| (c.clone(), *s)));
    let new_alerts = !n.firing.is_subset(&before.seen);
    if states == before.states && !new_alerts {
        return None;
    }
    for (c, s) in &states {
        if before.states.get(c) != Some(s) {
            row.components.insert(c.clone(), *s);
        }
    }
    let recovered = states.values().all(|s| *s == ComponentState::Operational);
    row.recovered_ms = if recovered {
        row.recovered_ms.or(Some(now_ms))
    } else {
        None
    };
    if recovered && row.recovered_ms == Some(now_ms) {
        tracing::warn!(
            service = %row.service, incident = row.id, integration = %n.integration,
            "the integration's alerts resolved: the incident awaits resolution by an operator"
        );
    }
    let ledger = Ledger {
        states,
        seen: before.seen.union(&n.firing).cloned().collect(),
    };
    row.evidence = Some(ledger.evidence(n, now_ms));
    row.updated_ms = now_ms;
    Some(row)
}

/// A new incident from `n`: its title and first update in public words built from the
/// config (the service's and components' names, the states' labels), the alerts'
/// words in the evidence.
fn draft(
    service: &ServiceConfig,
    n: &Notification,
    now_ms: i64,
) -> (IncidentRow, IncidentUpdateRow) {
    let components: Components = n
        .states
        .iter()
        .filter(|(_, s)| **s != ComponentState::Operational)
        .map(|(c, s)| (c.clone(), *s))
        .collect();
    let words = state_words(service, &components);
    let title = ops::check_title(&format!("{}: {words}", service.name))
        .unwrap_or_else(|_| format!("{}: trouble reported by monitoring", service.name));
    let message = format!("Downbeat drafted this incident from monitoring alerts: {words}.");
    let worst = components
        .values()
        .copied()
        .max_by_key(|s| crate::severity(*s))
        .unwrap_or(ComponentState::Operational);
    let mut row = new_row(
        service.id.as_str(),
        Kind::Incident,
        title,
        Status::Investigating,
        now_ms,
    );
    row.impact = match worst {
        ComponentState::MajorOutage => Impact::Major,
        _ => Impact::Minor,
    };
    row.components = components.clone();
    row.source = Source::Integration;
    row.origin = Some(n.origin.clone());
    row.detected_ms = Some(now_ms);
    row.onset_ms = Some(n.onset_ms.unwrap_or(now_ms).min(now_ms));
    row.draft = !service.auto_publish;
    if service.auto_publish {
        row.published_ms = Some(now_ms);
        row.acknowledged_ms = Some(now_ms);
    }
    let ledger = Ledger {
        states: n.states.clone(),
        seen: n.firing.clone(),
    };
    row.evidence = Some(ledger.evidence(n, now_ms));
    let update = IncidentUpdateRow {
        id: 0,
        incident: 0,
        at_ms: now_ms,
        status: Status::Investigating,
        message: message.chars().take(ops::MAX_MESSAGE_CHARS).collect(),
        components,
        author: "downbeat".into(),
    };
    (row, update)
}

/// "major outage of Login and accounts; degraded performance of Search": the states,
/// worst first, with the names of the components in each.
pub fn state_words(service: &ServiceConfig, components: &Components) -> String {
    let mut by_state: BTreeMap<std::cmp::Reverse<u8>, (ComponentState, Vec<&str>)> =
        BTreeMap::new();
    // In the config's order, as the status page lists them.
    for c in &service.components {
        if let Some(state) = components.get(c.id.as_str()) {
            by_state
                .entry(std::cmp::Reverse(crate::severity(*state)))
                .or_insert((*state, Vec::new()))
                .1
                .push(c.name.as_str());
        }
    }
    by_state
        .values()
        .map(|(state, names)| format!("{} of {}", state.label().to_lowercase(), and_list(names)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// "A", "A and B", "A, B and C".
fn and_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `s` cut to [`MAX_EVIDENCE_CHARS`].
pub(crate) fn capped(s: &str) -> String {
    if s.chars().count() <= MAX_EVIDENCE_CHARS {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(MAX_EVIDENCE_CHARS).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn melodia() -> ServiceConfig {
        downbeat_config::parse_str(
            "[[service]]\nid = \"melodia\"\nname = \"Melodia\"\n\
             [[service.component]]\nid = \"login\"\nname = \"Login and accounts\"\n\
             [[service.component]]\nid = \"search\"\nname = \"Search\"\n\
             [[service.component]]\nid = \"library\"\nname = \"Library\"\n",
            "t",
        )
        .unwrap()
        .services
        .remove(0)
    }

    fn note(states: &[(&str, ComponentState)], firing: &[&str], complete: bool) -> Notification {
        Notification {
            integration: "alertmanager".into(),
            origin: "alertmanager:x".into(),
            service: "melodia".into(),
            states: states.iter().map(|(c, s)| ((*c).to_owned(), *s)).collect(),
            complete,
            firing: firing.iter().map(|f| (*f).to_owned()).collect(),
            onset_ms: Some(1_000),
            evidence:
                json!({"diagnosis": "LoginErrors on auth-1: see https://grafana.internal/d/1"})
                    .as_object()
                    .unwrap()
                    .clone(),
        }
    }

    use ComponentState::*;

    #[test]
    fn a_draft_speaks_in_the_configs_words_and_keeps_the_alerts_for_operators() {
        let n = note(
            &[
                ("login", MajorOutage),
                ("search", DegradedPerformance),
                ("library", MajorOutage),
            ],
            &["a@1", "b@1"],
            true,
        );
        let (row, update) = draft(&melodia(), &n, 5_000);
        assert_eq!(
            row.title,
            "Melodia: major outage of Login and accounts and Library; degraded performance of Search"
        );
        assert_eq!(
            update.message,
            "Downbeat drafted this incident from monitoring alerts: major outage of Login and \
             accounts and Library; degraded performance of Search."
        );
        for public in [&row.title, &update.message] {
            assert!(!public.contains("LoginErrors") && !public.contains("grafana"));
        }
        assert_eq!(row.impact, Impact::Major);
        assert_eq!((row.onset_ms, row.detected_ms), (Some(1_000), Some(5_000)));
        assert!(row.draft && row.source == Source::Integration);
        assert_eq!(row.origin.as_deref(), Some("alertmanager:x"));
        let ev = row.evidence.unwrap();
        assert!(
            ev["diagnosis"]
                .as_str()
                .unwrap()
                .contains("grafana.internal")
        );
        assert_eq!(ev["integration"]["seen"], json!(["a@1", "b@1"]));
    }

    #[test]
    fn the_open_incident_moves_with_its_alerts_and_a_repeat_changes_nothing() {
        let first = note(
            &[("login", MajorOutage), ("search", DegradedPerformance)],
            &["a@1"],
            true,
        );
        let (mut row, _) = draft(&melodia(), &first, 5_000);
        assert!(moved(row.clone(), &first, 6_000).is_none(), "a repeat");

        // An operator set search by hand; the alerts did not change it: it stays.
        row.components.insert("search".into(), PartialOutage);
        let more = note(
            &[("login", MajorOutage), ("search", DegradedPerformance)],
            &["a@1", "b@1"],
            true,
        );
        let row = moved(row, &more, 7_000).expect("a new alert is news for operators");
        assert_eq!(row.components["search"], PartialOutage);
        assert_eq!(row.recovered_ms, None);

        // Search's alert resolved, and Alertmanager no longer lists it: operational.
        let row = moved(row, &note(&[("login", MajorOutage)], &["a@1"], true), 8_000).unwrap();
        assert_eq!(row.components["search"], Operational);
        assert_eq!(row.components["login"], MajorOutage);
        assert_eq!(row.recovered_ms, None);

        // A truncated list says nothing of the alerts it left out.
        assert!(moved(row.clone(), &note(&[], &[], false), 8_500).is_none());

        // All resolved: recovered, awaiting an operator; once.
        let all_clear = note(&[("login", Operational)], &[], true);
        let row = moved(row, &all_clear, 9_000).unwrap();
        assert_eq!(row.components["login"], Operational);
        assert_eq!(row.recovered_ms, Some(9_000));
        assert!(moved(row.clone(), &all_clear, 9_500).is_none());

        // Firing again before an operator came: the same incident, no longer recovered.
        let row = moved(
            row,
            &note(&[("login", PartialOutage)], &["a@2"], true),
            10_000,
        )
        .unwrap();
        assert_eq!(row.components["login"], PartialOutage);
        assert_eq!(row.recovered_ms, None);
    }
}
