//! Chat channels: the incoming-webhook message of Slack, Discord, Mattermost, Microsoft
//! Teams (through Workflows) and Google Chat. Operator and visitor text is escaped for each chat's markup, so a title cannot
//! add links, mentions or formatting of its own.
//!
//! A new chat is a `ChatFormat` variant in `downbeat_config` (its name in `as_str` and
//! `ALL`) and its arm in [`Chat::body`], with a test below that feeds it hostile text.

use super::{Clients, HttpRequest, HttpTarget, Parcel, SendError, Transport};
use crate::message::{Message, Severity};
use downbeat_config::ChatFormat;
use serde_json::{Value, json};

/// Posts the event's words as `format`'s message.
#[derive(Debug, Clone)]
pub struct Chat {
    pub format: ChatFormat,
    pub target: HttpTarget,
}

impl Chat {
    pub fn request(&self, parcel: &Parcel<'_>) -> HttpRequest {
        let body = self.body(parcel);
        self.target
            .request(parcel, "application/json", body, Vec::new())
    }

    /// The JSON message `format` takes.
    pub fn body(&self, parcel: &Parcel<'_>) -> Vec<u8> {
        let msg = parcel.message;
        let absolute = is_absolute(msg);
        let v = match self.format {
            ChatFormat::Slack => {
                let line = if absolute {
                    format!("*<{}|{}>*", msg.link, slack_escape(&msg.title))
                } else {
                    format!("*{}*", slack_escape(&msg.title))
                };
                json!({
                    "text": join(&line, &slack_escape(&msg.text)),
                    "attachments": [{"color": colour(msg.severity), "fallback": msg.title}],
                })
            }
            ChatFormat::Mattermost => {
                let line = if absolute {
                    format!("**[{}]({})**", md_escape(&msg.title), msg.link)
                } else {
                    format!("**{}**", md_escape(&msg.title))
                };
                json!({
                    "text": join(&line, &md_escape(&msg.text)),
                    "username": "Downbeat",
                })
            }
            ChatFormat::Discord => {
                let mut embed = json!({
                    "title": cut(&msg.title, 256),
                    "description": cut(&md_escape(&msg.text), 4000),
                    "color": colour_int(msg.severity),
                    "footer": {"text": format!("event {}", parcel.event.id)},
                });
                if absolute {
                    embed["url"] = Value::String(msg.link.clone());
                }
                json!({
                    "username": "Downbeat",
                    "embeds": [embed],
                    // Nobody is pinged by text that happens to contain @everyone.
                    "allowed_mentions": {"parse": []},
                })
            }
            ChatFormat::Teams => {
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
                json!({
                    "type": "message",
                    "attachments": [{
                        "contentType": "application/vnd.microsoft.card.adaptive",
                        "contentUrl": null,
                        "content": card,
                    }],
                })
            }
            // A card rather than `text`: a text message reads `<users/all>` as a mention of
            // everyone, while a card's text is a small HTML subset that escaping defuses.
            ChatFormat::GoogleChat => {
                let mut widgets = vec![json!({"textParagraph": {"text": format!(
                    "<font color=\"{}\"><b>{}</b></font>",
                    colour(msg.severity),
                    html_escape(&msg.title)
                )}})];
                if !msg.text.is_empty() {
                    widgets.push(json!({"textParagraph": {"text": html_escape(&msg.text)}}));
                }
                if absolute {
                    widgets.push(json!({"buttonList": {"buttons": [{
                        "text": "Open the status page",
                        "onClick": {"openLink": {"url": msg.link}},
                    }]}}));
                }
                json!({
                    "fallbackText": msg.title,
                    "cardsV2": [{
                        "cardId": parcel.event.id,
                        "card": {"sections": [{"widgets": widgets}]},
                    }],
                })
            }
        };
        serde_json::to_vec(&v).unwrap_or_default()
    }
}

impl Transport for Chat {
    async fn send(&self, clients: Clients<'_>, parcel: &Parcel<'_>) -> Result<u16, SendError> {
        self.target.post(clients, self.request(parcel)).await
    }
}

/// Whether the link can be followed from outside (`[notify] public_url` is set).
pub(crate) fn is_absolute(msg: &Message) -> bool {
    msg.link.starts_with("https://") || msg.link.starts_with("http://")
}

/// A colour for chat attachments and cards, `#rrggbb`.
pub fn colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#d0342c",
        Severity::Warning => "#e8a317",
        Severity::Good => "#2e9e4f",
        Severity::Info => "#3c78d8",
    }
}

fn colour_int(s: Severity) -> u32 {
    u32::from_str_radix(colour(s).trim_start_matches('#'), 16).unwrap_or(0)
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

/// Slack's mrkdwn: only `&`, `<` and `>` are control characters.
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// HTML text (Telegram, Matrix, Pushover, Google Chat cards): `&`, `<`, `>` and `"` as
/// entities, so operator text adds no tags and cannot leave an attribute.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tests::{event, msg, plain};

    fn body(format: ChatFormat, m: &Message) -> Value {
        let event = event();
        let parcel = Parcel {
            event: &event,
            message: m,
            now_s: 0,
        };
        let chat = Chat {
            format,
            target: plain(),
        };
        serde_json::from_slice(&chat.request(&parcel).body).unwrap()
    }

    #[test]
    fn chat_payloads_escape_what_operators_typed() {
        let m = msg("<!channel> [click](https://evil.example) & more");
        let slack = body(ChatFormat::Slack, &m);
        let text = slack["text"].as_str().unwrap();
        assert!(
            text.starts_with("*<https://status.example/s/melodia/incidents/1|&lt;!channel&gt;"),
            "{text}"
        );
        assert!(text.contains("&amp; more"), "{text}");
        let mm = body(ChatFormat::Mattermost, &m);
        let text = mm["text"].as_str().unwrap();
        assert!(
            text.contains("\\[click\\]\\(https://evil.example\\)"),
            "{text}"
        );
        let discord = body(ChatFormat::Discord, &m);
        assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
        assert!(
            !discord["embeds"][0]["description"]
                .as_str()
                .unwrap()
                .contains("@everyone"),
            "mentions are broken"
        );
        let gchat = body(ChatFormat::GoogleChat, &m);
        assert!(
            gchat.get("text").is_none(),
            "no text message: it would read mentions"
        );
        let para =
            gchat["cardsV2"][0]["card"]["sections"][0]["widgets"][0]["textParagraph"]["text"]
                .as_str()
                .unwrap();
        assert!(para.contains("<b>&lt;!channel&gt; [click]"), "{para}");
        let hostile = crate::transport::tests::hostile();
        let gchat = body(ChatFormat::GoogleChat, &hostile);
        let text =
            gchat["cardsV2"][0]["card"]["sections"][0]["widgets"][1]["textParagraph"]["text"]
                .as_str()
                .unwrap();
        assert!(text.contains("&lt;users/all&gt;"), "{text}");
        assert!(text.starts_with("&quot;quoted&quot;"), "{text}");
        let teams = body(ChatFormat::Teams, &m);
        assert_eq!(
            teams["attachments"][0]["content"]["actions"][0]["url"],
            "https://status.example/s/melodia/incidents/1"
        );
    }
}
