//! The remote agent's endpoints, authenticated with an API token of role `agent` (or
//! `admin`):
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
use crate::auth::{Principal, Role};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use downbeat_domain::Slug;
use downbeat_monitors::Incoming;
use downbeat_probe::protocol::{
    AssignedMonitor, Assignments, MAX_RESULTS_PER_PUSH, PushAnswer, ResultsPush,
};
use serde::Deserialize;
use std::sync::Arc;

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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AssignmentsQuery {
    /// The agent's region, e.g. `eu-west` (a slug; not the server's own region).
    region: Option<String>,
}

/// `GET /api/v1/agent/assignments?region=…`
#[utoipa::path(get, path = "/api/v1/agent/assignments", tag = "monitors",
    params(AssignmentsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every monitor to run (id, interval_ms, probe definition) and the canary", body = serde_json::Value),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not agent"),
        (status = 422, description = "Missing or unacceptable region"),
    ))]
pub async fn assignments(
    State(app): State<App>,
    agent: Principal,
    RawQuery(query): RawQuery,
) -> Result<Json<Assignments>, ApiError> {
    agent.require(Role::Agent)?;
    let agent = agent.name;
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
#[utoipa::path(post, path = "/api/v1/agent/results", tag = "monitors", operation_id = "push_agent_results",
    request_body(content = serde_json::Value, description = "{region, results: [{monitor, reliable, result}]}, at most 1000 results"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored: {accepted, duplicates, unknown}", body = serde_json::Value),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not agent"),
        (status = 422, description = "Unacceptable region or too many results"),
        (status = 503, description = "Not stored; retry"),
    ))]
pub async fn results(
    State(app): State<App>,
    agent: Principal,
    body: Bytes,
) -> Result<Json<PushAnswer>, ApiError> {
    agent.require(Role::Agent)?;
    let agent = agent.name;
    let push: ResultsPush = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed results: {e}")))?;
    let region: Arc<str> = Arc::from(region_of(&app, Some(&push.region))?);
    if push.results.len() > MAX_RESULTS_PER_PUSH {
        return Err(ApiError::InvalidField {
            field: "results",
            message: format!("at most {MAX_RESULTS_PER_PUSH} per push"),
        });
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
        downbeat_monitors::record(&app.monitors, &mut batch, true)
            .await
            .map_err(|e| ApiError::Unavailable(format!("results not stored, retry: {e}")))?;
        app.monitors.received(&region, &keys);
    }
    tracing::debug!(%agent, %region, ?answer, "agent results");
    Ok(Json(answer))
}
