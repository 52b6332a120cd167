//! Downbeat's public pages: "is it down, or is it just me?", answered fast when everyone
//! asks at once.
//!
//! [`router`] gives the routes to merge beside the JSON API:
//!
//! - `GET /` — every service with its crowd verdict and official status; `?q=` filters.
//! - `GET /s/{service}` — the service page: verdict headline, 24-hour chart, breakdowns,
//!   map, official status, tips, the "I have a problem" form and, when the service takes
//!   them, community comments.
//! - `POST /s/{service}/report` — that form (no JavaScript needed, no cookie); answers with
//!   the thank-you view, or the form again with the error. A post another site's page made
//!   a browser send, or one without a current form token, is refused (403, saying why).
//! - `POST /s/{service}/comments` — the comment form, when the service takes comments
//!   (`[[service]] comments`): a 303 back to `/s/{service}?comment=sent`, the page with a
//!   thank-you line, or the form again with why not (see [`comment`]).
//! - `POST /s/{service}/subscribe` — the "get updates by mail" form; `GET
//!   /subscriptions/{token}` and its `confirm`, `components` and `unsubscribe` POSTs —
//!   managing a subscription from the link in a mail (see [`subscribe`]).
//! - `GET /s/{service}/incidents`, `GET /s/{service}/incidents/{id}` — incident history.
//! - `GET /feed.atom`, `GET /s/{service}/feed.atom` — verdict changes, incidents and maintenance as Atom.
//! - `GET /s/{service}/badge.svg` — a shields-style status badge.
//! - Atlassian Statuspage's public API v2, so existing aggregators and widgets can read
//!   Downbeat: `GET /api/v2/{document}` (all services as one page, each service a component
//!   group) and `GET /s/{service}/api/v2/{document}` (one service as one page), where the
//!   document is `summary.json`, `status.json`, `components.json`, `incidents.json`,
//!   `incidents/unresolved.json`, `scheduled-maintenances.json`,
//!   `scheduled-maintenances/upcoming.json` or `scheduled-maintenances/active.json` (see
//!   [`statuspage`]). Readable from any origin (`Access-Control-Allow-Origin: *`, and an
//!   answer to the CORS preflight); an unknown service is a JSON 404.
//! - `GET /assets/style-{hash}.css` — the one stylesheet, and `GET /assets/live-{hash}.js`,
//!   the service page's optional live refresh; each cached forever under its hash.
//!
//! Every GET page above is served from memory (see [`cache`]): rendered once per data
//! change, with identity, gzip and brotli bodies and ETags prepared in advance.
//!
//! # Layout
//! - [`model`]: [`model::PageModel`], everything a service's pages show, loaded from the app.
//! - [`state`]: the shared state, the refresher that reloads models when data moves, and
//!   the render-or-serve-from-cache step.
//! - [`cache`]: rendered pages by key, with epochs and single-flight background re-renders.
//! - [`encoded`]: a body in three codings with ETags; content negotiation and 304s.
//! - [`render`]: which template or serializer makes each cached page.
//! - [`views`]: template structs and their view data; templates live in `templates/`.
//! - [`chart`], [`map`], [`map_data`]: the SVG chart and world map geometry.
//! - [`feed`], [`statuspage`]: the Atom feeds and the Statuspage public API's documents.
//! - [`report`]: the report form's POST and the thank-you view.
//! - [`comment`]: the comment form's POST; [`comment_limit`]: comments per client, in memory.
//! - [`origin`]: where a form post came from (`Sec-Fetch-Site`, `Origin` against our host).
//! - [`subscribe`]: subscribing by mail, and the pages a mail's links lead to.
//! - [`visitor`]: guesses from request headers (country, platform).
//! - [`geoip`]: the operator's optional MaxMind DB: a reporter's country from their address.
//! - [`handlers`]: the axum handlers.
//! - [`time`]: how times are printed.

pub mod cache;
pub mod chart;
pub mod comment;
pub mod comment_limit;
pub mod encoded;
pub mod feed;
pub mod geoip;
pub mod handlers;
pub mod incident_views;
pub mod map;
pub mod map_data;
pub mod markdown;
pub mod model;
pub mod origin;
pub mod render;
pub mod report;
pub mod state;
pub mod statuspage;
pub mod subscribe;
pub mod time;
pub mod views;
pub mod visitor;

use axum::Router;
use axum::extract::{Request, State};
use axum::routing::{get, post};
use downbeat_api::App;
use downbeat_api::statuspage::Endpoint;
pub use state::Pages;
use state::Web;
use std::sync::Arc;

/// The public pages' routes for `app`, with a background refresher that stops when the
/// router is dropped. Merge with `downbeat_api::router(app)`.
pub fn router(app: App) -> Router {
    Pages::new(app).router()
}

impl Pages {
    /// The routes, sharing this state (tests keep the [`Pages`] to refresh on demand).
    pub fn router(&self) -> Router {
        let web = self.state();
        let mut router = Router::new()
            .route("/", get(handlers::index))
            .route("/s/{service}", get(handlers::service))
            .route("/s/{service}/report", post(report::submit))
            .route("/s/{service}/comments", post(comment::submit))
            .route("/s/{service}/subscribe", post(subscribe::submit))
            .route("/subscriptions/{token}", get(subscribe::manage))
            .route("/subscriptions/{token}/confirm", post(subscribe::confirm))
            .route(
                "/subscriptions/{token}/components",
                post(subscribe::components),
            )
            .route(
                "/subscriptions/{token}/unsubscribe",
                post(subscribe::unsubscribe),
            )
            .route("/s/{service}/incidents", get(handlers::incidents))
            .route("/s/{service}/incidents/{id}", get(handlers::incident))
            .route("/s/{service}/feed.atom", get(handlers::service_feed))
            .route("/s/{service}/badge.svg", get(handlers::badge))
            .route("/feed.atom", get(handlers::feed))
            .route("/assets/{file}", get(handlers::asset));
        for endpoint in Endpoint::ALL {
            for site in [true, false] {
                let path = if site {
                    format!("/api/v2/{}", endpoint.path())
                } else {
                    format!("/s/{{service}}/api/v2/{}", endpoint.path())
                };
                let serve = move |State(web): State<Arc<Web>>, req: Request| async move {
                    handlers::statuspage(&web, &req, site, endpoint)
                };
                router = router.route(&path, get(serve).options(handlers::statuspage_preflight));
            }
        }
        router.with_state(web)
    }
}
