//! The crowd verdict of a service and its history of changes.

use super::ApiError;
use super::query::parse_query;
use super::reports::service_of;
use crate::app::App;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use downbeat_crowd::CrowdStatus;
use downbeat_domain::Verdict;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `GET /api/v1/services/{service}/status`
#[utoipa::path(get, path = "/api/v1/services/{service}/status", tag = "crowd",
    params(("service" = String, Path, description = "Service id")),
    responses(
        (status = 200, description = "The crowd verdict, explained", body = Object),
        (status = 404, description = "Unknown service"),
    ))]
pub async fn status(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Arc<CrowdStatus>>, ApiError> {
    let service = service_of(&app, &path)?;
    Ok(Json(app.crowd.status(&service)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// An RFC 3339 time or a duration ago (default 7d).
    since: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventBody {
    id: i64,
    series: String,
    at: Option<Timestamp>,
    // Typed, with the schema the document always had (a string).
    #[schema(value_type = String)]
    verdict: Verdict,
    #[schema(value_type = String)]
    previous: Verdict,
    score: f64,
    observed: f64,
    expected: f64,
    explanation: String,
    #[schema(value_type = Object)]
    evidence: serde_json::Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventsBody {
    service: String,
    events: Vec<EventBody>,
}

/// `GET /api/v1/services/{service}/events?since=24h&limit=100` — newest first.
#[utoipa::path(get, path = "/api/v1/services/{service}/events", tag = "crowd",
    params(("service" = String, Path, description = "Service id"), EventsQuery),
    responses(
        (status = 200, description = "Verdict changes with their evidence", body = EventsBody),
        (status = 400, description = "Bad query"),
        (status = 404, description = "Unknown service"),
        (status = 422, description = "A parameter's value is not acceptable"),
    ))]
pub async fn events(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Json<EventsBody>, ApiError> {
    let service = service_of(&app, &path)?;
    let q: EventsQuery = parse_query(raw.as_deref())?;
    let now = app.clock.now().as_millisecond();
    let since_ms = super::query::since_ms(
        q.since.as_deref(),
        now,
        7 * 86_400_000,
        app.config.load().retention.rollups,
    )?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::InvalidField {
            field: "limit",
            message: "must be between 1 and 1000".into(),
        });
    }
    let rows = app
        .store
        .verdict_events(service.id.as_str(), since_ms, limit)
        .await?;
    Ok(Json(EventsBody {
        service: service.id.to_string(),
        events: rows
            .into_iter()
            .map(|e| EventBody {
                id: e.id,
                series: e.series,
                at: Timestamp::from_millisecond(e.at_ms).ok(),
                verdict: e.verdict,
                previous: e.previous,
                score: e.score,
                observed: e.observed,
                expected: e.expected,
                explanation: e.explanation,
                evidence: e.evidence,
            })
            .collect(),
    }))
}
