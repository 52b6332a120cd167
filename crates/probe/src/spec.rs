//! What to probe: [`ProbeDef`] is the plain, serde-friendly form a config file or an agent
//! assignment carries; [`ProbeSpec`] is the validated form a probe runs from.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RecordType};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Uri};
use regex::Regex;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};

use crate::dns::{parse_rcode, parse_resolver};
use crate::endpoint::Endpoint;
use crate::status_ranges::StatusRanges;

/// Default probe timeout when the definition gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest timeout accepted: a probe holding a socket for minutes is a bug, not a check.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);
/// Default warning threshold for certificate expiry, in days.
pub const DEFAULT_EXPIRY_WARN_DAYS: u32 = 14;
/// Most redirects a probe may follow.
pub const MAX_REDIRECTS: u8 = 10;

/// The four probe kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// Resolve a name and check the answer or response code.
    Dns,
    /// Open a TCP connection.
    Tcp,
    /// Complete a TLS handshake and check the certificate.
    Tls,
    /// Send an HTTP(S) request and check status, latency and body.
    Http,
}

impl ProbeKind {
    /// The lowercase word used in configs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Dns => "dns",
            ProbeKind::Tcp => "tcp",
            ProbeKind::Tls => "tls",
            ProbeKind::Http => "http",
        }
    }
}

impl fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProbeKind {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dns" => Ok(ProbeKind::Dns),
            "tcp" => Ok(ProbeKind::Tcp),
            "tls" => Ok(ProbeKind::Tls),
            "http" | "https" => Ok(ProbeKind::Http),
            _ => Err(SpecError::invalid(
                "kind",
                format!("`{s}` is not one of dns, tcp, tls, http"),
            )),
        }
    }
}

/// A probe definition that failed validation; always names the offending field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The field's value is not acceptable.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// The field, as named in [`ProbeDef`].
        field: &'static str,
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
    fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        SpecError::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// The field at fault, as named in [`ProbeDef`].
    pub fn field(&self) -> &'static str {
        match self {
            SpecError::Invalid { field, .. } | SpecError::NotApplicable { field, .. } => field,
        }
    }
}

/// A probe definition in plain values, as written in a config file or sent to an agent.
/// Every field but `kind` and `target` is optional; [`ProbeSpec::parse`] validates the lot.
///
/// Targets: `http` takes a URL (`http://host[:port]/path`, `https://...`); `tls` takes
/// `host:port`, `host` (port 443) or `https://host[:port]`; `tcp` takes `host:port`; `dns`
/// takes a name. IP literals and `localhost` (127.0.0.1) are used without DNS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeDef {
    /// dns, tcp, tls or http.
    pub kind: ProbeKind,
    /// What to probe (see the type's docs for the forms per kind).
    pub target: String,
    /// Whole-probe timeout in milliseconds (default 10 000, at most 120 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,

    /// http: the request method (default GET). No request body is ever sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// http: extra request headers (they replace the probe's own `user-agent`/`connection`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// http: expected statuses, e.g. `200-299,304` or `2xx` (default `200-399`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<String>,
    /// http: slower than this (total time) is `degraded`; more than
    /// [`crate::OVERLOAD_LATENCY_FACTOR`] times this is `down` with cause `overload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<u64>,
    /// http: the body must contain this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// http: the body must match this regex (Rust `regex` syntax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_regex: Option<String>,
    /// http: an RFC 6901 JSON pointer (`/status`) that must exist in the JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_pointer: Option<String>,
    /// http: the value the JSON pointer must hold (needs `json_pointer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_equals: Option<serde_json::Value>,
    /// http: redirects to follow (default 0: a 3xx is the answer), at most 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_redirects: Option<u8>,

    /// tls and https: extra trusted CA certificates in PEM, on top of the public (webpki) roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// tls and https: a certificate expiring within this many days is `degraded` (default 14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_warn_days: Option<u32>,

    /// dns: record type, e.g. A, AAAA, CNAME, MX, TXT, NS (default A).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_type: Option<String>,
    /// dns: answers that must all be present (compared without case or trailing dot; MX as
    /// `10 mail.example.com`, TXT as the text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_answers: Vec<String>,
    /// dns: the response code to expect instead of NOERROR-with-answers, e.g. NXDOMAIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rcode: Option<String>,
    /// dns: the resolver to ask, `address[:port]` (port 53), or `system` / absent for the
    /// prober's own resolver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
}

