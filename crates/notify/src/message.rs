//! An event in plain words: the title, text and link that chat messages, pushes and mails
//! show. Plain text only; each format escapes it for its own markup.

use downbeat_store::NotifyEventRow;
use serde_json::Value;

/// How an event should look: colours in chat, priority in pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Something is wrong.
    Critical,
    /// Worth a look.
    Warning,
    /// Something is fixed or done.
    Good,
    Info,
}

impl Severity {
    /// A colour for chat attachments and cards, `#rrggbb`.
    pub fn colour(self) -> &'static str {
        match self {
            Severity::Critical => "#d0342c",
            Severity::Warning => "#e8a317",
            Severity::Good => "#2e9e4f",
            Severity::Info => "#3c78d8",
        }
    }
}

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

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn words(machine: &str) -> String {
    machine.replace('_', " ")
}

/// `event` in words; `service_name` is the service's display name.
pub fn message(event: &NotifyEventRow, service_name: &str) -> Message {
    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    let svc = service_name;
    let title_of = s(&data, "title");
    let said = s(&data, "message").to_owned();
    let monitor = s(&data, "monitor");
    let (title, text, severity) = match event.kind.as_str() {
        "incident.created" => (
            format!("{svc}: {title_of}"),
            format!("{} — {said}", capitalise(&words(s(&data, "status")))),
            Severity::Critical,
        ),
        "incident.updated" => (
            format!("{svc}: {title_of} ({})", words(s(&data, "status"))),
            said,
            Severity::Warning,
        ),
        "incident.resolved" => (
            format!("{svc}: resolved — {title_of}"),
            said,
            Severity::Good,
        ),
        "incident.draft" => (
            format!("[draft] {svc}: {title_of}"),
            format!(
                "Downbeat drafted this incident from its signals. The public has not been told: review and publish it.\n{said}"
            ),
            Severity::Critical,
        ),
        "maintenance.scheduled" => (
            format!("{svc}: maintenance scheduled — {title_of}"),
            said,
            Severity::Info,
        ),
        "maintenance.started" => (
            format!("{svc}: maintenance started — {title_of}"),
            said,
            Severity::Info,
        ),
        "maintenance.completed" => (
            format!("{svc}: maintenance completed — {title_of}"),
            said,
            Severity::Good,
        ),
        "crowd.verdict" => {
            let verdict = s(&data, "verdict");
            (
                format!("{svc}: {}", capitalise(&words(verdict))),
                s(&data, "explanation").to_owned(),
                match verdict {
                    "problems" => Severity::Critical,
                    "possible_problems" => Severity::Warning,
                    _ => Severity::Good,
                },
            )
        }
        "monitor.down" => (
            format!("{svc}: check {monitor} is down"),
            match s(&data, "cause") {
                "" => "It fails from enough regions to count.".to_owned(),
                cause => format!("Probable cause: {}.", words(cause)),
            },
            Severity::Critical,
        ),
        "monitor.up" => (
            format!("{svc}: check {monitor} is up again"),
            String::new(),
            Severity::Good,
        ),
        "monitor.flapping" => (
            format!("{svc}: check {monitor} is flapping"),
            format!(
                "It changed state {} times in {}. Further changes are held back; one summary follows when it settles.",
                data.get("changes").and_then(Value::as_u64).unwrap_or(0),
                s(&data, "window"),
            ),
            Severity::Warning,
        ),
        "monitor.settled" => {
            let state = s(&data, "state");
            (
                format!("{svc}: check {monitor} settled {state}"),
                format!(
                    "It changed state {} times while flapping ({} held back) and has been {state} since {}.",
                    data.get("changes").and_then(Value::as_u64).unwrap_or(0),
                    data.get("held").and_then(Value::as_u64).unwrap_or(0),
                    s(&data, "since"),
                ),
                if state == "down" {
                    Severity::Critical
                } else {
                    Severity::Good
                },
            )
        }
        "certificate.expiring" => {
            let days = data.get("days_left").and_then(Value::as_i64).unwrap_or(0);
            (
                format!(
                    "{svc}: TLS certificate of {monitor} expires in {days} day{}",
                    if days == 1 { "" } else { "s" }
                ),
                format!(
                    "{} expires at {} (issuer {}).",
                    s(&data, "subject"),
                    s(&data, "not_after"),
                    s(&data, "issuer")
                ),
                if days <= 7 {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
            )
        }
        "subscription.confirm" => (
            format!("Confirm your subscription to {svc} status updates"),
            String::new(),
            Severity::Info,
        ),
        other => (format!("{svc}: {other}"), String::new(), Severity::Info),
    };
    Message {
        title: one_line(&title, 200),
        text: text.trim().chars().take(3_000).collect(),
        link: event.link.clone(),
        severity,
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
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

    fn row(kind: &str, data: Value) -> NotifyEventRow {
        NotifyEventRow {
            id: "e1".into(),
            kind: kind.into(),
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
        assert_eq!(m.text, "Probable cause: tls certificate.");
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
}
