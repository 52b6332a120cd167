//! Synthetic monitors: a drift-free schedule, results stored in batches, quorum across
//! vantage regions, hysteresis, and a service diagnosis in plain words.
//!
//! The configured monitors run on the schedule the agents run too
//! ([`downbeat_probe::schedule`]: drift-free, first runs spread by a hash of the id, a
//! concurrency limit whose skipped rounds are counted); this stage provides the plan (the
//! config) and what happens around a probe (schedule lag and skipped rounds in the metrics,
//! results to the writer).
//!
//! Every result updates the monitor's picture: its latest result per region (fresh for
//! three intervals). A round is bad when at least `quorum` regions' fresh, reliable results
//! are down; `failures_to_open` bad rounds in a row open the monitor (down),
//! `successes_to_close` good ones close it. Transitions are saved, so a restart neither
//! re-alerts nor forgets. When a canary target is configured and this vantage cannot reach
//! it, its failures are marked unreliable: they are shown, but blame nobody.
//!
//! Every result, local or pushed by an agent, goes through one writer: its latency is judged
//! against its own baseline ([`crate::latency`]), it is stored in a batch — once per
//! monitor, region and start time, so a retried push changes nothing — and the monitor's
//! picture and state are updated. A result that arrives late (older than its region's
//! latest, than the monitor's state, or than the newest result by more than the freshness
//! window, allowing for the clock skew agents may have: an agent's backlog) goes to the
//! history only, so changes that already ended are not replayed.
//!
//! A transition is judged against flap suppression, saved as not yet told, queued to the
//! notifier, and marked told. One whose save or queue fails is kept and tried again every
//! few seconds ([`retry_notices`]); one saved but never queued (the process stopped in
//! between) is queued at the next start. Its notice has a stable id, so queuing it again
//! sends nothing twice.
//!
//! [`Monitors`] is the stage's handle.
//!
//! # Layout
//! - this file: [`Monitors`], [`start`] (restore, the shared scheduler with this node's plan,
//!   writer, canary, certificates),
//!   [`record`] (judge, store, apply a batch), quorum and hysteresis, telling transitions
//!   ([`retry_notices`]), [`diagnose`] (the operators' words).
//! - [`latency`]: probe latency judged against its own time-of-day baseline.
//! - [`diagnosis`]: the monitors' picture in public words (no targets, addresses or errors).
//! - [`certs`]: certificate expiry warnings from the latest TLS results.
//! - [`metrics`]: probes by outcome, schedule lag, skipped rounds.

pub mod certs;
pub mod diagnosis;
pub mod latency;
pub mod metrics;

pub use metrics::ProbeMetrics;

use crate::latency::Latency;
use downbeat_config::{Config, MonitorConfig, ProbeSettings};
use downbeat_domain::Clock;
use downbeat_domain::event::{CheckState, Notice};
use downbeat_notify::Notifier;
use downbeat_probe::schedule::{Canary, Plan, Report, Scheduler};
use downbeat_probe::{Cause, Outcome, ProbeResult, ProbeSpec, Prober};
use downbeat_store::{DetectionStore, ProbeStore};
use downbeat_store::{MonitorState, NewProbeResult, StoreError};
use jiff::Timestamp;
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Results waiting to be stored before probes start waiting for the writer.
const RESULT_QUEUE: usize = 16_384;
const MAX_BATCH: usize = 2_048;
/// How often certificates are checked (a day is a long time for a certificate).
const CERTS_EVERY_MS: i64 = 60_000;
/// How often the certificate loop looks at the clock.
const CERTS_LOOK_EVERY: Duration = Duration::from_secs(5);

/// A result as the API shows it: the probe's own fields plus where and whether to trust it.
#[derive(Debug, Clone, Serialize)]
pub struct RegionResult {
    pub region: Arc<str>,
    pub at: Timestamp,
    pub reliable: bool,
    pub explanation: String,
    #[serde(flatten)]
    pub result: ProbeResult,
}

