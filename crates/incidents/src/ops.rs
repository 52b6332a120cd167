//! What operators do to incidents, with every rule checked: create, update (legal
//! transitions only), publish a draft, attach a post-mortem, schedule maintenance.

use super::model::*;
use super::signals;
use crate::Incidents;
use crate::error::IncidentError;
use downbeat_config::ServiceConfig;
use downbeat_domain::{ComponentState, text};
use downbeat_store::{IncidentRecord, IncidentUpdateRow};
use jiff::Timestamp;
use serde::Deserialize;
use utoipa::ToSchema;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_MESSAGE_CHARS: usize = 10_000;
pub const MAX_POSTMORTEM_BYTES: usize = 100_000;

/// `POST /api/v1/services/{service}/incidents`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    pub title: String,
    /// Defaults to `investigating`.
    #[serde(default)]
    pub status: Option<Status>,
    /// Defaults to `minor`.
    #[serde(default)]
    pub impact: Option<Impact>,
    pub message: String,
    /// Affected components and their states.
    #[serde(default)]
    pub components: Components,
    /// Keep it a draft, visible to operators only, until published.
    #[serde(default)]
    pub draft: bool,
}

/// `POST /api/v1/incidents/{id}/updates`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUpdate {
    /// Defaults to the current status.
    #[serde(default)]
    pub status: Option<Status>,
    pub message: String,
    /// Components whose state changes with this update.
    #[serde(default)]
    pub components: Option<Components>,
    #[serde(default)]
    pub impact: Option<Impact>,
    #[serde(default)]
    pub title: Option<String>,
}

/// `POST /api/v1/services/{service}/maintenance`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMaintenance {
    pub title: String,
    pub message: String,
    pub scheduled_for: Timestamp,
    pub scheduled_until: Timestamp,
    /// Components under maintenance (default state `under_maintenance`), as a list of ids or
    /// a map of id → state.
    #[serde(default)]
    pub components: MaintenanceComponents,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum MaintenanceComponents {
    Ids(Vec<String>),
    States(Components),
}

impl Default for MaintenanceComponents {
    fn default() -> Self {
        MaintenanceComponents::Ids(Vec::new())
    }
}

/// `PUT /api/v1/incidents/{id}/postmortem`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Postmortem {
    /// Markdown. Raw HTML in it is shown as text, never interpreted.
    pub markdown: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> IncidentError {
    IncidentError::Invalid {
        field,
        message: message.into(),
    }
}

