//! Reading and validating a config file. Every error names the file, the key and the reason.

use crate::model::*;
use crate::raw::*;
use downbeat_domain::problem::{default_label, default_problems};
use downbeat_domain::problem_words::{default_keywords, has_words};
use downbeat_domain::{CommentMode, ComponentId, ProblemKind, ProblemOption, ServiceId, Span};
use ipnet::IpNet;
use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Why a config was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {file}: {message}")]
    Syntax { file: String, message: String },
    #[error("config file {file}: key `{key}`: {message}")]
    Invalid {
        file: String,
        key: String,
        message: String,
    },
}

/// Most phrases one problem kind may have in `[service.keywords]`: each is matched against
/// every post a source sends.
pub const MAX_KEYWORDS: usize = 100;
/// The longest phrase in `[service.keywords]`, in characters.
pub const MAX_KEYWORD_CHARS: usize = 60;

/// Reads and validates the config at `path`.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut config = parse_str(&text, &path.display().to_string())?;
    config.source.path = Some(path.to_owned());
    Ok(config)
}

/// Parses and validates config text; `file` names it in errors.
pub fn parse_str(text: &str, file: &str) -> Result<Config, ConfigError> {
    let syntax = |message: String| ConfigError::Syntax {
        file: file.to_owned(),
        message,
    };
    let de = toml::Deserializer::parse(text).map_err(|e| syntax(e.to_string()))?;
    let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner().to_string();
        if key == "." || key.is_empty() {
            syntax(inner)
        } else {
            ConfigError::Invalid {
                file: file.to_owned(),
                key,
                message: inner.trim().to_owned(),
            }
        }
    })?;
    let mut config = Validator { file }.config(raw)?;
    config.source = crate::layers::Source {
        name: file.to_owned(),
        path: None,
        text: text.into(),
    };
    if let Ok(table) = crate::layers::parse_table(&config.source) {
        config.origins = crate::layers::origins(&table, &[]);
    }
    Ok(config)
}

pub(crate) struct Validator<'a> {
    file: &'a str,
}