#[derive(Debug, Clone, Default)]
struct Hysteresis {
    down: bool,
    since_ms: Option<i64>,
    /// Typed in memory; a string only in the store's row.
    cause: Option<Cause>,
    bad_rounds: u32,
    good_rounds: u32,
}

/// A result on its way to the writer.
pub struct Incoming {
    /// The monitor's index in the config.
    pub index: usize,
    /// The vantage region that probed.
    pub region: Arc<str>,
    /// Whether the vantage trusted its own network when it probed (its canary answered);
    /// `None` for this node's own probes, which use this node's canary.
    pub reliable: Option<bool>,
    pub result: ProbeResult,
}

/// What [`record`] made of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Stored now (and applied to the picture).
    pub new: usize,
    /// Stored before, by a retried push or earlier in the batch: ignored.
    pub duplicates: usize,
}

/// A monitor's change the notifier does not have yet: its notification could not be
/// queued, or the change could not be saved. Tried again by [`retry_notices`].
#[derive(Debug, Clone)]
struct Unsent {
    state: MonitorState,
    /// What to queue (none: flap suppression held it back; only the save is owed).
    notice: Option<Notice>,
    saved: bool,
}

/// The monitors stage's handle: every monitor's picture, shared by the scheduler, the
/// writer and the API, and what they need. Cheap to clone.
#[derive(Clone)]
pub struct Monitors {
    inner: Arc<Inner>,
}

pub struct Inner {
    pub config: Arc<Config>,
    /// Where results and monitor states live.
    pub probes: Arc<dyn ProbeStore>,
    /// Where the latency baselines are saved.
    pub detection: Arc<dyn DetectionStore>,
    pub clock: Arc<dyn Clock>,
    pub notifier: Notifier,
    pub metrics: ProbeMetrics,
    region: Arc<str>,
    index: HashMap<String, usize>,
    /// Changes not yet told, oldest first.
    unsent: tokio::sync::Mutex<Vec<Unsent>>,
    latest: RwLock<HashMap<usize, BTreeMap<Arc<str>, RegionResult>>>,
    states: Mutex<Vec<Hysteresis>>,
    canary: Canary,
    pub skipped: AtomicU64,
    /// Latency baselines per monitor and region.
    pub latency: Latency,
}

impl Deref for Monitors {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl Monitors {
    pub fn new(
        config: Arc<Config>,
        probes: Arc<dyn ProbeStore>,
        detection: Arc<dyn DetectionStore>,
        clock: Arc<dyn Clock>,
        notifier: Notifier,
        registry: &mut Registry,
    ) -> Self {
        let monitors = &config.monitors;
        let count = monitors.len();
        let inner = Inner {
            region: Arc::from(config.server.region.as_str()),
            index: monitors
                .iter()
                .enumerate()
                .map(|(i, m)| (m.id.to_string(), i))
                .collect(),
            unsent: tokio::sync::Mutex::new(Vec::new()),
            latest: RwLock::new(HashMap::new()),
            states: Mutex::new(vec![Hysteresis::default(); count]),
            canary: Canary::default(),
            skipped: AtomicU64::new(0),
            latency: Latency::default(),
            metrics: ProbeMetrics::register(registry),
            notifier,
            clock,
            probes,
            detection,
            config,
        };
        Monitors {
            inner: Arc::new(inner),
        }
    }

