//! Other monitors' alerts in (`downbeat_incidents::integrations` says what they do):
//!
//! - `POST /api/v1/integrations/alertmanager`: Alertmanager's webhook payload, version 4.
//! - `POST /api/v1/integrations/webhook/{id}`: any JSON, read by the fields of
//!   `[[integrations.webhook]]` `id`.
//!
//! Both need a token of role `integration` (or `admin`), then the integration's token
//! bucket (429 with Retry-After beyond it), before the body is read. Bodies are JSON of at
//! most 1 MiB; a request without a Content-Type is read as JSON too, since Gatus's custom
//! provider sends none unless told, and the bearer token already keeps other sites' pages
//! out. Answers say what each notification did, and what moved nothing and why.

use super::ApiError;
use super::body::read_limited;
use crate::app::App;
use crate::auth::{Principal, Role};
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use downbeat_incidents::integrations::{IntegrationError, Received, alertmanager, limits, webhook};
use serde_json::Value;

/// The largest body read: an Alertmanager group of a few hundred alerts with their
/// annotations (its `max_alerts` caps a group).
pub const BODY_LIMIT: usize = 1 << 20;

/// `POST /api/v1/integrations/alertmanager`
#[utoipa::path(post, path = "/api/v1/integrations/alertmanager", tag = "integrations",
    operation_id = "alertmanager_webhook",
    request_body(content((alertmanager::Payload = "application/json"))),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Applied: what each service's notification did", body = Received),
        (status = 400, description = "Not JSON, or a field of the wrong type (named)"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not integration"),
        (status = 404, description = "No [integrations.alertmanager] in this server's config"),
        (status = 413, description = "Body over 1 MiB"),
        (status = 415, description = "Neither application/json nor no Content-Type"),
        (status = 422, description = "Another payload version, or a status neither firing nor resolved (named)"),
        (status = 429, description = "Too many notifications from Alertmanager; Retry-After says when"),
        (status = 503, description = "Not applied; retry"),
    ))]
pub async fn alertmanager(
    State(app): State<App>,
    who: Principal,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Received>, ApiError> {
    who.require(Role::Integration)?;
    let Some(settings) = &app.config.load().integrations.alertmanager else {
        return Err(ApiError::NotFound(
            "no [integrations.alertmanager] in this server's config".into(),
        ));
    };
    admit(&app, &limits::alertmanager_name())?;
    let payload = alertmanager::Payload::from_json(read_json(&headers, body).await?)?;
    let received = alertmanager::receive(&app.incidents, settings, &payload).await?;
    tracing::info!(
        by = %who.name, alerts = payload.alerts.len(), status = %payload.status,
        applied = received.applied.len(), ignored = received.ignored.len(),
        "alertmanager notification"
    );
    Ok(Json(received))
}

/// `POST /api/v1/integrations/webhook/{id}`
#[utoipa::path(post, path = "/api/v1/integrations/webhook/{id}", tag = "integrations",
    operation_id = "inbound_webhook",
    params(("id" = String, Path, description = "The id of an [[integrations.webhook]]")),
    request_body(content = serde_json::Value, description = "The monitor's own JSON, read with the webhook's JSON pointers"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Applied, or ignored with the reason (a value no rule maps)", body = Received),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not integration"),
        (status = 404, description = "No webhook with this id"),
        (status = 413, description = "Body over 1 MiB"),
        (status = 415, description = "Neither application/json nor no Content-Type"),
        (status = 429, description = "Too many notifications from this webhook; Retry-After says when"),
        (status = 503, description = "Not applied; retry"),
    ))]
pub async fn webhook(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Received>, ApiError> {
    who.require(Role::Integration)?;
    let config = app.config.get();
    let hook = path
        .ok()
        .and_then(|Path(id)| config.integrations.webhook(&id).cloned())
        .ok_or_else(|| {
            let known: Vec<&str> = config
                .integrations
                .webhooks
                .iter()
                .map(|w| w.id.as_str())
                .collect();
            ApiError::NotFound(if known.is_empty() {
                "no such webhook: this server's config has no [[integrations.webhook]]".into()
            } else {
                format!("no such webhook; configured: {}", known.join(", "))
            })
        })?;
    admit(&app, &limits::webhook_name(hook.id.as_str()))?;
    let body = read_json(&headers, body).await?;
    let received = webhook::receive(&app.incidents, &hook, &body).await?;
    tracing::info!(
        by = %who.name, webhook = %hook.id, applied = received.applied.len(),
        ignored = ?received.ignored, "inbound webhook notification"
    );
    Ok(Json(received))
}

/// 429 unless integration `name` may post now.
fn admit(app: &App, name: &str) -> Result<(), ApiError> {
    app.incidents
        .integration_limits
        .check(name)
        .map_err(|wait| {
            IntegrationError::RateLimited {
                integration: name.to_owned(),
                retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
            .into()
        })
}

/// The body as JSON: `application/json` or no Content-Type at all, at most
/// [`BODY_LIMIT`] bytes.
async fn read_json(headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    if headers.contains_key(header::CONTENT_TYPE) {
        super::body::require_json(headers)?;
    }
    let bytes = read_limited(headers, body, BODY_LIMIT).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}
