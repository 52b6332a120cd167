//! Notification events: one [`Event`] variant per kind, each with its typed payload, its
//! machine name ([`EventKind`]), its stable id and link ([`Notice`]), and its words
//! ([`Words`]), all matched exhaustively here, so a new variant does not compile until it
//! has every one of them.
//!
//! The payload of a variant serializes to exactly the `data` object that webhook receivers
//! get and that the outbox stores (receivers depend on its shape). An incident's payload is
//! [`IncidentNews`]: the JSON object of the incident as `downbeat_incidents` shows it (its
//! `Incident` view lives there, above this crate), kept as that object rather than retyped
//! here.

use crate::Verdict;
use crate::probe::Cause;
use crate::span::Span;
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The kinds of event, by machine name: what destinations filter on (a kind, or its family,
/// the part before the dot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    IncidentCreated,
    IncidentUpdated,
    IncidentResolved,
    IncidentDraft,
    MaintenanceScheduled,
    MaintenanceStarted,
    MaintenanceCompleted,
    CrowdVerdict,
    MonitorDown,
    MonitorUp,
    MonitorFlapping,
    MonitorSettled,
    CertificateExpiring,
}

impl EventKind {
    /// Every kind, in the order configuration errors list them.
    pub const ALL: [EventKind; 13] = [
        EventKind::IncidentCreated,
        EventKind::IncidentUpdated,
        EventKind::IncidentResolved,
        EventKind::IncidentDraft,
        EventKind::MaintenanceScheduled,
        EventKind::MaintenanceStarted,
        EventKind::MaintenanceCompleted,
        EventKind::CrowdVerdict,
        EventKind::MonitorDown,
        EventKind::MonitorUp,
        EventKind::MonitorFlapping,
        EventKind::MonitorSettled,
        EventKind::CertificateExpiring,
    ];

