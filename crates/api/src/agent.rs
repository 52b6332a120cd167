//! The remote agent's endpoints, authenticated with an API token of role `agent` (or
//! `admin`) that names the agent's region (`downbeat token create --region`):
//!
//! - `GET /api/v1/agent/assignments?region=eu-west` — every monitor to run (id, interval,
//!   probe definition) and the canary.
//! - `POST /api/v1/agent/results` — a batch of results of one region (`ResultsPush` of the
//!   agent crate), at most [`RESULTS_BODY_LIMIT`] bytes and `MAX_RESULTS_PER_PUSH` results.
//!   Answered only once the batch is stored (503 otherwise, and the agent retries): an
//!   acknowledged result is never lost. Results go through the same path as the server's
//!   own (latency baseline, storage, quorum, hysteresis) with the agent's region. A result
//!   is stored once per (monitor, region, start time): a retried batch is counted as
//!   duplicates and changes nothing.
//!
//! A region the token does not name is 403. A batch is refused whole, 422 naming the field,
//! when a timing is not a duration (negative, or over a day), another number is out of its
//! range, or a result started more than `[probes] agent_max_skew` ahead of this server's
//! clock or longer ago than `agent_max_age`.

use super::ApiError;
use crate::app::App;
use crate::auth::{Principal, Role};
use crate::body::read_limited;
use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use downbeat_domain::Slug;
use downbeat_monitors::Incoming;
use downbeat_probe::protocol::{
    AssignedMonitor, Assignments, MAX_RESULTS_PER_PUSH, PushAnswer, ResultsPush,
};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

/// The largest results push read; a larger one is 413. The agent keeps each push well
/// under it (`downbeat_agent::run::MAX_PUSH_BYTES`).
pub const RESULTS_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The longest phase a result may report: a probe that took a day is not a probe.
const MAX_PHASE_MS: f64 = 86_400_000.0;

/// A region name: a slug, not the server's own (its results would be overwritten), and one
/// the token names.
fn region_of(app: &App, agent: &Principal, region: Option<&str>) -> Result<Slug, ApiError> {
    let region = region.ok_or(ApiError::InvalidField {
        field: "region",
        message: "is required".into(),
    })?;
    let slug = Slug::parse(region).map_err(|e| ApiError::InvalidField {
        field: "region",
        message: e.to_string(),
    })?;
    if slug.as_str() == app.config.load().server.region {
        return Err(ApiError::InvalidField {
            field: "region",
            message: format!("{region:?} is this server's own region; give the agent its own"),
        });
    }
    agent.require_region(&slug)?;
    Ok(slug)
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
        (status = 403, description = "The token's role is not agent, or it does not name this region"),
        (status = 422, description = "Missing or unacceptable region"),
    ))]
pub async fn assignments(
    State(app): State<App>,
    agent: Principal,
    RawQuery(query): RawQuery,
) -> Result<Json<Assignments>, ApiError> {
    agent.require(Role::Agent)?;
    let q: AssignmentsQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("bad query: {e}")))?;
    let region = region_of(&app, &agent, q.region.as_deref())?;
    tracing::debug!(agent = %agent.name, %region, "assignments fetched");
    Ok(Json(Assignments {
        region: region.to_string(),
        canary: app.config.load().probes.canary.clone(),
        monitors: app
            .config
            .load()
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
    request_body(content = serde_json::Value, description = "{region, results: [{monitor, reliable, result}]}, at most 1000 results and 2 MiB"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored: {accepted, duplicates, unknown}", body = serde_json::Value),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not agent, or it does not name this region"),
        (status = 413, description = "Body over 2 MiB"),
        (status = 422, description = "Unacceptable region, too many results, a number out of range, or a result too far in the future or the past (the field is named)"),
        (status = 503, description = "Not stored; retry"),
    ))]
