//! Transports: one per channel family, each turning an event into what its receivers take
//! and sending it — [`webhook`] (Downbeat's signed JSON), [`chat`] (Slack, Discord,
//! Mattermost, Teams), [`ntfy`] (pushes) and [`email`] (mail through the SMTP relay) — and
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
//! Every HTTP request carries `X-Downbeat-Event-Id` (receivers deduplicate on it), and,
//! when the receiver has a secret, `X-Downbeat-Timestamp` and `X-Downbeat-Signature` (see
//! [`webhook`]); a token goes as `Authorization: Bearer …`.

pub mod chat;
pub mod email;
pub mod error;
pub mod ntfy;
pub mod verify;
pub mod webhook;

pub use chat::Chat;
pub use email::Email;
pub use error::SendError;
pub use ntfy::Ntfy;
pub use verify::Verification;
pub use webhook::Webhook;

use crate::http::{Answer, HttpClient};
use crate::mail::{Mailer, MailerError};
use crate::message::Message;
use downbeat_config::{Channel, Destination, Format, Secret};
use downbeat_store::NotifyEventRow;
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
}

impl Route {
    /// The route to a configured destination (`[[notify.webhook]]`, `[[notify.email]]`).
    pub fn to_destination(dest: &Destination, parcel: &Parcel<'_>) -> Route {
        match &dest.channel {
            Channel::Http {
                url,
                format,
                secret,
                token,
            } => {
                let target = HttpTarget {
                    url: url.clone(),
                    secret: secret.clone(),
                    token: token.clone(),
                    public_only: false,
                };
                match *format {
                    Format::Downbeat => Route::Webhook(Webhook { target }),
                    Format::Chat(format) => Route::Chat(Chat { format, target }),
                    Format::Ntfy => Route::Ntfy(Ntfy { target }),
                }
            }
            Channel::Email { to } => {
                Route::Email(Email::to_destination(dest.id.as_str(), to, parcel))
            }
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
        }
    }
}

/// Where an HTTP transport posts, and how it signs and authenticates.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    pub url: String,
    /// Signs each body (HMAC-SHA256), so the receiver can tell it came from us.
    pub secret: Option<Secret>,
    /// Sent as `Authorization: Bearer …` (an ntfy access token, say).
    pub token: Option<Secret>,
    /// Refuse a host that resolves to a private, loopback or link-local address (URLs
    /// typed by visitors must not reach into the server's own network).
    pub public_only: bool,
}

/// A request ready for [`HttpClient::post`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl HttpTarget {
    /// The request for `parcel`: `body`, the format's `own` headers, and what every HTTP
    /// transport sends (the event id first, then the signature and the token).
    pub fn request(
        &self,
        parcel: &Parcel<'_>,
        content_type: &'static str,
        body: Vec<u8>,
        own: Vec<(&'static str, String)>,
    ) -> HttpRequest {
        let mut headers = vec![("x-downbeat-event-id", parcel.event.id.clone())];
        headers.extend(own);
        if let Some(secret) = &self.secret {
            headers.push(("x-downbeat-timestamp", parcel.now_s.to_string()));
            headers.push((
                "x-downbeat-signature",
                webhook::signature(secret.expose(), parcel.now_s, &body),
            ));
        }
        if let Some(token) = &self.token {
            headers.push(("authorization", format!("Bearer {}", token.expose())));
        }
        HttpRequest {
            content_type,
            body,
            headers,
        }
    }

    /// Posts `req`: `Ok` with a 2xx status, else [`SendError::Refused`] or why there was no
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
        let answer = clients
            .http
            .post_answer(
                &self.url,
                req.content_type,
                &req.headers,
                req.body,
                clients.timeout,
                self.public_only,
            )
            .await?;
        if (200..300).contains(&answer.status) {
            Ok(answer)
        } else {
            Err(SendError::Refused {
                status: answer.status,
            })
        }
    }
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
        HttpTarget {
            url: "https://hooks.example/x".into(),
            secret: None,
            token: None,
            public_only: false,
        }
    }
}
