//! Detector benchmark: throughput on one core and detection quality over the synthetic
//! scenarios of issue 3. Run with `cargo bench -p downbeat-detect`.

use std::hint::black_box;
use std::time::Instant;

use downbeat_detect::synthetic::{self, Outcome, Series};
use downbeat_detect::{Detector, DetectorConfig, Direction};

fn main() {
    throughput();
    quality();
    evidence();
}

fn throughput() {
    println!("== throughput (one series, one core) ==");
    let cases: [(&str, Series, DetectorConfig); 3] = [
        (
            "counts ~100/min",
            synthetic::design_outage(1),
            DetectorConfig::for_counts(),
        ),
        (
            "counts ~0.003/min",
            synthetic::quiet_burst(1),
            DetectorConfig::for_counts(),
        ),
        (
            "gauge latency",
            synthetic::latency_jump(1),
            DetectorConfig::for_gauge(Direction::Up),
        ),
    ];
    for (name, series, config) in cases {
        let target = 10_000_000usize;
        let rounds = target.div_ceil(series.points.len());
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let mut d = Detector::new(config.clone());
            let start = Instant::now();
            let span = series.points.last().map_or(0, |p| p.0 - series.points[0].0) + 60;
            for r in 0..rounds {
                let shift = r as i64 * span;
                for &(t, v) in &series.points {
                    black_box(d.observe(t + shift, v));
                }
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        let n = rounds * series.points.len();
        println!(
            "{name:<20} {:>6.2} M points/s ({n} points, best of 3: {:.3} s)",
            n as f64 / best / 1e6,
            best
        );
    }
    let mut d = Detector::new(DetectorConfig::for_counts());
    for &(t, v) in &synthetic::normal_days(1, 30, 100.0).points {
        d.observe(t, v);
    }
    let json = serde_json::to_vec(&d).map(|v| v.len()).unwrap_or(0);
    println!(
        "state per series: {} bytes in memory ({} inline + {} in profile slots), {} bytes as JSON after 30 days",
        std::mem::size_of::<Detector>() + (48 + 168) * 2 * 8,
        std::mem::size_of::<Detector>(),
        (48 + 168) * 2 * 8,
        json
    );
}

fn fmt_delay(d: Option<i64>) -> String {
    d.map_or("never".to_string(), |s| {
        format!("{:.0} min", s as f64 / 60.0)
    })
}

fn quality() {
    println!();
    println!(
        "== detection quality (seeds 1..=5; delays are onset → end of the first bucket at that verdict) =="
    );
    type Make = fn(u64) -> Series;
    let scenarios: [(Make, DetectorConfig); 7] = [
        (
            |s| synthetic::normal_days(s, 30, 100.0),
            DetectorConfig::for_counts(),
        ),
        (synthetic::design_outage, DetectorConfig::for_counts()),
        (synthetic::regional_ramp, DetectorConfig::for_counts()),
        (synthetic::slow_ramp, DetectorConfig::for_counts()),
        (synthetic::quiet_burst, DetectorConfig::for_counts()),
        (synthetic::level_shift, DetectorConfig::for_counts()),
        (
            synthetic::latency_jump,
            DetectorConfig::for_gauge(Direction::Up),
        ),
    ];
    println!(
        "{:<32} {:>10} {:>10} {:>12} {:>18} {:>16}",
        "scenario", "→possible", "→problems", "cleared", "false alarms/30d", "false problems"
    );
    for (make, config) in scenarios {
        let mut name = "";
        let mut outcomes: Vec<Outcome> = Vec::new();
        for seed in 1..=5 {
            let s = make(seed);
            name = s.name;
            outcomes.push(synthetic::evaluate(&s, config.clone()));
        }
        let worst = |f: fn(&Outcome) -> Option<i64>| {
            if outcomes.iter().any(|o| f(o).is_none()) {
                None
            } else {
                outcomes.iter().filter_map(f).max()
            }
        };
        let days: f64 = outcomes.iter().map(|o| o.days).sum();
        let false_alarms: usize = outcomes.iter().map(|o| o.false_alarms).sum();
        let false_problems: usize = outcomes.iter().map(|o| o.false_problems).sum();
        let has_event = make(1).onset.is_some();
        println!(
            "{:<32} {:>10} {:>10} {:>12} {:>18.2} {:>16}",
            name,
            if has_event {
                fmt_delay(worst(|o| o.possible_delay_s))
            } else {
                "-".into()
            },
            if has_event {
                fmt_delay(worst(|o| o.problems_delay_s))
            } else {
                "-".into()
            },
            if has_event {
                fmt_delay(worst(|o| o.cleared_after_s))
            } else {
                "-".into()
            },
            false_alarms as f64 / days * 30.0,
            false_problems,
        );
    }
    println!("(worst of the five seeds; `cleared` is onset → back to no problems for good)");
    let after_double: Vec<String> = (1..=5)
        .map(|seed| {
            let o = synthetic::evaluate(&synthetic::slow_ramp(seed), DetectorConfig::for_counts());
            // The ramp reaches twice the usual volume one hour after onset.
            fmt_delay(o.problems_delay_s.map(|d| d - 3600))
        })
        .collect();
    println!(
        "slow ramp: problems after reaching 2× the usual, seeds 1..=5: {}",
        after_double.join(", ")
    );
}

/// The ranking score on the same scenarios: how high the event's first high point scores,
/// and how many points of the series score at least half of that.
fn evidence() {
    println!();
    println!("== evidence score (the backtest's anomaly_score), seed 1 ==");
    println!(
        "{:<48} {:>10} {:>14} {:>22}",
        "scenario", "top", "top outside", "points ≥ ½ top (event)"
    );
    type Make = fn(u64) -> Series;
    let scenarios: [(Make, DetectorConfig); 5] = [
        (synthetic::design_outage, DetectorConfig::for_counts()),
        (synthetic::regional_ramp, DetectorConfig::for_counts()),
        (synthetic::slow_ramp, DetectorConfig::for_counts()),
        (synthetic::level_shift, DetectorConfig::for_counts()),
        (
            synthetic::latency_jump,
            DetectorConfig::for_gauge(Direction::Up),
        ),
    ];
    for (make, config) in scenarios {
        let s = make(1);
        let onset = s.onset.unwrap_or(i64::MAX);
        let end = s.end.unwrap_or(i64::MAX).saturating_add(6 * 3600);
        let mut d = Detector::new(config);
        let scored: Vec<(i64, f64)> = s
            .points
            .iter()
            .map(|&(t, v)| (t, d.observe(t, v).evidence))
            .collect();
        let inside = |t: i64| (onset..end).contains(&t);
        let top = scored
            .iter()
            .filter(|p| inside(p.0))
            .map(|p| p.1)
            .fold(0.0, f64::max);
        let outside = scored
            .iter()
            .filter(|p| !inside(p.0) && p.0 >= s.points[0].0 + 7 * 86_400)
            .map(|p| p.1)
            .fold(0.0, f64::max);
        let many = scored
            .iter()
            .filter(|p| inside(p.0) && p.1 >= 0.5 * top)
            .count();
        println!(
            "{:<48} {:>10.3} {:>14.3} {:>22}",
            s.name, top, outside, many
        );
    }
    println!("(top outside: highest score outside the event, after the first week)");
}
