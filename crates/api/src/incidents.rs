//! Incidents and maintenance through the JSON API. Changes need an API token with the
//! editor role; the GETs are public for published items, and a viewer token (or better)
//! also sees drafts and their evidence.

use super::ApiError;
use super::body::{json_request, read_limited};
use super::query::parse_query;
use super::reports::service_of;
use crate::app::App;
use crate::auth::{MaybePrincipal, Principal, Role};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{StatusCode, header};
use downbeat_domain::incident::Kind;
use downbeat_incidents::model::Incident;
use downbeat_incidents::ops::{self, NewIncident, NewMaintenance, NewUpdate, Postmortem};
use downbeat_store::IncidentFilter;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

const BODY_LIMIT: usize = 64 * 1024;
const POSTMORTEM_LIMIT: usize = 256 * 1024;

fn incident_id(path: &Result<Path<String>, PathRejection>) -> Result<i64, ApiError> {
    let raw = match path {
        Ok(Path(s)) => s.as_str(),
        Err(e) => return Err(ApiError::BadRequest(format!("bad path: {e}"))),
    };
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        let shown: String = raw.chars().take(40).collect();
        ApiError::NotFound(format!(
            "no incident {shown:?}: incident ids are positive numbers"
        ))
    })
}

/// Loads an incident the caller may see: drafts only with a viewer token or better.
async fn visible(app: &App, id: i64, who: &MaybePrincipal) -> Result<Incident, ApiError> {
    let i = Incident::from_record(&ops::load(&app.incidents, id).await?);
    let operator = who.0.as_ref().is_some_and(|p| p.role.allows(Role::Viewer));
    if operator {
        Ok(i)
    } else if i.draft {
        Err(ApiError::NotFound(format!("no incident {id}")))
    } else {
        Ok(i.public())
    }
}

/// Create an incident (published at once unless `draft`).
#[utoipa::path(post, path = "/api/v1/services/{service}/incidents", tag = "incidents",
    params(("service" = String, Path, description = "Service id")),
    request_body = NewIncident,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The incident", body = Incident),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is too weak (editor needed)"),
        (status = 404, description = "Unknown service"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "A field's value is not acceptable"),
    ))]
