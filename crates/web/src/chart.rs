//! The 24-hour chart: reports per 15 minutes against the usual range, as SVG geometry the
//! template draws (no markup is built here, only numbers).
//!
//! The band behind the bars is the crowd detector's usual range *per bucket*
//! ([`downbeat_crowd::Crowd::baselines`]): its current seasonal model evaluated at
//! every minute of the day shown, so the quiet night and the busy evening each get their own
//! range. The dashed line is the expected count. Without a trained model there is no band,
//! and the chart says so rather than inventing one.

use crate::model::ChartData;
use crate::time::hhmm;
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
    /// The usual range per bucket as one closed path, when the detector has a model.
    pub band: Option<String>,
    /// The expected count per bucket as a stepped line.
    pub expected: Option<String>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub view_box: String,
    pub left: String,
    pub right: String,
    pub plot_w: String,
    pub label_x: String,
    pub label_y: String,
    pub bottom: String,
    /// The plot's top edge.
    pub top: String,
    pub title: String,
    pub desc: String,
    /// Changes within the chart: a vertical line each, with its words.
    pub markers: Vec<MarkerView>,
}

#[derive(Debug, Clone)]
pub struct MarkerView {
    pub x: String,
    /// "Deploy of Login at 08:09" (escaped by the template).
    pub label: String,
}