    /// The index of the monitor with this id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The latest result per region of monitor `index`.
    pub fn latest(&self, index: usize) -> BTreeMap<Arc<str>, RegionResult> {
        self.latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&index)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether monitor `index` is open (down), since when, and why.
    pub fn state(&self, index: usize) -> (bool, Option<i64>, Option<Cause>) {
        let states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        states
            .get(index)
            .map_or((false, None, None), |h| (h.down, h.since_ms, h.cause))
    }
}

/// Restores saved states and recent results, then starts the scheduler and the writer.
pub async fn start(
    monitors: &Monitors,
    stopped: watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, StoreError> {
    let config = &monitors.config;
    if config.monitors.is_empty() {
        return Ok(Vec::new());
    }
    restore(monitors).await?;
    if let Err(e) = retry_notices(monitors).await {
        tracing::warn!(error = %e, "could not queue the monitor changes left from before; will retry");
    }
    let prober = match Prober::with_resolvers(&config.probes.resolvers) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the prober; monitors disabled");
            return Ok(Vec::new());
        }
    };
    let (tx, rx) = mpsc::channel(RESULT_QUEUE);
    let scheduler = Scheduler {
        prober: prober.clone(),
        clock: monitors.clock.clone(),
        concurrency: config.probes.concurrency,
    };
    // The configured monitors are the one plan; it never changes while the server runs.
    let (_, plan) = watch::channel(Some(Arc::new(ConfigPlan(config.clone()))));
    let local = Arc::new(Local {
        monitors: monitors.clone(),
        tx,
    });
    let mut tasks = vec![
        tokio::spawn(scheduler.run(plan, local, stopped.clone())),
        tokio::spawn(write_results(monitors.clone(), rx)),
    ];
    tasks.push(tokio::spawn(watch_certificates(
        monitors.clone(),
        stopped.clone(),
    )));
    if let Some(canary) = config.probes.canary.clone() {
        match ProbeSpec::tcp(&canary) {
            Ok(spec) => {
                let monitors = monitors.clone();
                tasks.push(tokio::spawn(async move {
                    let clock = monitors.clock.as_ref();
                    let target = || Some(spec.clone());
                    monitors.canary.watch(&prober, clock, target, stopped).await;
                }));
            }
            Err(_) => tracing::error!(%canary, "probes.canary is not host:port; canary disabled"),
        }
    }
    Ok(tasks)
}

/// Looks for certificates to warn about every [`CERTS_EVERY_MS`] of the clock's time, and
/// queues changes whose notification could not be queued ([`retry_notices`]) every
/// [`CERTS_LOOK_EVERY`].
async fn watch_certificates(monitors: Monitors, mut stopped: watch::Receiver<bool>) {
    let mut last: Option<i64> = None;
    loop {
        let now_ms = monitors.clock.now().as_millisecond();
        if last.is_none_or(|t| now_ms < t || now_ms - t >= CERTS_EVERY_MS) {
            last = Some(now_ms);
            certs::check(&monitors, now_ms).await;
        }
        if let Err(e) = retry_notices(&monitors).await {
            tracing::warn!(error = %e, "could not queue a monitor change yet; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(CERTS_LOOK_EVERY) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
    }
}

async fn restore(monitors: &Monitors) -> Result<(), StoreError> {
    monitors.latency.load(monitors.detection.as_ref()).await?;
    let index: HashMap<&str, usize> = monitors
        .config
        .monitors
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id.as_str(), i))
        .collect();
    let saved = monitors.probes.monitor_states().await?;
    {
        let mut states = monitors.states.lock().unwrap_or_else(|e| e.into_inner());
        for s in &saved {
            if let Some(&i) = index.get(s.monitor.as_str()) {
                states[i] = Hysteresis {
                    down: s.state == CheckState::Down,
                    since_ms: Some(s.since_ms),
                    cause: s.cause,
                    bad_rounds: 0,
                    good_rounds: 0,
                };
            }
        }
    }
    // A change saved but never queued (the process stopped, or the queue failed, in
    // between): queue it now, unless the monitor is flapping (then its summary tells).
    let untold: Vec<&MonitorState> = saved
        .iter()
        .filter(|s| !s.notified && index.contains_key(s.monitor.as_str()))
        .collect();
    if !untold.is_empty() {
        let notifier = &monitors.notifier;
        let flaps_known = notifier.flaps.load(notifier.store.as_ref()).await.is_ok();
        let mut unsent = monitors.unsent.lock().await;
        for s in untold {
            let m = &monitors.config.monitors[index[s.monitor.as_str()]];
            let held = flaps_known && notifier.flaps.is_flapping(m.id.as_str());
            unsent.push(Unsent {
                state: s.clone(),
                notice: (!held).then(|| Notifier::monitor_event(m, s)),
                saved: true,
            });
        }
    }
    let since = monitors.clock.now().as_millisecond() - 3_600_000;
    let rows = monitors.probes.latest_probe_results(since).await?;
    let mut latest = monitors.latest.write().unwrap_or_else(|e| e.into_inner());
    for r in rows {
        let (Some(&i), Ok(result)) = (
            index.get(r.monitor.as_str()),
            serde_json::from_str::<ProbeResult>(&r.result),
        ) else {
            continue;
        };
        let region: Arc<str> = Arc::from(r.region.as_str());
        let at = Timestamp::from_millisecond(r.at_ms).unwrap_or(result.started_at);
        latest.entry(i).or_default().insert(
            region.clone(),
            RegionResult {
                region,
                at,
                reliable: r.reliable,
                explanation: result.explanation(),
                result,
            },
        );
    }
    Ok(())
}

