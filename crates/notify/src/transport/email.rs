//! Email through the `[notify.smtp]` relay ([`crate::mail`]): the event's words, then a
//! footer saying why this address gets them.

use super::{Clients, Parcel, SendError, Transport};
use crate::mail::Mail;
use crate::message::Message;

/// Sends one ready mail.
#[derive(Debug, Clone)]
pub struct Email {
    pub mail: Mail,
}

impl Email {
    /// The mail a `[[notify.email]]` destination `id` gets, at addresses `to`.
    pub fn to_destination(id: &str, to: &[String], parcel: &Parcel<'_>) -> Email {
        let msg = parcel.message;
        let footer = format!(
            "Downbeat, destination {id:?} ([[notify.email]] in its config). Event {}.\n",
            parcel.event.id
        );
        Email {
            mail: Mail {
                to: to.to_vec(),
                subject: msg.title.clone(),
                text: text(msg, &footer),
                event_id: parcel.event.id.clone(),
                recipient_key: id.to_owned(),
                unsubscribe: None,
            },
        }
    }
}

/// An event's mail text: its words and link, then `footer` below the signature line.
pub fn text(msg: &Message, footer: &str) -> String {
    format!(
        "{}\n\n{}\n\nDetails: {}\n\n-- \n{footer}",
        msg.title, msg.text, msg.link
    )
}

impl Transport for Email {
    async fn send(&self, clients: Clients<'_>, _parcel: &Parcel<'_>) -> Result<u16, SendError> {
        clients.mailer()?.send(&self.mail).await
    }
}
