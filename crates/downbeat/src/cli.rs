//! The command line: every subcommand and flag, with help text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Is it down, or is it just me? Crowd reports, synthetic probes and a status page in one
/// self-hostable binary.
#[derive(Debug, Parser)]
#[command(name = "downbeat", version, propagate_version = true)]
pub struct Cli {
    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "DOWNBEAT_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `downbeat_server=debug,info`.
    #[arg(long, global = true, env = "DOWNBEAT_LOG")]
    pub log: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: crowd report API, JSON API, health and metrics endpoints.
    ///
    /// Settings come from, in order of precedence: flags, DOWNBEAT_* environment variables,
    /// the config file's [server] table, built-in defaults. SIGTERM or ctrl-c stops accepting
    /// requests, lets in-flight ones finish and commits every queued report before exiting.
    Serve(ServeArgs),
    /// Watch an outage unfold, live, in one command: Downbeat, a fake streaming service
    /// ("Melodia") that a story breaks, probes from three regions and simulated listeners,
    /// on a fast clock. Prints the URL and narrates; ctrl-c stops it and deletes its data.
    ///
    /// Scenarios: morning-outage (DESIGN.md's: the login handshake fails, then overload),
    /// expired-certificate, dns-failure, regional-cdn.
    Demo(DemoArgs),
    /// Run a remote probe agent: pull the monitors to run from a Downbeat server, probe them
    /// from this vantage point and push the results, buffered on disk while the server is
    /// unreachable.
    ///
    /// The token needs role `agent` (`downbeat token create --name NAME --role agent`).
    /// SIGTERM or ctrl-c finishes the probes in flight, buffers their results and exits;
    /// undelivered results are sent after the next start.
    Agent(AgentArgs),
    /// Print or check configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Backtest the outage detector on a time series (CSV: timestamp,value[,...]).
    ///
    /// Timestamps may be RFC 3339, `YYYY-MM-DD HH:MM:SS` (UTC) or Unix seconds. Writes CSV to
    /// stdout: timestamp,value,anomaly_score,expected,verdict — one row per input row, in
    /// input order — and a summary to stderr. A malformed file is refused naming the line.
    Detect(DetectArgs),
    /// Import monitors, notification channels and status pages from another tool: an Uptime
    /// Kuma backup (Settings → Backup → Export), a Gatus config.yaml, or a directory holding a
    /// Statuspage page's API JSON (summary.json or components.json, incidents.json,
    /// scheduled-maintenances.json).
    ///
    /// Prints Downbeat config (TOML) on stdout, then past incidents and maintenance summarised
    /// in comment lines; on stderr, one line per thing not carried over, naming where it is in
    /// the source. Nothing is printed on stdout unless the whole import succeeded. Exit code 0
    /// imported, 2 the file is not of the kind named (or unreadable).
    Import(ImportArgs),
    /// Seed a service's crowd baseline from past counts (CSV: timestamp,count per bucket of
    /// any regular size, e.g. hourly), so detection judges from the first minute instead of
    /// learning for 30. Run it before `serve` (or restart the server afterwards).
    Seed(SeedArgs),
    /// Generate realistic report traffic from a scenario: as CSV, or sent to a running
    /// server as real HTTP reports on an accelerated clock.
    Replay(ReplayArgs),
    /// Changes to a service — deploys, config changes, feature flags, rollbacks — recorded
    /// from a pipeline, so an outage that follows one names it as the probable cause.
    #[command(subcommand)]
    Change(ChangeCommand),
    /// Ask the canary gate whether anything got worse since a change (crowd reports, probes,
    /// latency, external posts), waiting up to --wait for a conclusive answer; prints the
    /// answer as JSON. For CI pipelines: exit code 0 pass, 1 fail, 3 inconclusive, 2 bad
    /// usage (or a question the server refuses).
    Gate(GateArgs),
    /// Make a running server's services, monitors and destinations managed at runtime match
    /// a file (as `config export` writes it), as a declarative tool would: prints what it
    /// creates (+), changes (~) and removes (-) first, then applies it all in one
    /// transaction — or nothing, naming the object and key a check refuses. Objects of the
    /// server's config file are not the store's: naming one is refused. Needs an admin token.
    Apply(ApplyArgs),
    /// API tokens for the JSON API (`Authorization: Bearer TOKEN`) and for probe agents.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Users of the admin area (/admin).
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum ChangeCommand {
    /// Record a change on a running server (`POST /api/v1/services/{service}/changes`) and
    /// print it as JSON. Exit code 0 recorded, 2 refused (the server names the field), 1 no
    /// answer.
    Record(ChangeRecordArgs),
}

/// A Downbeat server, from a machine of the operator's (a pipeline's runner).
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The server's base URL, e.g. https://downbeat.example (plain http:// only to this
    /// machine, or with --allow-plain-http).
    #[arg(long, env = "DOWNBEAT_SERVER")]
    pub server: String,
    /// An API token (prefer the environment variable: flags show in `ps`).
    #[arg(long, env = "DOWNBEAT_TOKEN", hide_env_values = true)]
    pub token: String,
    /// A PEM file of the CA that signed the server's certificate (a private CA).
    #[arg(long, env = "DOWNBEAT_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Speak plain HTTP to a server on another machine (the token crosses in clear).
    #[arg(long)]
    pub allow_plain_http: bool,
}

