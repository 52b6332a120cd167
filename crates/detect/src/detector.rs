//! The streaming detector: one series, one observation at a time. Predicts the value from a
//! level and seasonal profiles, scores the observation by its tail probability, feeds the
//! verdict gate, then learns from the observation clipped to the normal band.

use downbeat_domain::Verdict;
use serde::{Deserialize, Serialize};

use crate::config::{DetectorConfig, Direction, SeriesKind};
use crate::evidence::{self, Novelty};
use crate::exact;
use crate::gate::{Gate, PointClass};
use crate::season::{Combine, Position, Profile};
use crate::sustained::{self, Reading, Sustained};
use crate::tail::{self, NegBin};

const DAY_S: i64 = 86_400;
const WEEK_S: i64 = 7 * DAY_S;
const DAILY_SLOTS: usize = 48;
const WEEKLY_SLOTS: usize = 168;

/// Shrinkage of profile slots towards flat, in expected events (counts) or observations
/// (gauges): a slot needs about this much evidence before its own shape shows.
const DAILY_PRIOR_COUNTS: f64 = 10.0;
const WEEKLY_PRIOR_COUNTS: f64 = 20.0;
const DAILY_PRIOR_POINTS: f64 = 5.0;
const WEEKLY_PRIOR_POINTS: f64 = 10.0;

/// Counts: how uncertain (relative variance) the time-of-day and day-of-week factors are
/// before a slot has evidence: ~70% for the daily shape, ~30% for the weekly correction. The
/// term shrinks with the slot's evidence like its estimate does, so a fresh series does not
/// scream at its first evening rise or its first weekend, while a mature busy series keeps
/// its full sensitivity (a fixed prior φ would dwarf Poisson noise at 10,000 a minute).
const DAILY_PRIOR_VARIANCE: f64 = 0.5;
const WEEKLY_PRIOR_VARIANCE: f64 = 0.1;
const MAX_PHI: f64 = 10.0;

/// Gauges: initial scale as a fraction of the first value, its weight in observations, and
/// the floor relative to the level (a constant series must not make every wiggle infinite).
const PRIOR_SCALE_FRACTION: f64 = 0.05;
const PRIOR_SCALE_POINTS: f64 = 10.0;
const SCALE_FLOOR_FRACTION: f64 = 1e-3;
const SCALE_FLOOR_ABS: f64 = 1e-12;

/// Memory of the fast level that a sustained shift is rebased to.
const FAST_MEMORY_S: f64 = 1800.0;
/// Memory of the out-of-band pressure that detects a sustained shift, and its thresholds.
const PRESSURE_MEMORY_S: f64 = 1800.0;
const PRESSURE_START: f64 = 0.5;
const PRESSURE_KEEP: f64 = 0.2;

/// The lean of the last half hour raises the verdict (counts only) when it is rare and at
/// least this share of the baseline above it: half for possible problems, all of it (twice
/// the usual) for problems.
const LEAN_POSSIBLE_SHARE: f64 = 0.5;
const LEAN_PROBLEMS_SHARE: f64 = 1.0;
/// The model's own uncertainty (unlearned profile slots) counts this many times over against
/// a lean: an unlearned slot's error is a guess, and the first weekend may differ from the
/// weekdays by far more than the typical slot.
const SYSTEMATIC_FACTOR: f64 = 1.0;

/// Every memory spans at least this many observations, so a series sampled hourly or daily
/// still averages over several points.
const LEVEL_MIN_POINTS: f64 = 10.0;
const NOISE_MIN_POINTS: f64 = 100.0;
const FAST_MIN_POINTS: f64 = 3.0;

const MU_FLOOR: f64 = 1e-9;
/// Below this tail probability the evidence is computed in log form.
const FAR_TAIL: f64 = 1e-200;

/// Values beyond ±10¹⁵ are ignored: no real count or gauge gets there, and squaring them in
/// the noise estimate must stay far from overflow.
const MAX_ABS_VALUE: f64 = 1e15;

