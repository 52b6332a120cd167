//! Uptime Kuma's JSON backup (Settings → Backup → Export, version 1.x): `monitorList`,
//! `notificationList` and, from later 1.x releases, `statusPageList`, `maintenanceList`
//! and `proxyList`.
//!
//! Status pages become services whose groups are components; monitors on no status page go
//! to one service, `Uptime Kuma`, whose components are the backup's group monitors.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use downbeat_domain::incident::{Impact, Status};
use downbeat_probe::{ProbeDef, ProbeKind};
use jiff::Timestamp;
use serde_json::Value;

use crate::builder::{Builder, Monitor, Smtp, Webhook};
use crate::history::{History, IncidentUpdate, Maintenance, MaintenanceWindow, PastIncident};
use crate::{ImportError, Imported, read, shown};

const WHAT: &str = "an Uptime Kuma backup";
const EXPECTED: &str = "the JSON that Settings → Backup → Export writes, version 1.x";

/// Reads a backup file.
pub fn import(path: &Path) -> Result<Imported, ImportError> {
    let file = shown(path);
    let text = read(path)?;
    if !text.trim_start().starts_with('{') {
        return Err(ImportError::WrongKind {
            file,
            what: WHAT,
            reason: "it is not a JSON object".into(),
            expected: EXPECTED,
        });
    }
    let root: Value = serde_json::from_str(&text).map_err(|e| ImportError::Syntax {
        file: file.clone(),
        line: Some(e.line()),
        message: e.to_string(),
    })?;
    let wrong = |reason: String| ImportError::WrongKind {
        file: file.clone(),
        what: WHAT,
        reason,
        expected: EXPECTED,
    };
    let Some(obj) = root.as_object() else {
        return Err(wrong("it is not a JSON object".into()));
    };
    let monitors = match obj.get("monitorList") {
        Some(Value::Array(a)) => a,
        Some(_) => return Err(invalid(&file, "monitorList", "must be a list of monitors")),
        None => return Err(wrong("no monitorList".into())),
    };
    match obj.get("version") {
        None => {}
        Some(Value::String(v)) if v.starts_with("1.") => {}
        Some(v) => return Err(wrong(format!("version {v}"))),
    }
    let list = |key: &str| -> Result<&[Value], ImportError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(invalid(&file, key, "must be a list")),
        }
    };
    let notifications = list("notificationList")?;
    let pages = list("statusPageList")?;
    let maintenance = list("maintenanceList")?;
    let proxies = list("proxyList")?;

    let mut kuma = Kuma::default();
    kuma.pages(pages);
    kuma.groups(monitors);
    for (i, m) in monitors.iter().enumerate() {
        kuma.monitor(i, m);
    }
    for (i, n) in notifications.iter().enumerate() {
        kuma.notification(i, n);
    }
    for (i, m) in maintenance.iter().enumerate() {
        kuma.maintenance(i, m);
    }
    for (i, p) in proxies.iter().enumerate() {
        let name = p.get("host").and_then(Value::as_str).unwrap_or("?");
        kuma.b.skip(
            format!("proxyList[{i}] {name:?}"),
            "not carried over: Downbeat probes connect directly",
        );
    }
    let (config, skipped) = kuma.b.finish();
    Ok(Imported {
        config,
        history: kuma.history,
        skipped,
    })
}

fn invalid(file: &str, key: &str, message: &str) -> ImportError {
    ImportError::Invalid {
        file: file.to_owned(),
        key: key.to_owned(),
        message: message.to_owned(),
    }
}

#[derive(Default)]
struct Kuma {
    b: Builder,
    history: History,
    /// The service of monitors on no status page, made when first needed.
    default_service: Option<String>,
    /// Monitor id → (service, component) from the status pages.
    placed: HashMap<i64, (String, String)>,
    /// Group monitor id → its component in the default service.
    groups: HashMap<i64, String>,
}

impl Kuma {
    fn default_service(&mut self) -> String {
        if let Some(s) = &self.default_service {
            return s.clone();
        }
        let id = self.b.service("Uptime Kuma");
        self.default_service = Some(id.clone());
        id
    }

