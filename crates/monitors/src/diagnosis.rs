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
use downbeat_probe::{Cause, Facts, Outcome, ProbeResult};
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
            RegionState::Passing => Outcome::Up.public_words(),
            RegionState::Degraded => Outcome::Degraded.public_words(),
            RegionState::Failing => Outcome::Down.public_words(),
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
/// address, only the kind of failure ([`Cause::public_failing`]).
pub fn cause_phrase(r: &ProbeResult, now_ms: i64) -> String {
    let Some(cause) = r.cause else {
        return "its check".into();
    };
    let since_expiry = r
        .certificate
        .as_ref()
        .map(|c| now_ms - c.not_after.as_millisecond())
        .filter(|since| *since >= 0)
        .map(ago);
    let facts = Facts {
        http_status: r.http_status,
        since_expiry,
        ..Facts::default()
    };
    cause.public_failing(r.detail, &facts)
}

/// The latest result of monitor `m` per region, in public words.
pub fn regions(monitors: &Monitors, m: &MonitorConfig, now_ms: i64) -> Vec<PublicRegion> {
    regions_with_causes(monitors, m, now_ms)
        .into_iter()
        .map(|(region, _)| region)
        .collect()
}

/// [`regions`], each with the cause of its latest result.
fn regions_with_causes(
    monitors: &Monitors,
    m: &MonitorConfig,
    now_ms: i64,
) -> Vec<(PublicRegion, Option<Cause>)> {
    monitors
        .latest(m.id.as_str())
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
            let region = PublicRegion {
                region: r.region.to_string(),
                state,
                cause: matches!(state, RegionState::Failing | RegionState::Unreliable)
                    .then(|| cause_phrase(&r.result, now_ms)),
            };
            (region, r.result.cause)
        })
        .collect()
}

/// The service's probes summed up for the public: `None` without monitors or results,
/// else e.g. "All regions fail TLS: certificate expired 2 h ago." or "All checks pass from
/// 3 regions." Only fresh, reliable results count.
pub fn diagnose_public(monitors: &Monitors, service: &str, now_ms: i64) -> Option<String> {
    let config = monitors.config.get();
    let of_service: Vec<&MonitorConfig> = config
        .monitors
        .iter()
        .filter(|m| m.service.as_str() == service)
        .collect();
    // phrase -> regions failing with it (the phrase already tells the cause and detail),
    // and whether its cause points at the regions' network
    let mut failing: BTreeMap<String, (Vec<String>, bool)> = BTreeMap::new();
    let mut all_regions: Vec<String> = Vec::new();
    for m in of_service {
        for (r, cause) in regions_with_causes(monitors, m, now_ms) {
            if r.state == RegionState::Stale {
                continue;
            }
            if !all_regions.contains(&r.region) {
                all_regions.push(r.region.clone());
            }
            if let (RegionState::Failing, Some(c)) = (r.state, r.cause) {
                let (regions, network) = failing.entry(c).or_default();
                *network = cause.is_some_and(Cause::points_at_network);
                if !regions.contains(&r.region) {
                    regions.push(r.region);
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
    let mut causes: Vec<(String, (Vec<String>, bool))> = failing.into_iter().collect();
    causes.sort_by(|a, b| b.1.0.len().cmp(&a.1.0.len()).then_with(|| a.0.cmp(&b.0)));
    let parts: Vec<String> = causes
        .iter()
        .take(3)
        .map(|(phrase, (regions, network))| {
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
            let hint = if !everywhere && *network {
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
