//! Query strings parsed into typed structs, with errors as JSON like every other error.

use super::ApiError;
use serde::de::DeserializeOwned;

pub fn parse_query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))
}

/// The `since` parameter in milliseconds: an RFC 3339 time, or a duration meaning that long
/// ago (`24h`); `default_ago_ms` before `now_ms` when absent.
pub fn since_ms(raw: Option<&str>, now_ms: i64, default_ago_ms: i64) -> Result<i64, ApiError> {
    let Some(s) = raw else {
        return Ok(now_ms - default_ago_ms);
    };
    // An unencoded '+' in a query string arrives as a space.
    if let Ok(t) = s
        .parse::<jiff::Timestamp>()
        .or_else(|_| s.replace(' ', "+").parse::<jiff::Timestamp>())
    {
        return Ok(t.as_millisecond());
    }
    match downbeat_domain::Span::parse(s) {
        Ok(span) => Ok(now_ms - span.as_millis()),
        Err(_) => Err(ApiError::InvalidField {
            field: "since",
            message: format!(
                "{:?} is neither an RFC 3339 time (2026-11-22T08:00:00Z) nor a duration ago (24h)",
                s.chars().take(40).collect::<String>()
            ),
        }),
    }
}