pub async fn results(
    State(app): State<App>,
    agent: Principal,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PushAnswer>, ApiError> {
    agent.require(Role::Agent)?;
    let body = read_limited(&headers, body, RESULTS_BODY_LIMIT).await?;
    let push = parse_push(&body)?;
    let region: Arc<str> = region_of(&app, &agent, Some(&push.region))?.as_arc();
    if push.results.len() > MAX_RESULTS_PER_PUSH {
        return Err(ApiError::InvalidField {
            field: "results",
            message: format!("at most {MAX_RESULTS_PER_PUSH} per push"),
        });
    }
    check_times(&app, &push)?;
    let mut answer = PushAnswer::default();
    let mut batch = Vec::with_capacity(push.results.len());
    for r in push.results {
        let Some(m) = app.config.load().monitor(&r.monitor).map(|m| m.id.as_arc()) else {
            answer.unknown += 1;
            continue;
        };
        batch.push(Incoming {
            monitor: m,
            region: region.clone(),
            reliable: Some(r.reliable),
            result: r.result,
        });
    }
    if !batch.is_empty() {
        let recorded = downbeat_monitors::record(&app.monitors, &mut batch, true)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "agent results not stored");
                ApiError::Unavailable("results not stored; retry".into())
            })?;
        answer.accepted = recorded.new;
        answer.duplicates = recorded.duplicates;
    }
    tracing::debug!(agent = %agent.name, %region, ?answer, "agent results");
    Ok(Json(answer))
}

/// A results body as a batch whose numbers are all within their ranges; the region, the
/// batch's size and the times are checked by the handler, which knows the server's.
/// Public for the fuzz targets.
#[doc(hidden)]
pub fn parse_push(body: &[u8]) -> Result<ResultsPush, ApiError> {
    // Numbers are checked before the typed parse: that one turns milliseconds into
    // durations, and a duration cannot hold every number JSON can.
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("malformed results: {e}")))?;
    check_numbers(&value)?;
    serde_json::from_value(value)
        .map_err(|e| ApiError::BadRequest(format!("malformed results: {e}")))
}

/// The numbers of every result within their ranges: phase timings are durations of at
/// most a day, an HTTP status is one, a certificate's days are within what X.509 dates
/// allow. 422 naming the field (and the result's position) otherwise.
fn check_numbers(push: &Value) -> Result<(), ApiError> {
    /// A number field: where it is in a result, its name in errors, whether a value is in
    /// range, and the range in words.
    struct Bound {
        path: &'static [&'static str],
        field: &'static str,
        ok: fn(&Value) -> bool,
        range: &'static str,
    }
    fn phase(v: &Value) -> bool {
        v.as_f64()
            .is_some_and(|ms| ms.is_finite() && (0.0..=MAX_PHASE_MS).contains(&ms))
    }
    const PHASE: &str = "a duration in ms from 0 to 86400000 (a day)";
    const BOUNDS: [Bound; 8] = [
        Bound {
            path: &["timings", "dns_ms"],
            field: "results[].result.timings.dns_ms",
            ok: phase,
            range: PHASE,
        },
        Bound {
            path: &["timings", "connect_ms"],
            field: "results[].result.timings.connect_ms",
            ok: phase,
            range: PHASE,
        },
        Bound {
            path: &["timings", "tls_ms"],
            field: "results[].result.timings.tls_ms",
            ok: phase,
            range: PHASE,
        },
        Bound {
            path: &["timings", "ttfb_ms"],
            field: "results[].result.timings.ttfb_ms",
            ok: phase,
            range: PHASE,
        },
        Bound {
            path: &["timings", "total_ms"],
            field: "results[].result.timings.total_ms",
            ok: phase,
            range: PHASE,
        },
        Bound {
            path: &["http_status"],
            field: "results[].result.http_status",
            ok: |v| v.as_u64().is_some_and(|s| (100..=599).contains(&s)),
            range: "an HTTP status from 100 to 599",
        },
        Bound {
            path: &["redirects"],
            field: "results[].result.redirects",
            ok: |v| v.as_u64().is_some_and(|n| n <= u64::from(u8::MAX)),
            range: "from 0 to 255",
        },
        Bound {
            path: &["certificate", "days_until_expiry"],
            field: "results[].result.certificate.days_until_expiry",
            ok: |v| v.as_i64().is_some_and(|d| d.abs() <= 3_000_000),
            range: "a number of days within X.509's dates",
        },
    ];
    // serde reads a struct from a JSON array as well (its fields in order), and the bounds
    // below look fields up by name: a batch, result or timings written as an array would
    // pass unchecked. The protocol's objects must be objects.
    let shape = |field: &'static str, what: String| ApiError::InvalidField {
        field,
        message: format!("{what} must be an object"),
    };
    let object_or_null = |v: Option<&Value>| v.is_none_or(|v| v.is_object() || v.is_null());
    if !push.is_object() {
        return Err(shape("results", "the batch".into()));
    }
    let Some(results) = push.get("results").and_then(Value::as_array) else {
        return Ok(()); // the typed parse names what is missing
    };
    for (n, r) in results.iter().enumerate() {
        if !r.is_object() {
            return Err(shape("results[]", format!("result {n}")));
        }
        let result = r.get("result");
        if !object_or_null(result) {
            return Err(shape("results[].result", format!("result {n}: the result")));
        }
        for key in ["timings", "certificate"] {
            if !object_or_null(result.and_then(|v| v.get(key))) {
                let field = match key {
                    "timings" => "results[].result.timings",
                    _ => "results[].result.certificate",
                };
                return Err(shape(field, format!("result {n}: {key}")));
            }
        }
        for b in &BOUNDS {
            let found = b
                .path
                .iter()
                .try_fold(r.get("result"), |v, key| Some(v?.get(key)))
                .flatten()
                .filter(|v| !v.is_null());
            if let Some(v) = found
                && !(b.ok)(v)
            {
                return Err(ApiError::InvalidField {
                    field: b.field,
                    message: format!("result {n}: {v} is not {}", b.range),
                });
            }
        }
    }
    Ok(())
}