/// The server's configured monitors, as the shared scheduler sees them. Probes read their
/// spec from the shared config rather than from a copy of every spec.
struct ConfigPlan(Arc<Config>);

impl Plan for ConfigPlan {
    fn count(&self) -> usize {
        self.0.monitors.len()
    }
    fn id(&self, i: usize) -> &str {
        self.0.monitors[i].id.as_str()
    }
    fn interval(&self, i: usize) -> Duration {
        self.0.monitors[i].interval.as_duration()
    }
    fn spec(&self, i: usize) -> &ProbeSpec {
        &self.0.monitors[i].probe
    }
}

/// This node's own probes: lag and skipped rounds go to the metrics, results to the writer.
struct Local {
    monitors: Monitors,
    tx: mpsc::Sender<Incoming>,
}

impl Report<ConfigPlan> for Local {
    fn started(&self, _: &ConfigPlan, _: usize, late: Duration) {
        self.monitors
            .metrics
            .probe_lag_seconds
            .observe(late.as_secs_f64());
    }

    fn skipped(&self, _: &ConfigPlan, _: usize) {
        self.monitors.skipped.fetch_add(1, Ordering::Relaxed);
        self.monitors.metrics.probes_skipped.inc();
    }

    async fn finished(&self, _: &ConfigPlan, i: usize, result: ProbeResult) {
        let _ = self
            .tx
            .send(Incoming {
                index: i,
                region: self.monitors.region.clone(),
                reliable: None,
                result,
            })
            .await;
    }
}

async fn write_results(monitors: Monitors, mut rx: mpsc::Receiver<Incoming>) {
    let mut batch: Vec<Incoming> = Vec::with_capacity(MAX_BATCH);
    let mut last_save = Instant::now();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        // Failures are logged inside; local results still update the picture.
        let _ = record(&monitors, &mut batch, false).await;
        if last_save.elapsed() >= latency::SAVE_EVERY {
            last_save = Instant::now();
            save_latency(&monitors).await;
        }
    }
    save_latency(&monitors).await;
}

async fn save_latency(monitors: &Monitors) {
    let now_ms = monitors.clock.now().as_millisecond();
    if let Err(e) = monitors
        .latency
        .save(monitors.detection.as_ref(), now_ms)
        .await
    {
        tracing::warn!(error = %e, "could not save latency baselines; they will be relearned");
    }
}

