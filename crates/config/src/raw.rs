//! The serde shape of the TOML file. Every table rejects unknown keys so typos are caught.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub reports: RawReports,
    #[serde(default)]
    pub retention: RawRetention,
    #[serde(default, rename = "service")]
    pub services: Vec<RawService>,
    #[serde(default)]
    pub probes: RawProbes,
    /// Each monitor is a table whose probe options are checked by the probe crate's own
    /// (strict) definition, so it stays a plain table here.
    #[serde(default, rename = "monitor")]
    pub monitors: Vec<toml::Table>,
    /// Admin users declared in the file (beside those added with `downbeat user add`).
    #[serde(default, rename = "user")]
    pub users: Vec<RawUser>,
    #[serde(default)]
    pub notify: RawNotify,
    /// What each vantage region stands for (see [`crate::regions`]).
    #[serde(default, rename = "region")]
    pub regions: Vec<crate::regions::RawRegion>,
    #[serde(default)]
    pub integrations: RawIntegrations,
}

pub use crate::integrations::RawIntegrations;
pub use crate::notify::RawNotify;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub name: String,
    pub role: String,
    /// An argon2 PHC string, as `downbeat user hash` prints it.
    pub password_hash: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbes {
    pub quorum: Option<u32>,
    pub failures_to_open: Option<u32>,
    pub successes_to_close: Option<u32>,
    pub canary: Option<String>,
    pub concurrency: Option<usize>,
    #[serde(default)]
    pub resolvers: Vec<String>,
    pub agent_max_skew: Option<String>,
    pub agent_max_age: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub data_dir: Option<String>,
    pub database_url: Option<String>,
    pub database_connect_timeout: Option<String>,
    pub database_statement_timeout: Option<String>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    pub region: Option<String>,
    pub geoip: Option<String>,
    pub header_timeout: Option<String>,
    pub request_timeout: Option<String>,
    pub max_connections: Option<usize>,
    pub shutdown_grace: Option<String>,
    pub password_checks: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReports {
    pub dedupe_window: Option<String>,
    pub rate_limit_burst: Option<u32>,
    pub rate_limit_per_minute: Option<u32>,
    pub max_body_bytes: Option<usize>,
    pub city_min_networks: Option<u32>,
    pub message_min_networks: Option<u32>,
    pub message_blocked_words: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    pub raw: Option<String>,
    pub rollups: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub id: String,
    pub name: String,
    #[serde(default, rename = "component")]
    pub components: Vec<RawComponent>,
    pub problems: Option<Vec<RawProblem>>,
    /// `[service.keywords]`: per problem kind, the phrases that find it in posts, replacing
    /// that kind's defaults.
    #[serde(default)]
    pub keywords: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub tips: Vec<String>,
    /// Publish automatically drafted incidents at once instead of waiting for an operator.
    #[serde(default)]
    pub auto_publish: bool,
    /// Community comments on the public page: "off" (the default), "premoderated" or "open".
    pub comments: Option<String>,
    /// Draw recorded changes (their kind and component) on the public chart.
    #[serde(default)]
    pub public_changes: bool,
    #[serde(default, rename = "signal")]
    pub signals: Vec<RawSignalSource>,
}

/// `[[service.signal]]`: an outside source of signals (posts about the service's trouble).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignalSource {
    pub source: String,
    pub name: String,
    pub raises: Option<String>,
    /// A built-in poller that fills the source (see [`crate::poll`]).
    pub poll: Option<crate::poll::RawPoll>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawComponent {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

/// A problem kind: a well-known id alone (`"login"`), or an id with its label.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawProblem {
    Known(String),
    Custom { id: String, label: String },
}
