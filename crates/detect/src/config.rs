//! Detector settings: the kind of series, which direction is bad, learning memories, verdict
//! thresholds and gates. Defaults are tuned for one-minute buckets but expressed in seconds so
//! they carry over to other intervals.

use serde::{Deserialize, Serialize};

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

/// What the numbers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    /// Events per bucket (reports per minute): non-negative, Poisson-like noise, often zero.
    /// Every bucket must be fed, including empty ones (value 0).
    Counts,
    /// A measurement (latency, error ratio, an external count): any real value, sampled at
    /// any interval.
    Gauge,
}

/// Which deviations are bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher than usual is bad (report counts, latency, error ratio).
    Up,
    /// Lower than usual is bad (success ratio, throughput).
    Down,
    /// Both are bad.
    Both,
}

impl Direction {
    /// Whether a deviation of this sign (+1 above, −1 below) is a problem.
    pub fn is_bad(self, sign: i8) -> bool {
        match self {
            Direction::Up => sign > 0,
            Direction::Down => sign < 0,
            Direction::Both => sign != 0,
        }
    }
}

/// Everything the detector needs to know about a series. Build it with
/// [`DetectorConfig::for_counts`] or [`DetectorConfig::for_gauge`] and adjust fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectorConfig {
    pub kind: SeriesKind,
    /// Which deviations raise the verdict. Counts default to [`Direction::Up`]: fewer reports
    /// than usual is not an outage.
    pub direction: Direction,
    /// Which deviations count towards [`crate::Assessment::evidence`] (the ranking score);
    /// `None`: the same as `direction`.
    pub evidence_direction: Option<Direction>,
    /// Expected spacing of observations, used until the real spacing has been seen.
    pub nominal_interval_s: i64,

    /// Memory (e-folding time) of the level. Counts: 7 days, so one odd day moves the baseline
    /// by about a seventh of its deviation; gauges: 1 hour, to follow drift.
    pub level_memory_s: i64,
    /// Counts only: the level's memory stretches so that it always holds about this many
    /// reports, up to `level_memory_max_s`, so a series with a few reports a day still gets a
    /// steady baseline.
    pub level_min_counts: f64,
    pub level_memory_max_s: i64,
    /// Memory of the noise estimate (overdispersion for counts, scale for gauges).
    pub noise_memory_s: i64,
    /// Memory of the time-of-day profile (48 half-hour slots).
    pub daily_memory_s: i64,
    /// Memory of the time-of-week correction (168 hourly slots).
    pub weekly_memory_s: i64,

    /// Counts: the level assumed before any data, in events per bucket. Gauges: `None` takes
    /// the first value.
    pub prior_level: Option<f64>,
    /// Observations (including [`crate::Detector::warm_up`] ones) before any verdict is given.
    /// During them counts take their level from the raw values and learn nothing else, so
    /// the prior's error does not leak into the noise estimate or the profiles.
    pub warmup_points: u32,

    /// A point is *hot* at or above this score (score 0.5 ⇔ p ≤ 10⁻⁴).
    pub possible_score: f64,
    /// A point is *strong* at or above this score (0.75 ⇔ p ≤ 10⁻⁶).
    pub problems_score: f64,
    /// A point is *calm* below this score (0.25 ⇔ p ≥ 10⁻²).
    pub clear_score: f64,
    /// Hot points must also exceed the baseline by this much (in the series' units; for
    /// counts, events per bucket). Keeps a few stray reports on a quiet series from alarming.
    pub min_excess: f64,
    /// Strong points must exceed the baseline by this much.
    pub problems_min_excess: f64,
    /// Gauges: smallest scale (typical absolute deviation) assumed, in the series' units.
    pub min_scale: f64,

    /// Hot points for at least this long (and `possible_min_points`) ⇒ possible problems.
    pub possible_after_s: i64,
    pub possible_min_points: u32,
    /// Strong points for at least this long (and `problems_min_points`) ⇒ problems.
    pub problems_after_s: i64,
    pub problems_min_points: u32,
    /// *Problems* steps down only after this long without hot points, *possible problems*
    /// only after this long with calm points.
    pub recover_after_s: i64,

    /// A deviation in a bad direction that persists this long becomes the new normal.
    pub accept_shift_after_s: i64,
    /// A deviation in a harmless direction (e.g. fewer reports) that persists this long
    /// becomes the new normal; longer, so a quiet holiday does not lower the baseline for
    /// the day after.
    pub accept_quiet_shift_after_s: i64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self::for_counts()
    }
}

