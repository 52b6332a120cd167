//! Monitors of a service with their latest result per region, and a monitor's history.

use super::ApiError;
use super::query::parse_query;
use super::reports::service_of;
use crate::app::App;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use downbeat_monitors::{RegionResult, diagnose};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Serialize, utoipa::ToSchema)]
pub struct MonitorBody {
    id: String,
    kind: &'static str,
    target: String,
    component: Option<String>,
    interval_s: u64,
    /// "up", "down" (after hysteresis and quorum), or "unknown" before any result.
    state: &'static str,
    since: Option<Timestamp>,
    probable_cause: Option<String>,
    #[schema(value_type = Object)]
    regions: BTreeMap<Arc<str>, RegionResult>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MonitorsBody {
    service: String,
    diagnosis: String,
    monitors: Vec<MonitorBody>,
}

/// `GET /api/v1/services/{service}/monitors`
#[utoipa::path(get, path = "/api/v1/services/{service}/monitors", tag = "monitors", operation_id = "list_monitors",
    params(("service" = String, Path, description = "Service id")),
    responses(
        (status = 200, description = "Monitors, their latest result per region, and the diagnosis", body = MonitorsBody),
        (status = 404, description = "Unknown service"),
    ))]
pub async fn list(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<MonitorsBody>, ApiError> {
    let service = service_of(&app, &path)?;
    let now_ms = app.clock.now().as_millisecond();
    let monitors = app
        .config
        .monitors
        .iter()
        .enumerate()
        .filter(|(_, m)| m.service == service.id)
        .map(|(i, m)| {
            let regions = app.monitors.latest(i);
            let (down, since_ms, cause) = app.monitors.state(i);
            MonitorBody {
                id: m.id.to_string(),
                kind: m.probe.kind().as_str(),
                target: m.probe.target().to_owned(),
                component: m.component.as_ref().map(ToString::to_string),
                interval_s: m.interval.as_secs(),
                state: if down {
                    "down"
                } else if regions.is_empty() {
                    "unknown"
                } else {
                    "up"
                },
                since: since_ms.and_then(|ms| Timestamp::from_millisecond(ms).ok()),
                probable_cause: cause.map(|c| c.as_str().to_owned()),
                regions,
            }
        })
        .collect();
    Ok(Json(MonitorsBody {
        service: service.id.to_string(),
        diagnosis: diagnose(&app.monitors, service.id.as_str(), now_ms),
        monitors,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ResultsQuery {
    /// An RFC 3339 time or a duration ago (default 1h).
    since: Option<String>,
    limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ResultsBody {
    monitor: String,
    #[schema(value_type = Vec<Object>)]
    results: Vec<serde_json::Value>,
}

/// `GET /api/v1/monitors/{id}/results?since=…&limit=…` — oldest first.
#[utoipa::path(get, path = "/api/v1/monitors/{id}/results", tag = "monitors", operation_id = "monitor_results",
    params(("id" = String, Path, description = "Monitor id"), ResultsQuery),
    responses(
        (status = 200, description = "The monitor's results, oldest first", body = ResultsBody),
        (status = 400, description = "Bad query"),
        (status = 404, description = "Unknown monitor"),
        (status = 422, description = "A parameter's value is not acceptable"),
    ))]
pub async fn results(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ResultsBody>, ApiError> {
    let Ok(Path(id)) = path else {
        return Err(ApiError::NotFound("unknown monitor".into()));
    };
    let monitor = app.config.monitor(&id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "unknown monitor {:?}",
            id.chars().take(64).collect::<String>()
        ))
    })?;
    let q: ResultsQuery = parse_query(raw.as_deref())?;
    let now = app.clock.now().as_millisecond();
    let since_ms = super::query::since_ms(
        q.since.as_deref(),
        now,
        3_600_000,
        app.config.retention.rollups,
    )?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::InvalidField {
            field: "limit",
            message: "must be between 1 and 10000".into(),
        });
    }
    let rows = app
        .store
        .probe_results(monitor.id.as_str(), since_ms, limit)
        .await?;
    let results = rows
        .into_iter()
        .map(|r| {
            let mut v: serde_json::Value =
                serde_json::from_str(&r.result).unwrap_or(serde_json::Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("region".into(), r.region.into());
                o.insert("reliable".into(), r.reliable.into());
            }
            v
        })
        .collect();
    Ok(Json(ResultsBody {
        monitor: monitor.id.to_string(),
        results,
    }))
}
