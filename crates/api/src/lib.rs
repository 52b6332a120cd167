//! The JSON API: every route, the OpenAPI document, and the error type; also the state the
//! outputs share ([`App`]: every stage's handle) and API-token authentication.
//!
//! The routes:
//!
//! - `POST /api/v1/services/{service}/reports` — a crowd report (JSON only: see [`reports`]).
//! - `GET  /api/v1/services/{service}/summary?window=60m` — counted reports, broken down.
//! - `POST|GET /api/v1/services/{service}/signals` — external signals (posting needs a
//!   token with role signal; see [`signals`]).
//! - `POST|GET /api/v1/services/{service}/changes` — deploys and other changes (recording
//!   needs a token with role deployer; see [`changes`]).
//! - `GET  /api/v1/services/{service}/gate?since=<change>&window=10m` — the canary gate:
//!   pass, fail or inconclusive since a change (see [`gate`]).
//! - `POST /api/v1/integrations/alertmanager`, `POST /api/v1/integrations/webhook/{id}` —
//!   other monitors' alerts (token with role integration; see [`integrations`]).
//! - `GET  /api/v1/services/{service}/reports?since=…&bucket=5m` — counts per time bucket.
//! - `GET  /api/v1/services/{service}/status` — the crowd verdict, explained.
//! - `GET  /api/v1/services/{service}/events?since=24h` — verdict changes with evidence.
//! - `GET  /api/v1/services/{service}/monitors` — monitors, latest result per region, diagnosis.
//! - `GET  /api/v1/monitors/{id}/results?since=1h` — a monitor's results.
//! - `GET  /api/v1/agent/assignments`, `POST /api/v1/agent/results` — remote probe agents
//!   (token with role agent).
//! - `POST /api/v1/services/{service}/incidents`, `GET` the same — incidents (token to change).
//! - `GET  /api/v1/incidents/{id}`, `GET|POST .../updates`, `POST .../publish`,
//!   `GET|PUT .../postmortem` — one incident.
//! - `POST|GET /api/v1/services/{service}/maintenance` — maintenance windows.
//! - `POST /api/v1/services/{service}/subscriptions` — subscribe by mail (double opt-in)
//!   or webhook; `GET|DELETE /api/v1/subscriptions/{token}` — read or cancel one.
//! - `GET  /api/openapi.json` — this API, described (with the Statuspage public API v2
//!   routes the web crate serves: see [`statuspage`]).
//! - `GET  /healthz`, `GET /readyz`, `GET /metrics` — operations.

pub mod agent;
pub mod app;
pub mod auth;
pub mod body;
pub mod cache;
pub mod changes;
pub mod error;
pub mod gate;
pub mod health;
pub mod history;
pub mod incidents;
pub mod integrations;
pub mod manage;
pub mod metrics;
pub mod monitors;
pub mod objects;
pub mod query;
pub mod reports;
pub mod series;
pub mod signals;
pub mod status;
pub mod statuspage;
pub mod subscriptions;

