//! `[integrations]`: other monitors' alerts coming in — Alertmanager's webhook receiver
//! and generic inbound webhooks (Uptime Kuma, Gatus, anything that posts JSON) — mapped to
//! a service's component states. Types, serde shape and checks.
//!
//! Nothing an integration sends reaches a public page unless a rule here maps it to a
//! component state: labels, annotations, messages and URLs are operators' evidence only.
//!
//! ```toml
//! [integrations.alertmanager]
//! [[integrations.alertmanager.route]]
//! match = { alertname = "LoginErrors" }
//! match_re = { instance = "auth-.*" }
//! service = "melodia"
//! component = "login"
//!
//! [[integrations.webhook]]
//! id = "uptime-kuma"
//! service = "melodia"
//! component = { pointer = "/monitor/name", map = { "Melodia login" = "login" } }
//! state = { pointer = "/heartbeat/status", map = { "0" = "major_outage", "1" = "operational" } }
//! message = { pointer = "/heartbeat/msg" }
//! ```

use crate::load::{ConfigError, Validator};
use crate::model::ServiceConfig;
use downbeat_domain::{ComponentId, ComponentState, ServiceId, Slug};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The serde shape of `[integrations]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntegrations {
    pub alertmanager: Option<RawAlertmanager>,
    #[serde(default)]
    pub webhook: Vec<RawInboundWebhook>,
}

/// `[integrations.alertmanager]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlertmanager {
    pub rate_limit_per_minute: Option<u32>,
    pub rate_limit_burst: Option<u32>,
    pub severity_label: Option<String>,
    /// Replaces [`DEFAULT_SEVERITIES`] when given.
    pub severity: Option<BTreeMap<String, String>>,
    #[serde(default, rename = "route")]
    pub routes: Vec<RawRoute>,
}

/// `[[integrations.alertmanager.route]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    #[serde(default, rename = "match")]
    pub equal: BTreeMap<String, String>,
    #[serde(default)]
    pub match_re: BTreeMap<String, String>,
    pub service: String,
    pub component: String,
    pub state: Option<String>,
}

/// `[[integrations.webhook]]`. `component` is a component id or a field table, so it stays
/// a TOML value here and is read in [`Validator::integrations`], with errors naming its key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInboundWebhook {
    pub id: String,
    pub service: String,
    pub component: toml::Value,
    pub state: RawField,
    pub message: Option<RawField>,
    pub rate_limit_per_minute: Option<u32>,
    pub rate_limit_burst: Option<u32>,
}

/// Where a webhook's field is read: an RFC 6901 JSON pointer, an optional pattern, and a
/// map from what was read to a config word.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    pub pointer: String,
    pub pattern: Option<String>,
    #[serde(default)]
    pub map: BTreeMap<String, String>,
}

/// Every integration, checked.
#[derive(Debug, Clone, Default)]
pub struct IntegrationSettings {
    /// `POST /api/v1/integrations/alertmanager`, when configured.
    pub alertmanager: Option<AlertmanagerSettings>,
    /// `POST /api/v1/integrations/webhook/{id}`, one per id.
    pub webhooks: Vec<InboundWebhook>,
}

impl IntegrationSettings {
    pub fn webhook(&self, id: &str) -> Option<&InboundWebhook> {
        self.webhooks.iter().find(|w| w.id.as_str() == id)
    }
}

/// How many requests an integration may make: a token bucket of `burst`, refilled at
/// `per_minute`. Each node keeps its own (an integration usually posts to one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

impl Default for RateLimit {
    /// Alertmanager posts once per alert group and `group_interval` (5 minutes by
    /// default), Uptime Kuma once per monitor change: 60 a minute is a flood.
    fn default() -> Self {
        RateLimit {
            per_minute: 60,
            burst: 30,
        }
    }
}

/// Severities and the states they mean when `[integrations.alertmanager.severity]` is not
/// given (Prometheus's usual words). An alert whose severity is missing or not listed
/// means [`UNLISTED_SEVERITY`].
pub const DEFAULT_SEVERITIES: [(&str, ComponentState); 4] = [
    ("critical", ComponentState::MajorOutage),
    ("warning", ComponentState::DegradedPerformance),
    ("info", ComponentState::Operational),
    ("none", ComponentState::Operational),
];

