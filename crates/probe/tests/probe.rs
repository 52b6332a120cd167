//! Probes against real servers on 127.0.0.1, started by the tests: HTTP, HTTPS with generated
//! certificates, a closed port, and a DNS server written with hickory-proto.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use downbeat_probe::kind::{DnsDef, TlsDef};
use downbeat_probe::{
    Cause, Detail, Outcome, ProbeDef, ProbeKind, ProbeResult, ProbeSpec, Prober, probe,
};
use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, MX, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use jiff::{Timestamp, ToSpan, tz::TimeZone};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio_rustls::TlsAcceptor;

// ---------------------------------------------------------------- HTTP target

/// The answer of the test HTTP server for a path: status, extra headers, body, delay.
fn route(path: &str) -> (u16, &'static str, &'static str, Duration) {
    let none = Duration::ZERO;
    match path {
        "/ok" | "/" => (200, "", "ok", none),
        "/json" => (
            200,
            "content-type: application/json\r\n",
            r#"{"status":"ok","version":3}"#,
            none,
        ),
        "/500" => (500, "", "boom", none),
        "/502" => (502, "", "bad gateway", none),
        "/503" => (503, "", "overloaded", none),
        "/429" => (429, "", "slow down", none),
        "/404" => (404, "", "not found", none),
        "/redirect" => (302, "location: /ok\r\n", "", none),
        "/redirect-loop" => (302, "location: /redirect-loop\r\n", "", none),
        "/slow" => (200, "", "late", Duration::from_secs(5)),
        "/sluggish" => (200, "", "ok", Duration::from_millis(120)),
        _ => (404, "", "no route", none),
    }
}

async fn serve_http<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (status, headers, body, delay) = route(&path);
    tokio::time::sleep(delay).await;
    let reply = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
        body.len()
    );
    let _ = s.write_all(reply.as_bytes()).await;
    let _ = s.shutdown().await;
}

async fn http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve_http(s));
        }
    });
    port
}

// ---------------------------------------------------------------- TLS target

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn new_ca(name: &str) -> Ca {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).expect("self-signed CA");
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

fn day(offset_days: i64) -> (i32, u8, u8) {
    let d = (Timestamp::now() + (offset_days * 24).hours())
        .to_zoned(TimeZone::UTC)
        .date();
    (i32::from(d.year()), d.month() as u8, d.day() as u8)
}

/// A leaf for `names`, valid from `from` to `until` (days relative to today), signed by `ca`.
fn leaf(
    ca: &Ca,
    names: &[&str],
    from: i64,
    until: i64,
) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let key = KeyPair::generate().expect("key");
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("params");
    params.distinguished_name.push(DnType::CommonName, names[0]);
    let (y, m, d) = day(from);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = day(until);
    params.not_after = rcgen::date_time_ymd(y, m, d);
    let cert = params.signed_by(&key, &ca.issuer).expect("signed");
    (
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

async fn tls_server(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> u16 {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(s).await {
                    serve_http(tls).await;
                }
            });
        }
    });
    port
}

// ---------------------------------------------------------------- DNS server

