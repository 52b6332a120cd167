//! The 24-hour chart: reports per 15 minutes against the usual level, as SVG geometry the
//! template draws (no markup is built here, only numbers).
//!
//! The band is the detector's *current* usual range (lower–upper per minute, scaled to the
//! bucket), drawn across the whole day and labelled as such: the detector keeps no history
//! of past baselines yet, and drawing one would be invented.

use crate::model::ChartData;
use crate::time::hhmm;
use downbeat_server::crowd::CrowdStatus;
use std::fmt::Write;

// A narrow box, so that on a phone the labels shrink less.
pub const WIDTH: f64 = 480.0;
pub const HEIGHT: f64 = 200.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// A tick label and where it goes.
#[derive(Debug, Clone)]
pub struct Tick {
    pub at: String,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct ChartView {
    pub bars: String,
    /// y and height of the usual range, when the detector has one.
    pub band: Option<(String, String)>,
    pub expected_y: Option<String>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub view_box: String,
    pub left: String,
    pub right: String,
    pub plot_w: String,
    pub label_x: String,
    pub label_y: String,
    pub bottom: String,
    pub title: String,
    pub desc: String,
}

pub fn view(data: &ChartData, crowd: &CrowdStatus) -> ChartView {
    let per_bucket = data.bucket_ms as f64 / 60_000.0;
    let usual = crowd.as_of.is_some().then(|| {
        (
            crowd.lower.max(0.0) * per_bucket,
            crowd.expected.max(0.0) * per_bucket,
            crowd.upper.max(0.0) * per_bucket,
        )
    });
    let peak = data.counts.iter().copied().max().unwrap_or(0) as f64;
    let top = nice_max(peak.max(usual.map_or(0.0, |u| u.2)).max(4.0));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let base = TOP + plot_h;
    let y = |v: f64| base - v / top * plot_h;
    let n = data.counts.len().max(1) as f64;
    let slot = plot_w / n;
    let bar_w = (slot * 0.8).max(1.0);

    let mut bars = String::new();
    for (i, &c) in data.counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let h = base - y(c as f64);
        let x = LEFT + i as f64 * slot + (slot - bar_w) / 2.0;
        let _ = write!(bars, "M{x:.1} {base:.1}v-{h:.1}h{bar_w:.1}v{h:.1}z");
    }
    let y_ticks = [0.0, top / 2.0, top]
        .iter()
        .map(|&v| Tick {
            at: format!("{:.1}", y(v)),
            label: format!("{v:.0}"),
        })
        .collect();
    // Labels every 6 hours, on the hour boundaries the buckets fall on.
    let mut x_ticks = Vec::new();
    for (i, _) in data.counts.iter().enumerate() {
        let t = data.start_ms + i as i64 * data.bucket_ms;
        if t.rem_euclid(6 * 3_600_000) == 0 {
            x_ticks.push(Tick {
                at: format!("{:.1}", LEFT + i as f64 * slot),
                label: hhmm(t),
            });
        }
    }
    let (peak_i, peak_v) = data
        .counts
        .iter()
        .enumerate()
        .max_by_key(|(i, c)| (**c, *i))
        .map_or((0, 0), |(i, c)| (i, *c));
    let total: u64 = data.counts.iter().sum();
    let mut desc = format!(
        "{total} reports in the last 24 hours, in 15-minute bars from {} to now (UTC).",
        hhmm(data.start_ms)
    );
    if peak_v > 0 {
        let _ = write!(
            desc,
            " Most in one bar: {peak_v} at {}.",
            hhmm(data.start_ms + peak_i as i64 * data.bucket_ms)
        );
    }
    match usual {
        Some((_, e, _)) => {
            let _ = write!(
                desc,
                " The usual level right now is about {e:.0} per 15 minutes."
            );
        }
        None => desc.push_str(" No usual level is known yet."),
    }
    ChartView {
        bars,
        band: usual.map(|(lo, _, hi)| (format!("{:.1}", y(hi)), format!("{:.1}", y(lo) - y(hi)))),
        expected_y: usual.map(|(_, e, _)| format!("{:.1}", y(e))),
        y_ticks,
        x_ticks,
        view_box: format!("0 0 {WIDTH:.0} {HEIGHT:.0}"),
        left: format!("{LEFT:.0}"),
        right: format!("{:.0}", WIDTH - RIGHT),
        plot_w: format!("{plot_w:.0}"),
        label_x: format!("{:.0}", LEFT - 5.0),
        label_y: format!("{:.0}", HEIGHT - 6.0),
        bottom: format!("{base:.1}"),
        title: "Reports per 15 minutes, last 24 hours".into(),
        desc,
    }
}

/// A round axis maximum at or above `v`: 1, 2 or 5 times a power of ten.
fn nice_max(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_max(4.0), 5.0);
        assert_eq!(nice_max(5.0), 5.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(130.0), 200.0);
    }
}