/// What the detector says about one observation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The observation's time (unix seconds) and value, as given.
    pub t: i64,
    pub value: f64,
    /// Rarity of the deviation in a bad direction, in [0, 1]: `-log10(p) / 8` where `p` is
    /// the (mid-)tail probability under the model. 0.5 ⇔ p = 10⁻⁴, 1 ⇔ p ≤ 10⁻⁸. The same
    /// score means the same rarity on every series. Deviations in a harmless direction
    /// score 0.
    pub score: f64,
    /// The baseline: what the model expected for this time.
    pub expected: f64,
    /// Evidence that something new is happening, for ranking moments across series: 0 while
    /// the series does nothing it has not done in the past days, and otherwise rising without
    /// bound towards 1 with how far the evidence (`-log10` of the tail probability of this
    /// point, or of the last half hour's lean, whichever is rarer) exceeds the strongest
    /// evidence of the past days (a record that decays over two days): 0.5 at 6 decades beyond it. An event
    /// scores high at its first points and little after, while its evidence stops growing.
    /// Deviations count in [`DetectorConfig::evidence_direction`]. It does not drive the
    /// verdict; [`Assessment::score`] does.
    #[serde(default)]
    pub evidence: f64,
    /// The normal band: approximately the central 99.8% of the predictive distribution.
    pub lower: f64,
    pub upper: f64,
    /// The verdict after this observation, and the one before it.
    pub verdict: Verdict,
    pub previous: Verdict,
    /// The verdict changed at this observation: the moment to alert or store an event.
    pub changed: bool,
    /// When the current verdict began (unix seconds).
    pub verdict_since: i64,
    /// The value was not finite, beyond ±10¹⁵, or negative for counts, and was skipped: nothing was
    /// learned, the verdict and clock did not move.
    pub ignored: bool,
}

impl Assessment {
    /// Observed / expected, for explanations like "14× the usual"; `None` when the baseline
    /// is (nearly) zero.
    pub fn ratio(&self) -> Option<f64> {
        (self.expected.abs() > 1e-9 && !self.ignored).then(|| self.value / self.expected)
    }

    /// How long the current verdict has held, in seconds.
    pub fn verdict_for_s(&self) -> i64 {
        self.t.saturating_sub(self.verdict_since).max(0)
    }

    /// The tail probability behind the score.
    pub fn p_value(&self) -> f64 {
        tail::p_from_score(self.score)
    }
}

/// The baseline for a time: expected value and normal band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub expected: f64,
    pub lower: f64,
    pub upper: f64,
}

/// A streaming detector for one series. Serialize it to persist the learned baseline and the
/// open verdict; a restored detector continues bit-for-bit as if it had never stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Snapshot", into = "Snapshot")]
pub struct Detector {
    config: DetectorConfig,
    s: State,
}

/// Learned state. Floats are stored as bit patterns (see `exact`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    /// Time of the latest observation (the detector's clock never goes back).
    last_t: Option<i64>,
    /// Time of the first observation.
    first_t: Option<i64>,
    /// Observations learned from (judged or warm-up).
    points: u64,
    /// Typical spacing of observations.
    #[serde(with = "exact::f64")]
    interval_s: f64,
    /// Level = level_num / level_den (counts: events per bucket before seasonality;
    /// gauges: value before seasonal offsets). Decaying sums of clipped observations.
    #[serde(with = "exact::f64")]
    level_num: f64,
    #[serde(with = "exact::f64")]
    level_den: f64,
    /// Same with unclipped observations and a short memory: where the series is now.
    #[serde(with = "exact::f64")]
    fast_num: f64,
    #[serde(with = "exact::f64")]
    fast_den: f64,
    /// Noise: counts Σ(r² − μ) / Σμ² (overdispersion φ), gauges Σ|r| / n (Laplace scale).
    #[serde(with = "exact::f64")]
    noise_num: f64,
    #[serde(with = "exact::f64")]
    noise_den: f64,
    daily: Profile,
    weekly: Profile,
    /// Decaying average of +1 (above band) / −1 (below) / 0: a sustained shift keeps it
    /// near ±1.
    #[serde(with = "exact::f64")]
    pressure: f64,
    /// The ongoing shift: its sign and start.
    shift_sign: i8,
    shift_since: i64,
    gate: Gate,
    /// The last half hour's lean (see `sustained`).
    #[serde(default)]
    sustained: Sustained,
    /// The recent record of evidence behind [`Assessment::evidence`].
    #[serde(default)]
    novelty: Novelty,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    config: DetectorConfig,
    state: State,
}

impl From<Detector> for Snapshot {
    fn from(d: Detector) -> Self {
        Snapshot {
            config: d.config,
            state: d.s,
        }
    }
}

impl TryFrom<Snapshot> for Detector {
    type Error = String;

    fn try_from(snap: Snapshot) -> Result<Self, Self::Error> {
        let s = snap.state;
        let finite = [
            s.interval_s,
            s.level_num,
            s.level_den,
            s.fast_num,
            s.fast_den,
            s.noise_num,
            s.noise_den,
            s.pressure,
        ]
        .iter()
        .all(|v| v.is_finite());
        if !finite
            || !s.daily.is_valid(DAY_S, DAILY_SLOTS)
            || !s.weekly.is_valid(WEEK_S, WEEKLY_SLOTS)
            || !(-1..=1).contains(&s.shift_sign)
            || !s.sustained.is_valid()
            || !s.novelty.is_valid()
        {
            return Err("corrupt detector state".to_string());
        }
        Ok(Detector {
            config: snap.config.sanitized(),
            s,
        })
    }
}

