//! The listener under slow and greedy clients: half-open connections are closed after the
//! header timeout while others are served, a request whose body never finishes gets 408,
//! and connections past the cap are closed at accept.

use crate::helpers::*;
use downbeat_store::testing;
use reqwest::StatusCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or resets it); what it sent before that.
async fn until_closed(s: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server closes the connection");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_are_closed_while_other_clients_are_served() {
    let app = spawn_with(testing::sqlite(), r#"header_timeout = "1s""#).await;
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"GET /healthz HT").await.unwrap();
        slow.push(s);
    }
    for _ in 0..20 {
        let (status, _) = app.get_json("/healthz").await;
        assert_eq!(status, StatusCode::OK);
    }
    // The header timeout is 1 s; 20 s only bounds a broken server.
    for s in &mut slow {
        until_closed(s, Duration::from_secs(20)).await;
    }
    let (status, _) = app.get_json("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn a_request_whose_body_never_finishes_gets_408() {
    let app = spawn_with(testing::sqlite(), r#"request_timeout = "1s""#).await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(
        b"POST /api/v1/services/melodia/reports HTTP/1.1\r\nhost: x\r\n\
          content-type: application/json\r\ncontent-length: 100\r\n\r\n{\"problem\"",
    )
    .await
    .unwrap();
    let answer = until_closed(&mut s, Duration::from_secs(20)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_at_accept() {
    let app = spawn_with(testing::sqlite(), "max_connections = 3").await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(app.addr).await.unwrap();
        // A complete request: the connection is being served, then kept alive.
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    let mut extra = TcpStream::connect(app.addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let answer = until_closed(&mut extra, Duration::from_secs(20)).await;
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    drop(held);
    until("a slot is free again", || async {
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    app.stop().await;
}

/// A proxy on this machine that forwards requests but is not in `server.trusted_proxies`
/// makes every client look the same: the server says so, once.
#[tokio::test]
async fn an_untrusted_proxy_on_this_machine_is_warned_about_once() {
    // One runtime thread: the server's tasks log through this subscriber.
    let (logs, _guard) = downbeat_server::testing::capture_logs();
    let clock = std::sync::Arc::new(downbeat_domain::ManualClock::new(jiff::Timestamp::now()));
    let config = "[[service]]\nid = \"melodia\"\nname = \"Melodia\"\n";
    let app = spawn_raw(testing::sqlite(), config, clock).await;
    for i in 0..3 {
        let r = app
            .client
            .get(app.url("/healthz"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    app.stop().await;
    let text = logs.text();
    let warnings = text.matches("not in server.trusted_proxies").count();
    assert_eq!(warnings, 1, "{text}");
}