impl<'a> Validator<'a> {
    pub(crate) fn new(file: &'a str) -> Validator<'a> {
        Validator { file }
    }
}

impl Validator<'_> {
    pub(crate) fn err(
        &self,
        key: impl Into<String>,
        message: impl std::fmt::Display,
    ) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            key: key.into(),
            message: message.to_string(),
        }
    }

    pub(crate) fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let server = self.server(raw.server)?;
        let reports = self.reports(raw.reports)?;
        let retention = self.retention(raw.retention)?;
        let mut seen = HashSet::new();
        let mut services = Vec::with_capacity(raw.services.len());
        for (i, s) in raw.services.into_iter().enumerate() {
            let svc = self.service(i, s)?;
            if !seen.insert(svc.id.clone()) {
                return Err(self.err(
                    format!("service[{i}].id"),
                    format!("duplicate service id {:?}", svc.id.as_str()),
                ));
            }
            services.push(svc);
        }
        let probes = self.probes(raw.probes, &retention)?;
        let mut monitors: Vec<MonitorConfig> = Vec::with_capacity(raw.monitors.len());
        for (i, table) in raw.monitors.into_iter().enumerate() {
            let m = self.monitor(i, table, &services)?;
            if monitors.iter().any(|o| o.id == m.id) {
                return Err(self.err(
                    format!("monitor[{i}].id"),
                    format!("duplicate monitor id {:?}", m.id.as_str()),
                ));
            }
            monitors.push(m);
        }
        let mut users: Vec<UserConfig> = Vec::with_capacity(raw.users.len());
        for (i, u) in raw.users.into_iter().enumerate() {
            let u = self.user(i, u)?;
            if users.iter().any(|o| o.name == u.name) {
                return Err(self.err(
                    format!("user[{i}].name"),
                    format!("duplicate user {:?}", u.name),
                ));
            }
            users.push(u);
        }
        let notify = self.notify(raw.notify, &services)?;
        let regions = self.regions(raw.regions)?;
        let integrations = self.integrations(raw.integrations, &services)?;
        let index = Index::of(&services, &monitors);
        Ok(Config {
            notify,
            regions,
            integrations,
            server,
            reports,
            retention,
            services,
            probes,
            monitors,
            users,
            source: Default::default(),
            origins: Default::default(),
            index,
        })
    }

    fn user(&self, i: usize, raw: RawUser) -> Result<UserConfig, ConfigError> {
        let key = |k: &str| format!("user[{i}].{k}");
        let name = raw.name;
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
        if !name_ok {
            return Err(self.err(
                key("name"),
                "must be 1-64 letters, digits, '-', '_', '.' or '@'",
            ));
        }
        let role = Role::parse_person(&raw.role).ok_or_else(|| {
            let shown: String = raw.role.chars().take(40).collect();
            self.err(
                key("role"),
                format!("{shown:?} is not a role: use viewer, editor or admin"),
            )
        })?;
        // Never echo the value: it is a password hash.
        let phc = argon2::password_hash::phc::PasswordHash::new(&raw.password_hash);
        let is_argon2 = phc.as_ref().is_ok_and(|h| {
            matches!(h.algorithm.as_str(), "argon2id" | "argon2i" | "argon2d")
                && h.hash.is_some()
                && argon2::Params::try_from(h).is_ok()
        });
        if !is_argon2 {
            return Err(self.err(
                key("password_hash"),
                "is not an argon2 PHC string like $argon2id$v=19$m=...; make one with `downbeat user hash`",
            ));
        }
        Ok(UserConfig {
            name,
            role,
            password_hash: raw.password_hash,
        })
    }

    fn server(&self, raw: RawServer) -> Result<ServerConfig, ConfigError> {
        let listen = raw
            .listen
            .map(|s| {
                s.parse::<SocketAddr>().map_err(|_| {
                    self.err(
                        "server.listen",
                        format!("{s:?} is not an address like 127.0.0.1:8080"),
                    )
                })
            })
            .transpose()?;
        let database_url = raw
            .database_url
            .map(|u| {
                if u.starts_with("postgres://")
                    || u.starts_with("postgresql://")
                    || u.starts_with("sqlite:")
                {
                    Ok(u)
                } else {
                    // Never echo the URL: it may hold a password.
                    Err(self.err(
                        "server.database_url",
                        "must start with postgres://, postgresql:// or sqlite:",
                    ))
                }
            })
            .transpose()?;
        let database_connect_timeout = self.span(
            "server.database_connect_timeout",
            raw.database_connect_timeout,
            Span::from_secs(5),
            Span::from_secs(1),
            Span::from_secs(300),
        )?;
        let database_statement_timeout = self.span(
            "server.database_statement_timeout",
            raw.database_statement_timeout,
            Span::from_secs(30),
            Span::from_secs(1),
            Span::from_secs(3_600),
        )?;
        let mut trusted_proxies = Vec::with_capacity(raw.trusted_proxies.len());
        for (i, p) in raw.trusted_proxies.iter().enumerate() {
            trusted_proxies.push(parse_net(p).ok_or_else(|| {
                self.err(
                    format!("server.trusted_proxies[{i}]"),
                    format!(
                        "{p:?} is not an IP network like 10.0.0.0/8 or an address like 192.0.2.1"
                    ),
                )
            })?);
        }
        let region = raw.region.unwrap_or_else(|| "local".to_owned());
        if region.is_empty()
            || region.len() > 40
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(self.err(
                "server.region",
                "must be 1-40 letters, digits, '-' or '_' (e.g. eu-west)",
            ));
        }
        let geoip = raw
            .geoip
            .map(|p| {
                let path = PathBuf::from(&p);
                check_geoip(&path).map_err(|why| self.err("server.geoip", why))?;
                Ok(path)
            })
            .transpose()?;
        let header_timeout = self.span(
            "server.header_timeout",
            raw.header_timeout,
            Span::from_secs(10),
            Span::from_secs(1),
            Span::from_secs(300),
        )?;
        let request_timeout = self.span(
            "server.request_timeout",
            raw.request_timeout,
            Span::from_secs(30),
            Span::from_secs(1),
            Span::from_secs(600),
        )?;
        let shutdown_grace = self.span(
            "server.shutdown_grace",
            raw.shutdown_grace,
            Span::from_secs(10),
            Span::from_secs(0),
            Span::from_secs(600),
        )?;
        let max_connections = raw.max_connections.unwrap_or(10_000);
        if !(1..=1_000_000).contains(&max_connections) {
            return Err(self.err(
                "server.max_connections",
                format!("{max_connections} is not between 1 and 1000000"),
            ));
        }
        let password_checks = raw.password_checks.unwrap_or(2);
        if !(1..=64).contains(&password_checks) {
            return Err(self.err(
                "server.password_checks",
                format!("{password_checks} is not between 1 and 64"),
            ));
        }
        Ok(ServerConfig {
            listen,
            data_dir: raw.data_dir.map(PathBuf::from),
            database_url,
            database_connect_timeout,
            database_statement_timeout,
            trusted_proxies,
            region,
            geoip,
            header_timeout,
            request_timeout,
            max_connections,
            shutdown_grace,
            password_checks,
        })
    }

    pub(crate) fn span(
        &self,
        key: &str,
        value: Option<String>,
        default: Span,
        min: Span,
        max: Span,
    ) -> Result<Span, ConfigError> {
        match value {
            None => Ok(default),
            Some(s) => Span::parse_within(&s, min, max).map_err(|e| self.err(key, e)),
        }
    }

    fn reports(&self, raw: RawReports) -> Result<ReportSettings, ConfigError> {
        let d = ReportSettings::default();
        let dedupe_window = self.span(
            "reports.dedupe_window",
            raw.dedupe_window,
            d.dedupe_window,
            Span::from_secs(0),
            Span::from_secs(86_400),
        )?;
        let rate_limit_burst = raw.rate_limit_burst.unwrap_or(d.rate_limit_burst);
        if rate_limit_burst == 0 {
            return Err(self.err("reports.rate_limit_burst", "must be at least 1"));
        }
        let rate_limit_per_minute = raw.rate_limit_per_minute.unwrap_or(d.rate_limit_per_minute);
        if rate_limit_per_minute == 0 {
            return Err(self.err("reports.rate_limit_per_minute", "must be at least 1"));
        }
        let max_body_bytes = raw.max_body_bytes.unwrap_or(d.max_body_bytes);
        if !(256..=1 << 20).contains(&max_body_bytes) {
            return Err(self.err("reports.max_body_bytes", "must be between 256 and 1048576"));
        }
        let city_min_networks = raw.city_min_networks.unwrap_or(d.city_min_networks);
        if city_min_networks < 2 {
            return Err(self.err(
                "reports.city_min_networks",
                "must be at least 2: a city typed in a single report is never shown",
            ));
        }
        let message_min_networks = raw.message_min_networks.unwrap_or(d.message_min_networks);
        if message_min_networks < 2 {
            return Err(self.err(
                "reports.message_min_networks",
                "must be at least 2: a message typed in a single report is never shown",
            ));
        }
        let message_blocked_words = raw.message_blocked_words.unwrap_or_default();
        if let Some(w) = message_blocked_words
            .iter()
            .find(|w| w.trim().is_empty() || w.chars().any(char::is_whitespace))
        {
            return Err(self.err(
                "reports.message_blocked_words",
                format!("{w:?} is not one word"),
            ));
        }
        Ok(ReportSettings {
            dedupe_window,
            rate_limit_burst,
            rate_limit_per_minute,
            max_body_bytes,
            city_min_networks,
            message_min_networks,
            message_blocked_words,
        })
    }

    fn retention(&self, raw: RawRetention) -> Result<Retention, ConfigError> {
        let d = Retention::default();
        let day = Span::from_secs(86_400);
        let forever = Span::from_secs(100 * 365 * 86_400);
        let raw_span = self.span("retention.raw", raw.raw, d.raw, day, forever)?;
        let rollups = self.span("retention.rollups", raw.rollups, d.rollups, day, forever)?;
        if rollups < raw_span {
            return Err(self.err(
                "retention.rollups",
                "must be at least as long as retention.raw",
            ));
        }
        Ok(Retention {
            raw: raw_span,
            rollups,
        })
    }

    fn service(&self, i: usize, raw: RawService) -> Result<ServiceConfig, ConfigError> {
        let key = |k: &str| format!("service[{i}].{k}");
        let id = ServiceId::parse(&raw.id).map_err(|e| self.err(key("id"), e))?;
        let name = self.text(&key("name"), raw.name, 100)?;
        let mut components = Vec::with_capacity(raw.components.len());
        let mut seen = HashSet::new();
        for (j, c) in raw.components.into_iter().enumerate() {
            let ckey = |k: &str| format!("service[{i}].component[{j}].{k}");
            let cid = ComponentId::parse(&c.id).map_err(|e| self.err(ckey("id"), e))?;
            if !seen.insert(cid.clone()) {
                return Err(self.err(
                    ckey("id"),
                    format!("duplicate component id {:?}", cid.as_str()),
                ));
            }
            components.push(ComponentConfig {
                id: cid,
                name: self.text(&ckey("name"), c.name, 100)?,
                description: c
                    .description
                    .map(|d| self.text(&ckey("description"), d, 500))
                    .transpose()?,
            });
        }
        let problems = match raw.problems {
            None => default_problems(),
            Some(list) => {
                if list.is_empty() {
                    return Err(self.err(key("problems"), "must offer at least one problem kind (or be left out for the default list)"));
                }
                let mut out: Vec<ProblemOption> = Vec::with_capacity(list.len());
                for (j, p) in list.into_iter().enumerate() {
                    let pkey = format!("service[{i}].problems[{j}]");
                    let (pid, label) = match p {
                        RawProblem::Known(pid) => {
                            let label = default_label(&pid).ok_or_else(|| {
                                self.err(&pkey, format!("{pid:?} is not a well-known problem kind; write {{ id = {pid:?}, label = \"...\" }} to add it"))
                            })?;
                            (pid, label.to_owned())
                        }
                        RawProblem::Custom { id, label } => {
                            (id, self.text(&format!("{pkey}.label"), label, 60)?)
                        }
                    };
                    let kind = ProblemKind::parse(&pid).map_err(|e| self.err(&pkey, e))?;
                    if out.iter().any(|o| o.kind == kind) {
                        return Err(self.err(&pkey, format!("duplicate problem kind {pid:?}")));
                    }
                    out.push(ProblemOption { kind, label });
                }
                out
            }
        };
        let keywords = self.keywords(i, raw.keywords, &problems)?;
        let tips = raw
            .tips
            .into_iter()
            .enumerate()
            .map(|(j, t)| self.text(&format!("service[{i}].tips[{j}]"), t, 500))
            .collect::<Result<_, _>>()?;
        let mut signals: Vec<SignalSource> = Vec::with_capacity(raw.signals.len());
        for (j, g) in raw.signals.into_iter().enumerate() {
            let gkey = |k: &str| format!("service[{i}].signal[{j}].{k}");
            let source =
                downbeat_domain::Slug::parse(&g.source).map_err(|e| self.err(gkey("source"), e))?;
            if signals.iter().any(|o| o.source == source) {
                return Err(self.err(
                    gkey("source"),
                    format!("duplicate signal source {:?}", source.as_str()),
                ));
            }
            let raises = match g.raises.as_deref() {
                None => Raises::Corroborate,
                Some(word) => [Raises::Corroborate, Raises::Alone]
                    .into_iter()
                    .find(|r| r.as_str() == word)
                    .ok_or_else(|| {
                        self.err(
                            gkey("raises"),
                            format!("{word:?} is not one of \"corroborate\" or \"alone\""),
                        )
                    })?,
            };
            signals.push(SignalSource {
                source,
                name: self.text(&gkey("name"), g.name, 60)?,
                raises,
                poll: g
                    .poll
                    .map(|p| self.poll(&format!("service[{i}].signal[{j}].poll"), p))
                    .transpose()?,
            });
        }
        let comments = match raw.comments {
            None => CommentMode::default(),
            Some(word) => CommentMode::parse(&word).ok_or_else(|| {
                let shown: String = word.chars().take(40).collect();
                self.err(
                    key("comments"),
                    format!("{shown:?} is not a comment mode: use off, premoderated or open"),
                )
            })?,
        };
        Ok(ServiceConfig {
            id,
            name,
            components,
            problems,
            keywords,
            tips,
            auto_publish: raw.auto_publish,
            public_changes: raw.public_changes,
            signals,
            comments,
        })
    }

    /// `[service.keywords]` resolved for every offered kind, in page order: the configured
    /// phrases replace a kind's defaults (an empty list: the kind is never found in posts).
    fn keywords(
        &self,
        i: usize,
        mut raw: BTreeMap<String, Vec<String>>,
        problems: &[ProblemOption],
    ) -> Result<Vec<(ProblemKind, Vec<String>)>, ConfigError> {
        if let Some(kind) = raw
            .keys()
            .find(|k| !problems.iter().any(|p| p.kind.as_str() == *k))
        {
            let offered: Vec<&str> = problems.iter().map(|p| p.kind.as_str()).collect();
            return Err(self.err(
                format!("service[{i}].keywords.{kind}"),
                format!(
                    "the service offers no problem kind {kind:?} (it offers: {})",
                    offered.join(", ")
                ),
            ));
        }
        problems
            .iter()
            .map(|p| {
                let id = p.kind.as_str();
                let phrases = match raw.remove(id) {
                    Some(given) => self.phrases(&format!("service[{i}].keywords.{id}"), given)?,
                    None => default_keywords(id)
                        .unwrap_or_default()
                        .iter()
                        .map(|w| (*w).to_owned())
                        .collect(),
                };
                Ok((p.kind.clone(), phrases))
            })
            .collect()
    }

    /// One kind's phrases: at most [`MAX_KEYWORDS`], each short text with a word in it.
    fn phrases(&self, key: &str, given: Vec<String>) -> Result<Vec<String>, ConfigError> {
        if given.len() > MAX_KEYWORDS {
            return Err(self.err(
                key,
                format!("{} phrases; at most {MAX_KEYWORDS}", given.len()),
            ));
        }
        given
            .into_iter()
            .enumerate()
            .map(|(j, phrase)| {
                let pkey = format!("{key}[{j}]");
                let phrase = self.text(&pkey, phrase, MAX_KEYWORD_CHARS)?;
                if !has_words(&phrase) {
                    return Err(self.err(
                        &pkey,
                        format!("{phrase:?} has no letters or digits, so it never matches"),
                    ));
                }
                Ok(phrase)
            })
            .collect()
    }

    fn probes(&self, raw: RawProbes, retention: &Retention) -> Result<ProbeSettings, ConfigError> {
        let d = ProbeSettings::default();
        let agent_max_skew = self.span(
            "probes.agent_max_skew",
            raw.agent_max_skew,
            d.agent_max_skew,
            Span::from_secs(1),
            Span::from_secs(3_600),
        )?;
        // Older results would be pruned at once: the default shrinks to the retention.
        let agent_max_age = self.span(
            "probes.agent_max_age",
            raw.agent_max_age,
            d.agent_max_age.min(retention.raw),
            Span::from_secs(60),
            retention.raw,
        )?;
        let positive = |key: &str, v: Option<u32>, default: u32| match v {
            Some(0) => Err(self.err(key, "must be at least 1")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        Ok(ProbeSettings {
            quorum: positive("probes.quorum", raw.quorum, d.quorum)?,
            failures_to_open: positive(
                "probes.failures_to_open",
                raw.failures_to_open,
                d.failures_to_open,
            )?,
            successes_to_close: positive(
                "probes.successes_to_close",
                raw.successes_to_close,
                d.successes_to_close,
            )?,
            canary: raw.canary,
            concurrency: match raw.concurrency {
                Some(0) => return Err(self.err("probes.concurrency", "must be at least 1")),
                Some(n) => n,
                None => d.concurrency,
            },
            resolvers: raw
                .resolvers
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    r.parse().map_err(|_| {
                        self.err(
                            format!("probes.resolvers[{i}]"),
                            format!("{r:?} is not an ip:port such as \"127.0.0.1:53\""),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            agent_max_skew,
            agent_max_age,
        })
    }

    /// A `[[monitor]]` table: Downbeat's own keys (id, service, component, interval,
    /// timeout), the rest handed to the probe crate's definition, which names any key it
    /// does not know.
    fn monitor(
        &self,
        i: usize,
        mut t: toml::Table,
        services: &[ServiceConfig],
    ) -> Result<MonitorConfig, ConfigError> {
        let key = |k: &str| format!("monitor[{i}].{k}");
        let mut text = |k: &str, required: bool| -> Result<Option<String>, ConfigError> {
            match t.remove(k) {
                None if required => Err(self.err(key(k), "is required")),
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s)),
                Some(other) => Err(self.err(
                    key(k),
                    format!("must be a string, not {}", other.type_str()),
                )),
            }
        };
        let id_text = text("id", true)?.unwrap_or_default();
        let service_text = text("service", true)?.unwrap_or_default();
        let component_text = text("component", false)?;
        let interval_text = text("interval", false)?;
        let timeout_text = text("timeout", false)?;
        let id = downbeat_domain::Slug::parse(&id_text).map_err(|e| self.err(key("id"), e))?;
        let service = services
            .iter()
            .find(|s| s.id.as_str() == service_text)
            .ok_or_else(|| {
                self.err(
                    key("service"),
                    format!("no [[service]] has id {service_text:?}"),
                )
            })?;
        let component = component_text
            .map(|c| {
                service
                    .components
                    .iter()
                    .find(|x| x.id.as_str() == c)
                    .map(|x| x.id.clone())
                    .ok_or_else(|| {
                        self.err(
                            key("component"),
                            format!("service {:?} has no component {c:?}", service.id.as_str()),
                        )
                    })
            })
            .transpose()?;
        let interval = match interval_text {
            None => Span::from_secs(60),
            Some(s) => Span::parse_within(&s, Span::from_secs(5), Span::from_secs(86_400))
                .map_err(|e| self.err(key("interval"), e))?,
        };
        if let Some(s) = timeout_text {
            let timeout = Span::parse_within(&s, Span::from_secs(0), Span::from_secs(120))
                .map_err(|e| self.err(key("timeout"), e))?;
            if timeout.as_millis() == 0 {
                return Err(self.err(key("timeout"), "must be more than zero"));
            }
            if timeout > interval {
                return Err(self.err(
                    key("timeout"),
                    format!("{timeout} is longer than the interval ({interval})"),
                ));
            }
            t.insert(
                "timeout_ms".into(),
                toml::Value::Integer(timeout.as_millis()),
            );
        }
        let def: downbeat_probe::ProbeDef =
            toml::Value::Table(t)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    self.err(format!("monitor[{i}]"), e.message().trim().to_owned())
                })?;
        let probe =
            downbeat_probe::ProbeSpec::parse(def).map_err(|e| self.err(key(e.field()), e))?;
        Ok(MonitorConfig {
            id,
            service: service.id.clone(),
            component,
            interval,
            probe,
        })
    }

    /// Operator text shown on pages: trimmed, non-empty, bounded, no control characters.
    fn text(&self, key: &str, s: String, max: usize) -> Result<String, ConfigError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(self.err(key, "must not be empty"));
        }
        if t.chars().count() > max {
            return Err(self.err(key, format!("must be at most {max} characters")));
        }
        if t.chars().any(char::is_control) {
            return Err(self.err(key, "must not contain control characters"));
        }
        Ok(t.to_owned())
    }
}

