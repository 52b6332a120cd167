//! Before and after: one-sided tests that something got worse since a change, for the
//! canary gate. Each answers a p-value (small: unlikely by chance), and each is exact or
//! close to it at the small volumes a ten-minute window holds:
//!
//! - [`rate_increase_p`]: counts over exposures (reports, posts) — Poisson rates compared
//!   by the conditional binomial test: given the total, the share that fell after the
//!   change is binomial when the rate did not change.
//! - [`failure_increase_p`]: failed probes out of probes — Fisher's exact test (the
//!   hypergeometric upper tail).
//! - [`shift_up_p`]: latencies — the Mann–Whitney rank test, by its normal approximation with
//!   the tie correction and a continuity correction: it asks whether answers after tend to
//!   be slower, without assuming how latencies are distributed.

use crate::tail::{decades_from_ln, ln_gamma, normal_upper_decades};

/// `ln C(n, k)`.
fn ln_choose(n: f64, k: f64) -> f64 {
    ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
}

/// P(X ≥ k) for X ~ Binomial(n, p), summed from `k` up by the terms' ratio.
pub fn binomial_upper(n: u64, k: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (nf, q) = (n as f64, 1.0 - p);
    let ln_first = ln_choose(nf, k as f64) + k as f64 * p.ln() + (n - k) as f64 * q.ln();
    let odds = p / q;
    let (mut term, mut sum) = (1.0f64, 0.0f64);
    let mut j = k;
    loop {
        sum += term;
        if j == n {
            break;
        }
        term *= (nf - j as f64) / (j as f64 + 1.0) * odds;
        j += 1;
        // Past the mean the terms only shrink: stop once they no longer count.
        if (j as f64) > nf * p && term < sum * 1e-16 {
            break;
        }
    }
    (ln_first + sum.ln()).exp().min(1.0)
}

/// The one-sided p-value that `after` counts over `exposure_after` come from a higher rate
/// than `before` counts over `exposure_before` (exposures in any common unit: windows,
/// minutes). 1 when there is nothing to compare.
pub fn rate_increase_p(after: u64, exposure_after: f64, before: u64, exposure_before: f64) -> f64 {
    if exposure_after <= 0.0 || exposure_before <= 0.0 {
        return 1.0;
    }
    let share = exposure_after / (exposure_after + exposure_before);
    binomial_upper(after + before, after, share)
}

/// The one-sided p-value that `failed_after` of `after` probes failing is worse than
/// `failed_before` of `before` (Fisher's exact test).
pub fn failure_increase_p(failed_after: u64, after: u64, failed_before: u64, before: u64) -> f64 {
    let (n, k, draws) = (after + before, failed_after + failed_before, after);
    if failed_after == 0 || n == 0 {
        return 1.0;
    }
    let (nf, kf, df) = (n as f64, k as f64, draws as f64);
    let ln_pmf = |x: f64| ln_choose(kf, x) + ln_choose(nf - kf, df - x) - ln_choose(nf, df);
    let top = k.min(draws);
    // Terms below the range of the hypergeometric are impossible.
    if failed_after > top {
        return 0.0;
    }
    let ln_first = ln_pmf(failed_after as f64);
    let (mut term, mut sum) = (1.0f64, 0.0f64);
    let mut x = failed_after as f64;
    loop {
        sum += term;
        if x >= top as f64 {
            break;
        }
        term *= (kf - x) * (df - x) / ((x + 1.0) * (nf - kf - df + x + 1.0));
        x += 1.0;
        if term < sum * 1e-16 {
            break;
        }
    }
    (ln_first + sum.ln()).exp().min(1.0)
}

/// The one-sided p-value that values `after` tend to be larger than `before` (Mann–Whitney).
/// 1 when either side is empty.
pub fn shift_up_p(after: &[f64], before: &[f64]) -> f64 {
    let (n1, n2) = (after.len(), before.len());
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    let mut all: Vec<(f64, bool)> = after
        .iter()
        .map(|&v| (v, true))
        .chain(before.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Mid-ranks for ties, and the tie correction's sum of t³ − t.
    let (mut rank_sum, mut ties) = (0.0f64, 0.0f64);
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        rank_sum += mid * all[i..=j].iter().filter(|v| v.1).count() as f64;
        i = j + 1;
    }
    let (a, b) = (n1 as f64, n2 as f64);
    let n = a + b;
    let u = rank_sum - a * (a + 1.0) / 2.0;
    let mean = a * b / 2.0;
    let var = a * b / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)).max(1.0));
    if var <= 0.0 {
        return 1.0;
    }
    let z = (u - mean - 0.5) / var.sqrt();
    10f64.powf(-normal_upper_decades(z))
}

