//! Transports: one per channel family, each turning an event into what its receivers take
//! and sending it — [`webhook`] (Downbeat's signed JSON, also signed the Standard Webhooks
//! way), [`template`] (the operator's own body), [`chat`] (Slack, Discord, Mattermost,
//! Teams, Google Chat), [`ntfy`] and [`pushover`] (pushes), [`telegram`] and [`matrix`]
//! (messages in a chat or room), [`pagerduty`] and [`opsgenie`] (on-call alerts that open
//! and close, keyed by [`alert`]) and [`email`] (mail through the SMTP relay) — and
//! [`verify`], the signed challenge a webhook subscriber's endpoint echoes before anything
//! else is sent to it.
//!
//! Every delivery goes the same way, whether to a configured destination or to a public
//! subscriber: the worker reads the event's words into a [`Parcel`], finds its [`Route`]
//! ([`Route::to_destination`], or `subscribers::route`), and the route's transport sends
//! it. A transport answers `Ok` with the status that accepted it (an HTTP 2xx, the
//! relay's 250) or a [`SendError`], whose [`SendError::is_permanent`] decides whether the
//! delivery is retried.
//!
//! Settings are checked when the config is loaded (`downbeat_config`), so a transport gets
//! only valid ones and has nothing left to validate.
//!
//! Every HTTP request goes through [`HttpTarget`]: it carries `X-Downbeat-Event-Id`
//! (receivers deduplicate on it), and, when the receiver has a secret, its signature (see
//! [`Signing`]); a token goes as `Authorization: Bearer …`. A refusal keeps its status and
//! the receiver's `Retry-After`, which the next attempt waits for. Credentials (tokens,
//! routing keys, bot tokens) are [`Secret`]s: they go into requests and nowhere else —
//! no error, log line or page shows them.

pub mod alert;
pub mod chat;
pub mod email;
pub mod error;
pub mod matrix;
pub mod ntfy;
pub mod opsgenie;
pub mod pagerduty;
pub mod pushover;
pub mod telegram;
pub mod template;
pub mod verify;
pub mod webhook;

pub use chat::Chat;
pub use email::Email;
pub use error::SendError;
pub use matrix::Matrix;
pub use ntfy::Ntfy;
pub use opsgenie::Opsgenie;
pub use pagerduty::PagerDuty;
pub use pushover::Pushover;
pub use telegram::Telegram;
pub use template::Template;
pub use verify::Verification;
pub use webhook::Webhook;

use crate::http::{Answer, HttpClient};
use crate::mail::{Mailer, MailerError};
use crate::message::Message;
use downbeat_config::{Channel, Destination, Format, Secret};
use downbeat_store::NotifyEventRow;
use hyper::Method;
use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// What one attempt sends, whichever transport carries it.
pub struct Parcel<'a> {
    /// The event as the outbox keeps it (its id, kind, link and `data`).
    pub event: &'a NotifyEventRow,
    /// Its words.
    pub message: &'a Message,
    /// This attempt's unix time, in seconds (signatures carry it).
    pub now_s: i64,
}

/// The clients transports send with.
#[derive(Clone, Copy)]
pub struct Clients<'a> {
    pub http: &'a HttpClient,
    /// The relay, when `[notify.smtp]` is set; the error says why it could not be set up.
    pub mailer: Option<&'a Result<Mailer, Arc<MailerError>>>,
    /// Longest wait for an answer.
    pub timeout: Duration,
}

impl<'a> Clients<'a> {
    /// The relay, or why there is none.
    pub fn mailer(&self) -> Result<&'a Mailer, SendError> {
        match self.mailer {
            Some(Ok(m)) => Ok(m),
            Some(Err(e)) => Err(SendError::Relay(e.clone())),
            None => Err(SendError::NoRelay),
        }
    }
}

/// A channel family: how a [`Parcel`] reaches one receiver of its kind.
pub trait Transport {
    /// Sends `parcel`: `Ok` with the status that accepted it, or why it was not.
    fn send(
        &self,
        clients: Clients<'_>,
        parcel: &Parcel<'_>,
    ) -> impl Future<Output = Result<u16, SendError>> + Send;
}

/// Where one delivery goes, by which transport.
#[derive(Debug, Clone)]
pub enum Route {
    Webhook(Webhook),
    Chat(Chat),
    Ntfy(Ntfy),
    Email(Email),
    /// A webhook subscriber's challenge, before it gets anything else.
    Verify(Verification),
    Template(Template),
    PagerDuty(PagerDuty),
    Opsgenie(Opsgenie),
    Telegram(Telegram),
    Matrix(Matrix),
    Pushover(Pushover),
}

