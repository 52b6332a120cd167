//! Expected rates: the baseline's time-of-day, weekday, growth and holiday factors, and each
//! outage's strength over time. Pure functions of the scenario and the minute.

use crate::scenario::{Baseline, DailyShape, Outage, Peak, RampShape, Scenario};
use std::f64::consts::PI;

const MINUTES_PER_WEEK: f64 = 7.0 * 1440.0;

/// Local calendar facts of one scenario minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LocalTime {
    /// Days since 1970-01-01 in the audience's time zone.
    pub day: i64,
    /// 0 = Monday.
    pub weekday: usize,
    /// Hour of the day, fractional, at the middle of the minute.
    pub hour: f64,
}

impl Scenario {
    pub(crate) fn local_time(&self, minute: u32) -> LocalTime {
        let secs = self.start.as_second()
            + i64::from(minute) * 60
            + i64::from(self.utc_offset_minutes) * 60
            + 30;
        let day = secs.div_euclid(86_400);
        LocalTime {
            day,
            // 1970-01-01 was a Thursday (3 when Monday is 0).
            weekday: (day + 3).rem_euclid(7) as usize,
            hour: secs.rem_euclid(86_400) as f64 / 3600.0,
        }
    }

    /// Expected normal (baseline) reports in minute `m`.
    pub(crate) fn baseline_rate(&self, minute: u32) -> f64 {
        let b = &self.baseline;
        let t = self.local_time(minute);
        let holiday = b
            .holidays
            .iter()
            .filter(|h| h.day == t.day)
            .map(|h| h.factor)
            .product::<f64>();
        let growth = (1.0 + b.growth_per_week).powf(f64::from(minute) / MINUTES_PER_WEEK);
        b.per_minute * daily_factor(b, t.hour) * b.weekly[t.weekday] * growth * holiday
    }

    /// Expected extra reports of outage `i` in minute `m`, given that minute's baseline.
    pub(crate) fn outage_rate(&self, i: usize, minute: u32, baseline: f64) -> f64 {
        let o = &self.outages[i];
        let strength = o.strength(f64::from(minute) + 0.5 - o.onset);
        if strength <= 0.0 {
            return 0.0;
        }
        let full = match o.peak {
            Peak::PerMinute(p) => p,
            Peak::Multiplier(m) => (m - 1.0) * baseline,
        };
        strength * full
    }

    /// Expected reports of flood `j` in minute `m`.
    pub(crate) fn flood_rate(&self, j: usize, minute: u32) -> f64 {
        let f = &self.floods[j];
        let t = f64::from(minute) + 0.5;
        if t >= f.start && t < f.start + f.minutes {
            f.per_minute
        } else {
            0.0
        }
    }
}

/// The time-of-day factor; its mean over a day is 1.
pub(crate) fn daily_factor(b: &Baseline, hour: f64) -> f64 {
    match &b.daily {
        DailyShape::Curve {
            amplitude,
            peak_hour,
            trough_hour,
        } => {
            // Two half-cosines: rising trough→peak, falling peak→trough. Each averages to
            // zero over its own length, so the day's mean stays exactly 1 however lopsided.
            let rise = (peak_hour - trough_hour).rem_euclid(24.0);
            let since_trough = (hour - trough_hour).rem_euclid(24.0);
            let c = if since_trough < rise {
                -(PI * since_trough / rise).cos()
            } else {
                (PI * (since_trough - rise) / (24.0 - rise)).cos()
            };
            1.0 + amplitude * c
        }
        DailyShape::Hourly(f) => {
            // Each factor sits at the middle of its hour; linear in between, wrapping at
            // midnight, which keeps the mean of the factors.
            let x = (hour - 0.5).rem_euclid(24.0);
            let i = x.floor() as usize % 24;
            let frac = x - x.floor();
            f[i] * (1.0 - frac) + f[(i + 1) % 24] * frac
        }
    }
}

impl Outage {
    /// Share of full strength `t` minutes after onset: ramp, plateau, recovery phases, 0 after.
    pub(crate) fn strength(&self, t: f64) -> f64 {
        if t < 0.0 {
            return 0.0;
        }
        if t < self.ramp {
            let x = t / self.ramp;
            return match self.ramp_shape {
                RampShape::Linear => x,
                RampShape::FastStart => 1.0 - (1.0 - x) * (1.0 - x),
                // Geometric growth from 1/50 of full strength, shifted to start at 0.
                RampShape::SlowStart => ((50f64.ln() * x).exp() - 1.0) / 49.0,
            };
        }
        let mut t = t - self.ramp;
        if t < self.plateau {
            return 1.0;
        }
        t -= self.plateau;
        let mut level = 1.0;
        for p in &self.recovery {
            if t < p.over {
                return level + (p.level - level) * (t / p.over);
            }
            t -= p.over;
            level = p.level;
            if t < p.hold {
                return level;
            }
            t -= p.hold;
        }
        0.0
    }

    /// Minutes from onset to the end of recovery.
    pub(crate) fn length(&self) -> f64 {
        self.ramp + self.plateau + self.recovery.iter().map(|p| p.over + p.hold).sum::<f64>()
    }
}
