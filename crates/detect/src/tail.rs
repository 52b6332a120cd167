//! Tail probabilities and prediction bands: how rare an observation is under the predictive
//! distribution (negative binomial for counts, Laplace for gauges), and how that rarity maps to
//! a score in [0, 1].

/// Tail probability of the band edges: the band is the central 99.8% of the predictive
/// distribution, and learning clips observations to it.
pub(crate) const BAND_TAIL: f64 = 1e-3;

/// Decades of rarity that map onto the score range: score 1 means p ≤ 10⁻⁸.
pub(crate) const SCORE_DECADES: f64 = 8.0;

/// Below this the negative binomial is numerically a Poisson.
const POISSON_PHI: f64 = 1e-9;

/// Smallest probability we report; keeps logs finite.
const P_FLOOR: f64 = 1e-300;

/// Maps a tail probability to a score: `-log10(p) / 8`, clamped to [0, 1].
pub(crate) fn score_from_p(p: f64) -> f64 {
    if p.is_nan() {
        return 0.0;
    }
    let p = p.clamp(P_FLOOR, 1.0);
    let s = -p.log10() / SCORE_DECADES;
    // `> 0` also turns −0.0 (from p = 1) into a plain 0.
    if s > 0.0 { s.min(1.0) } else { 0.0 }
}

/// The tail probability that a score stands for: `10^(-8 · score)`.
pub fn p_from_score(score: f64) -> f64 {
    10f64.powf(-score.clamp(0.0, 1.0) * SCORE_DECADES)
}

/// Decades of rarity of a tail probability, `-log10(p)`, floored at 0 and capped where `p`
/// is floored (300): unbounded in practice, so 10⁻⁸ and 10⁻³⁰ stay apart.
pub(crate) fn decades(p: f64) -> f64 {
    if p.is_nan() {
        return 0.0;
    }
    let d = -p.clamp(P_FLOOR, 1.0).log10();
    if d > 0.0 { d } else { 0.0 }
}

/// `-log10` of the standard normal upper tail P(Z > z), accurate in the far tail where the
/// probability itself underflows (complementary error function in log form, Numerical
/// Recipes' Chebyshev fit, relative error < 1.2e-7).
pub(crate) fn normal_upper_decades(z: f64) -> f64 {
    if z.is_nan() {
        return 0.0;
    }
    // P(Z > z) = erfc(z / √2) / 2.
    let x = z / std::f64::consts::SQRT_2;
    let ax = x.abs();
    let t = 1.0 / (1.0 + 0.5 * ax);
    let poly = -ax * ax - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    // ln erfc(|x|) = ln t + poly.
    let ln_erfc_abs = t.ln() + poly;
    if x >= 0.0 {
        decades_from_ln(ln_erfc_abs - std::f64::consts::LN_2)
    } else {
        decades(1.0 - 0.5 * ln_erfc_abs.exp())
    }
}

/// Largest number of decades reported: far beyond any real evidence, and small enough that
/// scores derived from it stay below 1 in floating point.
const MAX_DECADES: f64 = 1e12;

/// `-log10(p)` from `ln p`, for tails far below what an `f64` probability can hold.
pub(crate) fn decades_from_ln(ln_p: f64) -> f64 {
    let d = -ln_p / std::f64::consts::LN_10;
    if d > 0.0 { d.min(MAX_DECADES) } else { 0.0 }
}