/// The state of an alert whose severity the map does not list: the mildest trouble, so an
/// alert Downbeat cannot weigh never claims an outage on its own.
pub const UNLISTED_SEVERITY: ComponentState = ComponentState::DegradedPerformance;

/// `[integrations.alertmanager]`: routes from alert labels to a service's component, and
/// severities to states.
#[derive(Debug, Clone)]
pub struct AlertmanagerSettings {
    /// Tried in order; the first whose matchers all hold takes the alert.
    pub routes: Vec<AlertRoute>,
    /// The label whose value is the alert's severity (default `severity`).
    pub severity_label: String,
    /// Severity → state.
    pub severities: BTreeMap<String, ComponentState>,
    pub rate_limit: RateLimit,
}

/// What one alert means: the route that took it and the state it gives the route's
/// component.
#[derive(Debug, Clone, Copy)]
pub struct AlertMapping<'a> {
    pub route: &'a AlertRoute,
    pub state: ComponentState,
}

impl AlertmanagerSettings {
    /// The route an alert with `labels` takes and the state it means, or None when no
    /// route takes it. Operational means the alert moves nothing.
    pub fn map<'a>(&'a self, labels: &BTreeMap<String, String>) -> Option<AlertMapping<'a>> {
        let route = self.routes.iter().find(|r| r.matches(labels))?;
        let state = route.state.unwrap_or_else(|| {
            labels
                .get(&self.severity_label)
                .and_then(|s| self.severities.get(s))
                .copied()
                .unwrap_or(UNLISTED_SEVERITY)
        });
        Some(AlertMapping { route, state })
    }
}

/// `[[integrations.alertmanager.route]]`.
#[derive(Debug, Clone)]
pub struct AlertRoute {
    /// Every one must hold (none: every alert).
    pub matchers: Vec<LabelMatcher>,
    pub service: ServiceId,
    pub component: ComponentId,
    /// Instead of the severity's state.
    pub state: Option<ComponentState>,
}

impl AlertRoute {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.iter().all(|m| m.matches(labels))
    }
}

/// One label's test: equal to a value (`match`), or matching a regular expression anchored
/// at both ends (`match_re`), as Alertmanager's own routes do. A missing label is "".
#[derive(Debug, Clone)]
pub struct LabelMatcher {
    pub label: String,
    pub value: MatchValue,
}

#[derive(Debug, Clone)]
pub enum MatchValue {
    Equal(String),
    Regex(Regex),
}

impl LabelMatcher {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.label).map_or("", String::as_str);
        match &self.value {
            MatchValue::Equal(want) => v == want,
            MatchValue::Regex(re) => re.is_match(v),
        }
    }
}

/// `[[integrations.webhook]]`: another monitor posting JSON of its own shape.
#[derive(Debug, Clone)]
pub struct InboundWebhook {
    pub id: Slug,
    pub service: ServiceId,
    pub component: ComponentField,
    /// Read and mapped to a state; operational moves the component back.
    pub state: Field<ComponentState>,
    /// What operators see of the notification (never shown publicly).
    pub message: Option<Pick>,
    pub rate_limit: RateLimit,
}

/// Which component a webhook's notification is about.
#[derive(Debug, Clone)]
pub enum ComponentField {
    /// Always this one (a monitor configured per component).
    Fixed(ComponentId),
    /// Read from the notification.
    Read(Field<ComponentId>),
}

/// Where a value is read in a JSON body: a JSON pointer (RFC 6901, checked), then an
/// optional pattern whose first capture group (or whole match) is the value.
#[derive(Debug, Clone)]
pub struct Pick {
    pub pointer: String,
    pub pattern: Option<Regex>,
}

impl Pick {
    /// The value at the pointer as text (a string as it is, a number or a boolean as JSON
    /// writes it), through the pattern; None when absent, null, an array or an object, or
    /// when the pattern does not match.
    pub fn read(&self, body: &serde_json::Value) -> Option<String> {
        let text = match body.pointer(&self.pointer)? {
            serde_json::Value::String(s) => s.clone(),
            v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => v.to_string(),
            _ => return None,
        };
        let Some(re) = &self.pattern else {
            return Some(text);
        };
        let caps = re.captures(&text)?;
        caps.get(1)
            .or_else(|| caps.get(0))
            .map(|m| m.as_str().to_owned())
    }
}

