//! The probe schedule that the server and every agent run: a drift-free heap of due times
//! ([`Schedule`], pure), the loop that probes what is due under a concurrency limit
//! ([`Scheduler`]), and the canary that tells whether this vantage's own network works
//! ([`Canary`]).
//!
//! - **Drift-free**: a monitor due at `t` is next due at `t + interval`, never "now +
//!   interval", so thousands of monitors keep their cadence; when the loop fell behind by
//!   whole intervals, those rounds are skipped, not run in a burst.
//! - **Spread**: first runs are spread over the interval by a stable hash of the monitor id
//!   ([`first_offset`]), so a restart does not probe everything at once, and the server and an
//!   agent probe one monitor at the same phase.
//! - **Bounded**: at most `concurrency` probes run at once; a round that finds no free slot is
//!   skipped and reported ([`Report::skipped`]) rather than queued without bound.
//! - **The clock's pace**: intervals are in the clock's time and waited for in real time
//!   ([`Clock::real`]), never faster than [`FASTEST_INTERVAL`]: on the demo's fast clock
//!   probes run as often as they would in the simulated hours.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tracing::Instrument;

use downbeat_domain::Clock;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::{ProbeResult, ProbeSpec, Prober};

/// On a clock faster than real time, probe intervals shrink with it, but never below this.
pub const FASTEST_INTERVAL: Duration = Duration::from_millis(20);
/// How often the canary is checked, in the clock's time.
pub const CANARY_EVERY: Duration = Duration::from_secs(30);

/// The monitors a vantage probes: the server's configured monitors, or an agent's
/// assignments. Monitors are numbered `0..count()`.
pub trait Plan: Send + Sync + 'static {
    /// How many monitors there are.
    fn count(&self) -> usize;
    /// Monitor `i`'s id (its first run's offset is a hash of it).
    fn id(&self, i: usize) -> &str;
    /// How often monitor `i` is probed, in the clock's time.
    fn interval(&self, i: usize) -> Duration;
    /// What monitor `i` probes.
    fn spec(&self, i: usize) -> &ProbeSpec;
    /// Whether this vantage probes monitor `i`'s round that is due now (on several nodes,
    /// each monitor's rounds are one node's). A round that is not is passed over quietly.
    fn mine(&self, i: usize) -> bool {
        let _ = i;
        true
    }

    /// Probes monitor `i` once. Tests replace this with a probe that needs no network.
    fn probe<'a>(
        &'a self,
        i: usize,
        prober: &'a Prober,
    ) -> impl Future<Output = ProbeResult> + Send + 'a {
        crate::probe(self.spec(i), prober)
    }
}

/// What a vantage does with the schedule's events: the server counts them in its metrics
/// and hands results to its writer; an agent buffers results for the server.
pub trait Report<P: Plan>: Send + Sync + 'static {
    /// A probe of monitor `i` starts `late` after its due time.
    fn started(&self, plan: &P, i: usize, late: Duration) {
        let _ = (plan, i, late);
    }
    /// A round of monitor `i` was skipped: every probe slot was busy.
    fn skipped(&self, plan: &P, i: usize);
    /// Monitor `i`'s result, stamped with the clock's time at its start.
    fn finished(&self, plan: &P, i: usize, result: ProbeResult) -> impl Future<Output = ()> + Send;
}

/// Where a monitor's first run falls within its first interval: a stable hash of its id,
/// the same on every node and at every start.
pub fn first_offset(id: &str, interval: Duration) -> Duration {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    let ms = (interval.as_millis() as u64).max(1);
    Duration::from_millis(h.finish() % ms)
}

/// One monitor's turn: which, and when it was due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    /// The monitor's number in its [`Plan`].
    pub index: usize,
    /// When it was due (it may be handed out later than that).
    pub at: Instant,
}

/// Every monitor's next due time, earliest first. Pure: it reads no clock, so tests drive it
/// with plain instants.
#[derive(Debug, Default)]
pub struct Schedule {
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Real-time intervals, by monitor number.
    intervals: Vec<Duration>,
}

