//! The agent's loops: assignments (pulled every [`AgentOptions::refresh`]), a drift-free
//! schedule over them, the canary, a collector that writes results to the buffer every
//! [`AgentOptions::flush`], and a sender that delivers the buffer oldest first, retrying with
//! exponential backoff while the server is unreachable.

use crate::buffer::Buffer;
use crate::protocol::{
    ASSIGNMENTS_PATH, AssignedMonitor, Assignments, MAX_RESULTS_PER_PUSH, PushAnswer, PushedResult,
    RESULTS_PATH, ResultsPush,
};
use downbeat_domain::{Clock, SystemClock};
use downbeat_probe::{ProbeSpec, Prober};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::time::Instant;

/// How often the canary is checked.
const CANARY_EVERY: Duration = Duration::from_secs(30);
/// On a clock faster than real time, intervals shrink with it, but never below this.
const FASTEST: Duration = Duration::from_millis(20);
/// Backoff between failed requests: from the first to the last, doubling, with jitter.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Results waiting for the collector before probes wait.
const QUEUE: usize = 8_192;
/// A request to the server gives up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What `downbeat agent` was asked to do.
#[derive(Clone)]
pub struct AgentOptions {
    /// The server's base URL, e.g. `http://downbeat.internal:8080`.
    pub server: String,
    /// An API token allowed to run as an agent.
    pub token: String,
    /// This vantage's region name (a slug such as `eu-west`).
    pub region: String,
    /// Where undelivered results wait.
    pub buffer_dir: PathBuf,
    /// How often assignments are pulled again.
    pub refresh: Duration,
    /// How often collected results are written to the buffer and sent.
    pub flush: Duration,
    /// Most probes in flight at once.
    pub concurrency: usize,
    /// Most undelivered batches kept on disk (one batch per `flush` with results).
    pub max_buffered_batches: usize,
    /// A known-good `host:port` overriding the server's canary (none: the server's).
    pub canary: Option<String>,
    /// DNS servers (`ip:port`) the probes ask instead of `/etc/resolv.conf` (empty: the
    /// system's).
    pub resolvers: Vec<std::net::SocketAddr>,
    /// The time results are stamped with, and whose pace intervals follow (the demo runs
    /// agents on its fast clock; otherwise the system clock).
    pub clock: Arc<dyn Clock>,
}

