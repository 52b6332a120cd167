//! `downbeat import KIND PATH`: another tool's monitors, channels and status pages as
//! Downbeat config on stdout, what was not carried over on stderr.

use std::io::Write;

use downbeat_import::{ImportError, Kind};

use super::UsageError;
use crate::cli::{ImportArgs, ImportKind};

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let kind = match args.kind {
        ImportKind::UptimeKuma => Kind::UptimeKuma,
        ImportKind::Gatus => Kind::Gatus,
        ImportKind::Statuspage => Kind::Statuspage,
    };
    let imported = downbeat_import::import(kind, &args.path).map_err(|e| match e {
        // The importer's own bug, not the user's input.
        ImportError::Generated(_) => anyhow::Error::new(e),
        e => UsageError(e.to_string()).into(),
    })?;
    // The whole import succeeded: only now is anything printed.
    let mut err = std::io::stderr().lock();
    for s in &imported.skipped {
        writeln!(err, "{s}")?;
    }
    let mut out = std::io::stdout().lock();
    out.write_all(imported.render().as_bytes())?;
    out.flush()?;
    Ok(())
}
