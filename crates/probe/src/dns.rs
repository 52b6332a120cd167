//! DNS probes, and the reading of resolver errors into causes (shared with the lookups that
//! http, tls and tcp probes make).

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use tokio::time::{Instant, timeout_at};

use crate::endpoint::parse_port;
use crate::outcome::{Cause, Detail};
use crate::result::{DnsAnswer, human_duration};
use crate::run::{Failure, Pass, Run};
use crate::spec::DnsCheck;

pub(crate) async fn run(run: &mut Run<'_>, check: &DnsCheck) -> Result<Pass, Failure> {
    let resolver = match check.resolver {
        Some(addr) => run
            .prober
            .resolver_at(addr)
            .map_err(|e| Failure::new(Cause::Dns, Detail::DnsError, e.to_string()))?,
        None => run.prober.resolver().clone(),
    };
    let name = &check.name;
    let t = Instant::now();
    let lookup = timeout_at(
        run.deadline,
        resolver.lookup(name.clone(), check.record_type),
    )
    .await;
    run.result.timings.add_dns(t.elapsed());
    let (rcode, answers) = match lookup {
        Err(_) => {
            return Err(Failure::new(
                Cause::Dns,
                Detail::TimedOut,
                format!(
                    "no DNS answer for {name} within {}",
                    human_duration(run.timeout)
                ),
            ));
        }
        Ok(Ok(lookup)) => (
            ResponseCode::NoError,
            lookup
                .answers()
                .iter()
                .filter(|r| r.record_type() == check.record_type)
                .map(|r| normalize_answer(&r.data.to_string()))
                .collect::<Vec<_>>(),
        ),
        Ok(Err(e)) => match response_code(&e) {
            Some(rc) => (rc, Vec::new()),
            None => return Err(lookup_failure(&e, &name.to_string())),
        },
    };
    run.result.dns = Some(DnsAnswer {
        rcode: rcode_name(rcode),
        answers,
    });
    let answers = run.result.dns.as_ref().map_or(&[][..], |d| &d.answers[..]);
    if let Some(want) = check.expect_rcode {
        if rcode != want {
            return Err(Failure::new(
                Cause::Dns,
                Detail::UnexpectedRcode,
                format!(
                    "{name}: {}, expected {}",
                    rcode_name(rcode),
                    rcode_name(want)
                ),
            ));
        }
        if want != ResponseCode::NoError {
            return Ok(Pass::Up);
        }
    } else if rcode != ResponseCode::NoError {
        return Err(rcode_failure(rcode, &name.to_string()));
    }
    if answers.is_empty() {
        return Err(Failure::new(
            Cause::Dns,
            Detail::NoAnswer,
            format!("{name} has no {} record", check.record_type),
        ));
    }
    if let Some(missing) = check.expect_answers.iter().find(|a| !answers.contains(a)) {
        return Err(Failure::new(
            Cause::Dns,
            Detail::UnexpectedAnswer,
            format!(
                "{name} {}: {missing} not among {}",
                check.record_type,
                answers.join(", ")
            ),
        ));
    }
    Ok(Pass::Up)
}

/// The response code an error carries, if the server did answer.
fn response_code(e: &NetError) -> Option<ResponseCode> {
    match e {
        NetError::Dns(DnsError::ResponseCode(rc)) => Some(*rc),
        NetError::Dns(DnsError::NoRecordsFound(no)) => Some(no.response_code),
        _ => None,
    }
}

/// A failed lookup as a probe failure, cause `dns`.
pub(crate) fn lookup_failure(e: &NetError, host: &str) -> Failure {
    match (e, response_code(e)) {
        (_, Some(ResponseCode::NoError)) => Failure::new(
            Cause::Dns,
            Detail::NoAnswer,
            format!("{host} has no address record"),
        ),
        (_, Some(rc)) => rcode_failure(rc, host),
        (NetError::Timeout, None) => Failure::new(
            Cause::Dns,
            Detail::TimedOut,
            format!("{host}: resolver timed out"),
        ),
        (_, None) => Failure::new(Cause::Dns, Detail::DnsError, format!("{host}: {e}")),
    }
}

