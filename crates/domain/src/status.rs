//! Status words people already know: the crowd verdict (Downdetector) and component states
//! (Statuspage).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The crowd verdict for a series or a service, in Downdetector's words.
///
/// Ordered from calm to alarming, so `max` picks the worse of two verdicts.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    NoProblems,
    PossibleProblems,
    Problems,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [
        Verdict::NoProblems,
        Verdict::PossibleProblems,
        Verdict::Problems,
    ];

    /// The machine name used in the API and in CSV output (`no_problems`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::NoProblems => "no_problems",
            Verdict::PossibleProblems => "possible_problems",
            Verdict::Problems => "problems",
        }
    }

    /// Plain words for pages and explanations.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::NoProblems => "No problems",
            Verdict::PossibleProblems => "Possible problems",
            Verdict::Problems => "Problems",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a component on the official side, in Statuspage's words.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ComponentState {
    Operational,
    UnderMaintenance,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
}

impl ComponentState {
    pub const ALL: [ComponentState; 5] = [
        ComponentState::Operational,
        ComponentState::UnderMaintenance,
        ComponentState::DegradedPerformance,
        ComponentState::PartialOutage,
        ComponentState::MajorOutage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComponentState::Operational => "operational",
            ComponentState::UnderMaintenance => "under_maintenance",
            ComponentState::DegradedPerformance => "degraded_performance",
            ComponentState::PartialOutage => "partial_outage",
            ComponentState::MajorOutage => "major_outage",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ComponentState::Operational => "Operational",
            ComponentState::UnderMaintenance => "Under maintenance",
            ComponentState::DegradedPerformance => "Degraded performance",
            ComponentState::PartialOutage => "Partial outage",
            ComponentState::MajorOutage => "Major outage",
        }
    }
}

impl fmt::Display for ComponentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_order_from_calm_to_alarming() {
        assert!(Verdict::NoProblems < Verdict::PossibleProblems);
        assert!(Verdict::PossibleProblems < Verdict::Problems);
        assert_eq!(
            Verdict::NoProblems.max(Verdict::Problems),
            Verdict::Problems
        );
    }

    #[test]
    fn verdict_serializes_as_snake_case() {
        let s = serde_json::to_string(&Verdict::PossibleProblems).unwrap();
        assert_eq!(s, "\"possible_problems\"");
    }
}
