//! Seeded synthetic traffic for tests and the benchmark (feature `synthetic`): a small PRNG,
//! a Poisson sampler, and the scenarios of issue 3 — normal weeks with daily and weekly
//! rhythm, growth and a holiday; the DESIGN.md outage; a slow regional ramp; a quiet series
//! with a burst; a level shift; latency gauges.

use crate::tail::ln_gamma;

/// Monday 2026-01-05 00:00 UTC; scenarios start here so weekdays are easy to reason about.
pub const START: i64 = 1_767_571_200;
pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;

/// SplitMix64: tiny, fast, good enough for test traffic, and fully determined by its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Gamma(shape, scale 1/shape): mean 1, variance 1/shape (Marsaglia and Tsang).
    pub fn gamma_unit_mean(&mut self, shape: f64) -> f64 {
        if shape.is_nan() || shape <= 0.0 {
            return 1.0;
        }
        // Shapes below 1 are boosted and corrected with U^(1/shape).
        let (a, boost) = if shape < 1.0 {
            (shape + 1.0, self.uniform().powf(1.0 / shape))
        } else {
            (shape, 1.0)
        };
        let d = a - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v * boost / shape;
            }
        }
    }

    /// Poisson(λ): multiplication method for small λ, Hörmann's PTRS otherwise.
    pub fn poisson(&mut self, lambda: f64) -> f64 {
        if lambda.is_nan() || lambda <= 0.0 {
            return 0.0;
        }
        if lambda < 30.0 {
            let limit = (-lambda).exp();
            let mut k = 0.0;
            let mut prod = self.uniform();
            while prod > limit {
                k += 1.0;
                prod *= self.uniform();
            }
            return k;
        }
        let slam = lambda.sqrt();
        let loglam = lambda.ln();
        let b = 0.931 + 2.53 * slam;
        let a = -0.059 + 0.02483 * b;
        let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
        let vr = 0.9277 - 3.6224 / (b - 2.0);
        loop {
            let u = self.uniform() - 0.5;
            let v = self.uniform();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
            if us >= 0.07 && v <= vr {
                return k;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            if v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln()
                <= -lambda + k * loglam - ln_gamma(k + 1.0)
            {
                return k;
            }
        }
    }
}

/// A generated series and, when it has one, its anomaly window.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: &'static str,
    pub points: Vec<(i64, f64)>,
    /// First timestamp of the anomaly.
    pub onset: Option<i64>,
    /// When the anomaly is over (back to baseline).
    pub end: Option<i64>,
}

fn bump(h: f64, centre: f64, width: f64) -> f64 {
    let d = (h - centre + 36.0).rem_euclid(24.0) - 12.0;
    (-0.5 * (d / width).powi(2)).exp()
}

/// Relative crowd volume at a time: quiet at 4 am, a morning bump, a lunchtime shoulder,
/// busiest around 20:30; weekends 25% busier with a later morning, blended smoothly around
/// midnight. Mean roughly 1.
pub fn crowd_shape(t: i64) -> f64 {
    shape_with(t, |day| {
        if matches!(day.rem_euclid(7), 5 | 6) {
            1.0
        } else {
            0.0
        }
    })
}

/// The crowd shape with `weekendness(day)` in [0, 1] blended in over the four hours around
/// each midnight, so days change character without a jump.
fn shape_with(t: i64, weekendness: impl Fn(i64) -> f64) -> f64 {
    let day = (t - START).div_euclid(DAY);
    let h = (t.rem_euclid(DAY)) as f64 / 3600.0;
    let here = weekendness(day);
    let w = if h >= 22.0 {
        let next = weekendness(day + 1);
        here + (next - here) * (h - 22.0) / 4.0
    } else if h < 2.0 {
        let prev = weekendness(day - 1);
        prev + (here - prev) * (h + 2.0) / 4.0
    } else {
        here
    };
    (1.0 - w) * weekday_curve(h) + w * 1.25 * weekend_curve(h)
}