/// A title: 1–200 characters, one line.
pub fn check_title(title: &str) -> Result<String, IncidentError> {
    let t = title.trim();
    if t.is_empty() {
        return Err(invalid("title", "must not be empty"));
    }
    if t.chars().count() > MAX_TITLE_CHARS {
        return Err(invalid(
            "title",
            format!("is longer than {MAX_TITLE_CHARS} characters"),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(invalid(
            "title",
            "must be one line without control characters",
        ));
    }
    check_characters("title", t)?;
    Ok(t.to_owned())
}

/// A message: 1–10,000 characters; line breaks allowed.
pub fn check_message(message: &str) -> Result<String, IncidentError> {
    let m = message.trim();
    if m.is_empty() {
        return Err(invalid("message", "must not be empty"));
    }
    if m.chars().count() > MAX_MESSAGE_CHARS {
        return Err(invalid(
            "message",
            format!("is longer than {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    if m.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid("message", "must not contain control characters"));
    }
    check_characters("message", m)?;
    Ok(m.to_owned())
}

/// Refuses characters that feeds and pages cannot carry (U+FFFE and other non-characters).
fn check_characters(field: &'static str, s: &str) -> Result<(), IncidentError> {
    match text::first_unfit(s) {
        Some(c) => Err(invalid(
            field,
            format!(
                "must not contain {}, which is not a character text can carry",
                text::code_point(c)
            ),
        )),
        None => Ok(()),
    }
}

/// Every id names a component of `service`.
pub fn check_components(service: &ServiceConfig, c: &Components) -> Result<(), IncidentError> {
    for id in c.keys() {
        if !service.components.iter().any(|k| k.id.as_str() == id) {
            let known: Vec<&str> = service.components.iter().map(|k| k.id.as_str()).collect();
            let shown: String = id.chars().take(64).collect();
            return Err(invalid(
                "components",
                if known.is_empty() {
                    format!("{shown:?} is not a component: {} has none", service.id)
                } else {
                    format!(
                        "{shown:?} is not a component of {}; known: {}",
                        service.id,
                        known.join(", ")
                    )
                },
            ));
        }
    }
    Ok(())
}

fn check_status(kind: Kind, status: Status) -> Result<(), IncidentError> {
    if status.kind() != kind {
        return Err(invalid(
            "status",
            format!(
                "{} is not a status of {}: use {}",
                status.as_str(),
                if kind == Kind::Incident {
                    "an incident"
                } else {
                    "maintenance"
                },
                Status::of(kind)
            ),
        ));
    }
    Ok(())
}

fn service_config(
    config: &downbeat_config::Config,
    service: &str,
) -> Result<ServiceConfig, IncidentError> {
    config
        .service(service)
        .cloned()
        .ok_or_else(|| IncidentError::unknown_service(service))
}

pub async fn load(incidents: &Incidents, id: i64) -> Result<IncidentRecord, IncidentError> {
    incidents
        .records
        .incident(id)
        .await?
        .ok_or_else(|| IncidentError::NotFound(format!("no incident {id}")))
}

fn update_row(
    at_ms: i64,
    status: Status,
    message: String,
    c: &Components,
    author: &str,
) -> IncidentUpdateRow {
    IncidentUpdateRow {
        id: 0,
        incident: 0,
        at_ms,
        status,
        message,
        components: c.clone(),
        author: author.to_owned(),
    }
}

/// Creates an incident (published unless `draft`), with its time to detect from the
/// signals recorded for the service.
pub async fn create(
    incidents: &Incidents,
    service: &ServiceConfig,
    req: NewIncident,
    author: &str,
) -> Result<Incident, IncidentError> {
    let title = check_title(&req.title)?;
    let message = check_message(&req.message)?;
    let status = req.status.unwrap_or(Status::Investigating);
    check_status(Kind::Incident, status)?;
    check_components(service, &req.components)?;
    let impact = req.impact.unwrap_or(Impact::Minor);
    if impact == Impact::Maintenance {
        return Err(invalid(
            "impact",
            "maintenance is the impact of maintenance windows: use none, minor, major or critical",
        ));
    }
    let now_ms = incidents.clock.now().as_millisecond();
    let episode = signals::episode(incidents, service, now_ms).await?;
    let mut row = new_row(service.id.as_str(), Kind::Incident, title, status, now_ms);
    row.impact = impact;
    row.components = req.components.clone();
    row.draft = req.draft;
    if !req.draft {
        row.published_ms = Some(now_ms);
        row.acknowledged_ms = Some(now_ms);
    }
    if status.is_final() {
        row.resolved_ms = Some(now_ms);
    }
    if let Some(e) = episode {
        row.onset_ms = e.onset_ms;
        row.detected_ms = Some(e.detected_ms);
    }
    let first = update_row(now_ms, status, message, &req.components, author);
    let id = incidents
        .records
        .insert_incident(row, vec![first], None)
        .await?;
    after_change(incidents, service.id.as_str()).await;
    announce(incidents, id, true).await
}

/// Appends an update, refusing illegal transitions with a clear 409 or 422.
pub async fn update(
    incidents: &Incidents,
    id: i64,
    req: NewUpdate,
    author: &str,
) -> Result<Incident, IncidentError> {
    let rec = load(incidents, id).await?;
    let current = Incident::from_record(&rec);
    let service = service_config(&incidents.config.load(), &current.service)?;
    let service = &service;
    let message = check_message(&req.message)?;
    let status = req.status.unwrap_or(current.status);
    check_status(current.kind, status)?;
    if current.status.is_final() {
        return Err(IncidentError::Conflict(format!(
            "{} {id} is {}; nothing can follow{}",
            current.kind.as_str(),
            current.status.as_str(),
            if current.kind == Kind::Incident {
                " but a post-mortem: open a new incident instead"
            } else {
                ": schedule a new window instead"
            }
        )));
    }
    if current.status == Status::InProgress && status == Status::Scheduled {
        return Err(IncidentError::Conflict(format!(
            "maintenance {id} is already in progress; it cannot go back to scheduled"
        )));
    }
    let changed = req.components.unwrap_or_default();
    check_components(service, &changed)?;
    let mut row = rec.incident.clone();
    let now_ms = incidents.clock.now().as_millisecond();
    if let Some(title) = &req.title {
        row.title = check_title(title)?;
    }
    if let Some(impact) = req.impact {
        if (impact == Impact::Maintenance) != (current.kind == Kind::Maintenance) {
            return Err(invalid(
                "impact",
                "maintenance is the impact of maintenance windows only",
            ));
        }
        row.impact = impact;
    }
    let mut components = current.components.clone();
    components.extend(changed.iter().map(|(k, v)| (k.clone(), *v)));
    if status.is_final() {
        // Resolved or completed: every affected component is back.
        for v in components.values_mut() {
            *v = ComponentState::Operational;
        }
        row.resolved_ms = Some(now_ms);
    }
    row.components = components;
    row.status = status;
    row.updated_ms = now_ms;
    if !row.draft && row.acknowledged_ms.is_none() {
        row.acknowledged_ms = Some(now_ms);
    }
    let u = update_row(now_ms, status, message, &changed, author);
    incidents
        .records
        .update_incident(row, vec![u], None)
        .await?;
    after_change(incidents, &current.service).await;
    announce(incidents, id, false).await
}

/// Publishes a draft: it becomes public, acknowledged now.
pub async fn publish(incidents: &Incidents, id: i64) -> Result<Incident, IncidentError> {
    let rec = load(incidents, id).await?;
    if !rec.incident.draft {
        return Err(IncidentError::Conflict(format!(
            "incident {id} is already published"
        )));
    }
    let now_ms = incidents.clock.now().as_millisecond();
    let mut row = rec.incident.clone();
    row.draft = false;
    row.published_ms = Some(now_ms);
    row.acknowledged_ms.get_or_insert(now_ms);
    row.updated_ms = now_ms;
    incidents
        .records
        .update_incident(row, Vec::new(), None)
        .await?;
    after_change(incidents, &rec.incident.service).await;
    announce(incidents, id, true).await
}

/// Attaches (or replaces) the post-mortem of a resolved incident.
pub async fn set_postmortem(
    incidents: &Incidents,
    id: i64,
    markdown: &str,
) -> Result<Incident, IncidentError> {
    let rec = load(incidents, id).await?;
    let current = Incident::from_record(&rec);
    if current.kind != Kind::Incident {
        return Err(IncidentError::Conflict(format!(
            "{id} is a maintenance window; post-mortems belong to incidents"
        )));
    }
    if current.status != Status::Resolved {
        return Err(IncidentError::Conflict(format!(
            "incident {id} is {}; a post-mortem follows resolution",
            current.status.as_str()
        )));
    }
    if markdown.trim().is_empty() {
        return Err(invalid("markdown", "must not be empty"));
    }
    check_characters("markdown", markdown)?;
    if markdown.len() > MAX_POSTMORTEM_BYTES {
        return Err(invalid(
            "markdown",
            format!("is larger than {MAX_POSTMORTEM_BYTES} bytes"),
        ));
    }
    if markdown
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid("markdown", "must not contain control characters"));
    }
    let now_ms = incidents.clock.now().as_millisecond();
    let mut row = rec.incident.clone();
    row.postmortem = Some(markdown.to_owned());
    row.postmortem_ms = Some(now_ms);
    row.updated_ms = now_ms;
    incidents
        .records
        .update_incident(row, Vec::new(), None)
        .await?;
    after_change(incidents, &current.service).await;
    Ok(Incident::from_record(&load(incidents, id).await?))
}

/// Schedules a maintenance window (in progress at once if it has already begun).
pub async fn schedule_maintenance(
    incidents: &Incidents,
    service: &ServiceConfig,
    req: NewMaintenance,
    author: &str,
) -> Result<Incident, IncidentError> {
    let title = check_title(&req.title)?;
    let message = check_message(&req.message)?;
    let start = req.scheduled_for.as_millisecond();
    let end = req.scheduled_until.as_millisecond();
    if end <= start {
        return Err(invalid("scheduled_until", "must be after scheduled_for"));
    }
    let now_ms = incidents.clock.now().as_millisecond();
    if end <= now_ms {
        return Err(invalid("scheduled_until", "is in the past"));
    }
    let components: Components = match req.components {
        MaintenanceComponents::Ids(ids) => ids
            .into_iter()
            .map(|id| (id, ComponentState::UnderMaintenance))
            .collect(),
        MaintenanceComponents::States(m) => m,
    };
    check_components(service, &components)?;
    let status = if start <= now_ms {
        Status::InProgress
    } else {
        Status::Scheduled
    };
    let mut row = new_row(
        service.id.as_str(),
        Kind::Maintenance,
        title,
        status,
        now_ms,
    );
    row.impact = Impact::Maintenance;
    row.components = components.clone();
    row.published_ms = Some(now_ms);
    row.acknowledged_ms = Some(now_ms);
    row.scheduled_start_ms = Some(start);
    row.scheduled_end_ms = Some(end);
    let first = update_row(now_ms, status, message, &components, author);
    let id = incidents
        .records
        .insert_incident(row, vec![first], None)
        .await?;
    after_change(incidents, service.id.as_str()).await;
    announce(incidents, id, true).await
}

/// Starts and completes maintenance windows as their times come. Safe on several nodes: a
/// lost race is a version conflict, and the winner's change stands.
pub async fn advance_maintenance(
    incidents: &Incidents,
    now_ms: i64,
) -> Result<(), downbeat_store::StoreError> {
    let open = incidents
        .records
        .incidents(downbeat_store::IncidentFilter {
            kind: Some(Kind::Maintenance),
            open_only: true,
            limit: 1000,
            ..Default::default()
        })
        .await?;
    for rec in open {
        let m = Incident::from_record(&rec);
        let start = rec.incident.scheduled_start_ms.unwrap_or(i64::MAX);
        let end = rec.incident.scheduled_end_ms.unwrap_or(i64::MAX);
        let (status, message) = if now_ms >= end {
            (
                Status::Completed,
                "The scheduled maintenance has been completed.",
            )
        } else if m.status == Status::Scheduled && now_ms >= start {
            (
                Status::InProgress,
                "The scheduled maintenance is now in progress.",
            )
        } else {
            continue;
        };
        let req = NewUpdate {
            status: Some(status),
            message: message.into(),
            components: None,
            impact: None,
            title: None,
        };
        match update(incidents, m.id, req, "downbeat").await {
            Ok(_) => tracing::info!(id = m.id, status = status.as_str(), "maintenance advanced"),
            Err(IncidentError::Conflict(_)) => {}
            Err(e) => tracing::warn!(id = m.id, error = %e, "maintenance not advanced"),
        }
    }
    Ok(())
}

/// Loads the incident just changed and queues the notification the change means, if any
/// (the change is stored already: a notification that cannot be queued is logged, not
/// returned as the request's failure).
async fn announce(
    incidents: &Incidents,
    id: i64,
    created: bool,
) -> Result<Incident, IncidentError> {
    let rec = load(incidents, id).await?;
    let incident = Incident::from_record(&rec);
    if let Some(event) = crate::events::for_incident(&rec, &incident, created) {
        incidents.notifier.enqueue_or_log(event).await;
    }
    Ok(incident)
}

/// After every change: the snapshot the pages read is rebuilt at once.
pub async fn after_change(incidents: &Incidents, service: &str) {
    if let Err(e) = super::refresh(incidents, service).await {
        tracing::warn!(service, error = %e, "incident snapshot not refreshed; the next round will");
    }
}
