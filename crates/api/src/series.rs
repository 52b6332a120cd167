//! Reading reports back: a breakdown over a window, and counts per time bucket (the data of
//! the 24-hour chart).

use super::ApiError;
use super::query::parse_query;
use super::reports::service_of;
use crate::app::App;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use downbeat_config::ServiceConfig;
use downbeat_domain::Span;
use downbeat_store::MINUTE_MS;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most buckets one series request may ask for.
pub const MAX_BUCKETS: i64 = 20_000;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// How far back: a duration such as 60m or 24h (default 1h).
    window: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SummaryBody {
    service: String,
    window: String,
    since: Timestamp,
    total: u64,
    by_problem: BTreeMap<String, u64>,
    by_platform: BTreeMap<String, u64>,
    by_country: BTreeMap<String, u64>,
}

/// `GET /api/v1/services/{service}/summary?window=60m`
#[utoipa::path(get, path = "/api/v1/services/{service}/summary", tag = "reports",
    params(("service" = String, Path, description = "Service id"), SummaryQuery),
    responses(
        (status = 200, description = "Counted reports, broken down", body = SummaryBody),
        (status = 400, description = "Bad query"),
        (status = 404, description = "Unknown service"),
        (status = 422, description = "A parameter's value is not acceptable"),
    ))]
pub async fn summary(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let service = service_of(&app, &path)?;
    let window = summary_window(&app, raw.as_deref())?;
    // The key is the parsed window, not the query text: `60m` and `1h` share an answer.
    let key = format!("summary?window={}", window.as_secs());
    cached(&app, service.id.as_str(), &key, || {
        summary_body(&app, &service, window)
    })
    .await
}

fn summary_window(app: &App, raw: Option<&str>) -> Result<Span, ApiError> {
    let q: SummaryQuery = parse_query(raw)?;
    window(q.window.as_deref(), app.config.load().retention.rollups)
}

/// A `window` parameter: a duration from 1 minute to `max` (default 1 hour), else 422
/// naming it.
pub(crate) fn window(w: Option<&str>, max: Span) -> Result<Span, ApiError> {
    match w {
        None => Ok(Span::from_secs(3600)),
        Some(w) => {
            Span::parse_within(w, Span::from_secs(60), max).map_err(|e| ApiError::InvalidField {
                field: "window",
                message: e.to_string(),
            })
        }
    }
}

async fn summary_body(
    app: &App,
    service: &ServiceConfig,
    window: Span,
) -> Result<SummaryBody, ApiError> {
    let now = app.clock.now();
    let since_ms = now.as_millisecond() - window.as_millis();
    let s = app.store.summary(service.id.as_str(), since_ms).await?;
    Ok(SummaryBody {
        service: service.id.to_string(),
        window: window.to_string(),
        since: Timestamp::from_millisecond(since_ms.div_euclid(MINUTE_MS) * MINUTE_MS)
            .unwrap_or(now),
        total: s.total,
        by_problem: s.by_problem,
        by_platform: s.by_platform,
        by_country: s.by_country,
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    /// How far back: a duration such as 60m or 24h (default 1h; at most the raw retention).
    window: Option<String>,
}

/// Near-identical messages that enough networks typed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MessageCluster {
    /// A readable representative of the variants (untrusted text: escape it).
    text: String,
    /// Counted reports carrying it.
    count: u64,
    /// Its share of the counted reports that said what their screen says, 0 to 1.
    share: f64,
    /// Distinct client networks that typed it.
    networks: usize,
    first_seen: Timestamp,
    last_seen: Timestamp,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MessagesBody {
    service: String,
    window: String,
    since: Timestamp,
    /// Counted reports in the window that carried a message (shown or not).
    with_message: u64,
    /// The visible clusters, most reported first.
    messages: Vec<MessageCluster>,
}

/// `GET /api/v1/services/{service}/messages?window=60m`
#[utoipa::path(get, path = "/api/v1/services/{service}/messages", tag = "reports",
    params(("service" = String, Path, description = "Service id"), MessagesQuery),
    responses(
        (status = 200, description = "What listeners' screens say, clustered", body = MessagesBody),
        (status = 400, description = "Bad query"),
        (status = 404, description = "Unknown service"),
        (status = 422, description = "A parameter's value is not acceptable"),
    ))]
