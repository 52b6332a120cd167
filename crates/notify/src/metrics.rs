//! The notifier's metrics: delivery attempts and outcomes per destination, held changes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

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

/// The notifier's metrics, cheap to clone.
#[derive(Clone, Default)]
pub struct NotifyMetrics {
    pub notify_attempts: Family<DestinationLabel, Counter>,
    pub notify_delivered: Family<DestinationLabel, Counter>,
    pub notify_failed: Family<DestinationLabel, Counter>,
    pub notify_outcomes: Family<DeliveryOutcomeLabels, Counter>,
    /// Monitor changes held back by flap suppression.
    pub notify_held: Counter,
}

impl NotifyMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(r: &mut Registry) -> Self {
        let m = NotifyMetrics::default();
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
        m
    }
}