/// Everything the model predicts for one time.
#[derive(Debug, Clone, Copy)]
struct Prediction {
    daily_pos: Position,
    weekly_pos: Position,
    /// Counts: factors with mean 1; gauges: offsets with mean 0.
    daily: f64,
    weekly: f64,
    level: f64,
    expected: f64,
    lower: f64,
    upper: f64,
    /// Counts: overdispersion; gauges: Laplace scale.
    spread: f64,
    /// Counts: the part of the relative variance that is the model's own uncertainty (level,
    /// unlearned profile slots), which does not average out over consecutive points;
    /// gauges: 0.
    systematic: f64,
}

/// How rare one point is, on its own side of the baseline.
#[derive(Debug, Clone, Copy)]
struct PointRarity {
    /// +1 above the baseline, −1 below, 0 on it.
    sign: i8,
    /// One-sided (mid-)tail probability.
    tail_p: f64,
    /// ln of the one-sided tail, accurate below the floor of `tail_p` (10⁻³⁰⁰).
    ln_tail: f64,
    /// |value − expected|.
    excess: f64,
}

/// A two-sided test spends its false alarms on both sides.
fn two_sided(tail_p: f64, dir: Direction) -> f64 {
    if dir == Direction::Both {
        (2.0 * tail_p).min(1.0)
    } else {
        tail_p
    }
}

fn div(a: f64, b: f64, fallback: f64) -> f64 {
    let q = a / b;
    if b > 0.0 && q.is_finite() {
        q
    } else {
        fallback
    }
}

/// Decay factor after `dt` seconds for a memory of `tau` seconds.
fn keep(dt: f64, tau: f64) -> f64 {
    if dt <= 0.0 { 1.0 } else { (-dt / tau).exp() }
}