/// Parses `10.0.0.0/8` or a single address (`192.0.2.1` = a /32 or /128).
/// What is wrong with a URL that must be an absolute `http://` or `https://` URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("must start with http:// or https://")]
    Scheme,
    #[error("must not contain spaces or control characters")]
    Whitespace,
    #[error("must name a host (and no user or password)")]
    Host,
}

/// An absolute `http://` or `https://` URL with a host.
pub(crate) fn check_http_url(u: &str) -> Result<(), UrlProblem> {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or(UrlProblem::Scheme)?;
    if u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlProblem::Whitespace);
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') {
        return Err(UrlProblem::Host);
    }
    Ok(())
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
        .map(|n| n.trunc())
}

/// Why a `[server] geoip` file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpFileError {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a MaxMind DB file (GeoLite2-Country.mmdb or similar): {source}")]
    NotMaxMind {
        path: String,
        #[source]
        source: maxminddb::MaxMindDbError,
    },
}

/// Opens `path` as a MaxMind DB file, read into memory, as the pages read it.
pub fn open_geoip(path: &std::path::Path) -> Result<maxminddb::Reader<Vec<u8>>, GeoIpFileError> {
    let shown = path.display().to_string();
    maxminddb::Reader::open_readfile(path).map_err(|e| match e {
        maxminddb::MaxMindDbError::Io(source) => GeoIpFileError::Unreadable {
            path: shown,
            source,
        },
        source => GeoIpFileError::NotMaxMind {
            path: shown,
            source,
        },
    })
}