/// Judges, stores and applies a batch of results (drained). With `must_store`, a batch the
/// store refuses is not applied either, and the error is returned (the agent retries it).
///
/// A result already stored (same monitor, region and start: a retried push) is counted as a
/// duplicate and changes nothing. A new result always goes to the history; it moves the
/// monitor's state only when it is current: not older than its region's latest result,
/// than the monitor's state, or (by more than the freshness window) than the newest result
/// of any region — the last two allowing for `[probes] agent_max_skew` between clocks. So a
/// backlog that arrives late fills history without replaying changes that have already
/// ended.
#[tracing::instrument(name = "probe results", skip_all, fields(results = batch.len()))]
pub async fn record(
    monitors: &Monitors,
    batch: &mut Vec<Incoming>,
    must_store: bool,
) -> Result<Recorded, StoreError> {
    let local_reliable = monitors.canary.reachable();
    let mut rows = Vec::with_capacity(batch.len());
    let mut judged = Vec::with_capacity(batch.len());
    for Incoming {
        index: i,
        region,
        reliable,
        mut result,
    } in batch.drain(..)
    {
        let m = &monitors.config.monitors[i];
        let reliable = reliable.unwrap_or(local_reliable);
        monitors.latency.judge(m.id.as_str(), &region, &mut result);
        rows.push(NewProbeResult {
            monitor: m.id.as_arc(),
            region: region.clone(),
            at_ms: result.started_at.as_millisecond(),
            outcome: result.outcome,
            cause: result.cause,
            total_ms: result.timings.total.map(|d| d.as_secs_f64() * 1000.0),
            reliable,
            result: serde_json::to_string(&result).unwrap_or_else(|_| "{}".into()),
        });
        judged.push((i, region, reliable, result));
    }
    let outcomes: Vec<&'static str> = rows.iter().map(|r| r.outcome.as_str()).collect();
    let count = rows.len();
    let mut failed = None;
    let new = match monitors.probes.insert_probe_results(rows).await {
        Ok(new) => new,
        Err(e) => {
            tracing::warn!(error = %e, "could not store probe results");
            if must_store {
                return Err(e);
            }
            // This node's own results still update the picture.
            failed = Some(e);
            vec![true; count]
        }
    };
    let mut changes = Vec::new();
    let mut recorded = Recorded::default();
    for ((i, region, reliable, result), (new, outcome)) in
        judged.into_iter().zip(new.into_iter().zip(outcomes))
    {
        if !new {
            recorded.duplicates += 1;
            continue;
        }
        recorded.new += 1;
        monitors
            .metrics
            .probes
            .get_or_create(&metrics::OutcomeLabel { outcome })
            .inc();
        let at_ms = result.started_at.as_millisecond();
        if apply(monitors, i, region, reliable, result)
            && let Some(change) = evaluate(monitors, i, at_ms)
        {
            changes.push(change);
        }
    }
    for c in changes {
        tracing::info!(monitor = %c.monitor, state = %c.state, cause = ?c.cause, "monitor state changed");
        tell(monitors, c).await;
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(recorded),
    }
}

/// Puts a new result of monitor `i` into its picture (unless its region has a newer one);
/// whether it is current enough to move the monitor's state (see [`record`]).
fn apply(
    monitors: &Monitors,
    i: usize,
    region: Arc<str>,
    reliable: bool,
    result: ProbeResult,
) -> bool {
    let m = &monitors.config.monitors[i];
    let fresh_ms = 3 * m.interval.as_millis() + m.probe.timeout().as_millis() as i64;
    let at = result.started_at;
    let at_ms = at.as_millisecond();
    let mut latest = monitors.latest.write().unwrap_or_else(|e| e.into_inner());
    let picture = latest.entry(i).or_default();
    if picture
        .get(&region)
        .is_some_and(|r| r.at.as_millisecond() > at_ms)
    {
        return false;
    }
    let newest_ms = picture
        .values()
        .map(|r| r.at.as_millisecond())
        .max()
        .unwrap_or(at_ms);
    let explanation = result.explanation();
    picture.insert(
        region.clone(),
        RegionResult {
            region,
            at,
            reliable,
            explanation,
            result,
        },
    );
    drop(latest);
    let since_ms = monitors
        .states
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(i)
        .and_then(|h| h.since_ms);
    // Across regions, times come from different clocks, which may differ by as much as
    // agents are allowed to be ahead: comparisons across them allow that much.
    let skew_ms = monitors.config.probes.agent_max_skew.as_millis();
    since_ms.is_none_or(|s| at_ms + skew_ms >= s) && at_ms + fresh_ms + skew_ms >= newest_ms
}

