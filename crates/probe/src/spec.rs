//! What to probe: [`ProbeDef`] is the plain, serde-friendly form a config file or an agent
//! assignment carries; [`ProbeSpec`] is the validated form a probe runs from. The keys and
//! checks of each kind live in [`crate::kind`].

use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::endpoint::Endpoint;
pub use crate::kind::http::MAX_REDIRECTS;
pub use crate::kind::tls::DEFAULT_EXPIRY_WARN_DAYS;
pub use crate::kind::{Check, ProbeDef, ProbeKind};

/// Default probe timeout when the definition gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest timeout accepted: a probe holding a socket for minutes is a bug, not a check.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);

/// A probe definition that failed validation; always names the offending field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The field's value is not acceptable.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// The field, as named in [`ProbeDef`]; a nested one with its path
        /// (`step[1].url`).
        field: Cow<'static, str>,
        /// Why, in words.
        reason: String,
    },
    /// The field was given but means nothing for this kind of probe.
    #[error("`{field}` does not apply to {kind} probes")]
    NotApplicable {
        /// The field, as named in [`ProbeDef`].
        field: &'static str,
        /// The probe's kind.
        kind: ProbeKind,
    },
}

impl SpecError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        SpecError::Invalid {
            field: Cow::Borrowed(field),
            reason: reason.into(),
        }
    }

    /// An error in a nested field, named by its path (`step[1].url`).
    pub(crate) fn invalid_at(path: String, reason: impl Into<String>) -> Self {
        SpecError::Invalid {
            field: Cow::Owned(path),
            reason: reason.into(),
        }
    }

    /// The field at fault, as named in [`ProbeDef`] (with its path when nested).
    pub fn field(&self) -> &str {
        match self {
            SpecError::Invalid { field, .. } => field,
            SpecError::NotApplicable { field, .. } => field,
        }
    }
}

/// A validated probe: built only through [`ProbeSpec::parse`] (or serde, which calls it), so
/// running it never meets a malformed target or option.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "ProbeDef", into = "ProbeDef")]
pub struct ProbeSpec {
    def: ProbeDef,
    timeout: Duration,
    check: Check,
}

impl TryFrom<ProbeDef> for ProbeSpec {
    type Error = SpecError;
    fn try_from(def: ProbeDef) -> Result<Self, SpecError> {
        ProbeSpec::parse(def)
    }
}

impl From<ProbeSpec> for ProbeDef {
    fn from(spec: ProbeSpec) -> ProbeDef {
        spec.def
    }
}

impl ProbeSpec {
    /// Validates a definition. Errors name the first field at fault.
    pub fn parse(def: ProbeDef) -> Result<Self, SpecError> {
        let timeout = match def.timeout_ms {
            None => DEFAULT_TIMEOUT,
            Some(0) => return Err(SpecError::invalid("timeout_ms", "must be more than 0")),
            Some(ms) if Duration::from_millis(ms) > MAX_TIMEOUT => {
                return Err(SpecError::invalid(
                    "timeout_ms",
                    format!("at most {} ms", MAX_TIMEOUT.as_millis()),
                ));
            }
            Some(ms) => Duration::from_millis(ms),
        };
        let check = Check::parse(&def)?;
        Ok(ProbeSpec {
            def,
            timeout,
            check,
        })
    }

    /// An http(s) probe of `url` with default options.
    pub fn http(url: &str) -> Result<Self, SpecError> {
        ProbeSpec::parse(ProbeDef::new(ProbeKind::Http, url))
    }

    /// A TLS probe of `host:port` (or `https://host:port`) with default options.
    pub fn tls(target: &str) -> Result<Self, SpecError> {
        ProbeSpec::parse(ProbeDef::new(ProbeKind::Tls, target))
    }

    /// A TCP connect probe of `host:port`.
    pub fn tcp(target: &str) -> Result<Self, SpecError> {
        ProbeSpec::parse(ProbeDef::new(ProbeKind::Tcp, target))
    }

    /// A DNS probe of the A record of `name` through the prober's resolver.
    pub fn dns(name: &str) -> Result<Self, SpecError> {
        ProbeSpec::parse(ProbeDef::new(ProbeKind::Dns, name))
    }

    /// The probe's kind.
    pub fn kind(&self) -> ProbeKind {
        self.def.kind
    }

    /// The target as written.
    pub fn target(&self) -> &str {
        &self.def.target
    }

    /// The whole-probe timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The definition this spec was parsed from.
    pub fn def(&self) -> &ProbeDef {
        &self.def
    }

