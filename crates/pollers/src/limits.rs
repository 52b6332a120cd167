//! Being a good client of someone else's API: the rate-limit headers a source sends, its
//! `Retry-After`, and backing off after errors.
//!
//! - Mastodon: `X-RateLimit-Remaining` and `X-RateLimit-Reset` (an ISO 8601 time).
//! - Bluesky (and the IETF draft): `RateLimit-Remaining` and `RateLimit-Reset` (seconds;
//!   Bluesky sends a unix time, the draft a delay — told apart by size).
//! - Anyone, with 429 or 503: `Retry-After`, seconds or an HTTP date.

use hyper::HeaderMap;
use std::time::Duration;

/// The longest a source can make a poller wait (a bogus header must not stop it for good).
pub const MAX_WAIT: Duration = Duration::from_secs(3600);
/// The longest backoff after errors.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30 * 60);

/// When the source's own quota says the next request may go: `None` while requests
/// remain (or the source says nothing).
pub fn quota_resets(headers: &HeaderMap, now_ms: i64) -> Option<Duration> {
    let header = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
            .map(str::trim)
    };
    let remaining: i64 = header(&["x-ratelimit-remaining", "ratelimit-remaining"])?
        .parse()
        .ok()?;
    if remaining > 0 {
        return None;
    }
    let reset = header(&["x-ratelimit-reset", "ratelimit-reset"]);
    let wait = reset
        .and_then(|r| until(r, now_ms))
        .unwrap_or(Duration::from_secs(60));
    Some(wait.min(MAX_WAIT))
}

/// What a `Retry-After` (or, failing that, a rate-limit reset) asks for, bounded by
/// [`MAX_WAIT`].
pub fn retry_after(headers: &HeaderMap, now_ms: i64) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = jiff::fmt::rfc2822::parse(value)
                .ok()?
                .timestamp()
                .as_millisecond();
            Duration::from_millis(u64::try_from(at - now_ms).unwrap_or(0))
        }
    };
    Some(wait.min(MAX_WAIT))
}

/// A reset given as an RFC 3339 time, a unix time in seconds, or a delay in seconds.
fn until(reset: &str, now_ms: i64) -> Option<Duration> {
    let at_ms = match reset.parse::<f64>() {
        // Unix times are large; delays are small (the draft caps them well under a year).
        Ok(n) if n > 1_000_000_000.0 => (n * 1000.0) as i64,
        Ok(n) if n >= 0.0 => return Some(Duration::from_secs_f64(n)),
        Ok(_) => return None,
        Err(_) => reset.parse::<jiff::Timestamp>().ok()?.as_millisecond(),
    };
    Some(Duration::from_millis(
        u64::try_from(at_ms - now_ms).unwrap_or(0),
    ))
}

/// How long to wait after `failures` errors in a row, polling every `every`: doubling from
/// one period, at most [`MAX_BACKOFF`], with ±10 % jitter so pollers of one source that
/// failed together do not return together.
pub fn backoff(every: Duration, failures: u32, jitter: f64) -> Duration {
    let doubled = every.saturating_mul(1u32 << failures.min(16));
    let base = doubled.min(MAX_BACKOFF);
    base.mul_f64(1.0 + 0.1 * jitter.clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_630_400_000; // 2026-12-07T08:00:00Z

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn an_exhausted_quota_waits_until_its_reset_in_each_dialect() {
        let mastodon = headers(&[
            ("x-ratelimit-limit", "300"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "2026-12-07T08:04:00.019685Z"),
        ]);
        assert_eq!(
            quota_resets(&mastodon, NOW),
            Some(Duration::from_millis(240_019))
        );
        let bluesky = headers(&[
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", "1796630700"),
            ("ratelimit-policy", "3000;w=300"),
        ]);
        assert_eq!(quota_resets(&bluesky, NOW), Some(Duration::from_secs(300)));
        let draft = headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "42")]);
        assert_eq!(quota_resets(&draft, NOW), Some(Duration::from_secs(42)));
        // requests left, or no word: no wait; a reset in the past: none either
        assert_eq!(
            quota_resets(&headers(&[("x-ratelimit-remaining", "12")]), NOW),
            None
        );
        assert_eq!(quota_resets(&HeaderMap::new(), NOW), None);
        let past = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "2026-12-07T07:00:00Z"),
        ]);
        assert_eq!(quota_resets(&past, NOW), Some(Duration::ZERO));
        // a reset a year away is capped
        let far = headers(&[
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", "1828166400"),
        ]);
        assert_eq!(quota_resets(&far, NOW), Some(MAX_WAIT));
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "120")]), NOW),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Mon, 07 Dec 2026 08:00:30 GMT")]),
                NOW
            ),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), NOW), None);
        assert_eq!(retry_after(&HeaderMap::new(), NOW), None);
    }

    #[test]
    fn backoff_doubles_to_its_cap() {
        let every = Duration::from_secs(60);
        assert_eq!(backoff(every, 0, 0.0), every);
        assert_eq!(backoff(every, 3, 0.0), Duration::from_secs(480));
        assert_eq!(backoff(every, 40, 0.0), MAX_BACKOFF);
        assert_eq!(backoff(every, 1, 1.0), Duration::from_secs(132));
    }
}
