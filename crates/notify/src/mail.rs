//! Mail over SMTP (lettre on rustls with ring: no OpenSSL): the relay from
//! `[notify.smtp]` — STARTTLS, implicit TLS, or plain to a relay on this machine — with
//! authentication when configured and a connection pool.
//!
//! Every mail is plain text and carries `X-Downbeat-Event-Id` and a `Message-ID` made from
//! the event and the recipient, so a mail retried after a lost answer is recognisably the
//! same mail. Mails to public subscribers also carry RFC 8058 one-click unsubscribe headers.

use crate::transport::SendError;
use downbeat_config::{SmtpConfig, SmtpTls};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Mailboxes};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

/// Why the relay of `[notify.smtp]` cannot be used: found at start, and then the reason
/// every mail attempt fails with.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("notify.smtp.from: {0}")]
    From(#[source] lettre::address::AddressError),
    #[error("notify.smtp.ca_file {}: {source}", path.display())]
    CaFileRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("notify.smtp.ca_file {}: {source}", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    #[error("notify.smtp: TLS setup: {0}")]
    Tls(#[source] lettre::transport::smtp::Error),
}

/// Why a mail could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("bad address {address:?}: {source}")]
    Address {
        address: String,
        #[source]
        source: lettre::address::AddressError,
    },
    #[error("cannot build the mail: {0}")]
    Build(#[source] lettre::error::Error),
}

/// One mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub event_id: String,
    /// Makes the `Message-ID` unique per recipient (a destination id, a subscriber id).
    pub recipient_key: String,
    /// The one-click unsubscribe URL (public subscribers only).
    pub unsubscribe: Option<String>,
}

/// The configured relay.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The domain part of `Message-ID`s: the sender's.
    domain: String,
}

impl Mailer {
    /// A mailer for `cfg`; `timeout` bounds each SMTP command. Fails on a bad `from`, host
    /// or CA file, so a broken relay is reported at start.
    pub fn new(cfg: &SmtpConfig, timeout: Duration) -> Result<Mailer, MailerError> {
        let from: Mailbox = cfg.from.parse().map_err(MailerError::From)?;
        let domain = from.email.domain().to_owned();
        let tls_params = || -> Result<TlsParameters, MailerError> {
            let mut b = TlsParameters::builder(cfg.host.clone());
            if let Some(path) = &cfg.ca_file {
                let pem = std::fs::read(path).map_err(|source| MailerError::CaFileRead {
                    path: path.clone(),
                    source,
                })?;
                let cert = Certificate::from_pem(&pem).map_err(|source| MailerError::CaFile {
                    path: path.clone(),
                    source,
                })?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls().map_err(MailerError::Tls)
        };
        let tls = match cfg.tls {
            SmtpTls::Starttls => Tls::Required(tls_params()?),
            SmtpTls::Implicit => Tls::Wrapper(tls_params()?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host)
            .port(cfg.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let (Some(user), Some(password)) = (&cfg.username, &cfg.password) {
            builder = builder
                .credentials(Credentials::new(user.clone(), password.expose().to_owned()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            domain,
        })
    }

    /// Sends `mail`: `Ok(250)` once the relay accepted it, else why not
    /// ([`SendError::Mail`] keeps the relay's answer).
    pub async fn send(&self, mail: &Mail) -> Result<u16, SendError> {
        let message = self.build(mail)?;
        let response = self
            .transport
            .send(message)
            .await
            .map_err(SendError::Mail)?;
        Ok(u16::from(response.code()))
    }

    /// The message as it goes on the wire (tests read the headers from it).
    pub fn build(&self, mail: &Mail) -> Result<Message, ComposeError> {
        let mut to = Mailboxes::new();
        for addr in &mail.to {
            to.push(addr.parse().map_err(|source| ComposeError::Address {
                address: addr.clone(),
                source,
            })?);
        }
        let id_part: String = format!("{}.{}", mail.event_id, mail.recipient_key)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-._".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let mut b = Message::builder()
            .from(self.from.clone())
            .mailbox(lettre::message::header::To::from(to))
            .subject(super::message::one_line(&mail.subject, 200))
            .message_id(Some(format!("<{id_part}@{}>", self.domain)))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Downbeat-Event-Id"),
                mail.event_id.clone(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            .header(ContentType::TEXT_PLAIN);
        if let Some(url) = &mail.unsubscribe {
            b = b
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        b.body(mail.text.clone()).map_err(ComposeError::Build)
    }
}
