//! Running one probe: [`probe`] hands over to the kind's check, each phase stays within the deadline
//! and records its timing, and the first failure becomes the result's cause.

use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

use crate::outcome::{Cause, Detail, Outcome};
use crate::prober::Prober;
use crate::result::ProbeResult;
use crate::spec::ProbeSpec;

/// Response times above `max_latency` times this factor count as `overload` (down), not just
/// `degraded`: a service answering four times slower than its ceiling is failing its users.
pub const OVERLOAD_LATENCY_FACTOR: u32 = 4;

/// A stall shorter than this is not recorded in [`crate::Timings::stalled`].
const STALL_WORTH_NOTING: Duration = Duration::from_millis(1);

impl Run<'_> {
    /// The probe's time so far without the time its own runtime could not run: what the
    /// target took, for judging latency.
    pub(crate) fn elapsed_unstalled(&self) -> Duration {
        self.started
            .elapsed()
            .saturating_sub(self.prober.stalled_since(self.stall))
    }
}

/// Why a phase stopped the probe.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) cause: Cause,
    pub(crate) detail: Detail,
    pub(crate) error: String,
}

impl Failure {
    pub(crate) fn new(cause: Cause, detail: Detail, error: impl Into<String>) -> Self {
        Failure {
            cause,
            detail,
            error: error.into(),
        }
    }
}

/// A passing probe's verdict: up, or degraded with the reason.
pub(crate) enum Pass {
    Up,
    Degraded(Detail, Option<String>),
}

/// One probe in progress.
pub(crate) struct Run<'a> {
    pub(crate) prober: &'a Prober,
    pub(crate) started: Instant,
    /// The stall meter at the start (see [`crate::stall`]).
    pub(crate) stall: Option<crate::stall::Reading>,
    pub(crate) deadline: Instant,
    pub(crate) timeout: Duration,
    /// Wall-clock start, for certificate dates.
    pub(crate) now: Timestamp,
    pub(crate) result: ProbeResult,
}

/// Runs one probe to completion. Never fails and never exceeds the spec's timeout by more than
/// scheduling noise: every failure is a result with a [`Cause`].
pub async fn probe(spec: &ProbeSpec, prober: &Prober) -> ProbeResult {
    let started = Instant::now();
    let now = Timestamp::now();
    let mut run = Run {
        prober,
        started,
        stall: prober.stall_reading(),
        deadline: started + spec.timeout(),
        timeout: spec.timeout(),
        now,
        result: ProbeResult::new(spec.kind(), now),
    };
    let verdict = spec.check().run(&mut run).await;
    // A kind may set its own total (ping: the average round trip, not the whole series).
    if run.result.timings.total.is_none() {
        run.result.timings.total = Some(started.elapsed());
    }
    let stalled = prober.stalled_since(run.stall);
    if stalled >= STALL_WORTH_NOTING {
        run.result.timings.stalled = Some(stalled);
    }
    let mut result = run.result;
    match verdict {
        Ok(Pass::Up) => result.outcome = Outcome::Up,
        Ok(Pass::Degraded(detail, error)) => {
            result.outcome = Outcome::Degraded;
            result.detail = Some(detail);
            result.error = error;
        }
        Err(f) => {
            result.outcome = Outcome::Down;
            result.cause = Some(f.cause);
            result.detail = Some(f.detail);
            result.error = Some(f.error);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scheduler spawns probes on a multi-threaded runtime: the future must stay `Send`.
    #[test]
    fn probe_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let prober: Option<Prober> = None;
        if let (Some(prober), Ok(spec)) = (prober, ProbeSpec::tcp("127.0.0.1:1")) {
            let fut = probe(&spec, &prober);
            assert_send(&fut);
        }
    }
}
