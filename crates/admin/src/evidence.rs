//! A draft's evidence (the JSON `incidents::signals::evidence` writes) as something an
//! operator can read: the crowd verdict and its explanation, the breakdowns, the monitors
//! per region with their probable cause, and the diagnosis. Read leniently: a field missing
//! (or written by another version) leaves a gap, never an error; the raw JSON stays
//! available underneath.

use crate::views::when;
use downbeat_domain::probe::Cause;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Raw {
    at: Option<jiff::Timestamp>,
    crowd: Option<RawCrowd>,
    monitors: Vec<RawMonitor>,
    diagnosis: Option<String>,
    changes: Vec<RawChange>,
    recovery: Option<String>,
}

/// A change recorded before the onset (`incidents::signals` adds them).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawChange {
    kind: String,
    component: Option<String>,
    version: Option<String>,
    title: Option<String>,
    at: Option<jiff::Timestamp>,
    recorded_by: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawCrowd {
    verdict: String,
    since: Option<jiff::Timestamp>,
    observed: f64,
    expected: f64,
    lower: f64,
    upper: f64,
    explanation: String,
    breakdown: RawBreakdown,
    networks: u64,
    hot_series: Vec<RawSeries>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawBreakdown {
    problems: Vec<RawShare>,
    platforms: Vec<RawShare>,
    countries: Vec<RawShare>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawShare {
    label: String,
    share: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawSeries {
    label: String,
    verdict: String,
    since: Option<jiff::Timestamp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawMonitor {
    monitor: String,
    component: Option<String>,
    state: String,
    since: Option<jiff::Timestamp>,
    probable_cause: Option<String>,
    regions: BTreeMap<String, RawRegion>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawRegion {
    at: Option<jiff::Timestamp>,
    outcome: String,
    cause: Option<String>,
    reliable: bool,
    explanation: String,
}

/// The evidence as the page shows it.
#[derive(Debug, Default)]
pub struct EvidenceView {
    pub at: String,
    pub crowd: Option<CrowdView>,
    pub monitors: Vec<MonitorView>,
    pub diagnosis: String,
    /// The changes recorded before the onset: "08:09 deploy login 2.3.0 — title (by ci)".
    pub changes: Vec<String>,
    /// A rollback the signals recovered after.
    pub recovery: String,
    /// The JSON, pretty-printed, for whoever wants every figure.
    pub raw: String,
}

#[derive(Debug, Default)]
pub struct CrowdView {
    pub verdict: String,
    /// A CSS class: no_problems, possible_problems, problems.
    pub class: String,
    pub since: String,
    pub explanation: String,
    pub figures: String,
    pub breakdowns: Vec<BreakdownView>,
    pub hot: Vec<String>,
}

#[derive(Debug, Default)]
pub struct BreakdownView {
    pub title: &'static str,
    pub shares: Vec<ShareView>,
}

#[derive(Debug, Default)]
pub struct ShareView {
    pub label: String,
    /// 0–100.
    pub percent: u32,
}

#[derive(Debug, Default)]
pub struct MonitorView {
    pub id: String,
    pub component: String,
    pub down: bool,
    pub state: String,
    pub since: String,
    pub cause: String,
    pub regions: Vec<RegionView>,
}

#[derive(Debug, Default)]
pub struct RegionView {
    pub region: String,
    pub outcome: String,
    pub cause: String,
    pub explanation: String,
    pub reliable: bool,
    pub at: String,
}

/// "no_problems" → "No problems"; other machine words → spaced.
pub fn words(machine: &str) -> String {
    let spaced = machine.replace('_', " ");
    let mut c = spaced.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A probe failure cause in words ("tls_certificate" → "TLS certificate"); a word this
/// version does not know is logged and left out rather than guessed at.
pub fn cause_words(cause: &str) -> String {
    match cause.parse::<Cause>() {
        Ok(c) => c.operator_words().to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "evidence names an unknown probe cause; left out");
            String::new()
        }
    }
}

fn shares(title: &'static str, raw: &[RawShare]) -> Option<BreakdownView> {
    (!raw.is_empty()).then(|| BreakdownView {
        title,
        shares: raw
            .iter()
            .take(6)
            .map(|s| ShareView {
                label: s.label.clone(),
                percent: (s.share.clamp(0.0, 1.0) * 100.0).round() as u32,
            })
            .collect(),
    })
}

/// The view of an evidence value.
pub fn view(evidence: &serde_json::Value) -> EvidenceView {
    let pretty = serde_json::to_string_pretty(evidence).unwrap_or_default();
    let Ok(raw) = serde_json::from_value::<Raw>(evidence.clone()) else {
        return EvidenceView {
            raw: pretty,
            ..Default::default()
        };
    };
    let crowd = raw.crowd.map(|c| CrowdView {
        verdict: words(&c.verdict),
        class: match c.verdict.as_str() {
            "problems" | "possible_problems" | "no_problems" => c.verdict.clone(),
            _ => String::new(),
        },
        since: c.since.map(when).unwrap_or_default(),
        explanation: c.explanation,
        figures: format!(
            "{:.0} reports in the last minute against {:.0} expected (usual range {:.0}–{:.0}), \
             from {} distinct networks.",
            c.observed, c.expected, c.lower, c.upper, c.networks
        ),
        breakdowns: [
            shares("Problems", &c.breakdown.problems),
            shares("Platforms", &c.breakdown.platforms),
            shares("Countries", &c.breakdown.countries),
        ]
        .into_iter()
        .flatten()
        .collect(),
        hot: c
            .hot_series
            .iter()
            .map(|s| {
                format!(
                    "{}: {}{}",
                    s.label,
                    words(&s.verdict).to_lowercase(),
                    s.since
                        .map(|t| format!(" since {}", when(t)))
                        .unwrap_or_default()
                )
            })
            .collect(),
    });
    let monitors = raw
        .monitors
        .into_iter()
        .map(|m| MonitorView {
            down: m.state == "down",
            state: words(&m.state),
            since: m.since.map(when).unwrap_or_default(),
            cause: m
                .probable_cause
                .as_deref()
                .map(cause_words)
                .unwrap_or_default(),
            component: m.component.unwrap_or_default(),
            id: m.monitor,
            regions: m
                .regions
                .into_iter()
                .map(|(region, r)| RegionView {
                    region,
                    outcome: words(&r.outcome),
                    cause: r.cause.as_deref().map(cause_words).unwrap_or_default(),
                    explanation: r.explanation,
                    reliable: r.reliable,
                    at: r.at.map(when).unwrap_or_default(),
                })
                .collect(),
        })
        .collect();
    EvidenceView {
        at: raw.at.map(when).unwrap_or_default(),
        crowd,
        monitors,
        diagnosis: raw.diagnosis.unwrap_or_default(),
        changes: raw
            .changes
            .iter()
            .map(|c| {
                let what = [c.component.as_deref(), c.version.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut line = format!(
                    "{} {} {what}",
                    c.at.map(when).unwrap_or_default(),
                    words(&c.kind).to_lowercase()
                );
                if let Some(t) = &c.title {
                    line.push_str(&format!(" — {t}"));
                }
                format!("{} (by {})", line.trim(), c.recorded_by)
            })
            .collect(),
        recovery: raw.recovery.unwrap_or_default(),
        raw: pretty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evidence_reads_as_sentences_and_survives_gaps() {
        let v = view(&json!({
            "at": "2026-11-22T08:20:00Z",
            "crowd": {"verdict": "problems", "since": "2026-11-22T08:12:00Z",
                "observed": 1480.0, "expected": 104.2, "lower": 79.0, "upper": 133.0,
                "explanation": "Reports 14× the usual", "networks": 512,
                "breakdown": {"problems": [{"id": "login", "label": "Login", "share": 0.71}]},
                "hot_series": [{"label": "United Kingdom", "verdict": "problems"}]},
            "monitors": [{"monitor": "login-api", "component": "login", "state": "down",
                "probable_cause": "tls_certificate",
                "regions": {"eu-west": {"outcome": "down", "cause": "tls_certificate",
                    "reliable": true, "explanation": "certificate expired"}}}],
            "diagnosis": "TLS certificate expired, seen from 1 of 1 regions."
        }));
        let c = v.crowd.unwrap();
        assert_eq!(c.verdict, "Problems");
        assert!(c.figures.starts_with("1480 reports"), "{}", c.figures);
        assert_eq!(c.breakdowns[0].shares[0].percent, 71);
        assert_eq!(c.hot, ["United Kingdom: problems"]);
        assert_eq!(v.monitors[0].cause, "TLS certificate");
        assert!(v.monitors[0].down);
        assert_eq!(v.monitors[0].regions[0].region, "eu-west");
        assert!(v.diagnosis.contains("expired"));
        let empty = view(&json!({"something": "else"}));
        assert!(empty.crowd.is_none() && empty.monitors.is_empty());
        let odd = view(&json!({"monitors": "not a list"}));
        assert!(odd.raw.contains("not a list"));
    }

    #[test]
    fn changes_and_a_rollback_read_as_lines() {
        let v = view(&json!({
            "changes": [{"id": 3, "kind": "deploy", "component": "login", "version": "2.3.0",
                "title": "new TLS configuration", "at": "2026-11-22T08:09:00Z",
                "recorded_by": "ci"},
                {"kind": "feature_flag", "at": "2026-11-22T08:01:00Z", "recorded_by": "ops"}],
            "recovery": "login rolled back (2.2.9) at 09:20 UTC; the signals recovered 4 min later."
        }));
        assert_eq!(v.changes.len(), 2);
        assert!(
            v.changes[0].ends_with("deploy login 2.3.0 — new TLS configuration (by ci)"),
            "{:?}",
            v.changes
        );
        assert!(
            v.changes[1].ends_with("feature flag (by ops)"),
            "{:?}",
            v.changes
        );
        assert!(v.recovery.starts_with("login rolled back"));
    }
}
