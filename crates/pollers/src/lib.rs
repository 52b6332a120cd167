//! Built-in pollers of public sources: a service's `[[service.signal]]` source with a
//! `[service.signal.poll]` table is filled by Downbeat itself, from a Mastodon server's
//! hashtag timelines and search ([`mastodon`]), Bluesky's post search ([`bluesky`]) or an
//! RSS or Atom feed ([`feed`]), instead of by an outside sender posting to the signals API.
//!
//! Each round, a poller fetches what is new since its cursor, drops reposts, posts seen
//! before and posts that are not about the service's trouble ([`relevance`]), classifies
//! the rest by the service's problem kinds, and stores them as the source's posts (each
//! kept once), then its state (cursor, validators, posts seen lately), so a restart — or
//! another node taking the poller over — goes on from there. Posts stored twice after a
//! crash between the two are kept once.
//!
//! It is a good client: it honours the source's rate-limit headers and `Retry-After`,
//! backs off after errors, gives every request a deadline (a source that hangs costs one
//! timeout, not the poller), and counts what it fetched and what went wrong in `/metrics`.
//! On several nodes one node polls each source at a time (a lease per source).

pub mod bluesky;
pub mod feed;
pub mod limits;
pub mod mastodon;
pub mod metrics;
pub mod relevance;
pub mod text;

use downbeat_config::poll::{PollConfig, PollKind};
use downbeat_config::{Config, ServiceConfig, SignalSource};
use downbeat_domain::signal::{Post, Signal};
use downbeat_domain::{Clock, Slug};
use downbeat_notify::http::{FetchError, Fetched, HttpClient};
use downbeat_store::{Store, StoreError};
use metrics::PollMetrics;
use relevance::{Fate, Relevance};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The largest answer read from a source.
pub const MAX_ANSWER: usize = 4 * 1024 * 1024;
/// Posts older than this are not stored (the signals API refuses them too).
pub const MAX_AGE_MS: i64 = 2 * 86_400_000;
/// On its first round a poller reads back this far, not the source's whole history.
pub const FIRST_LOOKBACK_MS: i64 = 3_600_000;
/// The most pages one round reads from one endpoint; the rest waits for the next round.
pub const MAX_PAGES: usize = 10;
/// How many recently seen posts (ids and texts) a poller remembers: more than a feed or a
/// round holds, while the state it saves every round stays small (digests of 24 characters:
/// about 25 KB each list).
const REMEMBERED: usize = 1000;

/// A post as a source gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Unique within the source (a status id, an at:// URI, a feed entry's id).
    pub id: String,
    pub at_ms: i64,
    pub text: String,
    pub url: Option<String>,
    pub lang: Option<String>,
    /// A boost or repost of someone else's post: the original counts, not each share.
    pub repost: bool,
}

/// Where a poller got to: cursors per endpoint, validators, posts seen lately. Saved as
/// JSON after every round.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Per endpoint (`tag:melodiadown`, `search`, `feed`): the newest id or time read.
    #[serde(default)]
    pub cursors: BTreeMap<String, String>,
    /// Digests of the ids of posts seen lately ([`id_digest`]), oldest first.
    #[serde(default)]
    pub seen: VecDeque<String>,
    /// Digests of the texts of posts kept lately (the same words posted again, copied or
    /// cross-posted, count once).
    #[serde(default)]
    pub texts: VecDeque<String>,
}

/// Why a round failed.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("answered {status}")]
    Status { status: u16 },
    #[error("rate limited for {0:?}")]
    RateLimited(Duration),
    #[error("sign-in refused: {0}")]
    Auth(String),
    #[error("malformed answer: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PollError {
    /// Its word in `/metrics`.
    pub fn reason(&self) -> &'static str {
        match self {
            PollError::Timeout(_) => "timeout",
            PollError::Unreachable(_) => "unreachable",
            PollError::Status { .. } => "status",
            PollError::RateLimited(_) => "rate_limited",
            PollError::Auth(_) => "auth",
            PollError::Malformed(_) => "malformed",
            PollError::Store(_) => "store",
        }
    }
}

/// One source's poller.
pub struct Poller {
    service: Arc<ServiceConfig>,
    source: Slug,
    config: PollConfig,
    relevance: Relevance,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: PollMetrics,
    http: HttpClient,
    /// Bluesky's session token, while it lasts.
    session: Option<String>,
    /// No request before this (a rate limit, a `Retry-After`).
    not_before: Option<tokio::time::Instant>,
}

/// What a round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Posts fetched (before judging).
    pub fetched: u64,
    /// Posts kept and stored for the first time.
    pub stored: u64,
    /// Posts dropped, by fate: `repost`, `seen` (the same post again: on two endpoints, or
    /// at a page's edge), `duplicate` (another post with the same words, or one stored
    /// before), `old`, `irrelevant`, `excluded`, `language`.
    pub dropped: BTreeMap<&'static str, u64>,
}