/// Saves a monitor's change and hands it to the notifier: judged against flap suppression
/// once, saved as not yet told, queued, then marked told. What fails is kept for
/// [`retry_notices`] (and a change saved untold is queued again at the next start).
async fn tell(monitors: &Monitors, mut state: MonitorState) {
    let m = &monitors.config.monitors[monitors.index[state.monitor.as_str()]];
    let notice = monitors.notifier.monitor_notice(m, &state).await;
    state.notified = notice.is_none();
    let mut unsent = Unsent {
        state,
        notice,
        saved: false,
    };
    let mut pending = monitors.unsent.lock().await;
    // Changes already waiting go first, so that one monitor's are told in order.
    if pending.is_empty() {
        match deliver(monitors, &mut unsent).await {
            Ok(()) => return,
            Err(e) => tracing::warn!(monitor = %unsent.state.monitor, error = %e,
                "could not save or queue a monitor change; will retry"),
        }
    }
    pending.push(unsent);
}

/// Saves (if not yet saved, and still the monitor's state) and queues one change, then
/// marks it told.
async fn deliver(monitors: &Monitors, u: &mut Unsent) -> Result<(), StoreError> {
    if !u.saved {
        if is_current(monitors, &u.state) {
            monitors.probes.save_monitor_state(u.state.clone()).await?;
        }
        u.saved = true;
    }
    if let Some(notice) = &u.notice {
        monitors.notifier.enqueue(notice.clone()).await?;
        u.notice = None;
    }
    if !u.state.notified {
        u.state.notified = true;
        if let Err(e) = monitors
            .probes
            .monitor_notified(&u.state.monitor, u.state.since_ms)
            .await
        {
            // Queued: at worst it is queued again at the next start, under the same id.
            tracing::warn!(monitor = %u.state.monitor, error = %e, "could not mark a monitor change as told");
        }
    }
    Ok(())
}

/// Whether `state` is still the monitor's state in memory (an older one must not be saved
/// over a newer one).
fn is_current(monitors: &Monitors, state: &MonitorState) -> bool {
    let Some(&i) = monitors.index.get(state.monitor.as_str()) else {
        return false;
    };
    let states = monitors.states.lock().unwrap_or_else(|e| e.into_inner());
    states[i].since_ms == Some(state.since_ms)
        && states[i].down == (state.state == CheckState::Down)
}

/// Saves and queues the monitor changes that could not be (oldest first), stopping at the
/// first failure; how many are done. Run every few seconds and at start.
pub async fn retry_notices(monitors: &Monitors) -> Result<usize, StoreError> {
    let mut pending = monitors.unsent.lock().await;
    let mut done = 0;
    while let Some(u) = pending.first_mut() {
        deliver(monitors, u).await?;
        pending.remove(0);
        done += 1;
    }
    Ok(done)
}

/// How many monitor changes wait to be saved or queued.
pub async fn untold(monitors: &Monitors) -> usize {
    monitors.unsent.lock().await.len()
}

/// Applies quorum and hysteresis after a new result of monitor `i`; returns a transition.
fn evaluate(monitors: &Monitors, i: usize, now_ms: i64) -> Option<MonitorState> {
    let m = &monitors.config.monitors[i];
    let settings: &ProbeSettings = &monitors.config.probes;
    let fresh_ms = 3 * m.interval.as_millis() + m.probe.timeout().as_millis() as i64;
    let latest = monitors.latest(i);
    let failing: Vec<&RegionResult> = latest
        .values()
        .filter(|r| {
            now_ms - r.at.as_millisecond() <= fresh_ms
                && r.reliable
                && r.result.outcome == Outcome::Down
        })
        .collect();
    let bad = failing.len() as u32 >= settings.quorum;
    let mut states = monitors.states.lock().unwrap_or_else(|e| e.into_inner());
    let h = &mut states[i];
    if bad {
        h.bad_rounds += 1;
        h.good_rounds = 0;
        if !h.down && h.bad_rounds >= settings.failures_to_open {
            h.down = true;
            h.since_ms = Some(now_ms);
            h.cause = most_common_cause(&failing);
            return Some(MonitorState {
                monitor: m.id.to_string(),
                state: CheckState::Down,
                since_ms: now_ms,
                cause: h.cause,
                notified: false,
            });
        }
    } else {
        h.good_rounds += 1;
        h.bad_rounds = 0;
        if h.down && h.good_rounds >= settings.successes_to_close {
            h.down = false;
            h.since_ms = Some(now_ms);
            h.cause = None;
            return Some(MonitorState {
                monitor: m.id.to_string(),
                state: CheckState::Up,
                since_ms: now_ms,
                cause: None,
                notified: false,
            });
        }
    }
    None
}

