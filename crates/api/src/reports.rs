//! `POST /api/v1/services/{service}/reports`: a listener says something is wrong.
//!
//! The API takes JSON only (415 otherwise): a page on another site can make a browser send
//! a form or `text/plain` without asking, but JSON only after a CORS preflight, which this
//! API never answers. The status page's form has its own route and checks
//! (`downbeat_web::report`), and comes in through [`accept_form`].

use super::ApiError;
use super::body;
use crate::app::App;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use downbeat_config::{ServiceConfig, ServiceRef};
use downbeat_intake::{Accepted, RejectReason, client_ip};
use std::net::{IpAddr, SocketAddr};

/// The service a path names, or 404.
pub fn service_of(
    app: &App,
    path: &Result<Path<String>, PathRejection>,
) -> Result<ServiceRef, ApiError> {
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
    request_body(content((downbeat_intake::RawReport = "application/json"))),
    responses(
        (status = 202, description = "Stored durably", body = Accepted),
        (status = 400, description = "Malformed body"),
        (status = 404, description = "Unknown service"),
        (status = 413, description = "Body too large"),
        (status = 415, description = "Not `Content-Type: application/json`"),
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
        Ok(service) => accept(&app, &service, peer, &parts.headers, body).await,
        Err(e) => Err(e),
    };
    if let Err(e) = &result {
        app.intake.metrics.reject(match e {
            ApiError::NotFound(_) => RejectReason::unknown_service,
            ApiError::InvalidField { .. }
            | ApiError::InvalidRow { .. }
            | ApiError::Invalid { .. } => RejectReason::invalid_field,
            ApiError::TooLarge { .. } => RejectReason::too_large,
            ApiError::UnsupportedMediaType(_) => RejectReason::unsupported_media_type,
            ApiError::RateLimited { .. } | ApiError::Throttled { .. } => RejectReason::rate_limited,
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

/// Accepts one JSON report: the whole path from address to durable commit. The rate limit
/// is checked before the body is read.
pub async fn accept(
    app: &App,
    service: &ServiceConfig,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<Accepted, ApiError> {
    let ip = client_ip(
        peer.ip(),
        headers,
        &app.config.load().server.trusted_proxies,
    );
    app.intake.check_rate(ip)?;
    body::require_json(headers)?;
    let bytes = body::read_limited(headers, body, app.config.load().reports.max_body_bytes).await?;
    let raw = body::json(&bytes, r#"{"problem": "login"}"#)?;
    Ok(app.intake.accept(service, ip, raw).await?)
}

/// Accepts one report from the status page's form, the rest of the same path: the page has
/// checked where the post came from, its form token and the rate limit for `ip`, and hands
/// over the form's fields as `application/x-www-form-urlencoded`.
pub async fn accept_form(
    app: &App,
    service: &ServiceConfig,
    ip: IpAddr,
    form: &[u8],
) -> Result<Accepted, ApiError> {
    let raw = body::form(form)?;
    Ok(app.intake.accept(service, ip, raw).await?)
}
