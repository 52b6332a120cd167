//! Prometheus metrics: an explicit registry in the app state (no process-wide recorder, so
//! tests can run many apps in one process), and the middleware that times every request.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

/// Why a report was refused.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum RejectReason {
    unknown_service,
    bad_request,
    invalid_field,
    too_large,
    unsupported_media_type,
    rate_limited,
    unavailable,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabel {
    pub service: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: RejectReason,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DestinationLabel {
    pub destination: String,
}

/// A notification attempt's destination (a configured id, or `subscribers`) and outcome
/// (`delivered`, `retry` or `failed`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryOutcomeLabels {
    pub destination: String,
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 50 µs .. ~3.3 s
    Histogram::new(exponential_buckets(0.000_05, 2.0, 17))
}

/// One service's report counters.
#[derive(Clone)]
pub struct ReportCounters {
    pub received: Counter,
    pub counted: Counter,
}

/// Every metric Downbeat exports, cheap to clone (each metric is an `Arc` inside).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub reports_received: Family<ServiceLabel, Counter>,
    pub reports_counted: Family<ServiceLabel, Counter>,
    pub reports_rejected: Family<ReasonLabel, Counter>,
    pub requests: HistogramFamily<RequestLabels>,
    pub commit_seconds: Histogram,
    pub commit_batch_size: Histogram,
    pub commit_failures: Counter,
    pub ingest_queue_depth: Gauge,
    pub rate_limited_clients: Gauge,
    pub probes: Family<OutcomeLabel, Counter>,
    pub probe_lag_seconds: Histogram,
    pub probes_skipped: Counter,
    pub notify_attempts: Family<DestinationLabel, Counter>,
    pub notify_delivered: Family<DestinationLabel, Counter>,
    pub notify_failed: Family<DestinationLabel, Counter>,
    pub notify_outcomes: Family<DeliveryOutcomeLabels, Counter>,
    /// Monitor changes held back by flap suppression.
    pub notify_held: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let m = Metrics {
            registry: Arc::new(Registry::default()),
            reports_received: Family::default(),
            reports_counted: Family::default(),
            reports_rejected: Family::default(),
            requests: HistogramFamily::new_with_constructor(latency_histogram),
            commit_seconds: latency_histogram(),
            commit_batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            commit_failures: Counter::default(),
            ingest_queue_depth: Gauge::default(),
            rate_limited_clients: Gauge::default(),
            probes: Family::default(),
            // 100 µs .. ~6.5 s
            probe_lag_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 17)),
            probes_skipped: Counter::default(),
            notify_attempts: Family::default(),
            notify_delivered: Family::default(),
            notify_failed: Family::default(),
            notify_outcomes: Family::default(),
            notify_held: Counter::default(),
        };
        let mut r = Registry::with_prefix("downbeat");
        r.register(
            "reports_received",
            "Crowd reports accepted (counted or not)",
            m.reports_received.clone(),
        );
        r.register(
            "reports_counted",
            "Crowd reports counted (not duplicates)",
            m.reports_counted.clone(),
        );
        r.register(
            "reports_rejected",
            "Crowd reports refused, by reason",
            m.reports_rejected.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            m.requests.clone(),
        );
        r.register(
            "store_commit_duration_seconds",
            "Latency of one group commit of reports",
            m.commit_seconds.clone(),
        );
        r.register(
            "store_commit_batch_size",
            "Reports per group commit",
            m.commit_batch_size.clone(),
        );
        r.register(
            "store_commit_failures",
            "Group commits that failed",
            m.commit_failures.clone(),
        );
        r.register(
            "ingest_queue_depth",
            "Reports waiting for a commit",
            m.ingest_queue_depth.clone(),
        );
        r.register(
            "rate_limiter_clients",
            "Client addresses tracked by the rate limiter",
            m.rate_limited_clients.clone(),
        );
        r.register("probes", "Monitor probes run, by outcome", m.probes.clone());
        r.register(
            "probe_schedule_lag_seconds",
            "How late a probe started after its due time",
            m.probe_lag_seconds.clone(),
        );
        r.register(
            "probes_skipped",
            "Probe rounds skipped because every probe slot was busy",
            m.probes_skipped.clone(),
        );
        r.register(
            "notify_attempts",
            "Notification delivery attempts, by destination",
            m.notify_attempts.clone(),
        );
        r.register(
            "notify_delivered",
            "Notifications delivered, by destination",
            m.notify_delivered.clone(),
        );
        r.register(
            "notify_failed",
            "Notifications given up on, by destination",
            m.notify_failed.clone(),
        );
        r.register(
            "notify_attempt_outcomes",
            "Notification delivery attempts, by destination and outcome (delivered, retry, failed)",
            m.notify_outcomes.clone(),
        );
        r.register(
            "notify_held",
            "Monitor changes held back because the monitor was flapping",
            m.notify_held.clone(),
        );
        Metrics {
            registry: Arc::new(r),
            ..m
        }
    }

    /// The report counters of a service, created once so the hot path only increments.
    pub fn report_counters(&self, service: &str) -> ReportCounters {
        let label = ServiceLabel {
            service: service.to_owned(),
        };
        ReportCounters {
            received: self.reports_received.get_or_create_owned(&label),
            counted: self.reports_counted.get_or_create_owned(&label),
        }
    }

    pub fn reject(&self, reason: RejectReason) {
        self.reports_rejected
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Times every request by its route template (not its raw path, which would explode the
/// label set).
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let resp = next.run(req).await;
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: resp.status().as_u16(),
        })
        .observe(start.elapsed().as_secs_f64());
    resp
}
