//! Downbeat's probe engine: DNS, TCP, TLS and HTTP(S) checks that time every phase and name
//! the probable cause of a failure ("certificate expired 2 h ago", "NXDOMAIN", "HTTP 503").
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use downbeat_probe::{Prober, ProbeSpec, probe};
//! let prober = Prober::new()?; // once per process; clone it into tasks
//! let spec = ProbeSpec::http("https://melodia.example/health")?;
//! let result = probe(&spec, &prober).await;
//! println!("{}: {}", result.outcome, result.explanation());
//! # Ok(()) }
//! ```
//!
//! Storage, quorum and the agent's loops live elsewhere; this crate probes once, on request,
//! and holds what both vantages share: the agent protocol.
//!
//! # Layout
//! - [`spec`]: [`ProbeDef`] (plain, serde) and [`ProbeSpec`] (validated) with per-kind checks;
//!   [`status_ranges`] and [`endpoint`] are the parsed pieces of a target.
//! - [`prober`]: [`Prober`], the shared resolver and TLS configurations.
//! - `run`: [`probe`], one probe with a deadline, phase by phase; `connect` (DNS + TCP),
//!   `tls` (handshake), `http` (request over hyper's low-level client), `dns` (DNS probes).
//! - `certificate`: the verifier that keeps a rejected certificate, and its diagnosis.
//! - [`result`] and [`outcome`]: [`ProbeResult`], [`Timings`], [`Outcome`], [`Cause`],
//!   [`Detail`] and the plain-words explanation.
//! - [`protocol`]: the JSON an agent and the server exchange (assignments, result batches).
//!
//! # Adding a probe kind
//! 1. `spec.rs`: a [`ProbeKind`] variant, its [`ProbeDef`] fields (and the "does not apply"
//!    lists in `ProbeSpec::parse`), a [`Check`] variant with its validated struct.
//! 2. A runner module (like `dns.rs`) returning `Result<Pass, Failure>`, dispatched in `run.rs`.
//! 3. New findings as [`Detail`] variants (a new [`Cause`] is an API change for the store and
//!    the quorum logic: avoid), and their words in `ProbeResult::explanation`.
//! 4. A loopback server and a table of cases in `tests/probe.rs`.
//!
//! # Decisions
//! - **Causes** serialize as `dns`, `connect`, `tls_certificate`, `tls_handshake`, `timeout`,
//!   `http_5xx`, `http_4xx`, `overload`, `content`. 429 and 503 are `overload`, other 5xx
//!   `http_5xx`. A timeout is charged to the phase it hit: DNS → `dns`, TCP → `connect`, TLS →
//!   `tls_handshake`, after connecting → `timeout`. A connection closed without a response is
//!   `connect` (detail `reset`); an unfollowed or unexpected 3xx is `content`. A probe knows
//!   no history: the server judges latency against the monitor's own baseline and marks a
//!   far-too-slow answer with [`ProbeResult::mark_above_baseline`] (`overload`,
//!   `above_baseline`).
//! - **Outcome**: `degraded` for a slow answer (over `max_latency_ms`) or a certificate
//!   expiring within `expiry_warn_days` (default 14); over [`OVERLOAD_LATENCY_FACTOR`] times
//!   `max_latency_ms` is `down`/`overload`.
//! - **Expected status** defaults to `200-399`; redirects are not followed unless
//!   `max_redirects` is set (at most 10).
//! - **Durations** serialize as fractional milliseconds (`"ttfb_ms": 0.412`); spec durations
//!   are whole milliseconds (`timeout_ms`).
//! - **No caches that hide failures**: the resolver keeps no answer cache, and TLS session
//!   resumption is off, so every probe resolves and verifies the certificate.
//! - **Body checks**: substring and regex (the `regex` crate: its engine crates are already in
//!   the workspace through tracing-subscriber, so it adds about 6 s of debug build); the first
//!   1 MiB of the body is checked. JSON values compare with `serde_json::Value` equality
//!   (`1` and `1.0` differ).

mod certificate;
mod connect;
pub mod endpoint;
pub mod kind;
pub mod outcome;
pub mod prober;
pub mod protocol;
pub mod result;
mod run;
pub mod schedule;
pub mod spec;
pub mod status_ranges;

pub use endpoint::Endpoint;
pub use kind::{Check, ProbeDef, ProbeKind};
pub use outcome::{Cause, Detail, Facts, Outcome};
pub use prober::{Prober, ProberBuilder, ProberError};
pub use result::{CertInfo, DnsAnswer, ProbeResult, Timings};
pub use run::{OVERLOAD_LATENCY_FACTOR, probe};
pub use schedule::{Canary, Plan, Report, Schedule, Scheduler};
pub use spec::{ProbeSpec, SpecError};
pub use status_ranges::StatusRanges;
