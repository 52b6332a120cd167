//! The config an import writes: services and their components, monitors, notification
//! destinations. Ids are unique slugs made from names; every monitor is checked by the
//! probe crate before it is written, so a definition Downbeat would refuse becomes a
//! [`Skipped`] line instead of a broken config.

use downbeat_probe::{ProbeDef, ProbeSpec};
use toml::{Table, Value};

use crate::Skipped;
use crate::slug::Slugs;

/// Downbeat's interval bounds (`monitor.interval`) and longest timeout, in seconds.
const MIN_INTERVAL: u64 = 5;
const MAX_INTERVAL: u64 = 86_400;
const MAX_TIMEOUT_MS: u64 = 120_000;

/// A monitor to write: where it belongs, how often it runs and what it probes.
#[derive(Clone, Debug)]
pub struct Monitor {
    pub name: String,
    pub service: String,
    pub component: Option<String>,
    /// Seconds between rounds as the source said (None: Downbeat's default, 60 s).
    pub interval_secs: Option<f64>,
    /// The probe's timeout in seconds as the source said (None or 0: Downbeat's default).
    pub timeout_secs: Option<f64>,
    pub probe: ProbeDef,
}

/// A chat, push or signed-JSON destination.
#[derive(Clone, Debug, Default)]
pub struct Webhook {
    pub name: String,
    pub url: String,
    /// `downbeat`, `slack`, `discord`, `mattermost`, `teams` or `ntfy`.
    pub format: String,
    pub token: Option<String>,
    /// Event types or families; empty for every event.
    pub events: Vec<String>,
}

/// The SMTP relay every mail goes through.
#[derive(Clone, Debug, Default)]
pub struct Smtp {
    pub host: String,
    pub port: Option<u16>,
    /// `starttls`, `implicit` or `none`.
    pub tls: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
}

#[derive(Debug, Default)]
struct Service {
    id: String,
    name: String,
    components: Vec<(String, String, Option<String>)>,
    component_ids: Slugs,
}

/// The config being written.
#[derive(Debug, Default)]
pub struct Builder {
    services: Vec<Service>,
    service_ids: Slugs,
    monitors: Vec<Table>,
    monitor_ids: Slugs,
    webhooks: Vec<Table>,
    emails: Vec<Table>,
    destination_ids: Slugs,
    smtp: Option<Smtp>,
    /// What was not carried over, in the order it was met.
    pub skipped: Vec<Skipped>,
}

impl Builder {
    /// Notes that something at `at` was not carried over (or not exactly).
    pub fn skip(&mut self, at: impl Into<String>, what: impl Into<String>) {
        self.skipped.push(Skipped {
            at: at.into(),
            what: what.into(),
        });
    }

    /// A new service; returns its id.
    pub fn service(&mut self, name: &str) -> String {
        let name = text(name, 100).unwrap_or_else(|| "Imported".into());
        let id = self.service_ids.allocate(&name, "service");
        self.services.push(Service {
            id: id.clone(),
            name,
            ..Service::default()
        });
        id
    }

    /// A new component of `service`; returns its id.
    pub fn component(&mut self, service: &str, name: &str, description: Option<&str>) -> String {
        let svc = self
            .services
            .iter_mut()
            .find(|s| s.id == service)
            .expect("components are added to services the builder made");
        let name = text(name, 100).unwrap_or_else(|| "Component".into());
        let id = svc.component_ids.allocate(&name, "component");
        let description = description.and_then(|d| text(d, 500));
        svc.components.push((id.clone(), name, description));
        id
    }