pub fn view(data: &ChartData) -> ChartView {
    // Buckets the baseline covers (all but future ones), with their band.
    let usual: &[downbeat_crowd::BucketBaseline] = data.baseline.as_deref().unwrap_or(&[]);
    let usual: Vec<_> = usual
        .iter()
        .take(data.counts.len())
        .take_while(|b| b.minutes > 0)
        .collect();
    let peak = data.counts.iter().copied().max().unwrap_or(0) as f64;
    let usual_top = usual.iter().map(|b| b.upper).fold(0.0, f64::max);
    let top = nice_max(peak.max(usual_top).max(4.0));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let base = TOP + plot_h;
    let y = |v: f64| base - v.clamp(0.0, top) / top * plot_h;
    let n = data.counts.len().max(1) as f64;
    let slot = plot_w / n;
    let bar_w = (slot * 0.8).max(1.0);
    let x_at = |i: usize| LEFT + i as f64 * slot;

    let mut bars = String::new();
    for (i, &c) in data.counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let h = base - y(c as f64);
        let x = x_at(i) + (slot - bar_w) / 2.0;
        let _ = write!(bars, "M{x:.1} {base:.1}v-{h:.1}h{bar_w:.1}v{h:.1}z");
    }
    // One polygon: along the upper edges left to right, back along the lower edges.
    let (band, expected) = if usual.is_empty() {
        (None, None)
    } else {
        let mut band = format!("M{:.1} {:.1}", x_at(0), y(usual[0].upper));
        for (i, b) in usual.iter().enumerate() {
            let _ = write!(
                band,
                "L{:.1} {:.1}L{:.1} {:.1}",
                x_at(i),
                y(b.upper),
                x_at(i + 1),
                y(b.upper)
            );
        }
        for (i, b) in usual.iter().enumerate().rev() {
            let _ = write!(
                band,
                "L{:.1} {:.1}L{:.1} {:.1}",
                x_at(i + 1),
                y(b.lower),
                x_at(i),
                y(b.lower)
            );
        }
        band.push('z');
        let mut line = format!("M{:.1} {:.1}", x_at(0), y(usual[0].expected));
        for (i, b) in usual.iter().enumerate() {
            let _ = write!(line, "V{:.1}H{:.1}", y(b.expected), x_at(i + 1));
        }
        (Some(band), Some(line))
    };
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
                at: format!("{:.1}", x_at(i)),
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
    if usual.is_empty() {
        desc.push_str(" No usual level is known yet.");
    } else {
        // Bars above the usual range: what a sighted reader sees at a glance.
        let above: Vec<usize> = usual
            .iter()
            .enumerate()
            .filter(|(i, b)| data.counts[*i] as f64 > b.upper)
            .map(|(i, _)| i)
            .collect();
        let last = usual[usual.len() - 1];
        let _ = write!(
            desc,
            " The shaded band is the usual range for each 15 minutes; for the latest it is {:.0} to {:.0} (about {:.0} expected).",
            last.lower.floor(),
            last.upper.ceil(),
            last.expected
        );
        match above.as_slice() {
            [] => desc.push_str(" No bar is above it."),
            [i] => {
                let _ = write!(
                    desc,
                    " One bar is above it, at {}.",
                    hhmm(data.start_ms + *i as i64 * data.bucket_ms)
                );
            }
            [first, ..] => {
                let _ = write!(
                    desc,
                    " {} bars are above it, the first at {}.",
                    above.len(),
                    hhmm(data.start_ms + *first as i64 * data.bucket_ms)
                );
            }
        }
    }
    let end_ms = data.start_ms + data.counts.len() as i64 * data.bucket_ms;
    let markers: Vec<MarkerView> = data
        .markers
        .iter()
        .filter(|m| (data.start_ms..end_ms).contains(&m.at_ms))
        .map(|m| {
            let offset = (m.at_ms - data.start_ms) as f64 / data.bucket_ms as f64;
            MarkerView {
                x: format!("{:.1}", LEFT + offset * slot),
                label: format!("{} at {}", m.label, hhmm(m.at_ms)),
            }
        })
        .collect();
    if !markers.is_empty() {
        let words: Vec<&str> = markers.iter().map(|m| m.label.as_str()).collect();
        let _ = write!(desc, " Changes marked: {}.", words.join("; "));
    }
    ChartView {
        markers,
        bars,
        band,
        expected,
        y_ticks,
        x_ticks,
        view_box: format!("0 0 {WIDTH:.0} {HEIGHT:.0}"),
        left: format!("{LEFT:.0}"),
        right: format!("{:.0}", WIDTH - RIGHT),
        plot_w: format!("{plot_w:.0}"),
        label_x: format!("{:.0}", LEFT - 5.0),
        label_y: format!("{:.0}", HEIGHT - 6.0),
        bottom: format!("{base:.1}"),
        top: format!("{TOP:.1}"),
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
    use crate::model::ChartMarker;

    use downbeat_crowd::BucketBaseline;

    fn data(counts: Vec<u64>, band: Option<Vec<(u32, f64, f64, f64)>>) -> ChartData {
        let start_ms = 1_795_000_000_000 / 900_000 * 900_000;
        ChartData {
            start_ms,
            bucket_ms: 900_000,
            baseline: band.map(|v| {
                v.into_iter()
                    .enumerate()
                    .map(|(i, (minutes, lower, expected, upper))| BucketBaseline {
                        start_ms: start_ms + i as i64 * 900_000,
                        minutes,
                        expected,
                        lower,
                        upper,
                    })
                    .collect()
            }),
            counts,
            markers: Vec::new(),
        }
    }

    /// The y coordinates of the band's upper edge, two points per bucket.
    fn upper_edge(path: &str, buckets: usize) -> Vec<f64> {
        path.trim_start_matches('M')
            .trim_end_matches('z')
            .split('L')
            .skip(1)
            .take(2 * buckets)
            .map(|p| p.split(' ').nth(1).unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn the_band_follows_each_bucket_and_stops_at_now() {
        // A quiet bucket, a busy one, and a future one the baseline does not cover.
        let v = view(&data(
            vec![1, 30, 0],
            Some(vec![
                (15, 0.0, 2.0, 6.0),
                (15, 10.0, 20.0, 40.0),
                (0, 0.0, 0.0, 0.0),
            ]),
        ));
        let band = v.band.expect("a band");
        let up = upper_edge(&band, 2);
        assert_eq!(up.len(), 4, "{band}");
        assert!(
            up[0] == up[1] && up[2] == up[3] && up[2] < up[0],
            "{up:?}: the busy bucket's range reaches higher"
        );
        // Two buckets: the polygon has 2 + 2 points each way plus the start.
        assert_eq!(band.matches('L').count(), 8, "{band}");
        assert!(v.expected.unwrap().matches('H').count() == 2);
        assert!(
            v.desc
                .contains("for the latest it is 10 to 40 (about 20 expected)"),
            "{}",
            v.desc
        );
        assert!(v.desc.contains("No bar is above it."), "{}", v.desc);
    }

    #[test]
    fn bars_above_the_band_are_told() {
        let v = view(&data(vec![9, 3, 50], Some(vec![(15, 0.0, 2.0, 6.0); 3])));
        assert!(
            v.desc.contains("2 bars are above it, the first at "),
            "{}",
            v.desc
        );
        let none = view(&data(vec![9, 3, 50], None));
        assert!(none.band.is_none() && none.expected.is_none());
        assert!(none.desc.contains("No usual level is known yet."));
    }

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_max(4.0), 5.0);
        assert_eq!(nice_max(5.0), 5.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(130.0), 200.0);
    }

    #[test]
    fn changes_are_marked_where_they_happened_and_told_in_words() {
        let mut d = data(vec![1, 2, 3, 4], None);
        d.markers = vec![
            ChartMarker {
                at_ms: d.start_ms + 2 * 900_000 + 450_000,
                label: "Deploy of Login".into(),
            },
            // before the chart's first bucket: not drawn
            ChartMarker {
                at_ms: d.start_ms - 1,
                label: "Rollback".into(),
            },
        ];
        let v = view(&d);
        assert_eq!(v.markers.len(), 1);
        let slot = (WIDTH - LEFT - RIGHT) / 4.0;
        assert_eq!(v.markers[0].x, format!("{:.1}", LEFT + 2.5 * slot));
        assert!(
            v.markers[0].label.starts_with("Deploy of Login at "),
            "{}",
            v.markers[0].label
        );
        assert!(
            v.desc.contains("Changes marked: Deploy of Login at "),
            "{}",
            v.desc
        );
    }
}
