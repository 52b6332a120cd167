//! The validated configuration.

use downbeat_domain::{CommentMode, ComponentId, ProblemKind, ProblemOption, ServiceId, Span};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Everything the config file declares, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub reports: ReportSettings,
    pub retention: Retention,
    pub services: Vec<ServiceConfig>,
    pub probes: ProbeSettings,
    pub monitors: Vec<MonitorConfig>,
    /// `[[user]]`: admin users declared in the file, synced to the store at start.
    pub users: Vec<UserConfig>,
    pub notify: NotifySettings,
    /// What each vantage region stands for: its public name and countries.
    pub regions: crate::regions::Regions,
    /// `[integrations]`: other monitors' alerts mapped to component states.
    pub integrations: IntegrationSettings,
    /// The file it was read from (composed again with the store's objects at every change).
    pub source: crate::layers::Source,
    /// Where each service, monitor and destination comes from: the file or the store.
    pub origins: crate::layers::Origins,
    /// Services' and monitors' positions by id (hot paths look one up per result or
    /// report).
    pub(crate) index: Index,
}

/// Positions of services and monitors by id, built with the config.
#[derive(Debug, Clone, Default)]
pub struct Index {
    services: std::collections::HashMap<String, usize>,
    monitors: std::collections::HashMap<String, usize>,
}

impl Index {
    pub(crate) fn of(services: &[ServiceConfig], monitors: &[MonitorConfig]) -> Index {
        Index {
            services: services
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.to_string(), i))
                .collect(),
            monitors: monitors
                .iter()
                .enumerate()
                .map(|(i, m)| (m.id.to_string(), i))
                .collect(),
        }
    }
}

impl Config {
    pub fn service(&self, id: &str) -> Option<&ServiceConfig> {
        self.service_position(id).map(|i| &self.services[i])
    }

    pub fn monitor(&self, id: &str) -> Option<&MonitorConfig> {
        self.monitor_position(id).map(|i| &self.monitors[i])
    }

    /// Service `id`'s position in `services`.
    pub fn service_position(&self, id: &str) -> Option<usize> {
        match self.index.services.get(id) {
            Some(&i) if self.services.get(i).is_some_and(|s| s.id.as_str() == id) => Some(i),
            // A config changed after it was built: look it up the long way.
            _ => self.services.iter().position(|s| s.id.as_str() == id),
        }
    }

    /// Monitor `id`'s position in `monitors`.
    pub fn monitor_position(&self, id: &str) -> Option<usize> {
        match self.index.monitors.get(id) {
            Some(&i) if self.monitors.get(i).is_some_and(|m| m.id.as_str() == id) => Some(i),
            _ => self.monitors.iter().position(|m| m.id.as_str() == id),
        }
    }
}

/// `[server]`: where and how the server runs. `listen`, `data_dir` and `database_url` are
/// defaults that command-line flags and `DOWNBEAT_*` variables override.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    /// PostgreSQL: how long a new connection may take, TCP, TLS and sign-in together
    /// (default 5 s). A URL's own `connect_timeout` wins.
    pub database_connect_timeout: Span,
    /// PostgreSQL: how long one statement may run before the server cancels it (default
    /// 30 s); a server silent this plus the connect timeout while it owes an answer loses
    /// the connection, and the request gets 503.
    pub database_statement_timeout: Span,
    /// Peers whose `X-Forwarded-For` is believed (a reverse proxy or CDN in front).
    pub trusted_proxies: Vec<IpNet>,
    /// The name of the vantage region this server probes from.
    pub region: String,
    /// An operator-provided MaxMind DB file (GeoLite2/GeoIP2 Country or City) that
    /// guesses a reporter's country from their address; checked readable at load.
    pub geoip: Option<PathBuf>,
    /// How long a client may take to send a request's headers, and how long a kept-alive
    /// connection may stay idle: slower connections are closed (default 10 s).
    pub header_timeout: Span,
    /// How long one request may take, body included (default 30 s): then 408.
    pub request_timeout: Span,
    /// Connections served at once; more are closed at accept (default 10,000).
    pub max_connections: usize,
    /// On shutdown, how long open connections may finish before they are closed (10 s).
    pub shutdown_grace: Span,
    /// Sign-in password checks (argon2, deliberately slow and memory-hungry) run at once
    /// (default 2); more wait their turn, so a flood of sign-ins cannot take the blocking
    /// threads the store also needs.
    pub password_checks: usize,
}

