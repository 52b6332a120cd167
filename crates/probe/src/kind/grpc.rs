//! `grpc` probes: one `grpc.health.v1.Health/Check` call over HTTP/2, plain (h2c, prior
//! knowledge) or TLS (ALPN `h2`), through hyper's HTTP/2 client. The request and response
//! are one protobuf field each, so they are encoded here rather than generated.

use std::pin::pin;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http2;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::{Deserialize, Serialize};
use tokio::time::{Instant, timeout_at};

use crate::connect;
use crate::endpoint::Endpoint;
use crate::kind::http::{self, HttpUrl, drive, protocol_failure, timed_out};
use crate::kind::tls::{self, TlsOptions};
use crate::kind::{Keys, ProbeDef, ProbeKind};
use crate::outcome::{Cause, Detail};
use crate::result::ProbeResult;
use crate::run::{Failure, Pass, Run};
use crate::spec::SpecError;

/// The health service's method (grpc/grpc `doc/health-checking.md`).
const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";
/// The longest response message read.
const MAX_RESPONSE: usize = 64 << 10;

/// The `grpc` keys of a [`ProbeDef`]. The health service's name is `grpc_service`, not
/// `service`, which names the Downbeat service a monitor belongs to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GrpcDef {
    /// The service whose health is asked (default "": the server as a whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_service: Option<String>,
}

impl Keys for GrpcDef {
    const KINDS: &'static [ProbeKind] = &[ProbeKind::Grpc];
    fn first_given(&self) -> Option<&'static str> {
        self.grpc_service.is_some().then_some("grpc_service")
    }
}

/// A gRPC health check.
#[derive(Clone, Debug)]
pub struct GrpcCheck {
    pub(crate) url: HttpUrl,
    /// `http(s)://authority/grpc.health.v1.Health/Check`: HTTP/2 requests carry the scheme
    /// and authority.
    pub(crate) uri: Uri,
    pub(crate) service: String,
    pub(crate) tls: TlsOptions,
}

impl GrpcCheck {
    /// The host and port connected to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.url.endpoint
    }
}

/// The target is `http://host:port` (h2c) or `https://host:port` (TLS), without a path.
pub(crate) fn parse(def: &ProbeDef) -> Result<GrpcCheck, SpecError> {
    let target = def.target.trim().trim_end_matches('/');
    let url = HttpUrl::parse(target).map_err(|e| SpecError::invalid("target", e))?;
    if url.path != "/" {
        return Err(SpecError::invalid(
            "target",
            "takes no path: the health method's is fixed",
        ));
    }
    let scheme = if url.https { "https" } else { "http" };
    let authority = url.host_header.to_str().unwrap_or_default();
    let uri = Uri::try_from(format!("{scheme}://{authority}{HEALTH_CHECK}"))
        .map_err(|e| SpecError::invalid("target", e.to_string()))?;
    let service = def.grpc.grpc_service.clone().unwrap_or_default();
    if service.len() > 1024 || service.chars().any(char::is_control) {
        return Err(SpecError::invalid(
            "grpc_service",
            "must be at most 1024 bytes, without control characters",
        ));
    }
    Ok(GrpcCheck {
        url,
        uri,
        service,
        tls: tls::parse_options(&Default::default())?,
    })
}

pub(crate) fn up_words(_: &ProbeResult) -> String {
    ": SERVING".into()
}

pub(crate) async fn run(run: &mut Run<'_>, check: &GrpcCheck) -> Result<Pass, Failure> {
    let tcp = connect::open(run, &check.url.endpoint).await?;
    if check.url.https {
        let stream =
            tls::handshake(run, tcp, &check.url.endpoint, &check.tls, tls::ALPN_H2).await?;
        call(run, check, TokioIo::new(stream)).await
    } else {
        call(run, check, TokioIo::new(tcp)).await
    }
}

