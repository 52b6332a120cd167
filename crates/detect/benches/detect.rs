//! Detector benchmark: throughput on one core and detection quality over the synthetic
//! scenarios of issue 3. Run with `cargo bench -p downbeat-detect`.

use std::hint::black_box;
use std::time::Instant;

use downbeat_detect::synthetic::{self, Outcome, Series};
use downbeat_detect::{Detector, DetectorConfig, Direction};

fn main() {
    throughput();
    quality();
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
    let scenarios: [(Make, DetectorConfig); 6] = [
        (
            |s| synthetic::normal_days(s, 30, 100.0),
            DetectorConfig::for_counts(),
        ),
        (synthetic::design_outage, DetectorConfig::for_counts()),
        (synthetic::regional_ramp, DetectorConfig::for_counts()),
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
}
