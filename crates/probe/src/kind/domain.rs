//! `domain` probes: the registration's expiry date, looked up over RDAP (RFC 9082 query,
//! RFC 9083 answer: the `expiration` event of the domain object). There is no IANA bootstrap
//! (it would need the network at start and a cache): `rdap_url` names the registry's RDAP
//! base, e.g. `https://rdap.verisign.com/com/v1` for `.com`, or a redirecting service.

use std::borrow::Cow;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::connect;
use crate::endpoint::{Endpoint, Malformed};
use crate::kind::http::{self, HttpUrl};
use crate::kind::tls::{self, TlsDef, TlsOptions};
use crate::kind::{Keys, ProbeDef, ProbeKind};
use crate::outcome::{Cause, Detail};
use crate::result::{DomainExpiry, ProbeResult};
use crate::run::{Failure, Pass, Run};
use crate::spec::SpecError;

/// Default warning threshold for a domain's expiry, in days: registrations renew yearly, and
/// a lapsed renewal takes longer to notice and fix than a certificate.
pub const DEFAULT_WARN_DAYS: u32 = 30;
/// Redirects an RDAP lookup follows (redirecting services answer with one).
const MAX_RDAP_REDIRECTS: u8 = 3;

/// The `domain` keys of a [`ProbeDef`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DomainDef {
    /// The RDAP base URL (required): the domain is looked up at `<rdap_url>/domain/<target>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdap_url: Option<String>,
    /// A registration expiring within this many days is `degraded` (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_days: Option<u32>,
}

impl Keys for DomainDef {
    const KINDS: &'static [ProbeKind] = &[ProbeKind::Domain];
    fn first_given(&self) -> Option<&'static str> {
        [
            ("rdap_url", self.rdap_url.is_some()),
            ("warn_days", self.warn_days.is_some()),
        ]
        .into_iter()
        .find_map(|(key, given)| given.then_some(key))
    }
}

/// A domain registration expiry check.
#[derive(Clone, Debug)]
pub struct DomainCheck {
    pub(crate) domain: String,
    /// The RDAP query: `<rdap_url>/domain/<domain>`.
    pub(crate) url: HttpUrl,
    pub(crate) warn_days: u32,
    pub(crate) tls: TlsOptions,
}

impl DomainCheck {
    /// The RDAP server's host and port.
    pub fn endpoint(&self) -> &Endpoint {
        &self.url.endpoint
    }
}

/// The target is a registered domain name (`melodia.example`).
pub(crate) fn parse(def: &ProbeDef) -> Result<DomainCheck, SpecError> {
    let domain = def.target.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = !domain.is_empty()
        && domain.contains('.')
        && domain.parse::<std::net::IpAddr>().is_err()
        && Endpoint::new(&domain, 0).is_ok()
        && !domain.contains([':', '/', '[']);
    if !valid {
        return Err(SpecError::invalid(
            "target",
            format!("`{}` is not a domain name", def.target.trim()),
        ));
    }
    let base = def
        .domain
        .rdap_url
        .as_deref()
        .ok_or_else(|| SpecError::invalid("rdap_url", "is required for domain probes"))?;
    let url = HttpUrl::parse(&format!(
        "{}/domain/{domain}",
        base.trim().trim_end_matches('/')
    ))
    .map_err(|e| SpecError::invalid("rdap_url", e))?;
    Ok(DomainCheck {
        domain,
        url,
        warn_days: def.domain.warn_days.unwrap_or(DEFAULT_WARN_DAYS),
        tls: tls::parse_options(&TlsDef::default())?,
    })
}

pub(crate) fn up_words(result: &ProbeResult) -> String {
    match &result.domain {
        Some(d) => format!(
            ": registration expires in {} days ({})",
            d.days_until_expiry,
            d.expires_at.strftime("%Y-%m-%d")
        ),
        None => String::new(),
    }
}