impl Route {
    /// The route to a configured destination (`[[notify.webhook]]`, `[[notify.email]]`,
    /// `[[notify.pagerduty]]`…).
    pub fn to_destination(dest: &Destination, parcel: &Parcel<'_>) -> Route {
        match &dest.channel {
            Channel::Http {
                url,
                format,
                secret,
                token,
            } => {
                let signing = secret.clone().map(|s| match format {
                    Format::StandardWebhooks => Signing::Standard(s),
                    _ => Signing::Downbeat(s),
                });
                let target = HttpTarget {
                    token: token.clone(),
                    signing,
                    ..HttpTarget::to(url)
                };
                match format {
                    Format::Downbeat | Format::StandardWebhooks => {
                        Route::Webhook(Webhook { target })
                    }
                    Format::Chat(format) => Route::Chat(Chat {
                        format: *format,
                        target,
                    }),
                    Format::Ntfy => Route::Ntfy(Ntfy { target }),
                    Format::Template(t) => Route::Template(Template {
                        template: t.clone(),
                        target,
                    }),
                }
            }
            Channel::Email { to } => {
                Route::Email(Email::to_destination(dest.id.as_str(), to, parcel))
            }
            Channel::PagerDuty { url, routing_key } => Route::PagerDuty(PagerDuty {
                target: HttpTarget::to(url),
                routing_key: routing_key.clone(),
            }),
            Channel::Opsgenie { url, api_key } => Route::Opsgenie(Opsgenie {
                base: HttpTarget::to(url),
                api_key: api_key.clone(),
            }),
            Channel::Telegram {
                url,
                bot_token,
                chat_id,
            } => Route::Telegram(Telegram {
                base: HttpTarget::to(url),
                bot_token: bot_token.clone(),
                chat_id: chat_id.clone(),
            }),
            Channel::Matrix {
                homeserver,
                room_id,
                access_token,
            } => Route::Matrix(Matrix {
                base: HttpTarget {
                    token: Some(access_token.clone()),
                    ..HttpTarget::to(homeserver)
                },
                room_id: room_id.clone(),
            }),
            Channel::Pushover { url, token, user } => Route::Pushover(Pushover {
                base: HttpTarget::to(url),
                token: token.clone(),
                user: user.clone(),
            }),
        }
    }
}

impl Transport for Route {
    async fn send(&self, clients: Clients<'_>, parcel: &Parcel<'_>) -> Result<u16, SendError> {
        match self {
            Route::Webhook(t) => t.send(clients, parcel).await,
            Route::Chat(t) => t.send(clients, parcel).await,
            Route::Ntfy(t) => t.send(clients, parcel).await,
            Route::Email(t) => t.send(clients, parcel).await,
            Route::Verify(t) => t.send(clients, parcel).await,
            Route::Template(t) => t.send(clients, parcel).await,
            Route::PagerDuty(t) => t.send(clients, parcel).await,
            Route::Opsgenie(t) => t.send(clients, parcel).await,
            Route::Telegram(t) => t.send(clients, parcel).await,
            Route::Matrix(t) => t.send(clients, parcel).await,
            Route::Pushover(t) => t.send(clients, parcel).await,
        }
    }
}

/// Where an HTTP transport sends, and how it signs and authenticates.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    /// The URL, or for an API the base its paths are added to ([`HttpTarget::at`]).
    pub url: String,
    /// Signs each body, so the receiver can tell it came from us.
    pub signing: Option<Signing>,
    /// Sent as `Authorization: Bearer …` (an ntfy access token, say).
    pub token: Option<Secret>,
    /// Refuse a host that resolves to a private, loopback or link-local address (URLs
    /// typed by visitors must not reach into the server's own network).
    pub public_only: bool,
}

/// How a body is signed.
#[derive(Debug, Clone)]
pub enum Signing {
    /// `X-Downbeat-Timestamp` and `X-Downbeat-Signature: sha256=<hex>`
    /// ([`webhook::signature`]).
    Downbeat(Secret),
    /// The Standard Webhooks headers under a `whsec_…` secret
    /// ([`webhook::standard_signature`]).
    Standard(Secret),
}

/// A request ready for [`HttpClient::send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub content_type: String,
    pub body: Vec<u8>,
    pub headers: Vec<(Cow<'static, str>, String)>,
}

impl HttpRequest {
    /// The value of header `name` (tests read them).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl HttpTarget {
    /// `url`, an operator's (any address), unsigned, without a token.
    pub fn to(url: &str) -> HttpTarget {
        HttpTarget {
            url: url.to_owned(),
            signing: None,
            token: None,
            public_only: false,
        }
    }

    /// The URL of `path` under this target's base URL.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }

