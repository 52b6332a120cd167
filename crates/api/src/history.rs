//! `POST /api/v1/admin/history`: past incidents and maintenance windows brought from another
//! status page (`downbeat import … --apply`), published with their own times and updates.
//! Each carries the id it had there (`origin`): sent again, it is found and left as it is,
//! so an import can be run twice.

use super::ApiError;
use super::body::json_request;
use crate::app::App;
use crate::auth::{Principal, Role};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use downbeat_domain::ComponentState;
use downbeat_domain::incident::{Components, Impact, Kind, Source, Status};
use downbeat_store::{IncidentFilter, IncidentRow, IncidentUpdateRow};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The most items one request brings.
const MAX_ITEMS: usize = 2_000;

/// One past incident or maintenance window.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PastItem {
    /// Where it comes from and its id there (`statuspage:abc123`): an item sent twice is
    /// kept once.
    origin: String,
    service: String,
    #[serde(default)]
    components: Vec<String>,
    title: String,
    /// An incident's (investigating … resolved) or a maintenance window's (scheduled …
    /// completed) status word.
    status: String,
    /// none, minor, major or critical (incidents).
    #[serde(default)]
    impact: Option<String>,
    /// When it began (an incident) or was to begin (maintenance).
    #[schema(value_type = String)]
    starts_at: Timestamp,
    /// When it was resolved, or was to end.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    ends_at: Option<Timestamp>,
    /// Its updates, any order (shown newest first).
    #[serde(default)]
    updates: Vec<PastUpdate>,
}

/// One update of a past item.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PastUpdate {
    #[schema(value_type = String)]
    at: Timestamp,
    status: String,
    message: String,
}

/// What `POST /api/v1/admin/history` takes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryRequest {
    #[serde(default)]
    incidents: Vec<PastItem>,
    #[serde(default)]
    maintenance: Vec<PastItem>,
}

/// What it did.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct HistoryAnswer {
    /// Items written now.
    added: usize,
    /// Items sent before (found by their origin), left as they are.
    known: usize,
}

fn row_error(list: &'static str, index: usize, field: &'static str, message: String) -> ApiError {
    ApiError::InvalidRow {
        list,
        index,
        field,
        message,
    }
}