pub(crate) async fn run(run: &mut Run<'_>, check: &DomainCheck) -> Result<Pass, Failure> {
    let mut url = Cow::Borrowed(&check.url);
    let mut hops = 0;
    let body = loop {
        let tcp = connect::open(run, &url.endpoint).await?;
        let req = request(run, &url);
        let (response, body) = if url.https {
            let tls = tls::handshake(run, tcp, &url.endpoint, &check.tls, tls::ALPN_HTTP1).await?;
            http::exchange(run, TokioIo::new(tls), req, true).await?
        } else {
            http::exchange(run, TokioIo::new(tcp), req, true).await?
        };
        let status = response.status();
        run.result.http_status = Some(status.as_u16());
        if status.is_redirection()
            && hops < MAX_RDAP_REDIRECTS
            && let Some(location) = response.headers().get(header::LOCATION)
        {
            let next = location
                .to_str()
                .map_err(|e| Malformed(e.to_string()))
                .and_then(|l| url.join(l))
                .map_err(|e| {
                    Failure::new(
                        Cause::Content,
                        Detail::Redirect,
                        format!("RDAP: bad Location: {e}"),
                    )
                })?;
            url = Cow::Owned(next);
            hops += 1;
            run.result.redirects += 1;
            continue;
        }
        if !status.is_success() {
            let (cause, detail) = http::status_cause(status.as_u16());
            return Err(Failure::new(
                cause,
                detail,
                format!("RDAP lookup of {} answered HTTP {status}", check.domain),
            ));
        }
        break body;
    };
    let expires_at = expiration(&body).map_err(|why| {
        Failure::new(
            Cause::Content,
            Detail::JsonMismatch,
            format!("RDAP answer for {}: {why}", check.domain),
        )
    })?;
    let days = (expires_at.as_second() - run.now.as_second()).div_euclid(86_400);
    run.result.domain = Some(DomainExpiry {
        expires_at,
        days_until_expiry: days,
    });
    let on = expires_at.strftime("%Y-%m-%d %H:%M UTC");
    if expires_at <= run.now {
        return Err(Failure::new(
            Cause::Dns,
            Detail::DomainExpired,
            format!("{} expired on {on}", check.domain),
        ));
    }
    if days < i64::from(check.warn_days) {
        return Ok(Pass::Degraded(
            Detail::DomainExpiresSoon,
            Some(format!(
                "{} expires on {on} (warning at {} days)",
                check.domain, check.warn_days
            )),
        ));
    }
    Ok(Pass::Up)
}

fn request(run: &Run<'_>, url: &HttpUrl) -> Request<Empty<Bytes>> {
    let mut req = Request::new(Empty::new());
    *req.method_mut() = Method::GET;
    *req.uri_mut() = url.path.clone();
    let h = req.headers_mut();
    h.insert(header::HOST, url.host_header.clone());
    h.insert(header::USER_AGENT, run.prober.user_agent().clone());
    h.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/rdap+json, application/json"),
    );
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    req
}