    /// The machine name: the webhook body's `type`, the outbox's kind, the word filters use.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::IncidentCreated => "incident.created",
            EventKind::IncidentUpdated => "incident.updated",
            EventKind::IncidentResolved => "incident.resolved",
            EventKind::IncidentDraft => "incident.draft",
            EventKind::MaintenanceScheduled => "maintenance.scheduled",
            EventKind::MaintenanceStarted => "maintenance.started",
            EventKind::MaintenanceCompleted => "maintenance.completed",
            EventKind::CrowdVerdict => "crowd.verdict",
            EventKind::MonitorDown => "monitor.down",
            EventKind::MonitorUp => "monitor.up",
            EventKind::MonitorFlapping => "monitor.flapping",
            EventKind::MonitorSettled => "monitor.settled",
            EventKind::CertificateExpiring => "certificate.expiring",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The part of the name before the dot (`incident`, `monitor`, ...).
    pub fn family(self) -> &'static str {
        let name = self.as_str();
        name.split_once('.').map_or(name, |(family, _)| family)
    }

    /// For operators only: sent to destinations with `operators = true`, never to other
    /// destinations or to public subscribers, whatever their filters say. A draft is not
    /// public yet; the on-call person hears of it first.
    pub const fn operators_only(self) -> bool {
        match self {
            EventKind::IncidentDraft => true,
            EventKind::IncidentCreated
            | EventKind::IncidentUpdated
            | EventKind::IncidentResolved
            | EventKind::MaintenanceScheduled
            | EventKind::MaintenanceStarted
            | EventKind::MaintenanceCompleted
            | EventKind::CrowdVerdict
            | EventKind::MonitorDown
            | EventKind::MonitorUp
            | EventKind::MonitorFlapping
            | EventKind::MonitorSettled
            | EventKind::CertificateExpiring => false,
        }
    }

    /// Whether public subscribers hear of it: the operator's word (incidents and
    /// maintenance), nothing automatic and nothing for operators only.
    pub const fn for_subscribers(self) -> bool {
        match self {
            EventKind::IncidentCreated
            | EventKind::IncidentUpdated
            | EventKind::IncidentResolved
            | EventKind::MaintenanceScheduled
            | EventKind::MaintenanceStarted
            | EventKind::MaintenanceCompleted => true,
            EventKind::IncidentDraft
            | EventKind::CrowdVerdict
            | EventKind::MonitorDown
            | EventKind::MonitorUp
            | EventKind::MonitorFlapping
            | EventKind::MonitorSettled
            | EventKind::CertificateExpiring => false,
        }
    }

    /// The words of a stored event of this kind, read back from its `data`; `None` when the
    /// data is not this kind's payload (a row written by hand, or damaged).
    pub fn words_of(self, data: &Value, service_name: &str) -> Option<Words> {
        let svc = service_name;
        Some(match self {
            EventKind::CrowdVerdict => read::<CrowdVerdict>(data)?.words(svc),
            EventKind::MonitorDown => read::<MonitorChange>(data)?.words(svc, CheckState::Down),
            EventKind::MonitorUp => read::<MonitorChange>(data)?.words(svc, CheckState::Up),
            EventKind::MonitorFlapping => read::<MonitorFlapping>(data)?.words(svc),
            EventKind::MonitorSettled => read::<MonitorSettled>(data)?.words(svc),
            EventKind::CertificateExpiring => read::<CertificateExpiring>(data)?.words(svc),
            EventKind::IncidentCreated => read::<IncidentNews>(data)?.created(svc),
            EventKind::IncidentUpdated => read::<IncidentNews>(data)?.updated(svc),
            EventKind::IncidentResolved => read::<IncidentNews>(data)?.resolved(svc),
            EventKind::IncidentDraft => read::<IncidentNews>(data)?.drafted(svc),
            EventKind::MaintenanceScheduled => read::<IncidentNews>(data)?.scheduled(svc),
            EventKind::MaintenanceStarted => read::<IncidentNews>(data)?.started(svc),
            EventKind::MaintenanceCompleted => read::<IncidentNews>(data)?.completed(svc),
        })
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn read<T: DeserializeOwned>(data: &Value) -> Option<T> {
    T::deserialize(data).ok()
}

/// Something worth telling people about: one variant per [`EventKind`], with its payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A service's overall crowd verdict changed.
    CrowdVerdict(CrowdVerdict),
    /// A monitor went down (past its hysteresis).
    MonitorDown(MonitorChange),
    /// A monitor came back up.
    MonitorUp(MonitorChange),
    /// A monitor started flapping; its further changes are held.
    MonitorFlapping(MonitorFlapping),
    /// A flapping monitor settled: the summary of what was held.
    MonitorSettled(MonitorSettled),
    /// A monitored TLS certificate is close to its end of validity.
    CertificateExpiring(CertificateExpiring),
    IncidentCreated(IncidentChange),
    IncidentUpdated(IncidentChange),
    IncidentResolved(IncidentChange),
    /// The operators' alert of an incident drafted from signals, before anyone publishes it.
    IncidentDraft(IncidentDraft),
    MaintenanceScheduled(IncidentChange),
    MaintenanceStarted(IncidentChange),
    MaintenanceCompleted(IncidentChange),
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::CrowdVerdict(_) => EventKind::CrowdVerdict,
            Event::MonitorDown(_) => EventKind::MonitorDown,
            Event::MonitorUp(_) => EventKind::MonitorUp,
            Event::MonitorFlapping(_) => EventKind::MonitorFlapping,
            Event::MonitorSettled(_) => EventKind::MonitorSettled,
            Event::CertificateExpiring(_) => EventKind::CertificateExpiring,
            Event::IncidentCreated(_) => EventKind::IncidentCreated,
            Event::IncidentUpdated(_) => EventKind::IncidentUpdated,
            Event::IncidentResolved(_) => EventKind::IncidentResolved,
            Event::IncidentDraft(_) => EventKind::IncidentDraft,
            Event::MaintenanceScheduled(_) => EventKind::MaintenanceScheduled,
            Event::MaintenanceStarted(_) => EventKind::MaintenanceStarted,
            Event::MaintenanceCompleted(_) => EventKind::MaintenanceCompleted,
        }
    }

    /// A monitor going down (`down`) or coming back.
    pub fn monitor(down: bool, change: MonitorChange) -> Event {
        if down {
            Event::MonitorDown(change)
        } else {
            Event::MonitorUp(change)
        }
    }

    /// The payload as receivers get it: the webhook body's `data`, the outbox's `data`.
    pub fn data(&self) -> Value {
        match self {
            Event::CrowdVerdict(p) => to_value(p),
            Event::MonitorDown(p) => p.data(CheckState::Down),
            Event::MonitorUp(p) => p.data(CheckState::Up),
            Event::MonitorFlapping(p) => to_value(p),
            Event::MonitorSettled(p) => to_value(p),
            Event::CertificateExpiring(p) => to_value(p),
            Event::IncidentCreated(c)
            | Event::IncidentUpdated(c)
            | Event::IncidentResolved(c)
            | Event::MaintenanceScheduled(c)
            | Event::MaintenanceStarted(c)
            | Event::MaintenanceCompleted(c) => to_value(&c.news),
            Event::IncidentDraft(d) => to_value(&d.news),
        }
    }

    /// The event in words; `service_name` is the service's display name. The same words as
    /// [`EventKind::words_of`] gives for its stored data.
    pub fn words(&self, service_name: &str) -> Words {
        let svc = service_name;
        match self {
            Event::CrowdVerdict(p) => p.words(svc),
            Event::MonitorDown(p) => p.words(svc, CheckState::Down),
            Event::MonitorUp(p) => p.words(svc, CheckState::Up),
            Event::MonitorFlapping(p) => p.words(svc),
            Event::MonitorSettled(p) => p.words(svc),
            Event::CertificateExpiring(p) => p.words(svc),
            Event::IncidentCreated(c) => c.news.created(svc),
            Event::IncidentUpdated(c) => c.news.updated(svc),
            Event::IncidentResolved(c) => c.news.resolved(svc),
            Event::IncidentDraft(d) => d.news.drafted(svc),
            Event::MaintenanceScheduled(c) => c.news.scheduled(svc),
            Event::MaintenanceStarted(c) => c.news.started(svc),
            Event::MaintenanceCompleted(c) => c.news.completed(svc),
        }
    }
}