impl ServerConfig {
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

/// `[reports]`: how crowd reports are accepted.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// The same client reporting on the same service within this window counts once.
    pub dedupe_window: Span,
    /// Token bucket per client address: this many reports at once...
    pub rate_limit_burst: u32,
    /// ...refilled at this many per minute.
    pub rate_limit_per_minute: u32,
    /// Larger request bodies are refused with 413.
    pub max_body_bytes: usize,
    /// A city a reporter typed is shown on public pages only once reports from at least
    /// this many distinct client networks typed it (at least 2: one report's text never
    /// shows).
    pub city_min_networks: u32,
    /// What an error on a listener's screen says is shown only in clusters that reports
    /// from at least this many distinct client networks typed (at least 2).
    pub message_min_networks: u32,
    /// Words that keep a message from ever being shown (whole words, any case), on top of
    /// links, e-mail addresses and phone numbers, which never are.
    pub message_blocked_words: Vec<String>,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            dedupe_window: Span::from_secs(15 * 60),
            rate_limit_burst: 10,
            rate_limit_per_minute: 10,
            max_body_bytes: 16 * 1024,
            city_min_networks: 3,
            message_min_networks: 3,
            message_blocked_words: Vec::new(),
        }
    }
}

/// `[retention]`: how long raw events and roll-ups are kept.
#[derive(Debug, Clone)]
pub struct Retention {
    pub raw: Span,
    pub rollups: Span,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw: Span::from_secs(30 * 86_400),
            rollups: Span::from_secs(400 * 86_400),
        }
    }
}

/// `[[service]]`: one service people report problems with.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub id: ServiceId,
    pub name: String,
    pub components: Vec<ComponentConfig>,
    /// The problem kinds offered to reporters, in page order.
    pub problems: Vec<ProblemOption>,
    /// Every offered kind with the phrases that find it in posts, in page order (so a tie
    /// goes to the kind listed first): `[service.keywords]` where given, the defaults of a
    /// well-known kind otherwise, none for a custom kind without any (and for `other`).
    pub keywords: Vec<(ProblemKind, Vec<String>)>,
    /// Troubleshooting tips shown to listeners.
    pub tips: Vec<String>,
    /// Publish automatically drafted incidents at once.
    pub auto_publish: bool,
    /// Draw recorded changes on the public chart (their kind and component, nothing more).
    pub public_changes: bool,
    /// Outside sources of signals (`[[service.signal]]`), each with its own detector series.
    pub signals: Vec<SignalSource>,
    /// Community comments on the public page: off, premoderated (shown once an operator
    /// approves them) or open (shown at once).
    pub comments: CommentMode,
}

impl ServiceConfig {
    pub fn offers(&self, problem: &str) -> Option<&ProblemOption> {
        self.problems.iter().find(|p| p.kind.as_str() == problem)
    }

    /// The problem kind a post's `text` speaks of, by the service's keywords
    /// ([`downbeat_domain::problem_words::classify`]).
    pub fn classify(&self, text: &str) -> Option<ProblemKind> {
        downbeat_domain::problem_words::classify(text, &self.keywords)
    }
}

/// `[[service.signal]]`: an outside source of signals about the service (social posts, a
/// forum, a support site), posted to `POST /api/v1/services/{service}/signals`.
#[derive(Debug, Clone)]
pub struct SignalSource {
    /// The `source` its rows carry (a slug).
    pub source: downbeat_domain::Slug,
    /// Shown on the page: "Posts on {name}".
    pub name: String,
    pub raises: Raises,
    /// The built-in poller that fills it, if any (else an outside sender posts to the API).
    pub poll: Option<crate::poll::PollConfig>,
}

