//! `downbeat replay`: scenario traffic as CSV or as live HTTP reports (in progress).

use super::UsageError;
use crate::cli::ReplayArgs;

pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    Err(UsageError(format!("replay of {:?}: not available yet", args.scenario)).into())
}
