//! Streaming anomaly detection (in progress).
