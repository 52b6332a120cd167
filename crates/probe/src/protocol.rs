//! The agent protocol: what `GET /api/v1/agent/assignments` answers and what
//! `POST /api/v1/agent/results` takes and answers. Both ends use these types, so they
//! cannot drift apart.

use crate::schedule::Plan;
use crate::{ProbeResult, ProbeSpec};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Assignments path (query: `region`).
pub const ASSIGNMENTS_PATH: &str = "/api/v1/agent/assignments";
/// Results path.
pub const RESULTS_PATH: &str = "/api/v1/agent/results";
/// Most results the server takes in one push.
pub const MAX_RESULTS_PER_PUSH: usize = 1_000;

/// The monitors an agent runs, and the canary it checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Assignments {
    /// The region the server recorded for this agent (as asked).
    pub region: String,
    /// A known-good `host:port`: while the agent cannot reach it, its results are marked
    /// unreliable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<String>,
    pub monitors: Vec<AssignedMonitor>,
}

/// An agent probes its assignments on the shared schedule.
impl Plan for Assignments {
    fn count(&self) -> usize {
        self.monitors.len()
    }
    fn id(&self, i: usize) -> &str {
        &self.monitors[i].id
    }
    /// At least a second, whatever the server sent.
    fn interval(&self, i: usize) -> Duration {
        Duration::from_millis(self.monitors[i].interval_ms.max(1_000))
    }
    fn spec(&self, i: usize) -> &ProbeSpec {
        &self.monitors[i].probe
    }
}

/// One monitor to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssignedMonitor {
    pub id: String,
    /// How often to probe, in milliseconds.
    pub interval_ms: u64,
    /// The probe definition, validated again on arrival.
    pub probe: ProbeSpec,
}

/// A batch of results from one region.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultsPush {
    pub region: String,
    pub results: Vec<PushedResult>,
}

/// One result of one monitor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushedResult {
    pub monitor: String,
    /// Whether the agent could reach its canary when it probed.
    pub reliable: bool,
    pub result: ProbeResult,
}

/// The server's answer to a push: every result is accounted for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushAnswer {
    /// Stored and applied to the monitors' states.
    pub accepted: usize,
    /// Already received (a retried batch): ignored.
    pub duplicates: usize,
    /// For monitors the server no longer has: dropped.
    pub unknown: usize,
}