impl Schedule {
    /// Schedules monitors given as (id, interval in the clock's time), numbered in order, from
    /// `start`, which is `start_ms` on the clock; `real` turns the clock's time into real time
    /// ([`Clock::real`]).
    ///
    /// A monitor's rounds fall where the clock reads its offset ([`first_offset`]) plus a
    /// whole number of intervals since the epoch: every vantage whose clock agrees probes
    /// it at the same instants, so several nodes can hand a monitor over from one round to
    /// the next without probing a round twice or skipping one.
    pub fn new<'a>(
        start: Instant,
        start_ms: i64,
        monitors: impl IntoIterator<Item = (&'a str, Duration)>,
        real: impl Fn(Duration) -> Duration,
    ) -> Self {
        let mut s = Schedule::default();
        for (i, (id, interval)) in monitors.into_iter().enumerate() {
            let every_ms = i64::try_from(interval.as_millis())
                .unwrap_or(i64::MAX)
                .max(1);
            let offset_ms = first_offset(id, interval).as_millis() as i64;
            let wait_ms = (offset_ms - start_ms.rem_euclid(every_ms)).rem_euclid(every_ms);
            // A zero interval would never advance.
            s.intervals
                .push(real(interval).max(Duration::from_millis(1)));
            s.heap.push(Reverse((
                start + real(Duration::from_millis(wait_ms as u64)),
                i,
            )));
        }
        s
    }

    /// The schedule of every monitor of `plan`.
    pub fn of<P: Plan>(
        plan: &P,
        start: Instant,
        start_ms: i64,
        real: impl Fn(Duration) -> Duration,
    ) -> Self {
        Schedule::new(
            start,
            start_ms,
            (0..plan.count()).map(|i| (plan.id(i), plan.interval(i))),
            real,
        )
    }

    /// When the next monitor is due; `None` for an empty schedule.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// The next monitor due at `now`, if any, booked again for its next run: one interval
    /// after it was due, or more if `now` is already past that (the missed rounds are
    /// skipped).
    pub fn pop_due(&mut self, now: Instant) -> Option<Due> {
        let &Reverse((at, index)) = self.heap.peek()?;
        if at > now {
            return None;
        }
        self.heap.pop();
        let interval = self.intervals[index];
        let missed = (now - at).as_nanos() / interval.as_nanos();
        let rounds = u32::try_from(missed + 1).unwrap_or(u32::MAX);
        let next = at
            .checked_add(interval.saturating_mul(rounds))
            .unwrap_or(now + interval);
        self.heap.push(Reverse((next, index)));
        Some(Due { index, at })
    }
}

/// The loop that probes what is due: one per vantage.
pub struct Scheduler {
    /// The shared probing machinery.
    pub prober: Prober,
    /// The time results are stamped with, and whose pace intervals follow.
    pub clock: Arc<dyn Clock>,
    /// Most probes in flight at once (at least 1).
    pub concurrency: usize,
}

impl Scheduler {
    /// The real time `d` of the clock's time takes.
    fn real(&self, d: Duration) -> Duration {
        self.clock.real(d, FASTEST_INTERVAL)
    }

