//! The HTTP request each destination format gets for an event: Downbeat's signed JSON, the
//! incoming-webhook payloads of Slack, Discord, Mattermost and Microsoft Teams, and an
//! ntfy-style push. Operator and visitor text is escaped for each format's markup, so a
//! title cannot add links, mentions or formatting of its own.
//!
//! Every request carries `X-Downbeat-Event-Id` (receivers deduplicate on it), and, when the
//! destination has a secret, `X-Downbeat-Timestamp` and `X-Downbeat-Signature` (see
//! [`super::webhook`]).

use super::message::{Message, Severity};
use super::webhook;
use downbeat_config::Format;
use downbeat_store::NotifyEventRow;
use serde_json::{Value, json};

/// A request ready for [`super::http::HttpClient::post`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

/// What to sign with and how to authenticate, per destination.
pub struct Credentials<'a> {
    pub secret: Option<&'a str>,
    pub token: Option<&'a str>,
}

/// The request for `event` (shown as `msg`) in `format`; `now_s` is this attempt's unix time.
pub fn request(
    format: Format,
    event: &NotifyEventRow,
    msg: &Message,
    creds: Credentials<'_>,
    now_s: i64,
) -> HttpRequest {
    let absolute = msg.link.starts_with("https://") || msg.link.starts_with("http://");
    let mut headers = vec![("x-downbeat-event-id", event.id.clone())];
    let (content_type, body) = match format {
        Format::Downbeat => ("application/json", webhook::body(event)),
        Format::Slack => {
            let line = if absolute {
                format!("*<{}|{}>*", msg.link, slack_escape(&msg.title))
            } else {
                format!("*{}*", slack_escape(&msg.title))
            };
            let text = join(&line, &slack_escape(&msg.text));
            json_body(json!({
                "text": text,
                "attachments": [{"color": msg.severity.colour(), "fallback": msg.title}],
            }))
        }
        Format::Mattermost => {
            let line = if absolute {
                format!("**[{}]({})**", md_escape(&msg.title), msg.link)
            } else {
                format!("**{}**", md_escape(&msg.title))
            };
            json_body(json!({
                "text": join(&line, &md_escape(&msg.text)),
                "username": "Downbeat",
            }))
        }
        Format::Discord => {
            let mut embed = json!({
                "title": cut(&msg.title, 256),
                "description": cut(&md_escape(&msg.text), 4000),
                "color": colour_int(msg.severity),
                "footer": {"text": format!("event {}", event.id)},
            });
            if absolute {
                embed["url"] = Value::String(msg.link.clone());
            }
            json_body(json!({
                "username": "Downbeat",
                "embeds": [embed],
                // Nobody is pinged by text that happens to contain @everyone.
                "allowed_mentions": {"parse": []},
            }))
        }
        Format::Teams => {
            let mut card = json!({
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": md_escape(&msg.title), "weight": "Bolder",
                     "size": "Medium", "wrap": true,
                     "color": match msg.severity { Severity::Critical => "Attention",
                        Severity::Warning => "Warning", Severity::Good => "Good",
                        Severity::Info => "Default" }},
                    {"type": "TextBlock", "text": md_escape(&msg.text), "wrap": true},
                ],
            });
            if absolute {
                card["actions"] = json!([
                    {"type": "Action.OpenUrl", "title": "Open the status page", "url": msg.link}
                ]);
            }
            json_body(json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": null,
                    "content": card,
                }],
            }))
        }
        Format::Ntfy => {
            headers.push(("title", header_text(&msg.title)));
            headers.push((
                "priority",
                match msg.severity {
                    Severity::Critical => "high",
                    Severity::Warning => "default",
                    Severity::Good | Severity::Info => "low",
                }
                .into(),
            ));
            headers.push((
                "tags",
                match msg.severity {
                    Severity::Critical => "rotating_light",
                    Severity::Warning => "warning",
                    Severity::Good => "white_check_mark",
                    Severity::Info => "information_source",
                }
                .into(),
            ));
            if absolute {
                headers.push(("click", msg.link.clone()));
            }
            let text = if msg.text.is_empty() {
                msg.title.clone()
            } else {
                msg.text.clone()
            };
            ("text/plain; charset=utf-8", text.into_bytes())
        }
    };
    if let Some(secret) = creds.secret {
        headers.push(("x-downbeat-timestamp", now_s.to_string()));
        headers.push((
            "x-downbeat-signature",
            webhook::signature(secret, now_s, &body),
        ));
    }
    if let Some(token) = creds.token {
        headers.push(("authorization", format!("Bearer {token}")));
    }
    HttpRequest {
        content_type,
        body,
        headers,
    }
}