fn to_value<T: Serialize>(payload: &T) -> Value {
    // The payloads are plain structs and string-keyed maps: serializing cannot fail.
    serde_json::to_value(payload).unwrap_or(Value::Null)
}

/// An event about to be enqueued: what happened, to which service (and components), when.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub service: String,
    /// The components it concerns; empty means the whole service. Destinations and
    /// subscribers that chose components hear of events naming one of theirs, or none.
    pub components: Vec<String>,
    /// When it happened; also the part of the id that tells one occurrence from the next
    /// (the verdict's minute, the time a monitor's state began, the last held change).
    pub occurred_ms: i64,
    pub event: Event,
}

impl Notice {
    /// `event` about the whole of `service`, at `occurred_ms`.
    pub fn new(service: &str, occurred_ms: i64, event: Event) -> Notice {
        Notice {
            service: service.to_owned(),
            components: Vec::new(),
            occurred_ms,
            event,
        }
    }

    /// Limits it to `components`.
    pub fn about<S: Into<String>>(mut self, components: impl IntoIterator<Item = S>) -> Notice {
        self.components = components.into_iter().map(Into::into).collect();
        self
    }

    /// A monitor going down (`down`) or coming back, as of `since_ms`, when the state began.
    pub fn monitor(service: &str, monitor: &str, down: bool, since_ms: i64) -> Notice {
        let change = MonitorChange {
            monitor: monitor.to_owned(),
            cause: None,
        };
        Notice::new(service, since_ms, Event::monitor(down, change))
    }

