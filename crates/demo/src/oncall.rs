//! The on-call person's pager: a webhook receiver on loopback that Downbeat's notifier
//! delivers to (a `[[notify.webhook]]` with `operators = true` in the demo's config). It
//! verifies each request's HMAC signature, as a real receiver must, and tells what arrived —
//! so the story shows the operator hearing of the draft before the public does.

use crate::narrate::Narrator;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use downbeat_notify::webhook::signature;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
struct Pager {
    secret: Arc<str>,
    narrator: Narrator,
    /// Event ids seen: deliveries are at least once, so a repeat is dropped here.
    seen: Arc<Mutex<HashSet<String>>>,
}

/// Serves the pager on `listener` (`POST /page`) until the runtime stops.
pub fn serve(listener: tokio::net::TcpListener, secret: &str, narrator: Narrator) {
    let router = Router::new().route("/page", post(page)).with_state(Pager {
        secret: secret.into(),
        narrator,
        seen: Arc::default(),
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
}

async fn page(State(p): State<Pager>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(ts), Some(sig)) = (
        header("x-downbeat-timestamp").and_then(|t| t.parse::<i64>().ok()),
        header("x-downbeat-signature"),
    ) else {
        return StatusCode::UNAUTHORIZED;
    };
    if signature(&p.secret, ts, &body) != sig {
        p.narrator
            .say("PAGER", "a request with a bad signature, refused");
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    if !p.seen.lock().unwrap_or_else(|e| e.into_inner()).insert(id) {
        return StatusCode::OK;
    }
    let kind = event["type"].as_str().unwrap_or("event");
    let title = event["data"]["title"].as_str().unwrap_or("");
    // The updates the operator posts are told as they are posted; the pager tells the rest.
    let what = match kind {
        "incident.draft" => "draft incident, not yet public — time to look",
        "incident.created" => "incident published",
        "incident.resolved" => "incident resolved",
        _ => return StatusCode::OK,
    };
    p.narrator.say(
        "PAGER",
        &format!("on-call notified (signed webhook, verified): {what}: \"{title}\""),
    );
    StatusCode::OK
}
