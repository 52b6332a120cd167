//! The pollers against local servers that answer as each API documents: Mastodon's
//! statuses and search, Bluesky's searchPosts and sessions, RSS and Atom feeds — paging,
//! rate-limit headers, `Retry-After`, a malformed page and a source that hangs.

mod bluesky;
mod feed;
mod mastodon;

use axum::Router;
use downbeat_config::poll::PollConfig;
use downbeat_config::{ServiceConfig, SignalSource};
use downbeat_domain::ManualClock;
use downbeat_notify::http::HttpClient;
use downbeat_pollers::metrics::{OutcomeLabels, PollMetrics, SourceLabels};
use downbeat_pollers::{Poller, Round};
use downbeat_store::Store;
use downbeat_store::testing::TestStore;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// 2026-12-07T08:00:00Z: the clock of every test, and "now" of every fake source.
pub const NOW: i64 = 1_796_630_400_000;

/// RFC 3339 for `ms`.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

/// A request a fake source received: its path and query, and its headers.
#[derive(Debug, Clone)]
pub struct Seen {
    pub uri: String,
    pub headers: axum::http::HeaderMap,
}

/// Requests seen by a fake source, shared with its handlers.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<VecDeque<Seen>>>);

impl Log {
    pub fn push(&self, uri: &axum::http::Uri, headers: &axum::http::HeaderMap) {
        self.0.lock().unwrap().push_back(Seen {
            uri: uri.to_string(),
            headers: headers.clone(),
        });
    }

    /// The requests seen since the last call.
    pub fn take(&self) -> Vec<Seen> {
        self.0.lock().unwrap().drain(..).collect()
    }
}

/// Serves `router` on a loopback port until the test ends.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A service `melodia` with one polled source, `social`, of the given poll table.
pub fn source(poll: &str) -> (Arc<ServiceConfig>, SignalSource, PollConfig) {
    let text = format!(
        "[[service]]\nid = \"melodia\"\nname = \"Melodia\"\n\
         [[service.signal]]\nsource = \"social\"\nname = \"Social\"\n\
         [service.signal.poll]\n{poll}\n"
    );
    let config = downbeat_config::parse_str(&text, "test.toml").unwrap();
    let service = config.services[0].clone();
    let source = service.signals[0].clone();
    let poll = source.poll.clone().unwrap();
    (Arc::new(service), source, poll)
}

/// A poller on a store of its own, with its clock and metrics at hand.
pub struct Harness {
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub metrics: PollMetrics,
    service: Arc<ServiceConfig>,
    source: SignalSource,
    poll: PollConfig,
    _dir: TestStore,
}

impl Harness {
    pub async fn new(poll: &str) -> Harness {
        let dir = downbeat_store::testing::sqlite();
        let store = downbeat_store::open(&dir.target).await.unwrap();
        let (service, source, poll) = source(poll);
        Harness {
            store,
            clock: Arc::new(ManualClock::new(
                jiff::Timestamp::from_millisecond(NOW).unwrap(),
            )),
            metrics: PollMetrics::default(),
            service,
            source,
            poll,
            _dir: dir,
        }
    }

    /// A poller as a (re)started node builds it: nothing in memory, its state in the store.
    pub fn poller(&self) -> Poller {
        Poller::new(
            self.service.clone(),
            &self.source,
            self.poll.clone(),
            self.store.clone(),
            self.clock.clone(),
            self.metrics.clone(),
            HttpClient::new(),
        )
    }

    /// Posts stored for the source, over all time.
    pub async fn stored(&self) -> u64 {
        self.store
            .signal_minutes("melodia", 0, NOW + 3_600_000)
            .await
            .unwrap()
            .iter()
            .map(|m| m.count)
            .sum()
    }

    pub fn requests(&self, outcome: &'static str) -> u64 {
        self.metrics
            .requests
            .get_or_create(&OutcomeLabels {
                service: "melodia".into(),
                source: "social".into(),
                outcome,
            })
            .get()
    }

    pub fn posts(&self, fate: &'static str) -> u64 {
        self.metrics
            .posts
            .get_or_create(&OutcomeLabels {
                service: "melodia".into(),
                source: "social".into(),
                outcome: fate,
            })
            .get()
    }

    pub fn garbage(&self) -> u64 {
        self.metrics
            .garbage
            .get_or_create(&SourceLabels {
                service: "melodia".into(),
                source: "social".into(),
            })
            .get()
    }
}

/// A round's drops of one fate.
pub fn dropped(r: &Round, fate: &str) -> u64 {
    r.dropped.get(fate).copied().unwrap_or(0)
}