    /// The stable id: receivers deduplicate on it and the outbox refuses a second copy, so
    /// the same happening seen again (after a restart, on another node) must get the same.
    pub fn id(&self) -> String {
        let (svc, at) = (&self.service, self.occurred_ms);
        match &self.event {
            // Keyed by the minute of the change.
            Event::CrowdVerdict(_) => format!("verdict-{svc}-{at}"),
            // Keyed by when the state began.
            Event::MonitorDown(m) => format!("monitor-{}-down-{at}", m.monitor),
            Event::MonitorUp(m) => format!("monitor-{}-up-{at}", m.monitor),
            // Keyed by the change past the limit.
            Event::MonitorFlapping(f) => format!("monitor-{}-flapping-{at}", f.monitor),
            // Keyed by the last change held.
            Event::MonitorSettled(s) => format!("monitor-{}-settled-{at}", s.monitor),
            // One per certificate (its end of validity) and threshold, whoever sees it.
            Event::CertificateExpiring(c) => format!(
                "certificate-{}-{}-{}d",
                c.monitor,
                c.not_after.as_second(),
                c.threshold_days
            ),
            // `seq` tells one update of the incident from the next.
            Event::IncidentCreated(c)
            | Event::IncidentUpdated(c)
            | Event::IncidentResolved(c)
            | Event::MaintenanceScheduled(c)
            | Event::MaintenanceStarted(c)
            | Event::MaintenanceCompleted(c) => {
                format!("incident-{}-update-{}", c.incident, c.seq)
            }
            Event::IncidentDraft(d) => format!("incident-{}-draft", d.incident),
        }
    }

    /// The path of the page that shows it; the configured public URL is prefixed.
    pub fn path(&self) -> String {
        let svc = &self.service;
        match &self.event {
            Event::CrowdVerdict(_)
            | Event::MonitorDown(_)
            | Event::MonitorUp(_)
            | Event::MonitorFlapping(_)
            | Event::MonitorSettled(_)
            | Event::CertificateExpiring(_) => format!("/s/{svc}"),
            Event::IncidentCreated(c)
            | Event::IncidentUpdated(c)
            | Event::IncidentResolved(c)
            | Event::MaintenanceScheduled(c)
            | Event::MaintenanceStarted(c)
            | Event::MaintenanceCompleted(c) => format!("/s/{svc}/incidents/{}", c.incident),
            // Not public yet: the admin page.
            Event::IncidentDraft(d) => format!("/admin/incidents/{}", d.incident),
        }
    }
}

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

/// An event in plain words (plain text: each format escapes it for its own markup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    /// One line, e.g. `Melodia: Login failing (investigating)`.
    pub title: String,
    /// A few lines: the operator's message, or what was observed.
    pub text: String,
    pub severity: Severity,
}

impl Words {
    fn new(title: String, text: String, severity: Severity) -> Words {
        Words {
            title,
            text,
            severity,
        }
    }
}

/// Up or down: a monitor's state past its hysteresis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    Up,
    Down,
}

impl CheckState {
    pub const ALL: [CheckState; 2] = [CheckState::Up, CheckState::Down];

    pub fn of(down: bool) -> CheckState {
        if down {
            CheckState::Down
        } else {
            CheckState::Up
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CheckState::Up => "up",
            CheckState::Down => "down",
        }
    }
}

impl std::fmt::Display for CheckState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `crowd.verdict`: `{verdict, previous, explanation}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrowdVerdict {
    pub verdict: Verdict,
    pub previous: Verdict,
    /// Why, in words for the public.
    pub explanation: String,
}

impl CrowdVerdict {
    fn words(&self, svc: &str) -> Words {
        let severity = match self.verdict {
            Verdict::Problems => Severity::Critical,
            Verdict::PossibleProblems => Severity::Warning,
            Verdict::NoProblems => Severity::Good,
        };
        let title = format!("{svc}: {}", self.verdict.label());
        Words::new(title, self.explanation.clone(), severity)
    }
}

/// `monitor.down` and `monitor.up`: `{monitor, state, cause?}` (the state is the kind's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorChange {
    pub monitor: String,
    /// The probable cause (serialized as its machine name, `tls_certificate`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
}

impl MonitorChange {
    fn data(&self, state: CheckState) -> Value {
        let mut data = to_value(self);
        if let Some(obj) = data.as_object_mut() {
            obj.insert("state".into(), state.as_str().into());
        }
        data
    }

    fn words(&self, svc: &str, state: CheckState) -> Words {
        let monitor = &self.monitor;
        match state {
            CheckState::Down => Words::new(
                format!("{svc}: check {monitor} is down"),
                match self.cause {
                    None => "It fails from enough regions to count.".to_owned(),
                    // Subscribers are the public: public words only.
                    Some(cause) => format!("Probable cause: {}.", cause.public_words()),
                },
                Severity::Critical,
            ),
            CheckState::Up => Words::new(
                format!("{svc}: check {monitor} is up again"),
                String::new(),
                Severity::Good,
            ),
        }
    }
}

/// `monitor.flapping`: `{monitor, state, changes, window}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorFlapping {
    pub monitor: String,
    /// The state the change past the limit moved it to.
    pub state: CheckState,
    /// Changes within `window`, that one included.
    pub changes: u32,
    pub window: Span,
}

