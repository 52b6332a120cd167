//! The monitors' metrics: probes by outcome, schedule lag, skipped rounds.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

/// The monitors' metrics, cheap to clone.
#[derive(Clone)]
pub struct ProbeMetrics {
    pub probes: Family<OutcomeLabel, Counter>,
    pub probe_lag_seconds: Histogram,
    pub probes_skipped: Counter,
}

impl ProbeMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(r: &mut Registry) -> Self {
        let m = ProbeMetrics {
            probes: Family::default(),
            // 100 µs .. ~6.5 s
            probe_lag_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 17)),
            probes_skipped: Counter::default(),
        };
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
        m
    }
}