/// Answers for the zone `melodia.test.`: `www` → 127.0.0.1 and 192.0.2.10, the apex has an MX
/// and a TXT, `nx` and anything unknown → NXDOMAIN, `fail` → SERVFAIL, `silent` → no reply.
async fn dns_server() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(q) = query.queries.first().cloned() else {
                continue;
            };
            let name = q.name().to_lowercase().to_ascii();
            let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
            reply.metadata.recursion_desired = query.metadata.recursion_desired;
            reply.metadata.recursion_available = true;
            reply.metadata.authoritative = true;
            reply.add_query(q.clone());
            let rec = |data: RData| Record::from_rdata(q.name().clone(), 60, data);
            match (name.as_str(), q.query_type()) {
                ("silent.melodia.test.", _) => continue,
                ("fail.melodia.test.", _) => reply.metadata.response_code = ResponseCode::ServFail,
                ("www.melodia.test.", RecordType::A) => {
                    reply.add_answer(rec(RData::A(A(Ipv4Addr::LOCALHOST))));
                    reply.add_answer(rec(RData::A(A(Ipv4Addr::new(192, 0, 2, 10)))));
                }
                ("melodia.test.", RecordType::MX) => {
                    let exchange = Name::from_str("mail.melodia.test.").expect("name");
                    reply.add_answer(rec(RData::MX(MX::new(10, exchange))));
                }
                ("melodia.test.", RecordType::TXT) => {
                    reply.add_answer(rec(RData::TXT(TXT::new(vec!["v=spf1 -all".to_string()]))));
                }
                // The name exists with other types: NOERROR, no answer.
                ("www.melodia.test." | "melodia.test.", _) => {}
                _ => reply.metadata.response_code = ResponseCode::NXDomain,
            }
            if let Ok(bytes) = reply.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    addr
}

// ---------------------------------------------------------------- helpers

/// A prober that never reads /etc/resolv.conf: its resolver is the test DNS server, or a
/// loopback port nobody answers on.
fn prober(dns: Option<SocketAddr>) -> Prober {
    let dns = dns.unwrap_or_else(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9));
    Prober::builder()
        .nameservers(vec![dns])
        .dns_timeout(Duration::from_millis(500))
        .build()
        .expect("prober")
}

fn spec(def: ProbeDef) -> ProbeSpec {
    ProbeSpec::parse(def).expect("valid spec")
}

fn http(target: String) -> ProbeDef {
    ProbeDef {
        timeout_ms: Some(2_000),
        ..ProbeDef::new(ProbeKind::Http, target)
    }
}

#[track_caller]
fn assert_down(r: &ProbeResult, cause: Cause, detail: Detail) {
    assert_eq!(
        (r.outcome, r.cause, r.detail),
        (Outcome::Down, Some(cause), Some(detail)),
        "{r:#?}\n{}",
        r.explanation()
    );
}

// ---------------------------------------------------------------- HTTP

