//! Sending a scenario to a running server: one real HTTP POST per report, on an accelerated
//! clock, with bounded concurrency, live progress and a summary.
//!
//! Scenario minute `m` of the window is due `(m - from) × 60 / speed` seconds after the start
//! (each report at its own second within the minute). Reports are never skipped: if the server
//! or the network cannot keep up, simulated time falls behind the clock and the progress shows
//! it. Each report claims its client address in `X-Forwarded-For`, which the server believes
//! only when the sender's address is in its `[server] trusted_proxies`. Addresses depend on
//! the seed only, so sending the same minutes twice within the server's dedupe window (15m)
//! is mostly "not counted" the second time: change the seed for fresh listeners.

use crate::generate::{Report, Traffic};
use crate::scenario::{Scenario, Window};
use downbeat_domain::ServiceId;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// How often the progress callback is called while sending.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// Transport failures in a row (no answer at all) after which the server is taken as gone.
const GONE_AFTER: u64 = 64;

/// Simulated time per real time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Simulated seconds per real second: 600 sends an hour of traffic in 6 seconds.
    Times(f64),
    /// As fast as the server answers (the concurrency limit still holds).
    Max,
}

impl Speed {
    /// Real seconds after the start at which simulated second `sim` is due.
    fn real_secs(self, sim: f64) -> Option<f64> {
        match self {
            Speed::Times(s) => Some(sim / s),
            Speed::Max => None,
        }
    }
}

/// A speed that is neither a positive number nor `max`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected a positive number (simulated seconds per second) or `max`")]
pub struct BadSpeed(String);

impl std::str::FromStr for Speed {
    type Err = BadSpeed;
    fn from_str(s: &str) -> Result<Self, BadSpeed> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(v) if v > 0.0 && v.is_finite() => Ok(Speed::Times(v)),
            _ => Err(BadSpeed(s.to_owned())),
        }
    }
}

impl fmt::Display for Speed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Speed::Times(s) => write!(f, "{s}×"),
            Speed::Max => f.write_str("max"),
        }
    }
}

/// What to send and where.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// The server's base URL, e.g. `http://127.0.0.1:8080` (plain HTTP).
    pub base_url: String,
    /// The service id reports are posted to.
    pub service: String,
    pub speed: Speed,
    /// The scenario minutes to send.
    pub window: Window,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Per request, connection included.
    pub request_timeout: Duration,
    /// Post the scenario's social chatter too (its `[social]` counts, one request a minute
    /// to `…/signals`), with this token of role `signal`; None: reports only.
    pub signals: Option<SignalSending>,
    /// Record the scenario's `[[change]]`s (to `…/changes`, when the replay reaches them),
    /// with this token of role `deployer` and this clock; None: they are not sent.
    pub changes: Option<SignalSending>,
}

/// How social chatter is posted: the token, and the clock whose time the counts carry (the
/// server's: a count is for the minute its `at` falls in).
#[derive(Clone)]
pub struct SignalSending {
    pub token: String,
    pub clock: Arc<dyn downbeat_domain::Clock>,
}

impl fmt::Debug for SignalSending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignalSending { .. }")
    }
}

impl SendOptions {
    /// Sensible defaults: 64 in flight, 10 s per request, speed 60 (a minute a second).
    pub fn new(base_url: impl Into<String>, service: impl Into<String>, window: Window) -> Self {
        SendOptions {
            base_url: base_url.into(),
            service: service.into(),
            speed: Speed::Times(60.0),
            window,
            concurrency: 64,
            request_timeout: Duration::from_secs(10),
            signals: None,
            changes: None,
        }
    }
}

/// Counters while sending, for a progress bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Reports in the window.
    pub planned: u64,
    pub sent: u64,
    /// 202 and counted.
    pub counted: u64,
    /// 202 but not counted (already reported within the dedupe window).
    pub not_counted: u64,
    /// 429.
    pub rate_limited: u64,
    /// Any other status, or no answer.
    pub failed: u64,
    /// Where the simulated clock is.
    pub simulated: Timestamp,
}