pub async fn create(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<(StatusCode, Json<Incident>), ApiError> {
    who.require(Role::Editor)?;
    let service = service_of(&app, &path)?;
    let (parts, body) = req.into_parts();
    let new: NewIncident = json_request(
        &parts.headers,
        body,
        BODY_LIMIT,
        r#"{"title": "...", "status": "investigating", "impact": "major", "message": "..."}"#,
    )
    .await?;
    let i = ops::create(&app.incidents, &service, new, &who.name).await?;
    Ok((StatusCode::CREATED, Json(i)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Include drafts (needs a viewer token or better).
    #[serde(default)]
    drafts: Option<bool>,
    /// Only open ones (not resolved / completed).
    #[serde(default)]
    open: Option<bool>,
    /// At most this many, newest first (default 50, at most 200).
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentList {
    service: String,
    incidents: Vec<Incident>,
}

async fn list_kind(
    app: &App,
    who: &MaybePrincipal,
    path: &Result<Path<String>, PathRejection>,
    raw: Option<&str>,
    kind: Kind,
) -> Result<Json<IncidentList>, ApiError> {
    let service = service_of(app, path)?;
    let q: ListQuery = parse_query(raw)?;
    let drafts = q.drafts.unwrap_or(false);
    if drafts {
        match &who.0 {
            Some(p) => p.require(Role::Viewer)?,
            None => {
                return Err(ApiError::Unauthorized(
                    "drafts need an API token: send Authorization: Bearer TOKEN".into(),
                ));
            }
        }
    }
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 200 {
        return Err(ApiError::InvalidField {
            field: "limit",
            message: "must be between 1 and 200".into(),
        });
    }
    let records = app
        .store
        .incidents(IncidentFilter {
            service: Some(service.id.to_string()),
            kind: Some(kind),
            include_drafts: drafts,
            open_only: q.open.unwrap_or(false),
            since_ms: None,
            origin: None,
            limit,
        })
        .await?;
    let operator = who.0.as_ref().is_some_and(|p| p.role.allows(Role::Viewer));
    Ok(Json(IncidentList {
        service: service.id.to_string(),
        incidents: records
            .iter()
            .map(Incident::from_record)
            .map(|i| if operator { i } else { i.public() })
            .collect(),
    }))
}

/// A service's incidents, newest first.
#[utoipa::path(get, path = "/api/v1/services/{service}/incidents", tag = "incidents", operation_id = "list_incidents",
    params(("service" = String, Path, description = "Service id"), ListQuery),
    responses(
        (status = 200, description = "Incidents", body = IncidentList),
        (status = 400, description = "Bad query"),
        (status = 401, description = "Drafts asked for without a token, or a bad token"),
        (status = 404, description = "Unknown service"),
        (status = 422, description = "A parameter's value is not acceptable"),
    ))]
pub async fn list(
    State(app): State<App>,
    who: MaybePrincipal,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Json<IncidentList>, ApiError> {
    list_kind(&app, &who, &path, raw.as_deref(), Kind::Incident).await
}

/// One incident or maintenance window with its updates.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", operation_id = "get_incident",
    params(("id" = i64, Path, description = "Incident id")),
    responses(
        (status = 200, description = "The incident", body = Incident),
        (status = 401, description = "A bad token"),
        (status = 404, description = "No such (published) incident"),
    ))]
pub async fn get(
    State(app): State<App>,
    who: MaybePrincipal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Incident>, ApiError> {
    let id = incident_id(&path)?;
    Ok(Json(visible(&app, id, &who).await?))
}

/// An incident's updates, oldest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/updates", tag = "incidents",
    params(("id" = i64, Path, description = "Incident id")),
    responses(
        (status = 200, description = "The updates", body = Vec<downbeat_incidents::model::Update>),
        (status = 401, description = "A bad token"),
        (status = 404, description = "No such (published) incident"),
    ))]
pub async fn updates(
    State(app): State<App>,
    who: MaybePrincipal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<downbeat_incidents::model::Update>>, ApiError> {
    let id = incident_id(&path)?;
    Ok(Json(visible(&app, id, &who).await?.updates))
}

/// Add an update: a message, perhaps a new status (a legal transition) and component states.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/updates", tag = "incidents",
    params(("id" = i64, Path, description = "Incident id")),
    request_body = NewUpdate,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident after the update", body = Incident),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is too weak (editor needed)"),
        (status = 404, description = "No such incident"),
        (status = 409, description = "An illegal transition (e.g. after resolution)"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "A field's value is not acceptable"),
    ))]
pub async fn add_update(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Json<Incident>, ApiError> {
    who.require(Role::Editor)?;
    let id = incident_id(&path)?;
    let (parts, body) = req.into_parts();
    let new: NewUpdate = json_request(
        &parts.headers,
        body,
        BODY_LIMIT,
        r#"{"status": "identified", "message": "..."}"#,
    )
    .await?;
    Ok(Json(ops::update(&app.incidents, id, new, &who.name).await?))
}

/// Publish a draft.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/publish", tag = "incidents",
    params(("id" = i64, Path, description = "Incident id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The published incident", body = Incident),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is too weak (editor needed)"),
        (status = 404, description = "No such incident"),
        (status = 409, description = "Already published"),
    ))]
