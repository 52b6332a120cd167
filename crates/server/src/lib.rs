//! Downbeat's server: crowd reports in, JSON API and operations endpoints out.
//!
//! [`serve`] is the whole server: tests call it with a listener on port 0 and a oneshot as
//! the shutdown signal; `downbeat serve` calls it with the configured address and SIGTERM /
//! ctrl-c. On shutdown it stops accepting connections, lets in-flight requests finish, then
//! drains the ingest queue into the store before returning.
//!
//! # Layout
//! - [`app`]: [`App`], the shared state, and [`serve`].
//! - [`cache`]: answers served from memory, invalidated by per-service generations.
//! - [`crowd`]: live crowd verdicts: detectors fed every minute, verdict events.
//! - [`api`]: the HTTP routes (reports, summary, series, health) and their error type.
//! - [`identity`]: who a client is: address behind trusted proxies, keyed hashes, daily salts.
//! - [`dedupe`]: one client counts once per service within the dedupe window.
//! - [`limiter`]: per-client token buckets against floods.
//! - [`ingest`]: the group-commit queue between handlers and the store.
//! - [`monitors`]: synthetic monitors: schedule, quorum, hysteresis, diagnosis.
//! - [`diagnosis`]: the monitors' picture in public words (no targets, addresses or errors).
//! - [`latency`]: probe latency judged against its own time-of-day baseline.
//! - [`notify`]: notifications: the outbox's events and the delivery workers.
//! - [`metrics`]: Prometheus metrics and the request-timing middleware.
//! - [`jobs`]: background work (retention pruning, housekeeping) with testable steps.

pub mod api;
pub mod app;
pub mod auth;
pub mod cache;
pub mod crowd;
pub mod dedupe;
pub mod diagnosis;
pub mod identity;
pub mod incidents;
pub mod ingest;
pub mod jobs;
pub mod latency;
pub mod limiter;
pub mod metrics;
pub mod monitors;
pub mod notify;

pub use app::{App, Running, serve, serve_app};
