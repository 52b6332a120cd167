//! One module per subcommand.

mod agent;
mod apply;
mod change;
mod config;
mod demo;
mod detect;
mod gate;
mod import;
mod operators;
mod replay;
mod seed;
mod serve;

use crate::cli::{Command, StoreArgs};
use anyhow::Context;
use downbeat_config::{Config, ConfigError};
use std::path::{Path, PathBuf};

/// A failure caused by the user's input (usage, config): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve::run(args),
        Command::Agent(args) => agent::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Config(c) => config::run(c),
        Command::Detect(args) => detect::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Import(args) => import::run(args),
        Command::Seed(args) => seed::run(args),
        Command::Change(c) => change::run(c),
        Command::Gate(args) => gate::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Token(c) => operators::token(c),
        Command::User(c) => operators::user(c),
    }
}

pub fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(v) = e.downcast_ref::<gate::NotPassed>() {
        return v.code();
    }
    if e.downcast_ref::<UsageError>().is_some() || e.downcast_ref::<ConfigError>().is_some() {
        2
    } else {
        1
    }
}

/// The config file to read: the given one, or ./downbeat.toml if it exists.
pub fn config_path(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    match given {
        Some(p) => Ok(p.to_owned()),
        None if Path::new("downbeat.toml").exists() => Ok(PathBuf::from("downbeat.toml")),
        None => Err(UsageError(
            "no config file: pass --config PATH or set DOWNBEAT_CONFIG \
             (start from `downbeat config example > downbeat.toml`)"
                .into(),
        )
        .into()),
    }
}

pub fn load_config(given: Option<&Path>) -> anyhow::Result<Config> {
    let path = config_path(given)?;
    Ok(downbeat_config::load_file(&path)?)
}

/// How long a PostgreSQL store waits for its server, from the config's [server] table.
pub fn pg_timeouts(config: &Config) -> downbeat_store::PgTimeouts {
    downbeat_store::PgTimeouts {
        connect: config.server.database_connect_timeout.as_duration(),
        statement: config.server.database_statement_timeout.as_duration(),
    }
}

/// The store target from flags/env, then the config's [server] table, then defaults.
pub fn store_target(
    args: &StoreArgs,
    config: &Config,
) -> anyhow::Result<(downbeat_store::StoreTarget, PathBuf)> {
    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| config.server.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("downbeat-data"));
    let url = args
        .database_url
        .as_deref()
        .or(config.server.database_url.as_deref());
    let target = downbeat_store::StoreTarget::from_url(url, &data_dir)
        .map_err(|e| UsageError(e.to_string()))
        .context("choosing the store")?;
    Ok((target, data_dir))
}
