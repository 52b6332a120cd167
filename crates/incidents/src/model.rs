//! Incidents and maintenance windows in Statuspage's vocabulary, and their JSON shape.

pub use downbeat_domain::incident::{Components, Impact, Kind, Source, Status};
use downbeat_store::{IncidentRecord, IncidentRow, IncidentUpdateRow};
use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

/// One timestamped update.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Update {
    pub id: i64,
    pub at: Timestamp,
    pub status: Status,
    pub message: String,
    /// Component states as of this update (empty when it changed none).
    pub components: Components,
    /// Who wrote it: a user, a token's name, or `downbeat`.
    pub author: String,
}

/// An incident or maintenance window with its timeline.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Incident {
    pub id: i64,
    pub service: String,
    pub kind: Kind,
    pub title: String,
    pub status: Status,
    pub impact: Impact,
    /// Affected components and their current states.
    pub components: Components,
    /// Visible to operators only until published.
    pub draft: bool,
    pub source: Source,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub published_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// When the recorded signals say the trouble began.
    pub onset_at: Option<Timestamp>,
    /// The first *possible problems* verdict or quorum probe failure.
    pub detected_at: Option<Timestamp>,
    /// The first published update.
    pub acknowledged_at: Option<Timestamp>,
    /// The signals recovered while the incident was open: it awaits resolution.
    pub recovered_at: Option<Timestamp>,
    pub scheduled_for: Option<Timestamp>,
    pub scheduled_until: Option<Timestamp>,
    /// Onset → detection, in seconds.
    pub time_to_detect_s: Option<i64>,
    /// Detection (or creation) → first published update, in seconds.
    pub time_to_acknowledge_s: Option<i64>,
    /// Onset (or detection, or creation) → resolution, in seconds.
    pub time_to_resolve_s: Option<i64>,
    /// Oldest first.
    pub updates: Vec<Update>,
    /// Markdown; rendered safely on the pages.
    pub postmortem: Option<String>,
    pub postmortem_at: Option<Timestamp>,
    /// The evidence behind an automatic draft (operators only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub evidence: Option<serde_json::Value>,
    /// The public page of this incident.
    pub url: String,
    /// The version an update must name to avoid lost updates (informational).
    pub version: i64,
}

fn ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.and_then(|ms| Timestamp::from_millisecond(ms).ok())
}

fn ts0(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn secs(from: Option<i64>, to: Option<i64>) -> Option<i64> {
    Some((to? - from?).max(0) / 1000)
}

impl Incident {
    /// The view of a stored record (whose words the store has already read).
    pub fn from_record(rec: &IncidentRecord) -> Incident {
        let r = &rec.incident;
        let kind = r.kind;
        let start = r.onset_ms.or(r.detected_ms).or(Some(r.created_ms));
        Incident {
            id: r.id,
            service: r.service.clone(),
            kind,
            title: r.title.clone(),
            status: r.status,
            impact: r.impact,
            components: r.components.clone(),
            draft: r.draft,
            source: r.source,
            created_at: ts0(r.created_ms),
            updated_at: ts0(r.updated_ms),
            published_at: ts(r.published_ms),
            resolved_at: ts(r.resolved_ms),
            onset_at: ts(r.onset_ms),
            detected_at: ts(r.detected_ms),
            acknowledged_at: ts(r.acknowledged_ms),
            recovered_at: ts(r.recovered_ms),
            scheduled_for: ts(r.scheduled_start_ms),
            scheduled_until: ts(r.scheduled_end_ms),
            time_to_detect_s: secs(r.onset_ms, r.detected_ms),
            time_to_acknowledge_s: secs(r.detected_ms.or(Some(r.created_ms)), r.acknowledged_ms),
            time_to_resolve_s: match kind {
                Kind::Incident => secs(start, r.resolved_ms),
                Kind::Maintenance => None,
            },
            updates: rec.updates.iter().map(update_of).collect(),
            postmortem: r.postmortem.clone(),
            postmortem_at: ts(r.postmortem_ms),
            evidence: r.evidence.clone(),
            url: format!("/s/{}/incidents/{}", r.service, r.id),
            version: r.version,
        }
    }

    /// The same incident without what only operators see.
    pub fn public(mut self) -> Incident {
        self.evidence = None;
        self
    }

    pub fn is_open(&self) -> bool {
        !self.status.is_final()
    }

    /// The latest update's message, or "" before any.
    pub fn latest_message(&self) -> &str {
        self.updates.last().map_or("", |u| u.message.as_str())
    }
}

fn update_of(u: &IncidentUpdateRow) -> Update {
    Update {
        id: u.id,
        at: ts0(u.at_ms),
        status: u.status,
        message: u.message.clone(),
        components: u.components.clone(),
        author: u.author.clone(),
    }
}

/// A row for a new incident, everything optional left empty.
pub fn new_row(
    service: &str,
    kind: Kind,
    title: String,
    status: Status,
    now_ms: i64,
) -> IncidentRow {
    IncidentRow {
        id: 0,
        service: service.to_owned(),
        kind,
        title,
        status,
        impact: Impact::None,
        components: Components::new(),
        draft: false,
        source: Source::Operator,
        evidence: None,
        created_ms: now_ms,
        updated_ms: now_ms,
        published_ms: None,
        resolved_ms: None,
        onset_ms: None,
        detected_ms: None,
        acknowledged_ms: None,
        scheduled_start_ms: None,
        scheduled_end_ms: None,
        recovered_ms: None,
        postmortem: None,
        postmortem_ms: None,
        version: 0,
        origin: None,
    }
}
