//! The probe vocabulary: a probe's [`Outcome`], the probable [`Cause`] of a failure and its
//! [`Detail`], each with its machine name and its words next to it.
//!
//! Two audiences, two kinds of words (see "Public words, operator words" in the design):
//! *public* words go to pages, feeds, the public API and subscribers and never name a target,
//! an address or a raw error; *operator* words may. Every words method is an exhaustive
//! `match`, so a new variant does not compile until it has its words everywhere.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A machine word that names no variant (read back from the store, or sent by an old agent).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{word}` is not a probe {what}")]
pub struct UnknownWord {
    /// What was expected: "outcome", "cause" or "detail".
    pub what: &'static str,
    /// The word as found.
    pub word: String,
}

/// The verdict of one probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything expected happened.
    Up,
    /// It works, but something needs attention soon: a certificate close to expiry, or a
    /// response slower than the monitor's `max_latency`.
    Degraded,
    /// The check failed; the result's cause says why.
    Down,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Outcome; 3] = [Outcome::Up, Outcome::Degraded, Outcome::Down];

    /// The snake_case word used in JSON and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Up => "up",
            Outcome::Degraded => "degraded",
            Outcome::Down => "down",
        }
    }

    /// For pages: how a region's check is doing ("passing", "degraded", "failing").
    pub fn public_words(self) -> &'static str {
        match self {
            Outcome::Up => "passing",
            Outcome::Degraded => "degraded",
            Outcome::Down => "failing",
        }
    }

    /// For operators: the first word of a result's explanation ("up: HTTP 200 in 3 ms").
    pub fn operator_words(self) -> &'static str {
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

impl FromStr for Outcome {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, UnknownWord> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownWord {
                what: "outcome",
                word: s.to_owned(),
            })
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
    /// `max_latency`, or far slower than its own baseline (detail `above_baseline`).
    #[serde(rename = "overload")]
    Overload,
    /// The answer arrived but is not the expected one: body text, regex, JSON value, or a
    /// status outside the expected ranges that is not an error status (e.g. an unfollowed 302).
    #[serde(rename = "content")]
    Content,
}

