//! `POST /api/v1/services/{service}/reports`: a listener says something is wrong.

use super::ApiError;
use super::body::{self, RawReport};
use crate::app::App;
use crate::dedupe::Mark;
use crate::identity::client_ip;
use crate::metrics::RejectReason;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use downbeat_config::ServiceConfig;
use downbeat_domain::{City, CountryCode, Platform, Report};
use downbeat_store::NewReport;
use serde::Serialize;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

/// The answer to an accepted report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub status: &'static str,
    /// False when this client already counted for this service within the dedupe window.
    pub counted: bool,
    #[schema(value_type = String)]
    pub service: Arc<str>,
    #[schema(value_type = String)]
    pub problem: Arc<str>,
    #[schema(value_type = String)]
    pub message: Cow<'static, str>,
}

/// The service a path names, or 404.
pub fn service_of<'a>(
    app: &'a App,
    path: &Result<Path<String>, PathRejection>,
) -> Result<&'a ServiceConfig, ApiError> {
    let Ok(Path(id)) = path else {
        return Err(ApiError::NotFound("unknown service".into()));
    };
    app.config
        .service(id)
        .ok_or_else(|| ApiError::unknown_service(id))
}

/// Report a problem. One client counts once per service per dedupe window.
#[utoipa::path(post, path = "/api/v1/services/{service}/reports", tag = "reports",
    params(("service" = String, Path, description = "Service id")),
    request_body(content(
        (super::body::RawReport = "application/json"),
        (super::body::RawReport = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 202, description = "Stored durably", body = Accepted),
        (status = 400, description = "Malformed body"),
        (status = 404, description = "Unknown service"),
        (status = 413, description = "Body too large"),
        (status = 415, description = "Neither JSON nor a form"),
        (status = 422, description = "A field's value is not acceptable"),
        (status = 429, description = "Too many reports from this address"),
        (status = 503, description = "The store is unavailable; retry"),
    ))]
pub async fn submit(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: axum::extract::Request,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    // The whole request rather than a `HeaderMap` extractor, which would clone the headers.
    let (parts, body) = req.into_parts();
    let result = match service_of(&app, &path) {
        Ok(service) => accept(&app, service, peer, &parts.headers, body).await,
        Err(e) => Err(e),
    };
    if let Err(e) = &result {
        app.metrics.reject(match e {
            ApiError::NotFound(_) => RejectReason::unknown_service,
            ApiError::InvalidField { .. } => RejectReason::invalid_field,
            ApiError::TooLarge { .. } => RejectReason::too_large,
            ApiError::UnsupportedMediaType(_) => RejectReason::unsupported_media_type,
            ApiError::RateLimited { .. } => RejectReason::rate_limited,
            ApiError::Unavailable(_) => RejectReason::unavailable,
            ApiError::BadRequest(_)
            | ApiError::MethodNotAllowed
            | ApiError::Unauthorized(_)
            | ApiError::Forbidden(_)
            | ApiError::Conflict(_) => RejectReason::bad_request,
        });
    }
    result.map(|a| (StatusCode::ACCEPTED, Json(a)))
}

/// Accepts one report: the whole path from address to durable commit, shared by the JSON API
/// and the status page's form.
pub async fn accept(
    app: &App,
    service: &ServiceConfig,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<Accepted, ApiError> {
    let ip = client_ip(peer.ip(), headers, &app.config.server.trusted_proxies);
    app.limiter
        .check_report(ip)
        .map_err(|wait| ApiError::RateLimited {
            retry_after_s: wait.as_secs().max(1),
        })?;
    let format = body::format_of(headers)?;
    let bytes = body::read_limited(headers, body, app.config.reports.max_body_bytes).await?;
    let raw = body::parse(format, &bytes)?;
    let now = app.clock.now();
    let report = validate(service, raw, now)?;

    let now_ms = now.as_millisecond();
    let window_ms = app.dedupe.window_ms();
    let hashes = app
        .salts
        .hashes(service.id.as_str(), ip, now_ms, window_ms)
        .await?;
    let counted = app
        .dedupe
        .check_and_mark(hashes.client, hashes.client_yesterday, now_ms)
        == Mark::Counted;
    let row = NewReport {
        service: report.service.as_arc(),
        received_at_ms: now_ms,
        problem: report.problem.as_arc(),
        platform: report.platform.map(Platform::as_str),
        country: report.country.map(CountryCode::as_str),
        city: report.city.map(City::into_string),
        client_hash: hashes.client,
        network_hash: hashes.network,
        counted,
    };
    if let Err(e) = app.ingest.submit(row).await {
        if counted {
            app.dedupe.forget(hashes.client, now_ms);
        }
        return Err(e.into());
    }

    if let Some(c) = app.report_counters.get(service.id.as_str()) {
        c.received.inc();
        if counted {
            c.counted.inc();
        }
    }
    Ok(Accepted {
        status: "accepted",
        counted,
        service: service.id.as_arc(),
        problem: report.problem.as_arc(),
        message: if counted {
            Cow::Borrowed("Thanks: your report counts.")
        } else {
            Cow::Owned(format!(
                "Thanks: you already reported a problem with {} in the last {}, so this one is not counted again.",
                service.name, app.config.reports.dedupe_window
            ))
        },
    })
}

/// Turns a raw report into a valid one for `service`, naming the first bad field.
pub fn validate(
    service: &ServiceConfig,
    raw: RawReport<'_>,
    now: jiff::Timestamp,
) -> Result<Report, ApiError> {
    let invalid = |field, message: String| ApiError::InvalidField { field, message };
    let problem = service.offers(raw.problem.trim()).ok_or_else(|| {
        let offered: Vec<&str> = service.problems.iter().map(|p| p.kind.as_str()).collect();
        let shown: String = raw.problem.chars().take(40).collect();
        invalid(
            "problem",
            format!(
                "unknown problem kind {shown:?} for {}; expected one of {}",
                service.name,
                offered.join(", ")
            ),
        )
    })?;
    let platform = raw
        .platform
        .map(|p| p.trim().to_ascii_lowercase().parse::<Platform>())
        .transpose()
        .map_err(|e| invalid("platform", e.to_string()))?;
    let country = raw
        .country
        .map(|c| CountryCode::parse(c.trim()))
        .transpose()
        .map_err(|e| invalid("country", e.to_string()))?;
    let city = match raw.city {
        Some(c) => City::parse(&c).map_err(|e| invalid("city", e.to_string()))?,
        None => None,
    };
    Ok(Report {
        service: service.id.clone(),
        problem: problem.kind.clone(),
        platform,
        country,
        city,
        received_at: now,
    })
}
