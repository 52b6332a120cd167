//! `downbeat agent`: a probe vantage point that runs away from the server.
//!
//! The agent pulls its assignments (the monitors to run, with their intervals, and the canary
//! to check) from `GET /api/v1/agent/assignments`, probes them with the same probe code as
//! the server on a drift-free schedule, and pushes results to `POST /api/v1/agent/results`,
//! authenticated with an API token that names the agent's region. Results go through a buffer on disk first: a batch is
//! written (and synced) to the buffer directory before it is sent, and deleted only once the
//! server has acknowledged it, so a server outage or an agent restart loses nothing the
//! agent has probed; delivery resumes, oldest first, with exponential backoff.
//!
//! # Layout
//! - [`protocol`]: the JSON the agent and the server exchange (it lives in `downbeat_probe`,
//!   beside the probe types it carries, so the server does not depend on this crate).
//! - [`buffer`]: the on-disk queue of result batches.
//! - [`http`]: the client for the server: HTTPS on the probes' rustls stack (a private CA
//!   optional), plain HTTP only to this machine unless allowed.
//! - [`run`]: [`run::Agent`], the loops: assignments, schedule, canary, sender.

pub mod buffer;
pub mod http;
pub use downbeat_probe::protocol;
pub mod run;

pub use run::{Agent, AgentOptions};
