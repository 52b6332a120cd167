//! `downbeat gate`: a pipeline asks the canary gate, waiting for a conclusive answer.

use super::change::client;
use crate::cli::GateArgs;
use anyhow::Context;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The gate did not pass: exit code 1 (fail) or 3 (inconclusive).
#[derive(Debug, thiserror::Error)]
pub enum NotPassed {
    #[error("the gate failed: {0}")]
    Fail(String),
    #[error("the gate is inconclusive: {0}")]
    Inconclusive(String),
}

impl NotPassed {
    pub fn code(&self) -> u8 {
        match self {
            NotPassed::Fail(_) => 1,
            NotPassed::Inconclusive(_) => 3,
        }
    }
}

pub fn run(args: GateArgs) -> anyhow::Result<()> {
    let client = client(&args.server)?;
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    let mut path = format!(
        "/api/v1/services/{}/gate?since={}&window={}",
        enc(&args.service),
        enc(&args.since),
        enc(&args.window)
    );
    if let Some(c) = &args.components {
        path.push_str(&format!("&components={}", enc(c)));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let deadline = Instant::now() + Duration::from(args.wait);
    loop {
        let answer = rt
            .block_on(client.get(&path))
            .with_context(|| format!("asking the gate on {}", args.server.server))?;
        let text = String::from_utf8_lossy(&answer.body).into_owned();
        if !answer.status.is_success() {
            return Err(super::change::refused(
                answer.status.as_u16(),
                &text,
                "the question",
            ));
        }
        let v: Value = serde_json::from_str(&text).context("the gate's answer is not JSON")?;
        let reasons = v["reasons"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        match v["verdict"].as_str() {
            Some("pass") => {
                println!("{text}");
                return Ok(());
            }
            Some("fail") => {
                println!("{text}");
                return Err(NotPassed::Fail(reasons).into());
            }
            Some("inconclusive") if Instant::now() + Duration::from(args.every) <= deadline => {
                eprintln!(
                    "inconclusive so far ({reasons}); asking again in {}",
                    args.every
                );
                std::thread::sleep(args.every.into());
            }
            Some("inconclusive") => {
                println!("{text}");
                return Err(NotPassed::Inconclusive(reasons).into());
            }
            _ => anyhow::bail!("the gate answered no verdict: {text}"),
        }
    }
}