    /// Probes the monitors of the latest plan on their schedule until `stop` turns true, then
    /// waits for the probes in flight (each ends within its timeout) and returns. A new plan
    /// starts a new schedule; a closed plan channel keeps the last one.
    pub async fn run<P: Plan, R: Report<P>>(
        self,
        mut plans: watch::Receiver<Option<Arc<P>>>,
        report: Arc<R>,
        mut stop: watch::Receiver<bool>,
    ) {
        let slots = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let real = |d| self.real(d);
        let mut plan = plans.borrow_and_update().clone();
        let mut schedule = plan.as_deref().map_or_else(Schedule::default, |p| {
            Schedule::of(p, Instant::now(), self.clock.now().as_millisecond(), real)
        });
        let mut plans_open = true;
        let mut tasks = JoinSet::new();
        while !*stop.borrow() {
            tokio::select! {
                () = sleep_until(schedule.next_due()) => {}
                changed = plans.changed(), if plans_open => {
                    if changed.is_err() {
                        plans_open = false;
                    } else {
                        plan = plans.borrow_and_update().clone();
                        schedule = plan.as_deref().map_or_else(Schedule::default, |p| {
                            Schedule::of(p, Instant::now(), self.clock.now().as_millisecond(), real)
                        });
                    }
                    continue;
                }
                _ = stop.changed() => break,
            }
            while tasks.try_join_next().is_some() {}
            let Some(plan) = &plan else { continue };
            let now = Instant::now();
            while let Some(due) = schedule.pop_due(now) {
                let i = due.index;
                if !plan.mine(i) {
                    continue;
                }
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    report.skipped(plan, i);
                    continue;
                };
                let (plan, report, prober) = (plan.clone(), report.clone(), self.prober.clone());
                let started_at = self.clock.now();
                let span = tracing::info_span!("probe", monitor = plan.id(i));
                tasks.spawn(
                    async move {
                        report.started(&plan, i, due.at.elapsed());
                        let mut result = plan.probe(i, &prober).await;
                        // Results are on the vantage's clock, like everything they are judged
                        // with.
                        result.started_at = started_at;
                        drop(permit);
                        report.finished(&plan, i, result).await;
                    }
                    .instrument(span),
                );
            }
        }
        // Probes in flight finish (each within its timeout) and hand over their results.
        while tasks.join_next().await.is_some() {}
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Whether this vantage can reach a known-good target. While it cannot, its own network is
/// suspect: its failures are shown, but marked unreliable so that they blame nobody.
#[derive(Debug)]
pub struct Canary {
    reachable: AtomicBool,
}

impl Default for Canary {
    fn default() -> Self {
        Canary {
            reachable: AtomicBool::new(true),
        }
    }
}

impl Canary {
    /// Whether the canary answered its latest check (true before the first, and without one).
    pub fn reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    /// Checks the canary every [`CANARY_EVERY`] of the clock's time until `stop` changes.
    /// `target` is asked each time (an agent's canary comes with its assignments); `None`
    /// means no canary, which counts as reachable.
    pub async fn watch(
        &self,
        prober: &Prober,
        clock: &dyn Clock,
        mut target: impl FnMut() -> Option<ProbeSpec>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(clock.real(CANARY_EVERY, FASTEST_INTERVAL));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            let spec = target();
            let ok = match &spec {
                None => true,
                Some(spec) => crate::probe(spec, prober).await.is_up(),
            };
            if self.reachable.swap(ok, Ordering::Relaxed) != ok {
                tracing::warn!(
                    canary = spec.as_ref().map(ProbeSpec::target),
                    ok,
                    "canary reachability changed; this vantage's failures are {}",
                    if ok {
                        "trusted again"
                    } else {
                        "marked unreliable"
                    }
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProbeKind;
    use std::sync::Mutex;

    const S: Duration = Duration::from_secs(1);

    fn same(d: Duration) -> Duration {
        d
    }

    #[test]
    fn first_runs_spread_over_the_interval_by_id() {
        let t0 = Instant::now();
        let ids = ["api", "login", "cdn", "dns", "web"];
        let s = Schedule::new(t0, 0, ids.iter().map(|id| (*id, 60 * S)), same);
        let mut offsets: Vec<Duration> = s.heap.iter().map(|Reverse((at, _))| *at - t0).collect();
        assert!(offsets.iter().all(|o| *o < 60 * S), "{offsets:?}");
        offsets.dedup();
        assert!(offsets.len() > 1, "not spread: {offsets:?}");
        // Stable: the same id gets the same offset on every node and at every start.
        assert_eq!(first_offset("api", 60 * S), first_offset("api", 60 * S));
    }

    #[test]
    fn rounds_fall_on_the_same_instants_whenever_a_vantage_starts() {
        // Two nodes whose clocks agree, started 23.4 s apart: a monitor's rounds land on the
        // same clock times on both, so a hand-over between them neither repeats nor skips.
        let t0 = Instant::now();
        let a_ms = 1_700_000_000_000;
        let b_ms = a_ms + 23_400;
        let t_b = t0 + Duration::from_millis(23_400);
        for id in ["api", "login", "cdn"] {
            let mut a = Schedule::new(t0, a_ms, [(id, 10 * S)], same);
            let b = Schedule::new(t_b, b_ms, [(id, 10 * S)], same);
            let b_first = b.next_due().expect("scheduled");
            assert!(b_first >= t_b && b_first < t_b + 10 * S);
            let mut a_rounds = Vec::new();
            while let Some(at) = a.next_due().filter(|at| *at <= b_first) {
                a.pop_due(at);
                a_rounds.push(at);
            }
            assert_eq!(
                a_rounds.last(),
                Some(&b_first),
                "{id}: b's first round is one of a's"
            );
            // And on the clock, rounds sit at the id's offset past a whole interval.
            let on_clock = a_ms + (b_first - t0).as_millis() as i64;
            assert_eq!(
                on_clock.rem_euclid(10_000),
                first_offset(id, 10 * S).as_millis() as i64
            );
        }
    }

    #[test]
    fn a_monitor_due_at_t_is_next_due_at_t_plus_interval() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, 0, [("api", 10 * S)], same);
        let first = s.next_due().expect("scheduled");
        assert_eq!(s.pop_due(first - Duration::from_millis(1)), None);
        // Handed out late: the next run keeps the cadence rather than the lateness.
        let late = first + Duration::from_millis(700);
        assert_eq!(
            s.pop_due(late),
            Some(Due {
                index: 0,
                at: first
            })
        );
        assert_eq!(s.pop_due(late), None, "one round per due time");
        assert_eq!(s.next_due(), Some(first + 10 * S));
    }

    #[test]
    fn whole_missed_intervals_are_skipped() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, 0, [("api", 10 * S)], same);
        let first = s.next_due().expect("scheduled");
        let due = s.pop_due(first + 35 * S).expect("due");
        assert_eq!(due.at, first);
        assert_eq!(s.next_due(), Some(first + 40 * S));
        // Exactly on a due time: that round is missed too (it is "now", not later).
        let mut s = Schedule::new(t0, 0, [("api", 10 * S)], same);
        s.pop_due(first + 20 * S);
        assert_eq!(s.next_due(), Some(first + 30 * S));
    }

