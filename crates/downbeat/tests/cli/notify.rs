//! Notifications survive `kill -9`: a server with deliveries pending to a receiver that is
//! down is killed with SIGKILL, restarted, the receiver comes up, and every event arrives —
//! signed, and exactly once each.

use super::{MELODIA, create_token, start_server};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const SECRET: &str = "kill-nine-secret-0123";

/// A minimal HTTP/1 receiver on `port`: verifies each request's signature and records its
/// event id (a bad signature is recorded as such).
async fn receiver(port: u16) -> Arc<Mutex<Vec<String>>> {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the receiver's port is free again");
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = l.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(stream);
                let mut headers = HashMap::new();
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                    }
                }
                let len: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                if r.read_exact(&mut body).await.is_err() {
                    return;
                }
                let h = |k: &str| headers.get(k).cloned().unwrap_or_default();
                let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
                mac.update(format!("{}.", h("x-downbeat-timestamp")).as_bytes());
                mac.update(&body);
                let hex: String = mac
                    .finalize()
                    .into_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let ok = h("x-downbeat-signature") == format!("sha256={hex}");
                s.lock().unwrap().push(if ok {
                    h("x-downbeat-event-id")
                } else {
                    "BAD SIGNATURE".into()
                });
                let _ = r
                    .get_mut()
                    .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_pending_at_a_sigkill_are_each_delivered_once_after_restart() {
    // A port for the receiver, closed for now: every attempt is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = (dir.path().join("downbeat.toml"), dir.path().join("data"));
    std::fs::write(
        &config,
        format!(
            "{MELODIA}\n[notify]\npublic_url = \"https://status.example\"\nretry_after = \"1s\"\ntimeout = \"2s\"\n\
             [[notify.webhook]]\nid = \"hook\"\nurl = \"http://127.0.0.1:{port}/hook\"\nsecret = \"{SECRET}\"\n"
        ),
    )
    .unwrap();
    let mut server = start_server(&config, &data);
    let (code, token, err) = create_token(&config, &data, "ci", "editor");
    assert_eq!(code, 0, "{err}");
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = client
            .post(format!(
                "http://{}/api/v1/services/melodia/incidents",
                server.addr
            ))
            .bearer_auth(&token)
            .json(&serde_json::json!({"title": format!("Outage {i}"), "message": "Looking."}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let v: serde_json::Value = r.json().await.unwrap();
        ids.push(format!("incident-{}-update-1", v["id"]));
    }
    // Let the first attempts fail against the closed port, then kill without warning.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();

    let seen = receiver(port).await;
    let mut server = start_server(&config, &data);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let got = seen.lock().unwrap().clone();
        if ids.iter().all(|id| got.contains(id)) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Anything late would have arrived by now too: a few more retry rounds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let mut got = seen.lock().unwrap().clone();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want, "each event delivered exactly once, signed");
}