/// What a sentence about one failed result may quote besides its cause and detail, already
/// in words. Public sentences read only `http_status` and `since_expiry`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The HTTP status of the last response.
    pub http_status: Option<u16>,
    /// How long the whole probe took ("320 ms").
    pub total: Option<String>,
    /// How long ago the certificate expired ("2 h").
    pub since_expiry: Option<String>,
    /// How long until the certificate becomes valid ("3 d").
    pub until_valid: Option<String>,
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

    /// The snake_case word used in JSON and in the store.
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

    /// For pages: the cause of an open monitor ("the TLS certificate is not valid").
    pub fn public_words(self) -> &'static str {
        match self {
            Cause::Dns => "DNS: the name does not resolve",
            Cause::Connect => "the server cannot be reached",
            Cause::TlsCertificate => "the TLS certificate is not valid",
            Cause::TlsHandshake => "the secure connection fails",
            Cause::Timeout => "no answer in time",
            Cause::Http5xx => "server errors (5xx)",
            Cause::Http4xx => "requests refused (4xx)",
            Cause::Overload => "overload (busy or very slow)",
            Cause::Content => "wrong content in the answer",
        }
    }

    /// For operators: the cause as a label ("TLS certificate").
    pub fn operator_words(self) -> &'static str {
        match self {
            Cause::Dns => "DNS",
            Cause::Connect => "Connect",
            Cause::TlsCertificate => "TLS certificate",
            Cause::TlsHandshake => "TLS handshake",
            Cause::Timeout => "Timeout",
            Cause::Http5xx => "HTTP 5xx",
            Cause::Http4xx => "HTTP 4xx",
            Cause::Overload => "Overload",
            Cause::Content => "Content",
        }
    }

    /// For operators, what follows "fail(s)" in the monitors' diagnosis: "all regions fail
    /// TLS certificate checks".
    pub fn operator_failing(self) -> &'static str {
        match self {
            Cause::Dns => "DNS resolution",
            Cause::Connect => "to connect",
            Cause::TlsCertificate => "TLS certificate checks",
            Cause::TlsHandshake => "the TLS handshake",
            Cause::Timeout => "with timeouts",
            Cause::Http5xx => "with server errors (5xx)",
            Cause::Http4xx => "with client errors (4xx)",
            Cause::Overload => "as overloaded (429/503, or far slower than usual)",
            Cause::Content => "content checks",
        }
    }

    /// For pages, what follows "fails" for one failed result: "TLS: certificate expired 2 h
    /// ago", "to connect (connection refused)". Built from the cause, its detail, the HTTP
    /// status and the certificate's age only: never a target, an address or an error text.
    pub fn public_failing(self, detail: Option<Detail>, facts: &Facts) -> String {
        let refined = detail.and_then(|d| d.public_words(self));
        match self {
            Cause::TlsCertificate => match (detail, &facts.since_expiry, refined) {
                (Some(Detail::Expired), Some(ago), _) => {
                    format!("TLS: certificate expired {ago} ago")
                }
                (_, _, Some(words)) => format!("TLS: {words}"),
                (_, _, None) => "TLS: certificate rejected".into(),
            },
            Cause::TlsHandshake => "the TLS handshake".into(),
            Cause::Dns => refined.map_or_else(|| "DNS resolution".into(), |w| format!("DNS: {w}")),
            Cause::Connect => {
                refined.map_or_else(|| "to connect".into(), |w| format!("to connect ({w})"))
            }
            Cause::Timeout => "with timeouts (no answer in time)".into(),
            Cause::Http5xx => match facts.http_status {
                Some(s) => format!("with server errors (HTTP {s})"),
                None => "with server errors (5xx)".into(),
            },
            Cause::Http4xx => match facts.http_status {
                Some(s) => format!("with refused requests (HTTP {s})"),
                None => "with refused requests (4xx)".into(),
            },
            Cause::Overload => match facts.http_status {
                Some(s @ (429 | 503)) => format!("as overloaded (HTTP {s})"),
                _ => "as overloaded (far too slow)".into(),
            },
            Cause::Content => "content checks (unexpected answer)".into(),
        }
    }

    /// For operators, one failed result in a sentence: "TLS certificate expired 2 h ago",
    /// "DNS: the name does not exist (NXDOMAIN)", "server error: HTTP 502".
    pub fn operator_failing_result(self, detail: Option<Detail>, facts: &Facts) -> String {
        let refined = detail.and_then(|d| d.operator_words(self));
        let status = facts.http_status.unwrap_or_default();
        let total = facts.total.as_deref().unwrap_or("?");
        match self {
            Cause::Dns => refined.unwrap_or("DNS resolution failed").into(),
            Cause::Connect => refined.unwrap_or("connection failed").into(),
            Cause::TlsCertificate => match (detail, &facts.since_expiry, &facts.until_valid) {
                (Some(Detail::Expired), Some(ago), _) => {
                    format!("TLS certificate expired {ago} ago")
                }
                (Some(Detail::NotYetValid), _, Some(until)) => {
                    format!("TLS certificate not valid for another {until}")
                }
                _ => refined.unwrap_or("TLS certificate rejected").into(),
            },
            Cause::TlsHandshake => "TLS handshake failed".into(),
            Cause::Timeout => "no answer before the timeout".into(),
            Cause::Overload => match refined {
                Some(words) => format!("overloaded: answered in {total}, {words}"),
                None => format!("overloaded: HTTP {status}"),
            },
            Cause::Http5xx => format!("server error: HTTP {status}"),
            Cause::Http4xx => format!("client error: HTTP {status}"),
            Cause::Content => match (detail, refined) {
                (Some(Detail::Status), _) => format!("unexpected HTTP {status}"),
                (_, Some(words)) => words.into(),
                (_, None) => "unexpected answer".into(),
            },
        }
    }

    /// Whether some regions failing with this cause while others pass points at their
    /// network or a CDN rather than at the service.
    pub fn points_at_network(self) -> bool {
        match self {
            Cause::Connect | Cause::Timeout => true,
            Cause::Dns
            | Cause::TlsCertificate
            | Cause::TlsHandshake
            | Cause::Http5xx
            | Cause::Http4xx
            | Cause::Overload
            | Cause::Content => false,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Cause {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, UnknownWord> {
        Cause::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownWord {
                what: "cause",
                word: s.to_owned(),
            })
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
    /// by the caller, who keeps the history).
    AboveBaseline,
    /// HTTP: the body lacks the expected text or does not match the regex.
    BodyMismatch,
    /// HTTP: the JSON pointer is missing or holds another value, or the body is not JSON.
    JsonMismatch,
    /// HTTP: the server broke the protocol (malformed response, early close).
    Protocol,
    /// HTTP: more redirects than `max_redirects`, or an unusable `Location`.
    Redirect,
    /// Ping: more echo requests went unanswered than `max_loss` allows (down), or some did
    /// within it (degraded).
    PacketLoss,
    /// Domain: the registration is past its expiry date (RDAP).
    DomainExpired,
    /// Domain: the registration expires within the warning threshold (a `degraded` outcome).
    DomainExpiresSoon,
    /// gRPC health: the service answers, but not `SERVING`.
    NotServing,
}

impl Detail {
    /// Every detail, in declaration order.
    pub const ALL: [Detail; 30] = [
        Detail::Nxdomain,
        Detail::Servfail,
        Detail::DnsRefused,
        Detail::DnsError,
        Detail::NoAnswer,
        Detail::UnexpectedAnswer,
        Detail::UnexpectedRcode,
        Detail::Refused,
        Detail::Unreachable,
        Detail::TimedOut,
        Detail::Reset,
        Detail::Expired,
        Detail::NotYetValid,
        Detail::WrongHost,
        Detail::Untrusted,
        Detail::Revoked,
        Detail::BadCertificate,
        Detail::ExpiresSoon,
        Detail::Handshake,
        Detail::Status,
        Detail::Slow,
        Detail::AboveBaseline,
        Detail::BodyMismatch,
        Detail::JsonMismatch,
        Detail::Protocol,
        Detail::Redirect,
        Detail::PacketLoss,
        Detail::DomainExpired,
        Detail::DomainExpiresSoon,
        Detail::NotServing,
    ];

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
            Detail::PacketLoss => "packet_loss",
            Detail::DomainExpired => "domain_expired",
            Detail::DomainExpiresSoon => "domain_expires_soon",
            Detail::NotServing => "not_serving",
        }
    }

    /// For pages, how this detail refines the words of `cause` ("connection refused" in
    /// "to connect (connection refused)"); `None` when the public learns nothing more from
    /// it than from the cause.
    pub fn public_words(self, cause: Cause) -> Option<&'static str> {
        match self {
            Detail::Nxdomain => Some("the name does not exist"),
            Detail::Servfail => Some("the resolver fails (SERVFAIL)"),
            Detail::NoAnswer => Some("no address for the name"),
            Detail::UnexpectedAnswer | Detail::UnexpectedRcode => Some("unexpected answer"),
            Detail::Refused => Some("connection refused"),
            Detail::Unreachable => Some("network unreachable"),
            // A timed-out lookup or handshake is told by its cause alone.
            Detail::TimedOut => (cause == Cause::Connect).then_some("no answer"),
            Detail::Expired => Some("certificate expired"),
            Detail::NotYetValid => Some("certificate not yet valid"),
            Detail::WrongHost => Some("certificate issued for another name"),
            Detail::Untrusted => Some("certificate not trusted"),
            Detail::Revoked => Some("certificate revoked"),
            Detail::PacketLoss => Some("packets lost"),
            Detail::DomainExpired => Some("the domain registration expired"),
            Detail::NotServing => Some("the service reports it is not serving"),
            Detail::DnsRefused
            | Detail::DnsError
            | Detail::Reset
            | Detail::BadCertificate
            | Detail::ExpiresSoon
            | Detail::DomainExpiresSoon
            | Detail::Handshake
            | Detail::Status
            | Detail::Slow
            | Detail::AboveBaseline
            | Detail::BodyMismatch
            | Detail::JsonMismatch
            | Detail::Protocol
            | Detail::Redirect => None,
        }
    }

    /// For operators, the words of a failure with this detail under `cause` ("connection
    /// refused: nothing listens on that port"); `None` when the cause's own words say it.
    /// Words that quote a fact (a status, a date) are built by
    /// [`Cause::operator_failing_result`].
    pub fn operator_words(self, cause: Cause) -> Option<&'static str> {
        match self {
            Detail::Nxdomain => Some("DNS: the name does not exist (NXDOMAIN)"),
            Detail::Servfail => Some("DNS: the resolver failed (SERVFAIL)"),
            Detail::DnsRefused => Some("DNS: the resolver refused the query"),
            Detail::NoAnswer => Some("DNS: no record of that type"),
            Detail::UnexpectedAnswer => Some("DNS: the expected answer is missing"),
            Detail::UnexpectedRcode => Some("DNS: unexpected response code"),
            Detail::Refused => Some("connection refused: nothing listens on that port"),
            Detail::Unreachable => Some("host unreachable"),
            Detail::TimedOut => match cause {
                Cause::Dns => Some("DNS: no answer from the resolver in time"),
                Cause::Connect => Some("connection timed out: no answer to the TCP handshake"),
                Cause::TlsCertificate
                | Cause::TlsHandshake
                | Cause::Timeout
                | Cause::Http5xx
                | Cause::Http4xx
                | Cause::Overload
                | Cause::Content => None,
            },
            Detail::Expired => Some("TLS certificate expired"),
            Detail::NotYetValid => Some("TLS certificate not yet valid"),
            Detail::WrongHost => Some("TLS certificate is for another host name"),
            Detail::Untrusted => Some("TLS certificate is not from a trusted authority"),
            Detail::Revoked => Some("TLS certificate was revoked"),
            Detail::Slow => Some("far above the limit"),
            Detail::AboveBaseline => Some("latency far above its own baseline"),
            Detail::BodyMismatch => Some("the page does not contain what it should"),
            Detail::JsonMismatch => Some("the JSON answer is not what it should be"),
            Detail::Redirect => Some("redirect not followed"),
            Detail::PacketLoss => Some("ping: echo requests lost"),
            Detail::DomainExpired => Some("domain registration expired"),
            Detail::NotServing => Some("gRPC health: not serving"),
            Detail::DnsError
            | Detail::Reset
            | Detail::BadCertificate
            | Detail::ExpiresSoon
            | Detail::DomainExpiresSoon
            | Detail::Handshake
            | Detail::Status
            | Detail::Protocol => None,
        }
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Detail {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, UnknownWord> {
        Detail::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownWord {
                what: "detail",
                word: s.to_owned(),
            })
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
            assert_eq!(cause.as_str().parse::<Cause>(), Ok(cause));
        }
        assert_eq!(Cause::Http5xx.as_str(), "http_5xx");
        assert_eq!(Cause::TlsCertificate.as_str(), "tls_certificate");
        let unknown = "tls_cert".parse::<Cause>().expect_err("not a cause");
        assert_eq!(unknown.to_string(), "`tls_cert` is not a probe cause");
    }

    #[test]
    fn details_serialize_as_their_names() {
        for d in Detail::ALL {
            assert_eq!(
                serde_json::to_string(&d).expect("serialize"),
                format!("\"{d}\"")
            );
            assert_eq!(d.as_str().parse::<Detail>(), Ok(d));
        }
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(o));
        }
    }

    /// Public words quote no fact but the status code and the certificate's age.
    #[test]
    fn public_failing_words_come_from_the_cause_and_detail_only() {
        let facts = Facts {
            http_status: Some(502),
            total: Some("SECRET-TOTAL".into()),
            since_expiry: None,
            until_valid: Some("SECRET-UNTIL".into()),
        };
        for cause in Cause::ALL {
            for detail in Detail::ALL.map(Some).into_iter().chain([None]) {
                let words = cause.public_failing(detail, &facts);
                assert!(!words.contains("SECRET"), "{cause} {detail:?}: {words}");
            }
        }
        assert_eq!(
            Cause::Dns.public_failing(Some(Detail::TimedOut), &facts),
            "DNS resolution"
        );
        assert_eq!(
            Cause::Connect.public_failing(Some(Detail::TimedOut), &facts),
            "to connect (no answer)"
        );
    }
}
