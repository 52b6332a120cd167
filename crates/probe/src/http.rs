//! HTTP(S) probes on hyper's low-level HTTP/1 client, so each phase can be timed: the
//! connection is ours (see `connect` and `tls`), hyper only speaks the protocol on it.

use std::borrow::Cow;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::Poll;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::time::{Instant, timeout_at};

use crate::outcome::{Cause, Detail};
use crate::result::human_duration;
use crate::run::{Failure, OVERLOAD_LATENCY_FACTOR, Pass, Run};
use crate::spec::{HttpCheck, HttpUrl};
use crate::{connect, tls};

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
            let tls = tls::handshake(run, tcp, &url.endpoint, &check.tls, true).await?;
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
                .map_err(|e| e.to_string())
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
    for (name, value) in &check.headers {
        h.insert(name.clone(), value.clone());
    }
    req
}

/// Sends the request and reads the body, driving hyper's connection in this task rather than
/// spawning it: one task per probe, nothing left behind when the probe returns.
async fn exchange<T>(
    run: &mut Run<'_>,
    io: T,
    req: Request<Empty<Bytes>>,
    keep_body: bool,
) -> Result<(Response<()>, Vec<u8>), Failure>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = http1::handshake::<_, Empty<Bytes>>(io)
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
async fn drive<C, F>(
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

fn timed_out(run: &Run<'_>, waiting: &str) -> Failure {
    Failure::new(
        Cause::Timeout,
        Detail::TimedOut,
        format!(
            "connected, but waited {} {waiting}",
            human_duration(run.timeout)
        ),
    )
}

fn protocol_failure(e: &hyper::Error) -> Failure {
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
        let (cause, detail) = match code {
            429 | 503 => (Cause::Overload, Detail::Status),
            500..=599 => (Cause::Http5xx, Detail::Status),
            400..=499 => (Cause::Http4xx, Detail::Status),
            300..=399 => (Cause::Content, Detail::Redirect),
            _ => (Cause::Content, Detail::Status),
        };
        return Err(Failure::new(
            cause,
            detail,
            format!("HTTP {code}, expected {}", check.expect_status),
        ));
    }
    if check.needs_body() {
        check_body(check, body)?;
    }
    let total = run.started.elapsed();
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
