//! Query strings parsed into typed structs, with errors as JSON like every other error.

use super::ApiError;
use serde::de::DeserializeOwned;

pub fn parse_query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))
}

/// The `since` parameter in milliseconds: an RFC 3339 time, or a duration meaning that long
/// ago (`24h`); `default_ago_ms` before `now_ms` when absent. It must lie between `max_ago`
/// before now and now: anything else is a 422 naming `since` (never an overflow further on).
pub fn since_ms(
    raw: Option<&str>,
    now_ms: i64,
    default_ago_ms: i64,
    max_ago: downbeat_domain::Span,
) -> Result<i64, ApiError> {
    let invalid = |message: String| ApiError::InvalidField {
        field: "since",
        message,
    };
    let Some(s) = raw else {
        return Ok(now_ms - default_ago_ms.min(max_ago.as_millis()));
    };
    let shown = || s.chars().take(40).collect::<String>();
    // An unencoded '+' in a query string arrives as a space.
    let at_ms = if let Ok(t) = s
        .parse::<jiff::Timestamp>()
        .or_else(|_| s.replace(' ', "+").parse::<jiff::Timestamp>())
    {
        t.as_millisecond()
    } else {
        match downbeat_domain::Span::parse(s) {
            Ok(span) if span <= max_ago => now_ms - span.as_millis(),
            Ok(_) => {
                return Err(invalid(format!(
                    "{:?} reaches further back than {max_ago}, the longest history kept",
                    shown()
                )));
            }
            Err(_) => {
                return Err(invalid(format!(
                    "{:?} is neither an RFC 3339 time (2026-11-22T08:00:00Z) nor a duration ago (24h)",
                    shown()
                )));
            }
        }
    };
    if at_ms > now_ms {
        return Err(invalid(format!("{:?} is in the future", shown())));
    }
    if now_ms - at_ms > max_ago.as_millis() {
        return Err(invalid(format!(
            "{:?} is further back than {max_ago}, the longest history kept",
            shown()
        )));
    }
    Ok(at_ms)
}