fn rcode_failure(rc: ResponseCode, host: &str) -> Failure {
    let detail = match rc {
        ResponseCode::NXDomain => Detail::Nxdomain,
        ResponseCode::ServFail => Detail::Servfail,
        ResponseCode::Refused => Detail::DnsRefused,
        _ => Detail::DnsError,
    };
    Failure::new(Cause::Dns, detail, format!("{host}: {}", rcode_name(rc)))
}

const RCODES: [(ResponseCode, &str); 6] = [
    (ResponseCode::NoError, "NOERROR"),
    (ResponseCode::FormErr, "FORMERR"),
    (ResponseCode::ServFail, "SERVFAIL"),
    (ResponseCode::NXDomain, "NXDOMAIN"),
    (ResponseCode::NotImp, "NOTIMP"),
    (ResponseCode::Refused, "REFUSED"),
];

/// The mnemonic dig prints: NOERROR, NXDOMAIN, SERVFAIL...
pub(crate) fn rcode_name(rc: ResponseCode) -> String {
    RCODES.iter().find(|(c, _)| *c == rc).map_or_else(
        || format!("RCODE{}", u16::from(rc)),
        |(_, n)| (*n).to_string(),
    )
}

pub(crate) fn parse_rcode(s: &str) -> Option<ResponseCode> {
    let s = s.trim();
    RCODES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(s))
        .map(|(c, _)| *c)
}

/// Answers compare without case, surrounding quotes (TXT) or the root's trailing dot, and
/// addresses in canonical form (`2001:db8::1` however it was written).
pub(crate) fn normalize_answer(a: &str) -> String {
    let a = a.trim().trim_matches('"');
    if let Ok(ip) = a.parse::<IpAddr>() {
        return ip.to_string();
    }
    a.strip_suffix('.').unwrap_or(a).to_ascii_lowercase()
}

/// `address[:port]` of a resolver: `192.0.2.53`, `192.0.2.53:5353`, `[2001:db8::53]:53`.
pub(crate) fn parse_resolver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return if addr.port() == 0 {
            Err(format!("`{s}`: port 0"))
        } else {
            Ok(addr)
        };
    }
    if let Ok(ip) = s
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, 53));
    }
    match s.rsplit_once(':') {
        Some((ip, port)) => {
            let port = parse_port(port)?;
            let ip: IpAddr = ip.parse().map_err(|_| {
                format!("`{ip}` is not an IP address (a resolver is given by address)")
            })?;
            Ok(SocketAddr::new(ip, port))
        }
        None => Err(format!(
            "`{s}` is not an IP address (a resolver is given by address)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rcodes_round_trip() {
        for (rc, name) in RCODES {
            assert_eq!(rcode_name(rc), name);
            assert_eq!(parse_rcode(&name.to_lowercase()), Some(rc));
        }
        assert_eq!(parse_rcode("nope"), None);
    }

    #[test]
    fn resolvers() {
        assert_eq!(
            parse_resolver("127.0.0.1:5353"),
            Ok("127.0.0.1:5353".parse().expect("addr"))
        );
        assert_eq!(
            parse_resolver("127.0.0.1"),
            Ok("127.0.0.1:53".parse().expect("addr"))
        );
        assert_eq!(parse_resolver("::1"), Ok("[::1]:53".parse().expect("addr")));
        assert!(parse_resolver("dns.example:53").is_err());
        assert!(parse_resolver("127.0.0.1:0").is_err());
    }

    #[test]
    fn answers_normalize() {
        assert_eq!(normalize_answer("Mail.Example.com."), "mail.example.com");
        assert_eq!(normalize_answer("\"v=spf1 -all\""), "v=spf1 -all");
        assert_eq!(normalize_answer("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
    }
}
