//! The TLS handshake of `tls` and `https` probes, with the certificate kept for diagnosis
//! whether or not it was accepted.

use std::io;

use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::certificate::{Seen, cert_info, classify};
use crate::endpoint::Endpoint;
use crate::outcome::{Cause, Detail};
use crate::result::human_duration;
use crate::run::{Failure, Pass, Run};
use crate::spec::TlsOptions;

pub(crate) async fn handshake(
    run: &mut Run<'_>,
    tcp: TcpStream,
    endpoint: &Endpoint,
    opts: &TlsOptions,
    alpn_http1: bool,
) -> Result<TlsStream<TcpStream>, Failure> {
    let base = run
        .prober
        .tls_base(opts)
        .map_err(|e| Failure::new(Cause::TlsHandshake, Detail::Handshake, e.to_string()))?;
    let (config, recorder) = base.for_connection(alpn_http1);
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