pub async fn messages(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let service = service_of(&app, &path)?;
    let q: MessagesQuery = parse_query(raw.as_deref())?;
    let window = window(q.window.as_deref(), app.config.load().retention.raw)?;
    let key = format!("messages?window={}", window.as_secs());
    cached(&app, service.id.as_str(), &key, || async {
        let now = app.clock.now();
        let since_ms = now.as_millisecond() - window.as_millis();
        let (clusters, with_message) = downbeat_crowd::screen_messages(
            app.store.as_ref(),
            &app.config.get(),
            service.id.as_str(),
            since_ms,
        )
        .await?;
        let at = |ms: i64| Timestamp::from_millisecond(ms).unwrap_or(now);
        Ok(MessagesBody {
            service: service.id.to_string(),
            window: window.to_string(),
            since: at(since_ms),
            with_message,
            messages: clusters
                .into_iter()
                .map(|c| MessageCluster {
                    share: (c.count as f64 / with_message.max(1) as f64 * 1000.0).round() / 1000.0,
                    text: c.text,
                    count: c.count,
                    networks: c.networks,
                    first_seen: at(c.first_seen_ms),
                    last_seen: at(c.last_seen_ms),
                })
                .collect(),
        })
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CountsQuery {
    /// An RFC 3339 time or a duration ago (default 24h).
    since: Option<String>,
    /// 1m, 5m, 15m or 1h.
    bucket: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Bucket {
    start: Timestamp,
    count: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CountsBody {
    service: String,
    bucket: &'static str,
    since: Timestamp,
    until: Timestamp,
    buckets: Vec<Bucket>,
}

/// The accepted bucket sizes and their names.
const BUCKETS: [(&str, i64); 4] = [
    ("1m", 60_000),
    ("5m", 300_000),
    ("15m", 900_000),
    ("1h", 3_600_000),
];

/// `GET /api/v1/services/{service}/reports?since=…&bucket=1m|5m|15m|1h` — every bucket from
/// `since` to now, including empty ones.
#[utoipa::path(get, path = "/api/v1/services/{service}/reports", tag = "reports",
    params(("service" = String, Path, description = "Service id"), CountsQuery),
    responses(
        (status = 200, description = "Counted reports per bucket", body = CountsBody),
        (status = 400, description = "Bad query"),
        (status = 404, description = "Unknown service"),
        (status = 422, description = "A parameter's value is not acceptable"),
    ))]
pub async fn counts(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let service = service_of(&app, &path)?;
    let range = counts_range(&app, raw.as_deref())?;
    // The key is the parsed range, rounded to the bucket: however `since` is written, one
    // bucket's worth of starting points shares one answer.
    let key = format!("counts?since={}&bucket={}", range.since_ms, range.bucket_ms);
    cached(&app, service.id.as_str(), &key, || {
        counts_body(&app, &service, range)
    })
    .await
}

/// What a counts request asks for, parsed and bounded.
#[derive(Clone, Copy)]
struct CountsRange {
    bucket_name: &'static str,
    bucket_ms: i64,
    since_ms: i64,
    until_ms: i64,
    buckets: i64,
}

fn counts_range(app: &App, raw: Option<&str>) -> Result<CountsRange, ApiError> {
    let q: CountsQuery = parse_query(raw)?;
    let (bucket_name, bucket_ms) = match q.bucket.as_deref() {
        None => BUCKETS[1],
        Some(b) => {
            *BUCKETS
                .iter()
                .find(|(n, _)| *n == b)
                .ok_or_else(|| ApiError::InvalidField {
                    field: "bucket",
                    message: format!(
                        "{:?} is not one of 1m, 5m, 15m, 1h",
                        b.chars().take(20).collect::<String>()
                    ),
                })?
        }
    };
    let now_ms = app.clock.now().as_millisecond();
    let since_ms = super::query::since_ms(
        q.since.as_deref(),
        now_ms,
        86_400_000,
        app.config.load().retention.rollups,
    )?
    .div_euclid(bucket_ms)
        * bucket_ms;
    let until_ms = (now_ms.div_euclid(bucket_ms) + 1) * bucket_ms;
    let n = (until_ms - since_ms) / bucket_ms;
    if n > MAX_BUCKETS {
        return Err(ApiError::InvalidField {
            field: "since",
            message: format!(
                "asks for {n} buckets of {bucket_name}; at most {MAX_BUCKETS}: use a larger bucket or a later since"
            ),
        });
    }
    Ok(CountsRange {
        bucket_name,
        bucket_ms,
        since_ms,
        until_ms,
        buckets: n,
    })
}

async fn counts_body(
    app: &App,
    service: &ServiceConfig,
    range: CountsRange,
) -> Result<CountsBody, ApiError> {
    let CountsRange {
        bucket_name,
        bucket_ms,
        since_ms,
        until_ms,
        buckets: n,
    } = range;
    let now = app.clock.now();
    let rows = app
        .store
        .report_counts(service.id.as_str(), since_ms, until_ms, bucket_ms)
        .await?;
    let mut rows = rows.into_iter().peekable();
    let mut buckets = Vec::with_capacity(n as usize);
    let mut start = since_ms;
    while start < until_ms {
        let count = match rows.peek() {
            Some(r) if r.start_ms == start => rows.next().map_or(0, |r| r.count),
            _ => 0,
        };
        buckets.push(Bucket {
            start: Timestamp::from_millisecond(start).unwrap_or(now),
            count,
        });
        start += bucket_ms;
    }
    Ok(CountsBody {
        service: service.id.to_string(),
        bucket: bucket_name,
        since: Timestamp::from_millisecond(since_ms).unwrap_or(now),
        until: Timestamp::from_millisecond(until_ms).unwrap_or(now),
        buckets,
    })
}

/// Serves `render`'s answer from the API cache while the service's reports are unchanged
/// (and for at most a second, since answers are relative to now). Errors are not cached;
/// while the store is unavailable, the last answer is served, however old (with `Age`).
pub(crate) async fn cached<T, F, Fut>(
    app: &App,
    service: &str,
    key: &str,
    render: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let generation = app.intake.generations.get(service);
    let now_ms = app.clock.now().as_millisecond();
    let body = match app.api_cache.get(service, key, generation, now_ms) {
        Some(body) => body,
        None => {
            let value = match render().await {
                Ok(v) => v,
                // The store is down: the last answer is the last known state.
                Err(ApiError::Unavailable(why)) => {
                    let Some((body, at_ms)) = app.api_cache.last(service, key) else {
                        return Err(ApiError::Unavailable(why));
                    };
                    let age_s = (now_ms - at_ms).max(0) / 1000;
                    return Ok((
                        [
                            (header::CONTENT_TYPE, "application/json".to_owned()),
                            (header::AGE, age_s.to_string()),
                        ],
                        body,
                    )
                        .into_response());
                }
                Err(e) => return Err(e),
            };
            let body = Bytes::from(
                serde_json::to_vec(&value)
                    .map_err(|e| ApiError::Unavailable(format!("encoding: {e}")))?,
            );
            app.api_cache
                .put(service, key, generation, now_ms, body.clone());
            body
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