impl Progress {
    /// Reports answered 202.
    pub fn acknowledged(&self) -> u64 {
        self.counted + self.not_counted
    }
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct SendSummary {
    pub planned: u64,
    pub sent: u64,
    pub counted: u64,
    pub not_counted: u64,
    pub rate_limited: u64,
    pub failed: u64,
    /// Failures by kind: `HTTP 422`, `timeout`, `connection`, ...
    pub failures: BTreeMap<String, u64>,
    /// Simulated time of the last report sent.
    pub reached: Timestamp,
    pub elapsed: Duration,
    /// True when the stop signal ended the run early.
    pub stopped: bool,
}

impl SendSummary {
    pub fn acknowledged(&self) -> u64 {
        self.counted + self.not_counted
    }
}

impl fmt::Display for SendSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        writeln!(
            f,
            "{} {} of {} reports in {:.1}s ({:.0}/s), up to {}",
            if self.stopped {
                "stopped after sending"
            } else {
                "sent"
            },
            self.sent,
            self.planned,
            secs,
            self.sent as f64 / secs.max(1e-9),
            self.reached
        )?;
        writeln!(f, "  202 counted:      {}", self.counted)?;
        writeln!(f, "  202 not counted:  {}", self.not_counted)?;
        writeln!(f, "  429 rate-limited: {}", self.rate_limited)?;
        write!(f, "  other errors:     {}", self.failed)?;
        for (kind, n) in &self.failures {
            write!(f, "\n    {kind}: {n}")?;
        }
        Ok(())
    }
}

/// Why a run could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{url:?} is not a plain http:// base URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("{0}")]
    BadService(String),
    #[error("cannot reach the server at {url}: {reason} (is `downbeat serve` running there?)")]
    Unreachable { url: String, reason: String },
    #[error(
        "the server answered 404 to POST {url}: it does not know service {service:?}, or it is not a Downbeat server\n{summary}"
    )]
    UnknownService {
        url: String,
        service: String,
        summary: Box<SendSummary>,
    },
    #[error("the server at {url} stopped answering ({reason})\n{summary}")]
    ServerGone {
        url: String,
        reason: String,
        summary: Box<SendSummary>,
    },
    #[error("cannot set up the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

#[derive(Serialize)]
struct Body<'a> {
    problem: &'a str,
    platform: &'a str,
    country: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

#[derive(Deserialize)]
struct Ack {
    counted: Option<bool>,
}

enum Abort {
    UnknownService,
    Gone(String),
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    counted: AtomicU64,
    not_counted: AtomicU64,
    rate_limited: AtomicU64,
    failed: AtomicU64,
    /// Transport failures since the last answer.
    no_answer_streak: AtomicU64,
    failures: Mutex<BTreeMap<String, u64>>,
    abort: Mutex<Option<Abort>>,
}

impl Counters {
    fn fail(&self, kind: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        *self
            .failures
            .lock()
            .expect("no panics while held")
            .entry(kind)
            .or_default() += 1;
    }

    fn abort(&self, why: Abort) {
        let mut a = self.abort.lock().expect("no panics while held");
        if a.is_none() {
            *a = Some(why);
        }
    }

    fn aborted(&self) -> bool {
        self.abort.lock().expect("no panics while held").is_some()
    }

    fn progress(&self, planned: u64, simulated: Timestamp) -> Progress {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Progress {
            planned,
            sent: get(&self.sent),
            counted: get(&self.counted),
            not_counted: get(&self.not_counted),
            rate_limited: get(&self.rate_limited),
            failed: get(&self.failed),
            simulated,
        }
    }
}