/// Whether a source's own verdict may raise the service's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raises {
    /// Only when the crowd's reports already suggest a problem (the default): chatter alone,
    /// which anyone can stir up, never calls an outage.
    Corroborate,
    /// On its own too.
    Alone,
}

impl Raises {
    /// Its config word: `corroborate` or `alone`.
    pub fn as_str(self) -> &'static str {
        match self {
            Raises::Corroborate => "corroborate",
            Raises::Alone => "alone",
        }
    }
}

impl ServiceConfig {
    pub fn signal_source(&self, source: &str) -> Option<&SignalSource> {
        self.signals.iter().find(|s| s.source.as_str() == source)
    }
}

/// `[[service.component]]`: a part of the service with its own official state.
#[derive(Debug, Clone)]
pub struct ComponentConfig {
    pub id: ComponentId,
    pub name: String,
    pub description: Option<String>,
}

/// `[probes]`: how monitor results become a verdict.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    /// A monitor is down when at least this many vantage regions see it fail (default 1; with
    /// agents in several regions, 2 keeps one broken vantage point from paging anyone).
    pub quorum: u32,
    /// Consecutive failing rounds before a monitor is declared down.
    pub failures_to_open: u32,
    /// Consecutive good rounds before a down monitor is declared up again.
    pub successes_to_close: u32,
    /// A known-good target (`host:port`) every vantage point checks: when a vantage cannot
    /// reach it, its failures are marked unreliable instead of blamed on the monitors.
    pub canary: Option<String>,
    /// Most probes in flight at once on this node.
    pub concurrency: usize,
    /// DNS servers (`ip:port`) the probes resolve names with, instead of the system's
    /// `/etc/resolv.conf` (empty: the system's).
    pub resolvers: Vec<std::net::SocketAddr>,
    /// An agent's result that started further in the future than this (by this server's
    /// clock) is refused (default 30 s): a skewed clock must not keep a monitor down.
    pub agent_max_skew: Span,
    /// An agent's result older than this is refused (default 2 days, at most
    /// `retention.raw`): the agent's buffer drains a long outage's backlog within it.
    pub agent_max_age: Span,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            quorum: 1,
            failures_to_open: 2,
            successes_to_close: 2,
            canary: None,
            concurrency: 512,
            resolvers: Vec::new(),
            agent_max_skew: Span::from_secs(30),
            agent_max_age: Span::from_secs(2 * 86_400),
        }
    }
}

/// `[[monitor]]`: a synthetic check of a service, run on a schedule from every region.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    pub id: downbeat_domain::Slug,
    pub service: ServiceId,
    pub component: Option<ComponentId>,
    /// How often to probe (default 60 s, at least 5 s).
    pub interval: Span,
    /// The validated probe: kind, target, timeout and kind-specific expectations.
    pub probe: downbeat_probe::ProbeSpec,
}

/// What an admin user may do: viewer, editor or admin (API tokens have one more role,
/// `agent`, which no person has).
pub use downbeat_domain::Role;

/// `[[user]]`: an admin user whose password hash lives in the config file (for deployments
/// that keep every secret in configuration management). At start it is written to the
/// store, replacing a stored user of the same name.
#[derive(Clone, PartialEq, Eq)]
pub struct UserConfig {
    pub name: String,
    pub role: Role,
    /// An argon2 PHC string (`$argon2id$v=19$...`).
    pub password_hash: String,
}

impl std::fmt::Debug for UserConfig {
    // The hash is not the password, but it is offline-crackable: keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

// `[integrations]` lives in its own module; its types are part of the model.
pub use crate::integrations::{
    AlertMapping, AlertRoute, AlertmanagerSettings, ComponentField, Field, InboundWebhook,
    IntegrationSettings, Pick, RateLimit,
};

// `[notify]` lives in its own module; its types are part of the model.
pub use crate::notify::{
    Channel, ChatFormat, Destination, EVENT_KINDS, EventFilter, FlapSettings, Format,
    NotifySettings, Secret, SmtpConfig, SmtpTls, SubscriberSettings, WebhookTemplate,
};
