//! Gatus's YAML config: `endpoints` (with their conditions, groups, DNS queries and
//! maintenance windows), `alerting` providers, `maintenance` and `announcements`.
//!
//! All endpoints go to one service, `Gatus`, whose components are the endpoint groups.
//! Conditions become the expectations of Downbeat's probe where there is one; each other
//! condition is a [`crate::Skipped`] line naming its path (`endpoints[2].conditions[1]`).

use std::collections::HashMap;
use std::path::Path;

use downbeat_domain::incident::{Impact, Status};
use downbeat_probe::{ProbeDef, ProbeKind};
use serde_json::Value;

use crate::builder::{Builder, Monitor, Smtp, Webhook};
use crate::history::{History, IncidentUpdate, Maintenance, MaintenanceWindow, PastIncident};
use crate::uptime_kuma::{json_pointer, scalar};
use crate::{ImportError, Imported, read, shown};

const EXPECTED: &str = "Gatus's config.yaml, with an endpoints list";

/// Reads a Gatus config file.
pub fn import(path: &Path) -> Result<Imported, ImportError> {
    let file = shown(path);
    let text = read(path)?;
    let root: Value = yaml_serde::from_str(&text).map_err(|e| ImportError::Syntax {
        file: file.clone(),
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    })?;
    let wrong = |reason: &str| ImportError::WrongKind {
        file: file.clone(),
        what: "a Gatus config",
        reason: reason.to_owned(),
        expected: EXPECTED,
    };
    let Some(top) = root.as_object() else {
        return Err(wrong("it is not a YAML mapping"));
    };
    let endpoints = match top.get("endpoints") {
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(ImportError::Invalid {
                file,
                key: "endpoints".into(),
                message: "must be a list of endpoints".into(),
            });
        }
        None => return Err(wrong("no endpoints")),
    };
    let mut g = Gatus::default();
    g.service = g.b.service("Gatus");
    for (i, e) in endpoints.iter().enumerate() {
        g.endpoint(i, e);
    }
    for (key, value) in top {
        match key.as_str() {
            "endpoints" => {}
            "alerting" => g.alerting(value),
            "maintenance" => {
                if let Some(w) = window(value) {
                    g.history.maintenance.push(Maintenance {
                        service: g.service.clone(),
                        components: Vec::new(),
                        title: "Maintenance".into(),
                        description: None,
                        window: w,
                        updates: Vec::new(),
                    });
                }
            }
            "announcements" => g.announcements(value),
            "external-endpoints" => {
                for (i, e) in value
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                {
                    let name = e.get("name").and_then(Value::as_str).unwrap_or("?");
                    g.b.skip(
                        format!("external-endpoints[{i}] {name:?}"),
                        "not carried over: Downbeat has no push (external) monitor yet",
                    );
                }
            }
            other => {
                g.b.skip(other, "not carried over: a setting of Gatus itself")
            }
        }
    }
    let (config, skipped) = g.b.finish();
    Ok(Imported {
        config,
        history: g.history,
        skipped,
    })
}

#[derive(Default)]
struct Gatus {
    b: Builder,
    history: History,
    service: String,
    /// Group name → component id.
    groups: HashMap<String, String>,
}

