//! A small seeded PRNG (xoshiro256++) and the samplers the generator needs: Poisson, gamma,
//! weighted choice.
//!
//! Our own rather than `rand`'s so a scenario and seed give the same traffic on every build,
//! whatever version of `rand` the workspace moves to. Streams are counter-based: every
//! (seed, purpose, minute) gets its own generator, so any minute can be generated without
//! generating the ones before it, and a `--from` slice is identical to the same minutes of a
//! full run.

/// xoshiro256++ (Blackman and Vigna), seeded through SplitMix64.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

/// SplitMix64's finaliser: a good 64-bit mixer, also used to derive stream keys.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut s = [0; 4];
        for v in &mut s {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            *v = mix64(x);
        }
        Rng { s }
    }

    /// The generator for one purpose and one index (usually a minute) of a seeded run.
    pub fn stream(seed: u64, purpose: u64, index: u64) -> Self {
        Rng::new(mix64(
            mix64(seed ^ purpose.wrapping_mul(0xD6E8_FEB8_6659_FD93)) ^ index,
        ))
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n); `n` > 0. Lemire's multiply-shift (bias below 2^-32 for the
    /// small `n` used here).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Standard normal (Box–Muller; the second value is dropped to keep streams simple).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Gamma(shape, scale = 1), Marsaglia and Tsang's method.
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = 1.0 - self.uniform();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = self.uniform();
            if u < 1.0 - 0.0331 * x * x * x * x || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
                return d * v;
            }
        }
    }

    /// Poisson(lambda): inversion for small means, Hörmann's PTRS (transformed rejection with
    /// squeeze) above, so tens of thousands per minute cost a few draws, not tens of thousands.
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda.is_nan() || lambda <= 0.0 {
            return 0;
        }
        if lambda < 12.0 {
            let limit = (-lambda).exp();
            let mut k = 0;
            let mut p = self.uniform();
            while p > limit {
                k += 1;
                p *= self.uniform();
            }
            return k;
        }
        let slam = lambda.sqrt();
        let loglam = lambda.ln();
        let b = 0.931 + 2.53 * slam;
        let a = -0.059 + 0.02483 * b;
        let invalpha = 1.1239 + 1.1328 / (b - 3.4);
        let vr = 0.9277 - 3.6224 / (b - 2.0);
        loop {
            let u = self.uniform() - 0.5;
            let v = self.uniform();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
            if us >= 0.07 && v <= vr {
                return k as u64;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            if v.ln() + invalpha.ln() - (a / (us * us) + b).ln()
                <= -lambda + k * loglam - ln_gamma(k + 1.0)
            {
                return k as u64;
            }
        }
    }
}

/// ln Γ(x) for x ≥ 1 (Stirling series with shift, as in NumPy's `random_loggam`).
fn ln_gamma(x: f64) -> f64 {
    const A: [f64; 10] = [
        8.333333333333333e-02,
        -2.777777777777778e-03,
        7.936507936507937e-04,
        -5.952380952380952e-04,
        8.417508417508418e-04,
        -1.917526917526918e-03,
        6.41025641025641e-03,
        -2.955065359477124e-02,
        1.796443723688307e-01,
        -1.39243221690590e+00,
    ];
    if x == 1.0 || x == 2.0 {
        return 0.0;
    }
    let mut x0 = x;
    let mut n = 0;
    if x < 7.0 {
        n = (7.0 - x) as i64;
        x0 = x + n as f64;
    }
    let x2 = 1.0 / (x0 * x0);
    let mut gl0 = A[9];
    for a in A[..9].iter().rev() {
        gl0 = gl0 * x2 + a;
    }
    let mut gl = gl0 / x0 + 0.5 * std::f64::consts::TAU.ln() + (x0 - 0.5) * x0.ln() - x0;
    for _ in 0..n {
        x0 -= 1.0;
        gl -= x0.ln();
    }
    gl
}

/// Items with weights, for drawing one at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Weighted<T> {
    items: Vec<T>,
    /// Cumulative weights normalised to end at 1.
    cumulative: Vec<f64>,
}

