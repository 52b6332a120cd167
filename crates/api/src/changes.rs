//! Changes operators made: deploys, config changes, feature flags, infrastructure changes,
//! rollbacks, as a pipeline records them.
//!
//! - `POST /api/v1/services/{service}/changes` with a token of role `deployer` (or `admin`):
//!   `{kind, component, version, title, link, region, at}` — only `kind` is required, `at`
//!   defaults to now. A bad field is a 422 naming it; an unknown field a 400.
//! - `GET /api/v1/services/{service}/changes?since=24h&limit=50`, for operators (a viewer,
//!   editor, admin or deployer token): newest first. Versions and links are operator data;
//!   no public surface shows them.

use super::ApiError;
use super::body::json_request;
use super::query::{parse_query, since_ms};
use super::reports::service_of;
use crate::app::App;
use crate::auth::{Principal, Role};
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use downbeat_config::ServiceConfig;
use downbeat_domain::Span;
use downbeat_domain::change::{Change, ChangeTimes, RawChange, check_change};
use downbeat_store::ChangeRow;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The largest change body read.
pub const BODY_LIMIT: usize = 16 * 1024;
/// A change recorded after the fact may be this old (a pipeline that was down catches up).
pub const MAX_AGE: Span = Span::from_secs(7 * 86_400);
/// A change this far ahead of the server's clock is refused: changes are what happened.
pub const MAX_SKEW: Span = Span::from_secs(300);
/// How far back the list reaches.
const MAX_LIST_AGO: Span = Span::from_secs(400 * 86_400);

/// A recorded change, as the API shows it to operators.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChangeBody {
    id: i64,
    service: String,
    /// deploy, config, feature_flag, infrastructure or rollback.
    kind: String,
    component: Option<String>,
    version: Option<String>,
    title: Option<String>,
    link: Option<String>,
    region: Option<String>,
    /// When it took effect.
    #[schema(value_type = String)]
    at: Timestamp,
    /// When it was recorded, and by which token.
    #[schema(value_type = String)]
    recorded_at: Timestamp,
    recorded_by: String,
}

impl From<&ChangeRow> for ChangeBody {
    fn from(r: &ChangeRow) -> Self {
        let t = |ms: i64| Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        ChangeBody {
            id: r.id,
            service: r.service.clone(),
            kind: r.kind.as_str().to_owned(),
            component: r.component.clone(),
            version: r.version.clone(),
            title: r.title.clone(),
            link: r.link.clone(),
            region: r.region.clone(),
            at: t(r.at_ms),
            recorded_at: t(r.recorded_ms),
            recorded_by: r.recorded_by.clone(),
        }
    }
}

/// `POST /api/v1/services/{service}/changes`
#[utoipa::path(post, path = "/api/v1/services/{service}/changes", tag = "changes",
    operation_id = "record_change",
    params(("service" = String, Path, description = "Service id")),
    request_body(content((RawChange = "application/json"))),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded", body = ChangeBody),
        (status = 400, description = "Malformed body or an unknown field"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not deployer"),
        (status = 404, description = "Unknown service"),
        (status = 413, description = "Body over 16 KiB"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "A bad field, named: an unknown kind or component, a time far ahead"),
        (status = 503, description = "Not stored; retry"),
    ))]
pub async fn record(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ChangeBody>), ApiError> {
    who.require(Role::Deployer)?;
    let service = service_of(&app, &path)?;
    let raw: RawChange = json_request(
        &headers,
        body,
        BODY_LIMIT,
        r#"{"kind": "deploy", "component": "login", "version": "2.3.0", "title": "login-frontend 2.3.0"}"#,
    )
    .await?;
    let now_ms = app.clock.now().as_millisecond();
    let change = check_change(
        raw,
        ChangeTimes {
            now_ms,
            max_age_ms: MAX_AGE.as_millis(),
            max_skew_ms: MAX_SKEW.as_millis(),
        },
    )
    .map_err(|e| ApiError::InvalidField {
        field: e.field,
        message: e.message,
    })?;
    check_component(&service, &change)?;
    let id = app
        .store
        .insert_change(service.id.as_str(), &change, &who.name, now_ms)
        .await?;
    // The pages redraw: a service may show its changes on the public chart.
    app.intake.generations.bump(service.id.as_str());
    tracing::info!(service = %service.id, id, kind = change.kind.as_str(), by = %who.name, "change recorded");
    let row = app
        .store
        .service_change(service.id.as_str(), id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("change {id}")))?;
    Ok((StatusCode::CREATED, Json(ChangeBody::from(&row))))
}

/// The change's component, if it names one, is one of the service's.
fn check_component(service: &ServiceConfig, change: &Change) -> Result<(), ApiError> {
    let Some(c) = &change.component else {
        return Ok(());
    };
    if service
        .components
        .iter()
        .any(|k| k.id.as_str() == c.as_str())
    {
        return Ok(());
    }
    let known: Vec<&str> = service.components.iter().map(|k| k.id.as_str()).collect();
    Err(ApiError::InvalidField {
        field: "component",
        message: if known.is_empty() {
            format!("{:?}: this service has no components", c.as_str())
        } else {
            format!(
                "{:?} is not a component of this service (its components: {})",
                c.as_str(),
                known.join(", ")
            )
        },
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// From when: an RFC 3339 time or a duration ago (default 7d).
    since: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChangeList {
    service: String,
    changes: Vec<ChangeBody>,
}

/// `GET /api/v1/services/{service}/changes`
#[utoipa::path(get, path = "/api/v1/services/{service}/changes", tag = "changes",
    operation_id = "list_changes",
    params(("service" = String, Path, description = "Service id"), ChangesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changes, newest first", body = ChangeList),
        (status = 400, description = "Bad query"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "A token that may not read changes"),
        (status = 404, description = "Unknown service"),
        (status = 422, description = "A parameter's value is not acceptable"),
    ))]
pub async fn list(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ChangeList>, ApiError> {
    // Operators and the pipelines that record changes read them.
    if !who.role.allows(Role::Deployer) {
        who.require(Role::Viewer)?;
    }
    let service = service_of(&app, &path)?;
    let q: ChangesQuery = parse_query(raw.as_deref())?;
    let now_ms = app.clock.now().as_millisecond();
    let since = since_ms(q.since.as_deref(), now_ms, 7 * 86_400_000, MAX_LIST_AGO)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::InvalidField {
            field: "limit",
            message: format!("{limit} is not between 1 and 1000"),
        });
    }
    // Changes recorded a little ahead of the clock (within MAX_SKEW) are listed too.
    let rows = app
        .store
        .service_changes(
            service.id.as_str(),
            since,
            now_ms + MAX_SKEW.as_millis() + 1,
            limit,
        )
        .await?;
    Ok(Json(ChangeList {
        service: service.id.to_string(),
        changes: rows.iter().map(ChangeBody::from).collect(),
    }))
}
