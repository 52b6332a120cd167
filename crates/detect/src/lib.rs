//! Streaming, deterministic anomaly detection for Downbeat: is this series — report counts
//! per minute, probe latency, an error ratio — doing something it does not usually do at this
//! time of the week, for long enough to matter?
//!
//! The detector is pure: no I/O, no clock, no randomness. Time comes in as data (Unix
//! seconds), so a month of traffic replays in a fraction of a second and every run of the same
//! input gives the same output. Each [`Detector`] holds one series in about 4 KB (two seasonal
//! profiles of 48 and 168 slots plus a few sums), does O(1) work per observation (1.3–5 million
//! observations a second on one core, depending on the series and the machine's load), and serializes with serde; a restored
//! detector continues bit-for-bit as if it had never stopped, including an open alarm.
//!
//! Each observation gets two scores: [`Assessment::score`], the calibrated rarity that drives
//! the verdict and its gates, and [`Assessment::evidence`], a ranking score that is high once
//! per event and never saturates — what `downbeat detect` writes as `anomaly_score`.
//!
//! ```
//! use downbeat_detect::{Detector, DetectorConfig};
//! let mut d = Detector::new(DetectorConfig::for_counts());
//! let a = d.observe(1_767_600_000, 12.0);
//! assert!((0.0..=1.0).contains(&a.score));
//! ```
//!
//! # Layout
//!
//! - [`config`]: [`DetectorConfig`], [`SeriesKind`], [`Direction`] — what the series is and
//!   how the verdict is gated.
//! - [`detector`]: [`Detector`] and its per-point [`Assessment`] — prediction, scoring,
//!   learning, shift acceptance.
//! - `season`: the cyclic profiles (time of day, time of week).
//! - `tail`: negative-binomial, Laplace and normal tail probabilities (also in log form, for
//!   tails far below 10⁻³⁰⁰), bands, the score scale.
//! - `sustained`: the lean of the last half hour, for ramps and shifts no single point shows.
//! - `evidence`: the ranking score — novelty against the series' own recent record.
//! - `gate`: the verdict state machine (minimum durations, hysteresis).
//! - `exact`: bit-exact serde for model floats.
//! - [`mod@backtest`]: `downbeat detect FILE.csv` — run the detector over a CSV file.
//! - [`timestamp`]: the timestamp forms the backtest accepts.
//! - `synthetic` (feature `synthetic`, used by tests and the benchmark): seeded traffic
//!   generators for the scenarios of issue 3.
//!
//! # The model
//!
//! **Prediction.** For counts, expected = level × daily(t) × weekly(t); for gauges,
//! expected = level + daily(t) + weekly(t). `daily` has 48 half-hour slots, `weekly` 168
//! hourly slots that correct the daily shape per day of the week (weekends differ); both are
//! read with linear interpolation between slot centres (no steps at slot boundaries) and
//! normalised to mean 1 (or 0). Slots are in UTC; the profile learns whatever local rhythm
//! the series has, and re-learns a daylight-saving shift within about a week. Each slot is a
//! ratio of decaying sums shrunk towards flat (it needs ~10–20 expected events, or 5–10
//! samples, before its own shape shows), so a quiet series gets a flat profile rather than
//! one that amplifies noise.
//!
//! **Noise and scores.** Counts use a negative binomial with variance μ + φμ²: the Poisson
//! part is the sampling noise at the current volume, φ the series' own model error, estimated
//! from its residuals (method of moments, Σ(r² − μ) / Σμ², one-week memory) plus the
//! uncertainty of the level itself (1 / events seen). Gauges use a Laplace distribution whose
//! scale is the mean absolute residual (one-day memory) — heavier-tailed than a Gaussian,
//! which suits latency. The score is `-log10(p) / 8` clamped to [0, 1], where `p` is the
//! mid-p tail probability in the bad direction (doubled when both directions are bad). So
//! the same score means the same rarity on every series and at every volume: 0.5 is a
//! one-in-10⁴ point, 0.75 one-in-10⁶. Deviations in a harmless direction (fewer reports)
//! score 0.
//!
//! **The lean of the last half hour.** Each residual, in units of its predicted standard
//! deviation (clipped to ±4, so one wild point is the point score's business), enters an
//! exponentially weighted mean with a 30-minute memory (at least 6 points). That mean is
//! judged against the spread it shows on this series in normal times (learned, one-week
//! memory for counts, one day for gauges, never below what independent residuals would give)
//! plus the model's own uncertainty that does not average out (the level's and the unlearned
//! profile slots'). Its rarity, `-log10` of a normal tail, is the *lean score* on the same
//! scale. An overdispersed 8-a-minute series at 2–3× the usual has no rare minute, but its
//! half hour is rare by tens of decades.
//!
//! **Verdicts.** A point is *hot* at score ≥ 0.5 with at least `min_excess` above the
//! baseline (3 events per bucket for counts), *strong* at ≥ 0.75 with `problems_min_excess`
//! (6), *calm* below 0.25 or under `min_excess`. Two minutes (and two points) of hot points
//! raise *possible problems*; three minutes (and two points) of strong points raise
//! *problems*. *Problems* holds as long as points stay hot; after fifteen minutes without a
//! hot point it steps down (to *no problems* if those minutes were also calm, else to
//! *possible problems*), and *possible problems* clears after fifteen calm minutes. For counts
//! a point is also hot when the lean score is ≥ 0.5 with a mean excess of at least
//! `min_excess` and half the baseline, and strong when the lean score is ≥ 0.75 with
//! `problems_min_excess` and the whole baseline (twice the usual): a profile a few tens of
//! percent off for an hour (the week after a holiday) is not an outage, a ramp to 2–3× is.
//! The slow ramp of issue 14 (8 a minute, overdispersed, rising linearly to 4× over three
//! hours) reaches *problems* 45–58 minutes after it reaches twice the usual (the benchmark
//! prints it); before the lean it never did. Gauges' verdicts use the point score only.
//! [`Assessment::changed`] marks the transitions: an outage raises one alarm (plus one
//! escalation), not one per minute. The timings are settings ([`DetectorConfig`]); each
//! point covers one sampling interval, so on hourly data two strong hours raise *problems*,
//! and the two-point minimum keeps one odd sample from raising anything.
//!
//! **Learning.** After scoring, the observation is clipped to the normal band (the central
//! 99.8% of the predictive distribution) and then updates the level, the profiles and the
//! noise estimate. An outage therefore teaches the baseline no more than an edge-of-normal
//! value would, however long it lasts. While the lean is rare and at twice the usual, points
//! inside the band are not learned either, and while it is merely rare (hot) the profiles
//! do not learn (a half-hour slot sees only its own half hour of each day, so it would
//! otherwise learn a slow ramp's slope as the afternoon's shape within the hour); the level
//! and the noise still learn from such points, since a milder lean is more often the
//! model's own error than an event. Memories (e-folding times): level 7 days for counts
//! (stretched until it holds 30 events, up to 28 days, so a series with a few reports a day
//! still has a steady baseline) and 1 hour for gauges; noise 7 days (counts) / 1 day
//! (gauges); daily profile 7 days; weekly correction 28 days. Every memory spans at least a
//! few observations, so hourly or daily series work too.
//!
//! **Level shifts.** Clipping alone would never accept a new normal, so the detector also
//! tracks how many points fall outside the band or belong to a rare lean (a 30-minute
//! decaying average). When most points stay beyond the band in a bad direction for
//! `accept_shift_after_s` (6 hours, from the moment the pressure builds, ~20 minutes after
//! the shift), the level is rebased to where the series has been over the last half hour,
//! with the weight of that half hour only, so the following hours average into it at full
//! weight (half an hour of a series that also follows the time of day pins the new level
//! down only to within 10–20%); the verdict returns to *no problems* after the usual fifteen
//! calm minutes. A sustained doubling of a busy series alarms for about six hours and is
//! back to *no problems* within about 6½ hours; the level then settles over the next hours,
//! and the daily profile's shape errors of the first night and morning may raise *possible
//! problems* for a few hours once more (the benchmark's worst seed: 3¼ hours, the next
//! morning; before the full-weight re-learning it was over 4 hours), after which the shift
//! is the new normal (the worst seed is quiet from 22½ hours after the shift). A shift
//! that is too small to keep points outside the band is absorbed by the ordinary level
//! update instead (memory one week). A shift in a
//! harmless direction is accepted after `accept_quiet_shift_after_s` (3 days), so a quiet
//! holiday does not lower the baseline for the busy day after it. An outage shorter than six
//! hours is therefore never learned as normal.
//!
//! **Growth and holidays.** Slow growth is followed by the level's memory (a week's lag
//! costs a few percent, absorbed by φ). A holiday moves the level by about a seventh of its
//! deviation and the affected profile slots by a seventh (daily) or a quarter (weekly) of it,
//! each clipped to the band, and is forgotten over the following weeks; a quieter day never
//! alarms (wrong direction), and a busier one only if it is beyond the series' usual
//! day-to-day variation.
//!
//! **Cold start.** A new counts series starts from a vague prior (one event per bucket,
//! worth a single event). For its first `warmup_points` (30) observations no verdict is
//! given (scores are), the level is learned from the raw values — so the first reports set
//! it, whatever the volume — and nothing else is learned yet. Until a profile slot has seen
//! some ten (daily) or twenty (weekly) expected events, its factor counts as uncertain
//! (≈70% for time of day, ≈30% for day of week) and the band is widened accordingly, so the
//! first evening rise and the first weekend do not look like outages; this term fades as
//! each slot learns, so a mature busy series keeps its full Poisson sensitivity. The weekly
//! correction starts learning after one week of data. A gauge takes its first value as the
//! level and 5% of it as the initial scale, and learns its scale from the start. With
//! `min_excess` a handful of reports never alarms, however quiet the series; beyond that a
//! new install is not blind: after its first 30 points a jump to tens of times its level
//! is flagged within minutes (on day one the widened band needs roughly a 5–10× jump at
//! tens of reports a minute). [`Detector::warm_up`] feeds history without judging it, e.g.
//! seeded from a CSV of past counts; seeded and live-learned detectors end up identical
//! apart from the verdict.
//!
//! **The ranking score.** [`Assessment::evidence`] takes the evidence of the point (`-log10`
//! of its tail probability, computed in log form so 10⁻⁸, 10⁻³⁰ and 10⁻³⁰⁰⁰ stay apart) or of
//! the lean, whichever is stronger, in [`DetectorConfig::evidence_direction`], and compares
//! it with the series' own record: the strongest evidence seen recently, decaying by a
//! factor e over two days (at least 100 points), floored at 3 decades. The score is
//! `x / (x + 2)` where `x = log2(evidence / record)` when the evidence beats the record, else
//! 0: 0.5 means four times the record's decades. So the first point of an event scores high,
//! the rest of it scores only if it is several times rarer still, a series whose noise
//! routinely reaches 10⁻⁶ needs more than one that never does, and no ceiling is ever reached.
//! It needs no settings and is the same on every series and volume; one threshold serves
//! all. It is for ranking (the backtest, evaluation); the verdict does not use it. A slow
//! ramp raises its evidence gradually, each point only a little above the record, so ramps
//! rank low on it; the verdict catches them.
//!
//! **Input rules.** Timestamps should not go backwards: a late point is scored and learned at
//! its own time of day but no time elapses. Non-finite values, values beyond ±10¹⁵ and
//! negative counts are ignored ([`Assessment::ignored`]): they change nothing. Counts must be fed for every
//! bucket, zeros included; gauges may be sampled at any, even irregular, interval (memories
//! are in seconds).
//!
//! **Assumptions.** Counts are roughly Poisson given the baseline (overdispersion is
//! learned); seasonality is daily and weekly; anomalies are bursts or ramps up to a few hours
//! long. What it does not model: yearly seasonality, trends faster than its level memory
//! (they show as a lean, and are accepted as a shift after six hours), or sub-half-hour
//! shapes in the daily profile.

pub mod backtest;
pub mod compare;
pub mod config;
pub mod detector;
mod evidence;
mod exact;
mod gate;
mod season;
mod sustained;
#[cfg(feature = "synthetic")]
#[doc(hidden)]
pub mod synthetic;
mod tail;
pub mod timestamp;

pub use backtest::{BacktestError, KindChoice, Summary, backtest};
pub use config::{ConfigError, DetectorConfig, Direction, SeriesKind};
pub use detector::{Assessment, Baseline, Detector};
pub use downbeat_domain::Verdict;
pub use tail::p_from_score;
