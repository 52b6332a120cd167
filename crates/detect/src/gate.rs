//! The verdict state machine: minimum-duration gates to raise a verdict and hysteresis to
//! lower it, so a one-minute blip raises nothing and an outage raises one alarm, not one per
//! minute. Its state is persisted with the detector, so a restart neither re-alerts nor
//! forgets an open alarm.

use downbeat_domain::Verdict;
use serde::{Deserialize, Serialize};

use crate::DetectorConfig;

/// How one point looks to the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PointClass {
    /// Rare enough, in a bad direction, and by enough volume, to count towards *possible*.
    pub(crate) hot: bool,
    /// Rare enough and large enough to count towards *problems*.
    pub(crate) strong: bool,
    /// Clearly normal: counts towards recovery.
    pub(crate) calm: bool,
}

/// A run of consecutive points that met a condition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Run {
    /// Time of the first point, if the run is ongoing.
    start: Option<i64>,
    points: u32,
}

impl Run {
    fn step(&mut self, holds: bool, t: i64) {
        if holds {
            if self.start.is_none() {
                self.start = Some(t);
                self.points = 0;
            }
            self.points = self.points.saturating_add(1);
        } else {
            *self = Run::default();
        }
    }

    /// Whether the run covers at least `secs` (each point covering one interval) and
    /// `points` points.
    fn held(&self, t: i64, interval_s: f64, secs: i64, points: u32) -> bool {
        match self.start {
            Some(start) => {
                let covered = t.saturating_sub(start) as f64 + interval_s;
                self.points >= points && covered + 1e-9 >= secs as f64
            }
            None => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Gate {
    verdict: Verdict,
    since: Option<i64>,
    hot: Run,
    strong: Run,
    calm: Run,
    not_hot: Run,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            verdict: Verdict::NoProblems,
            since: None,
            hot: Run::default(),
            strong: Run::default(),
            calm: Run::default(),
            not_hot: Run::default(),
        }
    }
}

impl Gate {
    pub(crate) fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// When the current verdict began (None before the first judged point).
    pub(crate) fn since(&self) -> Option<i64> {
        self.since
    }

    /// Feeds one judged point; returns the verdict before it.
    pub(crate) fn step(
        &mut self,
        t: i64,
        interval_s: f64,
        class: PointClass,
        cfg: &DetectorConfig,
    ) -> Verdict {
        let before = self.verdict;
        self.since.get_or_insert(t);
        self.hot.step(class.hot, t);
        self.strong.step(class.strong, t);
        self.calm.step(class.calm, t);
        self.not_hot.step(!class.hot, t);

        let recover = |run: &Run| run.held(t, interval_s, cfg.recover_after_s, 1);
        let mut next = self.verdict;
        // Problems holds while points stay hot, so an outage that wavers between strong and
        // merely hot raises one alarm instead of flapping.
        if next == Verdict::Problems && recover(&self.not_hot) {
            next = if recover(&self.calm) {
                Verdict::NoProblems
            } else {
                Verdict::PossibleProblems
            };
        } else if next == Verdict::PossibleProblems && recover(&self.calm) {
            next = Verdict::NoProblems;
        }
        if self
            .strong
            .held(t, interval_s, cfg.problems_after_s, cfg.problems_min_points)
        {
            next = Verdict::Problems;
        } else if next == Verdict::NoProblems
            && self
                .hot
                .held(t, interval_s, cfg.possible_after_s, cfg.possible_min_points)
        {
            next = Verdict::PossibleProblems;
        }
        if next != self.verdict {
            self.verdict = next;
            self.since = Some(t);
        }
        before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOT: PointClass = PointClass {
        hot: true,
        strong: false,
        calm: false,
    };
    const STRONG: PointClass = PointClass {
        hot: true,
        strong: true,
        calm: false,
    };
    const CALM: PointClass = PointClass {
        hot: false,
        strong: false,
        calm: true,
    };

    fn run(classes: &[PointClass]) -> Vec<Verdict> {
        let cfg = DetectorConfig::for_counts();
        let mut g = Gate::default();
        classes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                g.step(i as i64 * 60, 60.0, *c, &cfg);
                g.verdict()
            })
            .collect()
    }

    #[test]
    fn one_minute_blip_raises_nothing() {
        let v = run(&[CALM, STRONG, CALM, CALM]);
        assert!(v.iter().all(|v| *v == Verdict::NoProblems));
    }

    #[test]
    fn sustained_strong_points_escalate_in_order() {
        let v = run(&[STRONG, STRONG, STRONG, STRONG]);
        assert_eq!(
            v,
            [
                Verdict::NoProblems,
                Verdict::PossibleProblems,
                Verdict::Problems,
                Verdict::Problems
            ]
        );
    }

    #[test]
    fn recovery_needs_fifteen_calm_minutes() {
        let mut classes = vec![STRONG; 5];
        classes.extend(vec![CALM; 14]);
        let v = run(&classes);
        assert_eq!(*v.last().unwrap(), Verdict::Problems);
        classes.push(CALM);
        let v = run(&classes);
        assert_eq!(*v.last().unwrap(), Verdict::NoProblems);
    }

    #[test]
    fn a_calm_gap_shorter_than_recovery_keeps_the_alarm() {
        let mut classes = vec![STRONG; 5];
        classes.extend(vec![CALM; 10]);
        classes.extend(vec![STRONG; 2]);
        classes.extend(vec![CALM; 10]);
        let v = run(&classes);
        assert!(v[4..].iter().all(|v| *v == Verdict::Problems));
    }

    const WARM: PointClass = PointClass {
        hot: false,
        strong: false,
        calm: false,
    };

    #[test]
    fn problems_holds_while_hot_and_steps_down_through_possible() {
        let mut classes = vec![STRONG; 5];
        classes.extend(vec![HOT; 30]);
        let v = run(&classes);
        assert!(v[2..].iter().all(|v| *v == Verdict::Problems));
        classes.extend(vec![WARM; 15]);
        assert_eq!(*run(&classes).last().unwrap(), Verdict::PossibleProblems);
        classes.extend(vec![CALM; 15]);
        assert_eq!(*run(&classes).last().unwrap(), Verdict::NoProblems);
    }
}
