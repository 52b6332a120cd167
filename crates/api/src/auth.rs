//! Who may change what: roles, API tokens, and password hashing for admin users.
//!
//! API tokens are 32 random bytes shown once (`dbt_` + hex); the store keeps only their
//! SHA-256, which is enough for secrets with that much entropy and lets a token be found by
//! its hash in one indexed lookup. Passwords are hashed with argon2id, and checked through
//! [`PasswordChecks`], which runs at most a bound of them at once.
//!
//! The JSON API authenticates with `Authorization: Bearer TOKEN` through the [`Principal`]
//! extractor: no or a malformed header, or an unknown or revoked token, is 401; a role too
//! weak for the action is 403 (from [`Principal::require`]), and so is an agent's region
//! the token does not name ([`Principal::require_region`]).

use crate::ApiError;
use crate::app::App;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use downbeat_domain::Slug;
use downbeat_store::{ApiToken, Hash32, StoreError};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

pub use downbeat_domain::Role;

/// An authenticated caller: a token's or a user's name and role, and the vantage regions a
/// token may push agent results for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub regions: Vec<Slug>,
}

impl Principal {
    /// 403 unless this caller's role allows `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{:?} has role {}; this needs {}",
                self.name, self.role, needed
            )))
        }
    }

    /// 403 unless this caller's token names `region` among those it may report for. Every
    /// token needs it, an admin's too: a token issued without regions (all of them before
    /// regions existed) reports for none and must be issued again with `--region`.
    pub fn require_region(&self, region: &Slug) -> Result<(), ApiError> {
        if self.regions.contains(region) {
            return Ok(());
        }
        if self.regions.is_empty() {
            return Err(ApiError::Forbidden(format!(
                "token {:?} names no region to report for; issue one with \
                 `downbeat token create --role agent --region {region}`",
                self.name
            )));
        }
        let names: Vec<&str> = self.regions.iter().map(Slug::as_str).collect();
        Err(ApiError::Forbidden(format!(
            "token {:?} may report for {}, not {region:?}",
            self.name,
            names.join(", ")
        )))
    }
}

/// Prefix of every API token, so a leaked one is recognisable (and scannable).
pub const TOKEN_PREFIX: &str = "dbt_";

/// A new random token secret.
pub fn new_token_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes[..]);
    format!("{TOKEN_PREFIX}{}", hex(&bytes))
}

/// SHA-256 of a secret (a token or a session cookie).
pub fn secret_hash(secret: &str) -> Hash32 {
    Sha256::digest(secret.as_bytes()).into()
}

pub use downbeat_domain::hex::hex;

/// Creates a token named `name` with `role` (reporting for no region); returns the secret,
/// which is not stored.
pub async fn create_token(
    store: &dyn downbeat_store::Store,
    name: &str,
    role: Role,
    now_ms: i64,
) -> Result<String, StoreError> {
    create_token_for_regions(store, name, role, &[], now_ms).await
}

/// Creates a token named `name` with `role` that may push agent results for `regions`;
/// returns the secret, which is not stored.
pub async fn create_token_for_regions(
    store: &dyn downbeat_store::Store,
    name: &str,
    role: Role,
    regions: &[Slug],
    now_ms: i64,
) -> Result<String, StoreError> {
    let secret = new_token_secret();
    store
        .create_token(ApiToken {
            id: 0,
            name: name.to_owned(),
            role,
            hash: secret_hash(&secret),
            created_ms: now_ms,
            revoked_ms: None,
            regions: regions.to_vec(),
        })
        .await?;
    Ok(secret)
}

/// The principal behind a bearer token, if the token is known and not revoked.
pub async fn token_principal(app: &App, secret: &str) -> Result<Option<Principal>, ApiError> {
    let Some(token) = app.store.token_by_hash(secret_hash(secret)).await? else {
        return Ok(None);
    };
    Ok(Some(Principal {
        name: token.name,
        role: token.role,
        regions: token.regions,
    }))
}