pub async fn publish(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Incident>, ApiError> {
    who.require(Role::Editor)?;
    let id = incident_id(&path)?;
    Ok(Json(ops::publish(&app.incidents, id).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostmortemBody {
    incident: i64,
    markdown: Option<String>,
    at: Option<Timestamp>,
}

/// An incident's post-mortem (Markdown).
#[utoipa::path(get, path = "/api/v1/incidents/{id}/postmortem", tag = "incidents",
    params(("id" = i64, Path, description = "Incident id")),
    responses(
        (status = 200, description = "The post-mortem (markdown null when none yet)", body = PostmortemBody),
        (status = 401, description = "A bad token"),
        (status = 404, description = "No such (published) incident"),
    ))]
pub async fn get_postmortem(
    State(app): State<App>,
    who: MaybePrincipal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<PostmortemBody>, ApiError> {
    let id = incident_id(&path)?;
    let i = visible(&app, id, &who).await?;
    Ok(Json(PostmortemBody {
        incident: i.id,
        markdown: i.postmortem,
        at: i.postmortem_at,
    }))
}

/// Attach or replace the post-mortem of a resolved incident: JSON `{"markdown": "..."}`, or
/// the Markdown itself as `text/markdown` or `text/plain`.
#[utoipa::path(put, path = "/api/v1/incidents/{id}/postmortem", tag = "incidents",
    params(("id" = i64, Path, description = "Incident id")),
    request_body(content(
        (Postmortem = "application/json"),
        (String = "text/markdown"),
        (String = "text/plain"),
    )),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident with its post-mortem", body = Incident),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is too weak (editor needed)"),
        (status = 404, description = "No such incident"),
        (status = 409, description = "The incident is not resolved"),
        (status = 413, description = "Too large"),
        (status = 415, description = "Neither JSON nor Markdown"),
        (status = 422, description = "Empty or unacceptable"),
    ))]
pub async fn put_postmortem(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Json<Incident>, ApiError> {
    who.require(Role::Editor)?;
    let id = incident_id(&path)?;
    let (parts, body) = req.into_parts();
    let mime = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let markdown = match mime.as_str() {
        "text/markdown" | "text/plain" => {
            let bytes = read_limited(&parts.headers, body, POSTMORTEM_LIMIT).await?;
            String::from_utf8(bytes.to_vec())
                .map_err(|_| ApiError::BadRequest("the post-mortem is not UTF-8".into()))?
        }
        _ => {
            let p: Postmortem = json_request(
                &parts.headers,
                body,
                POSTMORTEM_LIMIT,
                r##"{"markdown": "# What happened"}"##,
            )
            .await?;
            p.markdown
        }
    };
    Ok(Json(
        ops::set_postmortem(&app.incidents, id, &markdown).await?,
    ))
}

/// Schedule a maintenance window.
#[utoipa::path(post, path = "/api/v1/services/{service}/maintenance", tag = "maintenance",
    params(("service" = String, Path, description = "Service id")),
    request_body = NewMaintenance,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The maintenance window", body = Incident),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is too weak (editor needed)"),
        (status = 404, description = "Unknown service"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "A field's value is not acceptable"),
    ))]
pub async fn create_maintenance(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<(StatusCode, Json<Incident>), ApiError> {
    who.require(Role::Editor)?;
    let service = service_of(&app, &path)?;
    let (parts, body) = req.into_parts();
    let new: NewMaintenance = json_request(
        &parts.headers,
        body,
        BODY_LIMIT,
        r#"{"title": "...", "message": "...", "scheduled_for": "2026-11-23T02:00:00Z", "scheduled_until": "2026-11-23T03:00:00Z"}"#,
    )
    .await?;
    let m = ops::schedule_maintenance(&app.incidents, &service, new, &who.name).await?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// A service's maintenance windows, newest first.
#[utoipa::path(get, path = "/api/v1/services/{service}/maintenance", tag = "maintenance",
    params(("service" = String, Path, description = "Service id"), ListQuery),
    responses(
        (status = 200, description = "Maintenance windows", body = IncidentList),
        (status = 400, description = "Bad query"),
        (status = 401, description = "A bad token"),
        (status = 404, description = "Unknown service"),
        (status = 422, description = "A parameter's value is not acceptable"),
    ))]
pub async fn list_maintenance(
    State(app): State<App>,
    who: MaybePrincipal,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Json<IncidentList>, ApiError> {
    list_kind(&app, &who, &path, raw.as_deref(), Kind::Maintenance).await
}