impl ProbeDef {
    /// A definition with every option at its default.
    pub fn new(kind: ProbeKind, target: impl Into<String>) -> Self {
        ProbeDef {
            kind,
            target: target.into(),
            timeout_ms: None,
            method: None,
            headers: BTreeMap::new(),
            expect_status: None,
            max_latency_ms: None,
            body_contains: None,
            body_regex: None,
            json_pointer: None,
            json_equals: None,
            max_redirects: None,
            ca_pem: None,
            expiry_warn_days: None,
            record_type: None,
            expect_answers: Vec::new(),
            expect_rcode: None,
            resolver: None,
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

/// The kind-specific part of a [`ProbeSpec`].
#[derive(Clone, Debug)]
pub enum Check {
    /// See [`HttpCheck`].
    Http(Box<HttpCheck>),
    /// See [`TlsCheck`].
    Tls(TlsCheck),
    /// A TCP connect to this endpoint.
    Tcp(Endpoint),
    /// See [`DnsCheck`].
    Dns(DnsCheck),
}

/// TLS settings shared by `tls` and `https` probes.
#[derive(Clone, Debug)]
pub struct TlsOptions {
    pub(crate) extra_roots: Option<CaBundle>,
    pub(crate) expiry_warn_days: u32,
}

/// Extra trusted CAs, parsed once; the PEM text keys the prober's cache of TLS configs so
/// probes sharing a CA share one config.
#[derive(Clone, Debug)]
pub(crate) struct CaBundle {
    pub(crate) pem: Arc<str>,
    pub(crate) certs: Arc<[CertificateDer<'static>]>,
}

/// An HTTP(S) check.
#[derive(Clone, Debug)]
pub struct HttpCheck {
    pub(crate) url: HttpUrl,
    pub(crate) method: Method,
    pub(crate) headers: HeaderMap,
    pub(crate) expect_status: StatusRanges,
    pub(crate) max_latency: Option<Duration>,
    pub(crate) body_contains: Option<String>,
    pub(crate) body_regex: Option<Regex>,
    pub(crate) json_pointer: Option<String>,
    pub(crate) json_equals: Option<serde_json::Value>,
    pub(crate) max_redirects: u8,
    pub(crate) tls: TlsOptions,
}

impl HttpCheck {
    /// Whether the body must be read into memory (a check looks at it).
    pub(crate) fn needs_body(&self) -> bool {
        self.body_contains.is_some() || self.body_regex.is_some() || self.json_pointer.is_some()
    }
}

/// A parsed http(s) URL: what to connect to and what to put in the request line.
#[derive(Clone, Debug)]
pub(crate) struct HttpUrl {
    pub(crate) https: bool,
    pub(crate) endpoint: Endpoint,
    /// The `Host` header: the authority as written, without user info.
    pub(crate) host_header: HeaderValue,
    /// Origin-form request target: `/path?query`.
    pub(crate) path: Uri,
}

impl HttpUrl {
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let uri: Uri = s
            .trim()
            .parse()
            .map_err(|e| format!("`{s}` is not a URL: {e}"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => return Err(format!("scheme `{other}` is not http or https")),
            None => {
                return Err(format!(
                    "`{s}` has no scheme (write http://... or https://...)"
                ));
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("`{s}` has no host"))?;
        if authority.as_str().contains('@') {
            return Err("user info in URLs is not supported; use an Authorization header".into());
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let endpoint = Endpoint::new(host, port)?;
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|_| format!("`{authority}` cannot be a Host header"))?;
        let path = match uri.path_and_query() {
            Some(pq) if !pq.as_str().is_empty() => Uri::from_str(pq.as_str()),
            _ => Ok(Uri::from_static("/")),
        }
        .map_err(|e| format!("bad path in `{s}`: {e}"))?;
        Ok(HttpUrl {
            https,
            endpoint,
            host_header,
            path,
        })
    }

    /// Resolves a `Location` header against this URL: absolute URLs, `//host/...`,
    /// `/absolute/path` and `relative` paths.
    pub(crate) fn join(&self, location: &str) -> Result<Self, String> {
        let scheme = if self.https { "https" } else { "http" };
        let host = self.host_header.to_str().unwrap_or_default();
        if location.starts_with("http://") || location.starts_with("https://") {
            HttpUrl::parse(location)
        } else if let Some(rest) = location.strip_prefix("//") {
            HttpUrl::parse(&format!("{scheme}://{rest}"))
        } else if location.starts_with('/') {
            HttpUrl::parse(&format!("{scheme}://{host}{location}"))
        } else {
            let path = self.path.path();
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            HttpUrl::parse(&format!("{scheme}://{host}{dir}{location}"))
        }
    }
}

/// A DNS check.
#[derive(Clone, Debug)]
pub struct DnsCheck {
    pub(crate) name: Name,
    pub(crate) record_type: RecordType,
    /// Normalized: lowercase, no trailing dot.
    pub(crate) expect_answers: Vec<String>,
    pub(crate) expect_rcode: Option<ResponseCode>,
    pub(crate) resolver: Option<std::net::SocketAddr>,
}

/// A TLS check.
#[derive(Clone, Debug)]
pub struct TlsCheck {
    pub(crate) endpoint: Endpoint,
    pub(crate) tls: TlsOptions,
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
        let kind = def.kind;
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
        let http_only: [(&'static str, bool); 9] = [
            ("method", def.method.is_some()),
            ("headers", !def.headers.is_empty()),
            ("expect_status", def.expect_status.is_some()),
            ("max_latency_ms", def.max_latency_ms.is_some()),
            ("body_contains", def.body_contains.is_some()),
            ("body_regex", def.body_regex.is_some()),
            ("json_pointer", def.json_pointer.is_some()),
            ("json_equals", def.json_equals.is_some()),
            ("max_redirects", def.max_redirects.is_some()),
        ];
        let tls_only: [(&'static str, bool); 2] = [
            ("ca_pem", def.ca_pem.is_some()),
            ("expiry_warn_days", def.expiry_warn_days.is_some()),
        ];
        let dns_only: [(&'static str, bool); 4] = [
            ("record_type", def.record_type.is_some()),
            ("expect_answers", !def.expect_answers.is_empty()),
            ("expect_rcode", def.expect_rcode.is_some()),
            ("resolver", def.resolver.is_some()),
        ];
        let not_for_kind =
            |fields: &[(&'static str, bool)]| match fields.iter().find(|(_, given)| *given) {
                Some((field, _)) => Err(SpecError::NotApplicable { field, kind }),
                None => Ok(()),
            };
        let check = match kind {
            ProbeKind::Http => {
                not_for_kind(&dns_only)?;
                Check::Http(Box::new(parse_http(&def)?))
            }
            ProbeKind::Tls => {
                not_for_kind(&http_only)?;
                not_for_kind(&dns_only)?;
                let target = def.target.trim();
                let endpoint = match target.strip_prefix("https://") {
                    Some(rest) => Endpoint::parse_host_port(rest.trim_end_matches('/'), Some(443)),
                    None => Endpoint::parse_host_port(target, Some(443)),
                }
                .map_err(|e| SpecError::invalid("target", e))?;
                Check::Tls(TlsCheck {
                    endpoint,
                    tls: parse_tls_options(&def)?,
                })
            }
            ProbeKind::Tcp => {
                not_for_kind(&http_only)?;
                not_for_kind(&tls_only)?;
                not_for_kind(&dns_only)?;
                let endpoint = Endpoint::parse_host_port(&def.target, None)
                    .map_err(|e| SpecError::invalid("target", e))?;
                Check::Tcp(endpoint)
            }
            ProbeKind::Dns => {
                not_for_kind(&http_only)?;
                not_for_kind(&tls_only)?;
                Check::Dns(parse_dns(&def)?)
            }
        };
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
        match &self.check {
            Check::Http(h) => Some(&h.url.endpoint),
            Check::Tls(t) => Some(&t.endpoint),
            Check::Tcp(e) => Some(e),
            Check::Dns(_) => None,
        }
    }
}

fn parse_http(def: &ProbeDef) -> Result<HttpCheck, SpecError> {
    let url = HttpUrl::parse(&def.target).map_err(|e| SpecError::invalid("target", e))?;
    let method = match &def.method {
        None => Method::GET,
        Some(m) => Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes())
            .map_err(|_| SpecError::invalid("method", format!("`{m}` is not an HTTP method")))?,
    };
    let mut headers = HeaderMap::with_capacity(def.headers.len());
    for (name, value) in &def.headers {
        let n = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| SpecError::invalid("headers", format!("`{name}` is not a header name")))?;
        let v = HeaderValue::from_str(value).map_err(|_| {
            SpecError::invalid(
                "headers",
                format!("the value of `{name}` is not a header value"),
            )
        })?;
        headers.insert(n, v);
    }
    let expect_status = match &def.expect_status {
        None => StatusRanges::default(),
        Some(s) => StatusRanges::parse(s).map_err(|e| SpecError::invalid("expect_status", e))?,
    };
    let max_latency = match def.max_latency_ms {
        Some(0) => return Err(SpecError::invalid("max_latency_ms", "must be more than 0")),
        ms => ms.map(Duration::from_millis),
    };
    let body_contains = match &def.body_contains {
        Some(s) if s.is_empty() => return Err(SpecError::invalid("body_contains", "is empty")),
        other => other.clone(),
    };
    let body_regex = def
        .body_regex
        .as_deref()
        .map(Regex::new)
        .transpose()
        .map_err(|e| SpecError::invalid("body_regex", e.to_string()))?;
    if let Some(p) = &def.json_pointer
        && !(p.is_empty() || p.starts_with('/'))
    {
        return Err(SpecError::invalid(
            "json_pointer",
            "must be empty or start with `/` (RFC 6901)",
        ));
    }
    if def.json_equals.is_some() && def.json_pointer.is_none() {
        return Err(SpecError::invalid("json_equals", "needs `json_pointer`"));
    }
    let max_redirects = def.max_redirects.unwrap_or(0);
    if max_redirects > MAX_REDIRECTS {
        return Err(SpecError::invalid(
            "max_redirects",
            format!("at most {MAX_REDIRECTS}"),
        ));
    }
    let tls = parse_tls_options(def)?;
    if !url.https && tls.extra_roots.is_some() {
        return Err(SpecError::invalid(
            "ca_pem",
            "only applies to https:// targets",
        ));
    }
    Ok(HttpCheck {
        url,
        method,
        headers,
        expect_status,
        max_latency,
        body_contains,
        body_regex,
        json_pointer: def.json_pointer.clone(),
        json_equals: def.json_equals.clone(),
        max_redirects,
        tls,
    })
}

fn parse_tls_options(def: &ProbeDef) -> Result<TlsOptions, SpecError> {
    let extra_roots = match &def.ca_pem {
        None => None,
        Some(pem) => {
            let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| SpecError::invalid("ca_pem", format!("not PEM certificates: {e}")))?;
            if certs.is_empty() {
                return Err(SpecError::invalid("ca_pem", "holds no certificate"));
            }
            Some(CaBundle {
                pem: Arc::from(pem.as_str()),
                certs: certs.into(),
            })
        }
    };
    Ok(TlsOptions {
        extra_roots,
        expiry_warn_days: def.expiry_warn_days.unwrap_or(DEFAULT_EXPIRY_WARN_DAYS),
    })
}

fn parse_dns(def: &ProbeDef) -> Result<DnsCheck, SpecError> {
    let target = def.target.trim();
    if target.is_empty() || target.contains(['/', ':', ' ']) {
        return Err(SpecError::invalid(
            "target",
            format!("`{target}` is not a DNS name"),
        ));
    }
    let name = Name::from_ascii(target)
        .map_err(|e| SpecError::invalid("target", format!("`{target}`: {e}")))?;
    let record_type = match &def.record_type {
        None => RecordType::A,
        Some(t) => RecordType::from_str(&t.trim().to_ascii_uppercase()).map_err(|_| {
            SpecError::invalid("record_type", format!("`{t}` is not a DNS record type"))
        })?,
    };
    let expect_rcode = def
        .expect_rcode
        .as_deref()
        .map(|s| {
            parse_rcode(s).ok_or_else(|| {
                SpecError::invalid("expect_rcode", format!("`{s}` is not a DNS response code"))
            })
        })
        .transpose()?;
    if expect_rcode.is_some_and(|rc| rc != ResponseCode::NoError) && !def.expect_answers.is_empty()
    {
        return Err(SpecError::invalid(
            "expect_answers",
            "cannot expect answers with an error rcode",
        ));
    }
    let resolver = match def.resolver.as_deref().map(str::trim) {
        None | Some("system") => None,
        Some(r) => Some(parse_resolver(r).map_err(|e| SpecError::invalid("resolver", e))?),
    };
    Ok(DnsCheck {
        name,
        record_type,
        expect_answers: def
            .expect_answers
            .iter()
            .map(|a| crate::dns::normalize_answer(a))
            .collect(),
        expect_rcode,
        resolver,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(kind: ProbeKind, target: &str) -> ProbeDef {
        ProbeDef::new(kind, target)
    }

    #[test]
    fn errors_name_the_field() {
        let table: Vec<(ProbeDef, &str)> = vec![
            (def(ProbeKind::Http, "ftp://x/"), "target"),
            (def(ProbeKind::Http, "example.com"), "target"),
            (def(ProbeKind::Http, "http://u:p@x/"), "target"),
            (
                ProbeDef {
                    method: Some("GE T".into()),
                    ..def(ProbeKind::Http, "http://x/")
                },
                "method",
            ),
            (
                ProbeDef {
                    expect_status: Some("2x".into()),
                    ..def(ProbeKind::Http, "http://x/")
                },
                "expect_status",
            ),
            (
                ProbeDef {
                    body_regex: Some("(".into()),
                    ..def(ProbeKind::Http, "http://x/")
                },
                "body_regex",
            ),
            (
                ProbeDef {
                    json_pointer: Some("a".into()),
                    ..def(ProbeKind::Http, "http://x/")
                },
                "json_pointer",
            ),
            (
                ProbeDef {
                    json_equals: Some(1.into()),
                    ..def(ProbeKind::Http, "http://x/")
                },
                "json_equals",
            ),
            (
                ProbeDef {
                    max_redirects: Some(11),
                    ..def(ProbeKind::Http, "http://x/")
                },
                "max_redirects",
            ),
            (
                ProbeDef {
                    timeout_ms: Some(0),
                    ..def(ProbeKind::Http, "http://x/")
                },
                "timeout_ms",
            ),
            (
                ProbeDef {
                    timeout_ms: Some(600_000),
                    ..def(ProbeKind::Tcp, "x:1")
                },
                "timeout_ms",
            ),
            (
                ProbeDef {
                    ca_pem: Some("nope".into()),
                    ..def(ProbeKind::Tls, "x:443")
                },
                "ca_pem",
            ),
            (
                ProbeDef {
                    ca_pem: Some("nope".into()),
                    ..def(ProbeKind::Tcp, "x:443")
                },
                "ca_pem",
            ),
            (
                ProbeDef {
                    record_type: Some("A".into()),
                    ..def(ProbeKind::Http, "http://x/")
                },
                "record_type",
            ),
            (
                ProbeDef {
                    method: Some("GET".into()),
                    ..def(ProbeKind::Tls, "x:443")
                },
                "method",
            ),
            (
                ProbeDef {
                    record_type: Some("BOGUS".into()),
                    ..def(ProbeKind::Dns, "example.com")
                },
                "record_type",
            ),
            (
                ProbeDef {
                    expect_rcode: Some("MAYBE".into()),
                    ..def(ProbeKind::Dns, "example.com")
                },
                "expect_rcode",
            ),
            (
                ProbeDef {
                    resolver: Some("nope:x".into()),
                    ..def(ProbeKind::Dns, "example.com")
                },
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
    fn tls_targets_accept_both_forms() {
        for t in [
            "localhost:8443",
            "https://localhost:8443",
            "https://localhost:8443/",
        ] {
            let spec = ProbeSpec::tls(t).expect(t);
            let e = spec.endpoint().expect("endpoint");
            assert_eq!((e.host(), e.port()), ("localhost", 8443), "{t}");
        }
        assert_eq!(
            ProbeSpec::tls("example.com")
                .expect("bare host")
                .endpoint()
                .map(Endpoint::port),
            Some(443)
        );
    }

    #[test]
    fn http_url_parts() {
        let u = HttpUrl::parse("https://Example.com:8443/a/b?x=1").expect("valid");
        assert!(u.https);
        assert_eq!(u.endpoint.to_string(), "example.com:8443");
        assert_eq!(u.path.to_string(), "/a/b?x=1");
        assert_eq!(u.host_header, "Example.com:8443");
        let u = HttpUrl::parse("http://[::1]/").expect("valid");
        assert_eq!(u.endpoint.port(), 80);
        assert_eq!(u.endpoint.host(), "::1");
        let j = u.join("/next").expect("join");
        assert_eq!(j.path.to_string(), "/next");
        let base = HttpUrl::parse("http://h/a/b").expect("valid");
        assert_eq!(base.join("c?d").expect("join").path.to_string(), "/a/c?d");
        assert!(base.join("https://other:444/").expect("join").https);
    }

    #[test]
    fn spec_round_trips_through_json() {
        let mut d = def(ProbeKind::Http, "http://127.0.0.1:8080/health");
        d.expect_status = Some("200-299".into());
        d.json_pointer = Some("/status".into());
        d.json_equals = Some("ok".into());
        d.headers.insert("x-probe".into(), "1".into());
        let spec = ProbeSpec::parse(d.clone()).expect("valid");
        let json = serde_json::to_string(&spec).expect("serialize");
        let back: ProbeSpec = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back.def(), &d);
        let bad = json.replace("200-299", "299-200");
        let err = serde_json::from_str::<ProbeSpec>(&bad).expect_err("validated on the way in");
        assert!(err.to_string().contains("expect_status"), "{err}");
    }
}