    /// Status pages: a service each, its groups components; their pinned incident too.
    fn pages(&mut self, pages: &[Value]) {
        for (i, page) in pages.iter().enumerate() {
            let config = page.get("config").unwrap_or(page);
            let title = str_of(config, "title")
                .or_else(|| str_of(config, "slug"))
                .unwrap_or("Status");
            let service = self.b.service(title);
            let groups = page
                .get("publicGroupList")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for (j, g) in groups.iter().enumerate() {
                let name = str_of(g, "name").unwrap_or("Services");
                let component = self.b.component(&service, name, None);
                let members = g
                    .get("monitorList")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                for m in members {
                    let Some(id) = m.get("id").and_then(Value::as_i64) else {
                        continue;
                    };
                    match self.placed.entry(id) {
                        std::collections::hash_map::Entry::Occupied(_) => self.b.skip(
                            format!("statusPageList[{i}].publicGroupList[{j}] {name:?}"),
                            format!(
                                "monitor {id} is already on an earlier page: a Downbeat monitor belongs to one service"
                            ),
                        ),
                        std::collections::hash_map::Entry::Vacant(v) => {
                            v.insert((service.clone(), component.clone()));
                        }
                    }
                }
            }
            if let Some(inc) = page.get("incident").filter(|v| v.is_object()) {
                let body = str_of(inc, "content").unwrap_or_default();
                let at = str_of(inc, "createdDate").and_then(timestamp);
                let pinned = inc.get("pin").and_then(Value::as_bool).unwrap_or(false);
                let status = if pinned {
                    Status::Investigating
                } else {
                    Status::Resolved
                };
                self.history.incidents.push(PastIncident {
                    service: service.clone(),
                    components: Vec::new(),
                    title: str_of(inc, "title").unwrap_or("Incident").to_owned(),
                    status,
                    impact: match str_of(inc, "style") {
                        Some("danger") => Impact::Major,
                        Some("warning") => Impact::Minor,
                        _ => Impact::None,
                    },
                    started_at: at,
                    resolved_at: None,
                    updates: vec![IncidentUpdate {
                        at: str_of(inc, "lastUpdatedDate").and_then(timestamp).or(at),
                        status,
                        body: body.to_owned(),
                    }],
                });
            }
        }
    }

    /// Group monitors on no status page: components of the default service.
    fn groups(&mut self, monitors: &[Value]) {
        for m in monitors {
            if str_of(m, "type") != Some("group") {
                continue;
            }
            let Some(id) = m.get("id").and_then(Value::as_i64) else {
                continue;
            };
            let service = self.default_service();
            let name = str_of(m, "name").unwrap_or("Group");
            let component = self.b.component(&service, name, str_of(m, "description"));
            self.groups.insert(id, component);
        }
    }