fn json_body(v: Value) -> (&'static str, Vec<u8>) {
    (
        "application/json",
        serde_json::to_vec(&v).unwrap_or_default(),
    )
}

fn join(first: &str, rest: &str) -> String {
    if rest.is_empty() {
        first.to_owned()
    } else {
        format!("{first}\n{rest}")
    }
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn colour_int(s: Severity) -> u32 {
    u32::from_str_radix(s.colour().trim_start_matches('#'), 16).unwrap_or(0)
}

/// Slack's mrkdwn: only `&`, `<` and `>` are control characters.
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Markdown (Mattermost, Discord, Teams): every character that could start markup is
/// backslash-escaped, and `@` is broken so it cannot mention anyone.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if "\\`*_[]()<>#|~".contains(c) {
            out.push('\\');
            out.push(c);
        } else if c == '@' {
            out.push_str("@\u{200b}");
        } else {
            out.push(c);
        }
    }
    out
}

/// A header value: ASCII as is, anything else as an RFC 2047 encoded word (ntfy decodes it).
fn header_text(s: &str) -> String {
    let line = super::message::one_line(s, 200);
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

    fn event() -> NotifyEventRow {
        NotifyEventRow {
            id: "incident-1-update-1".into(),
            kind: "incident.created".into(),
            service: "melodia".into(),
            occurred_ms: 0,
            link: "https://status.example/s/melodia/incidents/1".into(),
            data: "{}".into(),
        }
    }

    fn msg(title: &str) -> Message {
        Message {
            title: title.into(),
            text: "Looking into it @everyone".into(),
            link: "https://status.example/s/melodia/incidents/1".into(),
            severity: Severity::Critical,
        }
    }

    fn none() -> Credentials<'static> {
        Credentials {
            secret: None,
            token: None,
        }
    }

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
    fn chat_payloads_escape_what_operators_typed() {
        let m = msg("<!channel> [click](https://evil.example) & more");
        let slack: Value =
            serde_json::from_slice(&request(Format::Slack, &event(), &m, none(), 0).body).unwrap();
        let text = slack["text"].as_str().unwrap();
        assert!(
            text.starts_with("*<https://status.example/s/melodia/incidents/1|&lt;!channel&gt;"),
            "{text}"
        );
        assert!(text.contains("&amp; more"), "{text}");
        let mm: Value =
            serde_json::from_slice(&request(Format::Mattermost, &event(), &m, none(), 0).body)
                .unwrap();
        let text = mm["text"].as_str().unwrap();
        assert!(
            text.contains("\\[click\\]\\(https://evil.example\\)"),
            "{text}"
        );
        let discord: Value =
            serde_json::from_slice(&request(Format::Discord, &event(), &m, none(), 0).body)
                .unwrap();
        assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
        assert!(
            !discord["embeds"][0]["description"]
                .as_str()
                .unwrap()
                .contains("@everyone"),
            "mentions are broken"
        );
        let teams: Value =
            serde_json::from_slice(&request(Format::Teams, &event(), &m, none(), 0).body).unwrap();
        assert_eq!(
            teams["attachments"][0]["content"]["actions"][0]["url"],
            "https://status.example/s/melodia/incidents/1"
        );
    }

    #[test]
    fn ntfy_pushes_put_the_title_in_a_header_and_sign_when_asked() {
        let r = request(
            Format::Ntfy,
            &event(),
            &msg("Mélodia: down"),
            Credentials {
                secret: Some("0123456789abcdef"),
                token: Some("tk_abc"),
            },
            1_700_000_000,
        );
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
