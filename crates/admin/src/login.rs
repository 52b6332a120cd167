//! Signing in and out.
//!
//! The sign-in form has its own CSRF token before any session exists: a random value in a
//! short-lived cookie and in the form, which must match (so another site cannot sign a
//! browser in to an account of its choosing).
//!
//! Attempts are limited per client address ([`crate::throttle`]) before any password is
//! hashed, and per user: every [`MAX_FAILURES`] consecutive failures lock the user for
//! [`LOCK_MS`], during which even the right password is refused. An unknown user, a wrong
//! password and a locked user get the same words and take the same time (a decoy hash is
//! verified), so the answer never tells whether a user exists.

use crate::Admin;
use crate::error::AdminError;
use crate::guard::{Ctx, Fields, check_token};
use crate::session::{self, LOGIN_TTL_S, new_secret};
use crate::views::{Layout, LoginPage, html};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use downbeat_api::auth::{Role, verify_password};
use downbeat_store::{StoreError, UserRow};
use serde::Deserialize;
use std::sync::Arc;

/// Consecutive failed sign-ins that lock a user...
pub const MAX_FAILURES: i64 = 5;
/// ...for this long.
pub const LOCK_MS: i64 = 15 * 60_000;
/// Longer passwords are refused without hashing.
const MAX_PASSWORD_BYTES: usize = 1024;

const REFUSED: &str = "Wrong user name or password — or too many failed attempts, in which \
                       case signing in is locked for a while. Try again later.";

#[derive(Debug, Default, Deserialize)]
struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// Where to go after signing in: an admin path of this site, nothing else.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/admin")
                && !n.starts_with("/admin/login")
                && !n.starts_with("/admin/logout")
                && n.len() <= 500
                && !n.contains("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/admin".to_owned(),
    }
}

/// `next` as a query value.
pub fn encode_next(next: &str) -> String {
    serde_urlencoded::to_string([("next", next)])
        .unwrap_or_default()
        .trim_start_matches("next=")
        .to_owned()
}

fn login_page(
    status: StatusCode,
    token: &str,
    next: &str,
    user: &str,
    error: Option<String>,
    notice: Option<&'static str>,
) -> Response {
    html(
        status,
        &LoginPage {
            layout: Layout::bare("Sign in"),
            csrf: token.to_owned(),
            next: next.to_owned(),
            user: user.to_owned(),
            error,
            notice,
        },
    )
}

/// `GET /admin/login`
pub async fn form(ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    let q: LoginQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    let next = safe_next(q.next.as_deref());
    if ctx.session.is_some() {
        return Redirect::to(&next).into_response();
    }
    let token = ctx
        .login_token
        .clone()
        .filter(|t| t.len() == 64)
        .unwrap_or_else(new_secret);
    let notice = match q.done.as_deref() {
        Some("signed-out") => Some("You are signed out."),
        _ => None,
    };
    let mut resp = login_page(StatusCode::OK, &token, &next, "", None, notice);
    let cookie = ctx
        .transport
        .set_cookie(ctx.transport.login_cookie(), &token, LOGIN_TTL_S);
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    resp
}

/// `POST /admin/login`
pub async fn submit(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    form: Fields,
) -> Result<Response, AdminError> {
    let next = safe_next(form.get("next"));
    let name = form.text("user").trim().to_owned();
    let token = ctx.login_token.clone().unwrap_or_default();
    if let Err(wait) = admin.throttle.check(ctx.transport.client) {
        let secs = wait.as_secs().max(1);
        tracing::warn!(client = %ctx.transport.client, "sign-in attempts throttled");
        let mut resp = login_page(
            StatusCode::TOO_MANY_REQUESTS,
            &token,
            &next,
            &name,
            Some(format!(
                "Too many sign-in attempts from your address. Try again in {secs} seconds."
            )),
            None,
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Ok(resp);
    }
    ctx.check_origin()?;
    if ctx.login_token.is_none() {
        return Err(AdminError::Forbidden(
            "The sign-in form's security cookie is missing: it lasts an hour, and cookies \
             must be allowed for this site. Open the sign-in page again."
                .into(),
        ));
    }
    check_token(form.get("csrf"), &token)?;
    let password = form.text("password");
    match authenticate(&admin, &name, &password).await? {
        Some(user) => {
            let secret = session::start(&admin.app, &user).await?;
            tracing::info!(user = %user, client = %ctx.transport.client, "signed in");
            let t = &ctx.transport;
            let mut resp = Redirect::to(&next).into_response();
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                t.set_cookie(t.session_cookie(), &secret, session::SESSION_TTL_MS / 1000),
            );
            h.append(header::SET_COOKIE, t.set_cookie(t.login_cookie(), "", 0));
            Ok(resp)
        }
        None => Ok(login_page(
            StatusCode::FORBIDDEN,
            &token,
            &next,
            &name,
            Some(REFUSED.to_owned()),
            None,
        )),
    }
}

