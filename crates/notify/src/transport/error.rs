//! Why an attempt did not deliver, with its cause kept, and whether retrying can help.

use crate::http::HttpError;
use crate::mail::{ComposeError, MailerError};
use downbeat_store::StoreError;
use lettre::transport::smtp::response::Severity;
use std::sync::Arc;
use std::time::Duration;

/// Why one attempt did not deliver. Its text (`to_string`) is the attempt's error in the
/// outbox and the admin area; [`SendError::is_permanent`] decides whether to retry.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The receiver answered, but not with a 2xx; `retry_after` is when it said to come
    /// back (its `Retry-After`, or the API's own word for it in the body).
    #[error("HTTP {status}{}", wait_words(.retry_after))]
    Refused {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// The operator's body template did not render this event.
    #[error("template: {0}")]
    Template(#[from] downbeat_config::template::TemplateError),
    /// No answer in time.
    #[error("no answer within {}s", .0.as_secs_f32())]
    Timeout(Duration),
    /// The receiver could not be reached or understood (address, DNS, connection, TLS,
    /// HTTP).
    #[error(transparent)]
    Unreachable(#[from] HttpError),
    /// The relay refused the mail, or could not be reached.
    #[error("{}", smtp_words(.0))]
    Mail(#[source] lettre::transport::smtp::Error),
    /// The mail could not be written.
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// No `[notify.smtp]` relay is configured.
    #[error("no [notify.smtp] relay")]
    NoRelay,
    /// The relay is configured but could not be set up at start.
    #[error(transparent)]
    Relay(Arc<MailerError>),
    /// The delivery's destination names no subscriber.
    #[error("not a subscriber destination")]
    NotASubscriber,
    #[error("the subscriber has unsubscribed")]
    Unsubscribed,
    /// A confirmation mail for a subscription confirmed meanwhile.
    #[error("already confirmed")]
    AlreadyConfirmed,
    /// News for a subscription not confirmed (it never is sent before).
    #[error("not confirmed")]
    NotConfirmed,
    /// A webhook subscriber's endpoint answered its verification without echoing the
    /// challenge.
    #[error("HTTP {status} without the verification challenge echoed")]
    NotEchoed { status: u16 },
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl SendError {
    /// Whether retrying cannot help, so the delivery is given up at once: decided from the
    /// receiver's typed answer (HTTP status, SMTP reply code) or from what is gone.
    pub fn is_permanent(&self) -> bool {
        match self {
            // A receiver that refuses the request (a deleted chat webhook's 404 or 410, a
            // wrong token's 401) will refuse it again, except with the 4xx that mean "not
            // now".
            SendError::Refused { status, .. } => {
                (400..500).contains(status) && !matches!(status, 408 | 425 | 429)
            }
            // A 5xx reply (mailbox unknown, message refused) is final; a 4xx is "try later".
            SendError::Mail(e) => e
                .status()
                .is_some_and(|code| code.severity == Severity::PermanentNegativeCompletion),
            SendError::NotASubscriber
            | SendError::Unsubscribed
            | SendError::AlreadyConfirmed
            | SendError::NotConfirmed => true,
            // The endpoint may be fixed before the attempts run out.
            SendError::NotEchoed { .. } => false,
            // A fixed config (a restart, another node) or a recovered network can help.
            SendError::Timeout(_)
            | SendError::Unreachable(_)
            | SendError::Template(_)
            | SendError::Compose(_)
            | SendError::NoRelay
            | SendError::Relay(_)
            | SendError::Store(_) => false,
        }
    }

    /// The receiver's HTTP status, when it answered one (recorded with the attempt).
    pub fn status(&self) -> Option<u16> {
        match self {
            SendError::Refused { status, .. } | SendError::NotEchoed { status } => Some(*status),
            _ => None,
        }
    }

    /// How long the receiver asked us to wait before the next attempt, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SendError::Refused { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

fn wait_words(d: &Option<Duration>) -> String {
    d.map(|d| format!(" (retry after {}s)", d.as_secs()))
        .unwrap_or_default()
}

/// `SMTP 550: …` with the reply code when the relay answered, else `SMTP: …`.
fn smtp_words(e: &lettre::transport::smtp::Error) -> String {
    match e.status() {
        Some(code) => format!("SMTP {code}: {e}"),
        None => format!("SMTP: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_final_except_the_ones_that_mean_not_now() {
        for (status, permanent) in [
            (400, true),
            (401, true),
            (404, true),
            (410, true),
            (408, false),
            (425, false),
            (429, false),
            (500, false),
            (503, false),
        ] {
            let e = SendError::Refused {
                status,
                retry_after: None,
            };
            assert_eq!(e.is_permanent(), permanent, "{status}");
            assert_eq!(e.status(), Some(status));
            assert_eq!(e.to_string(), format!("HTTP {status}"));
        }
        let wait = SendError::Refused {
            status: 429,
            retry_after: Some(Duration::from_secs(30)),
        };
        assert!(!wait.is_permanent());
        assert_eq!(wait.to_string(), "HTTP 429 (retry after 30s)");
        assert!(!SendError::Timeout(Duration::from_secs(10)).is_permanent());
        assert_eq!(
            SendError::Timeout(Duration::from_secs(10)).to_string(),
            "no answer within 10s"
        );
    }
}