/// Sends the `options.window` minutes of `scenario` to the server, calling `progress` about
/// ten times a second, until done or until `stop` completes (then in-flight requests finish
/// and the summary so far is returned, with `stopped` set).
///
/// Fails before sending anything if the URL is not plain HTTP or nothing listens there;
/// stops early with the summary inside the error on a 404 (unknown service) or when the
/// server stops answering.
pub async fn send(
    scenario: &Scenario,
    options: &SendOptions,
    mut progress: impl FnMut(&Progress),
    stop: impl Future<Output = ()>,
) -> Result<SendSummary, SendError> {
    let service = ServiceId::parse(&options.service)
        .map_err(|e| SendError::BadService(format!("service {:?}: {e}", options.service)))?;
    let base = check_base_url(&options.base_url)?;
    let url: Arc<str> = format!(
        "{}/api/v1/services/{}/reports",
        base.as_str().trim_end_matches('/'),
        service.as_str()
    )
    .into();
    let signals_url: Arc<str> = format!(
        "{}/api/v1/services/{}/signals",
        base.as_str().trim_end_matches('/'),
        service.as_str()
    )
    .into();
    let changes_url: Arc<str> = format!(
        "{}/api/v1/services/{}/changes",
        base.as_str().trim_end_matches('/'),
        service.as_str()
    )
    .into();
    preflight(&base).await?;

    let concurrency = options.concurrency.clamp(1, 4096);
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(options.request_timeout)
        .connect_timeout(options.request_timeout.min(Duration::from_secs(5)))
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let traffic = Traffic::generate(scenario);
    let window = options.window;
    let planned = traffic.total(window);
    let counters = Arc::new(Counters::default());
    let permits = Arc::new(Semaphore::new(concurrency));
    let from_ts = scenario.timestamp_of(window.from);
    let until_ts = scenario.timestamp_of(window.until);
    let started = Instant::now();
    // The simulated clock: where the schedule is now, but never ahead of what was sent
    // while the sender lags, nor past the window.
    let clock = |reached: Timestamp| -> Timestamp {
        match options.speed {
            Speed::Max => reached,
            Speed::Times(s) => {
                let sim =
                    jiff::SignedDuration::try_from_secs_f64(started.elapsed().as_secs_f64() * s)
                        .unwrap_or(jiff::SignedDuration::MAX);
                from_ts
                    .saturating_add(sim)
                    .map_or(until_ts, |t| t.min(until_ts))
            }
        }
    };
    let mut stop = std::pin::pin!(stop);
    let mut stopped = false;
    let mut reached = from_ts;
    let mut last_progress = started;
    progress(&counters.progress(planned, from_ts));

    'minutes: for m in window.minutes() {
        for report in traffic.reports(m) {
            if counters.aborted() {
                break 'minutes;
            }
            let sim = f64::from(m - window.from) * 60.0 + f64::from(report.offset_ms) / 1000.0;
            if let Some(real) = options.speed.real_secs(sim) {
                let due = started + Duration::from_secs_f64(real);
                // Sleep in slices so progress keeps flowing through quiet stretches.
                while Instant::now() < due {
                    let wake = due.min(Instant::now() + PROGRESS_EVERY);
                    tokio::select! {
                        biased;
                        () = &mut stop => { stopped = true; break 'minutes; }
                        () = tokio::time::sleep_until(wake) => {}
                    }
                    if last_progress.elapsed() >= PROGRESS_EVERY {
                        progress(&counters.progress(planned, clock(reached).max(reached)));
                        last_progress = Instant::now();
                    }
                }
            }
            let permit = tokio::select! {
                biased;
                () = &mut stop => { stopped = true; break 'minutes; }
                p = permits.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break 'minutes,
                },
            };
            reached = report.at;
            counters.sent.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(post(
                client.clone(),
                url.clone(),
                report,
                counters.clone(),
                permit,
            ));
            if last_progress.elapsed() >= PROGRESS_EVERY {
                progress(&counters.progress(planned, clock(reached).max(reached)));
                last_progress = Instant::now();
            }
        }
        // The minute's changes, as the pipeline records them (before the minute's reports
        // would be better, but a change inside a minute is close enough at this scale).
        if let Some(to) = &options.changes {
            for c in scenario.changes_in(m) {
                let mut body =
                    serde_json::json!({"kind": c.kind.as_str(), "at": to.clock.now().to_string()});
                for (k, v) in [
                    ("component", &c.component),
                    ("version", &c.version),
                    ("title", &c.title),
                ] {
                    if let Some(v) = v {
                        body[k] = serde_json::json!(v);
                    }
                }
                let permit = tokio::select! {
                    biased;
                    () = &mut stop => { stopped = true; break 'minutes; }
                    p = permits.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break 'minutes,
                    },
                };
                tokio::spawn(post_context(
                    client.clone(),
                    changes_url.clone(),
                    to.token.clone(),
                    body,
                    permit,
                ));
            }
        }
        // The minute's chatter, once its reports are on their way.
        if let (Some(to), Some((source, posts))) = (&options.signals, traffic.social(m))
            && posts > 0
        {
            let permit = tokio::select! {
                biased;
                () = &mut stop => { stopped = true; break 'minutes; }
                p = permits.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break 'minutes,
                },
            };
            let body = serde_json::json!({"signals": [
                {"source": source, "at": to.clock.now().to_string(), "count": posts}
            ]});
            tokio::spawn(post_context(
                client.clone(),
                signals_url.clone(),
                to.token.clone(),
                body,
                permit,
            ));
        }
    }
    // Drain: every request in flight finishes (each is bounded by the request timeout).
    let _all = permits
        .acquire_many(concurrency as u32)
        .await
        .expect("the semaphore is never closed");
    let end = if stopped || counters.aborted() {
        reached
    } else {
        until_ts
    };
    progress(&counters.progress(planned, end));

    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let summary = SendSummary {
        planned,
        sent: get(&counters.sent),
        counted: get(&counters.counted),
        not_counted: get(&counters.not_counted),
        rate_limited: get(&counters.rate_limited),
        failed: get(&counters.failed),
        failures: counters
            .failures
            .lock()
            .expect("no panics while held")
            .clone(),
        reached,
        elapsed: started.elapsed(),
        stopped,
    };
    let abort = counters.abort.lock().expect("no panics while held").take();
    match abort {
        None => Ok(summary),
        Some(Abort::UnknownService) => Err(SendError::UnknownService {
            url: url.to_string(),
            service: service.as_str().to_owned(),
            summary: Box::new(summary),
        }),
        Some(Abort::Gone(reason)) => Err(SendError::ServerGone {
            url: base.to_string(),
            reason,
            summary: Box::new(summary),
        }),
    }
}

