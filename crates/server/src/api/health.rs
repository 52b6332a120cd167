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
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready: the store answers within two seconds.
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

pub async fn metrics(State(app): State<App>) -> impl IntoResponse {
    app.metrics
        .ingest_queue_depth
        .set(app.ingest.depth() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
}
