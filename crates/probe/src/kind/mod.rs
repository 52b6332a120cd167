//! The probe kinds. Each kind's module holds all of it: its keys in a [`ProbeDef`], its
//! validated check and how it is parsed, how it runs, and its words. This module only lists
//! the kinds and delegates to them (see "Adding a probe kind" in the crate doc).

pub mod dns;
pub mod domain;
pub mod flow;
pub mod grpc;
pub mod http;
pub mod ping;
pub mod tcp;
pub mod tls;
pub mod websocket;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::endpoint::Endpoint;
use crate::result::ProbeResult;
use crate::run::{Failure, Pass, Run};
use crate::spec::SpecError;

pub use dns::{DnsCheck, DnsDef};
pub use domain::{DomainCheck, DomainDef};
pub use flow::{FlowCheck, FlowDef, StepDef};
pub use grpc::{GrpcCheck, GrpcDef};
pub use http::{HttpCheck, HttpDef};
pub use ping::{PingCheck, PingDef};
pub use tcp::TcpCheck;
pub use tls::{TlsCheck, TlsDef, TlsOptions};
pub use websocket::{WebSocketCheck, WebSocketDef};

/// The probe kinds.
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
    /// Send ICMP echo requests and check loss and round trips.
    Ping,
    /// Look up a domain's registration expiry over RDAP.
    Domain,
    /// Upgrade to a WebSocket, optionally send a message and check the reply.
    WebSocket,
    /// Call the gRPC health service and expect `SERVING`.
    Grpc,
    /// Run HTTP steps in order, passing captured values on.
    Flow,
}

impl ProbeKind {
    /// Every kind, in declaration order.
    pub const ALL: [ProbeKind; 9] = [
        ProbeKind::Dns,
        ProbeKind::Tcp,
        ProbeKind::Tls,
        ProbeKind::Http,
        ProbeKind::Ping,
        ProbeKind::Domain,
        ProbeKind::WebSocket,
        ProbeKind::Grpc,
        ProbeKind::Flow,
    ];

    /// The lowercase word used in configs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Dns => "dns",
            ProbeKind::Tcp => "tcp",
            ProbeKind::Tls => "tls",
            ProbeKind::Http => "http",
            ProbeKind::Ping => "ping",
            ProbeKind::Domain => "domain",
            ProbeKind::WebSocket => "websocket",
            ProbeKind::Grpc => "grpc",
            ProbeKind::Flow => "flow",
        }
    }

    /// What a passing result of this kind found, after "up": ": HTTP 200", ": port open".
    pub(crate) fn up_words(self, result: &ProbeResult) -> String {
        match self {
            ProbeKind::Dns => dns::up_words(result),
            ProbeKind::Tcp => tcp::up_words(result),
            ProbeKind::Tls => tls::up_words(result),
            ProbeKind::Http => http::up_words(result),
            ProbeKind::Ping => ping::up_words(result),
            ProbeKind::Domain => domain::up_words(result),
            ProbeKind::WebSocket => websocket::up_words(result),
            ProbeKind::Grpc => grpc::up_words(result),
            ProbeKind::Flow => flow::up_words(result),
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
            "https" => Ok(ProbeKind::Http),
            word => ProbeKind::ALL
                .into_iter()
                .find(|k| k.as_str() == word)
                .ok_or_else(|| {
                    let all: Vec<&str> = ProbeKind::ALL.iter().map(|k| k.as_str()).collect();
                    SpecError::invalid("kind", format!("`{s}` is not one of {}", all.join(", ")))
                }),
        }
    }
}

/// A probe definition in plain values, as written in a config file or sent to an agent: the
/// keys every kind has, then each kind's own keys (flat in TOML and JSON). Every key but
/// `kind` and `target` is optional, and a key of another kind is refused;
/// [`crate::ProbeSpec::parse`] validates the lot.
///
/// Targets: `http` takes a URL (`http://host[:port]/path`, `https://...`); `tls` takes
/// `host:port`, `host` (port 443) or `https://host[:port]`; `tcp` takes `host:port`; `dns`
/// takes a name; `ping` takes a host name or IP address; `domain` a registered domain
/// name; `websocket` a `ws://` or `wss://` URL; `grpc` `http://host:port` (h2c) or
/// `https://host:port`; `flow` the base URL its steps' paths join. IP literals and `localhost` (127.0.0.1) are used without DNS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeDef {
    /// dns, tcp, tls, http, ping, domain, websocket, grpc or flow.
    pub kind: ProbeKind,
    /// What to probe (see the type's docs for the forms per kind).
    pub target: String,
    /// Whole-probe timeout in milliseconds (default 10 000, at most 120 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// See [`HttpDef`].
    #[serde(flatten)]
    pub http: HttpDef,
    /// See [`TlsDef`] (tls and https).
    #[serde(flatten)]
    pub tls: TlsDef,
    /// See [`DnsDef`].
    #[serde(flatten)]
    pub dns: DnsDef,
    /// See [`PingDef`].
    #[serde(flatten)]
    pub ping: PingDef,
    /// See [`DomainDef`].
    #[serde(flatten)]
    pub domain: DomainDef,
    /// See [`WebSocketDef`].
    #[serde(flatten)]
    pub websocket: WebSocketDef,
    /// See [`GrpcDef`].
    #[serde(flatten)]
    pub grpc: GrpcDef,
    /// See [`FlowDef`].
    #[serde(flatten)]
    pub flow: FlowDef,
}