impl FromRequestParts<App> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::Unauthorized(
                "this needs an API token: send Authorization: Bearer TOKEN".into(),
            ));
        };
        let secret = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header must be Bearer TOKEN".into())
            })?;
        token_principal(app, secret)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("unknown or revoked API token".into()))
    }
}

/// An optional caller: None without an Authorization header; a header with a bad token is
/// still 401 (a client that sends one wants to know it is wrong).
#[derive(Debug, Clone)]
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequestParts<App> for MaybePrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        if parts.headers.get(header::AUTHORIZATION).is_none() {
            return Ok(MaybePrincipal(None));
        }
        Principal::from_request_parts(parts, app)
            .await
            .map(|p| MaybePrincipal(Some(p)))
    }
}

/// Why a password could not be hashed (argon2's own error kept as the source).
#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password")]
pub struct HashError(#[source] argon2::password_hash::Error);

/// The argon2id PHC string of a password.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::fill(&mut salt[..]);
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(HashError)
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// Password checks with a bound on how many run at once. argon2 is deliberately slow and
/// takes memory, and runs on tokio's blocking threads, which the store's SQLite calls use
/// too: unbounded, a flood of sign-ins would take them all. Beyond the bound, checks wait
/// their turn (first come, first served).
#[derive(Debug)]
pub struct PasswordChecks {
    permits: Arc<Semaphore>,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl PasswordChecks {
    /// At most `bound` checks at once (at least 1).
    pub fn new(bound: usize) -> Self {
        PasswordChecks {
            permits: Arc::new(Semaphore::new(bound.max(1))),
            running: Arc::default(),
            peak: Arc::default(),
        }
    }

    /// Whether `password` matches the PHC string `hash`, once a turn is free. The turn is
    /// held until the hash is done, even if the caller stops waiting (a client that hangs
    /// up does not free a slot while its argon2 still runs).
    pub async fn verify(&self, password: String, hash: String) -> bool {
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return false;
        };
        let (running, peak) = (self.running.clone(), self.peak.clone());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let ok = verify_password(&password, &hash);
            running.fetch_sub(1, Ordering::SeqCst);
            ok
        })
        .await
        .unwrap_or(false)
    }

    /// The most checks that have run at once so far.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

/// Why a password may not be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("the password has {0} characters; use at least 10")]
    TooShort(usize),
    #[error("the password is longer than 1024 bytes")]
    TooLong,
}

/// A password an operator may choose: long enough, not absurdly long (argon2 input).
pub fn check_password_strength(password: &str) -> Result<(), WeakPassword> {
    let n = password.chars().count();
    if n < 10 {
        return Err(WeakPassword::TooShort(n));
    }
    if password.len() > 1024 {
        return Err(WeakPassword::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token_secret();
        let b = new_token_secret();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_ne!(secret_hash(&a), secret_hash(&b));
    }

    /// A flood of checks runs at most the bound at once; the rest wait their turn.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn password_checks_run_at_most_the_bound_at_once() {
        let hash = hash_password("correct horse battery").unwrap();
        let checks = Arc::new(PasswordChecks::new(2));
        let mut all = tokio::task::JoinSet::new();
        for i in 0..8 {
            let (checks, hash) = (checks.clone(), hash.clone());
            all.spawn(async move { checks.verify(format!("guess {i}"), hash).await });
        }
        while let Some(ok) = all.join_next().await {
            assert!(!ok.unwrap());
        }
        let peak = checks.peak();
        assert!(
            (1..=2).contains(&peak),
            "{peak} ran at once; the bound is 2"
        );
        assert!(
            checks
                .verify("correct horse battery".into(), hash.clone())
                .await
        );
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("anything", "not a hash"));
        assert!(check_password_strength("short").is_err());
        assert!(check_password_strength("long enough!").is_ok());
    }
}