#[tokio::test]
async fn http_statuses_bodies_and_latency_are_classified() {
    let port = http_server().await;
    let p = prober(None);
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    type Edit = fn(&mut ProbeDef);
    type Case<'a> = (&'a str, Edit, Outcome, Option<(Cause, Detail)>);
    let table: Vec<Case> = vec![
        ("/ok", |_| {}, Outcome::Up, None),
        (
            "/503",
            |_| {},
            Outcome::Down,
            Some((Cause::Overload, Detail::Status)),
        ),
        (
            "/429",
            |_| {},
            Outcome::Down,
            Some((Cause::Overload, Detail::Status)),
        ),
        (
            "/500",
            |_| {},
            Outcome::Down,
            Some((Cause::Http5xx, Detail::Status)),
        ),
        (
            "/502",
            |_| {},
            Outcome::Down,
            Some((Cause::Http5xx, Detail::Status)),
        ),
        (
            "/404",
            |_| {},
            Outcome::Down,
            Some((Cause::Http4xx, Detail::Status)),
        ),
        (
            "/404",
            |d| d.http.expect_status = Some("404".into()),
            Outcome::Up,
            None,
        ),
        (
            "/ok",
            |d| d.http.body_contains = Some("ok".into()),
            Outcome::Up,
            None,
        ),
        (
            "/ok",
            |d| d.http.body_contains = Some("welcome".into()),
            Outcome::Down,
            Some((Cause::Content, Detail::BodyMismatch)),
        ),
        (
            "/ok",
            |d| d.http.body_regex = Some("^o.$".into()),
            Outcome::Up,
            None,
        ),
        (
            "/ok",
            |d| d.http.body_regex = Some("^[0-9]+$".into()),
            Outcome::Down,
            Some((Cause::Content, Detail::BodyMismatch)),
        ),
        (
            "/json",
            |d| {
                d.http.json_pointer = Some("/status".into());
                d.http.json_equals = Some("ok".into());
            },
            Outcome::Up,
            None,
        ),
        (
            "/json",
            |d| {
                d.http.json_pointer = Some("/version".into());
                d.http.json_equals = Some(4.into());
            },
            Outcome::Down,
            Some((Cause::Content, Detail::JsonMismatch)),
        ),
        (
            "/json",
            |d| d.http.json_pointer = Some("/missing".into()),
            Outcome::Down,
            Some((Cause::Content, Detail::JsonMismatch)),
        ),
        (
            "/ok",
            |d| d.http.json_pointer = Some("/status".into()),
            Outcome::Down,
            Some((Cause::Content, Detail::JsonMismatch)),
        ),
        ("/redirect", |_| {}, Outcome::Up, None),
        (
            "/redirect",
            |d| d.http.expect_status = Some("200".into()),
            Outcome::Down,
            Some((Cause::Content, Detail::Redirect)),
        ),
        (
            "/redirect",
            |d| {
                d.http.expect_status = Some("200".into());
                d.http.max_redirects = Some(3);
                d.http.body_contains = Some("ok".into());
            },
            Outcome::Up,
            None,
        ),
        (
            "/redirect-loop",
            |d| {
                d.http.expect_status = Some("200".into());
                d.http.max_redirects = Some(3);
            },
            Outcome::Down,
            Some((Cause::Content, Detail::Redirect)),
        ),
        (
            "/sluggish",
            |d| d.http.max_latency_ms = Some(20),
            Outcome::Down,
            Some((Cause::Overload, Detail::Slow)),
        ),
        (
            "/sluggish",
            |d| d.http.max_latency_ms = Some(100),
            Outcome::Degraded,
            None,
        ),
        (
            "/sluggish",
            |d| d.http.max_latency_ms = Some(1_000),
            Outcome::Up,
            None,
        ),
    ];
    for (path, edit, outcome, cause) in table {
        let mut def = http(url(path));
        edit(&mut def);
        let label = format!("{path} {def:?}");
        let r = probe(&spec(def), &p).await;
        assert_eq!(r.outcome, outcome, "{label}\n{r:#?}");
        match cause {
            Some((cause, detail)) => assert_down(&r, cause, detail),
            None => assert_eq!(r.cause, None, "{label}"),
        }
        assert!(r.http_status.is_some(), "{label}");
        assert!(!r.explanation().is_empty());
    }
}

/// Request heads a [`recording_server`] received: (path, lower-cased header lines).
type Heads = Arc<std::sync::Mutex<Vec<(String, Vec<String>)>>>;

