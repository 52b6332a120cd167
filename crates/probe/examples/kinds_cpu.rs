//! CPU per probe of each kind against loopback targets, HTTP first as the reference.
//!
//! Run: `cargo run --release -p downbeat-probe --example kinds_cpu -- [probes]` (default
//! 1000 per kind). The targets run on their own thread and runtime; the prober runs probes
//! one after another on a current-thread runtime on the main thread, whose CPU time
//! (`/proc/thread-self/schedstat`, nanoseconds) is the figure printed: the probe's cost,
//! not the target's. Ping needs an ICMP socket (root, or `net.ipv4.ping_group_range`) and is
//! skipped without one.

use std::time::{Duration, Instant};

use base64::Engine as _;
use downbeat_probe::kind::StepDef;
use downbeat_probe::{Outcome, ProbeDef, ProbeKind, ProbeSpec, Prober, probe};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() {
    let probes: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000)
        .clamp(1, 100_000);
    let (http_port, ws_port, grpc_port) = start_targets();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let prober = Prober::builder()
            .nameservers(vec!["127.0.0.1:9".parse().expect("addr")])
            .build()
            .expect("prober");
        let base = format!("http://127.0.0.1:{http_port}");
        let mut specs: Vec<(&str, ProbeDef)> = Vec::new();
        specs.push(("http", ProbeDef::new(ProbeKind::Http, format!("{base}/"))));
        let mut ping = ProbeDef::new(ProbeKind::Ping, "127.0.0.1");
        ping.ping.count = Some(1);
        specs.push(("ping (1 echo)", ping));
        let mut domain = ProbeDef::new(ProbeKind::Domain, "melodia.example");
        domain.domain.rdap_url = Some(format!("{base}/rdap"));
        specs.push(("domain", domain));
        let mut ws = ProbeDef::new(ProbeKind::WebSocket, format!("ws://127.0.0.1:{ws_port}/"));
        ws.websocket.send = Some("ping".into());
        ws.websocket.expect = Some("ping".into());
        specs.push(("websocket (send+expect)", ws));
        specs.push((
            "grpc",
            ProbeDef::new(ProbeKind::Grpc, format!("http://127.0.0.1:{grpc_port}")),
        ));
        let mut flow = ProbeDef::new(ProbeKind::Flow, base.clone());
        let mut login = StepDef {
            url: "/login".into(),
            method: Some("POST".into()),
            ..StepDef::default()
        };
        login.capture.insert("token".into(), "/token".into());
        let mut fetch = StepDef {
            url: "/playlist".into(),
            ..StepDef::default()
        };
        fetch
            .headers
            .insert("authorization".into(), "Bearer ${token}".into());
        flow.flow.step = vec![login, fetch];
        specs.push(("flow (2 steps)", flow));

        for (label, def) in specs {
            let spec = ProbeSpec::parse(def).expect("spec");
            let first = probe(&spec, &prober).await;
            if first.outcome == Outcome::Down {
                println!("{label:>24}: skipped ({})", first.explanation());
                continue;
            }
            for _ in 0..20 {
                probe(&spec, &prober).await;
            }
            let (t0, c0) = (Instant::now(), thread_cpu());
            let mut down = 0;
            for _ in 0..probes {
                down += u32::from(probe(&spec, &prober).await.outcome == Outcome::Down);
            }
            let (wall, cpu) = (t0.elapsed(), thread_cpu() - c0);
            println!(
                "{label:>24}: {probes} probes ({down} down) in {:.2} s; CPU per probe {:.1} µs",
                wall.as_secs_f64(),
                cpu.as_secs_f64() * 1e6 / f64::from(probes)
            );
        }
    });
}

/// The calling thread's CPU time so far.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// HTTP (also RDAP and the flow's API), WebSocket and gRPC targets on their own thread.
fn start_targets() -> (u16, u16, u16) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("target runtime");
        rt.block_on(async move {
            let http = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let ws = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let grpc = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let ports = [&http, &ws, &grpc].map(|l| l.local_addr().expect("addr").port());
            tx.send((ports[0], ports[1], ports[2])).expect("send ports");
            tokio::spawn(accept(http, serve_http));
            tokio::spawn(accept(ws, serve_ws));
            loop {
                let Ok((s, _)) = grpc.accept().await else {
                    continue;
                };
                // As gRPC servers do: without it, Nagle holds the trailers back.
                let _ = s.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(s), hyper::service::service_fn(health))
                        .await;
                });
            }
        });
    });
    rx.recv().expect("ports")
}

async fn accept<F, Fut>(listener: TcpListener, serve: F)
where
    F: Fn(TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    while let Ok((s, _)) = listener.accept().await {
        tokio::spawn(serve(s));
    }
}

async fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

async fn serve_http(mut s: TcpStream) {
    let Some(head) = read_head(&mut s).await else {
        return;
    };
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let body = if path.starts_with("/rdap/") {
        r#"{"objectClassName":"domain","events":[{"eventAction":"expiration","eventDate":"2099-01-01T00:00:00Z"}]}"#
    } else if path == "/login" {
        r#"{"token":"abc"}"#
    } else {
        "ok"
    };
    let reply = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(reply.as_bytes()).await;
    let _ = s.shutdown().await;
}

async fn serve_ws(mut s: TcpStream) {
    let Some(head) = read_head(&mut s).await else {
        return;
    };
    let key = head
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap_or_default()
        .trim();
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes(),
    );
    let accept = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    let reply = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    let _ = s.write_all(reply.as_bytes()).await;
    // One masked text frame of under 126 bytes in, echoed unmasked.
    let mut hdr = [0u8; 6];
    if s.read_exact(&mut hdr).await.is_err() {
        return;
    }
    let mut payload = vec![0u8; usize::from(hdr[1] & 0x7f)];
    if s.read_exact(&mut payload).await.is_err() {
        return;
    }
    payload
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b ^= hdr[2 + i % 4]);
    let mut frame = vec![0x81, payload.len() as u8];
    frame.extend_from_slice(&payload);
    let _ = s.write_all(&frame).await;
    let mut sink = [0u8; 64];
    while let Ok(n) = s.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
}

type Reply = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

async fn health(req: hyper::Request<Incoming>) -> Result<hyper::Response<Reply>, hyper::Error> {
    let _ = req.into_body().collect().await?;
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let body = Full::new(Bytes::from_static(&[0, 0, 0, 0, 2, 0x08, 1]))
        .with_trailers(async move { Some(Ok(trailers)) })
        .boxed();
    Ok(hyper::Response::builder()
        .header("content-type", "application/grpc")
        .body(body)
        .expect("response"))
}