fn person(u: &UserRow) -> bool {
    matches!(u.role, Role::Viewer | Role::Editor | Role::Admin)
}

/// The user's name if `password` is theirs and they are not locked; records failures and
/// locks after [`MAX_FAILURES`] in a row. (Two attempts racing may count once: the address
/// throttle bounds how much that helps a guesser.)
async fn authenticate(
    admin: &Admin,
    name: &str,
    password: &str,
) -> Result<Option<String>, StoreError> {
    let app = &admin.app;
    let now_ms = app.clock.now().as_millisecond();
    let user = if name.is_empty() || name.len() > 64 {
        None
    } else {
        app.store.user(name).await?
    };
    let usable = user.as_ref().filter(|u| {
        person(u)
            && u.locked_until_ms.is_none_or(|t| t <= now_ms)
            && password.len() <= MAX_PASSWORD_BYTES
    });
    let hash = usable.map_or_else(|| admin.decoy_hash.clone(), |u| u.password_hash.clone());
    let attempt: String = password.chars().take(MAX_PASSWORD_BYTES).collect();
    // argon2 is deliberately slow: keep it off the async workers.
    let matches = tokio::task::spawn_blocking(move || verify_password(&attempt, &hash))
        .await
        .unwrap_or(false);
    let Some(mut u) = usable.cloned() else {
        if let Some(u) = &user {
            tracing::warn!(user = %u.name, "sign-in refused: user locked or not a person");
        }
        return Ok(None);
    };
    if matches {
        if u.failed_logins != 0 || u.locked_until_ms.is_some() {
            u.failed_logins = 0;
            u.locked_until_ms = None;
            app.store.save_user(u.clone()).await?;
        }
        return Ok(Some(u.name));
    }
    u.failed_logins += 1;
    if u.failed_logins % MAX_FAILURES == 0 {
        u.locked_until_ms = Some(now_ms + LOCK_MS);
        tracing::warn!(user = %u.name, failures = u.failed_logins, "user locked after failed sign-ins");
    }
    app.store.save_user(u).await?;
    Ok(None)
}

/// `POST /admin/logout`
pub async fn logout(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    form: Fields,
) -> Result<Response, AdminError> {
    if ctx.session.is_none() {
        return Ok(Redirect::to("/admin/login").into_response());
    }
    let s = ctx.check_post(&form, Role::Viewer)?;
    admin.app.store.delete_session(s.id_hash).await?;
    tracing::info!(user = %s.user, "signed out");
    let mut resp = Redirect::to("/admin/login?done=signed-out").into_response();
    let t = &ctx.transport;
    resp.headers_mut()
        .append(header::SET_COOKIE, t.set_cookie(t.session_cookie(), "", 0));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admin_paths_are_followed_after_signing_in() {
        assert_eq!(safe_next(Some("/admin/incidents/3")), "/admin/incidents/3");
        assert_eq!(
            safe_next(Some("/admin/s/melodia?x=1")),
            "/admin/s/melodia?x=1"
        );
        for bad in [
            "https://evil.example/admin",
            "//evil.example",
            "/admin//evil",
            "/admin\\..",
            "/s/melodia",
            "/admin/login?next=/x",
            "/admin/logout",
        ] {
            assert_eq!(safe_next(Some(bad)), "/admin", "{bad}");
        }
        assert_eq!(safe_next(None), "/admin");
        assert_eq!(
            encode_next("/admin/s/a b?x=1"),
            "%2Fadmin%2Fs%2Fa+b%3Fx%3D1"
        );
    }
}
