//! The pollers' metrics: requests by outcome, posts by fate, failed rounds by reason, and
//! answers that did not parse (a source sending garbage is counted, logged and polled
//! again later).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    pub service: String,
    pub source: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub service: String,
    pub source: String,
    pub outcome: &'static str,
}

/// Cheap to clone.
#[derive(Clone, Default)]
pub struct PollMetrics {
    pub requests: Family<OutcomeLabels, Counter>,
    pub posts: Family<OutcomeLabels, Counter>,
    pub failures: Family<OutcomeLabels, Counter>,
    pub garbage: Family<SourceLabels, Counter>,
}

impl PollMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(r: &mut Registry) -> Self {
        let m = PollMetrics::default();
        r.register(
            "poll_requests",
            "Requests of the signal pollers to their sources, by outcome (ok, not_modified, timeout, unreachable, status, rate_limited, malformed)",
            m.requests.clone(),
        );
        r.register(
            "poll_posts",
            "Posts the signal pollers fetched, by fate (kept, repost, seen, duplicate, old, irrelevant, excluded, language)",
            m.posts.clone(),
        );
        r.register(
            "poll_failures",
            "Poll rounds that failed, by reason",
            m.failures.clone(),
        );
        r.register(
            "poll_garbage",
            "Answers of a source that did not parse as its API's format",
            m.garbage.clone(),
        );
        m
    }

    fn labels(service: &str, source: &str, outcome: &'static str) -> OutcomeLabels {
        OutcomeLabels {
            service: service.to_owned(),
            source: source.to_owned(),
            outcome,
        }
    }

    pub fn request(&self, service: &str, source: &str, outcome: &'static str) {
        self.requests
            .get_or_create(&Self::labels(service, source, outcome))
            .inc();
    }

    pub fn posts(&self, service: &str, source: &str, fate: &'static str, n: u64) {
        if n > 0 {
            self.posts
                .get_or_create(&Self::labels(service, source, fate))
                .inc_by(n);
        }
    }

    pub fn failure(&self, service: &str, source: &str, reason: &'static str) {
        self.failures
            .get_or_create(&Self::labels(service, source, reason))
            .inc();
    }

    pub fn garbage(&self, service: &str, source: &str) {
        self.garbage
            .get_or_create(&SourceLabels {
                service: service.to_owned(),
                source: source.to_owned(),
            })
            .inc();
    }
}