impl AgentOptions {
    pub fn new(server: &str, token: &str, region: &str, buffer_dir: PathBuf) -> Self {
        AgentOptions {
            server: server.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            region: region.to_owned(),
            buffer_dir,
            refresh: Duration::from_secs(60),
            flush: Duration::from_secs(1),
            concurrency: 256,
            max_buffered_batches: 100_000,
            canary: None,
            resolvers: Vec::new(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("region `{0}` must be lowercase letters, digits and '-', like eu-west")]
    BadRegion(String),
    #[error("server URL `{0}` must start with http://")]
    BadServer(String),
    #[error("cannot open the buffer directory {0}: {1}")]
    Buffer(PathBuf, std::io::Error),
    #[error("cannot build the prober: {0}")]
    Prober(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// A running agent's shared parts.
pub struct Agent {
    opts: AgentOptions,
    http: reqwest::Client,
    buffer: Buffer,
    canary_ok: AtomicBool,
    flushed: Notify,
}

fn valid_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 64
        && r.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Agent {
    /// Checks the options and opens the buffer.
    pub fn new(opts: AgentOptions) -> Result<Arc<Self>, AgentError> {
        if !valid_region(&opts.region) {
            return Err(AgentError::BadRegion(opts.region));
        }
        if !opts.server.starts_with("http://") {
            return Err(AgentError::BadServer(opts.server));
        }
        let buffer = Buffer::open(&opts.buffer_dir, opts.max_buffered_batches)
            .map_err(|e| AgentError::Buffer(opts.buffer_dir.clone(), e))?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("downbeat-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AgentError::Client(e.to_string()))?;
        Ok(Arc::new(Agent {
            opts,
            http,
            buffer,
            canary_ok: AtomicBool::new(true),
            flushed: Notify::new(),
        }))
    }

    /// Runs until `shutdown` completes, then stops probing, writes what it collected to the
    /// buffer, makes one last delivery attempt and returns. Undelivered results stay in the
    /// buffer for the next start.
    pub async fn run(
        self: Arc<Self>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AgentError> {
        let prober = Prober::with_resolvers(&self.opts.resolvers)
            .map_err(|e| AgentError::Prober(e.to_string()))?;
        let (stop_tx, stop) = watch::channel(false);
        let (assign_tx, assign_rx) = watch::channel::<Option<Arc<Assignments>>>(None);
        let (results_tx, results_rx) = mpsc::channel(QUEUE);
        let pull = tokio::spawn(self.clone().pull_assignments(assign_tx, stop.clone()));
        let canary = tokio::spawn(self.clone().watch_canary(
            prober.clone(),
            assign_rx.clone(),
            stop.clone(),
        ));
        let schedule =
            tokio::spawn(
                self.clone()
                    .schedule(prober, assign_rx, results_tx, stop.clone()),
            );
        let collect = tokio::spawn(self.clone().collect(results_rx));
        let send = tokio::spawn(self.clone().send(stop.clone()));
        shutdown.await;
        tracing::info!("stopping: finishing probes in flight and buffering their results");
        let _ = stop_tx.send(true);
        let _ = pull.await;
        let _ = canary.await;
        let _ = schedule.await; // waits for probes in flight; drops the last sender
        let _ = collect.await; // everything collected is in the buffer now
        let _ = send.await;
        if let Err(e) = self.deliver_once().await {
            tracing::info!(pending = self.buffer.len(), error = %e, "results stay buffered for the next start");
        }
        Ok(())
    }

    /// The real time `d` of the agent's clock takes.
    fn real(&self, d: Duration) -> Duration {
        self.opts.clock.real(d, FASTEST)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.opts.server)
    }

    async fn fetch_assignments(&self) -> Result<Assignments, String> {
        let r = self
            .http
            // The region is a slug: nothing to escape.
            .get(format!(
                "{}?region={}",
                self.url(ASSIGNMENTS_PATH),
                self.opts.region
            ))
            .bearer_auth(&self.opts.token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        if !status.is_success() {
            let body = r.text().await.unwrap_or_default();
            return Err(format!("HTTP {status}: {body}"));
        }
        r.json::<Assignments>().await.map_err(|e| e.to_string())
    }

    async fn pull_assignments(
        self: Arc<Self>,
        tx: watch::Sender<Option<Arc<Assignments>>>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut backoff = Backoff::new();
        loop {
            let wait = match self.fetch_assignments().await {
                Ok(a) => {
                    backoff.reset();
                    let changed = tx.borrow().as_ref().is_none_or(|old| !same(old, &a));
                    if changed {
                        tracing::info!(monitors = a.monitors.len(), region = %a.region, "assignments received");
                        let _ = tx.send(Some(Arc::new(a)));
                    }
                    self.opts.refresh
                }
                Err(e) => {
                    let wait = backoff.next();
                    tracing::warn!(error = %e, retry_in = ?wait, "cannot fetch assignments");
                    wait.min(self.opts.refresh)
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
        }
    }

    async fn watch_canary(
        self: Arc<Self>,
        prober: Prober,
        assignments: watch::Receiver<Option<Arc<Assignments>>>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(self.opts.clock.real(CANARY_EVERY, FASTEST));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            let target = self
                .opts
                .canary
                .clone()
                .or_else(|| assignments.borrow().as_ref().and_then(|a| a.canary.clone()));
            let ok = match target.as_deref().map(ProbeSpec::tcp) {
                None => true,
                Some(Ok(spec)) => downbeat_probe::probe(&spec, &prober).await.is_up(),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "canary is not host:port; ignored");
                    true
                }
            };
            if self.canary_ok.swap(ok, Ordering::Relaxed) != ok {
                tracing::warn!(
                    ok,
                    "canary reachability changed; this vantage's results are {}",
                    if ok {
                        "trusted again"
                    } else {
                        "marked unreliable"
                    }
                );
            }
        }
    }

    async fn schedule(
        self: Arc<Self>,
        prober: Prober,
        mut assignments: watch::Receiver<Option<Arc<Assignments>>>,
        tx: mpsc::Sender<PushedResult>,
        mut stop: watch::Receiver<bool>,
    ) {
        let slots = Arc::new(Semaphore::new(self.opts.concurrency.max(1)));
        let mut current: Option<Arc<Assignments>> = None;
        let mut heap: BinaryHeap<Reverse<(Instant, usize)>> = BinaryHeap::new();
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            let next_due = heap.peek().map(|Reverse((due, _))| *due);
            tokio::select! {
                () = sleep_until_opt(next_due) => {}
                r = assignments.changed() => {
                    if r.is_err() { break; }
                    current = assignments.borrow_and_update().clone();
                    let start = Instant::now();
                    heap = current.iter().flat_map(|a| a.monitors.iter().enumerate())
                        .map(|(i, m)| Reverse((start + self.real(first_offset(m)), i)))
                        .collect();
                    continue;
                }
                _ = stop.changed() => break,
            }
            while tasks.try_join_next().is_some() {}
            let Some(a) = current.clone() else { continue };
            let now = Instant::now();
            while let Some(&Reverse((due, i))) = heap.peek() {
                if due > now {
                    break;
                }
                heap.pop();
                let m = &a.monitors[i];
                let interval = self.real(Duration::from_millis(m.interval_ms.max(1_000)));
                match slots.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let (a, prober, tx, me) =
                            (a.clone(), prober.clone(), tx.clone(), self.clone());
                        let started_at = self.opts.clock.now();
                        tasks.spawn(async move {
                            let m = &a.monitors[i];
                            let mut result = downbeat_probe::probe(&m.probe, &prober).await;
                            result.started_at = started_at;
                            drop(permit);
                            let reliable = me.canary_ok.load(Ordering::Relaxed);
                            let _ = tx
                                .send(PushedResult {
                                    monitor: m.id.clone(),
                                    reliable,
                                    result,
                                })
                                .await;
                        });
                    }
                    Err(_) => {
                        tracing::debug!(monitor = %m.id, "every probe slot busy; round skipped")
                    }
                }
                let mut next = due + interval;
                while next <= now {
                    next += interval;
                }
                heap.push(Reverse((next, i)));
            }
        }
        // Probes in flight finish (each within its timeout) and hand over their results.
        while tasks.join_next().await.is_some() {}
    }

    /// Writes collected results to the buffer every `flush` (and when the queue closes).
    async fn collect(self: Arc<Self>, mut rx: mpsc::Receiver<PushedResult>) {
        let mut batch = Vec::new();
        let mut tick = tokio::time::interval(self.opts.flush);
        loop {
            tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => {
                        batch.push(r);
                        if batch.len() >= MAX_RESULTS_PER_PUSH {
                            self.store_batch(&mut batch);
                        }
                    }
                    None => {
                        self.store_batch(&mut batch);
                        return;
                    }
                },
                _ = tick.tick() => self.store_batch(&mut batch),
            }
        }
    }

