//! `GET /admin/s/{service}/comments`: the moderation queue of a service's community
//! comments — those awaiting approval first (oldest first), then the recent shown and
//! hidden ones — and `POST` the same path: approve, hide, or pause the comment's network
//! for a day. Any signed-in user reads; changes need an editor.
//!
//! A change that alters what the public page shows moves the service's generation, so this
//! node's pages reload at their next tick (within a second); other nodes' pages follow
//! within a minute (their models reload every minute; comments are not on the change
//! feed).

use crate::Admin;
use crate::error::AdminError;
use crate::guard::{Ctx, Fields};
use crate::views::{Layout, html, when};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use downbeat_api::auth::Role;
use downbeat_config::ServiceRef;
use downbeat_domain::{CommentMode, CommentState};
use downbeat_store::{CommentRow, DAY_MS};
use std::sync::Arc;

/// Comments awaiting approval listed at once (the oldest).
const QUEUE: u32 = 100;
/// Shown and hidden comments listed (the newest).
const RECENT: u32 = 50;
/// How long a network is paused.
pub const PAUSE_MS: i64 = DAY_MS;

/// A comment with what an operator may do with it.
pub struct CommentLine {
    pub id: i64,
    /// Untrusted text: the template escapes it.
    pub text: String,
    pub posted: String,
    pub state: &'static str,
    pub shown: bool,
    pub hidden: bool,
    /// "by ana, 2026-11-22 08:12 UTC".
    pub moderated: Option<String>,
}

impl CommentLine {
    fn of(c: CommentRow) -> CommentLine {
        CommentLine {
            id: c.id,
            posted: at(c.created_ms),
            state: c.state.label(),
            shown: c.state == CommentState::Shown,
            hidden: c.state == CommentState::Hidden,
            moderated: c
                .moderated_by
                .map(|by| format!("by {by}, {}", c.moderated_ms.map(at).unwrap_or_default())),
            text: c.text,
        }
    }
}

#[derive(Template)]
#[template(path = "comments.html")]
pub struct CommentsPage {
    pub layout: Layout,
    pub service_id: String,
    pub service_name: String,
    pub mode: &'static str,
    pub can_edit: bool,
    pub csrf: String,
    pub notice: Option<&'static str>,
    pub pending: Vec<CommentLine>,
    pub recent: Vec<CommentLine>,
}

fn at(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(when)
        .unwrap_or_default()
}

/// The service, if it takes comments.
fn commented(admin: &Admin, id: &str) -> Result<ServiceRef, AdminError> {
    let shown: String = id.chars().take(64).collect();
    match admin.app.config.service(id) {
        None => Err(AdminError::NotFound(format!(
            "There is no service {shown:?}."
        ))),
        Some(s) if !s.comments.is_on() => Err(AdminError::NotFound(format!(
            "{} does not take comments (set comments = \"premoderated\" or \"open\" in its \
             [[service]] table).",
            s.name
        ))),
        Some(s) => Ok(s),
    }
}

fn notice(raw: Option<&str>) -> Option<&'static str> {
    let q: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or_default()).ok()?;
    let done = q.iter().find(|(k, _)| k == "done")?.1.as_str();
    Some(match done {
        "approved" => "Approved: the comment is on the public page.",
        "hidden" => "Hidden: the comment is off the public page.",
        "paused" => {
            "Paused: comments from that network are refused for a day, and the comment is hidden."
        }
        _ => return None,
    })
}

/// `GET /admin/s/{service}/comments`.
pub async fn page(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    let svc = commented(&admin, &id)?;
    let store = &admin.app.store;
    let id = svc.id.as_str();
    let pending = store.pending_comments(id, QUEUE).await?;
    let recent = store.moderated_comments(id, RECENT).await?;
    Ok(html(
        StatusCode::OK,
        &CommentsPage {
            layout: Layout::of(format!("{} — comments", svc.name), s),
            service_id: id.to_owned(),
            service_name: svc.name.clone(),
            mode: match svc.comments {
                CommentMode::Premoderated => {
                    "Premoderated: a comment appears on the public page once an editor approves it."
                }
                CommentMode::Open | CommentMode::Off => {
                    "Open: comments appear on the public page at once; editors may hide them."
                }
            },
            can_edit: s.role.allows(Role::Editor),
            csrf: s.csrf.clone(),
            notice: notice(raw.as_deref()),
            pending: pending.into_iter().map(CommentLine::of).collect(),
            recent: recent.into_iter().map(CommentLine::of).collect(),
        },
    ))
}

/// `POST /admin/s/{service}/comments`: `id` and `action` — `approve` (shown), `hide`, or
/// `pause` (the comment's network may not comment on this service for a day, and the
/// comment is hidden). Editors and admins.
pub async fn moderate(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, AdminError> {
    let s = ctx.check_post(&form, Role::Editor)?;
    let svc = commented(&admin, &id)?;
    let service = svc.id.as_str();
    let comment_id = form
        .text("id")
        .parse::<i64>()
        .map_err(|_| AdminError::BadRequest("Which comment? The form names none.".into()))?;
    let store = &admin.app.store;
    let comment = store
        .comment(service, comment_id)
        .await?
        .ok_or_else(|| AdminError::NotFound("There is no such comment.".into()))?;
    let now_ms = admin.app.clock.now().as_millisecond();
    let (state, done) = match form.text("action").as_str() {
        "approve" => (CommentState::Shown, "approved"),
        "hide" => (CommentState::Hidden, "hidden"),
        "pause" => {
            // The stored network hash is keyed by the salt of the comment's day; requests
            // are matched under today's and yesterday's salts, so the pause cannot reach
            // past the end of the day after the comment's.
            let comment_day = comment.created_ms.div_euclid(DAY_MS);
            let until_ms = (now_ms + PAUSE_MS).min((comment_day + 2) * DAY_MS);
            if until_ms <= now_ms {
                return Err(AdminError::BadRequest(format!(
                    "This comment was posted {}: its network can no longer be told from its \
                     hash (hashes are keyed by a salt that changes every day), so it cannot \
                     be paused. Hide the comment instead.",
                    at(comment.created_ms)
                )));
            }
            store
                .ban_network(service, comment.network_hash, until_ms, &s.user)
                .await?;
            tracing::info!(service, user = %s.user, comment = comment_id, until_ms, "network paused from commenting");
            (CommentState::Hidden, "paused")
        }
        _ => {
            return Err(AdminError::BadRequest(
                "What should happen to the comment? Approve, hide or pause its network.".into(),
            ));
        }
    };
    store
        .moderate_comment(comment_id, service, state, &s.user, now_ms)
        .await?;
    if state != comment.state {
        // The pages (and the API's cached answers) follow the service's generation.
        admin.app.intake.generations.bump(service);
    }
    tracing::info!(service, user = %s.user, comment = comment_id, state = state.as_str(), "comment moderated");
    Ok(Redirect::to(&format!("/admin/s/{service}/comments?done={done}")).into_response())
}