fn weekday_curve(h: f64) -> f64 {
    0.12 + 0.55 * bump(h, 12.5, 3.0) + 0.35 * bump(h, 8.5, 1.5) + 1.25 * bump(h, 20.5, 2.5)
}

fn weekend_curve(h: f64) -> f64 {
    0.14 + 0.55 * bump(h, 13.5, 3.0) + 0.35 * bump(h, 10.5, 1.5) + 1.25 * bump(h, 21.0, 2.5)
}

/// Report counts per minute for `days` days: `base` reports per minute on average, with the
/// crowd rhythm, 0.5% growth a day, day-to-day (5%) and slowly wandering (5%) extra noise, and
/// a holiday (day 17, a Thursday: a weekend-shaped day at 85% volume, in the middle of the
/// week).
pub fn normal_days(seed: u64, days: i64, base: f64) -> Series {
    let mut rng = Rng::new(seed);
    let mut points = Vec::with_capacity((days * 1440) as usize);
    let mut wander = 0.0f64;
    let mut day_factor = 1.0;
    let weekendness = |day: i64| {
        if day == 17 || matches!(day.rem_euclid(7), 5 | 6) {
            1.0
        } else {
            0.0
        }
    };
    for m in 0..days * 1440 {
        let t = START + m * MINUTE;
        let day = m / 1440;
        if m % 1440 == 0 {
            day_factor = (0.05 * rng.normal()).exp();
            if day == 17 {
                day_factor *= 0.85 / 1.25;
            }
        }
        wander = 0.99 * wander + 0.05 * (1.0f64 - 0.99 * 0.99).sqrt() * rng.normal();
        let shape = shape_with(t, weekendness);
        let rate = base * shape * (1.0 + 0.005 * day as f64) * day_factor * wander.exp();
        points.push((t, rng.poisson(rate)));
    }
    Series {
        name: "30 normal days",
        points,
        onset: None,
        end: None,
    }
}

/// Adds `extra(t − onset)` expected reports per minute on top of a series, from `onset`.
fn add_event(series: &mut Series, seed: u64, onset: i64, extra: impl Fn(f64) -> f64) {
    let mut rng = Rng::new(seed ^ 0xABCD);
    for (t, v) in series.points.iter_mut() {
        if *t >= onset {
            let minutes = (*t - onset) as f64 / 60.0;
            *v += rng.poisson(extra(minutes));
        }
    }
}

/// The DESIGN.md outage: 30 normal days (20–200 reports a minute following the day), then at
/// 19:00 on day 30 reports climb to ~30,000 a minute within 30 minutes, peak within the hour
/// and fade over about four hours; the series continues to the end of day 31.
pub fn design_outage(seed: u64) -> Series {
    let mut s = normal_days(seed, 32, 100.0);
    let onset = START + 30 * DAY + 19 * HOUR;
    add_event(&mut s, seed, onset, |m| {
        let peak = 30_000.0;
        if m < 60.0 {
            peak * (1.0 - (-(m + 0.5) / 12.0).exp())
        } else {
            peak * (1.0 - (-5.0f64).exp()) * (-(m - 60.0) / 45.0).exp()
        }
    });
    s.name = "DESIGN.md outage";
    s.onset = Some(onset);
    s.end = Some(onset + 5 * HOUR);
    s
}

/// One country: ~0–3 reports a minute, then at 14:00 on day 21 a ramp to 300 a minute over an
/// hour, a plateau of half an hour, and a one-hour decline.
pub fn regional_ramp(seed: u64) -> Series {
    let mut s = normal_days(seed, 23, 1.2);
    let onset = START + 21 * DAY + 14 * HOUR;
    add_event(&mut s, seed, onset, |m| {
        if m < 60.0 {
            300.0 * m / 60.0
        } else if m < 90.0 {
            300.0
        } else {
            (300.0 * (1.0 - (m - 90.0) / 60.0)).max(0.0)
        }
    });
    s.name = "regional slow ramp";
    s.onset = Some(onset);
    s.end = Some(onset + 150 * MINUTE);
    s
}

