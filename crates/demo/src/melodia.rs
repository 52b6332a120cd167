//! Melodia, the fake music-streaming service, on loopback over real TLS:
//!
//! - `api.melodia.test` (127.0.0.1): the login handshake (`/v1/handshake`) and the playlists
//!   API (`/v1/playlists`);
//! - `cdn.melodia.test`: the playback API serving audio chunks (`/v1/chunks/N`) from one edge
//!   per region — 127.0.0.2, .3 and .4, all on the same port; Melodia's DNS sends each region
//!   to its own edge, as a CDN's does.
//!
//! Faults ([`Faults`]) are read on every connection and request.

use crate::certs::Certs;
use crate::faults::{Fault, Faults, OverloadAnswer, REGIONS};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::Service;

/// How long a slow answer takes under overload.
const SLOW: Duration = Duration::from_millis(1500);
/// A chunk of "audio".
const CHUNK_BYTES: usize = 16 * 1024;

/// Where Melodia listens.
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    /// The API host's port on 127.0.0.1.
    pub api_port: u16,
    /// The CDN edges' common port.
    pub cdn_port: u16,
}

/// The edge address of region `i`: 127.0.0.2 for the first.
pub fn edge_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 2 + i as u8)
}

/// Picks the API's certificate per handshake: the expired one while that fault is on.
#[derive(Debug)]
struct ApiCert {
    faults: Arc<Faults>,
    valid: Arc<CertifiedKey>,
    expired: Arc<CertifiedKey>,
}

impl ResolvesServerCert for ApiCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(if self.faults.is_on(Fault::ExpiredCertificate) {
            self.expired.clone()
        } else {
            self.valid.clone()
        })
    }
}

#[derive(Debug)]
struct FixedCert(Arc<CertifiedKey>);

impl ResolvesServerCert for FixedCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

fn acceptor(resolver: Arc<dyn ResolvesServerCert>) -> TlsAcceptor {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default protocol versions")
    .with_no_client_auth()
    .with_cert_resolver(resolver);
    TlsAcceptor::from(Arc::new(config))
}

/// Starts the API host and the three edges; they run until the runtime stops.
pub async fn start(certs: &Certs, faults: Arc<Faults>) -> std::io::Result<Addresses> {
    let api = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let api_port = api.local_addr()?.port();
    let api_tls = acceptor(Arc::new(ApiCert {
        faults: faults.clone(),
        valid: certs.valid.clone(),
        expired: certs.expired.clone(),
    }));
    let api_router = Router::new()
        .route("/v1/handshake", get(handshake))
        .route("/v1/playlists", get(playlists))
        .route("/health", get(|| async { "ok" }))
        .with_state(faults.clone());
    tokio::spawn(accept_loop(api, api_tls, api_router, faults.clone(), true));

    let (edges, cdn_port) = bind_edges().await?;
    let edge_tls = acceptor(Arc::new(FixedCert(certs.valid.clone())));
    for (i, listener) in edges.into_iter().enumerate() {
        let router = Router::new()
            .route("/v1/chunks/{n}", get(chunk))
            .route("/health", get(|| async { "ok" }))
            .with_state(Edge {
                faults: faults.clone(),
                region: i,
            });
        tokio::spawn(accept_loop(
            listener,
            edge_tls.clone(),
            router,
            faults.clone(),
            false,
        ));
    }
    Ok(Addresses { api_port, cdn_port })
}

/// One listener per edge address, all on the same port (tried a few times: another program
/// may hold the first free port on the other addresses).
async fn bind_edges() -> std::io::Result<(Vec<TcpListener>, u16)> {
    let mut last = None;
    for _ in 0..20 {
        let first = TcpListener::bind((edge_ip(0), 0)).await?;
        let port = first.local_addr()?.port();
        let mut all = vec![first];
        for i in 1..REGIONS.len() {
            match TcpListener::bind((edge_ip(i), port)).await {
                Ok(l) => all.push(l),
                Err(e) => {
                    last = Some(e);
                    break;
                }
            }
        }
        if all.len() == REGIONS.len() {
            return Ok((all, port));
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no common port for the CDN edges")))
}

async fn accept_loop(
    listener: TcpListener,
    tls: TlsAcceptor,
    router: Router,
    faults: Arc<Faults>,
    is_api: bool,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (tls, router) = (tls.clone(), router.clone());
        let refuse = is_api && faults.is_on(Fault::Handshake);
        tokio::spawn(async move {
            if refuse {
                refuse_handshake(stream).await;
                return;
            }
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), tls.accept(stream)).await
            else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let mut router = router.clone();
                async move { router.call(req).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Reads the ClientHello and answers with a fatal `handshake_failure` alert, as a TLS
/// front end with a broken configuration does.
async fn refuse_handshake(mut stream: TcpStream) {
    let mut hello = [0u8; 2048];
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut hello)).await;
    // record: alert, TLS 1.2, length 2; alert: fatal (2), handshake_failure (40)
    let _ = stream
        .write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
        .await;
    let _ = stream.shutdown().await;
}

/// The overload answer, if the API is overloaded: 503 now, or nothing after a wait.
async fn overloaded(faults: &Faults) -> Option<Response> {
    match faults.overload_answer()? {
        OverloadAnswer::Unavailable => Some(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "30")],
                "too many requests, try again later",
            )
                .into_response(),
        ),
        OverloadAnswer::Slow => {
            tokio::time::sleep(SLOW).await;
            None
        }
    }
}

fn json(body: serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn handshake(State(faults): State<Arc<Faults>>) -> Response {
    if let Some(r) = overloaded(&faults).await {
        return r;
    }
    json(serde_json::json!({
        "status": "ok",
        "session": format!("{:016x}", rand::random::<u64>()),
        "expires_in": 3600,
    }))
}

async fn playlists(State(faults): State<Arc<Faults>>) -> Response {
    if let Some(r) = overloaded(&faults).await {
        return r;
    }
    json(serde_json::json!({
        "playlists": [
            {"id": "daily-mix-1", "name": "Daily Mix 1", "tracks": 50},
            {"id": "discover", "name": "Discover Weekly", "tracks": 30},
            {"id": "liked", "name": "Liked Songs", "tracks": 1234},
        ]
    }))
}

#[derive(Clone)]
struct Edge {
    faults: Arc<Faults>,
    region: usize,
}

async fn chunk(State(edge): State<Edge>, Path(n): Path<u32>) -> Response {
    if edge.faults.is_on(Fault::Cdn(edge.region)) {
        return (StatusCode::BAD_GATEWAY, "edge cannot reach the origin").into_response();
    }
    // Bytes that differ per chunk, like audio would.
    let body: Vec<u8> = (0..CHUNK_BYTES)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).wrapping_add(n) as u8)
        .collect();
    ([(header::CONTENT_TYPE, "audio/ogg")], body).into_response()
}

/// The address a region's probes reach `cdn.melodia.test` at.
pub fn edge_addr(i: usize, port: u16) -> SocketAddr {
    SocketAddr::from((edge_ip(i), port))
}
