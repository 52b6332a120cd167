//! The one assembly of Downbeat: every stage built with the handles it needs, their
//! background work started, and the JSON API, the pages and the admin area served on one
//! listener. `downbeat serve`, `downbeat demo` and the test harnesses all start Downbeat
//! through [`build`] (or [`start`] for the stages without a listener).
//!
//! On shutdown it stops accepting connections, lets in-flight requests finish, stops the
//! jobs, saves detector state, then drains the ingest queue into the store before
//! returning.
//!
//! # Layout
//! - [`app`]: [`start`] (the stages and their tasks), [`Running`], [`serve_app`].
//! - [`listen`]: the listener's limits (header and request deadlines, a connection cap, a
//!   shutdown grace period) and one tracing span per request.
//! - [`changes`]: other nodes' changes (the store's change feed) applied to this node's
//!   pages, caches and rate-limit share.
//! - [`jobs`]: the periodic jobs (crowd minute, incident round, pruning, housekeeping) with
//!   testable steps.
//! - [`product`]: [`build`]: the stages plus the whole router, ready to serve.
//! - `testing` (feature `testing`): `spawn`, the test harness every suite shares, an SMTP
//!   sink and the browser-tools check.

pub mod app;
pub mod changes;
pub mod jobs;
pub mod listen;
pub mod product;
#[cfg(feature = "testing")]
pub mod testing;

pub use app::{Running, serve, serve_app, start};
pub use downbeat_api::App;
pub use product::{Downbeat, build};