/// Issue 14's slow regional ramp: about 8 reports a minute on average, with the crowd's daily
/// and weekly rhythm and overdispersed (gamma-Poisson, variance μ + μ²/5) noise, for three
/// weeks; then at 14:00 on day 22 (a Tuesday) the volume rises linearly over three hours to
/// four times the usual, holds for an hour and falls back over an hour. It reaches twice the
/// usual one hour after onset.
pub fn slow_ramp(seed: u64) -> Series {
    let mut rng = Rng::new(seed ^ 0x5EED);
    let onset = START + 22 * DAY + 14 * HOUR;
    let days = 24;
    let points = (0..days * 1440)
        .map(|m| {
            let t = START + m * MINUTE;
            let min = (t - onset) as f64 / 60.0;
            let factor = if !(0.0..300.0).contains(&min) {
                1.0
            } else if min < 180.0 {
                1.0 + 3.0 * min / 180.0
            } else if min < 240.0 {
                4.0
            } else {
                4.0 - 3.0 * (min - 240.0) / 60.0
            };
            let rate = 8.0 * crowd_shape(t) * factor * rng.gamma_unit_mean(5.0);
            (t, rng.poisson(rate))
        })
        .collect();
    Series {
        name: "slow ramp ×4 in 3 h (8/min)",
        points,
        onset: Some(onset),
        end: Some(onset + 5 * HOUR),
    }
}

/// A few reports a day for 30 days, then 30 reports in 3 minutes at 10:00 on day 30.
pub fn quiet_burst(seed: u64) -> Series {
    let mut s = normal_days(seed, 31, 4.0 / 1440.0);
    let onset = START + 30 * DAY + 10 * HOUR;
    add_event(&mut s, seed, onset, |m| if m < 3.0 { 10.0 } else { 0.0 });
    s.name = "quiet series burst";
    s.onset = Some(onset);
    s.end = Some(onset + 3 * MINUTE);
    s
}

/// 30 normal days at ~100 a minute, then the volume doubles for good (day 30, 12:00), for
/// three more days.
pub fn level_shift(seed: u64) -> Series {
    let mut s = normal_days(seed, 33, 100.0);
    let onset = START + 30 * DAY + 12 * HOUR;
    for (t, v) in s.points.iter_mut() {
        if *t >= onset {
            // Doubling a Poisson count by adding an independent copy of similar size.
            *v *= 2.0;
        }
    }
    s.name = "level shift ×2";
    s.onset = Some(onset);
    s
}

/// Probe latency in ms sampled every 20–40 s (irregular, with a missing hour on day 5):
/// 80 ms ± 25 ms over the day, Laplace-like jitter and rare slow probes; on day 14 at 09:00
/// latency jumps 5× for an hour.
pub fn latency_jump(seed: u64) -> Series {
    let mut rng = Rng::new(seed);
    let mut points = Vec::new();
    let mut t = START;
    let end = START + 15 * DAY;
    let onset = START + 14 * DAY + 9 * HOUR;
    let gap = (START + 5 * DAY + 3 * HOUR, START + 5 * DAY + 4 * HOUR);
    while t < end {
        if !(gap.0..gap.1).contains(&t) {
            let h = (t.rem_euclid(DAY)) as f64 / 3600.0;
            let mut ms = 80.0 + 25.0 * bump(h, 20.0, 3.0) - 10.0 * bump(h, 4.0, 3.0);
            // Laplace jitter (difference of exponentials) and one slow probe in 500.
            ms += 3.0 * (rng.uniform().ln() - rng.uniform().ln());
            if rng.uniform() < 0.002 {
                ms *= 3.0;
            }
            if (onset..onset + HOUR).contains(&t) {
                ms *= 5.0;
            }
            points.push((t, ms.max(1.0)));
        }
        t += 20 + (rng.next_u64() % 21) as i64;
    }
    Series {
        name: "latency ×5 (irregular sampling)",
        points,
        onset: Some(onset),
        end: Some(onset + HOUR),
    }
}