#[derive(Debug, Args)]
// `--version` is the change's, not the program's.
#[command(disable_version_flag = true)]
pub struct ChangeRecordArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The service changed.
    #[arg(long)]
    pub service: String,
    /// deploy, config, feature_flag, infrastructure or rollback.
    #[arg(long)]
    pub kind: String,
    /// The component changed, if the change was limited to one.
    #[arg(long)]
    pub component: Option<String>,
    /// The version rolled out, e.g. 2.3.0.
    #[arg(long = "version", id = "change_version", value_name = "VERSION")]
    pub version: Option<String>,
    /// What changed, in a line.
    #[arg(long)]
    pub title: Option<String>,
    /// Where to read more (the pipeline run, the pull request).
    #[arg(long)]
    pub link: Option<String>,
    /// The region the change was limited to, e.g. ap-southeast.
    #[arg(long)]
    pub region: Option<String>,
    /// When it took effect (RFC 3339) [default: now].
    #[arg(long)]
    pub at: Option<String>,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The service rolled out.
    #[arg(long)]
    pub service: String,
    /// The change: its id (as `downbeat change record` printed it) or its time (RFC 3339).
    #[arg(long)]
    pub since: String,
    /// Component ids whose monitors to compare, comma-separated [default: the change's].
    #[arg(long)]
    pub components: Option<String>,
    /// How long after the change to compare (1m to 6h).
    #[arg(long, default_value = "10m")]
    pub window: String,
    /// How long to wait for a conclusive answer (the window to be over) before giving up
    /// with "inconclusive"; 0 asks once.
    #[arg(long, default_value = "0s")]
    pub wait: humantime::Duration,
    /// How often to ask again while waiting.
    #[arg(long, default_value = "15s")]
    pub every: humantime::Duration,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once, alone on the last line (only its hash is stored).
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// A unique name, shown as the author of what the token writes.
        #[arg(long)]
        name: String,
        /// viewer (reads drafts), editor (manages incidents), admin, agent (probe agents),
        /// signal (posts external signals), deployer (records changes, asks the canary gate) or
        /// integration (posts other monitors' alerts: Alertmanager, inbound webhooks).
        #[arg(long, default_value = "editor")]
        role: String,
        /// A vantage region the token's agents may report for, e.g. eu-west (repeat for
        /// several). Required for an agent token; an admin token pushes agent results only
        /// for the regions it names too.
        #[arg(long = "region", value_name = "REGION")]
        regions: Vec<String>,
    },
    /// List tokens (names, roles, dates; never the secrets).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a token by name: it stops working at once.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// The token's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user, or change an existing user's role and password (a new password signs the
    /// user out everywhere). Prompts for the password (or reads one line from standard input
    /// when it is not a terminal).
    Add {
        #[command(flatten)]
        store: StoreArgs,
        /// The login name.
        name: String,
        /// viewer (reads drafts and evidence), editor (manages incidents), or admin.
        #[arg(long, default_value = "editor")]
        role: String,
    },
    /// List users and the client addresses they are locked out from.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove a user: its sessions end at once.
    Remove {
        #[command(flatten)]
        store: StoreArgs,
        /// The login name.
        name: String,
    },
    /// Print the argon2 hash of a password (read like `add` does), for a [[user]] in the
    /// config file.
    Hash,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo's Downbeat listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Simulated seconds per real second: 60 shows an hour in a minute.
    #[arg(long, default_value_t = 60.0)]
    pub speed: f64,
    /// The story to play.
    #[arg(long, default_value = "morning-outage")]
    pub scenario: String,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The server's base URL, e.g. https://downbeat.example (plain http:// only to this
    /// machine, or with --allow-plain-http).
    #[arg(long, env = "DOWNBEAT_AGENT_SERVER")]
    pub server: String,
    /// A PEM file of the CA that signed the server's certificate (a private CA): trusted
    /// instead of the public roots.
    #[arg(long, env = "DOWNBEAT_AGENT_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Speak plain HTTP to a server on another machine: the token and the monitors'
    /// headers cross the network in clear (use only on a network you trust).
    #[arg(long, env = "DOWNBEAT_AGENT_ALLOW_PLAIN_HTTP")]
    pub allow_plain_http: bool,
    /// An API token with role `agent` that names this region (prefer the environment
    /// variable: flags show in `ps`).
    #[arg(long, env = "DOWNBEAT_AGENT_TOKEN", hide_env_values = true)]
    pub token: String,
    /// This vantage point's region name, e.g. eu-west: the region its results are shown under.
    #[arg(long, env = "DOWNBEAT_AGENT_REGION")]
    pub region: String,
    /// Where results wait until the server has acknowledged them.
    #[arg(
        long,
        env = "DOWNBEAT_AGENT_BUFFER_DIR",
        default_value = "downbeat-agent-buffer"
    )]
    pub buffer_dir: PathBuf,
    /// A known-good host:port this vantage checks, instead of the server's `probes.canary`:
    /// while it is unreachable, this agent's results are marked unreliable.
    #[arg(long)]
    pub canary: Option<String>,
    /// How often to pull assignments again.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub refresh: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The service whose baseline to seed.
    #[arg(long)]
    pub service: String,
    /// The CSV file; `-` reads standard input.
    pub file: PathBuf,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  downbeat import uptime-kuma Uptime_Kuma_Backup_2024_05_01-10_00_00.json > downbeat.toml
  downbeat import gatus config.yaml > downbeat.toml
  downbeat import statuspage ./saved-page/ > downbeat.toml
  downbeat config check --config downbeat.toml")]