impl Detector {
    /// A detector with no history. Out-of-range settings are replaced by defaults
    /// ([`DetectorConfig::sanitized`]).
    pub fn new(config: DetectorConfig) -> Self {
        let config = config.sanitized();
        let (level_num, level_den) = match (config.kind, config.prior_level) {
            // A Gamma prior worth about one event: a fresh series learns its own level within
            // its first few reports.
            (SeriesKind::Counts, Some(p)) => (1.0, 1.0 / p),
            (SeriesKind::Counts, None) => (1.0, 1.0),
            (SeriesKind::Gauge, Some(p)) => (p, 1.0),
            (SeriesKind::Gauge, None) => (0.0, 0.0),
        };
        let s = State {
            last_t: None,
            first_t: None,
            points: 0,
            interval_s: config.nominal_interval_s as f64,
            level_num,
            level_den,
            fast_num: 0.0,
            fast_den: 0.0,
            noise_num: 0.0,
            noise_den: 0.0,
            daily: Profile::new(DAY_S, DAILY_SLOTS),
            weekly: Profile::new(WEEK_S, WEEKLY_SLOTS),
            pressure: 0.0,
            shift_sign: 0,
            shift_since: 0,
            gate: Gate::default(),
            sustained: Sustained::default(),
            novelty: Novelty::default(),
        };
        Detector { config, s }
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// The current verdict.
    pub fn verdict(&self) -> Verdict {
        self.s.gate.verdict()
    }

    /// Observations learned so far.
    pub fn points(&self) -> u64 {
        self.s.points
    }

    /// Whether verdicts are still held back while the detector learns (see
    /// [`DetectorConfig::warmup_points`]).
    pub fn warming_up(&self) -> bool {
        self.s.points < u64::from(self.config.warmup_points)
    }

    /// Scores one observation, updates the verdict, and learns from it.
    ///
    /// `t_unix_s` should not go backwards; if it does, the point is scored and learned at its
    /// own time of day but no time elapses for the detector. For counts every bucket must be
    /// fed, empty ones as 0. Non-finite values, values beyond ±10¹⁵ and negative counts are
    /// ignored (see [`Assessment::ignored`]).
    pub fn observe(&mut self, t_unix_s: i64, value: f64) -> Assessment {
        self.step(t_unix_s, value, true)
    }

    /// Learns from a past observation without judging it: the verdict stays where it is and
    /// no change is reported. Use it to seed history (e.g. from a CSV of past counts).
    pub fn warm_up(&mut self, t_unix_s: i64, value: f64) -> Assessment {
        self.step(t_unix_s, value, false)
    }

    /// The baseline the model would use at `t_unix_s` right now (for charts of the
    /// expected curve). Pure: learns nothing.
    pub fn baseline(&self, t_unix_s: i64) -> Baseline {
        let p = self.predict(t_unix_s, None);
        Baseline {
            expected: p.expected,
            lower: p.lower,
            upper: p.upper,
        }
    }

    fn valid(&self, value: f64) -> bool {
        value.is_finite()
            && value.abs() <= MAX_ABS_VALUE
            && (self.config.kind == SeriesKind::Gauge || value >= 0.0)
    }

    fn step(&mut self, t: i64, value: f64, judge: bool) -> Assessment {
        let verdict = self.verdict();
        if !self.valid(value) {
            let p = self.predict(t, None);
            return Assessment {
                t,
                value,
                score: 0.0,
                evidence: 0.0,
                expected: p.expected,
                lower: p.lower,
                upper: p.upper,
                verdict,
                previous: verdict,
                changed: false,
                verdict_since: self.s.gate.since().unwrap_or(t),
                ignored: true,
            };
        }
        let dt = match self.s.last_t {
            Some(last) => (t.saturating_sub(last)).max(0) as f64,
            None => 0.0,
        };
        if dt > 0.0 {
            // Robust running spacing: each step moves at most 5% of the current value, so
            // one long gap does not stretch every memory.
            let i = self.s.interval_s;
            self.s.interval_s = (i + 0.05 * (dt - i).clamp(-i, i)).max(1.0);
        }
        let p = self.predict(t, Some(value));
        let point = self.rarity(&p, value);
        let (score, excess) = (
            self.directed_score(point, self.config.direction),
            point.excess,
        );
        let keep_lean = sustained::keep_per_point(self.s.interval_s);
        let lean = self.s.sustained.read(
            self.standardised(&p, value),
            value - p.expected,
            keep_lean,
            self.systematic_variance(&p),
        );
        let lean_score = self.lean_score(&lean, self.config.direction);
        let lean_excess = lean.mean_excess.abs();

        let c = &self.config;
        // The lean counts only once the spread it is judged against has been learned a bit.
        let lean_on = !self.warming_up() && self.s.points >= 2 * u64::from(c.warmup_points);
        // For the verdict, a lean must also be large against the baseline: a profile that is
        // a few tens of percent off for an hour (the week after a holiday) is not an outage,
        // while a ramp to twice the usual is.
        let relative = |share: f64| match c.kind {
            SeriesKind::Counts => lean_excess >= share * p.expected,
            SeriesKind::Gauge => false,
        };
        let lean_hot = lean_on
            && lean_score >= c.possible_score
            && lean_excess >= c.min_excess
            && relative(LEAN_POSSIBLE_SHARE);
        let lean_strong = lean_on
            && lean_score >= c.problems_score
            && lean_excess >= c.problems_min_excess
            && relative(LEAN_PROBLEMS_SHARE);
        let mut previous = verdict;
        if judge && !self.warming_up() {
            let lean_calm = !lean_hot;
            let class = PointClass {
                hot: (score >= c.possible_score && excess >= c.min_excess) || lean_hot,
                strong: (score >= c.problems_score && excess >= c.problems_min_excess)
                    || lean_strong,
                calm: (score < c.clear_score || excess < c.min_excess) && lean_calm,
            };
            let interval = self.s.interval_s;
            previous = self.s.gate.step(t, interval, class, &self.config);
        }

        let evidence = if self.warming_up() {
            0.0
        } else {
            let dir = self
                .config
                .evidence_direction
                .unwrap_or(self.config.direction);
            let decades = self.point_decades(point, dir).max(if lean_on {
                self.lean_decades(&lean, dir)
            } else {
                0.0
            });
            let interval = self.s.interval_s;
            let k = keep(dt, evidence::MEMORY_S.max(evidence::MIN_POINTS * interval));
            self.s.novelty.step(decades, k)
        };

        // While the last half hour leans hard one way (rare, and at twice the usual), learn
        // nothing from it: a slow ramp must not teach the baseline its own slope. A milder
        // lean is still learned from, since it is more often the model's own error (a
        // profile that is off for a day) than an event. A lean that lasts is accepted as a
        // new normal by the shift rebase, like points outside the band.
        let keep_spread = keep(
            self.s.interval_s,
            (self.config.noise_memory_s as f64).max(NOISE_MIN_POINTS * self.s.interval_s),
        );
        self.s.sustained.commit(
            lean,
            keep_lean,
            !lean_hot && !self.warming_up(),
            keep_spread,
        );
        let lean_freeze = lean_on
            && lean_score >= c.possible_score
            && lean_excess >= c.min_excess
            && relative(LEAN_PROBLEMS_SHARE);
        let lean_sign = if lean_freeze {
            lean.mean_u.signum()
        } else {
            0.0
        };
        self.learn(&p, t, dt, value, lean_sign, lean_hot);
        self.s.last_t = Some(self.s.last_t.map_or(t, |last| last.max(t)));
        self.s.first_t.get_or_insert(t);
        self.s.points += 1;

        let verdict = self.verdict();
        Assessment {
            t,
            value,
            score,
            evidence,
            expected: p.expected,
            lower: p.lower,
            upper: p.upper,
            verdict,
            previous,
            changed: verdict != previous,
            verdict_since: self.s.gate.since().unwrap_or(t),
            ignored: false,
        }
    }

    fn level(&self, first_value: Option<f64>) -> f64 {
        match self.config.kind {
            SeriesKind::Counts => div(self.s.level_num, self.s.level_den, 1.0).max(0.0),
            SeriesKind::Gauge => div(
                self.s.level_num,
                self.s.level_den,
                first_value.unwrap_or(0.0),
            ),
        }
    }

    /// `value` is only used by a gauge with no history, whose prior is its first value.
    fn predict(&self, t: i64, value: Option<f64>) -> Prediction {
        let s = &self.s;
        let daily_pos = s.daily.position(t);
        let weekly_pos = s.weekly.position(t);
        let level = self.level(value);
        match self.config.kind {
            SeriesKind::Counts => {
                let daily = s
                    .daily
                    .effect(daily_pos, Combine::Multiplicative, DAILY_PRIOR_COUNTS);
                let weekly =
                    s.weekly
                        .effect(weekly_pos, Combine::Multiplicative, WEEKLY_PRIOR_COUNTS);
                let expected = (level * daily * weekly).max(MU_FLOOR);
                let phi_model = div(s.noise_num, s.noise_den, 0.0).clamp(0.0, MAX_PHI);
                // Uncertainty of the level itself (Gamma posterior: CV² = 1 / events seen).
                let phi_level = 1.0 / (s.level_num.max(0.0) + 1.0);
                let phi_shape = DAILY_PRIOR_VARIANCE * DAILY_PRIOR_COUNTS
                    / (DAILY_PRIOR_COUNTS + s.daily.evidence(daily_pos))
                    + WEEKLY_PRIOR_VARIANCE * WEEKLY_PRIOR_COUNTS
                        / (WEEKLY_PRIOR_COUNTS + s.weekly.evidence(weekly_pos));
                let spread = (phi_model + phi_level + phi_shape).min(MAX_PHI);
                let systematic = phi_level + phi_shape;
                let (lower, upper) = NegBin::new(expected, spread).band();
                Prediction {
                    daily_pos,
                    weekly_pos,
                    daily,
                    weekly,
                    level,
                    expected,
                    lower,
                    upper,
                    spread,
                    systematic,
                }
            }
            SeriesKind::Gauge => {
                let daily = s
                    .daily
                    .effect(daily_pos, Combine::Additive, DAILY_PRIOR_POINTS);
                let weekly = s
                    .weekly
                    .effect(weekly_pos, Combine::Additive, WEEKLY_PRIOR_POINTS);
                let expected = level + daily + weekly;
                let (num, den) = if s.noise_den > 0.0 {
                    (s.noise_num, s.noise_den)
                } else {
                    // No history yet: a scale proportional to the first value.
                    let first = value.unwrap_or(level).abs();
                    (
                        PRIOR_SCALE_FRACTION * first * PRIOR_SCALE_POINTS,
                        PRIOR_SCALE_POINTS,
                    )
                };
                let floor = self
                    .config
                    .min_scale
                    .max(SCALE_FLOOR_FRACTION * level.abs())
                    .max(SCALE_FLOOR_ABS);
                let spread = div(num, den, floor).max(floor);
                let half = spread * tail::laplace_band_halfwidth();
                Prediction {
                    daily_pos,
                    weekly_pos,
                    daily,
                    weekly,
                    level,
                    expected,
                    lower: expected - half,
                    upper: expected + half,
                    spread,
                    systematic: 0.0,
                }
            }
        }
    }

    /// The one-sided tail probability of `y` on its own side of the baseline.
    fn rarity(&self, p: &Prediction, y: f64) -> PointRarity {
        let sign: i8 = if y > p.expected {
            1
        } else if y < p.expected {
            -1
        } else {
            0
        };
        let (tail_p, ln_tail) = match (sign, self.config.kind) {
            (0, _) => (1.0, 0.0),
            (_, SeriesKind::Counts) => {
                let d = NegBin::new(p.expected, p.spread);
                let tail_p = if sign > 0 {
                    d.upper_mid_p(y)
                } else {
                    d.lower_mid_p(y)
                };
                // Only the far tail needs the log form (and its extra work).
                let ln_tail = if tail_p > FAR_TAIL {
                    tail_p.ln()
                } else if sign > 0 {
                    d.upper_ln_tail(y)
                } else {
                    d.lower_ln_tail(y)
                };
                (tail_p, ln_tail)
            }
            (_, SeriesKind::Gauge) => {
                let tail_p = if sign > 0 {
                    tail::laplace_upper(p.expected, p.spread, y)
                } else {
                    tail::laplace_lower(p.expected, p.spread, y)
                };
                (tail_p, tail::laplace_ln_tail(p.expected, p.spread, y))
            }
        };
        PointRarity {
            sign,
            tail_p,
            ln_tail,
            excess: (y - p.expected).abs(),
        }
    }

    /// The verdict's score: rarity in a bad direction, 0 in a harmless one.
    fn directed_score(&self, r: PointRarity, dir: Direction) -> f64 {
        if !dir.is_bad(r.sign) {
            return 0.0;
        }
        tail::score_from_p(two_sided(r.tail_p, dir))
    }

    fn point_decades(&self, r: PointRarity, dir: Direction) -> f64 {
        if !dir.is_bad(r.sign) {
            return 0.0;
        }
        let two = if dir == Direction::Both {
            std::f64::consts::LN_2
        } else {
            0.0
        };
        tail::decades_from_ln((r.ln_tail + two).min(0.0))
    }

    /// The residual in units of its predicted standard deviation.
    fn standardised(&self, p: &Prediction, y: f64) -> f64 {
        let sd = match self.config.kind {
            SeriesKind::Counts => (p.expected * (1.0 + p.spread * p.expected)).sqrt(),
            // A Laplace distribution of scale b has variance 2b².
            SeriesKind::Gauge => std::f64::consts::SQRT_2 * p.spread,
        };
        div(y - p.expected, sd, 0.0)
    }

    /// Variance, in standardised units, of the model errors that do not average out.
    fn systematic_variance(&self, p: &Prediction) -> f64 {
        let var_point = p.expected * (1.0 + p.spread * p.expected);
        div(
            SYSTEMATIC_FACTOR * p.systematic * p.expected * p.expected,
            var_point,
            0.0,
        )
    }

    /// Decades of rarity of the last half hour's lean in direction `dir`.
    fn lean_decades(&self, lean: &Reading, dir: Direction) -> f64 {
        let sign: i8 = if lean.z > 0.0 { 1 } else { -1 };
        if !dir.is_bad(sign) {
            return 0.0;
        }
        let d = tail::normal_upper_decades(lean.z.abs());
        if dir == Direction::Both {
            (d - std::f64::consts::LOG10_2).max(0.0)
        } else {
            d
        }
    }

    fn lean_score(&self, lean: &Reading, dir: Direction) -> f64 {
        (self.lean_decades(lean, dir) / tail::SCORE_DECADES).min(1.0)
    }

    /// `lean` is the sign of a strong lean of the last half hour (0 if none): such points are
    /// not learned, as if they were outside the band.
    ///
    /// `freeze_shape`: a milder lean (rare, but under twice the usual) still teaches the
    /// level and the noise, but not the profiles, whose slots learn fast (a half-hour slot
    /// sees only its own half hour of each day): a slow ramp would otherwise be half
    /// learned as the usual shape of the afternoon before it is caught.
    fn learn(&mut self, p: &Prediction, t: i64, dt: f64, y: f64, lean: f64, freeze_shape: bool) {
        let interval = self.s.interval_s;
        let memory = |tau_s: i64, min_points: f64| (tau_s as f64).max(min_points * interval);
        // Outliers teach the model no more than an edge-of-normal value would; a sustained
        // shift is accepted separately (see the shift rebase below).
        // While settling, the prediction is still mostly prior: take the level from the data
        // at face value, and learn neither noise nor shape from residuals that only measure
        // the prior's error.
        let settling = self.warming_up();
        // A point outside the band teaches nothing: it is learned as if it had been the
        // expected value. Clipping it to the band's edge instead would still feed the model
        // edge values minute after minute, and the noise estimate learned from edge-sized
        // residuals widens the band, whose new edge is learned next: during a long, huge
        // outage that loop grew the baseline a hundredfold within the hour. Sustained new
        // normals are accepted by the shift rebase below, not by creeping.
        let outside = !settling && (y < p.lower || y > p.upper || lean != 0.0);
        let yc = if outside { p.expected } else { y };
        let y_shape = if freeze_shape { p.expected } else { yc };
        let c = &self.config;
        let s = &mut self.s;
        let k_fast = keep(dt, memory(FAST_MEMORY_S as i64, FAST_MIN_POINTS));
        let k_noise = keep(dt, memory(c.noise_memory_s, NOISE_MIN_POINTS));
        let k_daily = keep(dt * DAILY_SLOTS as f64, c.daily_memory_s as f64);
        let k_weekly = keep(dt * WEEKLY_SLOTS as f64, c.weekly_memory_s as f64);
        // The weekly correction only starts once the daily profile has seen a full week:
        // learnt together from scratch, the two would split the daily shape between them
        // and the weekly half would take weeks to unlearn.
        let learn_weekly = s
            .first_t
            .is_some_and(|first| t.saturating_sub(first) >= WEEK_S);
        match c.kind {
            SeriesKind::Counts => {
                let season = p.daily * p.weekly;
                // Stretch the level's memory until it holds `level_min_counts` events.
                let events_per_s = p.level / interval;
                let tau = div(
                    c.level_min_counts,
                    events_per_s,
                    c.level_memory_max_s as f64,
                )
                .clamp(
                    c.level_memory_s as f64,
                    c.level_memory_max_s.max(c.level_memory_s) as f64,
                );
                let k_level = keep(dt, tau.max(LEVEL_MIN_POINTS * interval));
                s.level_num = k_level * s.level_num + yc;
                s.level_den = k_level * s.level_den + season;
                s.fast_num = k_fast * s.fast_num + y;
                s.fast_den = k_fast * s.fast_den + season;
                if settling {
                    return;
                }
                // Outside the band, the residual is taken at the model's own variance, so
                // the noise estimate neither grows nor shrinks.
                let r2 = if outside {
                    p.expected
                        + div(s.noise_num, s.noise_den, 0.0).clamp(0.0, MAX_PHI)
                            * p.expected
                            * p.expected
                } else {
                    let r = y - p.expected;
                    r * r
                };
                s.noise_num = k_noise * s.noise_num + (r2 - p.expected);
                s.noise_den = k_noise * s.noise_den + p.expected * p.expected;
                s.daily.learn(
                    p.daily_pos,
                    Combine::Multiplicative,
                    DAILY_PRIOR_COUNTS,
                    y_shape,
                    p.level * p.weekly,
                    k_daily,
                );
                if learn_weekly {
                    s.weekly.learn(
                        p.weekly_pos,
                        Combine::Multiplicative,
                        WEEKLY_PRIOR_COUNTS,
                        y_shape,
                        p.level * p.daily,
                        k_weekly,
                    );
                }
            }
            SeriesKind::Gauge => {
                let k_level = keep(dt, memory(c.level_memory_s, LEVEL_MIN_POINTS));
                if s.noise_den <= 0.0 {
                    // First observation: seed the scale prior it was judged with.
                    s.noise_num = PRIOR_SCALE_FRACTION * y.abs() * PRIOR_SCALE_POINTS;
                    s.noise_den = PRIOR_SCALE_POINTS;
                }
                s.level_num = k_level * s.level_num + (yc - p.daily - p.weekly);
                s.level_den = k_level * s.level_den + 1.0;
                s.fast_num = k_fast * s.fast_num + (y - p.daily - p.weekly);
                s.fast_den = k_fast * s.fast_den + 1.0;
                // A gauge's level starts at its first value, so residuals measure noise from
                // the start (clipped, so one wild early sample cannot blow up the scale).
                let r = if outside {
                    // As for counts: an outlier leaves the scale as it is.
                    div(s.noise_num, s.noise_den, (p.upper - p.expected).abs())
                } else {
                    (y.clamp(p.lower, p.upper) - p.expected).abs()
                };
                s.noise_num = k_noise * s.noise_num + r;
                s.noise_den = k_noise * s.noise_den + 1.0;
                if settling {
                    return;
                }
                s.daily.learn(
                    p.daily_pos,
                    Combine::Additive,
                    DAILY_PRIOR_POINTS,
                    y_shape - p.level - p.weekly,
                    1.0,
                    k_daily,
                );
                if learn_weekly {
                    s.weekly.learn(
                        p.weekly_pos,
                        Combine::Additive,
                        WEEKLY_PRIOR_POINTS,
                        y_shape - p.level - p.daily,
                        1.0,
                        k_weekly,
                    );
                }
            }
        }
        self.track_shift(p, t, dt, y, lean);
    }

    /// A deviation that keeps most points outside the band for long enough is a new normal:
    /// rebase the level to where the series is now.
    fn track_shift(&mut self, p: &Prediction, t: i64, dt: f64, y: f64, lean: f64) {
        let interval = self.s.interval_s;
        let k = keep(dt, PRESSURE_MEMORY_S.max(FAST_MIN_POINTS * interval));
        let out: f64 = if y > p.upper {
            1.0
        } else if y < p.lower {
            -1.0
        } else {
            lean
        };
        let s = &mut self.s;
        s.pressure = k * s.pressure + (1.0 - k) * out;
        if s.shift_sign == 0 {
            if s.pressure.abs() >= PRESSURE_START {
                s.shift_sign = if s.pressure > 0.0 { 1 } else { -1 };
                s.shift_since = t;
            }
            return;
        }
        if s.pressure * f64::from(s.shift_sign) < PRESSURE_KEEP {
            s.shift_sign = 0;
            return;
        }
        let accept = if self.config.direction.is_bad(s.shift_sign) {
            self.config.accept_shift_after_s
        } else {
            self.config.accept_quiet_shift_after_s
        };
        if t.saturating_sub(s.shift_since) >= accept {
            // The new level starts with the weight of the last half hour only, so the hours
            // that follow average into it at full weight: half an hour of a series that is
            // also changing with the time of day pins the new level down only roughly
            // (10–20% off), and at the old weight that error would stay for a week.
            if s.fast_den > 0.0 && s.fast_den < s.level_den {
                s.level_num = s.fast_num;
                s.level_den = s.fast_den;
            } else {
                let now = div(s.fast_num, s.fast_den, p.level);
                s.level_num = now * s.level_den;
            }
            s.sustained.reset();
            s.pressure = 0.0;
            s.shift_sign = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_counts_detector_neither_screams_nor_judges_during_warm_up() {
        let mut d = Detector::new(DetectorConfig::for_counts());
        for i in 0..29 {
            let a = d.observe(i * 60, 500.0);
            assert_eq!(a.verdict, Verdict::NoProblems);
        }
        assert!(d.warming_up());
        d.observe(29 * 60, 500.0);
        assert!(!d.warming_up());
    }

    #[test]
    fn non_finite_and_negative_counts_are_ignored() {
        let mut d = Detector::new(DetectorConfig::for_counts());
        d.observe(0, 3.0);
        let before = d.clone();
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0] {
            let a = d.observe(60, v);
            assert!(a.ignored && !a.changed && a.score == 0.0);
        }
        assert_eq!(d, before);
    }

    #[test]
    fn fewer_reports_than_usual_scores_zero() {
        let mut d = Detector::new(DetectorConfig::for_counts());
        for i in 0..200 {
            d.observe(i * 60, 100.0);
        }
        let a = d.observe(200 * 60, 0.0);
        assert_eq!(a.score, 0.0);
    }

    #[test]
    fn gauge_direction_down_flags_drops_only() {
        let mut d = Detector::new(DetectorConfig::for_gauge(Direction::Down));
        for i in 0..300 {
            d.observe(i * 60, 0.99 + 0.001 * ((i % 7) as f64 - 3.0));
        }
        assert!(d.observe(300 * 60, 0.5).score > 0.9);
        assert_eq!(d.observe(301 * 60, 1.5).score, 0.0);
    }

    #[test]
    fn baseline_is_pure() {
        let mut d = Detector::new(DetectorConfig::for_counts());
        for i in 0..100 {
            d.observe(i * 60, 10.0);
        }
        let before = d.clone();
        let b = d.baseline(100 * 60);
        assert!(b.lower <= b.expected && b.expected <= b.upper);
        assert_eq!(d, before);
    }

    #[test]
    fn state_saved_before_the_lean_and_the_evidence_score_still_loads() {
        let mut d = Detector::new(DetectorConfig::for_counts());
        for i in 0..100 {
            d.observe(i * 60, 10.0);
        }
        let mut json: serde_json::Value = serde_json::to_value(&d).unwrap();
        let state = json["state"].as_object_mut().unwrap();
        state.remove("sustained");
        state.remove("novelty");
        json["config"]
            .as_object_mut()
            .unwrap()
            .remove("evidence_direction");
        let restored: Detector = serde_json::from_value(json).unwrap();
        assert_eq!(restored.config(), d.config());
        assert_eq!(restored.points(), 100);
    }

    #[test]
    fn corrupt_state_is_rejected_not_used() {
        let d = Detector::new(DetectorConfig::for_counts());
        let mut json: serde_json::Value = serde_json::to_value(&d).unwrap();
        json["state"]["daily"]["num"] = serde_json::json!([1, 2, 3]);
        assert!(serde_json::from_value::<Detector>(json).is_err());
    }
}
