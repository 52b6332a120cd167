//! Structured logs with `tracing`, as text or JSON, to stderr. Colours only on a terminal
//! (and not with `NO_COLOR`): a log file or journal gets plain text, and the request span
//! every request opens formats its fields without escape codes, which is most of its cost.

use crate::cli::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub fn init(format: LogFormat, filter: Option<&str>) {
    let filter = EnvFilter::try_new(filter.unwrap_or("info")).unwrap_or_else(|e| {
        eprintln!("warning: bad log filter ({e}); using `info`");
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
