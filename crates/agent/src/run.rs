//! The agent's loops: assignments (pulled every [`AgentOptions::refresh`]), the drift-free
//! schedule the server runs too ([`downbeat_probe::schedule`]) over them, the canary, a collector that writes results to the buffer every
//! [`AgentOptions::flush`], and a sender that delivers the buffer oldest first, retrying with
//! exponential backoff while the server is unreachable.

use crate::buffer::{Buffer, Pending};
use crate::http::{Client, HttpError, ServerError};
use crate::protocol::{
    ASSIGNMENTS_PATH, Assignments, MAX_RESULTS_PER_PUSH, PushAnswer, PushedResult, RESULTS_PATH,
    ResultsPush,
};
use downbeat_domain::{Clock, SystemClock};
use downbeat_probe::schedule::{Canary, Report, Scheduler};
use downbeat_probe::{ProbeResult, ProbeSpec, Prober};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;
/// Backoff between failed requests: from the first to the last, doubling, with jitter.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Results waiting for the collector before probes wait.
const QUEUE: usize = 8_192;
/// A request to the server gives up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Each push's body is kept under this many bytes: half of what the server reads
/// (`downbeat_api::agent::RESULTS_BODY_LIMIT`, 2 MiB), so a server with a smaller limit in
/// some version, or a proxy in front, still takes it.
pub const MAX_PUSH_BYTES: usize = 1024 * 1024;

/// What `downbeat agent` was asked to do.
#[derive(Clone)]
pub struct AgentOptions {
    /// The server's base URL, e.g. `https://downbeat.example` (`http://` only to this
    /// machine, or with `allow_plain_http`).
    pub server: String,
    /// A PEM file of the CA that signed the server's certificate (a private CA): trusted
    /// instead of the public roots.
    pub ca_file: Option<PathBuf>,
    /// Speak plain HTTP to a server on another machine (the token and the monitors'
    /// headers cross the network in clear).
    pub allow_plain_http: bool,
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
            ca_file: None,
            allow_plain_http: false,
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
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("cannot open the buffer directory {0}: {1}")]
    Buffer(PathBuf, std::io::Error),
    #[error("cannot build the prober: {0}")]
    Prober(String),
}

