//! The HTTP routes.
//!
//! - `POST /api/v1/services/{service}/reports` — a crowd report (JSON or form).
//! - `GET  /api/v1/services/{service}/summary?window=60m` — counted reports, broken down.
//! - `GET  /api/v1/services/{service}/reports?since=…&bucket=5m` — counts per time bucket.
//! - `GET  /api/v1/services/{service}/status` — the crowd verdict, explained.
//! - `GET  /api/v1/services/{service}/events?since=24h` — verdict changes with evidence.
//! - `GET  /api/v1/services/{service}/monitors` — monitors, latest result per region, diagnosis.
//! - `GET  /api/v1/monitors/{id}/results?since=1h` — a monitor's results.
//! - `GET  /api/v1/agent/assignments`, `POST /api/v1/agent/results` — remote probe agents.
//! - `GET  /healthz`, `GET /readyz`, `GET /metrics` — operations.

pub mod agent;
pub mod body;
pub mod error;
pub mod health;
pub mod monitors;
pub mod query;
pub mod reports;
pub mod series;
pub mod status;

use crate::app::App;
use axum::Router;
use axum::routing::{get, post};
pub use error::ApiError;

pub fn router(app: App) -> Router {
    let metrics = app.metrics.clone();
    Router::new()
        .route(
            "/api/v1/services/{service}/reports",
            post(reports::submit).get(series::counts),
        )
        .route("/api/v1/services/{service}/summary", get(series::summary))
        .route("/api/v1/services/{service}/status", get(status::status))
        .route("/api/v1/services/{service}/events", get(status::events))
        .route("/api/v1/services/{service}/monitors", get(monitors::list))
        .route("/api/v1/monitors/{id}/results", get(monitors::results))
        .route("/api/v1/agent/assignments", get(agent::assignments))
        .route("/api/v1/agent/results", post(agent::results))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(app)
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::track,
        ))
}