/// A value read with a [`Pick`] and mapped to a config word. An empty map takes the value
/// itself as the word.
#[derive(Debug, Clone)]
pub struct Field<T> {
    pub pick: Pick,
    pub map: BTreeMap<String, T>,
}

/// The states an integration may set (maintenance is for maintenance windows).
const INTEGRATION_STATES: [ComponentState; 4] = [
    ComponentState::Operational,
    ComponentState::DegradedPerformance,
    ComponentState::PartialOutage,
    ComponentState::MajorOutage,
];

/// An integration's state word, or why not.
pub fn integration_state(word: &str) -> Result<ComponentState, String> {
    INTEGRATION_STATES
        .into_iter()
        .find(|s| s.as_str() == word)
        .ok_or_else(|| {
            let shown: String = word.chars().take(40).collect();
            let words: Vec<&str> = INTEGRATION_STATES.iter().map(|s| s.as_str()).collect();
            if word == ComponentState::UnderMaintenance.as_str() {
                format!(
                    "{shown:?} is for maintenance windows; use {}",
                    words.join(", ")
                )
            } else {
                format!(
                    "{shown:?} is not a component state: use {}",
                    words.join(", ")
                )
            }
        })
}

/// What is wrong with a JSON pointer (RFC 6901): "" (the whole body) or `/`-separated
/// reference tokens in which `~` is only `~0` or `~1`.
pub fn check_pointer(p: &str) -> Result<(), String> {
    if !p.is_empty() && !p.starts_with('/') {
        return Err(format!(
            "{p:?} is not a JSON pointer (RFC 6901): it starts with / (like /heartbeat/status), or is \"\" for the whole body"
        ));
    }
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(format!(
                "{p:?} is not a JSON pointer (RFC 6901): ~ is written ~0 and / inside a name ~1"
            ));
        }
    }
    Ok(())
}

/// Whether `name` is a Prometheus label name.
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Most routes and webhooks (each notification is matched against every route).
const MAX_RULES: usize = 200;