impl DetectorConfig {
    /// Defaults for report counts per bucket.
    pub fn for_counts() -> Self {
        DetectorConfig {
            kind: SeriesKind::Counts,
            direction: Direction::Up,
            evidence_direction: None,
            nominal_interval_s: 60,
            level_memory_s: 7 * DAY,
            level_min_counts: 30.0,
            level_memory_max_s: 28 * DAY,
            noise_memory_s: 7 * DAY,
            daily_memory_s: 7 * DAY,
            weekly_memory_s: 28 * DAY,
            prior_level: Some(1.0),
            warmup_points: 30,
            possible_score: 0.5,
            problems_score: 0.75,
            clear_score: 0.25,
            min_excess: 3.0,
            problems_min_excess: 6.0,
            min_scale: 0.0,
            possible_after_s: 120,
            possible_min_points: 2,
            problems_after_s: 180,
            problems_min_points: 2,
            recover_after_s: 15 * 60,
            accept_shift_after_s: 6 * HOUR,
            accept_quiet_shift_after_s: 3 * DAY,
        }
    }

    /// Defaults for a gauge where `direction` is bad.
    pub fn for_gauge(direction: Direction) -> Self {
        DetectorConfig {
            kind: SeriesKind::Gauge,
            direction,
            level_memory_s: HOUR,
            noise_memory_s: DAY,
            prior_level: None,
            min_excess: 0.0,
            problems_min_excess: 0.0,
            ..Self::for_counts()
        }
    }

