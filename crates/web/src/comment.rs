//! `POST /s/{service}/comments`: the comment form of the service page (no JavaScript, no
//! account, no cookie). A comment is never a report: nothing here counts, and neither the
//! report counts nor the verdicts ever read comments.
//!
//! The checks, in order: the service takes comments (else 404); the post came from this
//! site ([`crate::origin`], 403); the body is small (413) and its fields are UTF-8 (422
//! naming the field); it carries a current form token, the report form's
//! ([`downbeat_intake::form_token`], 403); the text is a [`CommentText`] (422 naming
//! `comment`); the client has not posted [`PER_WINDOW`] comments on this service in the
//! last 10 minutes ([`crate::comment_limit`], 429 with `Retry-After`); its network is not
//! paused by a moderator (403). Each refusal shows the form again with what was typed.
//!
//! Then the comment is stored, pending (`premoderated`) or shown (`open`), and the answer
//! is a 303 to the page's thank-you variant ([`SENT_QUERY`]). A shown comment moves the
//! service's generation and this node's pages are reloaded before the answer, so the
//! visitor finds it there; other nodes show it at their next reload (within a minute, when
//! the model's minute moves: comments are not on the change feed).

use crate::comment_limit::PER_WINDOW;
use crate::handlers::not_found;
use crate::origin::{self, Foreign};
use crate::report::{TOKEN_FIELD, form_pairs};
use crate::state::Web;
use crate::views::{CommentPage, CommentsView, Layout};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use downbeat_domain::{CommentState, CommentText};
use downbeat_intake::{FormTokenError, client_ip};
use downbeat_store::{NewComment, StoreError};
use std::net::SocketAddr;
use std::sync::Arc;

/// The query of the page a comment leads back to: the page with its thank-you line.
pub const SENT_QUERY: &str = "comment=sent";
/// The form's text field.
pub const FIELD: &str = "comment";
/// Largest body taken: 280 characters of up to 4 bytes, percent-encoded (3 characters a
/// byte), the token and the field names fit several times over.
const MAX_BODY: usize = 8 * 1024;
/// How much of a refused text is shown again in the form.
const SHOWN_AGAIN_CHARS: usize = 1_000;

/// Why a comment was not taken, in the visitor's words.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error(
        "This comment was sent from another site{}, not from this page, so it was refused. \
         If you meant to comment, use the form below.",
        match .0 { Foreign::OtherSite(Some(o)) => format!(" ({o})"), _ => String::new() }
    )]
    Foreign(Foreign),
    #[error(
        "This comment did not come from this site's form (its form token is missing or \
         wrong), so it was refused. If you meant to comment, use the form below."
    )]
    NotOurForm,
    #[error(
        "This form was open too long (its form token has expired), so the comment was not \
         saved. Please send it again below."
    )]
    Expired,
    #[error("The comment is too long to be read (at most {MAX_BODY} bytes are taken).")]
    TooLarge,
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(
        "You have posted {PER_WINDOW} comments in the last 10 minutes. Please try again in \
         {retry_after_s} s."
    )]
    RateLimited { retry_after_s: u64 },
    #[error("Comments from your network are paused for a day.")]
    Paused,
    #[error("Comments cannot be saved right now. Please try again in a minute.")]
    Unavailable,
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::Foreign(_) | Refusal::NotOurForm | Refusal::Expired | Refusal::Paused => {
                StatusCode::FORBIDDEN
            }
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error taking a comment");
        Refusal::Unavailable
    }
}

impl From<FormTokenError> for Refusal {
    fn from(e: FormTokenError) -> Self {
        match e {
            FormTokenError::Missing | FormTokenError::Invalid => Refusal::NotOurForm,
            FormTokenError::Expired => Refusal::Expired,
            FormTokenError::Store(e) => e.into(),
        }
    }
}

