//! The axum handlers of the GET pages: find the page a request names, then serve it from the
//! cache. Handlers take the whole request rather than extractors that copy (headers, path
//! segments): the hot path allocates only the response.

use crate::cache::{Key, Page};
use crate::render::{HTML, index_html};
use crate::state::Web;
use crate::views::{Layout, NotFoundPage};
use crate::visitor;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::response::IntoResponse;
use downbeat_api::ApiError;
use downbeat_api::statuspage::Endpoint;
use std::sync::Arc;

type Res = Response<Body>;

/// An HTML 404 in the pages' frame.
pub fn not_found(web: &Web, message: impl Into<String>) -> Res {
    let page = NotFoundPage {
        layout: Layout {
            title: "Not found · Downbeat".into(),
            description: "This page does not exist.".into(),
            css: &web.css_path,
        },
        message: message.into(),
    };
    (StatusCode::NOT_FOUND, page).into_response()
}

/// Serves the page of the service named in the path, built by `page`.
fn service_page(web: &Arc<Web>, req: &Request, page: fn(usize) -> Page) -> Res {
    match web.service_in(req.uri().path()) {
        Some(i) => web.serve(Key::plain(page(i)), req.headers()),
        None => not_found(web, "There is no such service."),
    }
}

pub async fn service(State(web): State<Arc<Web>>, req: Request) -> Res {
    let Some(i) = web.service_in(req.uri().path()) else {
        return not_found(&web, "There is no such service.");
    };
    // Where posting a comment leads: the page with its thank-you line (the same for every
    // visitor who just commented, so it is cached like the page).
    if req.uri().query() == Some(crate::comment::SENT_QUERY)
        && web.model(i).service.comments.is_on()
    {
        return web.serve(Key::plain(Page::CommentSent(i)), req.headers());
    }
    // A visitor whose country has its own verdict gets the variant with that line; anyone
    // else gets the page everybody gets.
    let country =
        visitor::country(req.headers()).filter(|c| web.model(i).regional_for(*c).is_some());
    web.serve(
        Key {
            page: Page::Service(i),
            country,
        },
        req.headers(),
    )
}

pub async fn index(State(web): State<Arc<Web>>, req: Request) -> Res {
    let q = req
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "q").map(|(_, v)| v))
        .unwrap_or_default();
    if q.trim().is_empty() {
        return web.serve(Key::plain(Page::Index), req.headers());
    }
    // Searches are rendered per request from the in-memory models (no store access); they
    // are rare next to the plain front page, and their keys are unbounded.
    let q: String = q.chars().take(100).collect();
    match index_html(&web, &q) {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(HTML)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(crate::encoded::PAGE_CACHE_CONTROL),
                ),
            ],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the search failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub async fn incidents(State(web): State<Arc<Web>>, req: Request) -> Res {
    service_page(&web, &req, Page::Incidents)
}

/// A published incident's page; unknown ids (and drafts) are 404 and never cached.
pub async fn incident(State(web): State<Arc<Web>>, req: Request) -> Res {
    let Some(i) = web.service_in(req.uri().path()) else {
        return not_found(&web, "There is no such service.");
    };
    let id = req
        .uri()
        .path()
        .rsplit('/')
        .next()
        .and_then(|s| s.parse::<i64>().ok());
    match id {
        Some(id) if crate::incident_views::find(&web.model(i), id).is_some() => {
            web.serve(Key::plain(Page::Incident(i, id)), req.headers())
        }
        _ => not_found(&web, "There is no such incident."),
    }
}

pub async fn service_feed(State(web): State<Arc<Web>>, req: Request) -> Res {
    service_page(&web, &req, Page::ServiceFeed)
}

pub async fn badge(State(web): State<Arc<Web>>, req: Request) -> Res {
    service_page(&web, &req, Page::Badge)
}

pub async fn feed(State(web): State<Arc<Web>>, req: Request) -> Res {
    web.serve(Key::plain(Page::Feed), req.headers())
}

/// A Statuspage API document, site-wide or of the service in the path: from the cache like
/// every page, readable by scripts on any site (public data, no credentials). An unknown
/// service is a JSON 404, as the API answers.
pub fn statuspage(web: &Arc<Web>, req: &Request, site: bool, endpoint: Endpoint) -> Res {
    let service = if site {
        Ok(None)
    } else {
        web.service_in(req.uri().path()).map(Some).ok_or(())
    };
    let mut res = match service {
        Ok(service) => web.serve(
            Key::plain(Page::Statuspage(service, endpoint)),
            req.headers(),
        ),
        Err(()) => ApiError::NotFound("There is no such service.".into()).into_response(),
    };
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

/// A browser's CORS preflight before a Statuspage API read with headers of its own: any
/// origin may GET, with whatever headers it asked for (nothing there needs credentials).
pub async fn statuspage_preflight(req: Request) -> Res {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Access-Control-Request-Headers"),
    );
    res
}

/// The stylesheet and the live-refresh script under their content hashes; any other name
/// is gone.
pub async fn asset(State(web): State<Arc<Web>>, req: Request) -> Res {
    let path = req.uri().path();
    if path == web.css_path {
        web.css.respond(req.headers(), StatusCode::OK)
    } else if path == web.js_path {
        web.js.respond(req.headers(), StatusCode::OK)
    } else {
        not_found(&web, "There is no such file.")
    }
}
