//! Importers: what people bring when they switch to Downbeat — an Uptime Kuma backup, a Gatus
//! config or the JSON of a Statuspage page — turned into Downbeat's TOML config, the past
//! incidents and maintenance as data, and a list of what could not be carried over.
//!
//! [`import`] reads one source and returns an [`Imported`] only when the whole source was
//! read and the config it wrote passes Downbeat's own loader (`downbeat_config::parse_str`),
//! so a caller never prints or stores half an import.
//!
//! # Layout
//! - [`builder`]: the config being written: services, components, monitors, destinations,
//!   with unique slug ids; rendered into a `toml::Table`.
//! - [`history`]: past incidents and maintenance, as data for the incident store.
//! - [`slug`]: ids made from names.
//! - [`uptime_kuma`], [`gatus`], [`statuspage`]: one reader per source.

pub mod builder;
pub mod gatus;
pub mod history;
pub mod slug;
pub mod statuspage;
pub mod uptime_kuma;

use std::fmt;
use std::path::{Path, PathBuf};

pub use history::{History, IncidentUpdate, Maintenance, MaintenanceWindow, PastIncident};

/// The sources an import reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Uptime Kuma's JSON backup (Settings → Backup → Export, version 1.x).
    UptimeKuma,
    /// Gatus's YAML config.
    Gatus,
    /// A directory of a Statuspage page's `/api/v2/` JSON.
    Statuspage,
}

impl Kind {
    /// The word on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::UptimeKuma => "uptime-kuma",
            Kind::Gatus => "gatus",
            Kind::Statuspage => "statuspage",
        }
    }

    /// The product's name, for people.
    pub fn product(self) -> &'static str {
        match self {
            Kind::UptimeKuma => "Uptime Kuma",
            Kind::Gatus => "Gatus",
            Kind::Statuspage => "Statuspage",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing of the source that was not carried over (or not exactly): where it is in the
/// source and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The key path (and line, when known) in the source: `monitorList[3] "API health"`,
    /// `endpoints[2].conditions[1]`.
    pub at: String,
    /// What was not carried over, and why.
    pub what: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.what)
    }
}

/// A finished import.
#[derive(Clone, Debug)]
pub struct Imported {
    /// Downbeat config that `downbeat_config::parse_str` accepts.
    pub config: toml::Table,
    /// Past incidents and maintenance: data for the store, not config.
    pub history: History,
    /// What was not carried over, in source order.
    pub skipped: Vec<Skipped>,
}

impl Imported {
    /// The config as TOML text, then the history summarised in comment lines.
    pub fn render(&self) -> String {
        let mut out = toml::to_string(&self.config).unwrap_or_default();
        let summary = self.history.summary();
        if !summary.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&summary);
        }
        out
    }
}

/// Why an import was refused. Every message names the file (and the key or line).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Syntax {
        file: String,
        line: Option<usize>,
        message: String,
    },
    #[error("{file} is not {what}: {reason} (expected {expected})")]
    WrongKind {
        file: String,
        what: &'static str,
        reason: String,
        expected: &'static str,
    },
    #[error("{file}: {key}: {message}")]
    Invalid {
        file: String,
        key: String,
        message: String,
    },
    /// The config written was refused by Downbeat's loader: a bug of the importer.
    #[error("the imported config is refused by Downbeat's loader (a bug of the importer): {0}")]
    Generated(#[from] downbeat_config::ConfigError),
}

/// Reads `path` as a `kind` source and returns the config, the history and what was not
/// carried over; nothing unless all of it succeeded.
pub fn import(kind: Kind, path: &Path) -> Result<Imported, ImportError> {
    let imported = match kind {
        Kind::UptimeKuma => uptime_kuma::import(path)?,
        Kind::Gatus => gatus::import(path)?,
        Kind::Statuspage => statuspage::import(path)?,
    };
    let text = toml::to_string(&imported.config).map_err(|e| ImportError::Invalid {
        file: path.display().to_string(),
        key: "config".into(),
        message: e.to_string(),
    })?;
    downbeat_config::parse_str(&text, "the imported config")?;
    Ok(imported)
}

/// The file's text, or a [`ImportError::Read`] naming it.
pub(crate) fn read(path: &Path) -> Result<String, ImportError> {
    std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The file's name as shown in messages.
pub(crate) fn shown(path: &Path) -> String {
    path.display().to_string()
}