fn most_common_cause(failing: &[&RegionResult]) -> Option<Cause> {
    // Keyed by the machine word: a tie goes to the last word, as it always has.
    let mut counts: BTreeMap<&'static str, (Cause, usize)> = BTreeMap::new();
    for r in failing {
        if let Some(c) = r.result.cause {
            counts.entry(c.as_str()).or_insert((c, 0)).1 += 1;
        }
    }
    counts.into_values().max_by_key(|(_, n)| *n).map(|(c, _)| c)
}

/// The service-level diagnosis: which monitors fail where, and the probable cause.
pub fn diagnose(monitors: &Monitors, service: &str, now_ms: i64) -> String {
    let services_monitors: Vec<(usize, &MonitorConfig)> = monitors
        .config
        .monitors
        .iter()
        .enumerate()
        .filter(|(_, m)| m.service.as_str() == service)
        .collect();
    if services_monitors.is_empty() {
        return "No monitors configured.".into();
    }
    // cause -> (regions failing with it, one example explanation, monitors), keyed by the
    // machine word so that ties keep their order
    type Failing = (Cause, Vec<Arc<str>>, String, Vec<String>);
    let mut by_cause: BTreeMap<&'static str, Failing> = BTreeMap::new();
    let mut all_regions: Vec<Arc<str>> = Vec::new();
    let mut any = false;
    for (i, m) in &services_monitors {
        let fresh_ms = 3 * m.interval.as_millis() + m.probe.timeout().as_millis() as i64;
        for r in monitors.latest(*i).values() {
            if now_ms - r.at.as_millisecond() > fresh_ms {
                continue;
            }
            any = true;
            if !all_regions.contains(&r.region) {
                all_regions.push(r.region.clone());
            }
            if r.result.outcome == Outcome::Down
                && r.reliable
                && let Some(c) = r.result.cause
            {
                let e = by_cause
                    .entry(c.as_str())
                    .or_insert_with(|| (c, Vec::new(), r.explanation.clone(), Vec::new()));
                if !e.1.contains(&r.region) {
                    e.1.push(r.region.clone());
                }
                if !e.3.contains(&m.id.to_string()) {
                    e.3.push(m.id.to_string());
                }
            }
        }
    }
    if !any {
        return "No probe results yet.".into();
    }
    if by_cause.is_empty() {
        return format!(
            "All {} monitor{} pass from {} region{}.",
            services_monitors.len(),
            if services_monitors.len() == 1 {
                ""
            } else {
                "s"
            },
            all_regions.len(),
            if all_regions.len() == 1 { "" } else { "s" }
        );
    }
    let mut causes: Vec<Failing> = by_cause.into_values().collect();
    causes.sort_by_key(|(_, regions, _, monitors)| Reverse((regions.len(), monitors.len())));
    let parts: Vec<String> = causes
        .iter()
        .take(3)
        .map(|(cause, regions, example, mons)| {
            let names = regions
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let scope = if regions.len() == all_regions.len() {
                if all_regions.len() == 1 {
                    format!("the {names} probe fails")
                } else {
                    "all regions fail".into()
                }
            } else {
                format!(
                    "only {names} fail{}",
                    if regions.len() == 1 { "s" } else { "" }
                )
            };
            let hint = if regions.len() < all_regions.len() && cause.points_at_network() {
                ": regional network or CDN"
            } else {
                ""
            };
            format!(
                "{scope} {}{hint} — {} ({})",
                cause.operator_failing(),
                example.trim_end_matches('.'),
                mons.join(", ")
            )
        })
        .collect();
    let mut s = parts.join("; ");
    if let Some(first) = s.get(..1) {
        s = first.to_uppercase() + &s[1..];
    }
    s + "."
}