/// The incident row and updates of `item`, or what is wrong with it.
fn rows(
    app: &App,
    kind: Kind,
    list: &'static str,
    index: usize,
    item: &PastItem,
    now_ms: i64,
) -> Result<(IncidentRow, Vec<IncidentUpdateRow>), ApiError> {
    let err = |field, message: String| row_error(list, index, field, message);
    let config = app.config.get();
    let service = config
        .service(&item.service)
        .ok_or_else(|| err("service", format!("no service {:?}", item.service)))?;
    let status = Status::parse(&item.status)
        .filter(|s| s.kind() == kind)
        .ok_or_else(|| {
            err(
                "status",
                format!("{:?} is not a status of {}", item.status, kind.as_str()),
            )
        })?;
    if !status.is_final() {
        return Err(err(
            "status",
            "only what is over is history: resolved incidents, completed maintenance".into(),
        ));
    }
    let impact = match &item.impact {
        None => Impact::None,
        Some(w) => Impact::parse(w).ok_or_else(|| {
            err(
                "impact",
                format!("{w:?} is not none, minor, major or critical"),
            )
        })?,
    };
    let title = item.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(err("title", "must be 1 to 200 characters".into()));
    }
    let state = match (kind, impact) {
        (Kind::Maintenance, _) | (_, Impact::Maintenance) => ComponentState::UnderMaintenance,
        (_, Impact::Critical) => ComponentState::MajorOutage,
        (_, Impact::Major) => ComponentState::PartialOutage,
        (_, Impact::Minor) => ComponentState::DegradedPerformance,
        (_, Impact::None) => ComponentState::Operational,
    };
    let mut components = Components::new();
    for c in &item.components {
        if !service.components.iter().any(|x| x.id.as_str() == c) {
            return Err(err(
                "components",
                format!("service {:?} has no component {c:?}", item.service),
            ));
        }
        components.insert(c.clone(), state);
    }
    let start_ms = item.starts_at.as_millisecond();
    let end_ms = item
        .ends_at
        .map(|t| t.as_millisecond())
        .unwrap_or(start_ms)
        .max(start_ms);
    if end_ms > now_ms {
        return Err(err(
            "ends_at",
            "is in the future: history is what is over".into(),
        ));
    }
    let mut updates = Vec::with_capacity(item.updates.len().max(1));
    for u in &item.updates {
        let s = Status::parse(&u.status)
            .filter(|s| s.kind() == kind)
            .ok_or_else(|| {
                err(
                    "updates",
                    format!("{:?} is not a status of {}", u.status, kind.as_str()),
                )
            })?;
        let message = u.message.trim();
        if message.is_empty() || message.chars().count() > 10_000 {
            return Err(err(
                "updates",
                "each message must be 1 to 10,000 characters".into(),
            ));
        }
        let done = s.is_final();
        updates.push(IncidentUpdateRow {
            id: 0,
            incident: 0,
            at_ms: u.at.as_millisecond(),
            status: s,
            message: message.to_owned(),
            components: if done {
                components
                    .keys()
                    .map(|c| (c.clone(), ComponentState::Operational))
                    .collect()
            } else {
                components.clone()
            },
            author: "import".into(),
        });
    }
    if updates.is_empty() {
        updates.push(IncidentUpdateRow {
            id: 0,
            incident: 0,
            at_ms: end_ms,
            status,
            message: title.to_owned(),
            components: components
                .keys()
                .map(|c| (c.clone(), ComponentState::Operational))
                .collect(),
            author: "import".into(),
        });
    }
    updates.sort_by_key(|u| u.at_ms);
    let scheduled = kind == Kind::Maintenance;
    let row = IncidentRow {
        id: 0,
        service: item.service.clone(),
        kind,
        title: title.to_owned(),
        status,
        impact,
        components: components
            .keys()
            .map(|c| (c.clone(), ComponentState::Operational))
            .collect(),
        draft: false,
        source: Source::Operator,
        evidence: None,
        created_ms: start_ms,
        updated_ms: end_ms,
        published_ms: Some(start_ms),
        resolved_ms: Some(end_ms),
        onset_ms: (!scheduled).then_some(start_ms),
        detected_ms: None,
        acknowledged_ms: updates.first().map(|u| u.at_ms),
        scheduled_start_ms: scheduled.then_some(start_ms),
        scheduled_end_ms: scheduled.then_some(end_ms),
        recovered_ms: None,
        postmortem: None,
        postmortem_ms: None,
        version: 1,
        origin: Some(format!(
            "import:{}",
            item.origin.chars().take(200).collect::<String>()
        )),
    };
    Ok((row, updates))
}

/// `POST /api/v1/admin/history`
#[utoipa::path(post, path = "/api/v1/admin/history", tag = "incidents", operation_id = "import_history",
    request_body(content((HistoryRequest = "application/json"))),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Written, or known already", body = HistoryAnswer),
        (status = 400, description = "Malformed body or an unknown field"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not admin"),
        (status = 413, description = "Body over 16 MiB"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "An item refused, named by its list, index and field: nothing written"),
    ))]
pub async fn import(
    State(app): State<App>,
    who: Principal,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<HistoryAnswer>, ApiError> {
    who.require(Role::Admin)?;
    let req: HistoryRequest = json_request(&headers, body, 16 << 20, r#"{"incidents": [{"origin": "statuspage:abc", "service": "melodia", "title": "…", "status": "resolved", "starts_at": "…", "updates": []}]}"#).await?;
    if req.incidents.len() + req.maintenance.len() > MAX_ITEMS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_ITEMS} items a request"
        )));
    }
    let now_ms = app.clock.now().as_millisecond();
    // Every item is checked before any is written.
    let mut all = Vec::new();
    for (i, item) in req.incidents.iter().enumerate() {
        all.push(rows(&app, Kind::Incident, "incidents", i, item, now_ms)?);
    }
    for (i, item) in req.maintenance.iter().enumerate() {
        all.push(rows(
            &app,
            Kind::Maintenance,
            "maintenance",
            i,
            item,
            now_ms,
        )?);
    }
    let mut answer = HistoryAnswer::default();
    let mut services = std::collections::BTreeSet::new();
    for (row, updates) in all {
        let seen = app
            .store
            .incidents(IncidentFilter {
                origin: row.origin.clone(),
                include_drafts: true,
                limit: 1,
                ..Default::default()
            })
            .await?;
        if !seen.is_empty() {
            answer.known += 1;
            continue;
        }
        services.insert(row.service.clone());
        app.store.insert_incident(row, updates, None).await?;
        answer.added += 1;
    }
    for s in services {
        downbeat_incidents::refresh(&app.incidents, &s).await?;
    }
    tracing::info!(added = answer.added, known = answer.known, by = %who.name, "history imported");
    Ok(Json(answer))
}
