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

/// How long before `now` unix milliseconds `ms` were, in its largest unit: "just now"
/// (under a minute, or a little in the future: clocks differ between nodes), "1 minute
/// ago", "5 minutes ago", "2 hours ago", "3 days ago".
pub fn ago(ms: i64, now: Timestamp) -> String {
    let secs = (now.as_millisecond() - ms).div_euclid(1_000);
    let (n, unit) = match secs {
        ..60 => return "just now".into(),
        60..3_600 => (secs / 60, "minute"),
        3_600..86_400 => (secs / 3_600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_ago_read_in_their_largest_unit() {
        let now = Timestamp::from_second(1_767_225_600).unwrap();
        let at = |secs: i64| now.as_millisecond() - secs * 1_000;
        for (secs, want) in [
            (-30, "just now"),
            (0, "just now"),
            (59, "just now"),
            (60, "1 minute ago"),
            (5 * 60 + 59, "5 minutes ago"),
            (3_600, "1 hour ago"),
            (23 * 3_600, "23 hours ago"),
            (86_400, "1 day ago"),
            (3 * 86_400 + 5, "3 days ago"),
        ] {
            assert_eq!(ago(at(secs), now), want, "{secs} s");
        }
    }
}
