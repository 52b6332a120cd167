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
//! between) is queued at the next start — and, with several nodes, by another node once
//! it has been left untold for [`ADOPT_UNTOLD_AFTER_MS`] (`adopt_orphans`). Its notice has
//! a stable id, so queuing it again sends nothing twice.
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
pub mod owners;

pub use metrics::ProbeMetrics;

use crate::latency::Latency;
use downbeat_config::{Config, MonitorConfig, ProbeSettings};
use downbeat_domain::Clock;
use downbeat_domain::event::{CheckState, Notice};
use downbeat_notify::Notifier;
use downbeat_probe::schedule::{Canary, Plan, Report, Scheduler};
use downbeat_probe::{Cause, Outcome, ProbeResult, ProbeSpec, Prober};
use downbeat_store::{ClusterStore, DetectionStore, ProbeStore};
use downbeat_store::{Judge, Judging, LatestResult, MonitorState, NewProbeResult, StoreError};
use jiff::Timestamp;
use owners::Owners;
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
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

/// A monitor's state as this node shows it (the counters that move it live in the store).
#[derive(Debug, Clone, Default)]
struct Hysteresis {
    down: bool,
    since_ms: Option<i64>,
    /// Typed in memory; a string only in the store's row.
    cause: Option<Cause>,
}

impl Hysteresis {
    fn of(s: &MonitorState) -> Self {
        Hysteresis {
            down: s.state == CheckState::Down,
            since_ms: Some(s.since_ms),
            cause: s.cause,
        }
    }
}

/// A monitor's latest result per region.
type Picture = BTreeMap<Arc<str>, RegionResult>;

/// A result on its way to the writer.
pub struct Incoming {
    /// The monitor's id (a result of a monitor no longer configured is dropped).
    pub monitor: Arc<str>,
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
    pub config: downbeat_config::Live,
    /// Where results and monitor states live.
    pub probes: Arc<dyn ProbeStore>,
    /// Where the latency baselines are saved.
    pub detection: Arc<dyn DetectionStore>,
    /// Who else is alive.
    pub cluster: Arc<dyn ClusterStore>,
    /// Which node probes which monitor.
    pub owners: Arc<Owners>,
    /// Quorum and hysteresis, as the store applies them.
    rule: Arc<Rule>,
    /// Monitors another node changed, to read again ([`follow`]).
    stale: Mutex<HashSet<String>>,
    stale_ring: tokio::sync::Notify,
    pub clock: Arc<dyn Clock>,
    pub notifier: Notifier,
    pub metrics: ProbeMetrics,
    region: Arc<str>,
    /// Changes not yet told, oldest first.
    unsent: tokio::sync::Mutex<Vec<Unsent>>,
    /// Each monitor's latest result per region, by monitor id.
    latest: RwLock<HashMap<Arc<str>, Picture>>,
    /// Each monitor's state as this node shows it, by monitor id.
    states: Mutex<HashMap<Arc<str>, Hysteresis>>,
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
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: downbeat_config::Live,
        probes: Arc<dyn ProbeStore>,
        detection: Arc<dyn DetectionStore>,
        cluster: Arc<dyn ClusterStore>,
        clock: Arc<dyn Clock>,
        node_id: Arc<str>,
        notifier: Notifier,
        registry: &mut Registry,
    ) -> Self {
        let inner = Inner {
            region: Arc::from(config.load().server.region.as_str()),
            rule: Arc::new(Rule {
                config: config.clone(),
            }),
            owners: Arc::new(Owners::new(node_id)),
            stale: Mutex::new(HashSet::new()),
            stale_ring: tokio::sync::Notify::new(),
            cluster,
            unsent: tokio::sync::Mutex::new(Vec::new()),
            latest: RwLock::new(HashMap::new()),
            states: Mutex::new(HashMap::new()),
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

    /// The latest result per region of monitor `id`.
    pub fn latest(&self, id: &str) -> BTreeMap<Arc<str>, RegionResult> {
        self.latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether monitor `id` is open (down), since when, and why.
    pub fn state(&self, id: &str) -> (bool, Option<i64>, Option<Cause>) {
        let states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        states
            .get(id)
            .map_or((false, None, None), |h| (h.down, h.since_ms, h.cause))
    }

    /// Forgets what this node shows of monitors no longer configured (after a change of
    /// config; their rows stay in the store, and come back if the monitor does).
    pub fn forget_removed(&self) {
        let config = self.config.load();
        let keep = |id: &Arc<str>| config.monitor(id).is_some();
        self.latest
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|id, _| keep(id));
        self.states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|id, _| keep(id));
    }
}