/// The `q` quantile (0–1) of `values` by the nearest rank; `None` when empty.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

/// `-log10 p`, for reasons a person reads ("p < 0.0001").
pub fn decades(p: f64) -> f64 {
    if p <= 0.0 {
        return decades_from_ln(f64::MIN);
    }
    -p.min(1.0).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9_f64.max(b.abs() * 1e-6)
    }

    #[test]
    fn binomial_tails_match_direct_sums() {
        // P(X ≥ 3), X ~ Bin(5, 0.5) = (10 + 5 + 1) / 32
        assert!(close(binomial_upper(5, 3, 0.5), 16.0 / 32.0));
        // P(X ≥ 10), X ~ Bin(10, 0.2) = 0.2^10
        assert!(close(binomial_upper(10, 10, 0.2), 0.2f64.powi(10)));
        assert_eq!(binomial_upper(10, 0, 0.3), 1.0);
        assert_eq!(binomial_upper(10, 11, 0.3), 0.0);
        // large n: far above the mean it is tiny, at the mean about a half
        assert!(binomial_upper(1_000_000, 250_000, 0.2) < 1e-100);
        let mid = binomial_upper(1_000_000, 200_000, 0.2);
        assert!((0.45..0.55).contains(&mid), "{mid}");
    }

    #[test]
    fn a_rate_that_rose_is_told_from_one_that_did_not() {
        // 10 minutes after: 84 reports; before, 5 windows of 10 minutes: 60 (12 a window).
        assert!(rate_increase_p(84, 1.0, 60, 5.0) < 1e-20);
        // 14 after against 12 usual: nothing to see.
        assert!(rate_increase_p(14, 1.0, 60, 5.0) > 0.2);
        // nothing after: certainly no increase
        assert_eq!(rate_increase_p(0, 1.0, 60, 5.0), 1.0);
        // half a window elapsed, 12 after: twice the usual rate, but few — suggestive only
        let p = rate_increase_p(12, 0.5, 60, 5.0);
        assert!((0.01..0.05).contains(&p), "{p}");
        // against a direct sum: P(X ≥ 12), X ~ Bin(72, 1/11)
        let direct: f64 = (12..=72u64)
            .map(|k| {
                let c = (0..k).fold(1.0, |c, i| c * (72 - i) as f64 / (i + 1) as f64);
                c * (1.0f64 / 11.0).powi(k as i32) * (10.0f64 / 11.0).powi(72 - k as i32)
            })
            .sum();
        assert!(close(p, direct), "{p} vs {direct}");
    }

    #[test]
    fn fishers_test_matches_a_known_table() {
        // after 3 of 3 fail, before 0 of 7: p = C(3,3)C(7,0)/C(10,3) = 1/120
        assert!(close(failure_increase_p(3, 3, 0, 7), 1.0 / 120.0));
        // after 1 of 10, before 1 of 10: not worse
        assert!(failure_increase_p(1, 10, 1, 10) > 0.5);
        assert_eq!(failure_increase_p(0, 10, 5, 10), 1.0);
    }

    #[test]
    fn slower_answers_are_told_and_equal_ones_are_not() {
        let before: Vec<f64> = (0..30).map(|i| 40.0 + (i % 7) as f64).collect();
        let slower: Vec<f64> = (0..30).map(|i| 90.0 + (i % 5) as f64).collect();
        assert!(shift_up_p(&slower, &before) < 1e-6);
        assert!(shift_up_p(&before, &before) > 0.4);
        assert!(shift_up_p(&before, &slower) > 0.99);
        assert_eq!(shift_up_p(&[], &before), 1.0);
        // all tied: no evidence either way
        assert!(shift_up_p(&[5.0; 10], &[5.0; 10]) > 0.4);
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert_eq!(quantile(&v, 0.95), Some(5.0));
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
