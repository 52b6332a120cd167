//! `downbeat change record`: a pipeline tells the server what it changed.

use super::UsageError;
use crate::cli::{ChangeCommand, ChangeRecordArgs, ServerArgs};
use anyhow::Context;
use downbeat_agent::http::Client;
use serde_json::{Map, Value, json};
use std::time::Duration;

pub fn run(command: ChangeCommand) -> anyhow::Result<()> {
    match command {
        ChangeCommand::Record(args) => record(args),
    }
}

/// A client of the server the arguments name.
pub fn client(s: &ServerArgs) -> anyhow::Result<Client> {
    Client::new(
        &s.server,
        s.ca_file.as_deref(),
        s.allow_plain_http,
        &s.token,
        concat!("downbeat/", env!("CARGO_PKG_VERSION")),
        Duration::from_secs(30),
    )
    .map_err(|e| UsageError(e.to_string()).into())
}

fn record(args: ChangeRecordArgs) -> anyhow::Result<()> {
    let client = client(&args.server)?;
    let mut body = Map::new();
    body.insert("kind".into(), json!(args.kind));
    for (k, v) in [
        ("component", &args.component),
        ("version", &args.version),
        ("title", &args.title),
        ("link", &args.link),
        ("region", &args.region),
        ("at", &args.at),
    ] {
        if let Some(v) = v {
            body.insert(k.into(), json!(v));
        }
    }
    let path = format!(
        "/api/v1/services/{}/changes",
        percent_encoding::utf8_percent_encode(&args.service, percent_encoding::NON_ALPHANUMERIC)
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let answer = rt
        .block_on(client.post_json(&path, Value::Object(body).to_string().into_bytes()))
        .with_context(|| format!("recording the change on {}", args.server.server))?;
    let text = String::from_utf8_lossy(&answer.body);
    if answer.status.is_success() {
        println!("{text}");
        return Ok(());
    }
    Err(refused(answer.status.as_u16(), &text, "the change"))
}

/// The server's refusal of `what`, in its own words: a usage error (exit code 2) for a 4xx,
/// a failure (1) otherwise.
pub fn refused(status: u16, body: &str, what: &str) -> anyhow::Error {
    let said: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let message = said["error"].as_str().unwrap_or(body);
    let why = format!("the server refused {what} ({status}): {message}");
    if (400..500).contains(&status) {
        UsageError(why).into()
    } else {
        anyhow::anyhow!(why)
    }
}