    /// Reports the first setting that makes no sense. [`crate::Detector::new`] never fails:
    /// it repairs such settings (see [`DetectorConfig::sanitized`]); call this to tell a user.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive_times = [
            ("nominal_interval_s", self.nominal_interval_s),
            ("level_memory_s", self.level_memory_s),
            ("level_memory_max_s", self.level_memory_max_s),
            ("noise_memory_s", self.noise_memory_s),
            ("daily_memory_s", self.daily_memory_s),
            ("weekly_memory_s", self.weekly_memory_s),
        ];
        for (name, v) in positive_times {
            if v <= 0 {
                return Err(ConfigError::new(
                    name,
                    "must be a positive number of seconds",
                ));
            }
        }
        let non_negative_times = [
            ("possible_after_s", self.possible_after_s),
            ("problems_after_s", self.problems_after_s),
            ("recover_after_s", self.recover_after_s),
            ("accept_shift_after_s", self.accept_shift_after_s),
            (
                "accept_quiet_shift_after_s",
                self.accept_quiet_shift_after_s,
            ),
        ];
        for (name, v) in non_negative_times {
            if v < 0 {
                return Err(ConfigError::new(name, "must not be negative"));
            }
        }
        for (name, v) in [
            ("possible_score", self.possible_score),
            ("problems_score", self.problems_score),
            ("clear_score", self.clear_score),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(ConfigError::new(name, "must be between 0 and 1"));
            }
        }
        if self.clear_score > self.possible_score || self.possible_score > self.problems_score {
            return Err(ConfigError::new(
                "clear_score",
                "scores must satisfy clear_score ≤ possible_score ≤ problems_score",
            ));
        }
        for (name, v) in [
            ("min_excess", self.min_excess),
            ("problems_min_excess", self.problems_min_excess),
            ("min_scale", self.min_scale),
            ("level_min_counts", self.level_min_counts),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(ConfigError::new(name, "must be a finite number ≥ 0"));
            }
        }
        if let Some(p) = self.prior_level
            && (!p.is_finite() || (self.kind == SeriesKind::Counts && p <= 0.0))
        {
            return Err(ConfigError::new(
                "prior_level",
                "must be finite (and positive for counts)",
            ));
        }
        Ok(())
    }

    /// A copy with every out-of-range setting replaced by its default.
    pub fn sanitized(&self) -> Self {
        let d = match self.kind {
            SeriesKind::Counts => Self::for_counts(),
            SeriesKind::Gauge => Self::for_gauge(self.direction),
        };
        let mut c = self.clone();
        let pos = |v: i64, dv: i64| if v > 0 { v } else { dv };
        let nonneg = |v: i64, dv: i64| if v >= 0 { v } else { dv };
        let unit = |v: f64, dv: f64| if (0.0..=1.0).contains(&v) { v } else { dv };
        let amount = |v: f64, dv: f64| if v.is_finite() && v >= 0.0 { v } else { dv };
        c.nominal_interval_s = pos(c.nominal_interval_s, d.nominal_interval_s);
        c.level_memory_s = pos(c.level_memory_s, d.level_memory_s);
        c.level_memory_max_s = pos(c.level_memory_max_s, d.level_memory_max_s);
        c.noise_memory_s = pos(c.noise_memory_s, d.noise_memory_s);
        c.daily_memory_s = pos(c.daily_memory_s, d.daily_memory_s);
        c.weekly_memory_s = pos(c.weekly_memory_s, d.weekly_memory_s);
        c.possible_after_s = nonneg(c.possible_after_s, d.possible_after_s);
        c.problems_after_s = nonneg(c.problems_after_s, d.problems_after_s);
        c.recover_after_s = nonneg(c.recover_after_s, d.recover_after_s);
        c.accept_shift_after_s = nonneg(c.accept_shift_after_s, d.accept_shift_after_s);
        c.accept_quiet_shift_after_s =
            nonneg(c.accept_quiet_shift_after_s, d.accept_quiet_shift_after_s);
        c.possible_score = unit(c.possible_score, d.possible_score);
        c.problems_score = unit(c.problems_score, d.problems_score).max(c.possible_score);
        c.clear_score = unit(c.clear_score, d.clear_score).min(c.possible_score);
        c.min_excess = amount(c.min_excess, d.min_excess);
        c.problems_min_excess = amount(c.problems_min_excess, d.problems_min_excess);
        c.min_scale = amount(c.min_scale, d.min_scale);
        c.level_min_counts = amount(c.level_min_counts, d.level_min_counts);
        c.prior_level = match (c.kind, c.prior_level) {
            (SeriesKind::Counts, Some(p)) if p.is_finite() && p > 0.0 => Some(p),
            (SeriesKind::Counts, _) => d.prior_level,
            (SeriesKind::Gauge, Some(p)) if p.is_finite() => Some(p),
            (SeriesKind::Gauge, _) => None,
        };
        c
    }
}

/// A setting that makes no sense, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("detector setting `{field}` {reason}")]
pub struct ConfigError {
    pub field: &'static str,
    pub reason: &'static str,
}

impl ConfigError {
    fn new(field: &'static str, reason: &'static str) -> Self {
        ConfigError { field, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(DetectorConfig::for_counts().validate(), Ok(()));
        assert_eq!(
            DetectorConfig::for_gauge(Direction::Down).validate(),
            Ok(())
        );
    }

    #[test]
    fn bad_settings_are_named_and_repaired() {
        let mut c = DetectorConfig::for_counts();
        c.level_memory_s = 0;
        c.possible_score = 2.0;
        let err = c.validate().unwrap_err();
        assert_eq!(err.field, "level_memory_s");
        let fixed = c.sanitized();
        assert_eq!(fixed.validate(), Ok(()));
        assert_eq!(
            fixed.level_memory_s,
            DetectorConfig::for_counts().level_memory_s
        );
    }

    #[test]
    fn config_reads_from_partial_json() {
        let c: DetectorConfig = serde_json::from_str(r#"{"min_excess": 10.0}"#).unwrap();
        assert_eq!(c.min_excess, 10.0);
        assert_eq!(c.kind, SeriesKind::Counts);
    }
}
