//! `dns` probes: ask a resolver for a record and check the answer or the response code. Also
//! the reading of resolver errors into causes, shared with the lookups that http, tls and tcp
//! probes make.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RecordType};
use serde::{Deserialize, Serialize};
use tokio::time::{Instant, timeout_at};

use crate::endpoint::{Malformed, parse_port};
use crate::kind::{Keys, ProbeDef, ProbeKind};
use crate::outcome::{Cause, Detail};
use crate::result::{DnsAnswer, ProbeResult, human_duration};
use crate::run::{Failure, Pass, Run};
use crate::spec::SpecError;

/// The `dns` keys of a [`ProbeDef`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsDef {
    /// Record type, e.g. A, AAAA, CNAME, MX, TXT, NS (default A).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_type: Option<String>,
    /// Answers that must all be present (compared without case or trailing dot; MX as
    /// `10 mail.example.com`, TXT as the text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_answers: Vec<String>,
    /// The response code to expect instead of NOERROR-with-answers, e.g. NXDOMAIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rcode: Option<String>,
    /// The resolver to ask, `address[:port]` (port 53), or `system` / absent for the
    /// prober's own resolver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
}

impl Keys for DnsDef {
    const KINDS: &'static [ProbeKind] = &[ProbeKind::Dns];
    fn first_given(&self) -> Option<&'static str> {
        [
            ("record_type", self.record_type.is_some()),
            ("expect_answers", !self.expect_answers.is_empty()),
            ("expect_rcode", self.expect_rcode.is_some()),
            ("resolver", self.resolver.is_some()),
        ]
        .into_iter()
        .find_map(|(key, given)| given.then_some(key))
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

pub(crate) fn parse(def: &ProbeDef) -> Result<DnsCheck, SpecError> {
    let target = def.target.trim();
    if target.is_empty() || target.contains(['/', ':', ' ']) {
        return Err(SpecError::invalid(
            "target",
            format!("`{target}` is not a DNS name"),
        ));
    }
    let name = Name::from_ascii(target)
        .map_err(|e| SpecError::invalid("target", format!("`{target}`: {e}")))?;
    let record_type = match &def.dns.record_type {
        None => RecordType::A,
        Some(t) => RecordType::from_str(&t.trim().to_ascii_uppercase()).map_err(|_| {
            SpecError::invalid("record_type", format!("`{t}` is not a DNS record type"))
        })?,
    };
    let expect_rcode = def
        .dns
        .expect_rcode
        .as_deref()
        .map(|s| {
            parse_rcode(s).ok_or_else(|| {
                SpecError::invalid("expect_rcode", format!("`{s}` is not a DNS response code"))
            })
        })
        .transpose()?;
    if expect_rcode.is_some_and(|rc| rc != ResponseCode::NoError)
        && !def.dns.expect_answers.is_empty()
    {
        return Err(SpecError::invalid(
            "expect_answers",
            "cannot expect answers with an error rcode",
        ));
    }
    let resolver = match def.dns.resolver.as_deref().map(str::trim) {
        None | Some("system") => None,
        Some(r) => Some(parse_resolver(r).map_err(|e| SpecError::invalid("resolver", e))?),
    };
    Ok(DnsCheck {
        name,
        record_type,
        expect_answers: def
            .dns
            .expect_answers
            .iter()
            .map(|a| normalize_answer(a))
            .collect(),
        expect_rcode,
        resolver,
    })
}

pub(crate) fn up_words(result: &ProbeResult) -> String {
    let Some(d) = &result.dns else {
        return String::new();
    };
    if d.answers.is_empty() {
        format!(": {}", d.rcode)
    } else {
        format!(": {} {}", d.rcode, d.answers.join(", "))
    }
}

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
pub(crate) fn parse_resolver(s: &str) -> Result<SocketAddr, Malformed> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return if addr.port() == 0 {
            Err(Malformed(format!("`{s}`: port 0")))
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
                Malformed(format!(
                    "`{ip}` is not an IP address (a resolver is given by address)"
                ))
            })?;
            Ok(SocketAddr::new(ip, port))
        }
        None => Err(Malformed(format!(
            "`{s}` is not an IP address (a resolver is given by address)"
        ))),
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