impl ProbeDef {
    /// A definition with every option at its default.
    pub fn new(kind: ProbeKind, target: impl Into<String>) -> Self {
        ProbeDef {
            kind,
            target: target.into(),
            timeout_ms: None,
            http: HttpDef::default(),
            tls: TlsDef::default(),
            dns: DnsDef::default(),
            ping: PingDef::default(),
            domain: DomainDef::default(),
            websocket: WebSocketDef::default(),
            grpc: GrpcDef::default(),
            flow: FlowDef::default(),
        }
    }

    /// Refuses the first key given that does not apply to this kind.
    fn only_own_keys(&self) -> Result<(), SpecError> {
        fn check<K: Keys>(keys: &K, kind: ProbeKind) -> Result<(), SpecError> {
            match keys.first_given() {
                Some(field) if !K::KINDS.contains(&kind) => {
                    Err(SpecError::NotApplicable { field, kind })
                }
                _ => Ok(()),
            }
        }
        check(&self.http, self.kind)?;
        check(&self.tls, self.kind)?;
        check(&self.dns, self.kind)?;
        check(&self.ping, self.kind)?;
        check(&self.domain, self.kind)?;
        check(&self.websocket, self.kind)?;
        check(&self.grpc, self.kind)?;
        check(&self.flow, self.kind)
    }
}

/// A group of kind-specific keys in a [`ProbeDef`].
pub(crate) trait Keys {
    /// The kinds these keys apply to.
    const KINDS: &'static [ProbeKind];
    /// The first key given, in declaration order.
    fn first_given(&self) -> Option<&'static str>;
}

/// The kind-specific part of a [`crate::ProbeSpec`].
#[derive(Clone, Debug)]
pub enum Check {
    /// See [`HttpCheck`].
    Http(Box<HttpCheck>),
    /// See [`TlsCheck`].
    Tls(TlsCheck),
    /// See [`TcpCheck`].
    Tcp(TcpCheck),
    /// See [`DnsCheck`].
    Dns(DnsCheck),
    /// See [`PingCheck`].
    Ping(PingCheck),
    /// See [`DomainCheck`].
    Domain(DomainCheck),
    /// See [`WebSocketCheck`].
    WebSocket(WebSocketCheck),
    /// See [`GrpcCheck`].
    Grpc(GrpcCheck),
    /// See [`FlowCheck`].
    Flow(Box<FlowCheck>),
}

impl Check {
    /// Validates the kind's keys of `def` (after refusing other kinds' keys).
    pub(crate) fn parse(def: &ProbeDef) -> Result<Check, SpecError> {
        def.only_own_keys()?;
        Ok(match def.kind {
            ProbeKind::Http => Check::Http(Box::new(http::parse(def)?)),
            ProbeKind::Tls => Check::Tls(tls::parse(def)?),
            ProbeKind::Tcp => Check::Tcp(tcp::parse(def)?),
            ProbeKind::Dns => Check::Dns(dns::parse(def)?),
            ProbeKind::Ping => Check::Ping(ping::parse(def)?),
            ProbeKind::Domain => Check::Domain(domain::parse(def)?),
            ProbeKind::WebSocket => Check::WebSocket(websocket::parse(def)?),
            ProbeKind::Grpc => Check::Grpc(grpc::parse(def)?),
            ProbeKind::Flow => Check::Flow(Box::new(flow::parse(def)?)),
        })
    }

    /// Runs the check, phase by phase, within the run's deadline.
    pub(crate) async fn run(&self, run: &mut Run<'_>) -> Result<Pass, Failure> {
        match self {
            Check::Http(check) => http::run(run, check).await,
            Check::Tls(check) => tls::run(run, check).await,
            Check::Tcp(check) => tcp::run(run, check).await,
            Check::Dns(check) => dns::run(run, check).await,
            Check::Ping(check) => ping::run(run, check).await,
            Check::Domain(check) => domain::run(run, check).await,
            Check::WebSocket(check) => websocket::run(run, check).await,
            Check::Grpc(check) => grpc::run(run, check).await,
            Check::Flow(check) => flow::run(run, check).await,
        }
    }

    /// The host and port connected to (none for DNS and ping probes: no port).
    pub fn endpoint(&self) -> Option<&Endpoint> {
        match self {
            Check::Http(check) => Some(check.endpoint()),
            Check::Tls(check) => Some(check.endpoint()),
            Check::Tcp(check) => Some(check.endpoint()),
            Check::Domain(check) => Some(check.endpoint()),
            Check::WebSocket(check) => Some(check.endpoint()),
            Check::Grpc(check) => Some(check.endpoint()),
            Check::Flow(check) => Some(check.endpoint()),
            Check::Dns(_) | Check::Ping(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds' keys are flat in TOML and JSON, and a key no kind has is refused.
    #[test]
    fn keys_are_flat_and_unknown_ones_refused() {
        let json =
            r#"{"kind":"http","target":"http://x/","timeout_ms":5,"method":"HEAD","ca_pem":"x"}"#;
        let def: ProbeDef = serde_json::from_str(json).expect("flat keys");
        assert_eq!(def.http.method.as_deref(), Some("HEAD"));
        assert_eq!(def.tls.ca_pem.as_deref(), Some("x"));
        assert_eq!(serde_json::to_string(&def).expect("serialize"), json);
        let err =
            serde_json::from_str::<ProbeDef>(r#"{"kind":"tcp","target":"h:1","colour":"red"}"#)
                .expect_err("unknown key");
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
