//! `downbeat demo`: see [`downbeat_demo`].

use super::UsageError;
use crate::cli::DemoArgs;
use anyhow::Context;
use downbeat_demo::DemoOptions;

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let opts = DemoOptions {
        listen: args.listen,
        speed: args.speed,
        scenario: args.scenario,
    };
    downbeat_demo::check(&opts).map_err(|e| UsageError(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(downbeat_demo::run(opts, super::serve::shutdown_signal()))
}