pub async fn submit(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let Some(i) = web.service_in(parts.uri.path()) else {
        return not_found(&web, "There is no such service.");
    };
    let model_i = web.model(i);
    let service = &model_i.service;
    let Some(state) = service.comments.first_state() else {
        return not_found(&web, "This service does not take comments.");
    };
    let now = web.app.clock.now();
    let now_ms = now.as_millisecond();
    let model = web.model(i);
    let Some(mut form) = CommentsView::new(&model, now) else {
        return not_found(&web, "This service does not take comments.");
    };
    form.rows.clear();
    let config = web.app.config.get();
    let trusted = &config.server.trusted_proxies;
    if let Err(foreign) = origin::check(peer.ip(), &parts.headers, trusted) {
        tracing::info!(service = %service.id, refused = ?foreign, "a comment form posted from another site");
        return refused(&web, i, form, Refusal::Foreign(foreign));
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return refused(&web, i, form, Refusal::TooLarge);
    };
    let pairs = match form_pairs(&bytes, &[FIELD]) {
        Ok(pairs) => pairs,
        Err(field) => {
            let e = Refusal::Invalid {
                field,
                message: "is not valid UTF-8 text".into(),
            };
            return refused(&web, i, form, e);
        }
    };
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let typed = field(FIELD).unwrap_or_default();
    form.text = typed.chars().take(SHOWN_AGAIN_CHARS).collect();
    if let Err(e) = web
        .app
        .intake
        .salts
        .check_form_token(service.id.as_str(), field(TOKEN_FIELD), now_ms)
        .await
    {
        return refused(&web, i, form, e.into());
    }
    let text = match CommentText::parse(typed) {
        Ok(t) => t,
        Err(e) => {
            let e = Refusal::Invalid {
                field: FIELD,
                message: e.to_string(),
            };
            return refused(&web, i, form, e);
        }
    };
    let ip = client_ip(peer.ip(), &parts.headers, trusted);
    if let Err(retry_after_s) = web.comment_limit.check(i, ip, now_ms) {
        return refused(&web, i, form, Refusal::RateLimited { retry_after_s });
    }
    if let Err(e) = take(&web, i, ip, text, state, now_ms).await {
        return refused(&web, i, form, e);
    }
    if state == CommentState::Shown {
        // The page shows it from the reloaded model; the API's cached answers follow the
        // generation too (harmlessly: comments change none of them).
        web.app.intake.generations.bump(service.id.as_str());
        web.refresh().await;
    }
    tracing::info!(service = %service.id, state = state.as_str(), "comment taken");
    let mut res = Redirect::to(&format!("/s/{}?{SENT_QUERY}#comments", service.id)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Stores the comment unless the client's network is paused on this service (under
/// today's salt, or yesterday's: a pause made from yesterday's comment).
async fn take(
    web: &Web,
    i: usize,
    ip: std::net::IpAddr,
    text: CommentText,
    state: CommentState,
    now_ms: i64,
) -> Result<(), Refusal> {
    let model_i = web.model(i);
    let service = model_i.service.id.as_str();
    let salts = &web.app.intake.salts;
    let store = &web.app.store;
    let (today, yesterday) = salts.network_hashes(ip, now_ms).await?;
    for network in std::iter::once(today).chain(yesterday) {
        if store.network_banned(service, network, now_ms).await? {
            return Err(Refusal::Paused);
        }
    }
    // No dedupe window: a comment's client hash is today's.
    let hashes = salts.hashes(service, ip, now_ms, 0).await?;
    store
        .insert_comment(NewComment {
            service: service.to_owned(),
            created_ms: now_ms,
            text: text.into_string(),
            client_hash: hashes.client,
            network_hash: hashes.network,
            state,
        })
        .await?;
    Ok(())
}

/// The comment form again, with what went wrong and what was typed, under its status.
fn refused(web: &Web, i: usize, mut form: CommentsView, e: Refusal) -> Response<Body> {
    let model_i = web.model(i);
    let service = &model_i.service;
    let status = e.status();
    form.error = Some(e.to_string());
    let page = CommentPage {
        layout: Layout {
            title: format!("Comment on {}", service.name),
            description: format!("Comment on {}.", service.name),
            css: &web.css_path,
        },
        id: service.id.as_str(),
        name: &service.name,
        discussion: form,
    };
    let mut res = (status, page).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match e {
        Refusal::RateLimited { retry_after_s } => {
            h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
        }
        Refusal::Unavailable => {
            h.insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        _ => {}
    }
    res
}
