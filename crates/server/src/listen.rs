//! The HTTP listener, hardened against slow and greedy clients: a header-read deadline that
//! also ends idle kept-alive connections, a deadline per request (body included), a cap on
//! open connections, and a grace period on shutdown after which stragglers are closed. Each
//! request runs in a tracing span naming its method and route template.
//!
//! A client that sends half a request line and waits holds a connection and a task; without
//! these limits a few hundred such clients hold the server's memory and file descriptors
//! for ever.

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use downbeat_config::ServerConfig;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use ipnet::IpNet;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tracing::Instrument;

/// The limits of one listener.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
    /// `server.trusted_proxies`, to notice a proxy on this machine that is not among them.
    pub trusted_proxies: Arc<[IpNet]>,
}

impl Limits {
    pub fn of(server: &ServerConfig) -> Limits {
        Limits {
            header_timeout: server.header_timeout.as_duration(),
            request_timeout: server.request_timeout.as_duration(),
            max_connections: server.max_connections,
            shutdown_grace: server.shutdown_grace.as_duration(),
            trusted_proxies: server.trusted_proxies.clone().into(),
        }
    }
}

/// Says once that a proxy on this machine forwards requests but is not trusted: every
/// client then looks like the proxy (one identity, one rate limit for everybody).
struct UntrustedProxy {
    trusted: Arc<[IpNet]>,
    told: AtomicBool,
}

impl UntrustedProxy {
    fn check(&self, peer: SocketAddr, headers: &axum::http::HeaderMap) {
        let ip = peer.ip().to_canonical();
        if ip.is_loopback()
            && headers.contains_key("x-forwarded-for")
            && !self.trusted.iter().any(|n| n.contains(&ip))
            && !self.told.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                peer = %ip,
                "requests from {ip} carry X-Forwarded-For, but {ip} is not in server.trusted_proxies: \
                 every client behind that proxy counts as one; list the proxy there if it is yours"
            );
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets
/// open connections finish their requests for up to the grace period, and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router.layer(GuardLayer {
        deadline: limits.request_timeout,
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let proxy = Arc::new(UntrustedProxy {
        trusted: limits.trusted_proxies.clone(),
        told: AtomicBool::new(false),
    });
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: keep serving
                    // the others; back off a little so a full table does not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "connection limit reached; closed at accept");
            drop(stream);
            continue;
        };
        let proxy = proxy.clone();
        let service = router
            .clone()
            .map_request(move |mut req: Request<Incoming>| {
                proxy.check(peer, req.headers());
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Header timeouts and clients that vanish end here; they are not our errors.
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!(grace = ?limits.shutdown_grace, "connections still open after the shutdown grace period; closing them");
        }
    }
    Ok(())
}

/// Every request, in one layer: runs it inside a `request` span, so every log line a
/// handler writes names its request (method and route template, never the raw path or
/// query, which the client chooses), and answers 408 when a request with a body takes
/// longer than the deadline.
///
/// Written by hand rather than with `from_fn`, and with reads' spans at debug level: a
/// cached status page costs about 24,000 instructions to serve, and the `from_fn` machinery
/// and an info span (whose fields the text log formats when it opens, whether or not a
/// line is written in it) added half as much again. Reads of the public pages log nothing
/// per request; every other method (reports, sign-ins, operator writes) gets its span at
/// info level, and `--log-filter debug` gives reads theirs.
#[derive(Clone)]
struct Guard<S> {
    inner: S,
    deadline: Duration,
}

#[derive(Clone)]
struct GuardLayer {
    deadline: Duration,
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guard<S>;
    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            deadline: self.deadline,
        }
    }
}

type GuardFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> tower::Service<Request> for Guard<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GuardFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> GuardFuture {
        let span = request_span(&req);
        // The deadline is for clients that trickle a body: a request without one has been
        // read whole already (the header timeout saw to it), so it skips the timer.
        let has_body = req.headers().contains_key(header::CONTENT_LENGTH)
            || req.headers().contains_key(header::TRANSFER_ENCODING);
        let run = self.inner.call(req);
        if !has_body {
            return Box::pin(run.instrument(span));
        }
        let deadline = self.deadline;
        Box::pin(
            async move {
                match tokio::time::timeout(deadline, run).await {
                    Ok(resp) => resp,
                    Err(_) => Ok((
                        StatusCode::REQUEST_TIMEOUT,
                        axum::Json(
                            serde_json::json!({"error": "the request took too long; send it again"}),
                        ),
                    )
                        .into_response()),
                }
            }
            .instrument(span),
        )
    }
}

/// The span a request runs in: info for writes, debug for reads (see [`Guard`]).
fn request_span(req: &Request) -> tracing::Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str());
    let method = req.method();
    if method == Method::GET || method == Method::HEAD {
        tracing::debug_span!("request", method = %method, route = %route)
    } else {
        tracing::info_span!("request", method = %method, route = %route)
    }
}
