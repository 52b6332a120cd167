//! Signing in and out.
//!
//! The sign-in form has its own CSRF token before any session exists: a random value in a
//! short-lived cookie and in the form, which must match (so another site cannot sign a
//! browser in to an account of its choosing).
//!
//! Attempts are limited per client address ([`crate::throttle`]) before any password is
//! hashed, and per user and client address: every [`MAX_FAILURES`] failures from one
//! address (since the last success from there) lock the user *from that address* for
//! [`LOCK_MS`], during which even the right password is refused from there. User names are
//! public (they sign incidents), so a lock for every address would let anyone lock the
//! operators out during an outage; locked per address, a flood locks only the flooder.
//! (An IPv6 client counts by its /64, which one host commonly has whole.) Guessing one
//! user from many addresses is bounded by each address's throttle and lock, and by the
//! bound on argon2 checks running at once ([`downbeat_api::auth::PasswordChecks`]).
//! Failures a day old that lock nothing are forgotten.
//!
//! An unknown user, a wrong password and a locked user get the same words and take the
//! same time (a decoy hash is verified), so the answer never tells whether a user exists.

use crate::Admin;
use crate::error::AdminError;
use crate::guard::{Ctx, Fields, check_token};
use crate::session::{self, LOGIN_TTL_S, new_secret};
use crate::views::{Layout, LoginPage, html};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use downbeat_api::auth::Role;
use downbeat_store::{LockPolicy, StoreError, UserRow};
use serde::Deserialize;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

/// Failed sign-ins from one client address that lock a user from there...
pub const MAX_FAILURES: i64 = 5;
/// ...for this long.
pub const LOCK_MS: i64 = 15 * 60_000;
/// Failures this old that lock nothing are forgotten.
pub const FORGET_MS: i64 = 86_400_000;
const LOCK: LockPolicy = LockPolicy {
    every: MAX_FAILURES,
    for_ms: LOCK_MS,
    forget_ms: FORGET_MS,
};
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
    match authenticate(&admin, &name, &password, ctx.transport.client).await? {
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

/// Whom sign-in failures from `ip` count against: the address, or for IPv6 its /64.
pub fn client_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{prefix}/64")
        }
    }
}

/// The user's name if `password` is theirs and they are not locked from `client`; records
/// failures and locks the user from `client` every [`MAX_FAILURES`] of them.
pub async fn authenticate(
    admin: &Admin,
    name: &str,
    password: &str,
    client: IpAddr,
) -> Result<Option<String>, StoreError> {
    let app = &admin.app;
    let now_ms = app.clock.now().as_millisecond();
    let from = client_key(client);
    let user = if name.is_empty() || name.len() > 64 {
        None
    } else {
        app.store.user(name).await?
    };
    let locked = match &user {
        Some(u) => app
            .store
            .login_failure(&u.name, &from)
            .await?
            .is_some_and(|f| f.locked_at(now_ms)),
        None => false,
    };
    let usable = user
        .as_ref()
        .filter(|u| person(u) && !locked && password.len() <= MAX_PASSWORD_BYTES);
    let hash = usable.map_or_else(|| admin.decoy_hash.clone(), |u| u.password_hash.clone());
    let attempt: String = password.chars().take(MAX_PASSWORD_BYTES).collect();
    // argon2 is deliberately slow: off the async workers, and a bounded few at once.
    let matches = admin.passwords.verify(attempt, hash).await;
    let Some(u) = usable else {
        if let Some(u) = &user {
            tracing::warn!(user = %u.name, client = %from,
                "sign-in refused: locked from this address, or not a person");
        }
        return Ok(None);
    };
    if matches {
        app.store.clear_login_failures(&u.name, &from).await?;
        return Ok(Some(u.name.clone()));
    }
    let f = app
        .store
        .record_login_failure(&u.name, &from, now_ms, LOCK)
        .await?;
    if f.failures % MAX_FAILURES == 0 {
        tracing::warn!(user = %u.name, client = %from, failures = f.failures,
            "user locked from this address after failed sign-ins");
    }
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

    #[test]
    fn failures_count_per_address_and_per_ipv6_64() {
        let key = |s: &str| client_key(s.parse().unwrap());
        assert_eq!(key("198.51.100.7"), "198.51.100.7");
        assert_eq!(key("::ffff:198.51.100.7"), "198.51.100.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::9"), key("2001:db8:1:2:aaaa::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
    }
}
