//! How a request reached us (HTTPS or loopback), the cookies, and sessions in the store.
//!
//! **Secure cookies.** Downbeat does not terminate TLS itself; HTTPS means a reverse proxy
//! listed in `server.trusted_proxies` that says `X-Forwarded-Proto: https`. Then the cookies
//! are `Secure` and named with the `__Host-` prefix (so no subdomain or plain-HTTP page can
//! plant or overwrite them). Over plain HTTP a browser would drop a `Secure` cookie, so there
//! the cookies are plain-named and not `Secure` — and plain HTTP is served only to loopback
//! clients that reach us directly — a loopback TCP peer sending no forwarding header (a
//! browser on the same machine, an SSH tunnel, the tests). Anyone else reaching
//! `/admin` over plain HTTP gets a page asking for HTTPS, so a password or a session cookie
//! never crosses a network in the clear.
//!
//! **Sessions.** The cookie holds 32 random bytes (hex); the store keeps only their SHA-256
//! (a stolen database holds no usable session) with the user, a per-session CSRF token and
//! an absolute expiry of [`SESSION_TTL_MS`]. Signing in always makes a new session (no
//! fixation); signing out deletes it.

use axum::http::{HeaderMap, HeaderValue, header};
use downbeat_api::App;
use downbeat_api::auth::{Role, hex, secret_hash};
use downbeat_store::{Hash32, SessionRow, StoreError};
use std::net::{IpAddr, SocketAddr};

/// A session lasts this long from sign-in, however active.
pub const SESSION_TTL_MS: i64 = 12 * 3_600_000;
/// The sign-in form's token is good this long.
pub const LOGIN_TTL_S: i64 = 3_600;

const SESSION_SECURE: &str = "__Host-downbeat-session";
const SESSION_PLAIN: &str = "downbeat-session";
const LOGIN_SECURE: &str = "__Host-downbeat-login";
const LOGIN_PLAIN: &str = "downbeat-login";

/// Headers a proxy adds: their presence means the request did not come straight from a
/// browser on this machine, whatever address they name.
const FORWARDING: [&str; 5] = [
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "x-real-ip",
];

/// How the request reached us.
#[derive(Debug, Clone)]
pub struct Transport {
    /// Over HTTPS (a trusted proxy said `X-Forwarded-Proto: https`).
    pub secure: bool,
    /// Straight from this machine: a loopback TCP peer and no forwarding header at all.
    pub local: bool,
    /// The client's address (behind trusted proxies, the one they forwarded).
    pub client: IpAddr,
    /// What a same-origin `Origin` header looks like: `https://status.example.com`.
    pub origin: Option<String>,
}

impl Transport {
    pub fn of(app: &App, peer: SocketAddr, headers: &HeaderMap) -> Transport {
        let trusted = &app.config.load().server.trusted_proxies;
        let peer_ip = peer.ip().to_canonical();
        let via_proxy = trusted.iter().any(|n| n.contains(&peer_ip));
        let forwarded = |name: &str| {
            via_proxy
                .then(|| headers.get(name)?.to_str().ok())
                .flatten()
                // The proxy nearest to us appended last.
                .and_then(|v| v.rsplit(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let secure =
            forwarded("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"));
        let host = forwarded("x-forwarded-host").or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| !h.is_empty())
        });
        let scheme = if secure { "https" } else { "http" };
        let local = peer_ip.is_loopback() && FORWARDING.iter().all(|h| !headers.contains_key(*h));
        Transport {
            secure,
            local,
            client: downbeat_intake::client_ip(peer_ip, headers, trusted),
            origin: host.map(|h| format!("{scheme}://{}", h.to_ascii_lowercase())),
        }
    }

    /// HTTPS, or a browser on this machine talking to us directly. The exemption rests on
    /// the TCP peer alone: an address a proxy forwards (which a client may have written
    /// itself) never earns plain HTTP.
    pub fn acceptable(&self) -> bool {
        self.secure || self.local
    }

    pub fn session_cookie(&self) -> &'static str {
        if self.secure {
            SESSION_SECURE
        } else {
            SESSION_PLAIN
        }
    }

    pub fn login_cookie(&self) -> &'static str {
        if self.secure {
            LOGIN_SECURE
        } else {
            LOGIN_PLAIN
        }
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/ (the `__Host-` prefix needs
    /// it), Secure over HTTPS. `max_age_s` 0 deletes the cookie.
    pub fn set_cookie(&self, name: &str, value: &str, max_age_s: i64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}"
        ))
        .expect("cookie names and hex values are valid header text")
    }
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    pub csrf: String,
    pub id_hash: Hash32,
}

/// A new random secret: 32 bytes as hex.
pub fn new_secret() -> String {
    hex(&rand::random::<[u8; 32]>())
}

/// The session behind the request's cookie: unexpired, of a user who still exists with a
/// person's role (a role change takes effect at once; a deleted user is signed out).
pub async fn current(
    app: &App,
    transport: &Transport,
    headers: &HeaderMap,
) -> Result<Option<Session>, StoreError> {
    // Over HTTPS only the `__Host-` cookie counts: a plain-named one could have been planted
    // by a subdomain or a plain-HTTP page.
    let Some(secret) = cookie(headers, transport.session_cookie()) else {
        return Ok(None);
    };
    if secret.len() != 64 {
        return Ok(None);
    }
    let now_ms = app.clock.now().as_millisecond();
    let id_hash = secret_hash(secret);
    let Some(row) = app.store.session(id_hash, now_ms).await? else {
        return Ok(None);
    };
    let Some(user) = app.store.user(&row.user).await? else {
        return Ok(None);
    };
    // A person signs in; an agent's role is for tokens only.
    let role = match user.role {
        r @ (Role::Viewer | Role::Editor | Role::Admin) => r,
        Role::Agent | Role::Signal | Role::Deployer | Role::Integration => return Ok(None),
    };
    Ok(Some(Session {
        user: user.name,
        role,
        csrf: row.csrf,
        id_hash,
    }))
}

/// Stores a new session for `user`; returns the cookie's secret value.
pub async fn start(app: &App, user: &str) -> Result<String, StoreError> {
    let secret = new_secret();
    let now_ms = app.clock.now().as_millisecond();
    app.store
        .insert_session(SessionRow {
            id_hash: secret_hash(&secret),
            user: user.to_owned(),
            csrf: new_secret(),
            created_ms: now_ms,
            expires_ms: now_ms + SESSION_TTL_MS,
        })
        .await?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; downbeat-session=abc ; b=2"),
        );
        assert_eq!(cookie(&h, "downbeat-session"), Some("abc"));
        assert_eq!(cookie(&h, "session"), None);
        assert_eq!(cookie(&h, "c"), None);
    }
}