impl Gatus {
    fn endpoint(&mut self, i: usize, e: &Value) {
        let name = e
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("endpoint")
            .to_owned();
        let at = format!("endpoints[{i}] {name:?}");
        let url = e
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim();
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        let mut def = if let Some(dns) = e.get("dns") {
            let mut d = ProbeDef::new(
                ProbeKind::Dns,
                dns.get("query-name")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            );
            d.dns.record_type = dns
                .get("query-type")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let server = url
                .strip_prefix("udp://")
                .or_else(|| url.strip_prefix("tcp://"))
                .unwrap_or(url);
            if !server.is_empty() {
                d.dns.resolver = Some(server.to_owned());
            }
            d
        } else if e.get("grpc").is_some() {
            self.b.skip(
                at,
                "not carried over: Gatus's grpc client settings have no equivalent; a kind = \"grpc\" monitor checks grpc.health.v1 (add it by hand)",
            );
            return;
        } else {
            match scheme.as_deref() {
                Some("http" | "https") => {
                    let mut d = ProbeDef::new(ProbeKind::Http, url);
                    let client = e.get("client");
                    let ignore = client
                        .and_then(|c| c.get("ignore-redirect"))
                        .and_then(Value::as_bool)
                        == Some(true);
                    // Gatus follows redirects unless told not to.
                    d.http.max_redirects = Some(if ignore {
                        0
                    } else {
                        downbeat_probe::spec::MAX_REDIRECTS
                    });
                    d
                }
                Some("tcp") => ProbeDef::new(ProbeKind::Tcp, &url["tcp://".len()..]),
                Some("tls") => ProbeDef::new(ProbeKind::Tls, &url["tls://".len()..]),
                Some("icmp") => ProbeDef::new(ProbeKind::Ping, &url["icmp://".len()..]),
                Some(other) => {
                    self.b.skip(
                        at,
                        format!("not carried over: Downbeat has no {other}:// monitor"),
                    );
                    return;
                }
                None => {
                    self.b.skip(
                        at,
                        format!("not carried over: {url:?} is not a URL Downbeat probes"),
                    );
                    return;
                }
            }
        };
        if def.kind == ProbeKind::Http {
            if let Some(m) = e.get("method").and_then(Value::as_str)
                && !m.eq_ignore_ascii_case("GET")
            {
                def.http.method = Some(m.to_ascii_uppercase());
            }
            if let Some(h) = e.get("headers").and_then(Value::as_object) {
                for (k, v) in h {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    def.http.headers.insert(k.clone(), v);
                }
            }
            if e.get("body")
                .and_then(Value::as_str)
                .is_some_and(|b| !b.trim().is_empty())
            {
                self.b.skip(
                    format!("endpoints[{i}].body"),
                    "not carried over: Downbeat's http probe sends no request body",
                );
            }
        }
        if e.get("client")
            .and_then(|c| c.get("insecure"))
            .and_then(Value::as_bool)
            == Some(true)
        {
            self.b.skip(
                format!("endpoints[{i}].client.insecure"),
                "not carried over: Downbeat always verifies certificates (trust a private CA with ca_pem)",
            );
        }
        if e.get("enabled").and_then(Value::as_bool) == Some(false) {
            self.b.skip(
                format!("endpoints[{i}].enabled"),
                "disabled in Gatus: not carried over, the monitor runs in Downbeat",
            );
        }
        let conditions = e
            .get("conditions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut codes: Vec<String> = Vec::new();
        for (j, c) in conditions.iter().enumerate() {
            let text = match c {
                Value::String(s) => s.trim().to_owned(),
                other => other.to_string(),
            };
            let cat = format!("endpoints[{i}].conditions[{j}] {text:?}");
            if let Err(why) = condition(&text, &mut def, &mut codes) {
                self.b.skip(cat, format!("not carried over: {why}"));
            }
        }
        if !codes.is_empty() {
            def.http.expect_status = Some(codes.join(","));
        }
        let component = e
            .get("group")
            .and_then(Value::as_str)
            .filter(|g| !g.trim().is_empty())
            .map(|g| self.group(g));
        let windows = e
            .get("maintenance-windows")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for w in windows.iter().filter_map(window) {
            self.history.maintenance.push(Maintenance {
                service: self.service.clone(),
                components: component.iter().cloned().collect(),
                title: format!("Maintenance of {name}"),
                description: None,
                window: w,
                updates: Vec::new(),
            });
        }
        let interval = e.get("interval").map(duration_secs);
        let timeout = e
            .get("client")
            .and_then(|c| c.get("timeout"))
            .map(duration_secs);
        self.b.monitor(
            &at,
            Monitor {
                name,
                service: self.service.clone(),
                component,
                interval_secs: interval.flatten(),
                timeout_secs: timeout.flatten(),
                probe: def,
            },
        );
    }

    fn group(&mut self, name: &str) -> String {
        if let Some(id) = self.groups.get(name) {
            return id.clone();
        }
        let id = self.b.component(&self.service, name, None);
        self.groups.insert(name.to_owned(), id.clone());
        id
    }

    fn alerting(&mut self, alerting: &Value) {
        let Some(providers) = alerting.as_object() else {
            return;
        };
        let events = vec!["monitor".to_owned()];
        for (kind, p) in providers {
            let at = format!("alerting.{kind}");
            if p.get("overrides").is_some() {
                self.b.skip(
                    format!("{at}.overrides"),
                    "not carried over: Downbeat has no per-group overrides of a destination",
                );
            }
            let insecure = p.get("insecure").and_then(Value::as_bool) == Some(true)
                || p.get("client")
                    .and_then(|c| c.get("insecure"))
                    .and_then(Value::as_bool)
                    == Some(true);
            if insecure {
                self.b.skip(
                    format!("{at}.insecure"),
                    "not carried over: Downbeat always verifies certificates",
                );
            }
            let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
            let hook = |format: &str, url: Option<String>| Webhook {
                name: kind.clone(),
                url: url.unwrap_or_default(),
                format: format.to_owned(),
                token: None,
                events: events.clone(),
            };
            match kind.as_str() {
                "slack" | "discord" | "mattermost" => {
                    self.b.webhook(&at, hook(kind, s("webhook-url")));
                }
                "teams" | "teams-workflows" => {
                    self.b.webhook(&at, hook("teams", s("webhook-url")));
                }
                "ntfy" => {
                    let server = s("url").unwrap_or_else(|| "https://ntfy.sh".into());
                    let topic = s("topic").unwrap_or_default();
                    let mut w = hook(
                        "ntfy",
                        Some(format!("{}/{topic}", server.trim_end_matches('/'))),
                    );
                    w.token = s("token");
                    self.b.webhook(&at, w);
                }
                "custom" => {
                    if p.get("body").is_some() || p.get("headers").is_some() {
                        self.b.skip(
                            format!("{at}.body"),
                            "not carried over: Downbeat posts its own JSON, not a templated body or headers",
                        );
                    }
                    self.b.webhook(&at, hook("downbeat", s("url")));
                }
                "email" => {
                    let port = p
                        .get("port")
                        .and_then(Value::as_u64)
                        .and_then(|p| u16::try_from(p).ok());
                    let from = s("from").unwrap_or_default();
                    let password = s("password").filter(|p| !p.is_empty());
                    let smtp = Smtp {
                        host: s("host").unwrap_or_default(),
                        port,
                        tls: if port == Some(465) {
                            "implicit"
                        } else {
                            "starttls"
                        }
                        .into(),
                        // Gatus signs in as `from` when no username is given.
                        username: password.as_ref().map(|_| {
                            s("username")
                                .filter(|u| !u.is_empty())
                                .unwrap_or(from.clone())
                        }),
                        password,
                        from,
                    };
                    if self.b.smtp(&at, smtp) {
                        let to: Vec<String> = s("to")
                            .unwrap_or_default()
                            .split(',')
                            .map(|a| a.trim().to_owned())
                            .collect();
                        self.b.email(&at, "email", &to, events.clone());
                    }
                }
                other => self.b.skip(
                    at,
                    format!("not carried over: Downbeat has no {other} channel"),
                ),
            }
        }
    }

    fn announcements(&mut self, list: &Value) {
        let list = list.as_array().map(Vec::as_slice).unwrap_or_default();
        for (i, a) in list.iter().enumerate() {
            let kind = a.get("type").and_then(Value::as_str).unwrap_or("none");
            let message = a.get("message").and_then(Value::as_str).unwrap_or_default();
            let at = format!("announcements[{i}] ({kind})");
            let impact = match kind {
                "outage" => Impact::Major,
                "warning" => Impact::Minor,
                "operational" => Impact::None,
                _ => {
                    self.b.skip(
                        at,
                        "not carried over: Downbeat has incidents, not announcements",
                    );
                    continue;
                }
            };
            let archived = a.get("archived").and_then(Value::as_bool) == Some(true);
            let status = if archived || kind == "operational" {
                Status::Resolved
            } else {
                Status::Investigating
            };
            let when = a
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(|t| t.parse().ok());
            let title = crate::builder::text(message.lines().next().unwrap_or_default(), 100)
                .unwrap_or_else(|| "Announcement".into());
            self.history.incidents.push(PastIncident {
                service: self.service.clone(),
                components: Vec::new(),
                title,
                status,
                impact,
                started_at: when,
                resolved_at: None,
                updates: vec![IncidentUpdate {
                    at: when,
                    status,
                    body: message.to_owned(),
                }],
            });
        }
    }
}

/// Applies one condition to the probe, or says why it has no Downbeat equivalent.
fn condition(text: &str, def: &mut ProbeDef, codes: &mut Vec<String>) -> Result<(), String> {
    let (lhs, op, rhs) = split(text).ok_or("not a comparison Downbeat reads")?;
    let kind = def.kind;
    let only = |k: ProbeKind| -> Result<(), String> {
        if kind == k {
            Ok(())
        } else {
            Err(format!("{lhs} does not apply to a {kind} probe"))
        }
    };
    let number = |s: &str| -> Result<u64, String> {
        s.parse::<u64>()
            .map_err(|_| format!("{s:?} is not a number"))
    };
    match (lhs, op) {
        ("[STATUS]", "==") => {
            only(ProbeKind::Http)?;
            match rhs.strip_prefix("any(").and_then(|r| r.strip_suffix(')')) {
                Some(list) => {
                    for c in list.split(',') {
                        codes.push(number(c.trim())?.to_string());
                    }
                }
                None => codes.push(number(rhs)?.to_string()),
            }
        }
        ("[STATUS]", "<" | "<=") => {
            only(ProbeKind::Http)?;
            let n = number(rhs)?;
            let hi = if op == "<" { n.saturating_sub(1) } else { n };
            codes.push(format!("100-{hi}"));
        }
        ("[RESPONSE_TIME]", "<" | "<=") => {
            only(ProbeKind::Http)?;
            def.http.max_latency_ms = Some(number(rhs)?);
        }
        ("[CONNECTED]", "==") if rhs == "true" => {}
        ("[DNS_RCODE]", "==") => {
            only(ProbeKind::Dns)?;
            if !rhs.eq_ignore_ascii_case("NOERROR") {
                def.dns.expect_rcode = Some(rhs.to_ascii_uppercase());
            }
        }
        ("[CERTIFICATE_EXPIRATION]", ">" | ">=") => {
            let https = kind == ProbeKind::Http && def.target.starts_with("https://");
            if !(https || kind == ProbeKind::Tls) {
                return Err(format!("{lhs} needs an https or tls target"));
            }
            let secs = duration_secs(&Value::String(rhs.to_owned()))
                .ok_or_else(|| format!("{rhs:?} is not a duration"))?;
            def.tls.expiry_warn_days = Some(((secs / 86_400.0).ceil() as u32).max(1));
        }
        ("[DOMAIN_EXPIRATION]", _) => return Err("a kind = \"domain\" monitor checks domain expiry, but needs the registry's rdap_url (add it by hand)".into()),
        ("[BODY]", "==") if kind == ProbeKind::Dns => {
            if rhs.contains('(') {
                return Err("Downbeat compares DNS answers with plain values".into());
            }
            def.dns.expect_answers.push(rhs.to_owned());
        }
        ("[BODY]", "==") => {
            only(ProbeKind::Http)?;
            if def.http.body_contains.is_some() || def.http.body_regex.is_some() {
                return Err("Downbeat checks one body text per monitor".into());
            }
            if let Some(pat) = rhs.strip_prefix("pat(").and_then(|r| r.strip_suffix(')')) {
                let inner = pat.strip_prefix('*').and_then(|p| p.strip_suffix('*'));
                match inner.filter(|p| !p.is_empty() && !p.contains(['*', '?'])) {
                    Some(text) => def.http.body_contains = Some(text.to_owned()),
                    None => def.http.body_regex = Some(glob_regex(pat)),
                }
            } else if rhs.contains('(') {
                return Err(format!("{rhs:?} has no Downbeat equivalent"));
            } else {
                def.http.body_regex = Some(format!("(?s)^{}$", regex::escape(rhs)));
            }
        }
        (path, "==") if path.starts_with("[BODY].") => {
            only(ProbeKind::Http)?;
            if def.http.json_pointer.is_some() {
                return Err("Downbeat checks one JSON path per monitor".into());
            }
            if rhs.contains('(') {
                return Err(format!("{rhs:?} has no Downbeat equivalent"));
            }
            let pointer = json_pointer(&path["[BODY].".len()..])
                .ok_or_else(|| format!("{path} is not a plain JSON path"))?;
            def.http.json_pointer = Some(pointer);
            def.http.json_equals = Some(scalar(rhs));
        }
        _ => return Err("Downbeat has no equivalent".into()),
    }
    Ok(())
}

/// `lhs op rhs` around the first comparison operator.
fn split(text: &str) -> Option<(&str, &str, &str)> {
    for op in ["==", "!=", "<=", ">=", "<", ">"] {
        if let Some(i) = text.find(op) {
            let lhs = text[..i].trim();
            let rhs = text[i + op.len()..].trim();
            if lhs.is_empty() || rhs.is_empty() {
                return None;
            }
            return Some((lhs, op, rhs));
        }
    }
    None
}

/// Gatus's `pat()` (a whole-body glob with `*`) as a regular expression.
fn glob_regex(pat: &str) -> String {
    let parts: Vec<String> = pat.split('*').map(regex::escape).collect();
    format!("(?s)^{}$", parts.join(".*"))
}

/// Seconds of a Go duration (`30s`, `5m`, `1h30m`, `250ms`) or a number of seconds.
fn duration_secs(v: &Value) -> Option<f64> {
    if let Some(n) = v.as_f64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    let mut total = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_end..];
    }
    Some(total)
}

/// A maintenance window (`start`, `duration`, `timezone`, `every`), unless disabled.
fn window(v: &Value) -> Option<MaintenanceWindow> {
    if v.get("enabled").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    let start = match v.get("start")? {
        Value::String(s) => s.clone(),
        // YAML 1.1 reads 23:00 as sexagesimal minutes.
        Value::Number(n) => {
            let m = n.as_u64()?;
            format!("{:02}:{:02}", m / 60, m % 60)
        }
        _ => return None,
    };
    Some(MaintenanceWindow::Recurring {
        start,
        duration: v.get("duration").and_then(Value::as_str)?.to_owned(),
        timezone: v
            .get("timezone")
            .and_then(Value::as_str)
            .unwrap_or("UTC")
            .to_owned(),
        days: v
            .get("every")
            .and_then(Value::as_array)
            .map(|d| {
                d.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for (s, want) in [
            ("30s", 30.0),
            ("5m", 300.0),
            ("1h30m", 5400.0),
            ("250ms", 0.25),
        ] {
            assert_eq!(duration_secs(&Value::String(s.into())), Some(want), "{s}");
        }
        assert_eq!(duration_secs(&Value::String("soon".into())), None);
    }
}