/// Why talking to the server failed this time (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error(transparent)]
    Transport(#[from] HttpError),
    #[error("HTTP {status}: {body}")]
    Refused {
        status: hyper::StatusCode,
        body: String,
    },
    #[error("unreadable assignments: {0}")]
    Assignments(#[source] serde_json::Error),
    #[error("reading the buffer: {0}")]
    ReadBuffer(#[source] std::io::Error),
    #[error("removing delivered batches: {0}")]
    RemoveBatches(#[source] std::io::Error),
}

/// A running agent's shared parts.
pub struct Agent {
    opts: AgentOptions,
    http: Client,
    buffer: Buffer,
    canary: Canary,
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
        let http = Client::new(
            &opts.server,
            opts.ca_file.as_deref(),
            opts.allow_plain_http,
            &opts.token,
            concat!("downbeat-agent/", env!("CARGO_PKG_VERSION")),
            REQUEST_TIMEOUT,
        )?;
        let buffer = Buffer::open(&opts.buffer_dir, opts.max_buffered_batches)
            .map_err(|e| AgentError::Buffer(opts.buffer_dir.clone(), e))?;
        Ok(Arc::new(Agent {
            opts,
            http,
            buffer,
            canary: Canary::default(),
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
        let canary = tokio::spawn({
            let (me, prober, assignments, stop) = (
                self.clone(),
                prober.clone(),
                assign_rx.clone(),
                stop.clone(),
            );
            async move {
                let target = || me.canary(&assignments);
                let clock = me.opts.clock.as_ref();
                me.canary.watch(&prober, clock, target, stop).await;
            }
        });
        let scheduler = Scheduler {
            prober,
            clock: self.opts.clock.clone(),
            concurrency: self.opts.concurrency,
        };
        let pushed = Arc::new(Pushed {
            agent: self.clone(),
            tx: results_tx,
        });
        let schedule = tokio::spawn(scheduler.run(assign_rx, pushed, stop.clone()));
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

    async fn fetch_assignments(&self) -> Result<Assignments, ExchangeError> {
        // The region is a slug: nothing to escape.
        let path = format!("{ASSIGNMENTS_PATH}?region={}", self.opts.region);
        let answer = self.http.get(&path).await?;
        if !answer.status.is_success() {
            return Err(refused(answer));
        }
        serde_json::from_slice(&answer.body).map_err(ExchangeError::Assignments)
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

    /// The canary of `--canary`, else the server's; read again for every check, as the
    /// assignments may change it. One that is not `host:port` counts as none.
    fn canary(&self, assignments: &watch::Receiver<Option<Arc<Assignments>>>) -> Option<ProbeSpec> {
        let target = self
            .opts
            .canary
            .clone()
            .or_else(|| assignments.borrow().as_ref().and_then(|a| a.canary.clone()))?;
        ProbeSpec::tcp(&target)
            .inspect_err(|e| tracing::warn!(error = %e, "canary is not host:port; ignored"))
            .ok()
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

    /// Sends the oldest buffered batches once, in as many pushes as fit the server's
    /// limits. `Ok(true)`: something was delivered or dropped (there may be more);
    /// `Ok(false)`: the buffer is empty.
    ///
    /// A push the server refuses for what it holds (400, 413, 422: a result it will never
    /// take, such as one older than it accepts) is sent again batch by batch, so that the
    /// batches sent with it are not lost; a batch refused alone is dropped, with the
    /// server's reason logged as an error, instead of blocking the queue for good. Other
    /// failures (unreachable, 401, 403, 503) leave everything buffered for the retry.
    async fn deliver_once(&self) -> Result<bool, ExchangeError> {
        let pending = self
            .buffer
            .oldest(MAX_RESULTS_PER_PUSH)
            .map_err(ExchangeError::ReadBuffer)?;
        if pending.batches.is_empty() {
            return Ok(false);
        }
        let all: Vec<PushedResult> = pending
            .batches
            .iter()
            .flat_map(|b| b.results.iter().cloned())
            .collect();
        match self.push_all(all).await {
            Ok(()) => {
                self.remove(&pending)?;
                Ok(true)
            }
            Err(e) if pending.batches.len() > 1 && is_final(&e) => {
                tracing::warn!(error = %e, "the server refused a push; sending its batches one by one");
                for batch in pending.batches {
                    match self.push_all(batch.results).await {
                        Ok(()) => {}
                        Err(e) if is_final(&e) => {
                            tracing::error!(error = %e, "the server refuses a buffered batch; dropped")
                        }
                        Err(e) => return Err(e),
                    }
                    self.buffer
                        .remove(std::slice::from_ref(&batch.path))
                        .map_err(ExchangeError::RemoveBatches)?;
                }
                Ok(true)
            }
            Err(e) if is_final(&e) => {
                tracing::error!(error = %e, "the server refuses a buffered batch; dropped");
                self.remove(&pending)?;
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    fn remove(&self, pending: &Pending) -> Result<(), ExchangeError> {
        self.buffer
            .remove(&pending.files())
            .map_err(ExchangeError::RemoveBatches)
    }

    /// Pushes `results` in pushes that fit [`MAX_RESULTS_PER_PUSH`] and [`MAX_PUSH_BYTES`].
    async fn push_all(&self, results: Vec<PushedResult>) -> Result<(), ExchangeError> {
        for results in split(results, MAX_RESULTS_PER_PUSH, MAX_PUSH_BYTES) {
            let push = ResultsPush {
                region: self.opts.region.clone(),
                results,
            };
            let body = serde_json::to_vec(&push).unwrap_or_default();
            let answer = self.http.post_json(RESULTS_PATH, body).await?;
            if !answer.status.is_success() {
                return Err(refused(answer));
            }
            let answer: PushAnswer = serde_json::from_slice(&answer.body).unwrap_or_default();
            tracing::debug!(?answer, "results delivered");
        }
        Ok(())
    }
}

/// The error of an answer that is not a success, with the server's words.
fn refused(answer: crate::http::Answer) -> ExchangeError {
    ExchangeError::Refused {
        status: answer.status,
        body: String::from_utf8_lossy(&answer.body).into_owned(),
    }
}

/// Whether the server refused what was sent (and will again), rather than failing now.
fn is_final(e: &ExchangeError) -> bool {
    matches!(e, ExchangeError::Refused { status, .. }
        if matches!(status.as_u16(), 400 | 413 | 422))
}

/// Room for `{"region":…,"results":[]}` around the results.
const PUSH_ENVELOPE_BYTES: usize = 256;

/// `results` in order, in pushes of at most `max_results` results whose JSON stays under
/// `max_bytes` (a result larger than that on its own goes alone, and the server says
/// whether it takes it).
pub fn split(
    results: Vec<PushedResult>,
    max_results: usize,
    max_bytes: usize,
) -> Vec<Vec<PushedResult>> {
    let mut pushes = Vec::new();
    let mut current = Vec::new();
    let mut bytes = PUSH_ENVELOPE_BYTES;
    for r in results {
        // The result's JSON and the comma before it.
        let size = serde_json::to_vec(&r).map_or(0, |v| v.len()) + 1;
        if !current.is_empty() && (current.len() >= max_results || bytes + size > max_bytes) {
            pushes.push(std::mem::take(&mut current));
            bytes = PUSH_ENVELOPE_BYTES;
        }
        bytes += size;
        current.push(r);
    }
    if !current.is_empty() {
        pushes.push(current);
    }
    pushes
}

/// Whether two assignments schedule the same probes.
fn same(a: &Assignments, b: &Assignments) -> bool {
    a.canary == b.canary
        && a.monitors.len() == b.monitors.len()
        && a.monitors.iter().zip(&b.monitors).all(|(x, y)| {
            x.id == y.id && x.interval_ms == y.interval_ms && x.probe.def() == y.probe.def()
        })
}

/// The agent's probes: results to the collector, marked reliable while the canary answers.
struct Pushed {
    agent: Arc<Agent>,
    tx: mpsc::Sender<PushedResult>,
}

impl Report<Assignments> for Pushed {
    fn skipped(&self, plan: &Assignments, i: usize) {
        tracing::debug!(monitor = %plan.monitors[i].id, "every probe slot busy; round skipped");
    }

    async fn finished(&self, plan: &Assignments, i: usize, result: ProbeResult) {
        let _ = self
            .tx
            .send(PushedResult {
                monitor: plan.monitors[i].id.clone(),
                reliable: self.agent.canary.reachable(),
                result,
            })
            .await;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn result(k: usize, error: &str) -> PushedResult {
        let r: ProbeResult = serde_json::from_value(serde_json::json!({
            "kind": "tcp", "started_at": "2026-11-22T10:00:00Z", "outcome": "down",
            "cause": "connect", "error": error, "timings": {"total_ms": 1.5}
        }))
        .unwrap();
        PushedResult {
            monitor: format!("m{k}"),
            reliable: true,
            result: r,
        }
    }

    #[test]
    fn pushes_keep_order_and_fit_both_limits() {
        let long = "x".repeat(3_000);
        let results: Vec<PushedResult> = (0..2_500).map(|k| result(k, &long)).collect();
        let pushes = split(results, MAX_RESULTS_PER_PUSH, MAX_PUSH_BYTES);
        assert!(pushes.len() >= 8, "{} pushes", pushes.len());
        let mut next = 0;
        for p in &pushes {
            let push = ResultsPush {
                region: "eu-west".into(),
                results: p.clone(),
            };
            assert!(serde_json::to_vec(&push).unwrap().len() <= MAX_PUSH_BYTES);
            assert!(p.len() <= MAX_RESULTS_PER_PUSH);
            for r in p {
                assert_eq!(r.monitor, format!("m{next}"), "in order");
                next += 1;
            }
        }
        assert_eq!(next, 2_500, "nothing lost");
        // Small results: the count limit.
        let small: Vec<PushedResult> = (0..2_001).map(|k| result(k, "e")).collect();
        let sizes: Vec<usize> = split(small, MAX_RESULTS_PER_PUSH, MAX_PUSH_BYTES)
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [1_000, 1_000, 1]);
        // One result larger than the limit goes alone.
        let huge = vec![result(0, "e"), result(1, &"x".repeat(2 * MAX_PUSH_BYTES))];
        assert_eq!(split(huge, MAX_RESULTS_PER_PUSH, MAX_PUSH_BYTES).len(), 2);
    }
}
