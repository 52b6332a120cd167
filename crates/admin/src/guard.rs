//! What every admin request passes: [`Ctx`] (HTTPS or loopback, and who is signed in) and,
//! for every POST, [`Ctx::check_post`]: a session, a same-origin `Origin`/`Referer` when the
//! browser sends one, the session's CSRF token compared in constant time, and a role that
//! allows the change — in that order, each refusal a 403 page saying which.

use crate::Admin;
use crate::error::AdminError;
use crate::session::{self, Session, Transport};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use downbeat_api::auth::Role;
use std::net::SocketAddr;
use std::sync::Arc;

/// Forms are small, but a post-mortem may be 100 KB, and URL encoding can triple that.
pub const FORM_LIMIT: usize = 512 * 1024;

/// The request's transport, session, and what the POST checks need.
pub struct Ctx {
    pub transport: Transport,
    pub session: Option<Session>,
    /// Path and query, to come back to after signing in.
    pub path: String,
    /// The sign-in form's token cookie, if the browser holds one.
    pub login_token: Option<String>,
    origin: Option<String>,
    referer: Option<String>,
}

impl FromRequestParts<Arc<Admin>> for Ctx {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, admin: &Arc<Admin>) -> Result<Ctx, AdminError> {
        // Without the connection's address (never the case under `serve_app`), assume the
        // worst: a remote client.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
        let transport = Transport::of(&admin.app, peer, &parts.headers);
        if !transport.acceptable() {
            return Err(AdminError::Insecure);
        }
        let session = session::current(&admin.app, &transport, &parts.headers).await?;
        let text = |h: &HeaderMap, name: header::HeaderName| {
            h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
        };
        Ok(Ctx {
            path: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/admin".to_owned(), |p| p.as_str().to_owned()),
            login_token: session::cookie(&parts.headers, transport.login_cookie())
                .map(str::to_owned),
            origin: text(&parts.headers, header::ORIGIN),
            referer: text(&parts.headers, header::REFERER),
            transport,
            session,
        })
    }
}

impl Ctx {
    /// The signed-in user (any role), or a redirect to the sign-in page.
    pub fn user(&self) -> Result<&Session, AdminError> {
        self.session.as_ref().ok_or_else(|| AdminError::SignIn {
            next: self.path.clone(),
        })
    }

    /// The checks of a POST that changes something; `needed` is the role it takes.
    pub fn check_post(&self, form: &Fields, needed: Role) -> Result<&Session, AdminError> {
        let Some(s) = &self.session else {
            return Err(AdminError::Forbidden(
                "You are not signed in (or your session has ended), so this form was not \
                 accepted. Sign in and send it again."
                    .into(),
            ));
        };
        self.check_origin()?;
        check_token(form.get("csrf"), &s.csrf)?;
        if !s.role.allows(needed) {
            return Err(AdminError::Forbidden(format!(
                "Your role ({}) lets you look but not change anything; this needs the {} role.",
                s.role, needed
            )));
        }
        Ok(s)
    }

    /// A browser says where a form came from; anything but this site is refused. (Absent
    /// headers are allowed: the CSRF token and SameSite=Strict cookies still apply.)
    pub fn check_origin(&self) -> Result<(), AdminError> {
        let expected = self.transport.origin.as_deref();
        let foreign = |seen: &str| {
            let shown: String = seen.chars().take(100).collect();
            AdminError::Forbidden(format!(
                "This form was sent from another site ({shown}), so it was refused. Use the \
                 admin pages of this site."
            ))
        };
        if let Some(origin) = &self.origin {
            if Some(origin.to_ascii_lowercase().as_str()) != expected {
                return Err(foreign(origin));
            }
        } else if let Some(referer) = &self.referer {
            let same = expected.is_some_and(|o| {
                let r = referer.to_ascii_lowercase();
                r == o || r.starts_with(&format!("{o}/"))
            });
            if !same {
                return Err(foreign(referer));
            }
        }
        Ok(())
    }
}

/// The form's CSRF token against the expected one: 403 with what is wrong.
pub fn check_token(sent: Option<&str>, expected: &str) -> Result<(), AdminError> {
    match sent {
        None | Some("") => Err(AdminError::Forbidden(
            "The form had no security (CSRF) token, so it was refused. Reload the page and \
             send the form again."
                .into(),
        )),
        Some(t) if same_secret(t, expected) => Ok(()),
        Some(_) => Err(AdminError::Forbidden(
            "The form's security (CSRF) token does not match your session, so it was refused. \
             Reload the page (you may have signed in again elsewhere) and send it again."
                .into(),
        )),
    }
}

/// Equality that takes the same time wherever the first difference is (the length is not
/// secret: every token is 64 hex digits).
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A URL-encoded form's fields, in order (repeated names allowed).
#[derive(Debug, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }

    /// Every value of a repeated field (checkboxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Fields whose name starts with `prefix`, the prefix cut off.
    pub fn prefixed<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0
            .iter()
            .filter_map(move |(k, v)| Some((k.strip_prefix(prefix)?, v.as_str())))
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = AdminError;

    async fn from_request(req: Request, _: &S) -> Result<Fields, AdminError> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(AdminError::UnsupportedMediaType(
                "Send the form as application/x-www-form-urlencoded, as browsers do.".into(),
            ));
        }
        let bytes = axum::body::to_bytes(req.into_body(), FORM_LIMIT)
            .await
            .map_err(|_| AdminError::TooLarge(FORM_LIMIT))?;
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .map(Fields)
            .map_err(|e| AdminError::BadRequest(format!("The form could not be read: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret("abcd", "abcd"));
        assert!(!same_secret("abcd", "abce"));
        assert!(!same_secret("abcd", "abc"));
        assert!(check_token(None, "abcd").is_err());
        assert!(check_token(Some(""), "abcd").is_err());
        assert!(check_token(Some("abcx"), "abcd").is_err());
        assert!(check_token(Some("abcd"), "abcd").is_ok());
    }
}
