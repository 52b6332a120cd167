//! `downbeat agent`: a remote probe vantage point, until SIGTERM or ctrl-c.

use super::UsageError;
use crate::cli::AgentArgs;
use anyhow::Context;
use downbeat_agent::run::AgentError;
use downbeat_agent::{Agent, AgentOptions};

pub fn run(args: AgentArgs) -> anyhow::Result<()> {
    let mut opts = AgentOptions::new(&args.server, &args.token, &args.region, args.buffer_dir);
    opts.canary = args.canary;
    opts.refresh = args.refresh;
    opts.ca_file = args.ca_file;
    opts.allow_plain_http = args.allow_plain_http;
    let agent = Agent::new(opts).map_err(|e| match e {
        AgentError::BadRegion(_) | AgentError::Server(_) => {
            anyhow::Error::new(UsageError(e.to_string()))
        }
        other => anyhow::Error::new(other),
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        tracing::info!(server = %args.server, region = %args.region, "agent starting");
        agent
            .run(super::serve::shutdown_signal())
            .await
            .context("running the agent")
    })
}