pub use app::App;
use axum::Json;
use axum::Router;
use axum::routing::get;
pub use error::ApiError;
use statuspage::Described;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Downbeat",
        description = "Crowd reports, synthetic probes, incidents and status pages for one service or many.",
        license(name = "Apache-2.0"),
    ),
    modifiers(&BearerAuth, &Described),
    components(schemas(
        statuspage::Page,
        statuspage::Status,
        statuspage::Component,
        statuspage::Incident,
        statuspage::Maintenance,
        statuspage::CrowdView,
    )),
    tags(
        (name = "reports", description = "Crowd problem reports"),
        (name = "crowd", description = "The crowd verdict and its changes"),
        (name = "signals", description = "External signals: posts about a service's trouble, from configured sources"),
        (name = "changes", description = "Deploys and other changes operators made, recorded by their pipelines"),
        (name = "integrations", description = "Other monitors' alerts (Alertmanager, inbound webhooks) mapped to component states"),
        (name = "monitors", description = "Synthetic probes from vantage regions"),
        (name = "incidents", description = "Incidents, their updates and post-mortems"),
        (name = "maintenance", description = "Scheduled maintenance windows"),
        (name = "subscriptions", description = "Public subscriptions to incidents and maintenance, by mail or webhook"),
        (name = "config", description = "Services, components, monitors and notification destinations managed at runtime; reloading the config file"),
        (name = "operations", description = "Health and metrics"),
        (name = "statuspage", description = "Atlassian Statuspage's public API v2, site-wide and per service, served from the status pages' memory"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every API route, each registered from its annotated handler, so the OpenAPI document
/// is generated from the same code that serves and cannot drift from it.
fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(reports::submit, series::counts))
        .routes(routes!(series::summary))
        .routes(routes!(series::messages))
        .routes(routes!(signals::post, signals::get))
        .routes(routes!(changes::record, changes::list))
        .routes(routes!(gate::gate))
        .routes(routes!(integrations::alertmanager))
        .routes(routes!(integrations::webhook))
        .routes(routes!(status::status))
        .routes(routes!(status::events))
        .routes(routes!(monitors::list))
        .routes(routes!(monitors::results))
        .routes(routes!(agent::assignments))
        .routes(routes!(agent::results))
        .routes(routes!(incidents::create, incidents::list))
        .routes(routes!(incidents::get))
        .routes(routes!(incidents::updates, incidents::add_update))
        .routes(routes!(incidents::publish))
        .routes(routes!(
            incidents::get_postmortem,
            incidents::put_postmortem
        ))
        .routes(routes!(
            incidents::create_maintenance,
            incidents::list_maintenance
        ))
        .routes(routes!(subscriptions::subscribe))
        .routes(routes!(subscriptions::get, subscriptions::delete))
        .routes(routes!(objects::list))
        .routes(routes!(objects::create_service))
        .routes(routes!(
            objects::get_service,
            objects::replace_service,
            objects::delete_service
        ))
        .routes(routes!(objects::create_component))
        .routes(routes!(
            objects::replace_component,
            objects::delete_component
        ))
        .routes(routes!(objects::create_monitor))
        .routes(routes!(
            objects::get_monitor,
            objects::replace_monitor,
            objects::delete_monitor
        ))
        .routes(routes!(
            objects::list_destinations,
            objects::create_destination
        ))
        .routes(routes!(
            objects::get_destination,
            objects::replace_destination,
            objects::delete_destination
        ))
        .routes(routes!(objects::reload))
        .routes(routes!(objects::apply))
        .routes(routes!(history::import))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
}

/// The OpenAPI document of the whole JSON API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

pub fn router(app: App) -> Router {
    let metrics = app.metrics.clone();
    let (api_routes, doc) = routes().split_for_parts();
    let doc = std::sync::Arc::new(doc);
    api_routes
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json(doc) }
            }),
        )
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(app)
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::track,
        ))
}

#[cfg(test)]
mod tests {
    /// Operation ids name operations in generated clients: each must be unique (an OpenAPI
    /// validator refuses the document otherwise).
    #[test]
    fn operation_ids_are_unique() {
        let doc = super::openapi();
        let mut seen = std::collections::BTreeMap::new();
        let mut twice = Vec::new();
        for (path, item) in &doc.paths.paths {
            let ops = [
                &item.get,
                &item.put,
                &item.post,
                &item.delete,
                &item.options,
                &item.head,
                &item.patch,
                &item.trace,
            ];
            for op in ops.into_iter().flatten() {
                let id = op.operation_id.clone().expect("every operation has an id");
                if let Some(other) = seen.insert(id.clone(), path.clone()) {
                    twice.push(format!("{id:?} is used by {other} and {path}"));
                }
            }
        }
        assert!(twice.is_empty(), "{}", twice.join("\n"));
        assert!(seen.len() > 20, "{seen:?}");
    }

    /// The Statuspage documents the web crate serves are described, site-wide and per
    /// service, and every schema the document refers to is in it.
    #[test]
    fn statuspage_routes_are_described_and_every_reference_resolves() {
        let doc = serde_json::to_value(super::openapi()).expect("the document serializes");
        for endpoint in super::statuspage::Endpoint::ALL {
            for path in [
                format!("/api/v2/{}", endpoint.path()),
                format!("/s/{{service}}/api/v2/{}", endpoint.path()),
            ] {
                let schema = &doc["paths"][&path]["get"]["responses"]["200"]["content"]["application/json"]
                    ["schema"];
                let required = schema["required"].as_array();
                assert!(
                    required.is_some_and(|r| r.len() == 1 + endpoint.parts().len()),
                    "{path}: {schema}"
                );
            }
        }
        fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                        out.push(r);
                    }
                    m.values().for_each(|v| refs(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.contains(&"#/components/schemas/StatuspageIncident"));
        let missing: Vec<&str> = all
            .into_iter()
            .filter(|r| {
                let name = r.trim_start_matches("#/components/schemas/");
                doc["components"]["schemas"].get(name).is_none()
            })
            .collect();
        assert!(missing.is_empty(), "unresolved references: {missing:?}");
    }
}
