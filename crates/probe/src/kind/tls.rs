//! `tls` probes: connect, complete a TLS handshake and judge the certificate, which is kept
//! for diagnosis whether or not it was accepted. The handshake and the certificate's keys
//! ([`TlsDef`]) serve `https` probes too.

use std::io;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::certificate::{Seen, cert_info, classify};
use crate::connect;
use crate::endpoint::Endpoint;
use crate::kind::{Keys, ProbeDef, ProbeKind};
use crate::outcome::{Cause, Detail};
use crate::result::{ProbeResult, human_duration};
use crate::run::{Failure, Pass, Run};
use crate::spec::SpecError;

/// Default warning threshold for certificate expiry, in days.
pub const DEFAULT_EXPIRY_WARN_DAYS: u32 = 14;

/// The certificate keys of a [`ProbeDef`], for `tls` and `https` probes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TlsDef {
    /// Extra trusted CA certificates in PEM, on top of the public (webpki) roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// A certificate expiring within this many days is `degraded` (default 14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_warn_days: Option<u32>,
}

impl Keys for TlsDef {
    const KINDS: &'static [ProbeKind] = &[ProbeKind::Tls, ProbeKind::Http];
    fn first_given(&self) -> Option<&'static str> {
        [
            ("ca_pem", self.ca_pem.is_some()),
            ("expiry_warn_days", self.expiry_warn_days.is_some()),
        ]
        .into_iter()
        .find_map(|(key, given)| given.then_some(key))
    }
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

/// A TLS check.
#[derive(Clone, Debug)]
pub struct TlsCheck {
    pub(crate) endpoint: Endpoint,
    pub(crate) tls: TlsOptions,
}

impl TlsCheck {
    /// The host and port connected to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// The target is `host:port`, `host` (port 443) or `https://host[:port]`.
pub(crate) fn parse(def: &ProbeDef) -> Result<TlsCheck, SpecError> {
    let target = def.target.trim();
    let endpoint = match target.strip_prefix("https://") {
        Some(rest) => Endpoint::parse_host_port(rest.trim_end_matches('/'), Some(443)),
        None => Endpoint::parse_host_port(target, Some(443)),
    }
    .map_err(|e| SpecError::invalid("target", e))?;
    Ok(TlsCheck {
        endpoint,
        tls: parse_options(&def.tls)?,
    })
}

pub(crate) fn parse_options(def: &TlsDef) -> Result<TlsOptions, SpecError> {
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

pub(crate) async fn run(run: &mut Run<'_>, check: &TlsCheck) -> Result<Pass, Failure> {
    let tcp = connect::open(run, &check.endpoint).await?;
    let _stream = handshake(run, tcp, &check.endpoint, &check.tls, NO_ALPN).await?;
    Ok(expiry_verdict(run, &check.tls))
}

pub(crate) fn up_words(_: &ProbeResult) -> String {
    ": certificate valid".into()
}

/// No protocol offered in ALPN (a bare TLS check).
pub(crate) const NO_ALPN: &[&[u8]] = &[];
/// HTTP/1.1 offered in ALPN: http, websocket and RDAP probes speak nothing else.
pub(crate) const ALPN_HTTP1: &[&[u8]] = &[b"http/1.1"];
/// HTTP/2 offered in ALPN (gRPC).
pub(crate) const ALPN_H2: &[&[u8]] = &[b"h2"];

pub(crate) async fn handshake(
    run: &mut Run<'_>,
    tcp: TcpStream,
    endpoint: &Endpoint,
    opts: &TlsOptions,
    alpn: &[&[u8]],
) -> Result<TlsStream<TcpStream>, Failure> {
    let base = run
        .prober
        .tls_base(opts)
        .map_err(|e| Failure::new(Cause::TlsHandshake, Detail::Handshake, e.to_string()))?;
    let (config, recorder) = base.for_connection(alpn);
    let t = Instant::now();
    let done = timeout_at(
        run.deadline,
        TlsConnector::from(config).connect(endpoint.server_name().clone(), tcp),
    )
    .await;
    run.result.timings.add_tls(t.elapsed());
    let seen = recorder.take();
    if let Some(seen) = &seen {
        run.result.certificate = cert_info(&seen.leaf, run.now);
    }
    match done {
        Ok(Ok(stream)) => Ok(stream),
        Err(_) => Err(Failure::new(
            Cause::TlsHandshake,
            Detail::TimedOut,
            format!(
                "TLS handshake with {endpoint} not done within {}",
                human_duration(run.timeout)
            ),
        )),
        Ok(Err(e)) => Err(match seen {
            Some(Seen {
                verdict: Err(rejected),
                ..
            }) => {
                let detail = classify(&rejected, run.result.certificate.as_ref(), run.now);
                Failure::new(
                    Cause::TlsCertificate,
                    detail,
                    format!("{endpoint}: {rejected}"),
                )
            }
            _ => handshake_failure(&e, endpoint),
        }),
    }
}

fn handshake_failure(e: &io::Error, endpoint: &Endpoint) -> Failure {
    let detail = match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::BrokenPipe => Detail::Reset,
        _ => Detail::Handshake,
    };
    Failure::new(Cause::TlsHandshake, detail, format!("{endpoint}: {e}"))
}

/// `degraded` when the accepted certificate expires within the warning threshold.
pub(crate) fn expiry_verdict(run: &Run<'_>, opts: &TlsOptions) -> Pass {
    match &run.result.certificate {
        Some(c) if c.days_until_expiry < i64::from(opts.expiry_warn_days) => Pass::Degraded(
            Detail::ExpiresSoon,
            Some(format!(
                "certificate expires in {} days (warning at {} days)",
                c.days_until_expiry, opts.expiry_warn_days
            )),
        ),
        _ => Pass::Up,
    }
}

#[cfg(test)]
mod tests {
    use crate::ProbeSpec;

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
                .map(crate::Endpoint::port),
            Some(443)
        );
    }
}
