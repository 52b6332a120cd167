//! The public diagnosis: what the monitors see, in words fit for a public status page.
//!
//! [`crate::diagnose`] is for operators: it quotes probe explanations, which name
//! targets, addresses and raw errors. This variant is built only from structured fields —
//! the cause, its detail, the HTTP status code and the certificate's expiry time — and the
//! operator-chosen region names, so no host name, address, path or error text can reach
//! the page: "All regions fail TLS: certificate expired 2 h ago", "Only eu-west fails to
//! connect: regional network or CDN".

use crate::Monitors;
use downbeat_config::MonitorConfig;
use downbeat_probe::{Cause, Detail, Outcome, ProbeResult};
use serde::Serialize;
use std::collections::BTreeMap;

/// One region's latest result of a monitor, in public words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicRegion {
    pub region: String,
    pub state: RegionState,
    /// Why it fails (after "fails"): "to connect (connection refused)". Only when failing.
    pub cause: Option<String>,
}

/// A region's result as the public sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionState {
    Passing,
    /// Works, but slow or with a certificate close to expiry.
    Degraded,
    Failing,
    /// Failing, but this vantage could not reach its canary either: its own network may be
    /// to blame, so it blames nobody.
    Unreliable,
    /// No result within three intervals.
    Stale,
}

impl RegionState {
    pub fn label(self) -> &'static str {
        match self {
            RegionState::Passing => "passing",
            RegionState::Degraded => "degraded",
            RegionState::Failing => "failing",
            RegionState::Unreliable => "failing (vantage network unreliable)",
            RegionState::Stale => "no recent result",
        }
    }
}

/// How long a result stays current: three intervals plus the timeout (as the quorum uses).
fn fresh_ms(m: &MonitorConfig) -> i64 {
    3 * m.interval.as_millis() + m.probe.timeout().as_millis() as i64
}

/// "2 h", "35 min", "3 days": an age for a public sentence.
pub fn ago(ms: i64) -> String {
    let min = ms.max(0) / 60_000;
    match min {
        0 => "less than a minute".into(),
        1..=59 => format!("{min} min"),
        60..=2879 => format!("{} h", min / 60),
        _ => format!("{} days", min / 1440),
    }
}

/// What follows "fails" for a failed result: never the error text, the target or the
/// address, only the kind of failure.
pub fn cause_phrase(r: &ProbeResult, now_ms: i64) -> String {
    let Some(cause) = r.cause else {
        return "its check".into();
    };
    let detail = r.detail;
    match cause {
        Cause::TlsCertificate => match (detail, &r.certificate) {
            (Some(Detail::Expired), Some(c)) => {
                let since = now_ms - c.not_after.as_millisecond();
                if since >= 0 {
                    format!("TLS: certificate expired {} ago", ago(since))
                } else {
                    "TLS: certificate expired".into()
                }
            }
            (Some(Detail::Expired), None) => "TLS: certificate expired".into(),
            (Some(Detail::NotYetValid), _) => "TLS: certificate not yet valid".into(),
            (Some(Detail::WrongHost), _) => "TLS: certificate issued for another name".into(),
            (Some(Detail::Untrusted), _) => "TLS: certificate not trusted".into(),
            (Some(Detail::Revoked), _) => "TLS: certificate revoked".into(),
            _ => "TLS: certificate rejected".into(),
        },
        Cause::TlsHandshake => "the TLS handshake".into(),
        Cause::Dns => match detail {
            Some(Detail::Nxdomain) => "DNS: the name does not exist".into(),
            Some(Detail::Servfail) => "DNS: the resolver fails (SERVFAIL)".into(),
            Some(Detail::NoAnswer) => "DNS: no address for the name".into(),
            Some(Detail::UnexpectedAnswer | Detail::UnexpectedRcode) => {
                "DNS: unexpected answer".into()
            }
            _ => "DNS resolution".into(),
        },
        Cause::Connect => match detail {
            Some(Detail::Refused) => "to connect (connection refused)".into(),
            Some(Detail::Unreachable) => "to connect (network unreachable)".into(),
            Some(Detail::TimedOut) => "to connect (no answer)".into(),
            _ => "to connect".into(),
        },
        Cause::Timeout => "with timeouts (no answer in time)".into(),
        Cause::Http5xx => match r.http_status {
            Some(s) => format!("with server errors (HTTP {s})"),
            None => "with server errors (5xx)".into(),
        },
        Cause::Http4xx => match r.http_status {
            Some(s) => format!("with refused requests (HTTP {s})"),
            None => "with refused requests (4xx)".into(),
        },
        Cause::Overload => match r.http_status {
            Some(s @ (429 | 503)) => format!("as overloaded (HTTP {s})"),
            _ => "as overloaded (far too slow)".into(),
        },
        Cause::Content => "content checks (unexpected answer)".into(),
    }
}