/// Posts one minute's social chatter or a change; a failure is logged (both are context,
/// and the reports' own counters stay about reports).
async fn post_context(
    client: reqwest::Client,
    url: Arc<str>,
    token: String,
    body: serde_json::Value,
    _permit: OwnedSemaphorePermit,
) {
    match client
        .post(&*url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            tracing::warn!(%status, answer = %text, %url, "refused");
        }
        Err(e) => tracing::warn!(error = %e, %url, "not posted"),
    }
}

async fn post(
    client: reqwest::Client,
    url: Arc<str>,
    r: Report,
    c: Arc<Counters>,
    _permit: OwnedSemaphorePermit,
) {
    let body = Body {
        problem: r.problem.as_str(),
        platform: r.platform.as_str(),
        country: r.country.as_str(),
        city: r.city.as_deref(),
        message: r.message.as_deref(),
    };
    let answer = client
        .post(&*url)
        .header("x-forwarded-for", r.client.to_string())
        .json(&body)
        .send()
        .await;
    match answer {
        Ok(resp) => {
            c.no_answer_streak.store(0, Ordering::Relaxed);
            let status = resp.status();
            if status.is_success() {
                // A 2xx is durable on the server; `counted` says whether it was deduped.
                let counted = resp
                    .json::<Ack>()
                    .await
                    .ok()
                    .and_then(|a| a.counted)
                    .unwrap_or(true);
                if counted {
                    c.counted.fetch_add(1, Ordering::Relaxed);
                } else {
                    c.not_counted.fetch_add(1, Ordering::Relaxed);
                }
            } else if status.as_u16() == 429 {
                c.rate_limited.fetch_add(1, Ordering::Relaxed);
            } else {
                c.fail(format!("HTTP {}", status.as_u16()));
                if status.as_u16() == 404 {
                    c.abort(Abort::UnknownService);
                }
            }
        }
        Err(e) => {
            let kind = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connection"
            } else {
                "transport"
            };
            c.fail(kind.to_owned());
            if c.no_answer_streak.fetch_add(1, Ordering::Relaxed) + 1 >= GONE_AFTER {
                c.abort(Abort::Gone(format!(
                    "{GONE_AFTER} requests in a row failed: {kind}"
                )));
            }
        }
    }
}

fn check_base_url(s: &str) -> Result<reqwest::Url, SendError> {
    let bad = |reason: &str| SendError::BadUrl {
        url: s.to_owned(),
        reason: reason.to_owned(),
    };
    let url = reqwest::Url::parse(s).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "http" {
        return Err(bad(
            "only http:// is supported (send to the server or its proxy on a local address)",
        ));
    }
    if url.host_str().is_none() {
        return Err(bad("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a base URL has no query or fragment"));
    }
    Ok(url)
}

/// Connects once before sending, so a wrong address is one clear error, not thousands.
async fn preflight(base: &reqwest::Url) -> Result<(), SendError> {
    let host = base
        .host_str()
        .expect("checked")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = base.port_or_known_default().unwrap_or(80);
    let unreachable = |reason: String| SendError::Unreachable {
        url: base.to_string(),
        reason,
    };
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable("no answer within 5 s".into())),
    }
}