/// Whether `path` is a MaxMind DB file: opened and read as the pages will read it, so a
/// wrong file is refused at start rather than guessing nothing for months.
fn check_geoip(path: &std::path::Path) -> Result<(), GeoIpFileError> {
    open_geoip(path).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_str(text, "test.toml").unwrap_err().to_string()
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let c = parse_str(crate::EXAMPLE, "downbeat.example.toml").unwrap();
        let melodia = c.service("melodia").unwrap();
        assert_eq!(
            melodia
                .classify("Die neue Folge lädt nie")
                .map(|k| k.to_string()),
            Some("podcasts".into()),
            "the example's keywords find its custom kind"
        );
    }

    #[test]
    fn a_geoip_file_that_is_missing_or_not_a_maxmind_db_is_refused() {
        let dir = std::env::temp_dir().join(format!("downbeat-geoip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = dir.join("countries.csv");
        std::fs::write(&text, "network,country\n81.2.69.0/24,GB\n").unwrap();
        let svc = "[[service]]\nid = \"m\"\nname = \"M\"\n";
        let missing = err(&format!(
            "[server]\ngeoip = \"{}\"\n{svc}",
            dir.join("nope.mmdb").display()
        ));
        assert!(
            missing.contains("key `server.geoip`") && missing.contains("cannot read"),
            "{missing}"
        );
        let wrong = err(&format!("[server]\ngeoip = \"{}\"\n{svc}", text.display()));
        assert!(
            wrong.contains("key `server.geoip`") && wrong.contains("is not a MaxMind DB file"),
            "{wrong}"
        );
        let _ = std::fs::remove_dir_all(&dir);
        let c = parse_str(svc, "t").unwrap();
        assert_eq!(c.server.geoip, None);
    }

    #[test]
    fn signal_sources_corroborate_unless_told_otherwise() {
        let svc = "[[service]]\nid = \"m\"\nname = \"M\"\n";
        let c = parse_str(
            &format!(
                "{svc}[[service.signal]]\nsource = \"mastodon\"\nname = \"Mastodon\"\n\
                 [[service.signal]]\nsource = \"status-forum\"\nname = \"the forum\"\nraises = \"alone\"\n"
            ),
            "t",
        )
        .unwrap();
        let s = &c.services[0];
        assert_eq!(s.signals.len(), 2);
        assert_eq!(
            s.signal_source("mastodon").unwrap().raises,
            Raises::Corroborate
        );
        assert_eq!(
            s.signal_source("status-forum").unwrap().raises,
            Raises::Alone
        );
        assert!(s.signal_source("bluesky").is_none());
        for (extra, expected) in [
            (
                "source = \"Mastodon!\"\nname = \"x\"",
                "service[0].signal[0].source",
            ),
            (
                "source = \"a\"\nname = \"x\"\nraises = \"always\"",
                "\"always\" is not one of",
            ),
            ("source = \"a\"\nname = \"\"", "service[0].signal[0].name"),
            ("source = \"a\"\nname = \"x\"\nweight = 2", "weight"),
        ] {
            let e = err(&format!("{svc}[[service.signal]]\n{extra}\n"));
            assert!(e.contains(expected), "{extra}: {e}");
        }
        let e = err(&format!(
            "{svc}[[service.signal]]\nsource = \"a\"\nname = \"x\"\n[[service.signal]]\nsource = \"a\"\nname = \"y\"\n"
        ));
        assert!(
            e.contains("service[0].signal[1].source") && e.contains("duplicate"),
            "{e}"
        );
    }

    #[test]
    fn keywords_replace_a_kinds_defaults_and_custom_kinds_have_none_unless_given() {
        let svc = "[[service]]\nid = \"m\"\nname = \"M\"\n";
        let c = parse_str(svc, "t").unwrap();
        let s = &c.services[0];
        let ids: Vec<&str> = s.keywords.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            ids,
            [
                "login",
                "playback",
                "playlists",
                "crash",
                "connection",
                "search",
                "other"
            ],
            "every offered kind, in page order"
        );
        assert!(s.keywords[0].1.iter().any(|w| w == "iniciar sesion"));
        assert!(s.keywords[6].1.is_empty(), "other has no phrases");
        assert_eq!(
            s.classify("Não consigo entrar").map(|k| k.to_string()),
            Some("login".into())
        );

        let c = parse_str(
            &format!(
                "{svc}problems = [\"login\", \"playback\", {{ id = \"podcasts\", label = \"Podcasts\" }}, \"search\"]\n\
                 [service.keywords]\nlogin = [\"  can’t get in \", \"kicked out\"]\n\
                 podcasts = [\"podcast\", \"episode\"]\nsearch = []\n"
            ),
            "t",
        )
        .unwrap();
        let s = &c.services[0];
        let kind = |text: &str| s.classify(text).map(|k| k.to_string());
        assert_eq!(s.keywords[0].1, ["can’t get in", "kicked out"], "trimmed");
        assert_eq!(kind("I can't get in!").as_deref(), Some("login"));
        assert_eq!(
            kind("can't log in").as_deref(),
            None,
            "the configured phrases replace the defaults"
        );
        assert_eq!(
            kind("no sound").as_deref(),
            Some("playback"),
            "a kind not configured keeps its defaults"
        );
        assert_eq!(
            kind("the new episode of my podcast").as_deref(),
            Some("podcasts")
        );
        assert_eq!(
            kind("search is broken").as_deref(),
            None,
            "an empty list: never found"
        );

        let c = parse_str(
            &format!("{svc}problems = [{{ id = \"podcasts\", label = \"Podcasts\" }}]\n"),
            "t",
        )
        .unwrap();
        assert_eq!(c.services[0].keywords[0].1, Vec::<String>::new());
    }

    #[test]
    fn bad_keywords_name_their_key() {
        let svc = "[[service]]\nid = \"m\"\nname = \"M\"\nproblems = [\"login\", \"search\"]\n[service.keywords]\n";
        let many = format!(
            "login = [{}]",
            (0..101)
                .map(|n| format!("\"w{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let long = format!("search = [\"ok\", \"{}\"]", "x".repeat(61));
        let cases: &[(&str, &[&str])] = &[
            (
                "playback = [\"no sound\"]",
                &[
                    "service[0].keywords.playback",
                    "offers no problem kind \"playback\"",
                    "login, search",
                ],
            ),
            (
                "login = [\"log in\", \"  \"]",
                &["service[0].keywords.login[1]", "empty"],
            ),
            (
                &long,
                &["service[0].keywords.search[1]", "at most 60 characters"],
            ),
            (
                &many,
                &["service[0].keywords.login", "101 phrases; at most 100"],
            ),
            (
                "login = [\"!?\"]",
                &["service[0].keywords.login[0]", "no letters or digits"],
            ),
            (
                "login = [\"a\\tb\"]",
                &["service[0].keywords.login[0]", "control"],
            ),
            (
                "login = \"log in\"",
                &["service[0].keywords.login", "sequence"],
            ),
            ("login = [1]", &["service[0].keywords.login[0]"]),
        ];
        for (extra, wants) in cases {
            let e = err(&format!("{svc}{extra}\n"));
            for w in *wants {
                assert!(e.contains(w), "{extra}: {e:?} should mention {w:?}");
            }
        }
        // Exactly at the limits is fine.
        let at_limit = format!(
            "{svc}login = [{}]\nsearch = [\"{}\"]\n",
            (0..100)
                .map(|n| format!("\"w{n}\""))
                .collect::<Vec<_>>()
                .join(", "),
            "x".repeat(60)
        );
        assert_eq!(
            parse_str(&at_limit, "t").unwrap().services[0].keywords[0]
                .1
                .len(),
            100
        );
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse_str("[[service]]\nid = \"melodia\"\nname = \"Melodia\"\n", "t").unwrap();
        let s = &c.services[0];
        assert_eq!(s.problems.len(), 7);
        assert!(s.offers("login").is_some());
        assert_eq!(c.reports.dedupe_window.as_secs(), 900);
        assert_eq!(c.reports.city_min_networks, 3);
        assert_eq!(c.retention.raw.as_secs(), 30 * 86_400);
        assert!(c.server.trusted_proxies.is_empty());
        assert_eq!(c.server.password_checks, 2);
        assert_eq!(c.server.database_connect_timeout.as_secs(), 5);
        assert_eq!(c.server.database_statement_timeout.as_secs(), 30);
        assert_eq!(s.comments, CommentMode::Off);
    }

    #[test]
    fn comment_modes_are_read_per_service() {
        let text = "[[service]]\nid = \"a\"\nname = \"A\"\ncomments = \"premoderated\"\n\
                    [[service]]\nid = \"b\"\nname = \"B\"\ncomments = \"open\"\n\
                    [[service]]\nid = \"c\"\nname = \"C\"\ncomments = \"off\"\n\
                    [[service]]\nid = \"d\"\nname = \"D\"\n";
        let c = parse_str(text, "t").unwrap();
        let modes: Vec<CommentMode> = c.services.iter().map(|s| s.comments).collect();
        assert_eq!(
            modes,
            [
                CommentMode::Premoderated,
                CommentMode::Open,
                CommentMode::Off,
                CommentMode::Off
            ]
        );
    }

    #[test]
    fn bad_configs_name_file_key_and_reason() {
        let cases: &[(&str, &[&str])] = &[
            (
                "[[service]]\nid = \"Melodia\"\nname = \"M\"\n",
                &["test.toml", "service[0].id", "lowercase"],
            ),
            (
                "[[service]]\nid = \"m\"\nname = \"M\"\ncolour = 1\n",
                &["test.toml", "colour"],
            ),
            (
                "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
                &["server.trusted_proxies[0]", "IP network"],
            ),
            ("[server]\nlisten = \"everywhere\"\n", &["server.listen"]),
            (
                "[server]\npassword_checks = 0\n",
                &["server.password_checks", "between 1 and 64"],
            ),
            (
                "[server]\ndatabase_url = \"mysql://u:hunter2@h/db\"\n",
                &["server.database_url"],
            ),
            (
                "[server]\ndatabase_connect_timeout = \"0s\"\n",
                &["server.database_connect_timeout"],
            ),
            (
                "[server]\ndatabase_statement_timeout = \"forever\"\n",
                &["server.database_statement_timeout", "not a duration"],
            ),
            (
                "[reports]\ndedupe_window = \"soon\"\n",
                &["reports.dedupe_window", "not a duration"],
            ),
            (
                "[reports]\nrate_limit_burst = 0\n",
                &["reports.rate_limit_burst"],
            ),
            (
                "[reports]\nrate_limit_burst = -3\n",
                &["reports.rate_limit_burst"],
            ),
            (
                "[reports]\ncity_min_networks = 1\n",
                &["reports.city_min_networks", "at least 2"],
            ),
            (
                "[reports]\nmessage_min_networks = 1\n",
                &["reports.message_min_networks", "at least 2"],
            ),
            (
                "[reports]\nmessage_blocked_words = [\"two words\"]\n",
                &["reports.message_blocked_words", "not one word"],
            ),
            (
                "[[service]]\nid = \"m\"\nname = \"M\"\n[[service]]\nid = \"m\"\nname = \"N\"\n",
                &["service[1].id", "duplicate"],
            ),
            (
                "[[service]]\nid = \"m\"\nname = \"M\"\nproblems = [\"teleport\"]\n",
                &["service[0].problems[0]", "teleport"],
            ),
            (
                "[[service]]\nid = \"m\"\nname = \"  \"\n",
                &["service[0].name", "empty"],
            ),
            (
                "[[service]]\nid = \"m\"\nname = \"M\"\ncomments = \"moderated\"\n",
                &[
                    "service[0].comments",
                    "\"moderated\" is not a comment mode",
                    "off, premoderated or open",
                ],
            ),
            (
                "[[service]]\nid = \"m\"\nname = \"M\"\ncomments = true\n",
                &["service[0].comments", "string"],
            ),
            (
                "[[service]]\nid = \"m\"\nname = \"M\"\n[[service.component]]\nid = \"a b\"\nname = \"A\"\n",
                &["service[0].component[0].id"],
            ),
            (
                "[retention]\nraw = \"90d\"\nrollups = \"30d\"\n",
                &["retention.rollups"],
            ),
            ("[[service]\n", &["test.toml"]),
            (
                "[[user]]\nname = \"ana\"\nrole = \"root\"\npassword_hash = \"x\"\n",
                &[
                    "user[0].role",
                    "\"root\" is not a role",
                    "viewer, editor or admin",
                ],
            ),
            (
                "[[user]]\nname = \"ana\"\nrole = \"editor\"\npassword_hash = \"hunter2\"\n",
                &["user[0].password_hash", "argon2 PHC", "downbeat user hash"],
            ),
            (
                "[[user]]\nname = \"ana\"\nrole = \"editor\"\npassword_hash = \"$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA\"\n",
                &["user[0].password_hash", "argon2"],
            ),
            (
                "[[user]]\nname = \"a b\"\nrole = \"editor\"\npassword_hash = \"x\"\n",
                &["user[0].name"],
            ),
            (
                "[[user]]\nname = \"ana\"\nrole = \"viewer\"\npassword = \"x\"\n",
                &["user[0]", "password"],
            ),
        ];
        for (text, wants) in cases {
            let e = err(text);
            for w in *wants {
                assert!(
                    e.contains(w),
                    "error for {text:?} should mention {w:?}, got: {e}"
                );
            }
        }
    }

    #[test]
    fn users_with_an_argon2_hash_are_accepted() {
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$qLml5cbqFAO6YxVHhrSBHP0UWdxrIxkNcM8aMX3JA8k";
        let c = parse_str(
            &format!("[[user]]\nname = \"ana\"\nrole = \"editor\"\npassword_hash = \"{hash}\"\n"),
            "t",
        )
        .unwrap();
        assert_eq!(c.users.len(), 1);
        assert_eq!(c.users[0].role, Role::Editor);
        assert_eq!(c.users[0].password_hash, hash);
        assert!(
            !format!("{:?}", c.users[0]).contains("argon2id"),
            "hash kept out of Debug"
        );
        let twice = format!(
            "[[user]]\nname = \"ana\"\nrole = \"editor\"\npassword_hash = \"{hash}\"\n\
             [[user]]\nname = \"ana\"\nrole = \"viewer\"\npassword_hash = \"{hash}\"\n"
        );
        let e = err(&twice);
        assert!(e.contains("user[1].name") && e.contains("duplicate"), "{e}");
        let e = err("[[user]]\nname = \"ana\"\nrole = \"editor\"\npassword_hash = \"hunter2\"\n");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn database_url_errors_never_echo_secrets() {
        let e = err("[server]\ndatabase_url = \"mysql://u:hunter2@h/db\"\n");
        assert!(!e.contains("hunter2"), "{e}");
    }

    const SVC: &str = "[[service]]\nid = \"melodia\"\nname = \"M\"\n[[service.component]]\nid = \"login\"\nname = \"Login\"\n";

    #[test]
    fn monitors_are_parsed_with_probe_options() {
        let text = format!(
            "{SVC}[probes]\nquorum = 2\n[[monitor]]\nid = \"api\"\nservice = \"melodia\"\ncomponent = \"login\"\nkind = \"http\"\ntarget = \"https://127.0.0.1:8443/health\"\ninterval = \"30s\"\ntimeout = \"5s\"\nexpect_status = \"200-299\"\nbody_contains = \"ok\"\n[[monitor]]\nid = \"cert\"\nservice = \"melodia\"\nkind = \"tls\"\ntarget = \"localhost:8443\"\n"
        );
        let c = parse_str(&text, "t").unwrap();
        assert_eq!(c.probes.quorum, 2);
        assert!(
            c.probes.resolvers.is_empty(),
            "the system's resolver by default"
        );
        let with = parse_str(
            &format!("{SVC}[probes]\nresolvers = [\"127.0.0.1:5353\"]\n"),
            "t",
        )
        .unwrap();
        assert_eq!(
            with.probes.resolvers,
            vec!["127.0.0.1:5353".parse().unwrap()]
        );
        let api = c.monitor("api").unwrap();
        assert_eq!(api.interval.as_secs(), 30);
        assert_eq!(api.probe.timeout().as_secs(), 5);
        assert_eq!(api.component.as_ref().unwrap().as_str(), "login");
        assert_eq!(
            c.monitor("cert").unwrap().interval.as_secs(),
            60,
            "default interval"
        );
    }

    /// The example file's commented-out monitors of the newer kinds, as a config would have
    /// them (TOML nesting, inline tables), are accepted.
    #[test]
    fn monitors_of_every_kind_parse() {
        let text = format!(
            r#"{SVC}
[[monitor]]
id = "ping"
service = "melodia"
kind = "ping"
target = "edge.melodia.example"
count = 3
max_loss = 50
[[monitor]]
id = "domain"
service = "melodia"
kind = "domain"
target = "melodia.example"
rdap_url = "https://rdap.example-registry.net/v1"
warn_days = 30
[[monitor]]
id = "ws"
service = "melodia"
kind = "websocket"
target = "wss://live.melodia.example/socket"
send = '{{"type":"ping"}}'
expect = "pong"
[[monitor]]
id = "grpc"
service = "melodia"
kind = "grpc"
target = "https://catalog.melodia.example:443"
grpc_service = "melodia.catalog.v1.Catalog"
[[monitor]]
id = "flow"
service = "melodia"
kind = "flow"
target = "https://api.melodia.example"
timeout = "20s"
[[monitor.step]]
name = "log in"
method = "POST"
url = "/login"
headers = {{ "Content-Type" = "application/json" }}
body = '{{"user": "probe"}}'
expect_status = "200"
capture = {{ token = "/token" }}
[[monitor.step]]
name = "fetch playlist"
url = "/playlists/daily"
headers = {{ Authorization = "Bearer ${{token}}" }}
capture_regex = {{ track = '"id":\s*"([^"]+)"' }}
[[monitor.step]]
url = "https://cdn.melodia.example/tracks/${{track}}"
"#
        );
        let c = parse_str(&text, "test.toml").unwrap();
        let kinds: Vec<&str> = c.monitors.iter().map(|m| m.probe.kind().as_str()).collect();
        assert_eq!(kinds, ["ping", "domain", "websocket", "grpc", "flow"]);
        let flow = c.monitor("flow").unwrap();
        assert_eq!(flow.probe.def().flow.step.len(), 3);
    }

    #[test]
    fn bad_monitors_name_their_key() {
        let m = |body: &str| format!("{SVC}[[monitor]]\nid = \"m\"\nservice = \"melodia\"\n{body}");
        let cases: &[(String, &[&str])] = &[
            (
                m("kind = \"http\"\ntarget = \"http://x/\"\ninterval = \"1s\"\n"),
                &["monitor[0].interval", "minimum"],
            ),
            (
                m(
                    "kind = \"http\"\ntarget = \"http://x/\"\ninterval = \"10s\"\ntimeout = \"20s\"\n",
                ),
                &["monitor[0].timeout", "longer"],
            ),
            (m("kind = \"ftp\"\ntarget = \"x\"\n"), &["monitor[0]"]),
            (
                format!("{SVC}[probes]\nresolvers = [\"127.0.0.1:53\", \"dns.example\"]\n"),
                &["probes.resolvers[1]", "dns.example"],
            ),
            (
                m("kind = \"http\"\ntarget = \"http://x/\"\ncolour = \"red\"\n"),
                &["monitor[0]", "colour"],
            ),
            (
                m("kind = \"http\"\ntarget = \"not a url\"\n"),
                &["monitor[0].target"],
            ),
            (
                m(
                    "kind = \"flow\"\ntarget = \"http://x\"\n[[monitor.step]]\nname = \"log in\"\nurl = \"/login\"\n[[monitor.step]]\nurl = \"/me\"\nheaders = { Authorization = \"Bearer ${token}\" }\n",
                ),
                &[
                    "monitor[0].step[1].headers",
                    "${token} is not captured by an earlier step",
                ],
            ),
            (
                m(
                    "kind = \"flow\"\ntarget = \"http://x\"\n[[monitor.step]]\nurl = \"/${token}\"\n",
                ),
                &["monitor[0].step[0].url", "${token} is not captured"],
            ),
            (
                m("kind = \"ping\"\ntarget = \"h\"\nmax_loss = 120\n"),
                &["monitor[0].max_loss"],
            ),
            (
                m("kind = \"domain\"\ntarget = \"melodia.example\"\n"),
                &["monitor[0].rdap_url", "required"],
            ),
            (
                m("kind = \"http\"\ntarget = \"http://x/\"\ncomponent = \"nope\"\n"),
                &["monitor[0].component", "nope"],
            ),
            (
                format!(
                    "{SVC}[[monitor]]\nid = \"m\"\nservice = \"spotify\"\nkind = \"tcp\"\ntarget = \"h:1\"\n"
                ),
                &["monitor[0].service", "spotify"],
            ),
            (
                format!(
                    "{SVC}[[monitor]]\nservice = \"melodia\"\nkind = \"tcp\"\ntarget = \"h:1\"\n"
                ),
                &["monitor[0].id", "required"],
            ),
            (format!("{SVC}[probes]\nquorum = 0\n"), &["probes.quorum"]),
            (
                format!("{SVC}[probes]\nagent_max_skew = \"2h\"\n"),
                &["probes.agent_max_skew"],
            ),
            (
                format!("{SVC}[retention]\nraw = \"3d\"\n[probes]\nagent_max_age = \"4d\"\n"),
                &["probes.agent_max_age"],
            ),
        ];
        for (text, wants) in cases {
            let e = err(text);
            for w in *wants {
                assert!(
                    e.contains(w),
                    "error for {text:?} should mention {w:?}, got: {e}"
                );
            }
        }
        let dup = format!(
            "{SVC}[[monitor]]\nid = \"m\"\nservice = \"melodia\"\nkind = \"tcp\"\ntarget = \"h:1\"\n[[monitor]]\nid = \"m\"\nservice = \"melodia\"\nkind = \"tcp\"\ntarget = \"h:2\"\n"
        );
        assert!(err(&dup).contains("duplicate monitor"));
    }

    #[test]
    fn webhooks_are_parsed_with_filters() {
        let c = parse_str(
            "[[service]]\nid = \"m\"\nname = \"M\"\n[notify]\npublic_url = \"https://status.example/\"\n[[notify.webhook]]\nid = \"ops\"\nurl = \"https://hooks.example/downbeat\"\nsecret = \"0123456789abcdef\"\nservices = [\"m\"]\nevents = [\"incident\", \"monitor.down\"]\n",
            "test.toml",
        )
        .unwrap();
        assert_eq!(c.notify.public_url, "https://status.example");
        let w = &c.notify.destinations[0];
        assert_eq!((w.id.as_str(), w.concurrency), ("ops", 4));
        let none: &[&str] = &[];
        assert!(w.wants("incident.resolved", "m", none) && w.wants("monitor.down", "m", none));
        assert!(!w.wants("monitor.up", "m", none) && !w.wants("incident.created", "other", none));
        assert!(
            !format!("{c:?}").contains("0123456789abcdef"),
            "the secret never prints"
        );
    }

    #[test]
    fn bad_webhooks_name_their_key() {
        let svc = "[[service]]\nid = \"m\"\nname = \"M\"\n";
        let hook = |extra: &str| {
            format!(
                "{svc}[[notify.webhook]]\nid = \"ops\"\nurl = \"https://h.example/x\"\nsecret = \"0123456789abcdef\"\n{extra}"
            )
        };
        let cases: Vec<(String, &[&str])> = vec![
            (hook("colour = 1\n"), &["colour"]),
            (
                hook("events = [\"incident.exploded\"]\n"),
                &["notify.webhook[0].events[0]", "incident.exploded"],
            ),
            (
                hook("services = [\"nope\"]\n"),
                &["notify.webhook[0].services[0]", "nope"],
            ),
            (
                hook("concurrency = 0\n"),
                &["notify.webhook[0].concurrency"],
            ),
            (
                hook("").replace("https://h.example/x", "ftp://h/x"),
                &["notify.webhook[0].url", "http"],
            ),
            (
                hook("").replace("0123456789abcdef", "short"),
                &["notify.webhook[0].secret", "16"],
            ),
            (
                format!(
                    "{}{}",
                    hook(""),
                    "[[notify.webhook]]\nid = \"ops\"\nurl = \"http://h/\"\nsecret = \"0123456789abcdef\"\n"
                ),
                &["notify.webhook[1].id", "duplicate"],
            ),
            (
                "[notify]\nmax_attempts = 0\n".into(),
                &["notify.max_attempts"],
            ),
            ("[notify]\nspeed = 1\n".into(), &["speed"]),
        ];
        for (text, wanted) in &cases {
            let e = err(text);
            for w in *wanted {
                assert!(e.contains(w), "{text:?}: {e:?} lacks {w:?}");
            }
            assert!(!e.contains("0123456789abcdef"), "{e}");
        }
    }

    #[test]
    fn custom_problem_kinds_and_proxies() {
        let c = parse_str(
            "[server]\ntrusted_proxies = [\"127.0.0.0/8\", \"::1\"]\n[[service]]\nid = \"m\"\nname = \"M\"\nproblems = [\"login\", { id = \"podcasts\", label = \"Podcasts\" }]\n",
            "t",
        )
        .unwrap();
        assert!(c.server.is_trusted_proxy("127.1.2.3".parse().unwrap()));
        assert!(c.server.is_trusted_proxy("::1".parse().unwrap()));
        assert!(!c.server.is_trusted_proxy("10.0.0.1".parse().unwrap()));
        let s = &c.services[0];
        assert_eq!(s.offers("podcasts").unwrap().label, "Podcasts");
        assert_eq!(s.offers("login").unwrap().label, "Login");
        assert!(s.offers("playback").is_none());
    }
}
