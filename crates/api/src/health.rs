//! Operations endpoints: liveness, readiness, metrics.

use super::ApiError;
use crate::app::App;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use std::time::Duration;

/// Alive: the process answers. Never touches the store.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process answers", body = Object)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready: the store answers within two seconds.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "The store answers", body = Object),
        (status = 503, description = "The store does not answer"),
    ))]
pub async fn readyz(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(Duration::from_secs(2), app.store.ping()).await {
        Ok(Ok(())) => Ok(Json(
            json!({"status": "ready", "store": app.store.backend().as_str()}),
        )),
        Ok(Err(e)) => Err(ApiError::Unavailable(format!("store not ready: {e}"))),
        Err(_) => Err(ApiError::Unavailable(
            "store not ready: no answer within 2 s".into(),
        )),
    }
}

/// Prometheus / OpenMetrics text.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text", body = String,
        content_type = "application/openmetrics-text")))]
pub async fn metrics(State(app): State<App>) -> impl IntoResponse {
    app.intake
        .metrics
        .ingest_queue_depth
        .set(app.intake.ingest.depth() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
}