    /// Adds a monitor, or notes at `at` why Downbeat cannot run it. Returns its id.
    pub fn monitor(&mut self, at: &str, m: Monitor) -> Option<String> {
        if let Err(e) = ProbeSpec::parse(m.probe.clone()) {
            self.skip(at, format!("not carried over: {e}"));
            return None;
        }
        let mut table = match Table::try_from(&m.probe) {
            Ok(t) => t,
            Err(e) => {
                self.skip(at, format!("not carried over: {e}"));
                return None;
            }
        };
        let interval = match m.interval_secs.filter(|s| s.is_finite() && *s > 0.0) {
            None => 60,
            Some(s) => {
                let secs = s.round() as u64;
                let kept = secs.clamp(MIN_INTERVAL, MAX_INTERVAL);
                if kept != secs {
                    self.skip(
                        format!("{at}.interval"),
                        format!(
                            "{secs}s is outside Downbeat's {MIN_INTERVAL}s to 1d: set to {}",
                            span(kept * 1000)
                        ),
                    );
                }
                table.insert("interval".into(), Value::String(span(kept * 1000)));
                kept
            }
        };
        if let Some(t) = m.timeout_secs.filter(|t| t.is_finite() && *t > 0.0) {
            let ms = ((t * 1000.0).round() as u64).max(1);
            let most = MAX_TIMEOUT_MS.min(interval * 1000);
            if ms > most {
                self.skip(
                    format!("{at}.timeout"),
                    format!(
                        "{} is longer than Downbeat allows here (at most the interval and 2m): set to {}",
                        span(ms),
                        span(most)
                    ),
                );
            }
            table.insert("timeout".into(), Value::String(span(ms.min(most))));
        }
        let id = self.monitor_ids.allocate(&m.name, "monitor");
        table.insert("id".into(), Value::String(id.clone()));
        table.insert("service".into(), Value::String(m.service));
        if let Some(c) = m.component {
            table.insert("component".into(), Value::String(c));
        }
        self.monitors.push(table);
        Some(id)
    }

    /// Adds a `[[notify.webhook]]`, or notes at `at` why its URL cannot be used. A
    /// `downbeat`-format destination gets a new random signing secret (a note says so).
    pub fn webhook(&mut self, at: &str, w: Webhook) -> Option<String> {
        if let Err(why) = check_url(&w.url) {
            self.skip(at, format!("not carried over: its URL {why}"));
            return None;
        }
        if let Some(t) = &w.token
            && (t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            self.skip(at, "not carried over: its token is empty or has spaces");
            return None;
        }
        let id = self.destination_ids.allocate(&w.name, "webhook");
        let mut t = Table::new();
        t.insert("id".into(), Value::String(id.clone()));
        t.insert("url".into(), Value::String(w.url));
        t.insert("format".into(), Value::String(w.format.clone()));
        if w.format == "downbeat" {
            t.insert("secret".into(), Value::String(new_secret()));
            self.skip(
                at,
                "its receiver gets Downbeat's signed JSON, not the source's payload: give it the new secret",
            );
        }
        if let Some(token) = w.token {
            t.insert("token".into(), Value::String(token));
        }
        if !w.events.is_empty() {
            t.insert("events".into(), strings(w.events));
        }
        self.webhooks.push(t);
        Some(id)
    }

    /// Sets the SMTP relay (the first one given wins; a second, different one is noted).
    /// Returns whether mail can be sent through the relay now set.
    pub fn smtp(&mut self, at: &str, s: Smtp) -> bool {
        if let Some(existing) = &self.smtp {
            if existing.host != s.host || existing.from != s.from {
                self.skip(
                    at,
                    format!(
                        "its relay {} is not carried over: Downbeat sends all mail through one ({})",
                        s.host, existing.host
                    ),
                );
            }
            return true;
        }
        let addr = match (s.from.rfind('<'), s.from.trim_end().ends_with('>')) {
            (Some(i), true) => s.from[i + 1..s.from.trim_end().len() - 1].trim(),
            _ => s.from.trim(),
        };
        if s.host.trim().is_empty()
            || s.host
                .chars()
                .any(|c| c.is_whitespace() || "/@?#".contains(c))
        {
            self.skip(at, "not carried over: no usable SMTP host");
            return false;
        }
        if !downbeat_config::notify::is_email_address(addr) {
            self.skip(
                at,
                format!(
                    "not carried over: the sender {:?} is not a mail address",
                    s.from
                ),
            );
            return false;
        }
        if s.username.is_some() != s.password.is_some() {
            self.skip(
                at,
                "not carried over: SMTP username and password go together",
            );
            return false;
        }
        self.smtp = Some(s);
        true
    }