impl MonitorFlapping {
    fn words(&self, svc: &str) -> Words {
        Words::new(
            format!("{svc}: check {} is flapping", self.monitor),
            format!(
                "It changed state {} times in {}. Further changes are held back; one summary follows when it settles.",
                self.changes, self.window,
            ),
            Severity::Warning,
        )
    }
}

/// `monitor.settled`: `{monitor, state, changes, held, started, since}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorSettled {
    pub monitor: String,
    /// Where it ended.
    pub state: CheckState,
    /// Changes during the episode.
    pub changes: u32,
    /// Changes not told.
    pub held: u32,
    pub started: Timestamp,
    /// The last change, since when it has kept `state`.
    pub since: Timestamp,
}

impl MonitorSettled {
    fn words(&self, svc: &str) -> Words {
        let state = self.state.as_str();
        Words::new(
            format!("{svc}: check {} settled {state}", self.monitor),
            format!(
                "It changed state {} times while flapping ({} held back) and has been {state} since {}.",
                self.changes, self.held, self.since,
            ),
            match self.state {
                CheckState::Down => Severity::Critical,
                CheckState::Up => Severity::Good,
            },
        )
    }
}

/// `certificate.expiring`: `{monitor, subject, issuer, not_after, days_left, threshold_days}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateExpiring {
    pub monitor: String,
    pub subject: String,
    pub issuer: String,
    pub not_after: Timestamp,
    /// Whole days left, rounded down.
    pub days_left: i64,
    /// The tightest threshold of `[notify] cert_expiry_days` crossed.
    pub threshold_days: u32,
}

impl CertificateExpiring {
    fn words(&self, svc: &str) -> Words {
        let days = self.days_left;
        Words::new(
            format!(
                "{svc}: TLS certificate of {} expires in {days} day{}",
                self.monitor,
                if days == 1 { "" } else { "s" }
            ),
            format!(
                "{} expires at {} (issuer {}).",
                self.subject, self.not_after, self.issuer
            ),
            if days <= 7 {
                Severity::Critical
            } else {
                Severity::Warning
            },
        )
    }
}

/// An incident or maintenance window changed in a way the public hears of.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentChange {
    pub incident: i64,
    /// Tells one update of the incident from the next (the number of updates it has).
    pub seq: usize,
    pub news: IncidentNews,
}

/// `incident.draft`: an incident drafted from signals.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentDraft {
    pub incident: i64,
    pub news: IncidentNews,
}

/// The payload of incident and maintenance events: the incident as `downbeat_incidents`
/// shows it (without the operators' evidence, with its latest `message`), as the JSON
/// object that view serializes to. Words read its `title`, `status` and `message`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncidentNews(pub Map<String, Value>);

impl From<Value> for IncidentNews {
    /// The object's fields; anything but an object carries none.
    fn from(v: Value) -> IncidentNews {
        match v {
            Value::Object(map) => IncidentNews(map),
            _ => IncidentNews::default(),
        }
    }
}

impl IncidentNews {
    fn field(&self, key: &str) -> &str {
        self.0.get(key).and_then(Value::as_str).unwrap_or("")
    }

    pub fn title(&self) -> &str {
        self.field("title")
    }

    /// The status's machine name (`investigating`, `in_progress`, ...).
    pub fn status(&self) -> &str {
        self.field("status")
    }