    fn monitor(&mut self, i: usize, m: &Value) {
        let name = str_of(m, "name").unwrap_or("monitor").to_owned();
        let kind = str_of(m, "type").unwrap_or("http");
        let at = format!("monitorList[{i}] {name:?}");
        let typed = format!("{at} (type {kind:?})");
        let probe = match kind {
            "group" => return,
            "http" | "keyword" | "json-query" => self.http(&at, kind, m),
            "port" => {
                let host = str_of(m, "hostname").unwrap_or_default();
                let port = m.get("port").and_then(Value::as_u64).unwrap_or(0);
                let target = if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                Some(ProbeDef::new(ProbeKind::Tcp, target))
            }
            "dns" => {
                let mut def =
                    ProbeDef::new(ProbeKind::Dns, str_of(m, "hostname").unwrap_or_default());
                def.dns.record_type = str_of(m, "dns_resolve_type").map(str::to_owned);
                def.dns.resolver = str_of(m, "dns_resolve_server").map(|server| {
                    match m.get("dns_resolve_port").and_then(Value::as_u64) {
                        Some(port) if port != 53 && !server.contains(':') => {
                            format!("{server}:{port}")
                        }
                        _ => server.to_owned(),
                    }
                });
                Some(def)
            }
            "push" => {
                self.b.skip(
                    typed,
                    "not carried over: Downbeat has no push (heartbeat) monitor yet",
                );
                return;
            }
            "ping" => Some(ProbeDef::new(
                ProbeKind::Ping,
                str_of(m, "hostname").unwrap_or_default(),
            )),
            other => {
                self.b.skip(
                    typed,
                    format!("not carried over: Downbeat has no {other} monitor"),
                );
                return;
            }
        };
        let Some(probe) = probe else { return };
        let id = m.get("id").and_then(Value::as_i64);
        let (service, component) = match id.and_then(|id| self.placed.get(&id)).cloned() {
            Some((s, c)) => (s, Some(c)),
            None => {
                let parent = m
                    .get("parent")
                    .and_then(Value::as_i64)
                    .and_then(|p| self.groups.get(&p))
                    .cloned();
                (self.default_service(), parent)
            }
        };
        if m.get("active").and_then(Value::as_bool) == Some(false) {
            self.b.skip(
                format!("{at}.active"),
                "paused in Uptime Kuma: not carried over, the monitor runs in Downbeat",
            );
        }
        if m.get("upsideDown").and_then(Value::as_bool) == Some(true) {
            self.b.skip(
                format!("{at}.upsideDown"),
                "not carried over: Downbeat has no upside-down monitors",
            );
        }
        if m.get("proxyId").is_some_and(|p| !p.is_null()) {
            self.b.skip(
                format!("{at}.proxyId"),
                "not carried over: Downbeat probes connect directly",
            );
        }
        self.b.monitor(
            &at,
            Monitor {
                name,
                service,
                component,
                interval_secs: m.get("interval").and_then(Value::as_f64),
                timeout_secs: m.get("timeout").and_then(Value::as_f64),
                probe,
            },
        );
    }

    /// `http`, `keyword` and `json-query` monitors: Downbeat's http probe.
    fn http(&mut self, at: &str, kind: &str, m: &Value) -> Option<ProbeDef> {
        let mut def = ProbeDef::new(ProbeKind::Http, str_of(m, "url").unwrap_or_default());
        let h = &mut def.http;
        if let Some(method) = str_of(m, "method").filter(|x| !x.eq_ignore_ascii_case("GET")) {
            h.method = Some(method.to_ascii_uppercase());
        }
        let codes: Vec<&str> = m
            .get("accepted_statuscodes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !codes.is_empty() {
            h.expect_status = Some(codes.join(","));
        }
        if let Some(n) = m.get("maxredirects").and_then(Value::as_u64) {
            let max = u64::from(downbeat_probe::spec::MAX_REDIRECTS);
            if n > max {
                self.b.skip(
                    format!("{at}.maxredirects"),
                    format!("{n} is more than Downbeat follows: set to {max}"),
                );
            }
            h.max_redirects = Some(n.min(max) as u8);
        }
        if let Some(headers) = str_of(m, "headers") {
            match serde_json::from_str::<BTreeMap<String, Value>>(headers) {
                Ok(map) => {
                    for (k, v) in map {
                        let v = match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        h.headers.insert(k, v);
                    }
                }
                Err(_) => self.b.skip(
                    format!("{at}.headers"),
                    "not carried over: not a JSON object of header names and values",
                ),
            }
        }
        if str_of(m, "body").is_some() {
            self.b.skip(
                format!("{at}.body"),
                "not carried over: Downbeat's http probe sends no request body",
            );
        }
        if m.get("ignoreTls").and_then(Value::as_bool) == Some(true) {
            self.b.skip(
                format!("{at}.ignoreTls"),
                "not carried over: Downbeat always verifies certificates (trust a private CA with ca_pem)",
            );
        }
        let auth = str_of(m, "authMethod").filter(|a| *a != "null");
        if str_of(m, "basic_auth_user").is_some() || auth.is_some() {
            self.b.skip(
                format!("{at}.authMethod"),
                "not carried over: add the credentials as an Authorization header",
            );
        }
        match kind {
            "keyword" => {
                let keyword = str_of(m, "keyword");
                if m.get("invertKeyword").and_then(Value::as_bool) == Some(true) {
                    self.b.skip(
                        format!("{at}.invertKeyword"),
                        "not carried over: Downbeat checks that the body contains a text, not that it lacks one",
                    );
                } else if let Some(k) = keyword {
                    h.body_contains = Some(k.to_owned());
                }
            }
            "json-query" => {
                let path = str_of(m, "jsonPath").unwrap_or_default();
                match json_pointer(path) {
                    Some(pointer) => {
                        h.json_pointer = Some(pointer);
                        h.json_equals = str_of(m, "expectedValue").map(scalar);
                    }
                    None => self.b.skip(
                        format!("{at}.jsonPath"),
                        format!(
                            "{path:?} is not carried over: Downbeat checks one plain path (like $.status), not a JSONata expression"
                        ),
                    ),
                }
            }
            _ => {}
        }
        Some(def)
    }

