//! External signals: what other places say about a service's trouble.
//!
//! - `POST /api/v1/services/{service}/signals` with a token of role `signal` (or `admin`):
//!   `{"signals": [...]}`, each row a count (`{source, at, count}`) or a post (`{source, at,
//!   text, url, lang}`) of one of the service's configured sources (`[[service.signal]]`).
//!   A batch is refused whole, 422 naming the row (`index`) and its field, at its first bad
//!   row ([`downbeat_domain::signal::check_batch`]); stored at once otherwise, each post with
//!   the problem kind its text speaks of by the service's keywords (`[service.keywords]`).
//!   A retried batch changes nothing: a count replaces its minute's, a post is kept once.
//! - `GET /api/v1/services/{service}/signals?window=60m` (public): per source, the posts in
//!   the window, what is usual for a window that long (the mean over the week before) and
//!   the ratio. Counts only; the posts' text is not republished.

use super::ApiError;
use super::body::json_request;
use super::query::parse_query;
use super::reports::service_of;
use super::series::{cached, window};
use crate::app::App;
use crate::auth::{Principal, Role};
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use downbeat_config::ServiceConfig;
use downbeat_domain::Span;
use downbeat_domain::signal::{Accepted, RawSignal, Signal, check_batch};
use downbeat_store::SignalMinute;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The largest batch body read.
pub const SIGNALS_BODY_LIMIT: usize = 1024 * 1024;
/// A row older than this is refused: signals are about what is happening now (a poller that
/// was down catches up on two days at most).
pub const MAX_AGE: Span = Span::from_secs(2 * 86_400);
/// A row this far ahead of the server's clock is refused.
pub const MAX_SKEW: Span = Span::from_secs(300);
/// How far back "usual" looks, before the window.
const USUAL_OVER_MS: i64 = 7 * 86_400_000;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalsPush {
    /// At most 1,000 rows.
    signals: Vec<RawSignal>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignalsStoredBody {
    /// Rows in the batch.
    rows: usize,
    /// Posts stored for the first time.
    new_posts: u64,
    /// Posts already stored (sent before).
    known_posts: u64,
    /// Minutes whose count was set.
    counts: u64,
}

/// `POST /api/v1/services/{service}/signals`
#[utoipa::path(post, path = "/api/v1/services/{service}/signals", tag = "signals",
    operation_id = "post_signals",
    params(("service" = String, Path, description = "Service id")),
    request_body(content((SignalsPush = "application/json"))),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored", body = SignalsStoredBody),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not signal"),
        (status = 404, description = "Unknown service"),
        (status = 413, description = "Body over 1 MiB"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "A bad row: the batch is refused whole, naming the row (index) and its field"),
        (status = 503, description = "Not stored; retry"),
    ))]