pub struct ImportArgs {
    /// What the source is.
    #[arg(value_enum)]
    pub kind: ImportKind,
    /// The backup or config file; for statuspage, the directory of saved JSON.
    pub path: PathBuf,
    /// Instead of printing it, add the imported services, monitors and destinations to a
    /// running server (objects already there are changed, others kept), and its past
    /// incidents and maintenance to its history. Needs --server and an admin --token.
    #[arg(long, requires = "server")]
    pub apply: bool,
    /// The server to apply to (with --apply).
    #[arg(long, env = "DOWNBEAT_SERVER")]
    pub server: Option<String>,
    /// An admin API token (with --apply; prefer the environment variable).
    #[arg(long, env = "DOWNBEAT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A PEM file of the CA that signed the server's certificate (a private CA).
    #[arg(long, env = "DOWNBEAT_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Speak plain HTTP to a server on another machine (the token crosses in clear).
    #[arg(long)]
    pub allow_plain_http: bool,
}

/// The sources `downbeat import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportKind {
    /// Uptime Kuma's JSON backup (version 1.x).
    UptimeKuma,
    /// Gatus's YAML config.
    Gatus,
    /// A directory of a Statuspage page's /api/v2/ JSON.
    Statuspage,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// The CSV file; `-` reads standard input.
    pub file: PathBuf,
    /// The kind of series, overriding the guess from the data: counts (events per bucket),
    /// gauge (both directions unusual), gauge-up (higher is bad, e.g. latency) or gauge-down
    /// (lower is bad, e.g. success ratio).
    #[arg(long)]
    pub kind: Option<String>,
}

/// `downbeat replay`: a scenario as CSV, as live HTTP reports, or (with neither) a summary of
/// it. Exit codes: 0 done (or stopped with ctrl-c), 1 server unreachable or gone, 2 bad
/// scenario or flags.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  downbeat replay --list
  downbeat replay design-outage --csv - | downbeat detect -
  downbeat replay normal-30-days --csv counts.csv --breakdown
  downbeat replay design-outage --from 1d --server http://127.0.0.1:8080 --speed 600")]
