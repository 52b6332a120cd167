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
    /// Print or check configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Backtest the outage detector on a time series (CSV: timestamp,value[,...]).
    ///
    /// Timestamps may be RFC 3339, `YYYY-MM-DD HH:MM:SS` (UTC) or Unix seconds. Writes CSV to
    /// stdout: timestamp,value,anomaly_score,expected,verdict — one row per input row, in
    /// input order — and a summary to stderr. A malformed file is refused naming the line.
    Detect(DetectArgs),
    /// Generate realistic report traffic from a scenario: as CSV, or sent to a running
    /// server as real HTTP reports on an accelerated clock.
    Replay(ReplayArgs),
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

/// Filled in by the replay work (issue 3); see `cmd/replay.rs`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The scenario: a TOML file, or the name of a shipped scenario.
    pub scenario: String,
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
    },
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
