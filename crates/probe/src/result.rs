//! What a probe observed: [`ProbeResult`] with its [`Timings`], certificate and DNS findings,
//! and a plain-words [`ProbeResult::explanation`].

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::kind::ProbeKind;
use crate::outcome::{Cause, Detail, Facts, Outcome};

/// How long each phase took. Only phases that happened are present.
///
/// - `dns`: resolving the host name (absent for IP literals and `localhost`);
/// - `connect`: the TCP handshake;
/// - `tls`: the TLS handshake, certificate verification included;
/// - `ttfb`: from sending the request to receiving the response head (for `websocket`
///   probes, the upgrade's `101`);
/// - `reply`: `websocket` probes, from the message sent (or the upgrade) to the first
///   message back;
/// - `total`: the whole probe, from start to the end of the body (all redirect hops); for
///   `ping` probes, the average round trip of the answered echo requests.
///
/// With redirects, each phase is the sum over the hops. Serialized as fractional milliseconds
/// (`"connect_ms": 0.153`): readable, and a µs resolution is plenty for network phases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// DNS resolution.
    #[serde(
        rename = "dns_ms",
        with = "ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dns: Option<Duration>,
    /// TCP connect.
    #[serde(
        rename = "connect_ms",
        with = "ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub connect: Option<Duration>,
    /// TLS handshake.
    #[serde(
        rename = "tls_ms",
        with = "ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tls: Option<Duration>,
    /// Request sent to response head received.
    #[serde(
        rename = "ttfb_ms",
        with = "ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ttfb: Option<Duration>,
    /// Message sent to first message back (websocket).
    #[serde(
        rename = "reply_ms",
        with = "ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reply: Option<Duration>,
    /// The whole probe.
    #[serde(
        rename = "total_ms",
        with = "ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub total: Option<Duration>,
    /// Of `total`, the time the prober's own runtime could not run (its host was busy): not
    /// the target's doing, so latency is judged without it ([`crate::stall`]). Absent when
    /// under a millisecond.
    #[serde(
        rename = "stalled_ms",
        with = "ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub stalled: Option<Duration>,
}

impl Timings {
    /// The probe's time without the prober's own stall: what the target took.
    pub fn unstalled_total(&self) -> Option<Duration> {
        self.total
            .map(|t| t.saturating_sub(self.stalled.unwrap_or_default()))
    }

    /// The phases spent since `before` (an earlier copy of these timings): one flow step's.
    pub(crate) fn since(&self, before: &Timings) -> Timings {
        let diff = |now: Option<Duration>, then: Option<Duration>| {
            now.map(|n| n.saturating_sub(then.unwrap_or_default()))
                .filter(|d| !d.is_zero() || then.is_none())
        };
        Timings {
            dns: diff(self.dns, before.dns),
            connect: diff(self.connect, before.connect),
            tls: diff(self.tls, before.tls),
            ttfb: diff(self.ttfb, before.ttfb),
            reply: diff(self.reply, before.reply),
            total: None,
            stalled: None,
        }
    }

    pub(crate) fn add_dns(&mut self, d: Duration) {
        self.dns = Some(self.dns.unwrap_or_default() + d);
    }
    pub(crate) fn add_connect(&mut self, d: Duration) {
        self.connect = Some(self.connect.unwrap_or_default() + d);
    }
    pub(crate) fn add_tls(&mut self, d: Duration) {
        self.tls = Some(self.tls.unwrap_or_default() + d);
    }
    pub(crate) fn add_ttfb(&mut self, d: Duration) {
        self.ttfb = Some(self.ttfb.unwrap_or_default() + d);
    }
}

/// The server certificate's facts that matter during an outage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CertInfo {
    /// Subject distinguished name, e.g. `CN=melodia.example`.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity.
    pub not_after: Timestamp,
    /// Whole days from the probe to `not_after`, rounded down: negative once expired.
    pub days_until_expiry: i64,
}

/// What a DNS probe got back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DnsAnswer {
    /// Response code mnemonic: NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...
    pub rcode: String,
    /// Answers of the asked type, as text (`192.0.2.1`, `10 mail.example.com`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<String>,
}

/// A domain registration's expiry, as its registry's RDAP service gives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainExpiry {
    /// The registration's `expiration` event.
    pub expires_at: Timestamp,
    /// Whole days from the probe to `expires_at`, rounded down: negative once expired.
    pub days_until_expiry: i64,
}

/// What a ping probe's echo requests found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PingStats {
    /// Echo requests sent.
    pub sent: u16,
    /// Echo replies received.
    pub received: u16,
    /// The share of requests unanswered, in whole percent.
    pub loss_percent: u8,
    /// The fastest round trip.
    #[serde(
        rename = "rtt_min_ms",
        with = "ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rtt_min: Option<Duration>,
    /// The average round trip.
    #[serde(
        rename = "rtt_avg_ms",
        with = "ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rtt_avg: Option<Duration>,
    /// The slowest round trip.
    #[serde(
        rename = "rtt_max_ms",
        with = "ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rtt_max: Option<Duration>,
}

