//! What a probe concluded: [`Outcome`], the probable [`Cause`] of a failure and its [`Detail`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// The verdict of one probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything expected happened.
    Up,
    /// It works, but something needs attention soon: a certificate close to expiry, or a
    /// response slower than the monitor's `max_latency`.
    Degraded,
    /// The check failed; [`crate::ProbeResult::cause`] says why.
    Down,
}

impl Outcome {
    /// The snake_case word used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Up => "up",
            Outcome::Degraded => "degraded",
            Outcome::Down => "down",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The probable cause of a failed probe: the layer that broke, named the way people discuss
/// outages ("DNS", "the certificate expired", "overload").
///
/// Serialized as exactly these snake_case words, which the store, the API and the quorum logic
/// compare across regions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cause {
    /// The name did not resolve: NXDOMAIN, SERVFAIL, no answer, resolver timeout; or a DNS
    /// monitor's expectation failed.
    #[serde(rename = "dns")]
    Dns,
    /// The TCP connection failed: refused, unreachable, or no answer before the timeout.
    #[serde(rename = "connect")]
    Connect,
    /// The server's certificate is not acceptable: expired, not yet valid, issued for another
    /// host name, or not chained to a trusted root.
    #[serde(rename = "tls_certificate")]
    TlsCertificate,
    /// The TLS handshake failed for another reason (protocol, alert, connection reset).
    #[serde(rename = "tls_handshake")]
    TlsHandshake,
    /// Connected, but the answer did not come before the timeout.
    #[serde(rename = "timeout")]
    Timeout,
    /// An HTTP 5xx status other than 503.
    #[serde(rename = "http_5xx")]
    Http5xx,
    /// An HTTP 4xx status other than 429.
    #[serde(rename = "http_4xx")]
    Http4xx,
    /// The server says it is overloaded (HTTP 429 or 503), answered far slower than its
    /// `max_latency` (more than [`crate::OVERLOAD_LATENCY_FACTOR`] times), or far slower than
    /// its own baseline (detail `above_baseline`).
    #[serde(rename = "overload")]
    Overload,
    /// The answer arrived but is not the expected one: body text, regex, JSON value, or a
    /// status outside the expected ranges that is not an error status (e.g. an unfollowed 302).
    #[serde(rename = "content")]
    Content,
}

impl Cause {
    /// Every cause, in declaration order (for tables and tests).
    pub const ALL: [Cause; 9] = [
        Cause::Dns,
        Cause::Connect,
        Cause::TlsCertificate,
        Cause::TlsHandshake,
        Cause::Timeout,
        Cause::Http5xx,
        Cause::Http4xx,
        Cause::Overload,
        Cause::Content,
    ];

    /// The snake_case word used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Dns => "dns",
            Cause::Connect => "connect",
            Cause::TlsCertificate => "tls_certificate",
            Cause::TlsHandshake => "tls_handshake",
            Cause::Timeout => "timeout",
            Cause::Http5xx => "http_5xx",
            Cause::Http4xx => "http_4xx",
            Cause::Overload => "overload",
            Cause::Content => "content",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The specific finding behind a [`Cause`] (or behind a `degraded` outcome), so that callers can
/// tell "expired" from "wrong host" without parsing error text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// DNS: the name does not exist (NXDOMAIN).
    Nxdomain,
    /// DNS: the resolver failed (SERVFAIL).
    Servfail,
    /// DNS: the resolver refused the query (REFUSED).
    DnsRefused,
    /// DNS: another error response code, or a resolver error.
    DnsError,
    /// DNS: the name exists but has no record of the asked type.
    NoAnswer,
    /// DNS monitor: an expected answer is missing.
    UnexpectedAnswer,
    /// DNS monitor: the response code is not the expected one.
    UnexpectedRcode,
    /// Connect: the port is closed (RST).
    Refused,
    /// Connect: no route to the host or network.
    Unreachable,
    /// The phase named by the cause did not finish before the timeout.
    TimedOut,
    /// The connection was reset or closed by the peer mid-way.
    Reset,
    /// Certificate: past its not-after time.
    Expired,
    /// Certificate: before its not-before time.
    NotYetValid,
    /// Certificate: not issued for the host name probed.
    WrongHost,
    /// Certificate: not chained to a trusted root (self-signed, unknown CA).
    Untrusted,
    /// Certificate: revoked.
    Revoked,
    /// Certificate: malformed, bad signature, wrong key usage, and other defects.
    BadCertificate,
    /// Certificate: valid, but expires within the warning threshold (a `degraded` outcome).
    ExpiresSoon,
    /// TLS: the handshake failed without a certificate verdict (alert, protocol mismatch).
    Handshake,
    /// HTTP: a status outside the expected ranges.
    Status,
    /// HTTP: slower than `max_latency` (degraded) or far slower (overload).
    Slow,
    /// Any kind: latency far above the monitor's own baseline for this time of day (judged
    /// by the caller, see [`crate::ProbeResult::mark_above_baseline`]).
    AboveBaseline,
    /// HTTP: the body lacks the expected text or does not match the regex.
    BodyMismatch,
    /// HTTP: the JSON pointer is missing or holds another value, or the body is not JSON.
    JsonMismatch,
    /// HTTP: the server broke the protocol (malformed response, early close).
    Protocol,
    /// HTTP: more redirects than `max_redirects`, or an unusable `Location`.
    Redirect,
}

impl Detail {
    /// The snake_case word used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Detail::Nxdomain => "nxdomain",
            Detail::Servfail => "servfail",
            Detail::DnsRefused => "dns_refused",
            Detail::DnsError => "dns_error",
            Detail::NoAnswer => "no_answer",
            Detail::UnexpectedAnswer => "unexpected_answer",
            Detail::UnexpectedRcode => "unexpected_rcode",
            Detail::Refused => "refused",
            Detail::Unreachable => "unreachable",
            Detail::TimedOut => "timed_out",
            Detail::Reset => "reset",
            Detail::Expired => "expired",
            Detail::NotYetValid => "not_yet_valid",
            Detail::WrongHost => "wrong_host",
            Detail::Untrusted => "untrusted",
            Detail::Revoked => "revoked",
            Detail::BadCertificate => "bad_certificate",
            Detail::ExpiresSoon => "expires_soon",
            Detail::Handshake => "handshake",
            Detail::Status => "status",
            Detail::Slow => "slow",
            Detail::AboveBaseline => "above_baseline",
            Detail::BodyMismatch => "body_mismatch",
            Detail::JsonMismatch => "json_mismatch",
            Detail::Protocol => "protocol",
            Detail::Redirect => "redirect",
        }
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_serialize_as_the_documented_words() {
        for cause in Cause::ALL {
            let json = serde_json::to_string(&cause).expect("serialize");
            assert_eq!(json, format!("\"{}\"", cause.as_str()));
            let back: Cause = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, cause);
        }
        assert_eq!(Cause::Http5xx.as_str(), "http_5xx");
        assert_eq!(Cause::TlsCertificate.as_str(), "tls_certificate");
    }

    #[test]
    fn details_serialize_as_their_names() {
        for d in [
            Detail::Nxdomain,
            Detail::DnsRefused,
            Detail::Expired,
            Detail::WrongHost,
        ] {
            assert_eq!(
                serde_json::to_string(&d).expect("serialize"),
                format!("\"{d}\"")
            );
        }
    }
}
