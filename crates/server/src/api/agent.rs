//! The remote agent's endpoints, authenticated with an API token (role `agent`, or `admin`):
//!
//! - `GET /api/v1/agent/assignments?region=eu-west` — every monitor to run (id, interval,
//!   probe definition) and the canary.
//! - `POST /api/v1/agent/results` — a batch of results of one region (`ResultsPush` of the
//!   agent crate). Answered only once the batch is stored (503 otherwise, and the agent
//!   retries): an acknowledged result is never lost. Results go through the same path as the
//!   server's own (latency baseline, storage, quorum, hysteresis) with the agent's region.
//!   A retried batch is recognised by each result's (monitor, region, start time) and
//!   counted as duplicates.

use super::ApiError;
use crate::app::App;
use crate::monitors::Incoming;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use downbeat_agent::protocol::{
    AssignedMonitor, Assignments, MAX_RESULTS_PER_PUSH, PushAnswer, ResultsPush,
};
use downbeat_domain::Slug;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Token roles that may act as an agent.
const AGENT_ROLES: [&str; 2] = ["agent", "admin"];

/// The agent endpoints' errors: the API's, plus 401 and 403.
#[derive(Debug)]
pub enum AgentApiError {
    Api(ApiError),
    Unauthorized(&'static str),
    Forbidden(String),
}

impl From<ApiError> for AgentApiError {
    fn from(e: ApiError) -> Self {
        AgentApiError::Api(e)
    }
}

impl From<downbeat_store::StoreError> for AgentApiError {
    fn from(e: downbeat_store::StoreError) -> Self {
        AgentApiError::Api(ApiError::from(e))
    }
}

impl IntoResponse for AgentApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AgentApiError::Api(e) => return e.into_response(),
            AgentApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m.to_owned()),
            AgentApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
        };
        let mut resp = (status, Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// The name of the token presented, if it may act as an agent.
async fn authenticate(app: &App, headers: &HeaderMap) -> Result<String, AgentApiError> {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(AgentApiError::Unauthorized(
            "an API token is required: Authorization: Bearer TOKEN",
        ))?;
    let hash: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    let token = app
        .store
        .token_by_hash(hash)
        .await?
        .filter(|t| t.revoked_ms.is_none())
        .ok_or(AgentApiError::Unauthorized("unknown or revoked API token"))?;
    if !AGENT_ROLES.contains(&token.role.as_str()) {
        return Err(AgentApiError::Forbidden(format!(
            "token {:?} has role {}; agents need role agent",
            token.name, token.role
        )));
    }
    Ok(token.name)
}

/// A region name: a slug, and not the server's own (its results would be overwritten).
fn region_of(app: &App, region: Option<&str>) -> Result<String, ApiError> {
    let region = region.ok_or(ApiError::InvalidField {
        field: "region",
        message: "is required".into(),
    })?;
    let slug = Slug::parse(region).map_err(|e| ApiError::InvalidField {
        field: "region",
        message: e.to_string(),
    })?;
    if slug.as_str() == app.config.server.region {
        return Err(ApiError::InvalidField {
            field: "region",
            message: format!("{region:?} is this server's own region; give the agent its own"),
        });
    }
    Ok(slug.to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignmentsQuery {
    region: Option<String>,
}

/// `GET /api/v1/agent/assignments?region=…`
pub async fn assignments(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<Assignments>, AgentApiError> {
    let agent = authenticate(&app, &headers).await?;
    let q: AssignmentsQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("bad query: {e}")))?;
    let region = region_of(&app, q.region.as_deref())?;
    tracing::debug!(%agent, %region, "assignments fetched");
    Ok(Json(Assignments {
        region,
        canary: app.config.probes.canary.clone(),
        monitors: app
            .config
            .monitors
            .iter()
            .map(|m| AssignedMonitor {
                id: m.id.to_string(),
                interval_ms: m.interval.as_millis().max(0) as u64,
                probe: m.probe.clone(),
            })
            .collect(),
    }))
}

/// `POST /api/v1/agent/results`
pub async fn results(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PushAnswer>, AgentApiError> {
    let agent = authenticate(&app, &headers).await?;
    let push: ResultsPush = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed results: {e}")))?;
    let region: Arc<str> = Arc::from(region_of(&app, Some(&push.region))?);
    if push.results.len() > MAX_RESULTS_PER_PUSH {
        return Err(ApiError::InvalidField {
            field: "results",
            message: format!("at most {MAX_RESULTS_PER_PUSH} per push"),
        }
        .into());
    }
    let mut answer = PushAnswer::default();
    let mut batch = Vec::with_capacity(push.results.len());
    let mut keys = Vec::with_capacity(push.results.len());
    for r in push.results {
        let Some(i) = app.monitors.index_of(&r.monitor) else {
            answer.unknown += 1;
            continue;
        };
        let at_ms = r.result.started_at.as_millisecond();
        if app.monitors.already_received(i, &region, at_ms) || keys.contains(&(i, at_ms)) {
            answer.duplicates += 1;
            continue;
        }
        keys.push((i, at_ms));
        batch.push(Incoming {
            index: i,
            region: region.clone(),
            reliable: Some(r.reliable),
            result: r.result,
        });
    }
    answer.accepted = batch.len();
    if !batch.is_empty() {
        crate::monitors::record(&app, &mut batch, true)
            .await
            .map_err(|e| ApiError::Unavailable(format!("results not stored, retry: {e}")))?;
        app.monitors.received(&region, &keys);
    }
    tracing::debug!(%agent, %region, ?answer, "agent results");
    Ok(Json(answer))
}
