//! The sustained-deviation channel: a short, exponentially weighted mean of standardised
//! residuals, judged against the spread that mean itself shows on this series. A ramp or a
//! shift that no single point makes rare (an overdispersed series at twice its usual volume)
//! is still plain after half an hour of points that all lean the same way.

use serde::{Deserialize, Serialize};

use crate::exact;

/// Memory of the mean (seconds), and the fewest points it spans on sparse series.
pub(crate) const MEMORY_S: f64 = 1800.0;
pub(crate) const MIN_POINTS: f64 = 6.0;
/// One standardised residual moves the mean by at most this many standard deviations of a
/// point: a single wild value is the point channel's business, not a trend.
pub(crate) const CLIP: f64 = 4.0;
/// Weight, in observations, of the textbook (independent residuals) variance that the learned
/// variance starts from; and how far beyond the learned spread one value may teach it.
const PRIOR_POINTS: f64 = 200.0;
const LEARN_CLIP: f64 = 16.0;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct Sustained {
    /// Weighted mean of standardised residuals.
    #[serde(with = "exact::f64")]
    mean_u: f64,
    /// Weighted mean of the raw excess (value − expected), in the series' units.
    #[serde(with = "exact::f64")]
    mean_excess: f64,
    /// Learned variance of `mean_u` in normal times: Σ mean_u² / n, decaying.
    #[serde(with = "exact::f64")]
    var_num: f64,
    #[serde(with = "exact::f64")]
    var_den: f64,
}

/// The channel's view of the latest point, before it is committed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reading {
    pub(crate) mean_u: f64,
    pub(crate) mean_excess: f64,
    /// `mean_u` in units of its normal spread.
    pub(crate) z: f64,
}

/// Decay per observation for a series sampled every `interval_s`.
pub(crate) fn keep_per_point(interval_s: f64) -> f64 {
    (-interval_s / MEMORY_S.max(MIN_POINTS * interval_s)).exp()
}

impl Sustained {
    pub(crate) fn is_valid(&self) -> bool {
        [self.mean_u, self.mean_excess, self.var_num, self.var_den]
            .iter()
            .all(|v| v.is_finite())
    }

    /// The mean after one more residual (`u` standardised, `excess` raw), not yet kept.
    /// `systematic` is the variance (in the same standardised units) of model errors that
    /// do not average out over half an hour, such as a profile slot that has not learned its
    /// shape yet: it is added to the learned spread.
    pub(crate) fn read(&self, u: f64, excess: f64, keep: f64, systematic: f64) -> Reading {
        let u = if u.is_finite() {
            u.clamp(-CLIP, CLIP)
        } else {
            0.0
        };
        let mean_u = keep * self.mean_u + (1.0 - keep) * u;
        let mean_excess = keep * self.mean_excess + (1.0 - keep) * excess;
        let z = mean_u / (self.variance(keep) + systematic.max(0.0)).sqrt();
        Reading {
            mean_u,
            mean_excess,
            z: if z.is_finite() { z } else { 0.0 },
        }
    }

    /// The spread of the mean in normal times: what this series has shown, never less than
    /// independent unit-variance residuals would give, (1 − k) / (1 + k).
    fn variance(&self, keep: f64) -> f64 {
        let iid = ((1.0 - keep) / (1.0 + keep)).max(1e-12);
        ((self.var_num + iid * PRIOR_POINTS) / (self.var_den + PRIOR_POINTS)).max(iid)
    }

    /// Keeps the reading; `learn` (normal times only) also teaches the spread, with memory
    /// factor `keep_var` per observation.
    pub(crate) fn commit(&mut self, r: Reading, keep: f64, learn: bool, keep_var: f64) {
        if learn {
            let v = self.variance(keep);
            let sq = (r.mean_u * r.mean_u).min(LEARN_CLIP * v);
            self.var_num = keep_var * self.var_num + sq;
            self.var_den = keep_var * self.var_den + 1.0;
        }
        self.mean_u = r.mean_u;
        self.mean_excess = r.mean_excess;
    }

    /// Forgets the ongoing deviation (after the level is rebased to a new normal).
    pub(crate) fn reset(&mut self) {
        self.mean_u = 0.0;
        self.mean_excess = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_lean_grows_z_and_noise_does_not() {
        let k = keep_per_point(60.0);
        let mut s = Sustained::default();
        let mut max_noise_z: f64 = 0.0;
        for i in 0..5000 {
            let u = if i % 2 == 0 { 1.0 } else { -1.0 };
            let r = s.read(u, u, k, 0.0);
            max_noise_z = max_noise_z.max(r.z.abs());
            s.commit(r, k, true, 0.999);
        }
        assert!(max_noise_z < 1.0, "{max_noise_z}");
        let mut z = 0.0;
        for _ in 0..30 {
            let r = s.read(1.5, 10.0, k, 0.0);
            z = r.z;
            s.commit(r, k, false, 0.999);
        }
        assert!(z > 5.0, "{z}");
    }
}
