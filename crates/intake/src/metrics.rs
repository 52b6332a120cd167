//! The intake's metrics: reports received, counted and refused, and the group commit.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

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

/// One service's report counters.
#[derive(Clone)]
pub struct ReportCounters {
    pub received: Counter,
    pub counted: Counter,
}

/// The intake's metrics, cheap to clone (each metric is an `Arc` inside).
#[derive(Clone)]
pub struct IntakeMetrics {
    pub reports_received: Family<ServiceLabel, Counter>,
    pub reports_counted: Family<ServiceLabel, Counter>,
    pub reports_rejected: Family<ReasonLabel, Counter>,
    pub commit_seconds: Histogram,
    pub commit_batch_size: Histogram,
    pub commit_failures: Counter,
    pub ingest_queue_depth: Gauge,
    pub rate_limited_clients: Gauge,
}

impl IntakeMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = IntakeMetrics {
            reports_received: Family::default(),
            reports_counted: Family::default(),
            reports_rejected: Family::default(),
            // 50 µs .. ~3.3 s
            commit_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 17)),
            commit_batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            commit_failures: Counter::default(),
            ingest_queue_depth: Gauge::default(),
            rate_limited_clients: Gauge::default(),
        };
        let r = registry;
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
        m
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
}