/// An HTTP server that records every request's head and answers `/hop/<location>` with a
/// 302 to `<location>` (percent-free: the rest of the path as written), anything else 200.
async fn recording_server() -> (u16, Heads) {
    let heads: Heads = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let mut lines = head.split("\r\n");
                let path = lines
                    .next()
                    .and_then(|l| l.split_whitespace().nth(1))
                    .unwrap_or("/")
                    .to_owned();
                let headers = lines
                    .filter(|l| !l.is_empty())
                    .map(str::to_ascii_lowercase)
                    .collect();
                seen.lock().unwrap().push((path.clone(), headers));
                let reply = match path.strip_prefix("/hop/") {
                    Some(location) => format!(
                        "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    ),
                    None => "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                        .to_owned(),
                };
                let _ = s.write_all(reply.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (port, heads)
}

/// Integrity item 22: the configured headers (credentials among them) go to the configured
/// origin and to redirects within it, never to another host or port a redirect names.
#[tokio::test]
async fn configured_headers_do_not_follow_a_redirect_to_another_origin() {
    let (a, a_heads) = recording_server().await;
    let (b, b_heads) = recording_server().await;
    let secrets = [
        ("authorization", "Bearer s3cret-token"),
        ("cookie", "session=s3cret-cookie"),
        ("proxy-authorization", "Basic s3cret-proxy"),
        ("x-api-key", "s3cret-key"),
    ];
    let carries_secrets = |headers: &[String]| {
        secrets
            .iter()
            .filter(|(name, value)| {
                headers.contains(&format!("{name}: {}", value.to_ascii_lowercase()))
            })
            .count()
    };
    for (start, lands_on, same_origin) in [
        // another port on the same host: another origin
        (format!("/hop/http://127.0.0.1:{b}/landing"), "b", false),
        // the same address under another name: another origin
        (format!("/hop/http://localhost:{a}/landing"), "a", false),
        // a path on the same origin, relative and absolute
        ("/hop//landing".to_owned(), "a", true),
        (format!("/hop/http://127.0.0.1:{a}/landing"), "a", true),
        // away and back: the headers are for the configured origin, which gets them again
        (
            format!("/hop/http://127.0.0.1:{b}/hop/http://127.0.0.1:{a}/landing"),
            "a",
            true,
        ),
    ] {
        a_heads.lock().unwrap().clear();
        b_heads.lock().unwrap().clear();
        let mut def = http(format!("http://127.0.0.1:{a}{start}"));
        def.http.max_redirects = Some(3);
        def.http.headers = secrets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let r = probe(&spec(def), &prober(None)).await;
        assert_eq!(r.outcome, Outcome::Up, "{start}: {r:#?}");
        let first = a_heads.lock().unwrap()[0].clone();
        assert_eq!(first.0, start);
        assert_eq!(
            carries_secrets(&first.1),
            4,
            "the target gets every header: {first:?}"
        );
        let landed = match lands_on {
            "a" => a_heads.lock().unwrap().last().cloned(),
            _ => b_heads.lock().unwrap().last().cloned(),
        }
        .expect("the redirect was followed");
        assert_eq!(landed.0, "/landing", "{start}");
        let want = if same_origin { 4 } else { 0 };
        assert_eq!(carries_secrets(&landed.1), want, "{start}: {landed:?}");
        // whoever else was visited on the way got none
        for (path, headers) in b_heads.lock().unwrap().iter() {
            assert_eq!(carries_secrets(headers), 0, "{start}: {path} {headers:?}");
        }
        // the probe's own headers still go everywhere
        assert!(
            landed.1.iter().any(|h| h.starts_with("user-agent:")),
            "{landed:?}"
        );
    }
}

#[tokio::test]
async fn http_result_has_phase_timings_and_no_dns_for_ip_literals() {
    let port = http_server().await;
    let r = probe(
        &spec(http(format!("http://127.0.0.1:{port}/ok"))),
        &prober(None),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Up, "{r:#?}");
    assert_eq!(r.http_status, Some(200));
    let t = r.timings;
    assert!(t.dns.is_none() && t.tls.is_none(), "{t:?}");
    let (connect, ttfb, total) = (
        t.connect.expect("connect"),
        t.ttfb.expect("ttfb"),
        t.total.expect("total"),
    );
    assert!(connect + ttfb <= total, "{t:?}");
    assert_eq!(r.address, Some(SocketAddr::from(([127, 0, 0, 1], port))));
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["outcome"], "up");
    assert!(json["timings"]["ttfb_ms"].as_f64().is_some(), "{json}");
    let back: ProbeResult = serde_json::from_value(json).expect("round trip");
    assert_eq!(back.outcome, r.outcome);
}

#[tokio::test]
async fn a_server_slower_than_the_timeout_is_a_timeout() {
    let port = http_server().await;
    let mut def = http(format!("http://127.0.0.1:{port}/slow"));
    def.timeout_ms = Some(300);
    let r = probe(&spec(def), &prober(None)).await;
    assert_down(&r, Cause::Timeout, Detail::TimedOut);
    assert!(r.timings.total.expect("total") >= Duration::from_millis(300));
    assert!(
        r.timings.connect.is_some(),
        "the connection itself worked: {r:#?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_connect_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let p = prober(None);
    for spec in [
        ProbeSpec::tcp(&format!("127.0.0.1:{port}")),
        ProbeSpec::tls(&format!("localhost:{port}")),
        ProbeSpec::http(&format!("http://127.0.0.1:{port}/")),
    ] {
        let r = probe(&spec.expect("valid"), &p).await;
        assert_down(&r, Cause::Connect, Detail::Refused);
        assert!(r.explanation().contains("refused"), "{}", r.explanation());
    }
}

#[tokio::test]
async fn an_open_port_is_up_for_tcp() {
    let port = http_server().await;
    let r = probe(
        &ProbeSpec::tcp(&format!("localhost:{port}")).expect("valid"),
        &prober(None),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Up, "{r:#?}");
    assert!(r.timings.connect.is_some() && r.timings.dns.is_none());
}

// ---------------------------------------------------------------- TLS

fn tls_def(target: String, ca: Option<&Ca>) -> ProbeDef {
    ProbeDef {
        timeout_ms: Some(2_000),
        tls: TlsDef {
            ca_pem: ca.map(|c| c.pem.clone()),
            ..TlsDef::default()
        },
        ..ProbeDef::new(ProbeKind::Tls, target)
    }
}

#[tokio::test]
async fn an_expired_certificate_is_named_with_its_date() {
    let ca = new_ca("Downbeat Test CA");
    let (chain, key) = leaf(&ca, &["localhost"], -90, -2);
    let port = tls_server(chain, key).await;
    let p = prober(None);
    for target in [
        format!("localhost:{port}"),
        format!("https://localhost:{port}"),
    ] {
        for trusted in [Some(&ca), None] {
            let r = probe(&spec(tls_def(target.clone(), trusted)), &p).await;
            assert_down(&r, Cause::TlsCertificate, Detail::Expired);
            let cert = r
                .certificate
                .as_ref()
                .expect("the rejected certificate is still read");
            let (y, m, d) = day(-2);
            let want = jiff::civil::date(y as i16, m as i8, d as i8)
                .to_zoned(TimeZone::UTC)
                .expect("date")
                .timestamp();
            assert_eq!(cert.not_after, want);
            assert!(cert.days_until_expiry < 0);
            assert!(cert.subject.contains("localhost"), "{cert:?}");
            assert!(cert.issuer.contains("Downbeat Test CA"), "{cert:?}");
            let text = r.explanation();
            assert!(
                text.starts_with("TLS certificate expired ") && text.contains(" ago (not after "),
                "{text}"
            );
            let json = serde_json::to_string(&r).expect("json");
            assert!(
                json.contains(r#""cause":"tls_certificate""#)
                    && json.contains(r#""detail":"expired""#),
                "{json}"
            );
        }
    }
    // The same certificate behind HTTPS.
    let r = probe(&spec(http(format!("https://localhost:{port}/ok"))), &p).await;
    assert_down(&r, Cause::TlsCertificate, Detail::Expired);
}

#[tokio::test]
async fn certificate_problems_are_told_apart() {
    let ca = new_ca("Downbeat Test CA");
    let stranger = new_ca("Somebody Else CA");
    let p = prober(None);
    type Case = (
        &'static str,
        &'static [&'static str],
        i64,
        i64,
        bool,
        Outcome,
        Option<Detail>,
    );
    let table: [Case; 5] = [
        ("valid", &["localhost"], -1, 400, true, Outcome::Up, None),
        (
            "wrong host",
            &["melodia.test"],
            -1,
            400,
            true,
            Outcome::Down,
            Some(Detail::WrongHost),
        ),
        (
            "untrusted",
            &["localhost"],
            -1,
            400,
            false,
            Outcome::Down,
            Some(Detail::Untrusted),
        ),
        (
            "not yet valid",
            &["localhost"],
            3,
            400,
            true,
            Outcome::Down,
            Some(Detail::NotYetValid),
        ),
        (
            "expires soon",
            &["localhost"],
            -30,
            5,
            true,
            Outcome::Degraded,
            Some(Detail::ExpiresSoon),
        ),
    ];
    for (label, names, from, until, signed_by_ca, outcome, detail) in table {
        let (chain, key) = leaf(
            if signed_by_ca { &ca } else { &stranger },
            names,
            from,
            until,
        );
        let port = tls_server(chain, key).await;
        let r = probe(&spec(tls_def(format!("localhost:{port}"), Some(&ca))), &p).await;
        assert_eq!((r.outcome, r.detail), (outcome, detail), "{label}: {r:#?}");
        if outcome == Outcome::Down {
            assert_eq!(r.cause, Some(Cause::TlsCertificate), "{label}");
        }
        let cert = r.certificate.as_ref().expect("certificate read");
        assert!(
            (until - 1..=until).contains(&cert.days_until_expiry),
            "{label}: {cert:?}"
        );
        assert!(r.timings.tls.is_some(), "{label}");
    }
}

#[tokio::test]
async fn https_with_a_trusted_test_ca_is_up_with_days_until_expiry() {
    let ca = new_ca("Downbeat Test CA");
    let (chain, key) = leaf(&ca, &["localhost"], -1, 200);
    let port = tls_server(chain, key).await;
    let mut def = http(format!("https://localhost:{port}/json"));
    def.tls.ca_pem = Some(ca.pem.clone());
    def.http.json_pointer = Some("/status".into());
    def.http.json_equals = Some("ok".into());
    let r = probe(&spec(def), &prober(None)).await;
    assert_eq!(r.outcome, Outcome::Up, "{r:#?}");
    assert_eq!(r.http_status, Some(200));
    let t = r.timings;
    assert!(
        t.connect.is_some() && t.tls.is_some() && t.ttfb.is_some(),
        "{t:?}"
    );
    let days = r.certificate.as_ref().expect("cert").days_until_expiry;
    assert!((199..=200).contains(&days), "{days}");
    assert!(
        r.explanation().contains("certificate expires in"),
        "{}",
        r.explanation()
    );

    // Without the CA the very same server is untrusted.
    let r = probe(
        &spec(http(format!("https://localhost:{port}/json"))),
        &prober(None),
    )
    .await;
    assert_down(&r, Cause::TlsCertificate, Detail::Untrusted);
}

#[tokio::test]
async fn plain_tcp_behind_a_tls_probe_is_a_handshake_failure() {
    let port = http_server().await;
    let r = probe(
        &spec(tls_def(format!("localhost:{port}"), None)),
        &prober(None),
    )
    .await;
    assert_eq!(
        (r.outcome, r.cause),
        (Outcome::Down, Some(Cause::TlsHandshake)),
        "{r:#?}"
    );
}

// ---------------------------------------------------------------- DNS

fn dns_def(name: &str, server: SocketAddr) -> ProbeDef {
    ProbeDef {
        timeout_ms: Some(2_000),
        dns: DnsDef {
            resolver: Some(server.to_string()),
            ..DnsDef::default()
        },
        ..ProbeDef::new(ProbeKind::Dns, name)
    }
}

#[tokio::test]
async fn dns_probes_against_a_loopback_server() {
    let server = dns_server().await;
    let p = prober(None);
    type Edit = fn(&mut ProbeDef);
    let table: Vec<(&str, Edit, Outcome, Option<Detail>, &str)> = vec![
        ("www.melodia.test", |_| {}, Outcome::Up, None, "NOERROR"),
        (
            "www.melodia.test",
            |d| d.dns.expect_answers = vec!["192.0.2.10".into()],
            Outcome::Up,
            None,
            "NOERROR",
        ),
        (
            "www.melodia.test",
            |d| d.dns.expect_answers = vec!["192.0.2.99".into()],
            Outcome::Down,
            Some(Detail::UnexpectedAnswer),
            "NOERROR",
        ),
        (
            "www.melodia.test",
            |d| d.dns.record_type = Some("AAAA".into()),
            Outcome::Down,
            Some(Detail::NoAnswer),
            "NOERROR",
        ),
        (
            "nx.melodia.test",
            |_| {},
            Outcome::Down,
            Some(Detail::Nxdomain),
            "NXDOMAIN",
        ),
        (
            "nx.melodia.test",
            |d| d.dns.expect_rcode = Some("nxdomain".into()),
            Outcome::Up,
            None,
            "NXDOMAIN",
        ),
        (
            "www.melodia.test",
            |d| d.dns.expect_rcode = Some("NXDOMAIN".into()),
            Outcome::Down,
            Some(Detail::UnexpectedRcode),
            "NOERROR",
        ),
        (
            "fail.melodia.test",
            |_| {},
            Outcome::Down,
            Some(Detail::Servfail),
            "SERVFAIL",
        ),
        (
            "melodia.test",
            |d| {
                d.dns.record_type = Some("MX".into());
                d.dns.expect_answers = vec!["10 mail.melodia.test.".into()];
            },
            Outcome::Up,
            None,
            "NOERROR",
        ),
        (
            "melodia.test",
            |d| {
                d.dns.record_type = Some("txt".into());
                d.dns.expect_answers = vec!["v=spf1 -all".into()];
            },
            Outcome::Up,
            None,
            "NOERROR",
        ),
        (
            "no-such-host.invalid",
            |_| {},
            Outcome::Down,
            Some(Detail::Nxdomain),
            "NXDOMAIN",
        ),
    ];
    for (name, edit, outcome, detail, rcode) in table {
        let mut def = dns_def(name, server);
        edit(&mut def);
        let label = format!("{def:?}");
        let r = probe(&spec(def), &p).await;
        assert_eq!((r.outcome, r.detail), (outcome, detail), "{label}\n{r:#?}");
        if outcome == Outcome::Down {
            assert_eq!(r.cause, Some(Cause::Dns), "{label}");
        }
        assert_eq!(
            r.dns.as_ref().map(|d| d.rcode.as_str()),
            Some(rcode),
            "{label}"
        );
        assert!(r.timings.dns.is_some(), "{label}");
    }
}

#[tokio::test]
async fn a_silent_resolver_is_a_dns_timeout() {
    let server = dns_server().await;
    let mut def = dns_def("silent.melodia.test", server);
    def.timeout_ms = Some(300);
    let r = probe(&spec(def), &prober(None)).await;
    assert_down(&r, Cause::Dns, Detail::TimedOut);
}

#[tokio::test]
async fn http_targets_resolve_through_the_prober_resolver() {
    let server = dns_server().await;
    let port = http_server().await;
    let p = prober(Some(server));
    let r = probe(
        &spec(http(format!("http://www.melodia.test:{port}/ok"))),
        &p,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Up, "{r:#?}");
    assert!(r.timings.dns.is_some(), "{:?}", r.timings);
    assert_eq!(r.address, Some(SocketAddr::from(([127, 0, 0, 1], port))));

    let table = [
        ("http://no-such-host.invalid/", Detail::Nxdomain),
        ("http://nx.melodia.test/", Detail::Nxdomain),
        ("http://fail.melodia.test/", Detail::Servfail),
    ];
    for (url, detail) in table {
        let r = probe(&spec(http(url.to_string())), &p).await;
        assert_down(&r, Cause::Dns, detail);
        assert!(
            r.timings.connect.is_none(),
            "no connection after a failed lookup"
        );
    }
    let r = probe(&ProbeSpec::tcp("nx.melodia.test:443").expect("valid"), &p).await;
    assert_down(&r, Cause::Dns, Detail::Nxdomain);
}