pub async fn post(
    State(app): State<App>,
    sender: Principal,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SignalsStoredBody>, ApiError> {
    sender.require(Role::Signal)?;
    let service = service_of(&app, &path)?;
    let push: SignalsPush = json_request(
        &headers,
        body,
        SIGNALS_BODY_LIMIT,
        r#"{"signals": [{"source": "mastodon", "at": "2026-12-07T08:01:00Z", "count": 12}]}"#,
    )
    .await?;
    let now_ms = app.clock.now().as_millisecond();
    let batch = check_batch(
        push.signals,
        Accepted {
            now_ms,
            max_age_ms: MAX_AGE.as_millis(),
            max_skew_ms: MAX_SKEW.as_millis(),
        },
    )
    .map_err(|e| match e.index {
        Some(index) => ApiError::InvalidRow {
            list: "signals",
            index,
            field: e.field,
            message: e.message,
        },
        None => ApiError::InvalidField {
            field: "signals",
            message: e.message,
        },
    })?;
    check_sources(&service, &batch)?;
    let batch = classified(&service, batch);
    let stored = app
        .store
        .insert_signals(service.id.as_str(), &batch, now_ms)
        .await?;
    app.intake.generations.bump(service.id.as_str());
    tracing::debug!(sender = %sender.name, service = %service.id, ?stored, "signals");
    Ok(Json(SignalsStoredBody {
        rows: batch.len(),
        new_posts: stored.new_posts,
        known_posts: stored.known_posts,
        counts: stored.counts,
    }))
}

/// The batch with each post's problem kind found by the service's keywords: the server
/// decides it, never the sender (a row has no field for it).
fn classified(service: &ServiceConfig, mut batch: Vec<Signal>) -> Vec<Signal> {
    for row in &mut batch {
        if let Signal::Post(p) = row {
            p.kind = service.classify(&p.text);
        }
    }
    batch
}

/// Every row's source is one of the service's.
fn check_sources(service: &ServiceConfig, batch: &[Signal]) -> Result<(), ApiError> {
    let Some((index, row)) = batch
        .iter()
        .enumerate()
        .find(|(_, s)| service.signal_source(s.source().as_str()).is_none())
    else {
        return Ok(());
    };
    let known: Vec<&str> = service.signals.iter().map(|s| s.source.as_str()).collect();
    let message = if known.is_empty() {
        format!(
            "{:?}: this service takes no signals (configure [[service.signal]])",
            row.source().as_str()
        )
    } else {
        format!(
            "{:?} is not a signal source of this service (its sources: {})",
            row.source().as_str(),
            known.join(", ")
        )
    };
    Err(ApiError::InvalidRow {
        list: "signals",
        index,
        field: "source",
        message,
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SignalsQuery {
    /// How far back: a duration such as 60m or 24h (default 1h, at most 1 day).
    window: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SourceFigures {
    source: String,
    /// The source's name, as the page shows it.
    name: String,
    /// `corroborate` (it can only confirm what the crowd's reports say) or `alone`.
    raises: String,
    /// Posts in the window.
    count: u64,
    /// Posts in a window this long, on average over the week before it.
    usual: f64,
    /// `count / usual`; absent while nothing is usual yet.
    ratio: Option<f64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignalsBody {
    service: String,
    window: String,
    since: Timestamp,
    /// Every configured source, in configuration order.
    sources: Vec<SourceFigures>,
}

/// `GET /api/v1/services/{service}/signals?window=60m`
#[utoipa::path(get, path = "/api/v1/services/{service}/signals", tag = "signals",
    operation_id = "get_signals",
    params(("service" = String, Path, description = "Service id"), SignalsQuery),
    responses(
        (status = 200, description = "Posts per source in the window, against what is usual", body = SignalsBody),
        (status = 400, description = "Bad query"),
        (status = 404, description = "Unknown service"),
        (status = 422, description = "A parameter's value is not acceptable"),
    ))]
pub async fn get(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let service = service_of(&app, &path)?;
    let q: SignalsQuery = parse_query(raw.as_deref())?;
    let window = window(q.window.as_deref(), Span::from_secs(86_400))?;
    let key = format!("signals?window={}", window.as_secs());
    cached(&app, service.id.as_str(), &key, || async {
        let now = app.clock.now();
        let now_ms = now.as_millisecond();
        let since_ms = now_ms - window.as_millis();
        let minutes = app
            .store
            .signal_minutes(service.id.as_str(), since_ms - USUAL_OVER_MS, now_ms + 1)
            .await?;
        Ok(SignalsBody {
            service: service.id.to_string(),
            window: window.to_string(),
            since: Timestamp::from_millisecond(since_ms).unwrap_or(now),
            sources: figures(&service, &minutes, since_ms, window.as_millis()),
        })
    })
    .await
}

/// Each configured source's count since `since_ms`, and its usual count for a window of
/// `window_ms`: the mean over the [`USUAL_OVER_MS`] before `since_ms`.
fn figures(
    service: &ServiceConfig,
    minutes: &[SignalMinute],
    since_ms: i64,
    window_ms: i64,
) -> Vec<SourceFigures> {
    service
        .signals
        .iter()
        .map(|s| {
            let of_source = minutes.iter().filter(|m| m.source == s.source.as_str());
            let (mut count, mut before) = (0u64, 0u64);
            for m in of_source {
                if m.minute_ms >= since_ms {
                    count += m.count;
                } else {
                    before += m.count;
                }
            }
            let usual = before as f64 * window_ms as f64 / USUAL_OVER_MS as f64;
            let round = |x: f64| (x * 100.0).round() / 100.0;
            SourceFigures {
                source: s.source.to_string(),
                name: s.name.clone(),
                raises: s.raises.as_str().into(),
                count,
                usual: round(usual),
                ratio: (usual > 0.0).then(|| round(count as f64 / usual)),
            }
        })
        .collect()
}
