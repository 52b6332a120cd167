//! `http` probes over hyper's low-level HTTP/1 client, so each phase can be timed: the
//! connection is ours (see `connect` and [`super::tls`]), hyper only speaks the protocol on
//! it. Their keys ([`HttpDef`]), parsing, run and words.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::str::FromStr;
use std::task::Poll;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use regex::Regex;
use serde::{Deserialize, Serialize};
use tokio::time::{Instant, timeout_at};

use crate::connect;
use crate::endpoint::{Endpoint, Malformed};
use crate::kind::tls::{self, TlsOptions};
use crate::kind::{Keys, ProbeDef, ProbeKind};
use crate::outcome::{Cause, Detail};
use crate::result::{ProbeResult, human_duration};
use crate::run::{Failure, OVERLOAD_LATENCY_FACTOR, Pass, Run};
use crate::spec::SpecError;
use crate::status_ranges::StatusRanges;

/// Most redirects a probe may follow.
pub const MAX_REDIRECTS: u8 = 10;

/// The `http` keys of a [`ProbeDef`]. No request body is ever sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpDef {
    /// The request method (default GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Extra request headers (they replace the probe's own `user-agent`/`connection`),
    /// sent to the target's origin only: a redirect to another scheme, host or port gets
    /// none of them (an `Authorization` or `Cookie` is meant for the target).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Expected statuses, e.g. `200-299,304` or `2xx` (default `200-399`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<String>,
    /// Slower than this (total time) is `degraded`; more than
    /// [`crate::OVERLOAD_LATENCY_FACTOR`] times this is `down` with cause `overload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<u64>,
    /// The body must contain this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// The body must match this regex (Rust `regex` syntax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_regex: Option<String>,
    /// An RFC 6901 JSON pointer (`/status`) that must exist in the JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_pointer: Option<String>,
    /// The value the JSON pointer must hold (needs `json_pointer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_equals: Option<serde_json::Value>,
    /// Redirects to follow (default 0: a 3xx is the answer), at most 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_redirects: Option<u8>,
}