#[command(group = clap::ArgGroup::new("output").args(["csv", "server"]))]
pub struct ReplayArgs {
    /// The scenario: a TOML file, or the name of a shipped scenario (see --list).
    #[arg(required_unless_present = "list")]
    pub scenario: Option<String>,
    /// List the shipped scenarios and exit.
    #[arg(long, conflicts_with_all = ["scenario", "output"])]
    pub list: bool,
    /// Write CSV to FILE (`-` for stdout): one row per minute, `timestamp,value` (RFC 3339
    /// minute start, reports sent that minute, floods included) — the input `downbeat detect`
    /// reads.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<std::path::PathBuf>,
    /// With --csv: the value is the reports a correct server counts (each client address
    /// once per 15-minute dedupe window: flood repeats drop out) instead of all reports sent.
    #[arg(long, requires = "csv", conflicts_with = "reports")]
    pub counted: bool,
    /// With --csv: add the columns expected,normal,outage,flood,counted and one per problem
    /// kind, platform and country (`problem:login`, `platform:ios`, `country:GB`).
    #[arg(long, requires = "csv", conflicts_with = "reports")]
    pub breakdown: bool,
    /// With --csv: one row per report instead of per minute:
    /// timestamp,problem,platform,country,city,client,source.
    #[arg(long, requires = "csv")]
    pub reports: bool,
    /// Send every report as a real POST to the Downbeat server at this base URL (plain
    /// HTTP), with its client address in X-Forwarded-For: the server must list this
    /// machine in `[server] trusted_proxies` (the example config trusts loopback).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// With --server: simulated seconds per real second (600 sends an hour in 6 s), or `max`.
    /// Reports are never skipped: if the server is slower, simulated time lags.
    #[arg(long, default_value = "60", requires = "server")]
    pub speed: downbeat_replay::Speed,
    /// With --server: the service id to report on [default: the scenario's `service`].
    #[arg(long, requires = "server")]
    pub service: Option<String>,
    /// With --server: requests in flight at most.
    #[arg(long, default_value_t = 64, requires = "server")]
    pub concurrency: usize,
    /// With --server: also post the scenario's social chatter (its `[social]` counts, once
    /// a minute, stamped with this machine's clock) with this API token of role `signal`;
    /// the service must list the scenario's source in `[[service.signal]]`.
    #[arg(
        long,
        env = "DOWNBEAT_SIGNAL_TOKEN",
        value_name = "TOKEN",
        requires = "server"
    )]
    pub signal_token: Option<String>,
    /// With --server: also record the scenario's `[[change]]`s (deploys, rollbacks) when the
    /// replay reaches them, with this API token of role `deployer`.
    #[arg(
        long,
        env = "DOWNBEAT_DEPLOYER_TOKEN",
        value_name = "TOKEN",
        requires = "server"
    )]
    pub deployer_token: Option<String>,
    /// Start here: minutes from the scenario's start (`90`, `90m`, `1d`) or an RFC 3339 time.
    #[arg(long)]
    pub from: Option<downbeat_replay::Position>,
    /// Stop before here (same forms as --from) [default: the scenario's end].
    #[arg(long)]
    pub until: Option<downbeat_replay::Position>,
    /// Use this seed instead of the scenario's. It also draws new client addresses: a
    /// server counts an address once per dedupe window (15m), so sending the same slice
    /// twice in a row is mostly "not counted" the second time unless the seed changes.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Multiply every rate by this factor, e.g. 0.01 to send a big outage to a small server.
    #[arg(long)]
    pub scale: Option<f64>,
}

/// Where the config and the store are: shared by every subcommand that touches the store.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The TOML config file (default: ./downbeat.toml). See `downbeat config example`.
    #[arg(long, short, env = "DOWNBEAT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the embedded SQLite store and other state [default: ./downbeat-data].
    #[arg(long, env = "DOWNBEAT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: postgres://… selects PostgreSQL; default is a SQLite file in the data
    /// directory. Prefer the environment variable: it keeps the password out of `ps`.
    #[arg(long, env = "DOWNBEAT_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "DOWNBEAT_LISTEN")]
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the annotated example config: `downbeat config example > downbeat.toml`.
    Example,
    /// Check a config file and report the first problem, naming its key.
    Check {
        /// The TOML config file (default: ./downbeat.toml).
        #[arg(long, short, env = "DOWNBEAT_CONFIG")]
        config: Option<PathBuf>,
        /// Also objects managed at runtime, as `config export` writes them (or as `apply`
        /// takes them): checked together with the file, as the server would hold them.
        #[arg(long = "with", value_name = "FILE")]
        with: Vec<PathBuf>,
    },
    /// Print the services, monitors and destinations managed at runtime (through the API,
    /// the admin area or `apply`) as TOML, secrets included: what `apply` takes back, and
    /// what `config check --with` checks beside the config file. Reads the store directly.
    Export {
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// `downbeat apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// TOML of [[service]], [[monitor]] and [[notify.<channel>]] tables, as `config export`
    /// writes them.
    pub file: PathBuf,
    /// Only print what would change.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep stored objects the file does not hold (by default they are removed: the store
    /// is made to match the file).
    #[arg(long)]
    pub keep_others: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