impl<T> Weighted<T> {
    /// `None` when there is no item with a positive weight.
    pub fn new(pairs: Vec<(T, f64)>) -> Option<Self> {
        let total: f64 = pairs.iter().map(|(_, w)| w).sum();
        if total.is_nan() || total <= 0.0 {
            return None;
        }
        let mut acc = 0.0;
        let mut items = Vec::with_capacity(pairs.len());
        let mut cumulative = Vec::with_capacity(pairs.len());
        for (item, w) in pairs {
            if w > 0.0 {
                acc += w / total;
                items.push(item);
                cumulative.push(acc);
            }
        }
        *cumulative.last_mut().expect("a positive weight exists") = 1.0;
        Some(Weighted { items, cumulative })
    }

    pub fn pick(&self, rng: &mut Rng) -> &T {
        let u = rng.uniform();
        let i = self.cumulative.partition_point(|&c| c <= u);
        &self.items[i.min(self.items.len() - 1)]
    }

    pub fn items(&self) -> &[T] {
        &self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_var(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        (
            m,
            xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0),
        )
    }

    #[test]
    fn poisson_has_mean_and_variance_lambda_at_every_scale() {
        let mut rng = Rng::new(7);
        for lambda in [0.3, 3.0, 11.9, 12.0, 80.0, 5_000.0, 40_000.0] {
            let xs: Vec<f64> = (0..20_000).map(|_| rng.poisson(lambda) as f64).collect();
            let (m, v) = mean_var(&xs);
            // 20,000 draws: the mean's standard error is sqrt(lambda / 20,000).
            let se = (lambda / 20_000.0).sqrt();
            assert!((m - lambda).abs() < 5.0 * se, "lambda {lambda}: mean {m}");
            assert!(
                (v / lambda - 1.0).abs() < 0.06,
                "lambda {lambda}: variance {v}"
            );
        }
    }

    #[test]
    fn gamma_has_its_mean_and_variance() {
        let mut rng = Rng::new(11);
        for shape in [0.5, 2.0, 20.0] {
            let xs: Vec<f64> = (0..40_000).map(|_| rng.gamma(shape)).collect();
            let (m, v) = mean_var(&xs);
            assert!((m / shape - 1.0).abs() < 0.03, "shape {shape}: mean {m}");
            assert!(
                (v / shape - 1.0).abs() < 0.08,
                "shape {shape}: variance {v}"
            );
        }
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for k in 1..30 {
            f *= k as f64;
            assert!((ln_gamma(k as f64 + 1.0) - f.ln()).abs() < 1e-9, "{k}!");
        }
        assert!((ln_gamma(1.5) - 0.886_226_925_452_758f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn weighted_pick_follows_the_weights() {
        let w = Weighted::new(vec![("a", 65.0), ("b", 25.0), ("c", 10.0), ("z", 0.0)]).unwrap();
        assert_eq!(w.items(), &["a", "b", "c"]);
        let mut rng = Rng::new(3);
        let mut n = [0u32; 3];
        for _ in 0..100_000 {
            n[match *w.pick(&mut rng) {
                "a" => 0,
                "b" => 1,
                _ => 2,
            }] += 1;
        }
        assert!((n[0] as f64 / 1e5 - 0.65).abs() < 0.01, "{n:?}");
        assert!((n[2] as f64 / 1e5 - 0.10).abs() < 0.01, "{n:?}");
        assert!(Weighted::<u8>::new(vec![(1, 0.0)]).is_none());
    }

    #[test]
    fn streams_are_independent_and_repeatable() {
        let a: Vec<u64> = (0..4).map(|_| Rng::stream(1, 2, 3).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::stream(1, 2, 3).next_u64(),
            Rng::stream(1, 2, 4).next_u64()
        );
        assert_ne!(
            Rng::stream(1, 2, 3).next_u64(),
            Rng::stream(2, 2, 3).next_u64()
        );
    }
}