    /// The kind-specific check.
    pub fn check(&self) -> &Check {
        &self.check
    }

    /// The host and port connected to (none for DNS probes).
    pub fn endpoint(&self) -> Option<&Endpoint> {
        self.check.endpoint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(kind: ProbeKind, target: &str) -> ProbeDef {
        ProbeDef::new(kind, target)
    }

    fn edit(mut d: ProbeDef, f: impl FnOnce(&mut ProbeDef)) -> ProbeDef {
        f(&mut d);
        d
    }

    #[test]
    fn errors_name_the_field() {
        let table: Vec<(ProbeDef, &str)> = vec![
            (def(ProbeKind::Http, "ftp://x/"), "target"),
            (def(ProbeKind::Http, "example.com"), "target"),
            (def(ProbeKind::Http, "http://u:p@x/"), "target"),
            (
                edit(def(ProbeKind::Http, "http://x/"), |d| {
                    d.http.method = Some("GE T".into())
                }),
                "method",
            ),
            (
                edit(def(ProbeKind::Http, "http://x/"), |d| {
                    d.http.expect_status = Some("2x".into())
                }),
                "expect_status",
            ),
            (
                edit(def(ProbeKind::Http, "http://x/"), |d| {
                    d.http.body_regex = Some("(".into())
                }),
                "body_regex",
            ),
            (
                edit(def(ProbeKind::Http, "http://x/"), |d| {
                    d.http.json_pointer = Some("a".into())
                }),
                "json_pointer",
            ),
            (
                edit(def(ProbeKind::Http, "http://x/"), |d| {
                    d.http.json_equals = Some(1.into())
                }),
                "json_equals",
            ),
            (
                edit(def(ProbeKind::Http, "http://x/"), |d| {
                    d.http.max_redirects = Some(11)
                }),
                "max_redirects",
            ),
            (
                edit(def(ProbeKind::Http, "http://x/"), |d| {
                    d.timeout_ms = Some(0)
                }),
                "timeout_ms",
            ),
            (
                edit(def(ProbeKind::Tcp, "x:1"), |d| d.timeout_ms = Some(600_000)),
                "timeout_ms",
            ),
            (
                edit(def(ProbeKind::Tls, "x:443"), |d| {
                    d.tls.ca_pem = Some("nope".into())
                }),
                "ca_pem",
            ),
            (
                edit(def(ProbeKind::Tcp, "x:443"), |d| {
                    d.tls.ca_pem = Some("nope".into())
                }),
                "ca_pem",
            ),
            (
                edit(def(ProbeKind::Http, "http://x/"), |d| {
                    d.dns.record_type = Some("A".into())
                }),
                "record_type",
            ),
            (
                edit(def(ProbeKind::Tls, "x:443"), |d| {
                    d.http.method = Some("GET".into())
                }),
                "method",
            ),
            (
                edit(def(ProbeKind::Dns, "example.com"), |d| {
                    d.dns.record_type = Some("BOGUS".into())
                }),
                "record_type",
            ),
            (
                edit(def(ProbeKind::Dns, "example.com"), |d| {
                    d.dns.expect_rcode = Some("MAYBE".into())
                }),
                "expect_rcode",
            ),
            (
                edit(def(ProbeKind::Dns, "example.com"), |d| {
                    d.dns.resolver = Some("nope:x".into())
                }),
                "resolver",
            ),
            (def(ProbeKind::Tcp, "example.com"), "target"),
            (def(ProbeKind::Dns, "http://example.com"), "target"),
            (def(ProbeKind::Tls, "https://"), "target"),
        ];
        for (d, field) in table {
            let target = d.target.clone();
            let err = ProbeSpec::parse(d).expect_err(&target);
            assert_eq!(err.field(), field, "{target}: {err}");
        }
    }

    #[test]
    fn spec_round_trips_through_json() {
        let mut d = def(ProbeKind::Http, "http://127.0.0.1:8080/health");
        d.http.expect_status = Some("200-299".into());
        d.http.json_pointer = Some("/status".into());
        d.http.json_equals = Some("ok".into());
        d.http.headers.insert("x-probe".into(), "1".into());
        let spec = ProbeSpec::parse(d.clone()).expect("valid");
        let json = serde_json::to_string(&spec).expect("serialize");
        let back: ProbeSpec = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back.def(), &d);
        let bad = json.replace("200-299", "299-200");
        let err = serde_json::from_str::<ProbeSpec>(&bad).expect_err("validated on the way in");
        assert!(err.to_string().contains("expect_status"), "{err}");
    }
}
