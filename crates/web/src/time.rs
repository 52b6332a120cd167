//! Times as the pages print them: UTC, because a cached page is the same for everyone.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// "08:12" (UTC) for unix milliseconds.
pub fn hhmm(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(TimeZone::UTC).strftime("%H:%M").to_string())
        .unwrap_or_default()
}

/// "Mon 12 Mar 2026" for the UTC day of unix milliseconds.
pub fn date(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(TimeZone::UTC)
                .strftime("%a %-d %b %Y")
                .to_string()
        })
        .unwrap_or_default()
}

/// "08:12 UTC" when `t` is within a day of `now`, else "22 Nov 08:12 UTC".
pub fn since(t: Timestamp, now: Timestamp) -> String {
    let z = t.to_zoned(TimeZone::UTC);
    if (now.as_millisecond() - t.as_millisecond()).abs() < 86_400_000 {
        z.strftime("%H:%M UTC").to_string()
    } else {
        z.strftime("%-d %b %H:%M UTC").to_string()
    }
}

/// RFC 3339 in UTC, for feeds and JSON.
pub fn rfc3339(t: Timestamp) -> String {
    t.to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// [`rfc3339`] for unix milliseconds.
pub fn rfc3339_ms(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}