/// Pure Poisson noise at a constant rate, one point a minute.
pub fn poisson_noise(seed: u64, rate: f64, points: usize) -> Series {
    let mut rng = Rng::new(seed);
    Series {
        name: "poisson noise",
        points: (0..points)
            .map(|i| (START + i as i64 * MINUTE, rng.poisson(rate)))
            .collect(),
        onset: None,
        end: None,
    }
}

/// How a detector did on a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub points: usize,
    /// Alarms (rises from no problems) outside the anomaly window.
    pub false_alarms: usize,
    /// Rises to problems outside the anomaly window.
    pub false_problems: usize,
    /// Onset to the end of the first bucket judged possible problems (or worse).
    pub possible_delay_s: Option<i64>,
    /// Onset to the end of the first bucket judged problems.
    pub problems_delay_s: Option<i64>,
    /// Onset to the return to no problems for good (None if still raised at the end).
    pub cleared_after_s: Option<i64>,
    /// Every verdict change: (time, verdict).
    pub transitions: Vec<(i64, crate::Verdict)>,
    /// Days covered by the series.
    pub days: f64,
}

/// Runs a fresh detector over a series. The anomaly window runs from the onset to six hours
/// after the end (or to the end of the series when there is no end).
pub fn evaluate(series: &Series, config: crate::DetectorConfig) -> Outcome {
    use crate::Verdict;
    let mut d = crate::Detector::new(config);
    let window = series
        .onset
        .map(|on| (on, series.end.map_or(i64::MAX, |e| e + 6 * HOUR)));
    let in_window = |t: i64| window.is_some_and(|(a, b)| (a..b).contains(&t));
    let mut out = Outcome {
        points: series.points.len(),
        false_alarms: 0,
        false_problems: 0,
        possible_delay_s: None,
        problems_delay_s: None,
        cleared_after_s: None,
        transitions: Vec::new(),
        days: match (series.points.first(), series.points.last()) {
            (Some(a), Some(b)) => (b.0 - a.0) as f64 / DAY as f64,
            _ => 0.0,
        },
    };
    let mut prev_t: Option<i64> = None;
    for &(t, v) in &series.points {
        let a = d.observe(t, v);
        let step = prev_t.map_or(60, |p| (t - p).max(1));
        prev_t = Some(t);
        if let Some(onset) = series.onset
            && t >= onset
        {
            if a.verdict >= Verdict::PossibleProblems && out.possible_delay_s.is_none() {
                out.possible_delay_s = Some(t - onset + step);
            }
            if a.verdict == Verdict::Problems && out.problems_delay_s.is_none() {
                out.problems_delay_s = Some(t - onset + step);
            }
        }
        if a.changed {
            out.transitions.push((t, a.verdict));
            if !in_window(t) {
                if a.previous == Verdict::NoProblems {
                    out.false_alarms += 1;
                }
                if a.verdict == Verdict::Problems {
                    out.false_problems += 1;
                }
            }
        }
    }
    if let Some(onset) = series.onset
        && d.verdict() == Verdict::NoProblems
    {
        out.cleared_after_s = out
            .transitions
            .iter()
            .rev()
            .find(|(t, v)| *v == Verdict::NoProblems && *t >= onset)
            .map(|(t, _)| t - onset);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_sampler_has_the_right_mean_and_variance() {
        for &lambda in &[0.1, 4.0, 50.0, 10_000.0] {
            let mut rng = Rng::new(7);
            let n = 40_000;
            let xs: Vec<f64> = (0..n).map(|_| rng.poisson(lambda)).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            assert!(
                (mean - lambda).abs() < 4.0 * (lambda / n as f64).sqrt() + 1e-9,
                "{lambda}: {mean}"
            );
            assert!((var / lambda - 1.0).abs() < 0.05, "{lambda}: {var}");
        }
    }

    #[test]
    fn crowd_shape_is_quiet_at_four_and_busy_in_the_evening() {
        let four = crowd_shape(START + 4 * HOUR);
        let evening = crowd_shape(START + 20 * HOUR + 1800);
        assert!(evening > 8.0 * four, "{four} {evening}");
    }
}
