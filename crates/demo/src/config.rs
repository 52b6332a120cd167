//! The demo's configuration, written as the TOML an operator would write and checked by
//! the same loader as `downbeat serve`'s.

use crate::faults::REGIONS;
use crate::melodia::Addresses;
use downbeat_config::{Config, ConfigError};
use std::net::SocketAddr;

/// The probes run once a (simulated) minute; the timeout is real time.
const INTERVAL: &str = "1m";
const TIMEOUT: &str = "4s";

/// A TOML string literal (basic string, escaped).
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The config: Melodia with its components, the monitors (trusting Melodia's CA), this
/// server probing from the first region through its DNS server, and one editor.
pub struct Inputs<'a> {
    pub melodia: Addresses,
    /// The first region's Melodia DNS server (this server's probes ask it).
    pub local_dns: SocketAddr,
    pub ca_pem: &'a str,
    pub user: &'a str,
    pub password_hash: &'a str,
    /// Downbeat's own base URL, for links in notifications.
    pub base: &'a str,
    /// The on-call pager's address and the secret its webhook is signed with.
    pub pager: SocketAddr,
    pub pager_secret: &'a str,
}

pub fn text(i: &Inputs<'_>) -> String {
    let (addrs, local_dns, ca_pem) = (i.melodia, i.local_dns, i.ca_pem);
    let ca = quoted(ca_pem);
    let api = format!("https://api.melodia.test:{}", addrs.api_port);
    let cdn = format!("https://cdn.melodia.test:{}", addrs.cdn_port);
    let region = REGIONS[0];
    format!(
        r#"# downbeat demo
[server]
region = "{region}"
trusted_proxies = ["127.0.0.0/8", "::1"]

[reports]
dedupe_window = "15m"

[probes]
quorum = 2
failures_to_open = 2
successes_to_close = 2
resolvers = ["{local_dns}"]

[[service]]
id = "melodia"
name = "Melodia"
tips = [
  "Check whether other apps can reach the internet.",
  "Log out and back in, then restart the app.",
]

# Listeners' posts about Melodia, counted per minute (the demo's scenario posts them).
[[service.signal]]
source = "social"
name = "social media"

[[service.component]]
id = "login"
name = "Login and accounts"

[[service.component]]
id = "playback"
name = "Playback"
description = "Streaming audio to every app and the web player."

[[service.component]]
id = "library"
name = "Playlists and library"

[[monitor]]
id = "login"
service = "melodia"
component = "login"
kind = "http"
target = "{api}/v1/handshake"
interval = "{INTERVAL}"
timeout = "{TIMEOUT}"
expect_status = "200"
json_pointer = "/status"
json_equals = "ok"
max_latency_ms = 300
ca_pem = {ca}

[[monitor]]
id = "playlists"
service = "melodia"
component = "library"
kind = "http"
target = "{api}/v1/playlists"
interval = "{INTERVAL}"
timeout = "{TIMEOUT}"
expect_status = "200"
body_contains = "playlists"
max_latency_ms = 300
ca_pem = {ca}

[[monitor]]
id = "playback"
service = "melodia"
component = "playback"
kind = "http"
target = "{cdn}/v1/chunks/1"
interval = "{INTERVAL}"
timeout = "{TIMEOUT}"
expect_status = "200"
ca_pem = {ca}

[[monitor]]
id = "api-certificate"
service = "melodia"
component = "login"
kind = "tls"
target = "api.melodia.test:{port}"
interval = "{INTERVAL}"
timeout = "{TIMEOUT}"
ca_pem = {ca}

[[user]]
name = {user}
role = "editor"
password_hash = {hash}

# The on-call person's pager: incidents, and drafts before they are public.
[notify]
public_url = {base}

[[notify.webhook]]
id = "on-call"
url = "http://{pager}/page"
format = "downbeat"
secret = {secret}
events = ["incident"]
operators = true
"#,
        port = addrs.api_port,
        user = quoted(i.user),
        hash = quoted(i.password_hash),
        base = quoted(i.base),
        pager = i.pager,
        secret = quoted(i.pager_secret),
    )
}

pub fn load(text: &str) -> Result<Config, ConfigError> {
    downbeat_config::parse_str(text, "the demo's config")
}