    fn store_batch(&self, batch: &mut Vec<PushedResult>) {
        if batch.is_empty() {
            return;
        }
        match self.buffer.append(batch) {
            Ok(()) => {
                batch.clear();
                self.flushed.notify_one();
            }
            // Keep them in memory and try again at the next flush.
            Err(e) => {
                tracing::error!(error = %e, results = batch.len(), "cannot write the result buffer")
            }
        }
    }

    /// Delivers the buffer, oldest first, until it is empty or stopping.
    async fn send(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut backoff = Backoff::new();
        loop {
            let wait = match self.deliver_once().await {
                Ok(true) => {
                    backoff.reset();
                    continue;
                }
                Ok(false) => None,
                Err(e) => {
                    let wait = backoff.next();
                    tracing::warn!(error = %e, pending = self.buffer.len(), retry_in = ?wait, "cannot deliver results; they stay buffered");
                    Some(wait)
                }
            };
            tokio::select! {
                () = sleep_until_opt(wait.map(|w| Instant::now() + w)) => {}
                () = self.flushed.notified(), if wait.is_none() => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Sends the oldest buffered batches once. `Ok(true)`: something was delivered (there
    /// may be more); `Ok(false)`: the buffer is empty.
    async fn deliver_once(&self) -> Result<bool, String> {
        let pending = self
            .buffer
            .oldest(MAX_RESULTS_PER_PUSH)
            .map_err(|e| format!("reading the buffer: {e}"))?;
        if pending.files.is_empty() {
            return Ok(false);
        }
        let push = ResultsPush {
            region: self.opts.region.clone(),
            results: pending.results,
        };
        let r = self
            .http
            .post(self.url(RESULTS_PATH))
            .bearer_auth(&self.opts.token)
            .json(&push)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        if status.is_success() {
            let answer: PushAnswer = r.json().await.unwrap_or_default();
            tracing::debug!(?answer, "results delivered");
            self.buffer
                .remove(&pending.files)
                .map_err(|e| format!("removing delivered batches: {e}"))?;
            return Ok(true);
        }
        let body = r.text().await.unwrap_or_default();
        Err(format!("HTTP {status}: {body}"))
    }
}

/// Whether two assignments schedule the same probes.
fn same(a: &Assignments, b: &Assignments) -> bool {
    a.canary == b.canary
        && a.monitors.len() == b.monitors.len()
        && a.monitors.iter().zip(&b.monitors).all(|(x, y)| {
            x.id == y.id && x.interval_ms == y.interval_ms && x.probe.def() == y.probe.def()
        })
}

/// Spreads first runs over the interval, stably per monitor id (as the server does).
fn first_offset(m: &AssignedMonitor) -> Duration {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    m.id.hash(&mut h);
    Duration::from_millis(h.finish() % m.interval_ms.max(1))
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Exponential backoff with jitter.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Backoff(BACKOFF_FIRST)
    }
    fn reset(&mut self) {
        self.0 = BACKOFF_FIRST;
    }
    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
        // ±25% so that many agents do not retry in lockstep after a server restart.
        let jitter = 0.75 + rand::random::<f64>() * 0.5;
        d.mul_f64(jitter)
    }
}
