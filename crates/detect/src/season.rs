//! A cyclic profile (time of day, time of week): slots with shrunken, decaying estimates,
//! read with linear interpolation between slot centres so the baseline has no steps.

use serde::{Deserialize, Serialize};

use crate::exact;

/// Where a timestamp falls in a cycle: the two neighbouring slots and the weight of the second.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Position {
    pub(crate) i0: usize,
    pub(crate) i1: usize,
    pub(crate) frac: f64,
}

/// How slot estimates combine with the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Combine {
    /// Counts: slot factor = observed / expected-without-this-profile, mean 1.
    Multiplicative,
    /// Gauges: slot offset = mean residual, mean 0.
    Additive,
}

/// One profile. `num`/`den` are exponentially decaying sums per slot; the estimate is
/// shrunk towards neutral by `prior` so a slot with little evidence (few reports, few
/// samples) stays close to flat instead of amplifying noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Profile {
    period_s: i64,
    #[serde(with = "exact::vec")]
    num: Vec<f64>,
    #[serde(with = "exact::vec")]
    den: Vec<f64>,
    /// Sum of the raw slot estimates, kept incrementally so normalising is O(1).
    #[serde(with = "exact::f64")]
    sum: f64,
    updates: u64,
}

impl Profile {
    pub(crate) fn new(period_s: i64, slots: usize) -> Self {
        Profile {
            period_s,
            num: vec![0.0; slots],
            den: vec![0.0; slots],
            sum: 0.0,
            updates: 0,
        }
    }

    /// Checks invariants a deserialized profile must satisfy before use.
    pub(crate) fn is_valid(&self, period_s: i64, slots: usize) -> bool {
        self.period_s == period_s
            && self.num.len() == slots
            && self.den.len() == slots
            && self.num.iter().chain(&self.den).all(|v| v.is_finite())
            && self.sum.is_finite()
    }

    pub(crate) fn position(&self, t: i64) -> Position {
        let n = self.num.len();
        let slot_s = self.period_s as f64 / n as f64;
        // Slot centres sit at half-slot offsets; interpolate between the two nearest centres.
        let x = t.rem_euclid(self.period_s) as f64 / slot_s - 0.5;
        let fl = x.floor();
        let frac = x - fl;
        let i0 = (fl as i64).rem_euclid(n as i64) as usize;
        Position {
            i0,
            i1: (i0 + 1) % n,
            frac,
        }
    }

    fn raw(&self, i: usize, combine: Combine, prior: f64) -> f64 {
        match combine {
            Combine::Multiplicative => (self.num[i] + prior) / (self.den[i] + prior),
            Combine::Additive => self.num[i] / (self.den[i] + prior),
        }
    }

    /// The profile's effect at a position: a factor with mean 1 or an offset with mean 0.
    pub(crate) fn effect(&self, p: Position, combine: Combine, prior: f64) -> f64 {
        let n = self.num.len() as f64;
        let v = (1.0 - p.frac) * self.raw(p.i0, combine, prior)
            + p.frac * self.raw(p.i1, combine, prior);
        match combine {
            Combine::Multiplicative => {
                // `sum` counts the neutral factor 1 for slots never seen: see `neutral_sum`.
                let mean = (self.sum + self.neutral_sum(combine)) / n;
                if mean > 0.0 { v / mean } else { 1.0 }
            }
            Combine::Additive => v - self.sum / n,
        }
    }

    /// The raw estimates start neutral; `sum` only tracks departures from neutral so that
    /// a fresh profile needs no initial pass.
    fn neutral_sum(&self, combine: Combine) -> f64 {
        match combine {
            Combine::Multiplicative => self.num.len() as f64,
            Combine::Additive => 0.0,
        }
    }

    /// How much evidence (the `den` sums) backs the estimate at a position.
    pub(crate) fn evidence(&self, p: Position) -> f64 {
        (1.0 - p.frac) * self.den[p.i0] + p.frac * self.den[p.i1]
    }

    /// Adds one observation spread over the two neighbouring slots.
    ///
    /// `target` is what this profile should explain (the observation for counts, the
    /// residual for gauges), `base` what the rest of the model expected (counts) or 1
    /// (gauges), and `keep` the decay factor for a full-weight visit.
    pub(crate) fn learn(
        &mut self,
        p: Position,
        combine: Combine,
        prior: f64,
        target: f64,
        base: f64,
        keep: f64,
    ) {
        for (i, w) in [(p.i0, 1.0 - p.frac), (p.i1, p.frac)] {
            if w <= 0.0 {
                continue;
            }
            let before = self.raw(i, combine, prior);
            // Linearised decay: exp(-w·x) ≈ 1 − w·(1 − exp(-x)); cheap and exact at w ∈ {0, 1}.
            let k = 1.0 - w * (1.0 - keep);
            self.num[i] = k * self.num[i] + w * target;
            self.den[i] = k * self.den[i] + w * base;
            let after = self.raw(i, combine, prior);
            self.sum += after - before;
        }
        self.updates += 1;
        if self.updates.is_multiple_of(1024) {
            // Re-derive the running sum now and then so rounding cannot accumulate.
            let neutral = match combine {
                Combine::Multiplicative => 1.0,
                Combine::Additive => 0.0,
            };
            self.sum = (0..self.num.len())
                .map(|i| self.raw(i, combine, prior) - neutral)
                .sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_interpolate_between_slot_centres() {
        let p = Profile::new(86_400, 48);
        let at_centre = p.position(15 * 60);
        assert_eq!((at_centre.i0, at_centre.frac), (0, 0.0));
        let midnight = p.position(0);
        assert_eq!((midnight.i0, midnight.i1), (47, 0));
        assert!((midnight.frac - 0.5).abs() < 1e-12);
        let before_epoch = p.position(-1);
        assert_eq!(before_epoch.i0, 47);
    }

    #[test]
    fn multiplicative_profile_learns_a_shape_with_mean_one() {
        let mut p = Profile::new(86_400, 24);
        for day in 0..20i64 {
            for h in 0..24i64 {
                let t = day * 86_400 + h * 3600 + 1800;
                let factor = if h >= 12 { 1.5 } else { 0.5 };
                let pos = p.position(t);
                p.learn(
                    pos,
                    Combine::Multiplicative,
                    1.0,
                    100.0 * factor,
                    100.0,
                    0.8,
                );
            }
        }
        let noon = p.effect(p.position(15 * 3600 + 1800), Combine::Multiplicative, 1.0);
        let night = p.effect(p.position(3 * 3600 + 1800), Combine::Multiplicative, 1.0);
        assert!((noon - 1.5).abs() < 0.05, "{noon}");
        assert!((night - 0.5).abs() < 0.05, "{night}");
    }
}