/// One step of a flow probe: its name, the status it got and its own timings (`total` the
/// step's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// The step's name.
    pub name: String,
    /// The HTTP status it got, if it got one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Its phases.
    pub timings: Timings,
}

/// The result of one probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// The kind of probe that produced this.
    pub kind: ProbeKind,
    /// When the probe started.
    pub started_at: Timestamp,
    /// Up, degraded or down.
    pub outcome: Outcome,
    /// Why it is down; absent when up or degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// The specific finding: set when down, and when degraded (`expires_soon`, `slow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
    /// The underlying error or mismatch, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Phase timings.
    pub timings: Timings,
    /// The address connected to (last hop for redirects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<SocketAddr>,
    /// HTTP status of the last response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Redirects followed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redirects: u8,
    /// The server certificate (tls and https), also when it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertInfo>,
    /// The DNS response (dns probes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsAnswer>,
    /// Loss and round trips (ping probes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping: Option<PingStats>,
    /// The registration's expiry (domain probes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainExpiry>,
    /// Each step run, in order, up to the failing one (flow probes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepResult>,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl ProbeResult {
    pub(crate) fn new(kind: ProbeKind, started_at: Timestamp) -> Self {
        ProbeResult {
            kind,
            started_at,
            outcome: Outcome::Up,
            cause: None,
            detail: None,
            error: None,
            timings: Timings::default(),
            address: None,
            http_status: None,
            redirects: 0,
            certificate: None,
            dns: None,
            ping: None,
            domain: None,
            steps: Vec::new(),
        }
    }

    /// Whether the check passed (up or degraded).
    pub fn is_up(&self) -> bool {
        self.outcome != Outcome::Down
    }

    /// Marks a result whose checks passed as `down`/`overload` (detail `above_baseline`):
    /// its latency is far above what this monitor usually takes from this vantage at this
    /// time of day. The probe knows no history; the caller keeps the baseline and passes
    /// what is `usual`.
    pub fn mark_above_baseline(&mut self, usual: Duration) {
        self.outcome = Outcome::Down;
        self.cause = Some(Cause::Overload);
        self.detail = Some(Detail::AboveBaseline);
        self.error = Some(format!("usually about {}", human_duration(usual)));
    }

    /// The result in plain words, for pages and notifications, e.g. "TLS certificate expired
    /// 2 h ago (not after 2026-11-22 08:00 UTC)". Relative times are measured from
    /// [`ProbeResult::started_at`], so the text is stable for a stored result.
    pub fn explanation(&self) -> String {
        let mut s = String::new();
        let cert_when = |s: &mut String| {
            if let Some(c) = &self.certificate {
                let _ = write!(
                    s,
                    " (not after {})",
                    c.not_after.strftime("%Y-%m-%d %H:%M UTC")
                );
            }
        };
        match (self.outcome, self.cause, self.detail) {
            (Outcome::Up, ..) => {
                s.push_str(Outcome::Up.operator_words());
                s.push_str(&self.kind.up_words(self));
                if let Some(t) = self.timings.total {
                    let _ = write!(s, " in {}", human_duration(t));
                }
                if let Some(c) = &self.certificate {
                    let _ = write!(s, "; certificate expires in {} days", c.days_until_expiry);
                }
            }
            (Outcome::Degraded, _, Some(Detail::ExpiresSoon)) => {
                let days = self.certificate.as_ref().map_or(0, |c| c.days_until_expiry);
                let _ = write!(s, "TLS certificate expires in {days} days");
                cert_when(&mut s);
            }
            (Outcome::Degraded, _, Some(Detail::DomainExpiresSoon)) => {
                let days = self.domain.as_ref().map_or(0, |d| d.days_until_expiry);
                let _ = write!(s, "domain registration expires in {days} days");
                if let Some(d) = &self.domain {
                    let _ = write!(s, " (on {})", d.expires_at.strftime("%Y-%m-%d"));
                }
            }
            (Outcome::Degraded, _, Some(Detail::PacketLoss)) => {
                s.push_str("some echo requests lost");
                if let Some(e) = &self.error {
                    let _ = write!(s, ": {e}");
                }
            }
            (Outcome::Degraded, _, _) => {
                s.push_str("slow: answered in ");
                s.push_str(
                    &self
                        .timings
                        .total
                        .map_or_else(|| "?".into(), human_duration),
                );
                if let Some(e) = &self.error {
                    let _ = write!(s, " ({e})");
                }
            }
            (Outcome::Down, cause, detail) => {
                match cause {
                    Some(cause) => {
                        s.push_str(&cause.operator_failing_result(detail, &self.facts()))
                    }
                    None => s.push_str(Outcome::Down.operator_words()),
                }
                if cause == Some(Cause::TlsCertificate) {
                    cert_when(&mut s);
                }
                if let Some(e) = &self.error
                    && !matches!(detail, Some(Detail::Expired | Detail::NotYetValid))
                {
                    let _ = write!(s, ": {e}");
                }
            }
        }
        s
    }

    /// The facts an operator's sentence about this result may quote, in words.
    fn facts(&self) -> Facts {
        let ago = |t: Timestamp| human_duration(signed_secs(self.started_at, t));
        Facts {
            http_status: self.http_status,
            total: self.timings.total.map(human_duration),
            since_expiry: self.certificate.as_ref().map(|c| ago(c.not_after)),
            until_valid: self.certificate.as_ref().map(|c| ago(c.not_before)),
        }
    }
}