/// The date of the domain object's `expiration` event (RFC 9083 section 4.5).
fn expiration(body: &[u8]) -> Result<Timestamp, String> {
    #[derive(Deserialize)]
    struct Domain {
        #[serde(rename = "objectClassName")]
        class: Option<String>,
        #[serde(default)]
        events: Vec<Event>,
    }
    #[derive(Deserialize)]
    struct Event {
        #[serde(rename = "eventAction")]
        action: String,
        #[serde(rename = "eventDate")]
        date: Option<String>,
    }
    let domain: Domain =
        serde_json::from_slice(body).map_err(|e| format!("not an RDAP domain object: {e}"))?;
    if let Some(class) = &domain.class
        && class != "domain"
    {
        return Err(format!("an RDAP `{class}` object, not a domain"));
    }
    let date = domain
        .events
        .iter()
        .find(|e| e.action.eq_ignore_ascii_case("expiration"))
        .ok_or("no `expiration` event")?
        .date
        .as_deref()
        .ok_or("the `expiration` event has no eventDate")?;
    date.parse::<Timestamp>()
        .map_err(|e| format!("eventDate `{date}` is not an RFC 3339 time: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Check, Outcome, ProbeSpec, Prober, probe};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// An RDAP server on loopback: `/rdap/domain/<name>` answers a domain object expiring
    /// `<days>` from now for `in<days>.example`, 404 for others; `/moved/...` redirects there.
    async fn rdap_server() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut n = 0;
                    while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") && n < buf.len() {
                        match s.read(&mut buf[n..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => n += k,
                        }
                    }
                    let head = String::from_utf8_lossy(&buf[..n]).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let (status, extra, body) = answer(&path);
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/rdap+json\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(reply.as_bytes()).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        port
    }

    fn answer(path: &str) -> (u16, String, String) {
        if let Some(rest) = path.strip_prefix("/moved/") {
            return (302, format!("location: /rdap/{rest}\r\n"), String::new());
        }
        let Some(name) = path.strip_prefix("/rdap/domain/") else {
            return (404, String::new(), "{}".into());
        };
        if name == "garbled.example" {
            return (200, String::new(), r#"{"objectClassName":"domain","events":[{"eventAction":"registration","eventDate":"2020-01-01T00:00:00Z"}]}"#.into());
        }
        let Some(days) = name
            .strip_prefix("in")
            .and_then(|n| n.strip_suffix(".example"))
            .and_then(|n| n.parse::<i64>().ok())
        else {
            return (
                404,
                String::new(),
                r#"{"errorCode":404,"title":"Not Found"}"#.into(),
            );
        };
        let at = Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(days * 86_400 + 3600))
            .expect("date");
        let body = format!(
            r#"{{"objectClassName":"domain","ldhName":"{name}","rdapConformance":["rdap_level_0"],
               "events":[{{"eventAction":"registration","eventDate":"2015-03-01T12:00:00Z"}},
                         {{"eventAction":"expiration","eventDate":"{at}"}},
                         {{"eventAction":"last changed","eventDate":"2024-03-01T12:00:00.5+00:00"}}]}}"#
        );
        (200, String::new(), body)
    }

    fn spec(port: u16, base: &str, domain: &str, warn_days: Option<u32>) -> ProbeSpec {
        let mut d = ProbeDef::new(ProbeKind::Domain, domain);
        d.domain.rdap_url = Some(format!("http://127.0.0.1:{port}/{base}/"));
        d.domain.warn_days = warn_days;
        ProbeSpec::parse(d).expect("spec")
    }

    fn prober() -> Prober {
        Prober::builder()
            .nameservers(vec!["127.0.0.1:9".parse().expect("addr")])
            .build()
            .expect("prober")
    }

    #[tokio::test]
    async fn expiry_is_read_from_the_rdap_answer() {
        let port = rdap_server().await;
        let prober = prober();
        // (domain, base, outcome, cause, detail)
        let table = [
            ("in200.example", "rdap", Outcome::Up, None, None),
            ("in200.example", "moved", Outcome::Up, None, None),
            (
                "in10.example",
                "rdap",
                Outcome::Degraded,
                None,
                Some(Detail::DomainExpiresSoon),
            ),
            (
                "in-3.example",
                "rdap",
                Outcome::Down,
                Some(Cause::Dns),
                Some(Detail::DomainExpired),
            ),
            (
                "unknown.example",
                "rdap",
                Outcome::Down,
                Some(Cause::Http4xx),
                Some(Detail::Status),
            ),
            (
                "garbled.example",
                "rdap",
                Outcome::Down,
                Some(Cause::Content),
                Some(Detail::JsonMismatch),
            ),
        ];
        for (domain, base, outcome, cause, detail) in table {
            let r = probe(&spec(port, base, domain, None), &prober).await;
            let words = r.explanation();
            assert_eq!(
                (r.outcome, r.cause, r.detail),
                (outcome, cause, detail),
                "{domain} via {base}: {words}"
            );
            if outcome != Outcome::Down || cause == Some(Cause::Dns) {
                let d = r.domain.as_ref().expect("expiry recorded");
                let want: i64 = domain[2..domain.len() - 8].parse().expect("days");
                assert_eq!(d.days_until_expiry, want, "{domain}");
                assert!(r.timings.ttfb.is_some() && r.timings.connect.is_some());
            }
        }
        let r = probe(&spec(port, "rdap", "in10.example", None), &prober).await;
        assert!(
            r.explanation()
                .starts_with("domain registration expires in 10 days (on "),
            "{}",
            r.explanation()
        );
        let r = probe(&spec(port, "rdap", "in10.example", Some(7)), &prober).await;
        assert_eq!(r.outcome, Outcome::Up, "10 days left, warning at 7");
        assert!(
            r.explanation()
                .starts_with("up: registration expires in 10 days"),
            "{}",
            r.explanation()
        );
        let r = probe(&spec(port, "rdap", "in-3.example", None), &prober).await;
        assert!(
            r.explanation()
                .starts_with("domain registration expired: in-3.example expired on "),
            "{}",
            r.explanation()
        );
    }

    #[tokio::test]
    async fn a_closed_rdap_port_is_down_to_connect() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let r = probe(&spec(port, "rdap", "in200.example", None), &prober()).await;
        assert_eq!(
            (r.cause, r.detail),
            (Some(Cause::Connect), Some(Detail::Refused))
        );
    }

    #[test]
    fn bad_keys_are_refused_by_name() {
        let with = |target: &str, url: Option<&str>| {
            let mut d = ProbeDef::new(ProbeKind::Domain, target);
            d.domain.rdap_url = url.map(str::to_owned);
            d
        };
        let url = Some("https://rdap.example/v1");
        for (d, field) in [
            (with("melodia.example", None), "rdap_url"),
            (
                with("melodia.example", Some("ftp://rdap.example/")),
                "rdap_url",
            ),
            (with("melodia.example", Some("rdap.example")), "rdap_url"),
            (with("", url), "target"),
            (with("localhost", url), "target"),
            (with("192.0.2.1", url), "target"),
            (with("https://melodia.example/", url), "target"),
            (with("melodia.example:443", url), "target"),
        ] {
            let target = d.target.clone();
            let err = ProbeSpec::parse(d).expect_err(&target);
            assert_eq!(err.field(), field, "{target}: {err}");
        }
        let mut http = ProbeDef::new(ProbeKind::Http, "http://x/");
        http.domain.warn_days = Some(3);
        assert_eq!(
            ProbeSpec::parse(http).expect_err("http").field(),
            "warn_days"
        );
        let ok = ProbeSpec::parse(with("Melodia.Example.", url)).expect("valid");
        let Check::Domain(check) = ok.check() else {
            panic!("a domain check")
        };
        assert_eq!(check.url.path.to_string(), "/v1/domain/melodia.example");
    }
}