/// Restores saved states and recent results, then starts the scheduler and the writer.
pub async fn start(
    monitors: &Monitors,
    stopped: watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, StoreError> {
    let config = monitors.config.get();
    restore(monitors).await?;
    // Before the first round: which monitors are this node's (on PostgreSQL, a share).
    let shared = monitors.owners.beat(monitors.cluster.as_ref()).await?;
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
    // The configured monitors are the plan; a change of config hands the scheduler a new
    // one (rounds fall on the same instants, so a monitor that stays keeps its cadence).
    let (plans, plan) = watch::channel(Some(Arc::new(ConfigPlan {
        config: config.clone(),
        owners: monitors.owners.clone(),
    })));
    let local = Arc::new(Local {
        monitors: monitors.clone(),
        tx,
    });
    let mut tasks = vec![
        tokio::spawn(scheduler.run(plan, local, stopped.clone())),
        tokio::spawn(follow_config(monitors.clone(), plans, stopped.clone())),
        tokio::spawn(write_results(monitors.clone(), rx)),
    ];
    tasks.push(tokio::spawn(watch_certificates(
        monitors.clone(),
        shared,
        stopped.clone(),
    )));
    if shared {
        tasks.push(tokio::spawn(
            monitors
                .owners
                .clone()
                .run(monitors.cluster.clone(), stopped.clone()),
        ));
        tasks.push(tokio::spawn(follow(monitors.clone(), stopped.clone())));
    }
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
/// [`CERTS_LOOK_EVERY`] — on a `shared` store, other nodes' orphaned ones too
/// ([`adopt_orphans`]).
async fn watch_certificates(monitors: Monitors, shared: bool, mut stopped: watch::Receiver<bool>) {
    let mut last: Option<i64> = None;
    loop {
        let now_ms = monitors.clock.now().as_millisecond();
        if last.is_none_or(|t| now_ms < t || now_ms - t >= CERTS_EVERY_MS) {
            last = Some(now_ms);
            certs::check(&monitors, now_ms).await;
        }
        if shared && let Err(e) = adopt_orphans(&monitors).await {
            tracing::warn!(error = %e, "could not look for monitor changes left untold; will retry");
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

/// Hands the scheduler a new plan at every change of config, and forgets what it showed of
/// monitors that are gone.
async fn follow_config(
    monitors: Monitors,
    plans: watch::Sender<Option<Arc<ConfigPlan>>>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut changes = monitors.config.changes();
    loop {
        tokio::select! {
            r = changes.changed() => if r.is_err() { return },
            _ = stopped.changed() => return,
        }
        let config = monitors.config.get();
        monitors.forget_removed();
        // A monitor added since: its saved state and recent results, if it had some.
        let ids: Vec<String> = config.monitors.iter().map(|m| m.id.to_string()).collect();
        if let Err(e) = read_again(&monitors, ids).await {
            tracing::warn!(error = %e, "could not read the states of the monitors now configured");
        }
        let _ = plans.send(Some(Arc::new(ConfigPlan {
            config,
            owners: monitors.owners.clone(),
        })));
    }
}

async fn restore(monitors: &Monitors) -> Result<(), StoreError> {
    monitors.latency.load(monitors.detection.as_ref()).await?;
    let config = monitors.config.get();
    let saved = monitors.probes.monitor_states().await?;
    {
        let mut states = monitors.states.lock().unwrap_or_else(|e| e.into_inner());
        for s in &saved {
            if let Some(m) = config.monitor(&s.monitor) {
                states.insert(m.id.as_arc(), Hysteresis::of(s));
            }
        }
    }
    // A change saved but never queued (the process stopped, or the queue failed, in
    // between): queue it now.
    adopt(monitors, &saved, None).await;
    let since = monitors.clock.now().as_millisecond() - 3_600_000;
    let rows = monitors.probes.latest_probe_results(since).await?;
    let mut latest = monitors.latest.write().unwrap_or_else(|e| e.into_inner());
    for r in rows {
        let (Some(m), Ok(result)) = (
            config.monitor(&r.monitor),
            serde_json::from_str::<ProbeResult>(&r.result),
        ) else {
            continue;
        };
        let region: Arc<str> = Arc::from(r.region.as_str());
        let at = Timestamp::from_millisecond(r.at_ms).unwrap_or(result.started_at);
        latest.entry(m.id.as_arc()).or_default().insert(
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

/// How long a change saved untold waits for the node that decided it before another node
/// tells it: well past that node's timeout (`NODE_TIMEOUT_MS`) and its own retries
/// ([`CERTS_LOOK_EVERY`]).
const ADOPT_UNTOLD_AFTER_MS: i64 = 15_000;

/// Takes over the changes `saved` holds as untold — all of them, or with `older_than_ms`
/// only those that changed before it — for [`retry_notices`] to queue, unless this node
/// already holds them; held back while the monitor is flapping (its summary tells). How
/// many it took. Each notice has a stable id: a change queued by two nodes is sent once.
async fn adopt(monitors: &Monitors, saved: &[MonitorState], older_than_ms: Option<i64>) -> usize {
    let config = monitors.config.get();
    let untold: Vec<&MonitorState> = saved
        .iter()
        .filter(|s| !s.notified && config.monitor(&s.monitor).is_some())
        .filter(|s| older_than_ms.is_none_or(|t| s.since_ms < t))
        .collect();
    if untold.is_empty() {
        return 0;
    }
    let notifier = &monitors.notifier;
    let flaps_known = notifier.flaps.load(notifier.store.as_ref()).await.is_ok();
    let mut unsent = monitors.unsent.lock().await;
    let mut taken = 0;
    for s in untold {
        let mine = unsent
            .iter()
            .any(|u| u.state.monitor == s.monitor && u.state.since_ms == s.since_ms);
        if mine {
            continue;
        }
        let Some(m) = config.monitor(&s.monitor) else {
            continue;
        };
        let held = flaps_known && notifier.flaps.is_flapping(m.id.as_str());
        unsent.push(Unsent {
            state: s.clone(),
            notice: (!held).then(|| Notifier::monitor_event(m, s)),
            saved: true,
        });
        taken += 1;
    }
    taken
}

/// On a store shared by several nodes: the changes another node decided and left untold
/// for [`ADOPT_UNTOLD_AFTER_MS`] — it died between the commit and the queue — are told by
/// this one, instead of waiting for some node's next start.
async fn adopt_orphans(monitors: &Monitors) -> Result<usize, StoreError> {
    let saved = monitors.probes.monitor_states().await?;
    let before = monitors.clock.now().as_millisecond() - ADOPT_UNTOLD_AFTER_MS;
    let taken = adopt(monitors, &saved, Some(before)).await;
    if taken > 0 {
        tracing::info!(
            changes = taken,
            "telling monitor changes another node decided and left untold"
        );
    }
    Ok(taken)
}

/// The server's configured monitors, as the shared scheduler sees them: this node probes
/// the rounds of the monitors it owns. Probes read their spec from the shared config rather
/// than from a copy of every spec.
struct ConfigPlan {
    config: Arc<Config>,
    owners: Arc<Owners>,
}

impl Plan for ConfigPlan {
    fn count(&self) -> usize {
        self.config.monitors.len()
    }
    fn id(&self, i: usize) -> &str {
        self.config.monitors[i].id.as_str()
    }
    fn interval(&self, i: usize) -> Duration {
        self.config.monitors[i].interval.as_duration()
    }
    fn spec(&self, i: usize) -> &ProbeSpec {
        &self.config.monitors[i].probe
    }
    fn mine(&self, i: usize) -> bool {
        self.owners.mine(self.config.monitors[i].id.as_str())
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

    async fn finished(&self, plan: &ConfigPlan, i: usize, result: ProbeResult) {
        let _ = self
            .tx
            .send(Incoming {
                monitor: plan.config.monitors[i].id.as_arc(),
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
/// store refuses is returned as an error (the agent retries it).
///
/// A result already stored (same monitor, region and start: a retried push) is counted as a
/// duplicate and changes nothing. A new result always goes to the history; the store judges
/// it with [`Rule`] in the same transaction, against the counters and state every node
/// shares, so a change is decided once whichever node stored the result. It moves the
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
    let config = monitors.config.get();
    for Incoming {
        monitor,
        region,
        reliable,
        mut result,
    } in batch.drain(..)
    {
        // A monitor removed while its probe ran: nothing to record.
        let Some(m) = config.monitor(&monitor) else {
            continue;
        };
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
        judged.push((m.id.as_arc(), region, reliable, result));
    }
    let outcomes: Vec<&'static str> = rows.iter().map(|r| r.outcome.as_str()).collect();
    let count = rows.len();
    let rule: Arc<dyn Judge> = monitors.rule.clone();
    let (new, changes, failed) = match monitors.probes.record_probe_results(rows, rule).await {
        Ok(j) => (j.new, j.changes, None),
        Err(e) => {
            tracing::warn!(error = %e, "could not store probe results");
            if must_store {
                return Err(e);
            }
            // This node's own results are still shown; nothing is judged without the store.
            (vec![true; count], Vec::new(), Some(e))
        }
    };
    let mut recorded = Recorded::default();
    for ((id, region, reliable, result), (new, outcome)) in
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
        show(monitors, id, region, reliable, result);
    }
    for c in changes {
        tracing::info!(monitor = %c.monitor, state = %c.state, cause = ?c.cause, "monitor state changed");
        set_state(monitors, &c);
        tell(monitors, c).await;
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(recorded),
    }
}

/// Puts a result of monitor `id` into the picture this node shows, unless its region has
/// a newer one there.
fn show(monitors: &Monitors, id: Arc<str>, region: Arc<str>, reliable: bool, result: ProbeResult) {
    let at = result.started_at;
    let mut latest = monitors.latest.write().unwrap_or_else(|e| e.into_inner());
    let picture = latest.entry(id).or_default();
    if picture.get(&region).is_some_and(|r| r.at > at) {
        return;
    }
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
}

/// Shows `state` as its monitor's, unless this node already shows a newer one.
fn set_state(monitors: &Monitors, state: &MonitorState) {
    let Some(id) = monitors
        .config
        .load()
        .monitor(&state.monitor)
        .map(|m| m.id.as_arc())
    else {
        return;
    };
    let mut states = monitors.states.lock().unwrap_or_else(|e| e.into_inner());
    let shown = states.entry(id).or_default();
    if shown.since_ms.is_none_or(|s| s <= state.since_ms) {
        *shown = Hysteresis::of(state);
    }
}

/// Marks monitor `id` as changed by another node: its state and latest results are read
/// again within moments ([`follow`]).
pub fn changed_elsewhere(monitors: &Monitors, id: &str) {
    if monitors.config.load().monitor(id).is_none() {
        return;
    }
    monitors
        .stale
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id.to_owned());
    monitors.stale_ring.notify_one();
}

/// Marks every monitor as changed elsewhere (the change feed lost notifications).
pub fn all_changed_elsewhere(monitors: &Monitors) {
    let mut stale = monitors.stale.lock().unwrap_or_else(|e| e.into_inner());
    stale.extend(
        monitors
            .config
            .load()
            .monitors
            .iter()
            .map(|m| m.id.to_string()),
    );
    drop(stale);
    monitors.stale_ring.notify_one();
}

/// How long stale monitors wait to be read together.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// Reads again, a few times a second at most, the monitors other nodes changed: their
/// states and latest results, into this node's picture.
async fn follow(monitors: Monitors, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = monitors.stale_ring.notified() => {}
            _ = stopped.changed() => return,
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
        let ids: Vec<String> =
            std::mem::take(&mut *monitors.stale.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
        if let Err(e) = read_again(&monitors, ids.clone()).await {
            tracing::warn!(error = %e, "could not read other nodes' monitor changes; will retry");
            monitors
                .stale
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(ids);
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stopped.changed() => return,
            }
            monitors.stale_ring.notify_one();
        }
    }
}

/// How far back [`read_again`] looks: the result that moved a monitor is a recent one (an
/// older one is not shown over a newer one anyway), give or take an agent's clock.
const READ_AGAIN_MS: i64 = 5 * 60_000;

/// Reads the states and latest results of `ids` from the store into the picture.
pub async fn read_again(monitors: &Monitors, ids: Vec<String>) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let back = READ_AGAIN_MS + monitors.config.load().probes.agent_max_skew.as_millis();
    let since = monitors.clock.now().as_millisecond() - back;
    let (states, results) = monitors.probes.monitor_pictures(ids, since).await?;
    for s in &states {
        set_state(monitors, s);
    }
    for r in results {
        let (Some(id), Ok(result)) = (
            monitors
                .config
                .load()
                .monitor(&r.monitor)
                .map(|m| m.id.as_arc()),
            serde_json::from_str::<ProbeResult>(&r.result),
        ) else {
            continue;
        };
        show(
            monitors,
            id,
            Arc::from(r.region.as_str()),
            r.reliable,
            result,
        );
    }
    Ok(())
}

/// Hands a decided change (saved untold by the store) to the notifier: judged against flap
/// suppression once, queued, then marked told. What fails is kept for [`retry_notices`]
/// (and a change left untold is queued again at the next start).
async fn tell(monitors: &Monitors, state: MonitorState) {
    let config = monitors.config.get();
    // A change decided for a monitor removed meanwhile is saved and told all the same: its
    // notice was decided while it was configured.
    let notice = match config.monitor(&state.monitor) {
        Some(m) => monitors.notifier.monitor_notice(m, &state).await,
        None => None,
    };
    let mut unsent = Unsent {
        state,
        notice,
        saved: true,
    };
    let mut pending = monitors.unsent.lock().await;
    // Changes already waiting go first, so that one monitor's are told in order.
    if pending.is_empty() {
        match deliver(monitors, &mut unsent).await {
            Ok(()) => return,
            Err(e) => tracing::warn!(monitor = %unsent.state.monitor, error = %e,
                "could not queue a monitor change; will retry"),
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
    let states = monitors.states.lock().unwrap_or_else(|e| e.into_inner());
    states.get(state.monitor.as_str()).is_some_and(|h| {
        h.since_ms == Some(state.since_ms) && h.down == (state.state == CheckState::Down)
    })
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

/// Quorum and hysteresis over the configured monitors: the rule the store applies to each
/// batch of results ([`Judge`]), against the counters and state every node shares.
struct Rule {
    /// The config in force: a monitor removed meanwhile is judged no more.
    config: downbeat_config::Live,
}

/// How long a result counts in its monitor's quorum.
fn fresh_ms(m: &MonitorConfig) -> i64 {
    3 * m.interval.as_millis() + m.probe.timeout().as_millis() as i64
}

impl Judge for Rule {
    fn lookback_ms(&self, monitor: &str) -> i64 {
        let config = self.config.load();
        let skew_ms = config.probes.agent_max_skew.as_millis();
        config.monitor(monitor).map_or(0, |m| fresh_ms(m) + skew_ms)
    }

    fn judge(
        &self,
        monitor: &str,
        judging: &mut Judging,
        latest: Vec<LatestResult>,
        new: &[&NewProbeResult],
    ) -> Vec<MonitorState> {
        let config = self.config.load();
        let Some(m) = config.monitor(monitor) else {
            return Vec::new();
        };
        let mut latest: BTreeMap<String, LatestResult> =
            latest.into_iter().map(|r| (r.region.clone(), r)).collect();
        let mut changes = Vec::new();
        for r in new {
            if current(&config.probes, m, judging, &mut latest, r)
                && let Some(change) = evaluate(&config.probes, m, judging, &latest, r.at_ms)
            {
                judging.state = Some(change.clone());
                changes.push(change);
            }
        }
        changes
    }
}

/// Puts `r` into the latest results (unless its region has a newer one); whether it is
/// current enough to move the monitor's state (see [`record`]).
fn current(
    settings: &ProbeSettings,
    m: &MonitorConfig,
    judging: &Judging,
    latest: &mut BTreeMap<String, LatestResult>,
    r: &NewProbeResult,
) -> bool {
    let at_ms = r.at_ms;
    if latest.get(&*r.region).is_some_and(|l| l.at_ms > at_ms) {
        return false;
    }
    let newest_ms = latest.values().map(|l| l.at_ms).max().unwrap_or(at_ms);
    latest.insert(
        r.region.to_string(),
        LatestResult {
            region: r.region.to_string(),
            at_ms,
            outcome: r.outcome,
            cause: r.cause,
            reliable: r.reliable,
        },
    );
    let since_ms = judging.state.as_ref().map(|s| s.since_ms);
    // Across regions, times come from different clocks, which may differ by as much as
    // agents are allowed to be ahead: comparisons across them allow that much.
    let skew_ms = settings.agent_max_skew.as_millis();
    since_ms.is_none_or(|s| at_ms + skew_ms >= s) && at_ms + fresh_ms(m) + skew_ms >= newest_ms
}

/// Applies quorum and hysteresis as of `now_ms` (a new current result's time); returns a
/// transition.
fn evaluate(
    settings: &ProbeSettings,
    m: &MonitorConfig,
    h: &mut Judging,
    latest: &BTreeMap<String, LatestResult>,
    now_ms: i64,
) -> Option<MonitorState> {
    let fresh_ms = fresh_ms(m);
    let failing: Vec<&LatestResult> = latest
        .values()
        .filter(|r| now_ms - r.at_ms <= fresh_ms && r.reliable && r.outcome == Outcome::Down)
        .collect();
    let bad = failing.len() as u32 >= settings.quorum;
    let down = h
        .state
        .as_ref()
        .is_some_and(|s| s.state == CheckState::Down);
    if bad {
        h.bad_rounds = h.bad_rounds.saturating_add(1);
        h.good_rounds = 0;
        if !down && h.bad_rounds >= settings.failures_to_open {
            return Some(MonitorState {
                monitor: m.id.to_string(),
                state: CheckState::Down,
                since_ms: now_ms,
                cause: most_common_cause(&failing),
                notified: false,
            });
        }
    } else {
        h.good_rounds = h.good_rounds.saturating_add(1);
        h.bad_rounds = 0;
        if down && h.good_rounds >= settings.successes_to_close {
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

fn most_common_cause(failing: &[&LatestResult]) -> Option<Cause> {
    // Keyed by the machine word: a tie goes to the last word, as it always has.
    let mut counts: BTreeMap<&'static str, (Cause, usize)> = BTreeMap::new();
    for r in failing {
        if let Some(c) = r.cause {
            counts.entry(c.as_str()).or_insert((c, 0)).1 += 1;
        }
    }
    counts.into_values().max_by_key(|(_, n)| *n).map(|(c, _)| c)
}

/// The service-level diagnosis: which monitors fail where, and the probable cause.
pub fn diagnose(monitors: &Monitors, service: &str, now_ms: i64) -> String {
    let config = monitors.config.get();
    let services_monitors: Vec<&MonitorConfig> = config
        .monitors
        .iter()
        .filter(|m| m.service.as_str() == service)
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
    for m in &services_monitors {
        let fresh_ms = 3 * m.interval.as_millis() + m.probe.timeout().as_millis() as i64;
        for r in monitors.latest(m.id.as_str()).values() {
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