impl Poller {
    pub fn new(
        service: Arc<ServiceConfig>,
        source: &SignalSource,
        config: PollConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        metrics: PollMetrics,
        http: HttpClient,
    ) -> Self {
        Poller {
            relevance: Relevance::new(&config),
            service,
            source: source.source.clone(),
            config,
            store,
            clock,
            metrics,
            http,
            session: None,
            not_before: None,
        }
    }

    fn lease(&self) -> String {
        format!("poll:{}:{}", self.service.id.as_str(), self.source.as_str())
    }

    /// A [`Poller::round`] if this node (`node_id`) holds the source's lease, taking it
    /// when free for `lease_ms`: on several nodes, one polls each source. `None` when another
    /// node holds it.
    pub async fn round_if_leader(
        &mut self,
        node_id: &str,
        lease_ms: i64,
    ) -> Result<Option<Round>, PollError> {
        let now_ms = self.clock.now().as_millisecond();
        match self
            .store
            .try_lease(&self.lease(), node_id, now_ms, lease_ms)
            .await?
        {
            Some(_) => self.round().await.map(Some),
            None => Ok(None),
        }
    }

    /// One round: what is new since the saved state, judged and stored, then the state.
    pub async fn round(&mut self) -> Result<Round, PollError> {
        if let Some(t) = self.not_before
            && t > tokio::time::Instant::now()
        {
            return Err(PollError::RateLimited(t - tokio::time::Instant::now()));
        }
        let service = self.service.id.as_str().to_owned();
        let saved = self
            .store
            .poll_state(&service, self.source.as_str())
            .await?;
        let mut state: State = match saved.as_deref().map(serde_json::from_str) {
            Some(Ok(s)) => s,
            // A state this version cannot read: start afresh (posts are kept once anyway).
            Some(Err(e)) => {
                tracing::warn!(%service, source = %self.source, error = %e, "poll state unreadable; starting afresh");
                State::default()
            }
            None => State::default(),
        };
        let now_ms = self.clock.now().as_millisecond();
        let found = match self.config.kind.clone() {
            PollKind::Mastodon {
                hashtags,
                search,
                token,
            } => {
                mastodon::fetch(
                    self,
                    &mut state,
                    &hashtags,
                    search.as_deref(),
                    token.as_ref(),
                    now_ms,
                )
                .await?
            }
            PollKind::Bluesky { search, login } => {
                bluesky::fetch(self, &mut state, &search, login.as_ref(), now_ms).await?
            }
            PollKind::Feed => feed::fetch(self, &mut state, now_ms).await?,
        };
        let mut round = Round {
            fetched: found.len() as u64,
            ..Round::default()
        };
        let mut posts = Vec::new();
        for f in found {
            match self.judge(&mut state, f, now_ms) {
                Ok(post) => posts.push(Signal::Post(post)),
                Err(fate) => *round.dropped.entry(fate).or_default() += 1,
            }
        }
        if !posts.is_empty() {
            let stored = self.store.insert_signals(&service, &posts, now_ms).await?;
            round.stored = stored.new_posts;
            if stored.known_posts > 0 {
                *round.dropped.entry("duplicate").or_default() += stored.known_posts;
            }
        }
        let json = serde_json::to_string(&state).expect("a poll state serializes");
        self.store
            .save_poll_state(&service, self.source.as_str(), &json, now_ms)
            .await?;
        self.metrics
            .posts(&service, self.source.as_str(), "kept", round.stored);
        for (fate, n) in &round.dropped {
            self.metrics.posts(&service, self.source.as_str(), fate, *n);
        }
        Ok(round)
    }

