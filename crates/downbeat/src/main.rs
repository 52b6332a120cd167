//! The `downbeat` binary: parses the command line, sets up logging, and hands over to the
//! library crates. Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad config.

mod cli;
mod cmd;
mod logging;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // The demo narrates on stdout; its server's logs would drown the story.
    let default_log = match cli.command {
        cli::Command::Demo(_) => "error",
        _ => "info",
    };
    logging::init(cli.log_format, cli.log.as_deref().or(Some(default_log)));
    match cmd::run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain, one cause per line, like ripgrep.
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(cmd::exit_code(&e))
        }
    }
}