    /// The latest update's message.
    pub fn message(&self) -> &str {
        self.field("message")
    }

    fn created(&self, svc: &str) -> Words {
        Words::new(
            format!("{svc}: {}", self.title()),
            format!(
                "{} — {}",
                capitalise(&spaced(self.status())),
                self.message()
            ),
            Severity::Critical,
        )
    }

    fn updated(&self, svc: &str) -> Words {
        Words::new(
            format!("{svc}: {} ({})", self.title(), spaced(self.status())),
            self.message().to_owned(),
            Severity::Warning,
        )
    }

    fn resolved(&self, svc: &str) -> Words {
        Words::new(
            format!("{svc}: resolved — {}", self.title()),
            self.message().to_owned(),
            Severity::Good,
        )
    }

    fn drafted(&self, svc: &str) -> Words {
        Words::new(
            format!("[draft] {svc}: {}", self.title()),
            format!(
                "Downbeat drafted this incident from its signals. The public has not been told: review and publish it.\n{}",
                self.message()
            ),
            Severity::Critical,
        )
    }

    fn scheduled(&self, svc: &str) -> Words {
        self.maintenance(svc, "scheduled", Severity::Info)
    }

    fn started(&self, svc: &str) -> Words {
        self.maintenance(svc, "started", Severity::Info)
    }

    fn completed(&self, svc: &str) -> Words {
        self.maintenance(svc, "completed", Severity::Good)
    }

    fn maintenance(&self, svc: &str, what: &str, severity: Severity) -> Words {
        Words::new(
            format!("{svc}: maintenance {what} — {}", self.title()),
            self.message().to_owned(),
            severity,
        )
    }
}