    /// The POST of `body` to the target's URL for `parcel`, with the format's `own`
    /// headers and what every HTTP transport sends (the event id first, then the
    /// signature and the token). Change its `method` or `url` before sending if the API
    /// wants.
    pub fn request(
        &self,
        parcel: &Parcel<'_>,
        content_type: &str,
        body: Vec<u8>,
        own: Vec<(&'static str, String)>,
    ) -> HttpRequest {
        let mut headers: Vec<(Cow<'static, str>, String)> =
            vec![("x-downbeat-event-id".into(), parcel.event.id.clone())];
        headers.extend(own.into_iter().map(|(k, v)| (Cow::Borrowed(k), v)));
        match &self.signing {
            Some(Signing::Downbeat(secret)) => {
                headers.push(("x-downbeat-timestamp".into(), parcel.now_s.to_string()));
                headers.push((
                    "x-downbeat-signature".into(),
                    webhook::signature(secret.expose(), parcel.now_s, &body),
                ));
            }
            Some(Signing::Standard(secret)) => {
                let id = &parcel.event.id;
                headers.push(("webhook-id".into(), id.clone()));
                headers.push(("webhook-timestamp".into(), parcel.now_s.to_string()));
                headers.push((
                    "webhook-signature".into(),
                    webhook::standard_signature(secret.expose(), id, parcel.now_s, &body),
                ));
            }
            None => {}
        }
        if let Some(token) = &self.token {
            headers.push(("authorization".into(), format!("Bearer {}", token.expose())));
        }
        HttpRequest {
            method: Method::POST,
            url: self.url.clone(),
            content_type: content_type.to_owned(),
            body,
            headers,
        }
    }

    /// Sends `req`: `Ok` with a 2xx status, else [`SendError::Refused`] or why there was no
    /// answer.
    pub async fn post(&self, clients: Clients<'_>, req: HttpRequest) -> Result<u16, SendError> {
        self.answer(clients, req).await.map(|a| a.status)
    }

    /// [`HttpTarget::post`], with the start of the answer's body.
    pub async fn answer(
        &self,
        clients: Clients<'_>,
        req: HttpRequest,
    ) -> Result<Answer, SendError> {
        self.answer_reading(clients, req, |_| None).await
    }

    /// [`HttpTarget::answer`] for an API that says in a refusal's body when to come back
    /// (`wait` reads it) rather than, or as well as, in `Retry-After`.
    pub async fn answer_reading(
        &self,
        clients: Clients<'_>,
        req: HttpRequest,
        wait: fn(&[u8]) -> Option<Duration>,
    ) -> Result<Answer, SendError> {
        let answer = clients
            .http
            .send(req, clients.timeout, self.public_only)
            .await?;
        if (200..300).contains(&answer.status) {
            Ok(answer)
        } else {
            Err(SendError::Refused {
                status: answer.status,
                retry_after: answer.retry_after.or_else(|| wait(&answer.body)),
            })
        }
    }
}

/// `s` as one path segment: everything but unreserved characters percent-encoded.
pub fn path_segment(s: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::message::Severity;

    pub(crate) fn event() -> NotifyEventRow {
        NotifyEventRow {
            id: "incident-1-update-1".into(),
            kind: downbeat_store::OutboxKind::Event(
                downbeat_domain::event::EventKind::IncidentCreated,
            ),
            service: "melodia".into(),
            occurred_ms: 0,
            link: "https://status.example/s/melodia/incidents/1".into(),
            data: "{}".into(),
        }
    }

    pub(crate) fn msg(title: &str) -> Message {
        Message {
            title: title.into(),
            text: "Looking into it @everyone".into(),
            link: "https://status.example/s/melodia/incidents/1".into(),
            severity: Severity::Critical,
        }
    }

    /// A target with neither secret nor token.
    pub(crate) fn plain() -> HttpTarget {
        HttpTarget::to("https://hooks.example/x")
    }

    /// The parcel of `event` and `message`, sent at 1 700 000 000.
    pub(crate) fn parcel<'a>(event: &'a NotifyEventRow, message: &'a Message) -> Parcel<'a> {
        Parcel {
            event,
            message,
            now_s: 1_700_000_000,
        }
    }

    /// A message whose every part is hostile markup.
    pub(crate) fn hostile() -> Message {
        Message {
            title: "<b>Down</b> & <a href=\"https://evil.example\">@room</a>".into(),
            text: "\"quoted\" *bold* [x](https://evil.example) <users/all> @everyone".into(),
            link: "https://status.example/s/melodia?a=1&b=\"2\"".into(),
            severity: Severity::Critical,
        }
    }
}
