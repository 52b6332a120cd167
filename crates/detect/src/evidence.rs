//! The ranking score ([`crate::Assessment::evidence`], the backtest's `anomaly_score`): how
//! many times stronger the evidence against the model (in decades of rarity) is now than
//! anything this series showed recently. It ranks moments across series and volumes with one
//! threshold (the series' own record calibrates it), never saturates, and is high once per
//! event: the first point of an event sets a new record, and the rest of the event ranks
//! again only if it is several times rarer still.

use serde::{Deserialize, Serialize};

use crate::exact;

/// Evidence (decades of rarity, `-log10 p`) below this is ordinary noise and never novel.
pub(crate) const FLOOR_DECADES: f64 = 3.0;
/// Novelty, in doublings of the recent record, that maps to a score of 0.5: evidence four
/// times the record (in decades: 10⁻¹² after a record of 10⁻³).
pub(crate) const HALF_SCORE_DOUBLINGS: f64 = 2.0;
/// Memory of the recent record: it decays by a factor e over this long (and at least this
/// many observations), so a series that sees the same kind of spike every day stops ranking
/// it, while a record from last week no longer hides today's event. (Tuned on the harness's
/// corpus: one day ranks daily nuisances too high, a week hides the second event of a file.)
pub(crate) const MEMORY_S: f64 = 2.0 * 86_400.0;
pub(crate) const MIN_POINTS: f64 = 100.0;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct Novelty {
    /// The decaying record of evidence, in decades.
    #[serde(with = "exact::f64")]
    record: f64,
}

impl Novelty {
    pub(crate) fn is_valid(&self) -> bool {
        self.record.is_finite() && self.record >= 0.0
    }

    /// Scores evidence `decades` against the record (decayed by `keep` since the last point)
    /// and updates the record.
    pub(crate) fn step(&mut self, decades: f64, keep: f64) -> f64 {
        let decades = if decades.is_finite() {
            decades.max(0.0)
        } else {
            0.0
        };
        let record = self.record * keep;
        self.record = record.max(decades);
        let base = record.max(FLOOR_DECADES);
        if decades > base {
            score((decades / base).log2())
        } else {
            0.0
        }
    }
}

/// Maps novelty (doublings of the record) to [0, 1): 0 at or below zero, 0.5 at
/// `HALF_SCORE_DOUBLINGS`, strictly increasing, never reaching 1.
pub(crate) fn score(novelty: f64) -> f64 {
    if novelty > 0.0 {
        novelty / (novelty + HALF_SCORE_DOUBLINGS)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_of_the_record_scores_nothing_and_a_bigger_event_scores_more() {
        let mut n = Novelty::default();
        let first = n.step(20.0, 1.0);
        assert!(first > 0.5, "{first}");
        assert_eq!(n.step(20.0, 1.0), 0.0);
        assert!(n.step(40.0, 1.0) > 0.0);
        assert!(score(100.0) < score(1000.0) && score(1000.0) < 1.0);
    }
}
