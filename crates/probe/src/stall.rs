//! How long the prober itself could not run. A probe's time includes every spell in which its
//! own host or runtime was too busy to attend to it: another tenant of the machine, a burst of
//! work on the same runtime, a paused virtual machine. That time says nothing about the
//! target, so latency is judged on the probe's time minus it (see [`Timings::stalled`]).
//!
//! A task wakes every [`TICK`] and adds how late it woke, beyond [`SLACK`], to a running total.
//! A stalled host wakes it late by about the length of the stall, so the total grows by what
//! the host lost. A probe reads the total when it starts and when it ends
//! ([`StallMeter::reading`], [`StallMeter::since`]); the reading includes the lateness of a
//! tick that is overdue right now, so a stall that has just ended counts before its tick runs.
//!
//! [`Timings::stalled`]: crate::Timings::stalled

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

/// How often the meter wakes. A stall is seen whatever its length; at most one tick of it
/// goes uncounted.
pub const TICK: Duration = Duration::from_millis(20);
/// Lateness up to this much is the timer's own granularity, not a stall.
pub const SLACK: Duration = Duration::from_millis(2);

/// Measures the time this runtime could not run its tasks. Dropping it stops its task.
pub struct StallMeter {
    shared: Arc<Shared>,
    task: AbortHandle,
}

struct Shared {
    origin: Instant,
    /// Stalled time counted so far, in µs.
    total_us: AtomicU64,
    /// When the pending tick is due, in µs after `origin`.
    due_us: AtomicU64,
}

impl Shared {
    fn micros(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.origin).as_micros() as u64
    }

    /// The stalled total right now, the overdue part of the pending tick included.
    fn now_us(&self) -> u64 {
        let now = self.micros(Instant::now());
        let due = self.due_us.load(Ordering::Acquire);
        let total = self.total_us.load(Ordering::Acquire);
        total
            + now
                .saturating_sub(due)
                .saturating_sub(SLACK.as_micros() as u64)
    }
}

/// A point on the meter, from [`StallMeter::reading`].
#[derive(Clone, Copy, Debug)]
pub struct Reading(u64);

impl StallMeter {
    /// Starts the meter on the current tokio runtime; `None` outside one.
    pub fn start() -> Option<StallMeter> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let origin = Instant::now();
        let shared = Arc::new(Shared {
            origin,
            total_us: AtomicU64::new(0),
            due_us: AtomicU64::new(TICK.as_micros() as u64),
        });
        let meter = shared.clone();
        let task = handle
            .spawn(async move {
                let mut due = origin + TICK;
                loop {
                    meter.due_us.store(meter.micros(due), Ordering::Release);
                    tokio::time::sleep_until(due).await;
                    let woke = Instant::now();
                    let late = woke.saturating_duration_since(due);
                    if late > SLACK {
                        meter
                            .total_us
                            .fetch_add((late - SLACK).as_micros() as u64, Ordering::AcqRel);
                    }
                    // From when it woke, so a stall is counted once.
                    due = woke + TICK;
                }
            })
            .abort_handle();
        Some(StallMeter { shared, task })
    }

    /// Where the meter stands now.
    pub fn reading(&self) -> Reading {
        Reading(self.shared.now_us())
    }

    /// The time stalled since `start`.
    pub fn since(&self, start: Reading) -> Duration {
        Duration::from_micros(self.shared.now_us().saturating_sub(start.0))
    }
}

impl Drop for StallMeter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime whose only thread is blocked for 300 ms counts about that long, never more
    /// than the time that passed.
    #[tokio::test(flavor = "current_thread")]
    async fn a_blocked_runtime_counts_the_time_it_lost() {
        let meter = StallMeter::start().unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let blocked = meter.reading();
        let t0 = std::time::Instant::now();
        // Blocks the runtime's only thread: no task runs, the meter's tick included.
        std::thread::sleep(Duration::from_millis(300));
        // Read before the tick has had a chance to run: the overdue part counts already.
        let at_once = meter.since(blocked);
        assert!(at_once >= Duration::from_millis(250), "{at_once:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let after = meter.since(blocked);
        assert!(after >= at_once, "{after:?} < {at_once:?}");
        assert!(
            after <= t0.elapsed(),
            "{after:?} is more than the time that passed"
        );
    }

    #[test]
    fn there_is_no_meter_outside_a_runtime() {
        assert!(StallMeter::start().is_none());
    }
}