    /// A found post, kept as the source's post, or the fate that drops it.
    fn judge(&self, state: &mut State, f: Found, now_ms: i64) -> Result<Post, &'static str> {
        if f.repost {
            return Err("repost");
        }
        let id = id_digest(&f.id);
        if state.seen.contains(&id) {
            return Err("seen");
        }
        remember(&mut state.seen, id);
        if f.at_ms < now_ms - MAX_AGE_MS {
            return Err("old");
        }
        let text = text::post_text(&f.text).ok_or("irrelevant")?;
        match self.relevance.judge(&text, f.lang.as_deref()) {
            Fate::Kept(_) => {}
            Fate::Excluded => return Err("excluded"),
            Fate::Language => return Err("language"),
            Fate::Irrelevant => return Err("irrelevant"),
        }
        let digest = text_digest(&text);
        if state.texts.contains(&digest) {
            return Err("duplicate");
        }
        remember(&mut state.texts, digest);
        Ok(Post {
            source: self.source.clone(),
            // A clock ahead of ours is not a post from the future.
            at_ms: f.at_ms.min(now_ms),
            kind: self.service.classify(&text),
            text,
            url: f.url.as_deref().and_then(text::post_url),
            lang: f.lang,
        })
    }

    /// GETs (or POSTs, with a JSON body) `url` within the poller's deadline, honouring
    /// and recording the source's limits. Anything but a 2xx or 304 answer is an error.
    pub(crate) async fn request(
        &mut self,
        method: hyper::Method,
        url: &str,
        headers: &[(&'static str, String)],
        json: Option<Vec<u8>>,
    ) -> Result<Fetched, PollError> {
        let service = self.service.id.as_str().to_owned();
        let timeout = self.config.timeout.as_duration();
        let answer = self
            .http
            .fetch(
                method,
                url,
                headers,
                json.map(|b| ("application/json", b)),
                timeout,
                MAX_ANSWER,
            )
            .await;
        let now_ms = self.clock.now().as_millisecond();
        let outcome = match answer {
            Err(FetchError::Timeout(d)) => Err(PollError::Timeout(d)),
            Err(FetchError::TooLarge(n)) => Err(self.garbage(format!("answer over {n} bytes"))),
            Err(FetchError::Http(e)) => Err(PollError::Unreachable(e.to_string())),
            Ok(a) => {
                if let Some(wait) = limits::quota_resets(&a.headers, now_ms) {
                    self.not_before = Some(tokio::time::Instant::now() + wait);
                }
                match a.status {
                    200..=299 | 304 => Ok(a),
                    429 | 503 => {
                        let wait = limits::retry_after(&a.headers, now_ms)
                            .or_else(|| limits::quota_resets(&a.headers, now_ms))
                            .unwrap_or(limits::backoff(self.config.every.as_duration(), 0, 0.0));
                        self.not_before = Some(tokio::time::Instant::now() + wait);
                        Err(PollError::RateLimited(wait))
                    }
                    status => Err(PollError::Status { status }),
                }
            }
        };
        let word = match &outcome {
            Ok(a) if a.status == 304 => "not_modified",
            Ok(_) => "ok",
            Err(e) => e.reason(),
        };
        self.metrics.request(&service, self.source.as_str(), word);
        outcome
    }

    /// Counts an answer that did not parse, and says what was wrong with it.
    pub(crate) fn garbage(&self, what: impl std::fmt::Display) -> PollError {
        self.metrics
            .garbage(self.service.id.as_str(), self.source.as_str());
        PollError::Malformed(what.to_string())
    }

    pub(crate) fn config(&self) -> &PollConfig {
        &self.config
    }
}

fn remember(list: &mut VecDeque<String>, item: String) {
    list.push_back(item);
    while list.len() > REMEMBERED {
        list.pop_front();
    }
}

/// A post's id as remembered: a digest, so an at:// URI or a long feed id costs no more
/// than a short one.
pub(crate) fn id_digest(id: &str) -> String {
    let d = Sha256::digest(id.as_bytes());
    downbeat_domain::hex::hex(&d[..12])
}

/// A post's words, for "the same post again": folded, so case and punctuation do not tell
/// two copies apart.
fn text_digest(text: &str) -> String {
    let folded = downbeat_domain::problem_words::words(text).join(" ");
    let d = Sha256::digest(folded.as_bytes());
    downbeat_domain::hex::hex(&d[..12])
}

/// Starts one task per configured poller; they stop when `stopped` turns true.
pub fn start(
    config: &Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    node_id: Arc<str>,
    metrics: PollMetrics,
    stopped: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let http = HttpClient::new();
    let mut tasks = Vec::new();
    for service in &config.services {
        let service = Arc::new(service.clone());
        for source in &service.signals {
            let Some(poll) = source.poll.clone() else {
                continue;
            };
            let poller = Poller::new(
                service.clone(),
                source,
                poll,
                store.clone(),
                clock.clone(),
                metrics.clone(),
                http.clone(),
            );
            tasks.push(tokio::spawn(run(poller, node_id.clone(), stopped.clone())));
        }
    }
    tasks
}

/// Polls every period while this node holds the source's lease, backing off after errors.
async fn run(mut poller: Poller, node_id: Arc<str>, mut stopped: watch::Receiver<bool>) {
    let every = poller.config.every.as_duration();
    // Long enough to outlast a round and its backoff, short enough that a dead node's
    // sources move on within minutes.
    let lease_ms = (every.as_millis() as i64 * 3).max(60_000);
    let mut failures = 0u32;
    // Spread first rounds over a period, so a restart does not hit every source at once.
    let mut wait = every.mul_f64(rand::random::<f64>() * 0.5);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
        wait = every;
        let service = poller.service.id.as_str().to_owned();
        let source = poller.source.as_str().to_owned();
        // A round stopped midway is safe: its posts are kept once when fetched again.
        let result = tokio::select! {
            r = poller.round_if_leader(&node_id, lease_ms) => r,
            _ = stopped.changed() => return,
        };
        match result {
            Ok(None) => {}
            Ok(Some(r)) => {
                failures = 0;
                tracing::debug!(%service, %source, fetched = r.fetched, stored = r.stored, "polled");
            }
            Err(PollError::RateLimited(d)) => {
                tracing::info!(%service, %source, wait = ?d, "source asks to wait");
                wait = d.max(every);
            }
            Err(e) => {
                failures += 1;
                wait = limits::backoff(every, failures - 1, rand::random::<f64>() * 2.0 - 1.0);
                tracing::warn!(%service, %source, error = %e, retry_in = ?wait, "poll failed");
                poller.metrics.failure(&service, &source, e.reason());
            }
        }
    }
}