impl Keys for HttpDef {
    const KINDS: &'static [ProbeKind] = &[ProbeKind::Http];
    fn first_given(&self) -> Option<&'static str> {
        [
            ("method", self.method.is_some()),
            ("headers", !self.headers.is_empty()),
            ("expect_status", self.expect_status.is_some()),
            ("max_latency_ms", self.max_latency_ms.is_some()),
            ("body_contains", self.body_contains.is_some()),
            ("body_regex", self.body_regex.is_some()),
            ("json_pointer", self.json_pointer.is_some()),
            ("json_equals", self.json_equals.is_some()),
            ("max_redirects", self.max_redirects.is_some()),
        ]
        .into_iter()
        .find_map(|(key, given)| given.then_some(key))
    }
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
    /// The host and port connected to (of the first request).
    pub fn endpoint(&self) -> &Endpoint {
        &self.url.endpoint
    }

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
    pub(crate) fn parse(s: &str) -> Result<Self, Malformed> {
        let uri: Uri = s
            .trim()
            .parse()
            .map_err(|e| Malformed(format!("`{s}` is not a URL: {e}")))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(Malformed(format!("scheme `{other}` is not http or https")));
            }
            None => {
                return Err(Malformed(format!(
                    "`{s}` has no scheme (write http://... or https://...)"
                )));
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| Malformed(format!("`{s}` has no host")))?;
        if authority.as_str().contains('@') {
            return Err(Malformed(
                "user info in URLs is not supported; use an Authorization header".into(),
            ));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let endpoint = Endpoint::new(host, port)?;
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|_| Malformed(format!("`{authority}` cannot be a Host header")))?;
        let path = match uri.path_and_query() {
            Some(pq) if !pq.as_str().is_empty() => Uri::from_str(pq.as_str()),
            _ => Ok(Uri::from_static("/")),
        }
        .map_err(|e| Malformed(format!("bad path in `{s}`: {e}")))?;
        Ok(HttpUrl {
            https,
            endpoint,
            host_header,
            path,
        })
    }

    /// Whether `other` has the same origin: scheme, host and port.
    pub(crate) fn same_origin(&self, other: &HttpUrl) -> bool {
        self.https == other.https
            && self.endpoint.host() == other.endpoint.host()
            && self.endpoint.port() == other.endpoint.port()
    }

    /// Resolves a `Location` header against this URL: absolute URLs, `//host/...`,
    /// `/absolute/path` and `relative` paths.
    pub(crate) fn join(&self, location: &str) -> Result<Self, Malformed> {
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

pub(crate) fn parse(def: &ProbeDef) -> Result<HttpCheck, SpecError> {
    let http = &def.http;
    let url = HttpUrl::parse(&def.target).map_err(|e| SpecError::invalid("target", e))?;
    let method = match &http.method {
        None => Method::GET,
        Some(m) => Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes())
            .map_err(|_| SpecError::invalid("method", format!("`{m}` is not an HTTP method")))?,
    };
    let mut headers = HeaderMap::with_capacity(http.headers.len());
    for (name, value) in &http.headers {
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
    let expect_status = match &http.expect_status {
        None => StatusRanges::default(),
        Some(s) => StatusRanges::parse(s).map_err(|e| SpecError::invalid("expect_status", e))?,
    };
    let max_latency = match http.max_latency_ms {
        Some(0) => return Err(SpecError::invalid("max_latency_ms", "must be more than 0")),
        ms => ms.map(Duration::from_millis),
    };
    let body_contains = match &http.body_contains {
        Some(s) if s.is_empty() => return Err(SpecError::invalid("body_contains", "is empty")),
        other => other.clone(),
    };
    let body_regex = http
        .body_regex
        .as_deref()
        .map(Regex::new)
        .transpose()
        .map_err(|e| SpecError::invalid("body_regex", e.to_string()))?;
    if let Some(p) = &http.json_pointer
        && !(p.is_empty() || p.starts_with('/'))
    {
        return Err(SpecError::invalid(
            "json_pointer",
            "must be empty or start with `/` (RFC 6901)",
        ));
    }
    if http.json_equals.is_some() && http.json_pointer.is_none() {
        return Err(SpecError::invalid("json_equals", "needs `json_pointer`"));
    }
    let max_redirects = http.max_redirects.unwrap_or(0);
    if max_redirects > MAX_REDIRECTS {
        return Err(SpecError::invalid(
            "max_redirects",
            format!("at most {MAX_REDIRECTS}"),
        ));
    }
    let tls = tls::parse_options(&def.tls)?;
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
        json_pointer: http.json_pointer.clone(),
        json_equals: http.json_equals.clone(),
        max_redirects,
        tls,
    })
}

pub(crate) fn up_words(result: &ProbeResult) -> String {
    result
        .http_status
        .map(|code| format!(": HTTP {code}"))
        .unwrap_or_default()
}

/// Body bytes kept for content checks; a health page larger than this is checked on its start.
const MAX_KEPT_BODY: usize = 1 << 20;
/// Body bytes read at most when nothing looks at them, so a streaming endpoint cannot hold
/// the probe until its timeout.
const MAX_DRAINED_BODY: usize = 16 << 20;

pub(crate) async fn run(run: &mut Run<'_>, check: &HttpCheck) -> Result<Pass, Failure> {
    let mut url = Cow::Borrowed(&check.url);
    let mut method = check.method.clone();
    loop {
        let tcp = connect::open(run, &url.endpoint).await?;
        let req = request(run, check, &url, &method);
        let keep = check.needs_body();
        let (response, body) = if url.https {
            let tls = tls::handshake(run, tcp, &url.endpoint, &check.tls, tls::ALPN_HTTP1).await?;
            exchange(run, TokioIo::new(tls), req, keep).await?
        } else {
            exchange(run, TokioIo::new(tcp), req, keep).await?
        };
        let status = response.status();
        run.result.http_status = Some(status.as_u16());
        if status.is_redirection()
            && run.result.redirects < check.max_redirects
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
                        format!("bad Location: {e}"),
                    )
                })?;
            url = Cow::Owned(next);
            run.result.redirects += 1;
            if status == StatusCode::SEE_OTHER {
                method = Method::GET;
            }
            continue;
        }
        return judge(run, check, status, &body);
    }
}