    fn notification(&mut self, i: usize, n: &Value) {
        let name = str_of(n, "name").unwrap_or("notification").to_owned();
        // The provider's settings are a JSON string inside the row.
        let config: Value = match n.get("config") {
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
            Some(v) => v.clone(),
            None => Value::Null,
        };
        let kind = str_of(&config, "type").unwrap_or("?").to_owned();
        let at = format!("notificationList[{i}] {name:?} (type {kind:?})");
        let events = vec!["monitor".to_owned()];
        let hook = |url: Option<&str>, format: &str| Webhook {
            name: name.clone(),
            url: url.unwrap_or_default().to_owned(),
            format: format.to_owned(),
            token: None,
            events: events.clone(),
        };
        match kind.as_str() {
            "webhook" => {
                self.b
                    .webhook(&at, hook(str_of(&config, "webhookURL"), "downbeat"));
            }
            "slack" => {
                self.b
                    .webhook(&at, hook(str_of(&config, "slackwebhookURL"), "slack"));
            }
            "discord" => {
                self.b
                    .webhook(&at, hook(str_of(&config, "discordWebhookUrl"), "discord"));
            }
            "mattermost" => {
                let url = str_of(&config, "mattermostWebhookUrl");
                self.b.webhook(&at, hook(url, "mattermost"));
            }
            "teams" => {
                self.b
                    .webhook(&at, hook(str_of(&config, "webhookUrl"), "teams"));
            }
            "ntfy" => {
                let server = str_of(&config, "ntfyserverurl").unwrap_or("https://ntfy.sh");
                let topic = str_of(&config, "ntfytopic").unwrap_or_default();
                let mut w = hook(None, "ntfy");
                w.url = format!("{}/{topic}", server.trim_end_matches('/'));
                match str_of(&config, "ntfyAuthenticationMethod") {
                    Some("accessToken") => {
                        w.token = str_of(&config, "ntfyaccesstoken").map(str::to_owned)
                    }
                    Some("usernamePassword") => self.b.skip(
                        format!("{at}.ntfyusername"),
                        "not carried over: Downbeat signs in to ntfy with an access token",
                    ),
                    _ => {}
                }
                self.b.webhook(&at, w);
            }
            "smtp" => {
                let secure = config.get("smtpSecure").and_then(Value::as_bool) == Some(true);
                let port = config
                    .get("smtpPort")
                    .and_then(|p| p.as_u64().or_else(|| p.as_str()?.parse().ok()))
                    .and_then(|p| u16::try_from(p).ok());
                let smtp = Smtp {
                    host: str_of(&config, "smtpHost").unwrap_or_default().to_owned(),
                    port,
                    tls: if secure { "implicit" } else { "starttls" }.to_owned(),
                    username: str_of(&config, "smtpUsername").map(str::to_owned),
                    password: str_of(&config, "smtpPassword").map(str::to_owned),
                    from: str_of(&config, "smtpFrom").unwrap_or_default().to_owned(),
                };
                if self.b.smtp(&at, smtp) {
                    let to: Vec<String> = ["smtpTo", "smtpCC", "smtpBCC"]
                        .iter()
                        .filter_map(|k| str_of(&config, k))
                        .flat_map(|s| s.split(','))
                        .map(|s| s.trim().to_owned())
                        .collect();
                    self.b.email(&at, &name, &to, events);
                }
            }
            other => self.b.skip(
                at,
                format!("not carried over: Downbeat has no {other} channel"),
            ),
        }
    }

