//! The crowd and the probes, tied by place: when most of the crowd's reports come from the
//! countries a vantage region stands for and that region's probes fail (even without a
//! quorum, so no monitor is down), both are one story — "Playback fails in Asia: checks
//! from ap-southeast see server errors (5xx)" — told in the draft's title, its first (public)
//! update and, with monitor names, in the operators' diagnosis.

use crate::Incidents;
use downbeat_config::ServiceConfig;
use downbeat_crowd::CrowdStatus;
use downbeat_domain::probe::{Cause, Outcome};
use downbeat_domain::region::Area;

/// The share of the crowd's reports that must come from a region's countries.
pub const MIN_SHARE: f64 = 0.5;

/// A region whose probes fail where the crowd reports.
#[derive(Debug, Clone)]
pub struct Tie {
    pub area: Area,
    /// Share of the crowd's rise (or, without hot countries, of its reports) from the area's
    /// countries (0–1).
    pub share: f64,
    /// The area's countries in it, most first.
    pub countries: Vec<String>,
    /// The failing monitors seen from the region, with their cause.
    pub monitors: Vec<(String, Option<Cause>)>,
}

impl Tie {
    /// The first failing cause, in public words.
    fn cause_words(&self) -> &'static str {
        self.monitors
            .iter()
            .find_map(|m| m.1)
            .map_or("failures", Cause::public_words)
    }

    /// Public words: "Playback fails in Asia: checks from ap-southeast see server errors
    /// (5xx)" — `what` (a problem's label, or the service's name), a region's name and id, a
    /// cause; never a target.
    pub fn public_sentence(&self, what: &str) -> String {
        format!(
            "{what} fails in {}: checks from {} see {}",
            self.area.name,
            self.area.region,
            self.cause_words()
        )
    }

    /// For operators: which countries, which monitors.
    pub fn diagnosis(&self) -> String {
        let monitors: Vec<String> = self
            .monitors
            .iter()
            .map(|(id, cause)| match cause {
                Some(c) => format!("{id} ({})", c.operator_words()),
                None => id.clone(),
            })
            .collect();
        format!(
            "Reports concentrate in {} ({:.0}% of the rise from {}), where probes from {} fail: {}.",
            self.area.name,
            self.share * 100.0,
            self.countries.join(", "),
            self.area.region,
            monitors.join(", ")
        )
    }
}

/// The region tied to the crowd's trouble, if any: the one whose probes of the service fail
/// now (reliable results only) with the largest share of the crowd's excess from its
/// countries, at least [`MIN_SHARE`]. The excess is what the countries' own series report
/// above their usual (the crowd's hot country series); without any, the share of all the
/// reports stands in for it.
pub fn tie(incidents: &Incidents, service: &ServiceConfig, crowd: &CrowdStatus) -> Option<Tie> {
    // Each country's reports above its usual, for the countries whose own series is hot.
    let excess: Vec<(String, f64)> = crowd
        .hot_series
        .iter()
        .filter_map(|s| {
            let country = s.series.strip_prefix("country:")?;
            Some((country.to_owned(), (s.observed - s.expected).max(0.0)))
        })
        .filter(|(_, e)| *e > 0.0)
        .collect();
    let weights: Vec<(String, f64)> = if excess.is_empty() {
        crowd
            .breakdown
            .countries
            .iter()
            .map(|c| (c.id.clone(), c.share))
            .collect()
    } else {
        let total: f64 = excess.iter().map(|e| e.1).sum();
        excess.into_iter().map(|(c, e)| (c, e / total)).collect()
    };
    if weights.is_empty() {
        return None;
    }
    let mut failing: std::collections::BTreeMap<String, Vec<(String, Option<Cause>)>> =
        Default::default();
    for m in &incidents.config.get().monitors {
        if m.service != service.id {
            continue;
        }
        for (region, r) in incidents.monitors.latest(m.id.as_str()) {
            if r.reliable && r.result.outcome != Outcome::Up {
                failing
                    .entry(region.to_string())
                    .or_default()
                    .push((m.id.to_string(), r.result.cause));
            }
        }
    }
    failing
        .into_iter()
        .filter_map(|(region, monitors)| {
            let area = incidents.config.load().regions.area(&region)?;
            let mut mine: Vec<&(String, f64)> = weights
                .iter()
                .filter(|(c, _)| area.countries.contains(c))
                .collect();
            mine.sort_by(|a, b| b.1.total_cmp(&a.1));
            let share: f64 = mine.iter().map(|c| c.1).sum();
            (share >= MIN_SHARE).then(|| Tie {
                countries: mine.iter().map(|c| c.0.clone()).collect(),
                area,
                share,
                monitors,
            })
        })
        .max_by(|a, b| a.share.total_cmp(&b.share))
}
