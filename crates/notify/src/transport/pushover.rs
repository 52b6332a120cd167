//! Pushover's Messages API: `POST /1/messages.json`, a form with the application's
//! `token`, the `user` (or group) key, the title, the text as HTML (`html=1`, operator
//! text escaped), the link and a priority from the event's severity.

use super::chat::{html_escape, is_absolute};
use super::{Clients, HttpRequest, HttpTarget, Parcel, SendError, Transport};
use crate::message::Severity;
use downbeat_config::Secret;

/// Pushes to `user` as the application of `token`, through the API at `base`.
#[derive(Debug, Clone)]
pub struct Pushover {
    pub base: HttpTarget,
    pub token: Secret,
    pub user: Secret,
}

impl Pushover {
    pub fn request(&self, parcel: &Parcel<'_>) -> HttpRequest {
        let msg = parcel.message;
        // Pushover's limits: title 250 characters, message 1024, URL 512.
        let text = if msg.text.is_empty() {
            &msg.title
        } else {
            &msg.text
        };
        let message: String = html_escape(text).chars().take(1024).collect();
        let mut form: Vec<(&str, String)> = vec![
            ("token", self.token.expose().to_owned()),
            ("user", self.user.expose().to_owned()),
            ("title", msg.title.chars().take(250).collect()),
            ("message", message),
            ("html", "1".into()),
            (
                "priority",
                match msg.severity {
                    Severity::Critical => "1",
                    Severity::Warning => "0",
                    Severity::Good | Severity::Info => "-1",
                }
                .into(),
            ),
            ("timestamp", (parcel.event.occurred_ms / 1000).to_string()),
        ];
        if is_absolute(msg) && msg.link.len() <= 512 {
            form.push(("url", msg.link.clone()));
            form.push(("url_title", "Open the status page".into()));
        }
        let body = serde_urlencoded::to_string(&form).unwrap_or_default();
        let mut req = self.base.request(
            parcel,
            "application/x-www-form-urlencoded",
            body.into_bytes(),
            Vec::new(),
        );
        req.url = self.base.at("/1/messages.json");
        req
    }
}

impl Transport for Pushover {
    async fn send(&self, clients: Clients<'_>, parcel: &Parcel<'_>) -> Result<u16, SendError> {
        self.base.post(clients, self.request(parcel)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tests::{event, hostile, parcel};
    use std::collections::HashMap;

    #[test]
    fn pushes_are_forms_with_the_text_as_escaped_html() {
        let po = Pushover {
            base: HttpTarget::to("https://api.example"),
            token: Secret::new("apptoken"),
            user: Secret::new("userkey"),
        };
        let (e, m) = (event(), hostile());
        let r = po.request(&parcel(&e, &m));
        assert_eq!(r.url, "https://api.example/1/messages.json");
        let form: HashMap<String, String> = serde_urlencoded::from_bytes(&r.body).unwrap();
        assert_eq!(form["token"], "apptoken");
        assert_eq!(form["user"], "userkey");
        assert_eq!(form["html"], "1");
        assert_eq!(form["priority"], "1");
        assert_eq!(form["title"], m.title, "titles are plain text");
        assert!(
            form["message"].starts_with("&quot;quoted&quot;"),
            "{}",
            form["message"]
        );
        assert!(form["message"].contains("&lt;users/all&gt;"));
        assert_eq!(form["url"], m.link);
    }
}
