//! Downbeat's probe engine: DNS, TCP, TLS, HTTP(S), ping, domain expiry, WebSocket, gRPC
//! health and multi-step HTTP flow checks that time every phase and name
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
//! Storage, quorum and judgement live elsewhere; this crate probes, on request or on the
//! schedule, and holds what both vantages (the server and its agents) share: the schedule, the
//! canary and the agent protocol.
//!
//! # Layout
//! - [`kind`]: one module per probe kind (`http`, `dns`, `tls`, `tcp`, `ping`, `domain`,
//!   `websocket`, `grpc`, `flow`), each with its keys in a [`ProbeDef`], its validated check
//!   and parsing, its run and its words; `kind/mod.rs` lists the kinds ([`ProbeKind`],
//!   [`ProbeDef`], [`Check`]) and only delegates.
//! - [`spec`]: [`ProbeSpec`], a validated definition (timeout and check);
//!   [`status_ranges`] and [`endpoint`] are the parsed pieces of a target.
//! - [`prober`]: [`Prober`], the shared resolver and TLS configurations.
//! - `run`: [`probe`], one probe with a deadline, phase by phase; `connect` (DNS + TCP,
//!   shared by the kinds that connect).
//! - `certificate`: the verifier that keeps a rejected certificate, and its diagnosis.
//! - [`result`]: [`ProbeResult`], [`Timings`] and the operators' explanation; [`outcome`]
//!   re-exports the vocabulary ([`Outcome`], [`Cause`], [`Detail`]) that lives with its words
//!   in `downbeat_domain::probe`.
//! - [`schedule`]: the drift-free [`Schedule`], the [`Scheduler`] loop and the [`Canary`] that
//!   the server's monitors and every agent run.
//! - [`protocol`]: the JSON an agent and the server exchange (assignments, result batches).
//!
//! # Adding a probe kind
//! Four files, counted by adding one for real (a `banner` kind: connect, read the greeting,
//! check `expect_banner`), then removing it:
//! 1. `src/kind/<name>.rs`, the whole kind: its keys as a `<Name>Def` struct implementing
//!    `Keys` (the kinds they apply to, the first key given) if it has any; its check struct
//!    with `endpoint()`; `parse(&ProbeDef)` naming the field at fault in a [`SpecError`];
//!    `run(&mut Run, &Check)` returning `Result<Pass, Failure>` (reuse `connect::open` and
//!    `kind::tls::handshake`); `up_words` (what "up" found); and its test with a loopback
//!    server in a `#[cfg(test)]` module.
//! 2. `src/kind/mod.rs`: the module, a [`ProbeKind`] variant (in `ALL`, `as_str`,
//!    `up_words`), its keys as a `#[serde(flatten)]` field of [`ProbeDef`] (in `new` and
//!    `only_own_keys`), a [`Check`] variant (in `parse`, `run`, `endpoint`). The compiler
//!    points at every `match` left to extend.
//! 3. README.md, section Monitors: the kind and its keys.
//! 4. `downbeat.example.toml`: an annotated, commented-out example monitor.
//!
//! Nothing else names the kinds: the config hands a monitor's keys to [`ProbeDef`], agents
//! receive [`ProbeSpec`]s, and pages show `kind().as_str()`. One more file when the test needs
//! the shared fixtures of `tests/probe.rs` (a test CA, a DNS server), and one more for a new
//! finding: a [`Detail`] variant in `crates/domain/src/probe.rs`, whose exhaustive words
//! methods refuse to compile until it has public and operator words. A new [`Cause`] is an
//! API change for the store, the pages and the quorum logic: avoid it.
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
//! - **The newer kinds reuse the causes**: ping loss is `connect` (`packet_loss`; no reply
//!   at all `unreachable`), an expired domain `dns` (`domain_expired`), a gRPC service not
//!   `SERVING` `content` (`not_serving`), a non-zero `grpc-status` or a broken WebSocket
//!   handshake `content` (`protocol`); an RDAP lookup, a WebSocket upgrade or a flow step
//!   that gets an unexpected HTTP status takes that status's cause. A flow's failure is its
//!   failing step's, its words prefixed with the step ("step 2 of 3, 'fetch playlist': …").
//! - **Degraded, too**: some ping loss at or under `max_loss`, and a domain expiring within
//!   `warn_days` (default 30).
//! - **A busy prober is not a slow target**: every [`Prober`] measures the time its runtime
//!   could not run ([`stall`]); a probe records it as `stalled_ms` and latency, against
//!   `max_latency_ms` or the baseline, is judged without it.
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
pub mod stall;
pub mod status_ranges;

pub use endpoint::Endpoint;
pub use kind::{Check, ProbeDef, ProbeKind};
pub use outcome::{Cause, Detail, Facts, Outcome};
pub use prober::{Prober, ProberBuilder, ProberError};
pub use result::{CertInfo, DnsAnswer, DomainExpiry, PingStats, ProbeResult, StepResult, Timings};
pub use run::{OVERLOAD_LATENCY_FACTOR, probe};
pub use schedule::{Canary, Plan, Report, Schedule, Scheduler};
pub use spec::{ProbeSpec, SpecError};
pub use status_ranges::StatusRanges;
