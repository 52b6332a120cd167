//! Getting a TCP connection: resolve the host through the shared resolver (skipped for IP
//! literals and `localhost`), then connect, timing both.

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::endpoint::Endpoint;
use crate::kind::dns::lookup_failure;
use crate::outcome::{Cause, Detail};
use crate::result::human_duration;
use crate::run::{Failure, Run};

/// The endpoint's address: its IP literal, or the first address the shared resolver gives.
pub(crate) async fn resolve(run: &mut Run<'_>, endpoint: &Endpoint) -> Result<IpAddr, Failure> {
    Ok(match endpoint.fixed_ip() {
        Some(ip) => ip,
        None => {
            let t = Instant::now();
            let lookup = timeout_at(
                run.deadline,
                run.prober.resolver().lookup_ip(endpoint.host()),
            )
            .await;
            run.result.timings.add_dns(t.elapsed());
            let host = endpoint.host();
            match lookup {
                Err(_) => {
                    return Err(Failure::new(
                        Cause::Dns,
                        Detail::TimedOut,
                        format!(
                            "no DNS answer for {host} within {}",
                            human_duration(run.timeout)
                        ),
                    ));
                }
                Ok(Err(e)) => return Err(lookup_failure(&e, host)),
                Ok(Ok(ips)) => ips.iter().next().ok_or_else(|| {
                    Failure::new(
                        Cause::Dns,
                        Detail::NoAnswer,
                        format!("{host} has no address"),
                    )
                })?,
            }
        }
    })
}

pub(crate) async fn open(run: &mut Run<'_>, endpoint: &Endpoint) -> Result<TcpStream, Failure> {
    let ip = resolve(run, endpoint).await?;
    let addr = SocketAddr::new(ip, endpoint.port());
    run.result.address = Some(addr);
    let t = Instant::now();
    let connected = timeout_at(run.deadline, TcpStream::connect(addr)).await;
    run.result.timings.add_connect(t.elapsed());
    match connected {
        Err(_) => Err(Failure::new(
            Cause::Connect,
            Detail::TimedOut,
            format!(
                "no TCP answer from {addr} within {}",
                human_duration(run.timeout)
            ),
        )),
        Ok(Err(e)) => Err(connect_failure(&e, addr)),
        Ok(Ok(stream)) => {
            // Requests are one small write; Nagle would only add latency to the measurement.
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
    }
}

fn connect_failure(e: &io::Error, addr: SocketAddr) -> Failure {
    let detail = match e.kind() {
        io::ErrorKind::ConnectionRefused => Detail::Refused,
        io::ErrorKind::TimedOut => Detail::TimedOut,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Detail::Reset,
        _ => Detail::Unreachable,
    };
    Failure::new(Cause::Connect, detail, format!("{addr}: {e}"))
}