    /// Adds a `[[notify.email]]` to the valid addresses of `to` (needs a relay set with
    /// [`Builder::smtp`]).
    pub fn email(
        &mut self,
        at: &str,
        name: &str,
        to: &[String],
        events: Vec<String>,
    ) -> Option<String> {
        let mut good = Vec::new();
        for a in to.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
            if downbeat_config::notify::is_email_address(a) {
                good.push(a.to_owned());
            } else {
                self.skip(at, format!("{a:?} is not a mail address: not carried over"));
            }
        }
        if good.is_empty() || self.smtp.is_none() {
            self.skip(at, "not carried over: no mail address or relay to send to");
            return None;
        }
        let id = self.destination_ids.allocate(name, "email");
        let mut t = Table::new();
        t.insert("id".into(), Value::String(id.clone()));
        t.insert("to".into(), strings(good));
        if !events.is_empty() {
            t.insert("events".into(), strings(events));
        }
        self.emails.push(t);
        Some(id)
    }

    /// The config as a TOML table.
    pub fn finish(self) -> (Table, Vec<Skipped>) {
        let mut root = Table::new();
        if !self.services.is_empty() {
            let services = self
                .services
                .into_iter()
                .map(|s| {
                    let mut t = Table::new();
                    t.insert("id".into(), Value::String(s.id));
                    t.insert("name".into(), Value::String(s.name));
                    if !s.components.is_empty() {
                        let cs = s
                            .components
                            .into_iter()
                            .map(|(id, name, description)| {
                                let mut c = Table::new();
                                c.insert("id".into(), Value::String(id));
                                c.insert("name".into(), Value::String(name));
                                if let Some(d) = description {
                                    c.insert("description".into(), Value::String(d));
                                }
                                Value::Table(c)
                            })
                            .collect();
                        t.insert("component".into(), Value::Array(cs));
                    }
                    Value::Table(t)
                })
                .collect();
            root.insert("service".into(), Value::Array(services));
        }
        if !self.monitors.is_empty() {
            let ms = self.monitors.into_iter().map(Value::Table).collect();
            root.insert("monitor".into(), Value::Array(ms));
        }
        let mut notify = Table::new();
        if let Some(s) = self.smtp {
            let mut t = Table::new();
            t.insert("host".into(), Value::String(s.host));
            if let Some(p) = s.port {
                t.insert("port".into(), Value::Integer(p.into()));
            }
            t.insert("tls".into(), Value::String(s.tls));
            if let (Some(u), Some(p)) = (s.username, s.password) {
                t.insert("username".into(), Value::String(u));
                t.insert("password".into(), Value::String(p));
            }
            t.insert("from".into(), Value::String(s.from));
            notify.insert("smtp".into(), Value::Table(t));
            // Mail subscriptions follow a relay by default and then need public_url, which
            // no source knows: leave them off until the operator sets it.
            let mut subs = Table::new();
            subs.insert("email".into(), Value::Boolean(false));
            notify.insert("subscribers".into(), Value::Table(subs));
        }
        if !self.webhooks.is_empty() {
            let ws = self.webhooks.into_iter().map(Value::Table).collect();
            notify.insert("webhook".into(), Value::Array(ws));
        }
        if !self.emails.is_empty() {
            let es = self.emails.into_iter().map(Value::Table).collect();
            notify.insert("email".into(), Value::Array(es));
        }
        if !notify.is_empty() {
            root.insert("notify".into(), Value::Table(notify));
        }
        (root, self.skipped)
    }
}

/// Text shown on pages: control characters replaced, trimmed, at most `max` characters;
/// None when nothing is left.
pub fn text(s: &str, max: usize) -> Option<String> {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let t: String = flat.trim().chars().take(max).collect();
    let t = t.trim_end().to_owned();
    (!t.is_empty()).then_some(t)
}

/// A duration in milliseconds as Downbeat's config writes it: `30s`, `5m`, `2h`, `800ms`.
pub fn span(ms: u64) -> String {
    match ms {
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

/// Why a destination URL is unusable (Downbeat's own rule: absolute http(s), a host, no
/// user info, no spaces).
fn check_url(u: &str) -> Result<(), &'static str> {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or("does not start with http:// or https://")?;
    if u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains spaces");
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') {
        return Err("names no host (or a user and password)");
    }
    Ok(())
}

fn strings(v: Vec<String>) -> Value {
    Value::Array(v.into_iter().map(Value::String).collect())
}

/// 32 hex digits from the operating system's randomness.
fn new_secret() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_written_in_the_largest_whole_unit() {
        for (ms, want) in [
            (800, "800ms"),
            (5000, "5s"),
            (90_000, "90s"),
            (300_000, "5m"),
            (7_200_000, "2h"),
        ] {
            assert_eq!(span(ms), want);
            downbeat_domain::Span::parse(want).expect("Downbeat reads it");
        }
    }
}
