//! Mail over SMTP (lettre on rustls with ring: no OpenSSL): the relay from
//! `[notify.smtp]` — STARTTLS, implicit TLS, or plain to a relay on this machine — with
//! authentication when configured and a connection pool.
//!
//! Every mail is plain text and carries `X-Downbeat-Event-Id` and a `Message-ID` made from
//! the event and the recipient, so a mail retried after a lost answer is recognisably the
//! same mail. Mails to public subscribers also carry RFC 8058 one-click unsubscribe headers.

use downbeat_config::{SmtpConfig, SmtpTls};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Mailboxes};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

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
    pub fn new(cfg: &SmtpConfig, timeout: Duration) -> Result<Mailer, String> {
        let from: Mailbox = cfg
            .from
            .parse()
            .map_err(|e| format!("notify.smtp.from: {e}"))?;
        let domain = from.email.domain().to_owned();
        let tls_params = || -> Result<TlsParameters, String> {
            let mut b = TlsParameters::builder(cfg.host.clone());
            if let Some(path) = &cfg.ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("notify.smtp.ca_file {}: {e}", path.display()))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| format!("notify.smtp.ca_file {}: {e}", path.display()))?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls()
                .map_err(|e| format!("notify.smtp: TLS setup: {e}"))
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

    /// Sends `mail`: `Ok(250)` once the relay accepted it, else why not.
    pub async fn send(&self, mail: &Mail) -> Result<u16, String> {
        let message = self.build(mail)?;
        match self.transport.send(message).await {
            Ok(r) => Ok(u16::from(r.code())),
            Err(e) => Err(match e.status() {
                Some(code) => format!("SMTP {code}: {e}"),
                None => format!("SMTP: {e}"),
            }),
        }
    }

    /// The message as it goes on the wire (tests read the headers from it).
    pub fn build(&self, mail: &Mail) -> Result<Message, String> {
        let mut to = Mailboxes::new();
        for addr in &mail.to {
            to.push(
                addr.parse()
                    .map_err(|e| format!("bad address {addr:?}: {e}"))?,
            );
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
        b.body(mail.text.clone())
            .map_err(|e| format!("cannot build the mail: {e}"))
    }
}
