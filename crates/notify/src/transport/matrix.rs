//! A Matrix room, through the client-server API: `PUT
//! /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}` with the access token as
//! `Authorization: Bearer …`. The transaction id is the event's id, so a retry of a
//! message the homeserver took is not posted twice. The body is plain text and its
//! `formatted_body` HTML (`org.matrix.custom.html`), operator text escaped in it;
//! `m.mentions` is empty and `@` is broken in both, so nobody is pinged.

use super::chat::{html_escape, is_absolute};
use super::{Clients, HttpRequest, HttpTarget, Parcel, SendError, Transport, path_segment};
use hyper::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// Posts to `room_id` through the homeserver at `base` (whose token it carries).
#[derive(Debug, Clone)]
pub struct Matrix {
    pub base: HttpTarget,
    pub room_id: String,
}

impl Matrix {
    pub fn request(&self, parcel: &Parcel<'_>) -> HttpRequest {
        let msg = parcel.message;
        let mut plain = no_mentions(&msg.title);
        let mut html = format!("<strong>{}</strong>", html_escape(&no_mentions(&msg.title)));
        if !msg.text.is_empty() {
            plain.push_str(&format!("\n{}", no_mentions(&msg.text)));
            html.push_str(&format!("<br>{}", html_escape(&no_mentions(&msg.text))));
        }
        if is_absolute(msg) {
            plain.push_str(&format!("\n{}", msg.link));
            html.push_str(&format!(
                "<br><a href=\"{}\">Open the status page</a>",
                html_escape(&msg.link)
            ));
        }
        let body = json!({
            "msgtype": "m.text",
            "body": plain,
            "format": "org.matrix.custom.html",
            "formatted_body": html,
            "m.mentions": {},
        });
        let mut req = self.base.request(
            parcel,
            "application/json",
            serde_json::to_vec(&body).unwrap_or_default(),
            Vec::new(),
        );
        req.method = Method::PUT;
        req.url = self.base.at(&format!(
            "/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
            path_segment(&self.room_id),
            path_segment(&parcel.event.id)
        ));
        req
    }
}

/// `@` followed by a word joiner: `@room` and `@user:server` no longer mention anyone in
/// clients that still read mentions from the body.
fn no_mentions(s: &str) -> String {
    s.replace('@', "@\u{2060}")
}

/// `M_LIMIT_EXCEEDED`'s `retry_after_ms`.
fn wait(body: &[u8]) -> Option<Duration> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v["retry_after_ms"].as_u64().map(Duration::from_millis)
}

impl Transport for Matrix {
    async fn send(&self, clients: Clients<'_>, parcel: &Parcel<'_>) -> Result<u16, SendError> {
        let answer = self
            .base
            .answer_reading(clients, self.request(parcel), wait)
            .await?;
        Ok(answer.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tests::{event, hostile, parcel};
    use downbeat_config::Secret;

    #[test]
    fn messages_are_put_once_per_event_with_html_escaped() {
        let mx = Matrix {
            base: HttpTarget {
                token: Some(Secret::new("syt_tok")),
                ..HttpTarget::to("https://matrix.example")
            },
            room_id: "!room:matrix.example".into(),
        };
        let (e, m) = (event(), hostile());
        let r = mx.request(&parcel(&e, &m));
        assert_eq!(r.method, Method::PUT);
        assert_eq!(
            r.url,
            "https://matrix.example/_matrix/client/v3/rooms/%21room%3Amatrix.example/send/m.room.message/incident-1-update-1"
        );
        assert_eq!(r.header("authorization"), Some("Bearer syt_tok"));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        let html = v["formatted_body"].as_str().unwrap();
        assert!(html.starts_with("<strong>&lt;b&gt;Down"), "{html}");
        assert!(!html.contains("<a href=\"https://evil"), "{html}");
        assert!(!v["body"].as_str().unwrap().contains("@room"), "no pings");
        assert_eq!(v["m.mentions"], json!({}));
        assert_eq!(
            wait(br#"{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1500}"#),
            Some(Duration::from_millis(1500))
        );
    }
}