/// Every result started neither more than `agent_max_skew` ahead of this server's clock
/// nor longer ago than `agent_max_age`: a future-dated result would outlive the truth (and
/// a restart), and an older one is past what agents are meant to deliver.
fn check_times(app: &App, push: &ResultsPush) -> Result<(), ApiError> {
    let probes = &app.config.load().probes;
    let now_ms = app.monitors.clock.now().as_millisecond();
    let (skew, age) = (probes.agent_max_skew, probes.agent_max_age);
    for (n, r) in push.results.iter().enumerate() {
        let at = r.result.started_at;
        let at_ms = at.as_millisecond();
        if at_ms > now_ms + skew.as_millis() {
            return Err(ApiError::InvalidField {
                field: "results[].result.started_at",
                message: format!(
                    "result {n} started at {at}, {} s ahead of this server's clock (at most {skew}, \
                     [probes] agent_max_skew): check the agent's clock",
                    (at_ms - now_ms) / 1000
                ),
            });
        }
        if at_ms < now_ms - age.as_millis() {
            return Err(ApiError::InvalidField {
                field: "results[].result.started_at",
                message: format!(
                    "result {n} started at {at}, longer ago than this server takes results \
                     ({age}, [probes] agent_max_age)"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_push;
    use crate::ApiError;
    use serde_json::json;

    /// Found by the `agent_results` fuzz target: serde takes a struct written as an array,
    /// where the number checks find no field by name, so a total of a million seconds (or a
    /// certificate's days beyond X.509) got through.
    #[test]
    fn a_batch_written_in_arrays_does_not_slip_past_the_number_checks() {
        let result = json!({"kind": "http", "started_at": "2026-12-07T12:00:00Z",
                            "outcome": "up", "timings": {"total_ms": 1.0}});
        let mut timings = result.clone();
        timings["timings"] = json!([null, null, null, null, 1e12]);
        let mut cert = result.clone();
        cert["certificate"] = json!([
            "CN=a",
            "CN=b",
            "2026-01-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
            i64::MAX
        ]);
        let as_array = json!([
            "http",
            "2026-12-07T12:00:00Z",
            "up",
            null,
            null,
            null,
            [null, null, null, null, 1e12]
        ]);
        let cases = [
            (
                json!({"region": "eu", "results": [{"monitor": "m", "reliable": true, "result": timings}]}),
                "results[].result.timings",
            ),
            (
                json!({"region": "eu", "results": [{"monitor": "m", "reliable": true, "result": cert}]}),
                "results[].result.certificate",
            ),
            (
                json!({"region": "eu", "results": [{"monitor": "m", "reliable": true, "result": as_array}]}),
                "results[].result",
            ),
            (
                json!({"region": "eu", "results": [["m", true, result.clone()]]}),
                "results[]",
            ),
            (
                json!(["eu", [{"monitor": "m", "reliable": true, "result": result.clone()}]]),
                "results",
            ),
        ];
        for (body, want) in cases {
            match parse_push(body.to_string().as_bytes()) {
                Err(ApiError::InvalidField { field, message }) => {
                    assert_eq!(field, want, "{body}: {message}");
                    assert!(message.contains("must be an object"), "{message}");
                }
                other => panic!("{body}: {other:?}"),
            }
        }
        let ok = json!({"region": "eu", "results": [{"monitor": "m", "reliable": true, "result": result}]});
        assert!(parse_push(ok.to_string().as_bytes()).is_ok());
    }
}
