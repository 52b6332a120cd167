//! A stored event in plain words: the title, text and link that chat messages, pushes and
//! mails show. The words of each kind live beside its payload
//! ([`downbeat_domain::event`]); this reads them back from the outbox row and bounds them.
//! Plain text only; each transport escapes it for its own markup.

use downbeat_domain::event::Words;
use downbeat_store::{NotifyEventRow, OutboxKind};
use serde_json::Value;

pub use downbeat_domain::event::Severity;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// One line, e.g. `Melodia: Login failing (investigating)`.
    pub title: String,
    /// A few lines: the operator's message, or what was observed.
    pub text: String,
    /// The page that shows it (absolute when `[notify] public_url` is set).
    pub link: String,
    pub severity: Severity,
}

/// `event` in words; `service_name` is the service's display name. Data that is not its
/// kind's payload reads as the bare kind.
pub fn message(event: &NotifyEventRow, service_name: &str) -> Message {
    let svc = service_name;
    let kind = event.kind.as_str();
    let words = match event.kind {
        OutboxKind::Confirmation => Some(Words {
            title: format!("Confirm your subscription to {svc} status updates"),
            text: String::new(),
            severity: Severity::Info,
        }),
        OutboxKind::Event(k) => {
            let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
            k.words_of(&data, svc)
        }
    };
    let words = words.unwrap_or_else(|| Words {
        title: format!("{svc}: {kind}"),
        text: String::new(),
        severity: Severity::Info,
    });
    Message {
        title: one_line(&words.title, 200),
        text: words.text.trim().chars().take(3_000).collect(),
        link: event.link.clone(),
        severity: words.severity,
    }
}

/// `s` on one line (control characters become spaces), at most `max` characters.
pub fn one_line(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use downbeat_domain::event::EventKind;

    fn row(kind: &str, data: Value) -> NotifyEventRow {
        NotifyEventRow {
            id: "e1".into(),
            kind: OutboxKind::Event(EventKind::parse(kind).expect("an event kind")),
            service: "melodia".into(),
            occurred_ms: 0,
            link: "https://status.example/s/melodia".into(),
            data: data.to_string(),
        }
    }

    #[test]
    fn events_read_as_sentences() {
        let m = message(
            &row(
                "incident.created",
                serde_json::json!({"title": "Login failing", "status": "investigating", "message": "Looking into it."}),
            ),
            "Melodia",
        );
        assert_eq!(m.title, "Melodia: Login failing");
        assert_eq!(m.text, "Investigating — Looking into it.");
        assert_eq!(m.severity, Severity::Critical);
        let m = message(
            &row(
                "monitor.down",
                serde_json::json!({"monitor": "api", "cause": "tls_certificate"}),
            ),
            "Melodia",
        );
        assert_eq!(m.title, "Melodia: check api is down");
        assert_eq!(m.text, "Probable cause: the TLS certificate is not valid.");
        let m = message(
            &row(
                "incident.updated",
                serde_json::json!({"title": "A\r\nBcc: x", "status": "monitoring"}),
            ),
            "Melodia",
        );
        assert!(
            !m.title.contains('\n'),
            "titles stay on one line: {:?}",
            m.title
        );
    }

    // (A kind this version does not know never gets here: the store refuses to read it.)
    #[test]
    fn unreadable_data_reads_as_the_bare_kind() {
        for (kind, data) in [
            ("crowd.verdict", serde_json::json!({"verdict": 7})),
            ("monitor.down", serde_json::json!({})),
        ] {
            let m = message(&row(kind, data), "Melodia");
            assert_eq!(m.title, format!("Melodia: {kind}"));
            assert_eq!((m.text.as_str(), m.severity), ("", Severity::Info));
        }
    }
}