fn request(
    run: &Run<'_>,
    check: &HttpCheck,
    url: &HttpUrl,
    method: &Method,
) -> Request<Empty<Bytes>> {
    let mut req = Request::new(Empty::new());
    *req.method_mut() = method.clone();
    *req.uri_mut() = url.path.clone();
    let h = req.headers_mut();
    h.insert(header::HOST, url.host_header.clone());
    h.insert(header::USER_AGENT, run.prober.user_agent().clone());
    h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    // The server closes first, so its side holds TIME_WAIT, not the prober's ephemeral ports.
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    // The configured headers (Authorization, Cookie, an API key...) are meant for the
    // configured target: a redirect to another origin gets none of them.
    if url.same_origin(&check.url) {
        for (name, value) in &check.headers {
            h.insert(name.clone(), value.clone());
        }
    }
    req
}

/// Sends the request and reads the body, driving hyper's connection in this task rather than
/// spawning it: one task per probe, nothing left behind when the probe returns.
pub(crate) async fn exchange<T, B>(
    run: &mut Run<'_>,
    io: T,
    req: Request<B>,
    keep_body: bool,
) -> Result<(Response<()>, Vec<u8>), Failure>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut sender, conn) = http1::handshake::<_, B>(io)
        .await
        .map_err(|e| protocol_failure(&e))?;
    let mut conn = pin!(conn);
    let mut conn_done = false;

    let t = Instant::now();
    let head = timeout_at(
        run.deadline,
        drive(conn.as_mut(), &mut conn_done, sender.send_request(req)),
    )
    .await;
    run.result.timings.add_ttfb(t.elapsed());
    let response = match head {
        Err(_) => return Err(timed_out(run, "for the response")),
        Ok(Err(e)) | Ok(Ok(Err(e))) => return Err(protocol_failure(&e)),
        Ok(Ok(Ok(response))) => response,
    };
    let (parts, mut body) = response.into_parts();
    let mut kept = Vec::new();
    let mut read = 0usize;
    loop {
        let frame = match timeout_at(
            run.deadline,
            drive(conn.as_mut(), &mut conn_done, body.frame()),
        )
        .await
        {
            Err(_) => return Err(timed_out(run, "for the end of the body")),
            Ok(Err(e)) | Ok(Ok(Some(Err(e)))) => return Err(protocol_failure(&e)),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(Ok(frame)))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            read += data.len();
            if keep_body && kept.len() < MAX_KEPT_BODY {
                let room = MAX_KEPT_BODY - kept.len();
                kept.extend_from_slice(&data[..data.len().min(room)]);
            }
            if read >= MAX_DRAINED_BODY || (keep_body && kept.len() >= MAX_KEPT_BODY) {
                break;
            }
        }
    }
    Ok((Response::from_parts(parts, ()), kept))
}

/// Polls `fut` while also polling the connection that feeds it.
pub(crate) async fn drive<C, F>(
    mut conn: Pin<&mut C>,
    conn_done: &mut bool,
    fut: F,
) -> Result<F::Output, hyper::Error>
where
    C: Future<Output = Result<(), hyper::Error>>,
    F: Future,
{
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        if !*conn_done {
            match conn.as_mut().poll(cx) {
                Poll::Ready(Ok(())) => {
                    // The connection finished (the server closed it); whatever it delivered is
                    // buffered, so the request or body future resolves now or errors.
                    *conn_done = true;
                    if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                        return Poll::Ready(Ok(out));
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        Poll::Pending
    })
    .await
}

pub(crate) fn timed_out(run: &Run<'_>, waiting: &str) -> Failure {
    Failure::new(
        Cause::Timeout,
        Detail::TimedOut,
        format!(
            "connected, but waited {} {waiting}",
            human_duration(run.timeout)
        ),
    )
}

pub(crate) fn protocol_failure(e: &hyper::Error) -> Failure {
    // A server that accepts and then hangs up without an answer reads as a reset connection,
    // which is how people describe it; a malformed answer is a content problem.
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        Failure::new(
            Cause::Connect,
            Detail::Reset,
            format!("connection closed without a response: {e}"),
        )
    } else {
        let mut msg = e.to_string();
        if let Some(src) = std::error::Error::source(e) {
            msg.push_str(": ");
            msg.push_str(&src.to_string());
        }
        let detail = if msg.contains("reset") {
            Detail::Reset
        } else {
            Detail::Protocol
        };
        let cause = if detail == Detail::Reset {
            Cause::Connect
        } else {
            Cause::Content
        };
        Failure::new(cause, detail, msg)
    }
}

