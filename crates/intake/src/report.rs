//! A report as sent, and its validation against the service it names.

use crate::error::IntakeError;
use downbeat_config::ServiceConfig;
use downbeat_domain::{City, CountryCode, Platform, Report, ScreenText};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;

/// A report as sent, before validation. Unknown fields are refused so a misspelt field is
/// not silently ignored.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a report object like {\"problem\": \"login\"}"
)]
pub struct RawReport<'a> {
    // Borrowed from the body where possible: no allocation per field on the hot path.
    #[serde(borrow)]
    pub problem: Cow<'a, str>,
    #[serde(borrow)]
    pub platform: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub country: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub city: Option<Cow<'a, str>>,
    /// What the error on the listener's screen says (at most 140 characters).
    #[serde(borrow)]
    pub message: Option<Cow<'a, str>>,
}

/// The answer to an accepted report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub status: &'static str,
    /// False when this client already counted for this service within the dedupe window.
    pub counted: bool,
    #[schema(value_type = String)]
    pub service: Arc<str>,
    #[schema(value_type = String)]
    pub problem: Arc<str>,
    #[schema(value_type = String)]
    pub message: Cow<'static, str>,
}

/// Turns a raw report into a valid one for `service`, naming the first bad field.
pub fn validate(
    service: &ServiceConfig,
    raw: RawReport<'_>,
    now: jiff::Timestamp,
) -> Result<Report, IntakeError> {
    let invalid = |field, message: String| IntakeError::Invalid { field, message };
    let problem = service.offers(raw.problem.trim()).ok_or_else(|| {
        let offered: Vec<&str> = service.problems.iter().map(|p| p.kind.as_str()).collect();
        let shown: String = raw.problem.chars().take(40).collect();
        invalid(
            "problem",
            format!(
                "unknown problem kind {shown:?} for {}; expected one of {}",
                service.name,
                offered.join(", ")
            ),
        )
    })?;
    let platform = raw
        .platform
        .map(|p| p.trim().to_ascii_lowercase().parse::<Platform>())
        .transpose()
        .map_err(|e| invalid("platform", e.to_string()))?;
    let country = raw
        .country
        .map(|c| CountryCode::parse(c.trim()))
        .transpose()
        .map_err(|e| invalid("country", e.to_string()))?;
    let city = match raw.city {
        Some(c) => City::parse(&c).map_err(|e| invalid("city", e.to_string()))?,
        None => None,
    };
    let message = match raw.message {
        Some(m) => ScreenText::parse(&m).map_err(|e| invalid("message", e.to_string()))?,
        None => None,
    };
    Ok(Report {
        service: service.id.clone(),
        problem: problem.kind.clone(),
        platform,
        country,
        city,
        message,
        received_at: now,
    })
}
