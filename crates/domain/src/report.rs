//! A crowd problem report, validated.

use crate::{City, CountryCode, Platform, ProblemKind, ScreenText, ServiceId};
use jiff::Timestamp;
use serde::Serialize;

/// One listener's report that something is wrong. Only the problem is required; the rest is
/// what the listener chose (or the page guessed) to share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub service: ServiceId,
    pub problem: ProblemKind,
    pub platform: Option<Platform>,
    pub country: Option<CountryCode>,
    pub city: Option<City>,
    /// What the error on the listener's screen says, when they typed it.
    pub message: Option<ScreenText>,
    pub received_at: Timestamp,
}
