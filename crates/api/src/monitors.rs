//! Monitors of a service with their latest result per region, and a monitor's history.
//!
//! Two views. With a viewer token (or better), the operators' view: targets, addresses,
//! raw errors, certificates, DNS answers and the operators' diagnosis. Without one, the
//! public view: states, causes in public words, regions and timings, nothing a host name,
//! an address or an error text could leak through.

use super::ApiError;
use super::query::parse_query;
use super::reports::service_of;
use crate::app::App;
use crate::auth::{MaybePrincipal, Role};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use downbeat_monitors::diagnosis::{self, RegionState};
use downbeat_monitors::{RegionResult, diagnose};
use downbeat_probe::{Cause, Detail, Outcome, ProbeResult, Timings};
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

/// A monitor as the public sees it: no target, address, error text, certificate or DNS
/// answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PublicMonitorBody {
    id: String,
    kind: &'static str,
    component: Option<String>,
    interval_s: u64,
    /// "up", "down" (after hysteresis and quorum), or "unknown" before any result.
    state: &'static str,
    since: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    probable_cause: Option<Cause>,
    /// The probable cause in public words.
    cause_words: Option<&'static str>,
    #[schema(value_type = Object)]
    regions: BTreeMap<String, PublicRegionBody>,
}

/// A region's latest result in public words, with its timings.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PublicRegionBody {
    at: Timestamp,
    #[schema(value_type = String)]
    state: RegionState,
    /// Why it fails, in public words (only when failing).
    words: Option<String>,
    #[schema(value_type = String)]
    outcome: Outcome,
    #[schema(value_type = Option<String>)]
    cause: Option<Cause>,
    #[schema(value_type = Option<String>)]
    detail: Option<Detail>,
    /// Whether the vantage trusted its own network (its canary answered).
    reliable: bool,
    #[schema(value_type = Object)]
    timings: Timings,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PublicMonitorsBody {
    service: String,
    /// The public diagnosis, when there are monitors with results.
    diagnosis: Option<String>,
    monitors: Vec<PublicMonitorBody>,
}

/// Whether the caller may see the operators' view.
fn operator(who: &MaybePrincipal) -> bool {
    who.0.as_ref().is_some_and(|p| p.role.allows(Role::Viewer))
}

/// `GET /api/v1/services/{service}/monitors`
#[utoipa::path(get, path = "/api/v1/services/{service}/monitors", tag = "monitors", operation_id = "list_monitors",
    params(("service" = String, Path, description = "Service id")),
    responses(
        (status = 200, description = "Monitors, their latest result per region, and the diagnosis: the operators' view with a viewer token, else the public view (PublicMonitorsBody)", body = MonitorsBody),
        (status = 404, description = "Unknown service"),
    ))]
pub async fn list(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
    who: MaybePrincipal,
) -> Result<Response, ApiError> {
    let service = service_of(&app, &path)?;
    let now_ms = app.clock.now().as_millisecond();
    if !operator(&who) {
        return Ok(Json(public_list(&app, service.id.as_str(), now_ms)).into_response());
    }
    let monitors = service
        .config()
        .monitors
        .iter()
        .filter(|m| m.service == service.id)
        .map(|m| {
            let regions = app.monitors.latest(m.id.as_str());
            let (down, since_ms, cause) = app.monitors.state(m.id.as_str());
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
    })
    .into_response())
}

/// The public view of a service's monitors.
fn public_list(app: &App, service: &str, now_ms: i64) -> PublicMonitorsBody {
    let config = app.config.get();
    let monitors = config
        .monitors
        .iter()
        .filter(|m| m.service.as_str() == service)
        .map(|m| {
            let latest = app.monitors.latest(m.id.as_str());
            let (down, since_ms, cause) = app.monitors.state(m.id.as_str());
            let regions = diagnosis::regions(&app.monitors, m, now_ms)
                .into_iter()
                .filter_map(|p| {
                    let r = latest.get(p.region.as_str())?;
                    Some((
                        p.region,
                        PublicRegionBody {
                            at: r.at,
                            state: p.state,
                            words: p.cause,
                            outcome: r.result.outcome,
                            cause: r.result.cause,
                            detail: r.result.detail,
                            reliable: r.reliable,
                            timings: r.result.timings,
                        },
                    ))
                })
                .collect();
            PublicMonitorBody {
                id: m.id.to_string(),
                kind: m.probe.kind().as_str(),
                component: m.component.as_ref().map(ToString::to_string),
                interval_s: m.interval.as_secs(),
                state: if down {
                    "down"
                } else if latest.is_empty() {
                    "unknown"
                } else {
                    "up"
                },
                since: since_ms.and_then(|ms| Timestamp::from_millisecond(ms).ok()),
                probable_cause: cause,
                cause_words: cause.map(Cause::public_words),
                regions,
            }
        })
        .collect();
    PublicMonitorsBody {
        service: service.to_owned(),
        diagnosis: diagnosis::diagnose_public(&app.monitors, service, now_ms),
        monitors,
    }
}

/// One stored result as the public sees it: when, where, the outcome and its timings.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PublicResult {
    region: String,
    reliable: bool,
    started_at: Timestamp,
    #[schema(value_type = String)]
    outcome: Outcome,
    #[schema(value_type = Option<String>)]
    cause: Option<Cause>,
    #[schema(value_type = Option<String>)]
    detail: Option<Detail>,
    #[schema(value_type = Object)]
    timings: Timings,
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
        (status = 200, description = "The monitor's results, oldest first: whole with a viewer token, else when, where, the outcome, its cause and timings", body = ResultsBody),
        (status = 400, description = "Bad query"),
        (status = 404, description = "Unknown monitor"),
        (status = 422, description = "A parameter's value is not acceptable"),
    ))]
pub async fn results(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
    who: MaybePrincipal,
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
        app.config.load().retention.rollups,
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
    let full = operator(&who);
    let results = rows
        .into_iter()
        .map(|r| {
            if !full {
                let Ok(p) = serde_json::from_str::<ProbeResult>(&r.result) else {
                    return serde_json::Value::Null;
                };
                return serde_json::to_value(PublicResult {
                    region: r.region,
                    reliable: r.reliable,
                    started_at: p.started_at,
                    outcome: p.outcome,
                    cause: p.cause,
                    detail: p.detail,
                    timings: p.timings,
                })
                .unwrap_or(serde_json::Value::Null);
            }
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
