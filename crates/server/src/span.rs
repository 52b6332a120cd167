//! One span per HTTP request, around the API, the pages and the admin area alike, so every
//! log line a handler writes names its request (method and route template, never the raw
//! path or query, which are the client's to choose).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// Runs the rest of the stack inside a `request` span.
pub async fn request_span(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let span = tracing::info_span!("request", method = %req.method(), route = %route);
    next.run(req).instrument(span).await
}
