//! Downbeat's admin area, `/admin`: where operators sign in, see the drafts Downbeat wrote
//! from its signals (with the evidence), publish them in one click, run incidents and
//! maintenance, write post-mortems, moderate community comments, and manage the services,
//! monitors and notification destinations that are not in the config file.
//!
//! Server-rendered HTML (askama, auto-escaping), one small stylesheet served from here, no
//! JavaScript. Every change goes through `downbeat_incidents::ops`, so the rules and
//! error messages are the JSON API's.
//!
//! [`router`] gives the routes to merge beside the API and the public pages; call
//! [`sync_config_users`] once at start so `[[user]]` tables reach the store.
//!
//! Security, in short (details in [`session`], [`guard`] and [`login`]):
//! - users from the store, argon2 passwords checked at most `server.password_checks` at
//!   once; 5 failed sign-ins lock a user for 15 minutes from that client address only (user
//!   names are public, so a lock for everyone would let anyone lock the operators out), and
//!   each client address gets 10 attempts, then one a minute;
//! - a changed password, a user removed (`downbeat user remove`) or dropped from the
//!   config file's `[[user]]` tables ends that user's sessions;
//! - a session is a random cookie (`HttpOnly`, `SameSite=Strict`, 12 hours) of which the
//!   store keeps only the SHA-256; `Secure` with the `__Host-` prefix behind HTTPS;
//! - plain HTTP is served only to loopback clients (tests, SSH tunnels); anyone else gets a
//!   page asking for HTTPS;
//! - every form carries a CSRF token, compared in constant time, and a cross-origin
//!   `Origin`/`Referer` is refused; viewers get no forms and their POSTs are refused.
//!
//! # Layout
//! - [`session`]: the transport (HTTPS or loopback), cookies, sessions in the store.
//! - [`guard`]: the request context extractor and the checks every POST passes.
//! - [`throttle`]: login attempts per client address.
//! - [`login`]: sign-in (with lock-out per user and client address) and sign-out.
//! - [`users`]: `[[user]]` tables synced to the store, and users the file no longer names
//!   removed.
//! - [`pages`]: the dashboard, incident, new-incident, maintenance and people pages, and
//!   their forms.
//! - [`evidence`]: a draft's evidence JSON as readable view data.
//! - [`comments`]: the moderation queue of community comments: approve, hide, pause a
//!   network for a day.
//! - [`notifications`]: the outbox: destinations and recent deliveries with their attempts.
//! - [`objects`]: the Configuration section: services, components, monitors and
//!   destinations, the file's read-only and those managed here with their forms; the
//!   config file's reload.
//! - [`views`]: template structs and shared view helpers; templates live in `templates/`.
//! - [`error`]: [`error::AdminError`], every refusal as an HTML page with its status.
//! - [`assets`]: the stylesheet under its content hash.

pub mod assets;
pub mod comments;
pub mod error;
pub mod evidence;
pub mod guard;
pub mod login;
pub mod notifications;
pub mod objects;
pub mod pages;
pub mod session;
pub mod throttle;
pub mod users;
pub mod views;

use axum::Router;
use axum::routing::{get, post};
use downbeat_api::App;
use downbeat_api::auth::PasswordChecks;
use std::sync::Arc;

pub use users::sync_config_users;

/// The admin area's shared state.
pub struct Admin {
    pub app: App,
    pub throttle: throttle::Throttle,
    /// Every sign-in's argon2 check goes through this bound.
    pub passwords: PasswordChecks,
    /// A hash to verify against when the user is unknown or locked, so a failed sign-in
    /// costs the same time whether or not the user exists.
    pub decoy_hash: String,
}

impl Admin {
    pub fn new(app: App) -> Admin {
        Admin {
            throttle: throttle::Throttle::new(throttle::BURST, throttle::PER_MINUTE),
            passwords: PasswordChecks::new(app.config.load().server.password_checks),
            decoy_hash: downbeat_api::auth::hash_password(&downbeat_api::auth::hex(
                &rand::random::<[u8; 16]>(),
            ))
            .expect("argon2 hashes a random password"),
            app,
        }
    }
}

/// The `/admin` routes for `app`. Merge with `downbeat_api::router(app)`.
pub fn router(app: App) -> Router {
    let admin = Arc::new(Admin::new(app));
    Router::new()
        .route("/admin", get(pages::home))
        .route("/admin/", get(pages::home))
        .route("/admin/login", get(login::form).post(login::submit))
        .route("/admin/logout", post(login::logout))
        .route("/admin/people", get(pages::people))
        .route("/admin/notifications", get(notifications::page))
        .route("/admin/reload", post(objects::reload))
        .route("/admin/config", get(objects::list))
        .route(
            "/admin/config/components/{service}",
            get(objects::new_component).post(objects::create_component),
        )
        .route(
            "/admin/config/components/{service}/{component}",
            get(objects::edit_component).post(objects::save_component),
        )
        .route(
            "/admin/config/components/{service}/{component}/remove",
            get(objects::confirm_remove_component).post(objects::remove_component),
        )
        .route(
            "/admin/config/{section}",
            get(objects::new_form).post(objects::create),
        )
        .route(
            "/admin/config/{section}/{id}",
            get(objects::edit).post(objects::save),
        )
        .route(
            "/admin/config/{section}/{id}/remove",
            get(objects::confirm_remove).post(objects::remove),
        )
        .route("/admin/s/{service}", get(pages::service))
        .route("/admin/s/{service}/messages", post(pages::hide_message))
        .route(
            "/admin/s/{service}/comments",
            get(comments::page).post(comments::moderate),
        )
        .route(
            "/admin/s/{service}/incidents",
            get(pages::new_incident).post(pages::create_incident),
        )
        .route(
            "/admin/s/{service}/maintenance",
            get(pages::new_maintenance).post(pages::create_maintenance),
        )
        .route("/admin/incidents/{id}", get(pages::incident))
        .route("/admin/incidents/{id}/updates", post(pages::post_update))
        .route("/admin/incidents/{id}/publish", post(pages::publish))
        .route("/admin/incidents/{id}/postmortem", post(pages::postmortem))
        .route("/admin/assets/{file}", get(assets::serve))
        // The merged router's fallback is the API's JSON 404; admin paths get a page.
        .route(
            "/admin/{*rest}",
            get(error::not_found).post(error::not_found),
        )
        .with_state(admin)
}
