//! ntfy-style pushes: the text as the body; title, priority, tags and link as headers.

use super::chat::is_absolute;
use super::{Clients, HttpRequest, HttpTarget, Parcel, SendError, Transport};
use crate::message::Severity;

/// Posts the event's words as a push.
#[derive(Debug, Clone)]
pub struct Ntfy {
    pub target: HttpTarget,
}

impl Ntfy {
    pub fn request(&self, parcel: &Parcel<'_>) -> HttpRequest {
        let msg = parcel.message;
        let mut headers = vec![
            ("title", header_text(&msg.title)),
            (
                "priority",
                match msg.severity {
                    Severity::Critical => "high",
                    Severity::Warning => "default",
                    Severity::Good | Severity::Info => "low",
                }
                .into(),
            ),
            (
                "tags",
                match msg.severity {
                    Severity::Critical => "rotating_light",
                    Severity::Warning => "warning",
                    Severity::Good => "white_check_mark",
                    Severity::Info => "information_source",
                }
                .into(),
            ),
        ];
        if is_absolute(msg) {
            headers.push(("click", msg.link.clone()));
        }
        let text = if msg.text.is_empty() {
            msg.title.clone()
        } else {
            msg.text.clone()
        };
        self.target.request(
            parcel,
            "text/plain; charset=utf-8",
            text.into_bytes(),
            headers,
        )
    }
}

impl Transport for Ntfy {
    async fn send(&self, clients: Clients<'_>, parcel: &Parcel<'_>) -> Result<u16, SendError> {
        self.target.post(clients, self.request(parcel)).await
    }
}

/// A header value: ASCII as is, anything else as an RFC 2047 encoded word (ntfy decodes it).
fn header_text(s: &str) -> String {
    let line = crate::message::one_line(s, 200);
    if line.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        line
    } else {
        format!("=?UTF-8?B?{}?=", base64(line.as_bytes()))
    }
}

/// Standard base64 with padding (RFC 4648).
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tests::{event, msg};
    use crate::transport::webhook;
    use downbeat_config::Secret;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn ntfy_pushes_put_the_title_in_a_header_and_sign_when_asked() {
        let (event, m) = (event(), msg("Mélodia: down"));
        let ntfy = Ntfy {
            target: HttpTarget {
                url: "https://push.example/topic".into(),
                signing: Some(super::super::Signing::Downbeat(Secret::new(
                    "0123456789abcdef",
                ))),
                token: Some(Secret::new("tk_abc")),
                public_only: false,
            },
        };
        let r = ntfy.request(&Parcel {
            event: &event,
            message: &m,
            now_s: 1_700_000_000,
        });
        assert_eq!(r.content_type, "text/plain; charset=utf-8");
        assert_eq!(r.body, b"Looking into it @everyone");
        let h = |n: &str| {
            r.headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(h("title"), Some("=?UTF-8?B?TcOpbG9kaWE6IGRvd24=?="));
        assert_eq!(h("priority"), Some("high"));
        assert_eq!(h("authorization"), Some("Bearer tk_abc"));
        assert_eq!(h("x-downbeat-event-id"), Some("incident-1-update-1"));
        assert_eq!(
            h("x-downbeat-signature").unwrap(),
            webhook::signature("0123456789abcdef", 1_700_000_000, &r.body)
        );
    }
}