impl Validator<'_> {
    pub(crate) fn integrations(
        &self,
        raw: RawIntegrations,
        services: &[ServiceConfig],
    ) -> Result<IntegrationSettings, ConfigError> {
        let alertmanager = raw
            .alertmanager
            .map(|a| self.alertmanager(a, services))
            .transpose()?;
        if raw.webhook.len() > MAX_RULES {
            return Err(self.err(
                "integrations.webhook",
                format!("at most {MAX_RULES} webhooks"),
            ));
        }
        let mut webhooks: Vec<InboundWebhook> = Vec::with_capacity(raw.webhook.len());
        for (i, w) in raw.webhook.into_iter().enumerate() {
            let w = self.inbound_webhook(i, w, services)?;
            if webhooks.iter().any(|o| o.id == w.id) {
                return Err(self.err(
                    format!("integrations.webhook[{i}].id"),
                    format!("duplicate webhook id {:?}", w.id.as_str()),
                ));
            }
            webhooks.push(w);
        }
        Ok(IntegrationSettings {
            alertmanager,
            webhooks,
        })
    }

    fn rate_limit(
        &self,
        at: &str,
        per_minute: Option<u32>,
        burst: Option<u32>,
    ) -> Result<RateLimit, ConfigError> {
        let d = RateLimit::default();
        let positive = |k: &str, v: Option<u32>, default: u32| match v {
            Some(0) => Err(self.err(format!("{at}.{k}"), "must be at least 1")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        Ok(RateLimit {
            per_minute: positive("rate_limit_per_minute", per_minute, d.per_minute)?,
            burst: positive("rate_limit_burst", burst, d.burst)?,
        })
    }

    fn alertmanager(
        &self,
        raw: RawAlertmanager,
        services: &[ServiceConfig],
    ) -> Result<AlertmanagerSettings, ConfigError> {
        const AT: &str = "integrations.alertmanager";
        let severity_label = raw.severity_label.unwrap_or_else(|| "severity".into());
        if !is_label_name(&severity_label) {
            return Err(self.err(
                format!("{AT}.severity_label"),
                format!("{severity_label:?} is not a label name (letters, digits and _)"),
            ));
        }
        let severities = match raw.severity {
            None => DEFAULT_SEVERITIES
                .iter()
                .map(|(w, s)| ((*w).to_owned(), *s))
                .collect(),
            Some(map) => map
                .into_iter()
                .map(|(word, state)| {
                    let s = integration_state(&state)
                        .map_err(|e| self.err(format!("{AT}.severity.{word}"), e))?;
                    Ok((word, s))
                })
                .collect::<Result<_, ConfigError>>()?,
        };
        if raw.routes.is_empty() {
            return Err(self.err(
                format!("{AT}.route"),
                "give at least one [[integrations.alertmanager.route]]: without one, no alert moves anything",
            ));
        }
        if raw.routes.len() > MAX_RULES {
            return Err(self.err(format!("{AT}.route"), format!("at most {MAX_RULES} routes")));
        }
        let routes = raw
            .routes
            .into_iter()
            .enumerate()
            .map(|(i, r)| self.route(&format!("{AT}.route[{i}]"), r, services))
            .collect::<Result<_, _>>()?;
        Ok(AlertmanagerSettings {
            routes,
            severity_label,
            severities,
            rate_limit: self.rate_limit(AT, raw.rate_limit_per_minute, raw.rate_limit_burst)?,
        })
    }

    fn route(
        &self,
        at: &str,
        raw: RawRoute,
        services: &[ServiceConfig],
    ) -> Result<AlertRoute, ConfigError> {
        let mut matchers = Vec::with_capacity(raw.equal.len() + raw.match_re.len());
        for (label, value) in raw.equal {
            if !is_label_name(&label) {
                return Err(self.err(
                    format!("{at}.match.{label}"),
                    "is not a label name (letters, digits and _)",
                ));
            }
            matchers.push(LabelMatcher {
                label,
                value: MatchValue::Equal(value),
            });
        }
        for (label, re) in raw.match_re {
            let key = format!("{at}.match_re.{label}");
            if !is_label_name(&label) {
                return Err(self.err(key, "is not a label name (letters, digits and _)"));
            }
            Regex::new(&re)
                .map_err(|e| self.err(&key, format!("not a regular expression: {e}")))?;
            // Anchored at both ends, as Alertmanager anchors its own.
            let anchored = Regex::new(&format!("^(?:{re})$"))
                .map_err(|e| self.err(&key, format!("not a regular expression: {e}")))?;
            matchers.push(LabelMatcher {
                label,
                value: MatchValue::Regex(anchored),
            });
        }
        let (service, component) =
            self.service_component(at, &raw.service, &raw.component, services)?;
        let state = raw
            .state
            .map(|s| integration_state(&s).map_err(|e| self.err(format!("{at}.state"), e)))
            .transpose()?;
        Ok(AlertRoute {
            matchers,
            service,
            component,
            state,
        })
    }

    /// A service by id and one of its components, each error naming its key.
    fn service_component(
        &self,
        at: &str,
        service: &str,
        component: &str,
        services: &[ServiceConfig],
    ) -> Result<(ServiceId, ComponentId), ConfigError> {
        let svc = self.known_service(&format!("{at}.service"), service, services)?;
        let c =
            known_component(svc, component).map_err(|e| self.err(format!("{at}.component"), e))?;
        Ok((svc.id.clone(), c))
    }

    fn known_service<'s>(
        &self,
        key: &str,
        id: &str,
        services: &'s [ServiceConfig],
    ) -> Result<&'s ServiceConfig, ConfigError> {
        services
            .iter()
            .find(|s| s.id.as_str() == id)
            .ok_or_else(|| self.err(key, format!("no [[service]] has id {id:?}")))
    }

    fn inbound_webhook(
        &self,
        i: usize,
        raw: RawInboundWebhook,
        services: &[ServiceConfig],
    ) -> Result<InboundWebhook, ConfigError> {
        let at = format!("integrations.webhook[{i}]");
        let key = |k: &str| format!("{at}.{k}");
        let id = Slug::parse(&raw.id).map_err(|e| self.err(key("id"), e))?;
        let svc = self.known_service(&key("service"), &raw.service, services)?;
        if svc.components.is_empty() {
            return Err(self.err(
                key("service"),
                format!(
                    "{:?} has no [[service.component]]: a webhook moves a component's state",
                    svc.id.as_str()
                ),
            ));
        }
        let component = match raw.component {
            toml::Value::String(c) => ComponentField::Fixed(
                known_component(svc, &c).map_err(|e| self.err(key("component"), e))?,
            ),
            toml::Value::Table(t) => {
                let field: RawField = t
                    .try_into()
                    .map_err(|e: toml::de::Error| self.err(key("component"), e.message()))?;
                ComponentField::Read(
                    self.field(&key("component"), field, |c| known_component(svc, c))?,
                )
            }
            _ => {
                return Err(self.err(
                    key("component"),
                    "give a component id (\"login\") or where to read it: { pointer = \"/monitor/name\", map = { … } }",
                ));
            }
        };
        let state = self.field(&key("state"), raw.state, integration_state)?;
        let message = raw
            .message
            .map(|m| {
                if !m.map.is_empty() {
                    return Err(
                        self.err(key("message.map"), "a message is shown as read, not mapped")
                    );
                }
                self.pick(&key("message"), m.pointer, m.pattern)
            })
            .transpose()?;
        Ok(InboundWebhook {
            id,
            service: svc.id.clone(),
            component,
            state,
            message,
            rate_limit: self.rate_limit(&at, raw.rate_limit_per_minute, raw.rate_limit_burst)?,
        })
    }

    fn pick(
        &self,
        at: &str,
        pointer: String,
        pattern: Option<String>,
    ) -> Result<Pick, ConfigError> {
        check_pointer(&pointer).map_err(|e| self.err(format!("{at}.pointer"), e))?;
        let pattern = pattern
            .map(|p| {
                let key = format!("{at}.pattern");
                let re = Regex::new(&p)
                    .map_err(|e| self.err(&key, format!("not a regular expression: {e}")))?;
                // The value is the first group: a second one would be ignored silently.
                if re.captures_len() > 2 {
                    return Err(self.err(
                        key,
                        "has more than one capture group: the value is the first; write the others (?:…)",
                    ));
                }
                Ok(re)
            })
            .transpose()?;
        Ok(Pick { pointer, pattern })
    }

    fn field<T>(
        &self,
        at: &str,
        raw: RawField,
        word: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Field<T>, ConfigError> {
        let pick = self.pick(at, raw.pointer, raw.pattern)?;
        let map = raw
            .map
            .into_iter()
            .map(|(read, w)| {
                let v = word(&w).map_err(|e| self.err(format!("{at}.map.{read:?}"), e))?;
                Ok((read, v))
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Field { pick, map })
    }
}

/// One of the service's components, or why not.
pub fn known_component(service: &ServiceConfig, id: &str) -> Result<ComponentId, String> {
    if let Some(c) = service.components.iter().find(|c| c.id.as_str() == id) {
        return Ok(c.id.clone());
    }
    let shown: String = id.chars().take(64).collect();
    let known: Vec<&str> = service.components.iter().map(|c| c.id.as_str()).collect();
    Err(if known.is_empty() {
        format!(
            "{shown:?}: service {:?} has no components",
            service.id.as_str()
        )
    } else {
        format!(
            "{shown:?} is not a component of {:?}; its components: {}",
            service.id.as_str(),
            known.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_str;
    use serde_json::json;

    const SVC: &str = "[[service]]\nid = \"melodia\"\nname = \"Melodia\"\n\
        [[service.component]]\nid = \"login\"\nname = \"Login\"\n\
        [[service.component]]\nid = \"search\"\nname = \"Search\"\n\
        [[service]]\nid = \"bare\"\nname = \"Bare\"\n";

    fn parse(extra: &str) -> IntegrationSettings {
        parse_str(&format!("{SVC}{extra}"), "t.toml")
            .unwrap_or_else(|e| panic!("{e}"))
            .integrations
    }

    fn err(extra: &str) -> String {
        parse_str(&format!("{SVC}{extra}"), "t.toml")
            .unwrap_err()
            .to_string()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn alerts_take_the_first_route_whose_matchers_all_hold() {
        let i = parse(
            "[integrations.alertmanager]\n\
             [[integrations.alertmanager.route]]\nmatch = { alertname = \"LoginErrors\", team = \"auth\" }\nservice = \"melodia\"\ncomponent = \"login\"\n\
             [[integrations.alertmanager.route]]\nmatch_re = { alertname = \"Search.*|Index.*\" }\nservice = \"melodia\"\ncomponent = \"search\"\n\
             [[integrations.alertmanager.route]]\nmatch = { alertname = \"Slow\" }\nservice = \"melodia\"\ncomponent = \"search\"\nstate = \"partial_outage\"\n",
        );
        let am = i.alertmanager.unwrap();
        let at = |l: &[(&str, &str)]| {
            am.map(&labels(l))
                .map(|m| (m.route.component.as_str().to_owned(), m.state))
        };
        use ComponentState::*;
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<(&'a str, ComponentState)>);
        let cases: &[Case] = &[
            (
                &[
                    ("alertname", "LoginErrors"),
                    ("team", "auth"),
                    ("severity", "critical"),
                ],
                Some(("login", MajorOutage)),
            ),
            // Every matcher must hold.
            (
                &[("alertname", "LoginErrors"), ("severity", "critical")],
                None,
            ),
            (
                &[("alertname", "SearchLatency"), ("severity", "warning")],
                Some(("search", DegradedPerformance)),
            ),
            // Anchored: a regex matches the whole value.
            (&[("alertname", "BigSearchLatency")], None),
            // Unlisted or missing severity: the mildest trouble; info moves nothing.
            (
                &[("alertname", "IndexStale"), ("severity", "page")],
                Some(("search", DegradedPerformance)),
            ),
            (
                &[("alertname", "IndexStale")],
                Some(("search", DegradedPerformance)),
            ),
            (
                &[("alertname", "IndexStale"), ("severity", "info")],
                Some(("search", Operational)),
            ),
            // A route's own state wins over the severity.
            (
                &[("alertname", "Slow"), ("severity", "critical")],
                Some(("search", PartialOutage)),
            ),
        ];
        for (l, want) in cases {
            assert_eq!(at(l), want.map(|(c, s)| (c.to_owned(), s)), "{l:?}");
        }
        assert_eq!(am.rate_limit, RateLimit::default());
        assert!(i.webhooks.is_empty());
    }

    #[test]
    fn a_severity_map_replaces_the_defaults() {
        let am = parse(
            "[integrations.alertmanager]\nseverity_label = \"priority\"\nrate_limit_per_minute = 5\n\
             [integrations.alertmanager.severity]\nP1 = \"major_outage\"\nP2 = \"partial_outage\"\n\
             [[integrations.alertmanager.route]]\nservice = \"melodia\"\ncomponent = \"login\"\n",
        )
        .alertmanager
        .unwrap();
        let state = |l: &[(&str, &str)]| am.map(&labels(l)).unwrap().state;
        assert_eq!(state(&[("priority", "P2")]), ComponentState::PartialOutage);
        assert_eq!(
            state(&[("severity", "critical")]),
            UNLISTED_SEVERITY,
            "the severity label is `priority` now, and critical is not listed"
        );
        assert_eq!(am.rate_limit.per_minute, 5);
    }

    #[test]
    fn webhook_fields_read_pointers_patterns_and_maps() {
        let i = parse(
            "[[integrations.webhook]]\nid = \"uptime-kuma\"\nservice = \"melodia\"\n\
             component = { pointer = \"/monitor/name\", map = { \"Melodia login\" = \"login\" } }\n\
             state = { pointer = \"/heartbeat/status\", map = { \"0\" = \"major_outage\", \"1\" = \"operational\" } }\n\
             message = { pointer = \"/heartbeat/msg\" }\n\
             [[integrations.webhook]]\nid = \"gatus\"\nservice = \"melodia\"\ncomponent = \"search\"\n\
             state = { pointer = \"/text\", pattern = '^(TRIGGERED|RESOLVED):', map = { TRIGGERED = \"partial_outage\", RESOLVED = \"operational\" } }\n\
             [[integrations.webhook]]\nid = \"words\"\nservice = \"melodia\"\n\
             component = { pointer = \"/a~1b/c~0d\" }\nstate = { pointer = \"/state\" }\n",
        );
        let kuma = i.webhook("uptime-kuma").unwrap();
        let body = json!({"heartbeat": {"status": 0, "msg": "timeout"}, "monitor": {"name": "Melodia login"}});
        assert_eq!(kuma.state.pick.read(&body).as_deref(), Some("0"));
        assert_eq!(kuma.state.map["0"], ComponentState::MajorOutage);
        let ComponentField::Read(c) = &kuma.component else {
            panic!("read from the body")
        };
        assert_eq!(c.pick.read(&body).as_deref(), Some("Melodia login"));
        assert_eq!(c.map["Melodia login"].as_str(), "login");
        assert_eq!(
            kuma.message.as_ref().unwrap().read(&body).as_deref(),
            Some("timeout")
        );
        // Absent, null and structured values read as nothing.
        for b in [
            json!({}),
            json!({"heartbeat": null}),
            json!({"heartbeat": {"status": [0]}}),
        ] {
            assert_eq!(kuma.state.pick.read(&b), None, "{b}");
        }

        let gatus = i.webhook("gatus").unwrap();
        assert!(matches!(&gatus.component, ComponentField::Fixed(c) if c.as_str() == "search"));
        let text = |t: &str| json!({ "text": t });
        assert_eq!(
            gatus
                .state
                .pick
                .read(&text("RESOLVED: core - search - x"))
                .as_deref(),
            Some("RESOLVED")
        );
        assert_eq!(gatus.state.pick.read(&text("all fine")), None);

        let words = i.webhook("words").unwrap();
        let ComponentField::Read(c) = &words.component else {
            panic!()
        };
        assert_eq!(
            c.pick.read(&json!({"a/b": {"c~d": "login"}})).as_deref(),
            Some("login"),
            "~1 is / and ~0 is ~"
        );
        assert!(
            words.state.map.is_empty(),
            "the value is the state word itself"
        );
    }

    /// The example file's `[integrations]`, uncommented, is a valid config that reads the
    /// payloads it names: Uptime Kuma's, and Gatus's documented custom-provider body.
    #[test]
    fn the_examples_integrations_uncommented_are_valid() {
        let (head, tail) = crate::EXAMPLE
            .split_once("# [integrations.alertmanager]")
            .expect("the example shows [integrations]");
        let setting = Regex::new(r"^(\[|[a-z_]+ = )").unwrap();
        let tail: Vec<String> = format!("# [integrations.alertmanager]{tail}")
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(t) if setting.is_match(t) => t.to_owned(),
                _ => l.to_owned(),
            })
            .collect();
        let c = parse_str(&format!("{head}{}", tail.join("\n")), "example").unwrap();
        let i = &c.integrations;
        assert_eq!(i.alertmanager.as_ref().unwrap().routes.len(), 2);
        let gatus = i.webhook("gatus").unwrap();
        let ComponentField::Read(component) = &gatus.component else {
            panic!("gatus reads its component")
        };
        for (group, text) in [
            (
                "core",
                "TRIGGERED: core - login-api - health check failed - [STATUS] (500) == 200",
            ),
            ("none", "TRIGGERED:  - login-api - health check failed - "),
        ] {
            let body = json!({ "text": text });
            assert_eq!(
                component.pick.read(&body).as_deref(),
                Some("login-api"),
                "{group}"
            );
            assert_eq!(gatus.state.pick.read(&body).as_deref(), Some("TRIGGERED"));
        }
        let kuma = i.webhook("uptime-kuma").unwrap();
        assert_eq!(kuma.state.map["0"], ComponentState::MajorOutage);
    }

    #[test]
    fn bad_integrations_are_refused_naming_the_key() {
        let route = |body: &str| {
            format!("[integrations.alertmanager]\n[[integrations.alertmanager.route]]\n{body}\n")
        };
        let hook = |body: &str| format!("[[integrations.webhook]]\nid = \"kuma\"\n{body}\n");
        let cases: Vec<(String, &str, &str)> = vec![
            (
                "[integrations.alertmanager]\n".into(),
                "integrations.alertmanager.route",
                "at least one",
            ),
            (
                route("service = \"nope\"\ncomponent = \"login\""),
                "integrations.alertmanager.route[0].service",
                "no [[service]] has id \"nope\"",
            ),
            (
                route("service = \"melodia\"\ncomponent = \"billing\""),
                "integrations.alertmanager.route[0].component",
                "its components: login, search",
            ),
            (
                route("service = \"melodia\"\ncomponent = \"login\"\nstate = \"down\""),
                "integrations.alertmanager.route[0].state",
                "not a component state",
            ),
            (
                route("service = \"melodia\"\ncomponent = \"login\"\nstate = \"under_maintenance\""),
                "integrations.alertmanager.route[0].state",
                "maintenance windows",
            ),
            (
                route("service = \"melodia\"\ncomponent = \"login\"\nmatch = { \"alert-name\" = \"x\" }"),
                "integrations.alertmanager.route[0].match.alert-name",
                "label name",
            ),
            (
                route("service = \"melodia\"\ncomponent = \"login\"\nmatch_re = { instance = \"auth-(\" }"),
                "integrations.alertmanager.route[0].match_re.instance",
                "regular expression",
            ),
            (
                route("service = \"melodia\"\ncomponent = \"login\"\nmatchers = [\"a=b\"]"),
                "integrations.alertmanager.route[0].matchers",
                "unknown field",
            ),
            (
                "[integrations.alertmanager]\nrate_limit_burst = 0\n[[integrations.alertmanager.route]]\nservice = \"melodia\"\ncomponent = \"login\"\n".into(),
                "integrations.alertmanager.rate_limit_burst",
                "at least 1",
            ),
            (
                "[integrations.alertmanager.severity]\ncritical = \"red\"\n[[integrations.alertmanager.route]]\nservice = \"melodia\"\ncomponent = \"login\"\n".into(),
                "integrations.alertmanager.severity.critical",
                "not a component state",
            ),
            (
                hook("service = \"melodia\"\ncomponent = \"login\"\nstate = { pointer = \"heartbeat/status\" }"),
                "integrations.webhook[0].state.pointer",
                "starts with /",
            ),
            (
                hook("service = \"melodia\"\ncomponent = \"login\"\nstate = { pointer = \"/a~2\" }"),
                "integrations.webhook[0].state.pointer",
                "~0",
            ),
            (
                hook("service = \"melodia\"\ncomponent = \"login\"\nstate = { pointer = \"/s\", map = { \"0\" = \"broken\" } }"),
                "integrations.webhook[0].state.map.\"0\"",
                "not a component state",
            ),
            (
                hook("service = \"melodia\"\ncomponent = { pointer = \"/m\", map = { \"Login API\" = \"auth\" } }\nstate = { pointer = \"/s\" }"),
                "integrations.webhook[0].component.map.\"Login API\"",
                "not a component of \"melodia\"",
            ),
            (
                hook("service = \"melodia\"\ncomponent = { pointer = \"/m\", where = 1 }\nstate = { pointer = \"/s\" }"),
                "integrations.webhook[0].component",
                "where",
            ),
            (
                hook("service = \"melodia\"\ncomponent = 3\nstate = { pointer = \"/s\" }"),
                "integrations.webhook[0].component",
                "component id",
            ),
            (
                hook("service = \"bare\"\ncomponent = { pointer = \"/m\" }\nstate = { pointer = \"/s\" }"),
                "integrations.webhook[0].service",
                "has no [[service.component]]",
            ),
            (
                hook("service = \"melodia\"\ncomponent = \"login\"\nstate = { pointer = \"/s\", pattern = '(a)(b)' }"),
                "integrations.webhook[0].state.pattern",
                "more than one capture group",
            ),
            (
                hook("service = \"melodia\"\ncomponent = \"login\"\nstate = { pointer = \"/s\" }\nmessage = { pointer = \"/m\", map = { a = \"b\" } }"),
                "integrations.webhook[0].message.map",
                "not mapped",
            ),
            (
                format!(
                    "{}{}",
                    hook("service = \"melodia\"\ncomponent = \"login\"\nstate = { pointer = \"/s\" }"),
                    hook("service = \"melodia\"\ncomponent = \"login\"\nstate = { pointer = \"/s\" }")
                ),
                "integrations.webhook[1].id",
                "duplicate webhook id \"kuma\"",
            ),
            (
                "[[integrations.webhook]]\nid = \"Kuma!\"\nservice = \"melodia\"\ncomponent = \"login\"\nstate = { pointer = \"/s\" }\n".into(),
                "integrations.webhook[0].id",
                "lowercase",
            ),
        ];
        for (extra, key, says) in cases {
            let e = err(&extra);
            assert!(
                e.contains(&format!("key `{key}`")) && e.contains(says),
                "{extra}\n→ {e}"
            );
        }
    }
}