async fn call<T>(run: &mut Run<'_>, check: &GrpcCheck, io: T) -> Result<Pass, Failure>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let t = Instant::now();
    let handshake = timeout_at(
        run.deadline,
        http2::handshake::<_, _, Full<Bytes>>(TokioExecutor::new(), io),
    )
    .await;
    let (mut sender, conn) = match handshake {
        Err(_) => return Err(timed_out(run, "for the HTTP/2 handshake")),
        Ok(Err(e)) => return Err(protocol_failure(&e)),
        Ok(Ok(pair)) => pair,
    };
    let mut conn = pin!(conn);
    let mut conn_done = false;
    let head = timeout_at(
        run.deadline,
        drive(
            conn.as_mut(),
            &mut conn_done,
            sender.send_request(request(run, check)),
        ),
    )
    .await;
    run.result.timings.add_ttfb(t.elapsed());
    let response = match head {
        Err(_) => return Err(timed_out(run, "for the response")),
        Ok(Err(e)) | Ok(Ok(Err(e))) => return Err(protocol_failure(&e)),
        Ok(Ok(Ok(response))) => response,
    };
    let status = response.status();
    run.result.http_status = Some(status.as_u16());
    if !status.is_success() {
        let (cause, detail) = http::status_cause(status.as_u16());
        return Err(Failure::new(cause, detail, format!("HTTP {status}")));
    }
    // A trailers-only answer (an error) puts grpc-status in the head.
    let head_status = grpc_status(response.headers());
    let mut body = response.into_body();
    let mut message = Vec::new();
    let mut trailers = None;
    while head_status.is_none() {
        let frame = match timeout_at(
            run.deadline,
            drive(conn.as_mut(), &mut conn_done, body.frame()),
        )
        .await
        {
            Err(_) => return Err(timed_out(run, "for the end of the response")),
            Ok(Err(e)) | Ok(Ok(Some(Err(e)))) => return Err(protocol_failure(&e)),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(Ok(frame)))) => frame,
        };
        match frame.into_data() {
            Ok(data) if message.len() + data.len() <= MAX_RESPONSE => {
                message.extend_from_slice(&data)
            }
            Ok(_) => return Err(protocol("a response longer than 64 KiB")),
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    let code = head_status
        .or_else(|| trailers.as_ref().and_then(grpc_status))
        .ok_or_else(|| protocol("no grpc-status in the answer"))?;
    if code.0 != 0 {
        return Err(protocol(&format!(
            "grpc-status {} ({}){}",
            code.0,
            code_name(code.0),
            code.1.map(|m| format!(": {m}")).unwrap_or_default()
        )));
    }
    match serving_status(&message)? {
        1 => Ok(Pass::Up),
        other => Err(Failure::new(
            Cause::Content,
            Detail::NotServing,
            format!(
                "health of {:?} is {}",
                check.service,
                match other {
                    0 => "UNKNOWN",
                    2 => "NOT_SERVING",
                    3 => "SERVICE_UNKNOWN",
                    _ => "an unknown status",
                }
            ),
        )),
    }
}

fn request(run: &Run<'_>, check: &GrpcCheck) -> Request<Full<Bytes>> {
    // HealthCheckRequest { string service = 1; }, length-prefixed (not compressed).
    let mut message = Vec::with_capacity(check.service.len() + 3);
    if !check.service.is_empty() {
        message.push(0x0a);
        put_varint(&mut message, check.service.len() as u64);
        message.extend_from_slice(check.service.as_bytes());
    }
    let mut body = Vec::with_capacity(message.len() + 5);
    body.push(0);
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(&message);
    let mut req = Request::new(Full::new(Bytes::from(body)));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = check.uri.clone();
    let h = req.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    h.insert(header::TE, HeaderValue::from_static("trailers"));
    h.insert(header::USER_AGENT, run.prober.user_agent().clone());
    req
}

/// The `grpc-status` code and `grpc-message`, if the headers carry them.
fn grpc_status(h: &HeaderMap) -> Option<(u32, Option<String>)> {
    let code = h.get("grpc-status")?.to_str().ok()?.trim().parse().ok()?;
    let message = h
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .map(str::to_owned);
    Some((code, message))
}

/// HealthCheckResponse { ServingStatus status = 1; } out of one length-prefixed message.
fn serving_status(body: &[u8]) -> Result<u64, Failure> {
    let (flag, rest) = body
        .split_first()
        .ok_or_else(|| protocol("an empty response"))?;
    if *flag != 0 {
        return Err(protocol("a compressed response (none was offered)"));
    }
    let len = rest
        .get(..4)
        .map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize)
        .ok_or_else(|| protocol("a truncated message prefix"))?;
    let mut msg = rest
        .get(4..4 + len)
        .ok_or_else(|| protocol("a truncated message"))?;
    // Proto3 leaves a zero enum out: an empty message is UNKNOWN.
    let mut status = 0;
    while !msg.is_empty() {
        let key = take_varint(&mut msg)?;
        match (key >> 3, key & 7) {
            (1, 0) => status = take_varint(&mut msg)?,
            (_, 0) => {
                take_varint(&mut msg)?;
            }
            (_, 2) => {
                let n = usize::try_from(take_varint(&mut msg)?).unwrap_or(usize::MAX);
                msg = msg.get(n..).ok_or_else(|| protocol("a truncated field"))?;
            }
            (_, 1) => msg = msg.get(8..).ok_or_else(|| protocol("a truncated field"))?,
            (_, 5) => msg = msg.get(4..).ok_or_else(|| protocol("a truncated field"))?,
            (_, wire) => return Err(protocol(&format!("protobuf wire type {wire}"))),
        }
    }
    Ok(status)
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn take_varint(msg: &mut &[u8]) -> Result<u64, Failure> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = msg
            .split_first()
            .ok_or_else(|| protocol("a truncated varint"))?;
        *msg = rest;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(protocol("a varint longer than 64 bits"))
}

fn code_name(code: u32) -> &'static str {
    match code {
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        16 => "UNAUTHENTICATED",
        _ => "other",
    }
}