fn signed_secs(now: Timestamp, then: Timestamp) -> Duration {
    Duration::from_secs((now.as_second() - then.as_second()).unsigned_abs())
}

/// "850 µs", "12 ms", "3.2 s", "45 min", "2 h", "3 d": coarse on purpose, for people.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d < Duration::from_millis(1) {
        format!("{} µs", d.as_micros())
    } else if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if secs < 60 {
        format!("{:.1} s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{} min", secs / 60)
    } else if secs < 2 * 86400 {
        format!("{} h", secs / 3600)
    } else {
        format!("{} d", secs / 86400)
    }
}

/// Serde for `Option<Duration>` as fractional milliseconds.
mod ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            // Rounded to the microsecond so JSON stays short.
            Some(d) => s.serialize_f64(d.as_micros() as f64 / 1000.0),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let v = Option::<f64>::deserialize(d)?;
        match v {
            // `try_`: a finite but huge value (1e297) would panic `from_secs_f64`.
            Some(ms) if ms.is_finite() && ms >= 0.0 => Duration::try_from_secs_f64(ms / 1000.0)
                .map(Some)
                .map_err(|_| serde::de::Error::custom(format!("{ms} ms is too long a duration"))),
            Some(ms) => Err(serde::de::Error::custom(format!(
                "{ms} is not a duration in ms"
            ))),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        for (d, want) in [
            (Duration::from_micros(850), "850 µs"),
            (Duration::from_millis(12), "12 ms"),
            (Duration::from_millis(3200), "3.2 s"),
            (Duration::from_secs(45 * 60), "45 min"),
            (Duration::from_secs(2 * 3600 + 5), "2 h"),
            (Duration::from_secs(3 * 86400), "3 d"),
        ] {
            assert_eq!(human_duration(d), want);
        }
    }

    #[test]
    fn expired_certificate_explained_with_when() {
        let now: Timestamp = "2026-11-22T10:00:00Z".parse().expect("ts");
        let mut r = ProbeResult::new(ProbeKind::Tls, now);
        r.outcome = Outcome::Down;
        r.cause = Some(Cause::TlsCertificate);
        r.detail = Some(Detail::Expired);
        r.certificate = Some(CertInfo {
            subject: "CN=melodia.example".into(),
            issuer: "CN=Test CA".into(),
            not_before: "2026-08-22T08:00:00Z".parse().expect("ts"),
            not_after: "2026-11-22T08:00:00Z".parse().expect("ts"),
            days_until_expiry: -1,
        });
        assert_eq!(
            r.explanation(),
            "TLS certificate expired 2 h ago (not after 2026-11-22 08:00 UTC)"
        );
    }

    #[test]
    fn above_baseline_is_overload_in_words() {
        let now: Timestamp = "2026-11-22T10:00:00Z".parse().expect("ts");
        let mut r = ProbeResult::new(ProbeKind::Http, now);
        r.http_status = Some(200);
        r.timings.total = Some(Duration::from_millis(320));
        r.mark_above_baseline(Duration::from_millis(2));
        assert_eq!((r.outcome, r.cause), (Outcome::Down, Some(Cause::Overload)));
        assert_eq!(
            r.explanation(),
            "overloaded: answered in 320 ms, latency far above its own baseline: usually about 2 ms"
        );
    }

    #[test]
    fn timings_serialize_as_milliseconds() {
        let t = Timings {
            connect: Some(Duration::from_micros(1530)),
            total: Some(Duration::from_millis(12)),
            ..Timings::default()
        };
        let json = serde_json::to_value(t).expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"connect_ms": 1.53, "total_ms": 12.0})
        );
        let back: Timings = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, t);
    }

    #[test]
    fn absurd_or_negative_timings_are_refused_not_a_panic() {
        for bad in ["1e297", "-1", "1e30"] {
            let json = format!("{{\"total_ms\": {bad}}}");
            let e = serde_json::from_str::<Timings>(&json).expect_err(bad);
            assert!(e.to_string().contains("ms"), "{bad}: {e}");
        }
    }
}