    fn maintenance(&mut self, i: usize, m: &Value) {
        let title = str_of(m, "title").unwrap_or("Maintenance").to_owned();
        let at = format!("maintenanceList[{i}] {title:?}");
        let strategy = str_of(m, "strategy").unwrap_or("manual");
        let zone = str_of(m, "timezone")
            .or_else(|| str_of(m, "timezoneOption"))
            .filter(|z| jiff::tz::TimeZone::get(z).is_ok());
        let range: Vec<Option<Timestamp>> = m
            .get("dateRange")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().and_then(|s| local_timestamp(s, zone)))
                    .collect()
            })
            .unwrap_or_default();
        let starts_at = range.first().copied().flatten();
        if strategy != "single" || starts_at.is_none() {
            self.b.skip(
                at,
                format!(
                    "not carried over: a {strategy} maintenance; Downbeat takes windows with a start and an end"
                ),
            );
            return;
        }
        let service = self.default_service();
        self.history.maintenance.push(Maintenance {
            service,
            components: Vec::new(),
            title,
            description: str_of(m, "description").map(str::to_owned),
            window: MaintenanceWindow::Once {
                starts_at: starts_at.expect("checked above"),
                ends_at: range.get(1).copied().flatten(),
            },
            updates: Vec::new(),
        });
    }
}

/// A non-empty string field.
fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `$.data.items[0].id` or `data.items[0].id` → `/data/items/0/id`; None for anything
/// richer than names and indexes.
pub(crate) fn json_pointer(path: &str) -> Option<String> {
    let rest = path.trim();
    let rest = rest.strip_prefix('$').unwrap_or(rest);
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    if rest.is_empty() {
        return None;
    }
    let mut out = String::new();
    for part in rest.split('.') {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !name.is_empty() {
            if !plain(name) {
                return None;
            }
            out.push('/');
            out.push_str(name);
        }
        let mut idx = indexes;
        while !idx.is_empty() {
            let close = idx.find(']')?;
            let n = idx.get(1..close)?;
            if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            out.push('/');
            out.push_str(n);
            idx = &idx[close + 1..];
            if !idx.is_empty() && !idx.starts_with('[') {
                return None;
            }
        }
        if name.is_empty() && indexes.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// An expected value as written: a JSON number, boolean or null when it reads as one, else
/// the text.
pub(crate) fn scalar(s: &str) -> Value {
    match serde_json::from_str::<Value>(s) {
        Ok(v @ (Value::Number(_) | Value::Bool(_))) => v,
        _ => Value::String(s.to_owned()),
    }
}

/// Uptime Kuma's `2023-01-31 12:00:00` (UTC) or an RFC 3339 instant.
fn timestamp(s: &str) -> Option<Timestamp> {
    local_timestamp(s, None)
}

/// A civil date and time in `zone` (UTC when None), or an RFC 3339 instant.
fn local_timestamp(s: &str, zone: Option<&str>) -> Option<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    let dt: jiff::civil::DateTime = s.trim().replace(' ', "T").parse().ok()?;
    let tz = zone
        .and_then(|z| jiff::tz::TimeZone::get(z).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    dt.to_zoned(tz).ok().map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_become_pointers_or_nothing() {
        for (path, want) in [
            ("$.status", Some("/status")),
            ("status", Some("/status")),
            ("data.items[0].id", Some("/data/items/0/id")),
            ("$[1]", Some("/1")),
            ("$count(items)", None),
            ("a.b = 'x'", None),
            ("", None),
            ("a[x]", None),
        ] {
            assert_eq!(json_pointer(path).as_deref(), want, "{path}");
        }
    }
}