/// A machine name in words: `tls_certificate` → `tls certificate`.
fn spaced(machine: &str) -> String {
    machine.replace('_', " ")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// One event of every kind, as the stages make them.
    fn every_kind() -> Vec<Notice> {
        let news = IncidentNews::from(json!({
            "title": "Login failing", "status": "in_progress", "message": "Looking into it.",
        }));
        let change = |seq| IncidentChange {
            incident: 4,
            seq,
            news: news.clone(),
        };
        let events = vec![
            Event::IncidentCreated(change(1)),
            Event::IncidentUpdated(change(2)),
            Event::IncidentResolved(change(3)),
            Event::IncidentDraft(IncidentDraft {
                incident: 4,
                news: news.clone(),
            }),
            Event::MaintenanceScheduled(change(1)),
            Event::MaintenanceStarted(change(2)),
            Event::MaintenanceCompleted(change(3)),
            Event::CrowdVerdict(CrowdVerdict {
                verdict: Verdict::PossibleProblems,
                previous: Verdict::NoProblems,
                explanation: "Reports are up.".into(),
            }),
            Event::MonitorDown(MonitorChange {
                monitor: "login-api".into(),
                cause: Some(Cause::TlsCertificate),
            }),
            Event::MonitorUp(MonitorChange {
                monitor: "login-api".into(),
                cause: None,
            }),
            Event::MonitorFlapping(MonitorFlapping {
                monitor: "login-api".into(),
                state: CheckState::Down,
                changes: 4,
                window: Span::from_secs(1800),
            }),
            Event::MonitorSettled(MonitorSettled {
                monitor: "login-api".into(),
                state: CheckState::Up,
                changes: 20,
                held: 18,
                started: at("2026-03-01T10:00:00Z"),
                since: at("2026-03-01T10:30:00Z"),
            }),
            Event::CertificateExpiring(CertificateExpiring {
                monitor: "login-api".into(),
                subject: "CN=melodia.example".into(),
                issuer: "CN=Test CA".into(),
                not_after: at("2026-03-06T12:00:00Z"),
                days_left: 5,
                threshold_days: 7,
            }),
        ];
        events
            .into_iter()
            .map(|e| Notice::new("melodia", 1_000, e))
            .collect()
    }

    #[test]
    fn every_kind_has_its_name_and_reads_back_to_the_same_words() {
        let all = every_kind();
        let kinds: Vec<EventKind> = all.iter().map(|n| n.event.kind()).collect();
        assert_eq!(kinds, EventKind::ALL, "one event of each kind, in order");
        for n in &all {
            let kind = n.event.kind();
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            // What the outbox stores and a worker reads back says the same.
            let stored: Value = serde_json::from_str(&n.event.data().to_string()).unwrap();
            assert_eq!(
                kind.words_of(&stored, "Melodia"),
                Some(n.event.words("Melodia")),
                "{kind}"
            );
        }
    }

    #[test]
    fn payloads_keep_the_data_shape_receivers_know() {
        let all = every_kind();
        let data = |k: EventKind| {
            all.iter()
                .find(|n| n.event.kind() == k)
                .unwrap()
                .event
                .data()
                .to_string()
        };
        assert_eq!(
            data(EventKind::CrowdVerdict),
            r#"{"explanation":"Reports are up.","previous":"no_problems","verdict":"possible_problems"}"#
        );
        assert_eq!(
            data(EventKind::MonitorDown),
            r#"{"cause":"tls_certificate","monitor":"login-api","state":"down"}"#
        );
        assert_eq!(
            data(EventKind::MonitorUp),
            r#"{"monitor":"login-api","state":"up"}"#
        );
        assert_eq!(
            data(EventKind::MonitorFlapping),
            r#"{"changes":4,"monitor":"login-api","state":"down","window":"30m"}"#
        );
        assert_eq!(
            data(EventKind::MonitorSettled),
            r#"{"changes":20,"held":18,"monitor":"login-api","since":"2026-03-01T10:30:00Z","started":"2026-03-01T10:00:00Z","state":"up"}"#
        );
        assert_eq!(
            data(EventKind::CertificateExpiring),
            r#"{"days_left":5,"issuer":"CN=Test CA","monitor":"login-api","not_after":"2026-03-06T12:00:00Z","subject":"CN=melodia.example","threshold_days":7}"#
        );
        assert_eq!(
            data(EventKind::IncidentUpdated),
            r#"{"message":"Looking into it.","status":"in_progress","title":"Login failing"}"#
        );
    }

    #[test]
    fn ids_and_links_are_stable() {
        let ids: Vec<(String, String)> = every_kind().iter().map(|n| (n.id(), n.path())).collect();
        let want = [
            ("incident-4-update-1", "/s/melodia/incidents/4"),
            ("incident-4-update-2", "/s/melodia/incidents/4"),
            ("incident-4-update-3", "/s/melodia/incidents/4"),
            ("incident-4-draft", "/admin/incidents/4"),
            ("incident-4-update-1", "/s/melodia/incidents/4"),
            ("incident-4-update-2", "/s/melodia/incidents/4"),
            ("incident-4-update-3", "/s/melodia/incidents/4"),
            ("verdict-melodia-1000", "/s/melodia"),
            ("monitor-login-api-down-1000", "/s/melodia"),
            ("monitor-login-api-up-1000", "/s/melodia"),
            ("monitor-login-api-flapping-1000", "/s/melodia"),
            ("monitor-login-api-settled-1000", "/s/melodia"),
            ("certificate-login-api-1772798400-7d", "/s/melodia"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(i, p)| (i.to_string(), p.to_string()))
            .collect();
        assert_eq!(ids, want);
    }

    #[test]
    fn a_monitor_transition_has_the_same_id_when_seen_again() {
        let a = Notice::monitor("melodia", "login-api", true, 1_000);
        assert_eq!(a.id(), "monitor-login-api-down-1000");
        assert_eq!(a, Notice::monitor("melodia", "login-api", true, 1_000));
        assert_eq!(
            Notice::monitor("melodia", "login-api", false, 2_000)
                .event
                .kind()
                .as_str(),
            "monitor.up"
        );
    }

    #[test]
    fn only_drafts_are_for_operators_and_subscribers_hear_the_operators_word() {
        for k in EventKind::ALL {
            assert_eq!(k.operators_only(), k == EventKind::IncidentDraft, "{k}");
            assert_eq!(
                k.for_subscribers(),
                ["incident", "maintenance"].contains(&k.family()) && !k.operators_only(),
                "{k}"
            );
        }
    }
}