fn judge(
    run: &Run<'_>,
    check: &HttpCheck,
    status: StatusCode,
    body: &[u8],
) -> Result<Pass, Failure> {
    let code = status.as_u16();
    if !check.expect_status.contains(code) {
        let (cause, detail) = status_cause(code);
        return Err(Failure::new(
            cause,
            detail,
            format!("HTTP {code}, expected {}", check.expect_status),
        ));
    }
    if check.needs_body() {
        check_body(check, body)?;
    }
    // The target's time: a spell in which this host could not run is not the target's.
    let total = run.elapsed_unstalled();
    if let Some(max) = check.max_latency {
        if total > max * OVERLOAD_LATENCY_FACTOR {
            return Err(Failure::new(
                Cause::Overload,
                Detail::Slow,
                format!(
                    "answered in {}, more than {OVERLOAD_LATENCY_FACTOR}x the {} limit",
                    human_duration(total),
                    human_duration(max)
                ),
            ));
        }
        if total > max {
            return Ok(Pass::Degraded(
                Detail::Slow,
                Some(format!("over the {} limit", human_duration(max))),
            ));
        }
    }
    if check.url.https || run.result.certificate.is_some() {
        return Ok(tls::expiry_verdict(run, &check.tls));
    }
    Ok(Pass::Up)
}

/// The cause and detail of an unexpected HTTP status.
pub(crate) fn status_cause(code: u16) -> (Cause, Detail) {
    match code {
        429 | 503 => (Cause::Overload, Detail::Status),
        500..=599 => (Cause::Http5xx, Detail::Status),
        400..=499 => (Cause::Http4xx, Detail::Status),
        300..=399 => (Cause::Content, Detail::Redirect),
        _ => (Cause::Content, Detail::Status),
    }
}

fn check_body(check: &HttpCheck, body: &[u8]) -> Result<(), Failure> {
    let text = String::from_utf8_lossy(body);
    if let Some(needle) = &check.body_contains
        && !text.contains(needle.as_str())
    {
        return Err(Failure::new(
            Cause::Content,
            Detail::BodyMismatch,
            format!("body does not contain {needle:?}"),
        ));
    }
    if let Some(re) = &check.body_regex
        && !re.is_match(&text)
    {
        return Err(Failure::new(
            Cause::Content,
            Detail::BodyMismatch,
            format!("body does not match /{re}/"),
        ));
    }
    if let Some(pointer) = &check.json_pointer {
        let json: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            Failure::new(
                Cause::Content,
                Detail::JsonMismatch,
                format!("body is not JSON: {e}"),
            )
        })?;
        let found = json.pointer(pointer).ok_or_else(|| {
            Failure::new(
                Cause::Content,
                Detail::JsonMismatch,
                format!("no value at JSON pointer {pointer}"),
            )
        })?;
        if let Some(want) = &check.json_equals
            && found != want
        {
            return Err(Failure::new(
                Cause::Content,
                Detail::JsonMismatch,
                format!("{pointer} is {found}, expected {want}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn origins_are_scheme_host_and_port() {
        let base = HttpUrl::parse("https://Example.com/a").expect("valid");
        for (next, same) in [
            ("/b", true),
            ("https://example.com:443/c", true),
            ("https://EXAMPLE.com./d", true),
            ("http://example.com/a", false),
            ("https://example.com:8443/a", false),
            ("https://other.example/a", false),
            ("//api.example.com/a", false),
        ] {
            let joined = base.join(next).expect("join");
            assert_eq!(joined.same_origin(&base), same, "{next}");
        }
    }
}
