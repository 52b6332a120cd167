//! Telegram's Bot API `sendMessage`: the title in bold, the text, and the link, in
//! Telegram's HTML (every `<`, `>`, `&` and `"` of operator text escaped, so a title adds
//! no tags of its own), link previews off. The bot token is part of the URL's path, which
//! no error or log line shows.

use super::chat::{html_escape, is_absolute};
use super::{Clients, HttpRequest, HttpTarget, Parcel, SendError, Transport};
use downbeat_config::Secret;
use serde_json::{Value, json};
use std::time::Duration;

/// Sends messages to `chat_id` as the bot of `bot_token`, through the API at `base`.
#[derive(Debug, Clone)]
pub struct Telegram {
    pub base: HttpTarget,
    pub bot_token: Secret,
    pub chat_id: String,
}

impl Telegram {
    pub fn request(&self, parcel: &Parcel<'_>) -> HttpRequest {
        let msg = parcel.message;
        let mut text = format!("<b>{}</b>", html_escape(&msg.title));
        if !msg.text.is_empty() {
            text.push('\n');
            text.push_str(&html_escape(&msg.text));
        }
        if is_absolute(msg) {
            text.push_str(&format!(
                "\n<a href=\"{}\">Open the status page</a>",
                html_escape(&msg.link)
            ));
        }
        let body = json!({
            "chat_id": self.chat_id,
            "text": text,
            "parse_mode": "HTML",
            "disable_web_page_preview": true,
            "link_preview_options": {"is_disabled": true},
        });
        let mut req = self.base.request(
            parcel,
            "application/json",
            serde_json::to_vec(&body).unwrap_or_default(),
            Vec::new(),
        );
        req.url = self
            .base
            .at(&format!("/bot{}/sendMessage", self.bot_token.expose()));
        req
    }
}

/// A 429's `parameters.retry_after`, in seconds.
fn wait(body: &[u8]) -> Option<Duration> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v["parameters"]["retry_after"]
        .as_u64()
        .map(Duration::from_secs)
}

impl Transport for Telegram {
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

    #[test]
    fn messages_are_telegram_html_with_operator_text_escaped() {
        let tg = Telegram {
            base: HttpTarget::to("https://api.example"),
            bot_token: Secret::new("123:abc"),
            chat_id: "-10042".into(),
        };
        let (e, m) = (event(), hostile());
        let r = tg.request(&parcel(&e, &m));
        assert_eq!(r.url, "https://api.example/bot123:abc/sendMessage");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["parse_mode"], "HTML");
        assert_eq!(v["chat_id"], "-10042");
        let text = v["text"].as_str().unwrap();
        assert!(
            text.starts_with("<b>&lt;b&gt;Down&lt;/b&gt; &amp; &lt;a href=&quot;"),
            "{text}"
        );
        assert!(
            text.ends_with(
                "<a href=\"https://status.example/s/melodia?a=1&amp;b=&quot;2&quot;\">Open the status page</a>"
            ),
            "{text}"
        );
        assert_eq!(
            wait(br#"{"ok":false,"error_code":429,"parameters":{"retry_after":7}}"#),
            Some(Duration::from_secs(7))
        );
    }
}
