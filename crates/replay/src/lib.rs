//! Realistic crowd-report traffic for Downbeat, from scenario files: written as CSV, or sent to
//! a running server as real HTTP reports on an accelerated clock.
//!
//! A [`Scenario`] describes a baseline (reports per minute with daily and weekly shape, growth,
//! holidays, Poisson or over-dispersed noise), any number of outages (onset, ramp, peak,
//! plateau, phased recovery, and the problem/platform/country mix of their reports) and
//! floods from a few networks that a correct server must not take for an outage. Everything
//! is drawn from a seeded generator of our own, so the same file and seed give the same
//! traffic on every machine and build.
//!
//! ```no_run
//! use downbeat_replay::{Scenario, Traffic, csv};
//! let scenario = Scenario::load("design-outage")?;
//! let traffic = Traffic::generate(&scenario);
//! let window = scenario.window(None, None)?;
//! csv::write_minutes(&traffic, window, csv::Value::Sent, false, &mut std::io::stdout())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//! - [`scenario`]: the validated scenario model and its TOML format (documented there).
//! - `raw`: the TOML as written, before validation.
//! - `shape`: expected rates — time of day, weekday, growth, holidays, outage strength.
//! - `rng`: the seeded PRNG and the Poisson, gamma and weighted samplers.
//! - [`generate`]: per-minute counts and per-report details with client addresses.
//! - [`csv`]: per-minute CSV (feeds `downbeat detect`), breakdowns, one row per report.
//! - [`send`](mod@send): real HTTP reports on an accelerated clock, with progress and a summary.
//! - [`shipped`]: the scenarios of `scenarios/`, embedded.

pub mod csv;
pub mod generate;
mod raw;
mod rng;
pub mod scenario;
pub mod send;
mod shape;
pub mod shipped;

pub use generate::{MinuteCounts, Report, Source, Traffic};
pub use scenario::{Position, Scenario, ScenarioError, Window};
pub use send::{Progress, SendError, SendOptions, SendSummary, Speed, send};