/// ln of the Laplace tail beyond `x` on its own side of `mu` (scale `b`), unfloored.
pub(crate) fn laplace_ln_tail(mu: f64, b: f64, x: f64) -> f64 {
    let z = (x - mu).abs() / b;
    if z.is_finite() {
        (-std::f64::consts::LN_2 - z).min(0.0)
    } else if z.is_nan() {
        0.0
    } else {
        f64::NEG_INFINITY
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error ~1e-15).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the series in its accurate range.
        let s = (std::f64::consts::PI * x).sin();
        return (std::f64::consts::PI / s.abs()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// A negative binomial with mean `mu` and variance `mu + phi·mu²` (a Poisson when phi ≈ 0),
/// evaluated at real-valued points so that weighted (fractional) counts work too.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NegBin {
    mu: f64,
    phi: f64,
}

impl NegBin {
    pub(crate) fn new(mu: f64, phi: f64) -> Self {
        NegBin {
            mu: mu.max(1e-12),
            phi: phi.max(0.0),
        }
    }

    fn poisson(&self) -> bool {
        self.phi < POISSON_PHI
    }

    /// ln P(X = k).
    fn ln_pmf(&self, k: f64) -> f64 {
        let mu = self.mu;
        if self.poisson() {
            k * mu.ln() - mu - ln_gamma(k + 1.0)
        } else {
            let r = 1.0 / self.phi;
            let pm = self.phi * mu;
            ln_gamma(k + r) - ln_gamma(r) - ln_gamma(k + 1.0) - r * pm.ln_1p()
                + k * (pm / (1.0 + pm)).ln()
        }
    }

    /// P(X = k+1) / P(X = k).
    fn ratio_up(&self, k: f64) -> f64 {
        if self.poisson() {
            self.mu / (k + 1.0)
        } else {
            let r = 1.0 / self.phi;
            let pm = self.phi * self.mu;
            (k + r) / (k + 1.0) * (pm / (1.0 + pm))
        }
    }

    /// Σ_{j≥0} P(X = x + j) relative to P(X = x), for x above the mode: explicit terms, then a
    /// geometric remainder that over-estimates slightly (conservative).
    fn upper_sum_rel(&self, x: f64) -> f64 {
        let mut sum = 1.0;
        let mut term = 1.0;
        let mut k = x;
        let mut rho = 0.0;
        for _ in 0..48 {
            rho = self.ratio_up(k);
            term *= rho;
            sum += term;
            k += 1.0;
            if term < 1e-17 * sum {
                return sum;
            }
        }
        let tail_rho = if self.poisson() || self.phi <= 1.0 {
            rho
        } else {
            // For r < 1 the ratio rises towards its limit; use the limit to stay an upper bound.
            let pm = self.phi * self.mu;
            pm / (1.0 + pm)
        };
        if tail_rho >= 1.0 {
            return f64::INFINITY;
        }
        sum + term * tail_rho / (1.0 - tail_rho)
    }

    /// Σ_{0≤j≤x} P(X = x − j) relative to P(X = x), for x below the mode.
    fn lower_sum_rel(&self, x: f64) -> f64 {
        let mut sum = 1.0;
        let mut term = 1.0;
        let mut k = x;
        let mut steps = 0;
        while k >= 1.0 {
            // P(X = k−1) / P(X = k)
            let down = 1.0 / self.ratio_up(k - 1.0);
            term *= down;
            sum += term;
            k -= 1.0;
            steps += 1;
            if term < 1e-17 * sum {
                return sum;
            }
            if steps >= 48 {
                if down >= 1.0 {
                    return f64::INFINITY;
                }
                // The remaining terms shrink at least this fast; at most k more of them.
                return sum + term * down / (1.0 - down);
            }
        }
        sum
    }

    /// ln P(X ≥ x) for x above the mean, without the floor that `upper_mid_p` needs: far
    /// tails (10⁻⁵⁰⁰, 10⁻⁵⁰⁰⁰) stay apart for ranking.
    pub(crate) fn upper_ln_tail(&self, x: f64) -> f64 {
        let x = x.max(0.0);
        if x <= self.mu {
            return 0.0;
        }
        let rel = self.upper_sum_rel(x);
        if !rel.is_finite() {
            return 0.0;
        }
        (self.ln_pmf(x) + rel.ln()).min(0.0)
    }

    /// ln P(X ≤ x) for x below the mean, unfloored (see `upper_ln_tail`).
    pub(crate) fn lower_ln_tail(&self, x: f64) -> f64 {
        let x = x.max(0.0);
        if x >= self.mu {
            return 0.0;
        }
        let rel = self.lower_sum_rel(x);
        if !rel.is_finite() {
            return 0.0;
        }
        (self.ln_pmf(x) + rel.ln()).min(0.0)
    }

    /// Mid-p upper tail: P(X > x) + ½·P(X = x).
    pub(crate) fn upper_mid_p(&self, x: f64) -> f64 {
        let x = x.max(0.0);
        if x <= self.mu {
            return (1.0 - self.lower_mid_p_raw(x)).clamp(P_FLOOR, 1.0);
        }
        let ln_p = self.ln_pmf(x);
        let rel = self.upper_sum_rel(x);
        if !rel.is_finite() {
            return 1.0;
        }
        ((ln_p + rel.ln()).exp() - 0.5 * ln_p.exp()).clamp(P_FLOOR, 1.0)
    }

    /// Mid-p lower tail: P(X < x) + ½·P(X = x).
    pub(crate) fn lower_mid_p(&self, x: f64) -> f64 {
        let x = x.max(0.0);
        if x > self.mu {
            return (1.0 - self.upper_mid_p_raw(x)).clamp(P_FLOOR, 1.0);
        }
        self.lower_mid_p_raw(x).clamp(P_FLOOR, 1.0)
    }

    fn upper_mid_p_raw(&self, x: f64) -> f64 {
        let ln_p = self.ln_pmf(x);
        let rel = self.upper_sum_rel(x);
        if !rel.is_finite() {
            return 1.0;
        }
        (ln_p + rel.ln()).exp() - 0.5 * ln_p.exp()
    }

    fn lower_mid_p_raw(&self, x: f64) -> f64 {
        let ln_p = self.ln_pmf(x);
        let rel = self.lower_sum_rel(x);
        if !rel.is_finite() {
            return 1.0;
        }
        ((ln_p + rel.ln()).exp() - 0.5 * ln_p.exp()).clamp(0.0, 1.0)
    }

    /// Approximate central band with `BAND_TAIL` in each tail (Cornish–Fisher with the
    /// distribution's skewness; exact enough for display and for clipping).
    pub(crate) fn band(&self) -> (f64, f64) {
        const Z: f64 = 3.090_232_306_167_813; // Φ⁻¹(1 − 1e-3)
        let mu = self.mu;
        let var = mu * (1.0 + self.phi * mu);
        let sd = var.sqrt();
        let skew = (1.0 + 2.0 * self.phi * mu) / sd;
        let upper = mu + sd * (Z + (Z * Z - 1.0) * skew / 6.0);
        // If zero itself is not rare, the lower edge is zero (the expansion breaks down there).
        let ln_p0 = if self.poisson() {
            -mu
        } else {
            -(self.phi * mu).ln_1p() / self.phi
        };
        let lower = if ln_p0 >= BAND_TAIL.ln() {
            0.0
        } else {
            (mu - sd * (Z - (Z * Z - 1.0) * skew / 6.0).max(0.0)).clamp(0.0, mu)
        };
        (lower, upper)
    }
}

/// Laplace tails around `mu` with scale `b` (mean absolute deviation): a little heavier than
/// Gaussian, which suits real gauges (latency has a long right tail).
pub(crate) fn laplace_upper(mu: f64, b: f64, x: f64) -> f64 {
    let z = (x - mu) / b;
    if z >= 0.0 {
        (0.5 * (-z).exp()).max(P_FLOOR)
    } else {
        1.0 - 0.5 * z.exp()
    }
}

pub(crate) fn laplace_lower(mu: f64, b: f64, x: f64) -> f64 {
    laplace_upper(-mu, b, -x)
}

/// Half-width of the Laplace band in units of the scale.
pub(crate) fn laplace_band_halfwidth() -> f64 {
    (1.0 / (2.0 * BAND_TAIL)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poisson_upper_exact(mu: f64, x: u64) -> f64 {
        // P(X > x) + ½P(X = x) by brute force.
        let mut pmf = (-mu).exp();
        let mut below = 0.0;
        for k in 0..x {
            below += pmf;
            pmf *= mu / (k + 1) as f64;
        }
        1.0 - below - 0.5 * pmf
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for n in 1..30u32 {
            f *= n as f64;
            let got = ln_gamma(n as f64 + 1.0);
            assert!((got - f.ln()).abs() < 1e-10 * f.ln().max(1.0), "n={n}");
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn poisson_mid_p_matches_brute_force() {
        for &mu in &[0.1, 1.0, 4.5, 30.0] {
            for x in 0..60u64 {
                let exact = poisson_upper_exact(mu, x);
                if exact < 1e-250 {
                    continue;
                }
                let got = NegBin::new(mu, 0.0).upper_mid_p(x as f64);
                let rel = (got - exact).abs() / exact;
                assert!(rel < 1e-6 || (got - exact).abs() < 1e-12, "mu={mu} x={x}");
            }
        }
    }

    #[test]
    fn mid_p_tails_sum_to_one() {
        for &(mu, phi) in &[(0.5, 0.0), (20.0, 0.0), (20.0, 0.3), (3.0, 2.0)] {
            let d = NegBin::new(mu, phi);
            for x in 0..40 {
                let s = d.upper_mid_p(x as f64) + d.lower_mid_p(x as f64);
                assert!((s - 1.0).abs() < 1e-6, "mu={mu} phi={phi} x={x} s={s}");
            }
        }
    }

    #[test]
    fn overdispersion_makes_tails_heavier() {
        let poisson = NegBin::new(100.0, 0.0).upper_mid_p(150.0);
        let nb = NegBin::new(100.0, 0.05).upper_mid_p(150.0);
        assert!(nb > 100.0 * poisson);
    }

    #[test]
    fn band_contains_the_mean_and_is_ordered() {
        for &(mu, phi) in &[(0.003, 0.0), (1.0, 0.0), (100.0, 0.01), (1e4, 0.0)] {
            let (lo, hi) = NegBin::new(mu, phi).band();
            assert!(lo <= mu && mu <= hi && lo >= 0.0, "mu={mu}: {lo}..{hi}");
        }
        assert_eq!(NegBin::new(2.0, 0.0).band().0, 0.0);
    }

    #[test]
    fn normal_tail_decades_match_known_values() {
        // P(Z > 0) = 0.5, P(Z > 1.96) ≈ 0.025, P(Z > 5) ≈ 2.87e-7, P(Z > 20) ≈ 2.75e-89.
        for (z, p) in [
            (0.0, 0.5f64),
            (1.959_964, 0.025),
            (5.0, 2.866_5e-7),
            (20.0, 2.753_624e-89),
            (-1.959_964, 0.975),
        ] {
            let got = normal_upper_decades(z);
            assert!((got + p.log10()).abs() < 1e-5, "z={z}: {got}");
        }
        assert!((normal_upper_decades(60.0) - 783.9).abs() < 0.1);
        assert_eq!(decades(1.0), 0.0);
        assert!((decades(1e-30) - 30.0).abs() < 1e-9);
    }

    #[test]
    fn score_mapping_round_trips() {
        assert_eq!(score_from_p(1.0), 0.0);
        assert!((score_from_p(1e-4) - 0.5).abs() < 1e-12);
        assert_eq!(score_from_p(1e-30), 1.0);
        assert!((p_from_score(0.5) - 1e-4).abs() < 1e-16);
    }
}
