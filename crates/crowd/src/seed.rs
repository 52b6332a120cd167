//! Seeding a service's baseline from past counts (`seed_from_csv`), so a new install
//! judges from its first minute.

use crate::{GRACE_MS, MINUTE_MS};
use downbeat_detect::{Detector, DetectorConfig};
use downbeat_store::{DetectorState, StoreError};
use jiff::Timestamp;

/// What a seed learned.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedSummary {
    pub rows: usize,
    pub minutes: u64,
    pub bucket_s: i64,
    pub first: i64,
    pub last: i64,
}

/// Why a seed file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: String },
    #[error("no data rows")]
    Empty,
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Seeds a service's overall baseline from past counts (CSV with a header; first column a
/// timestamp, second a count per bucket of any regular size, e.g. hourly). Each bucket is
/// spread evenly over its minutes and learned, never judged. The result replaces the
/// service's "all" detector and counts as history up to `now`, so the server continues from
/// it. Run it before starting the server (or restart the server after): a running server
/// keeps its own detectors in memory.
pub async fn seed_from_csv(
    store: &dyn downbeat_store::DetectionStore,
    service: &str,
    input: impl std::io::BufRead,
    now: Timestamp,
) -> Result<SeedSummary, SeedError> {
    seed_series_from_csv(store, service, "all", input, now).await
}

/// [`seed_from_csv`] for one series of the service: `all`, or an external source's
/// (`signal:<source>`, see [`crate::signal_series`]) from its past posts per minute.
pub async fn seed_series_from_csv(
    store: &dyn downbeat_store::DetectionStore,
    service: &str,
    series: &str,
    input: impl std::io::BufRead,
    now: Timestamp,
) -> Result<SeedSummary, SeedError> {
    let mut rows: Vec<(i64, f64)> = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        let n = i + 1;
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.is_empty() || i == 0 {
            continue; // the header (or a blank line)
        }
        let mut cols = line
            .split([',', ';', '\t'])
            .map(|c| c.trim().trim_matches('"'));
        let (Some(t), Some(v)) = (cols.next(), cols.next()) else {
            return Err(SeedError::Line {
                line: n,
                problem: "expected timestamp,value".into(),
            });
        };
        let t = downbeat_detect::timestamp::parse_timestamp(t).map_err(|e| SeedError::Line {
            line: n,
            problem: e.to_string(),
        })?;
        let v: f64 = v
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| SeedError::Line {
                line: n,
                problem: format!("value {v:?} is not a non-negative count"),
            })?;
        rows.push((t, v));
    }
    if rows.is_empty() {
        return Err(SeedError::Empty);
    }
    rows.sort_by_key(|r| r.0);
    let mut gaps: Vec<i64> = rows
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .filter(|g| *g > 0)
        .collect();
    gaps.sort_unstable();
    let bucket_s = gaps.get(gaps.len() / 2).copied().unwrap_or(60).max(60) / 60 * 60;
    let per = (bucket_s / 60) as f64;
    let mut detector = Detector::new(DetectorConfig::for_counts());
    let mut minutes = 0u64;
    for &(t, v) in &rows {
        let start = t.div_euclid(60) * 60;
        for k in 0..bucket_s / 60 {
            detector.warm_up(start + k * 60, v / per);
            minutes += 1;
        }
    }
    let state =
        serde_json::to_string(&detector).map_err(|e| StoreError::Internal(e.to_string()))?;
    let through = (now.as_millisecond() - GRACE_MS).div_euclid(MINUTE_MS) * MINUTE_MS - MINUTE_MS;
    store
        .save_detector_states(
            service,
            vec![DetectorState {
                series: series.into(),
                state,
                through_minute_ms: through,
            }],
            None,
        )
        .await?;
    Ok(SeedSummary {
        rows: rows.len(),
        minutes,
        bucket_s,
        first: rows[0].0,
        last: rows[rows.len() - 1].0,
    })
}
