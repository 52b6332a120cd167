//! Incidents and maintenance windows in Statuspage's vocabulary: their kind, status,
//! impact and source, each with its machine name (`as_str`, also the store's and the API's
//! word) and its words for people (`label`).

use crate::ComponentState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The components an incident affects: component id → state (stored as a JSON object).
pub type Components = BTreeMap<String, ComponentState>;

/// An incident (unplanned) or a maintenance window (planned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Incident,
    Maintenance,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Incident, Kind::Maintenance];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Incident => "incident",
            Kind::Maintenance => "maintenance",
        }
    }
}

/// A status: investigating → identified → monitoring → resolved for incidents; scheduled →
/// in_progress → completed for maintenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
    Scheduled,
    InProgress,
    Completed,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Investigating,
        Status::Identified,
        Status::Monitoring,
        Status::Resolved,
        Status::Scheduled,
        Status::InProgress,
        Status::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Investigating => "investigating",
            Status::Identified => "identified",
            Status::Monitoring => "monitoring",
            Status::Resolved => "resolved",
            Status::Scheduled => "scheduled",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Investigating => "Investigating",
            Status::Identified => "Identified",
            Status::Monitoring => "Monitoring",
            Status::Resolved => "Resolved",
            Status::Scheduled => "Scheduled",
            Status::InProgress => "In progress",
            Status::Completed => "Completed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn kind(self) -> Kind {
        match self {
            Status::Scheduled | Status::InProgress | Status::Completed => Kind::Maintenance,
            _ => Kind::Incident,
        }
    }

    /// Resolved or completed: nothing follows but a post-mortem.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Resolved | Status::Completed)
    }

    /// The statuses of a kind, for error messages.
    pub fn of(kind: Kind) -> &'static str {
        match kind {
            Kind::Incident => "investigating, identified, monitoring or resolved",
            Kind::Maintenance => "scheduled, in_progress or completed",
        }
    }
}

/// How bad an incident is, in Statuspage's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    None,
    Minor,
    Major,
    Critical,
    Maintenance,
}

impl Impact {
    pub const ALL: [Impact; 5] = [
        Impact::None,
        Impact::Minor,
        Impact::Major,
        Impact::Critical,
        Impact::Maintenance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
            Impact::Maintenance => "maintenance",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Impact::None => "No impact",
            Impact::Minor => "Minor",
            Impact::Major => "Major",
            Impact::Critical => "Critical",
            Impact::Maintenance => "Maintenance",
        }
    }

    pub fn parse(s: &str) -> Option<Impact> {
        Impact::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Where an incident came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Written by an operator.
    Operator,
    /// Drafted automatically from the crowd verdict.
    Crowd,
    /// Drafted automatically from a quorum of failing probes.
    Probes,
    /// Drafted from another monitor's alerts (Alertmanager, an inbound webhook), mapped to
    /// component states by the config. The integration, not the signals, says when it
    /// recovers.
    Integration,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Operator,
        Source::Crowd,
        Source::Probes,
        Source::Integration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Operator => "operator",
            Source::Crowd => "crowd",
            Source::Probes => "probes",
            Source::Integration => "integration",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|v| v.as_str() == s)
    }
}