    #[test]
    fn intervals_follow_the_clock_pace() {
        let t0 = Instant::now();
        // A clock sixty times faster than real time: a minute passes every second.
        let fast = |d: Duration| d / 60;
        let mut s = Schedule::new(t0, 0, [("api", 60 * S)], fast);
        let first = s.next_due().expect("scheduled");
        assert!(first - t0 < S, "the first offset is in real time too");
        s.pop_due(first);
        assert_eq!(s.next_due(), Some(first + S));
    }

    #[test]
    fn monitors_come_due_in_order() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, 0, [("a", 10 * S), ("b", 25 * S), ("c", 40 * S)], same);
        let end = t0 + 100 * S;
        let mut seen = [0; 3];
        let mut last = t0;
        while let Some(at) = s.next_due().filter(|at| *at <= end) {
            let due = s.pop_due(at).expect("due");
            assert!(due.at >= last, "out of order");
            last = due.at;
            seen[due.index] += 1;
        }
        // 100 s hold 10, 4 and 2 or 3 rounds, whatever the offsets.
        assert_eq!(seen[0], 10);
        assert_eq!(seen[1], 4);
        assert!((2..=3).contains(&seen[2]), "{seen:?}");
    }

    /// A plan whose probes take `probe_time` and need no network.
    struct Fake {
        ids: Vec<String>,
        interval: Duration,
        probe_time: Duration,
        spec: ProbeSpec,
    }

    impl Plan for Fake {
        fn count(&self) -> usize {
            self.ids.len()
        }
        fn id(&self, i: usize) -> &str {
            &self.ids[i]
        }
        fn interval(&self, _: usize) -> Duration {
            self.interval
        }
        fn spec(&self, _: usize) -> &ProbeSpec {
            &self.spec
        }
        async fn probe(&self, _: usize, _: &Prober) -> ProbeResult {
            tokio::time::sleep(self.probe_time).await;
            ProbeResult::new(ProbeKind::Tcp, jiff::Timestamp::UNIX_EPOCH)
        }
    }

    #[derive(Default)]
    struct Log {
        skipped: Mutex<Vec<usize>>,
        finished: Mutex<Vec<(usize, jiff::Timestamp)>>,
        late: Mutex<Vec<Duration>>,
    }

    impl Report<Fake> for Log {
        fn started(&self, _: &Fake, _: usize, late: Duration) {
            self.late.lock().unwrap().push(late);
        }
        fn skipped(&self, _: &Fake, i: usize) {
            self.skipped.lock().unwrap().push(i);
        }
        async fn finished(&self, _: &Fake, i: usize, result: ProbeResult) {
            self.finished.lock().unwrap().push((i, result.started_at));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_round_without_a_free_slot_is_skipped_and_probes_in_flight_finish() {
        let t0: jiff::Timestamp = "2026-11-22T08:00:00Z".parse().unwrap();
        let clock = Arc::new(downbeat_domain::ManualClock::new(t0));
        // One slot, and a probe that takes longer than two intervals: while it runs, the
        // monitor's next rounds find no slot.
        let plan = Arc::new(Fake {
            ids: vec!["api".into()],
            interval: 10 * S,
            probe_time: 25 * S,
            spec: ProbeSpec::tcp("127.0.0.1:1").unwrap(),
        });
        let scheduler = Scheduler {
            prober: Prober::builder()
                .nameservers(vec!["127.0.0.1:9".parse().unwrap()])
                .build()
                .unwrap(),
            clock: clock.clone(),
            concurrency: 1,
        };
        let (_plans_tx, plans) = watch::channel(Some(plan));
        let (stop_tx, stop) = watch::channel(false);
        let log = Arc::new(Log::default());
        let run = tokio::spawn(scheduler.run(plans, log.clone(), stop));
        tokio::time::sleep(60 * S).await;
        stop_tx.send(true).unwrap();
        run.await.unwrap();
        let finished = log.finished.lock().unwrap().clone();
        let skipped = log.skipped.lock().unwrap().len();
        // Due at o, o+10 s, ... o+50 s (o < 10 s): the probes of o and o+30 s run (the
        // second may end after the stop, and is waited for), the four others are skipped.
        assert_eq!(finished.len(), 2, "{finished:?}");
        assert_eq!(skipped, 4);
        assert!(
            finished.iter().all(|(_, at)| *at == t0),
            "stamped with the vantage's clock: {finished:?}"
        );
        assert!(log.late.lock().unwrap().iter().all(|l| *l < S));
    }
}