fn protocol(what: &str) -> Failure {
    Failure::new(Cause::Content, Detail::Protocol, format!("gRPC: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Outcome, ProbeSpec, Prober, probe};
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use tokio::net::TcpListener;

    /// A gRPC health server on loopback (h2c): the service named in the request decides the
    /// answer: "" and "playback" SERVING, "search" NOT_SERVING, "missing" grpc-status 5.
    async fn health_server() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(s), service_fn(answer))
                        .await;
                });
            }
        });
        port
    }

    type Reply = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

    async fn answer(req: Request<Incoming>) -> Result<hyper::Response<Reply>, hyper::Error> {
        let path_ok = req.uri().path() == HEALTH_CHECK
            && req
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes())
                == Some(b"application/grpc");
        let body = req.into_body().collect().await?.to_bytes();
        // The request: 5-byte prefix, then field 1 (the service name) if any.
        let service = body
            .get(7..)
            .map(|s| String::from_utf8_lossy(s).to_string())
            .unwrap_or_default();
        let mut trailers = HeaderMap::new();
        let (status, code) = match service.as_str() {
            _ if !path_ok => (None, "12"),
            "" | "playback" => (Some(1u8), "0"),
            "search" => (Some(2), "0"),
            _ => (None, "5"),
        };
        trailers.insert("grpc-status", HeaderValue::from_static(code));
        let message: Vec<u8> = match status {
            Some(s) => vec![0, 0, 0, 0, 2, 0x08, s],
            None => Vec::new(),
        };
        let body = Full::new(Bytes::from(message))
            .with_trailers(async move { Some(Ok(trailers)) })
            .boxed();
        Ok(hyper::Response::builder()
            .header(header::CONTENT_TYPE, "application/grpc")
            .body(body)
            .expect("response"))
    }

    fn spec(port: u16, service: Option<&str>) -> ProbeSpec {
        let mut d = ProbeDef::new(ProbeKind::Grpc, format!("http://127.0.0.1:{port}"));
        d.grpc.grpc_service = service.map(str::to_owned);
        d.timeout_ms = Some(2000);
        ProbeSpec::parse(d).expect("spec")
    }

    #[tokio::test]
    async fn health_check_against_a_loopback_h2c_server() {
        let port = health_server().await;
        let prober = Prober::builder()
            .nameservers(vec!["127.0.0.1:9".parse().expect("addr")])
            .build()
            .expect("prober");
        for (service, outcome, detail) in [
            (None, Outcome::Up, None),
            (Some("playback"), Outcome::Up, None),
            (Some("search"), Outcome::Down, Some(Detail::NotServing)),
            (Some("missing"), Outcome::Down, Some(Detail::Protocol)),
        ] {
            let r = probe(&spec(port, service), &prober).await;
            assert_eq!(
                (r.outcome, r.detail),
                (outcome, detail),
                "{service:?}: {}",
                r.explanation()
            );
            assert!(r.timings.connect.is_some() && r.timings.ttfb.is_some());
            if outcome == Outcome::Down {
                assert_eq!(r.cause, Some(Cause::Content));
            }
        }
        let r = probe(&spec(port, Some("missing")), &prober).await;
        assert!(
            r.explanation().contains("grpc-status 5 (NOT_FOUND)"),
            "{}",
            r.explanation()
        );
        // An HTTP/1-only server is not a gRPC server.
        let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let plain_port = plain.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = plain.accept().await {
                use tokio::io::AsyncWriteExt;
                let _ = s
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let r = probe(&spec(plain_port, None), &prober).await;
        assert_eq!(r.outcome, Outcome::Down, "{}", r.explanation());
    }

    #[test]
    fn messages_encode_and_decode() {
        let mut v = Vec::new();
        put_varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        let mut s: &[u8] = &v;
        assert_eq!(take_varint(&mut s).expect("varint"), 300);
        // SERVING, with an unknown field before it.
        let body = [0, 0, 0, 0, 5, 0x12, 1, b'x', 0x08, 1];
        assert_eq!(serving_status(&body).expect("status"), 1);
        assert_eq!(serving_status(&[0, 0, 0, 0, 0]).expect("empty"), 0);
        assert!(serving_status(&[0, 0, 0, 0, 9, 8]).is_err());
        assert!(serving_status(&[1, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn bad_keys_are_refused_by_name() {
        for (target, field) in [
            ("127.0.0.1:50051", "target"),
            ("http://h:50051/some/path", "target"),
            ("grpc://h:50051", "target"),
        ] {
            let d = ProbeDef::new(ProbeKind::Grpc, target);
            let err = ProbeSpec::parse(d).expect_err(target);
            assert_eq!(err.field(), field, "{target}: {err}");
        }
        let mut d = ProbeDef::new(ProbeKind::Grpc, "https://h:443");
        d.grpc.grpc_service = Some("a\nb".into());
        assert_eq!(
            ProbeSpec::parse(d).expect_err("ctl").field(),
            "grpc_service"
        );
        let mut http = ProbeDef::new(ProbeKind::Http, "http://h/");
        http.grpc.grpc_service = Some("x".into());
        assert_eq!(
            ProbeSpec::parse(http).expect_err("http").field(),
            "grpc_service"
        );
    }
}