/// The latest result of monitor `index` per region, in public words.
pub fn regions(monitors: &Monitors, index: usize, now_ms: i64) -> Vec<PublicRegion> {
    let m = &monitors.config.monitors[index];
    monitors
        .latest(index)
        .values()
        .map(|r| {
            let state = if now_ms - r.at.as_millisecond() > fresh_ms(m) {
                RegionState::Stale
            } else {
                match (r.result.outcome, r.reliable) {
                    (Outcome::Up, _) => RegionState::Passing,
                    (Outcome::Degraded, _) => RegionState::Degraded,
                    (Outcome::Down, true) => RegionState::Failing,
                    (Outcome::Down, false) => RegionState::Unreliable,
                }
            };
            PublicRegion {
                region: r.region.to_string(),
                state,
                cause: matches!(state, RegionState::Failing | RegionState::Unreliable)
                    .then(|| cause_phrase(&r.result, now_ms)),
            }
        })
        .collect()
}

/// The service's probes summed up for the public: `None` without monitors or results,
/// else e.g. "All regions fail TLS: certificate expired 2 h ago." or "All checks pass from
/// 3 regions." Only fresh, reliable results count.
pub fn diagnose_public(monitors: &Monitors, service: &str, now_ms: i64) -> Option<String> {
    let of_service: Vec<usize> = monitors
        .config
        .monitors
        .iter()
        .enumerate()
        .filter(|(_, m)| m.service.as_str() == service)
        .map(|(i, _)| i)
        .collect();
    // phrase -> regions failing with it (the phrase already tells the cause and detail)
    let mut failing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut all_regions: Vec<String> = Vec::new();
    for &i in &of_service {
        for r in regions(monitors, i, now_ms) {
            if r.state == RegionState::Stale {
                continue;
            }
            if !all_regions.contains(&r.region) {
                all_regions.push(r.region.clone());
            }
            if let (RegionState::Failing, Some(c)) = (r.state, r.cause) {
                let e = failing.entry(c).or_default();
                if !e.contains(&r.region) {
                    e.push(r.region);
                }
            }
        }
    }
    if all_regions.is_empty() {
        return None;
    }
    let n = all_regions.len();
    if failing.is_empty() {
        return Some(format!(
            "All checks pass from {n} region{}.",
            if n == 1 { "" } else { "s" }
        ));
    }
    let mut causes: Vec<(String, Vec<String>)> = failing.into_iter().collect();
    causes.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    let parts: Vec<String> = causes
        .iter()
        .take(3)
        .map(|(phrase, regions)| {
            let everywhere = regions.len() == n;
            let scope = match (everywhere, n) {
                (true, 1) => format!("the {} check fails", regions[0]),
                (true, _) => "all regions fail".into(),
                (false, _) => format!(
                    "only {} fail{}",
                    regions.join(", "),
                    if regions.len() == 1 { "s" } else { "" }
                ),
            };
            let network = phrase.starts_with("to connect") || phrase.starts_with("with timeouts");
            let hint = if !everywhere && network {
                ": regional network or CDN"
            } else {
                ""
            };
            format!("{scope} {phrase}{hint}")
        })
        .collect();
    let s = parts.join("; ");
    let mut chars = s.chars();
    Some(match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(cause: &str, detail: &str, extra: &str) -> ProbeResult {
        serde_json::from_str(&format!(
            r#"{{"kind":"http","started_at":"2026-11-22T08:00:00Z","outcome":"down","cause":"{cause}","detail":"{detail}","error":"refused by 10.9.8.7 (origin.internal)","timings":{{}},"address":"10.9.8.7:443"{extra}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn causes_are_told_without_targets_or_errors() {
        let now = jiff::Timestamp::from_second(1_795_000_000)
            .unwrap()
            .as_millisecond();
        let cert = r#","certificate":{"subject":"CN=origin.internal","issuer":"CN=x","not_before":"2026-01-01T00:00:00Z","not_after":"NA","days_until_expiry":-1}"#;
        let expired_at = rfc3339(now - 3 * 3_600_000 - 1);
        let cases = [
            (
                result(
                    "tls_certificate",
                    "expired",
                    &cert.replace("NA", &expired_at),
                ),
                "TLS: certificate expired 3 h ago",
            ),
            (
                result("tls_certificate", "wrong_host", ""),
                "TLS: certificate issued for another name",
            ),
            (
                result("dns", "nxdomain", ""),
                "DNS: the name does not exist",
            ),
            (
                result("connect", "refused", ""),
                "to connect (connection refused)",
            ),
            (result("connect", "timed_out", ""), "to connect (no answer)"),
            (
                result("timeout", "timed_out", ""),
                "with timeouts (no answer in time)",
            ),
            (
                result("http_5xx", "status", r#","http_status":502"#),
                "with server errors (HTTP 502)",
            ),
            (
                result("overload", "status", r#","http_status":503"#),
                "as overloaded (HTTP 503)",
            ),
            (
                result("overload", "slow", ""),
                "as overloaded (far too slow)",
            ),
            (
                result("content", "body_mismatch", ""),
                "content checks (unexpected answer)",
            ),
        ];
        for (r, want) in cases {
            let got = cause_phrase(&r, now);
            assert_eq!(got, want);
            assert!(!got.contains("10.9") && !got.contains("internal"), "{got}");
        }
    }

    fn rfc3339(ms: i64) -> String {
        jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(ago(20_000), "less than a minute");
        assert_eq!(ago(35 * 60_000), "35 min");
        assert_eq!(ago(2 * 3_600_000 + 5 * 60_000), "2 h");
        assert_eq!(ago(3 * 86_400_000), "3 days");
    }
}
