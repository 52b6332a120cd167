//! The narration: what the demo prints as the story unfolds. Everything it tells about
//! Downbeat comes from Downbeat's public API (and, for drafts, the API with an operator's
//! token), read as a client would; only Melodia's faults are told by the demo itself.

use downbeat_domain::Clock;
use jiff::Timestamp;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Prints timestamped lines (on the demo's clock) to stdout, or collects them (tests).
#[derive(Clone)]
pub struct Narrator {
    clock: Arc<dyn Clock>,
    onset: Timestamp,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Narrator {
    pub fn new(clock: Arc<dyn Clock>, onset: Timestamp) -> Self {
        Narrator {
            clock,
            onset,
            lines: Arc::default(),
        }
    }

    /// Prints `text` under `tag` at the demo's current time.
    pub fn say(&self, tag: &str, text: &str) {
        let now = self.clock.now();
        let line = format!("[{}] {tag:<9} {text}", hhmm(now));
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }

    /// Prints a line without a time.
    pub fn plain(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// "3 min after the onset", for the current time.
    pub fn since_onset(&self) -> String {
        let ms = self.clock.now().as_millisecond() - self.onset.as_millisecond();
        if ms < 0 {
            "before the onset".into()
        } else {
            format!("{} after the onset", duration(ms / 1000))
        }
    }
}

/// "08:12" (UTC).
pub fn hhmm(t: Timestamp) -> String {
    t.strftime("%H:%M").to_string()
}

pub use downbeat_domain::duration::words as duration;

/// What the narrator last saw, to tell only changes.
#[derive(Default)]
pub struct Seen {
    verdict: Option<String>,
    monitors: BTreeMap<String, String>,
    /// Whether the diagnosis named a failure last time.
    diagnosis_failing: Option<bool>,
    /// Per incident: draft flag, status, number of updates.
    incidents: BTreeMap<i64, (bool, String, usize)>,
    /// Incidents whose probable change was told.
    causes_told: std::collections::BTreeSet<i64>,
}

impl Seen {
    /// Tells what changed in the crowd status (`/status`).
    pub fn crowd(&mut self, n: &Narrator, status: &Value) {
        let Some(verdict) = status["verdict"].as_str() else {
            return;
        };
        if self.verdict.as_deref() == Some(verdict) {
            return;
        }
        if status["as_of"].is_null() {
            return; // no minute judged yet
        }
        let first = self.verdict.is_none();
        self.verdict = Some(verdict.to_owned());
        let words = verdict.replace('_', " ");
        let observed = status["observed"].as_f64().unwrap_or(0.0);
        let expected = status["expected"].as_f64().unwrap_or(0.0);
        if first && verdict == "no_problems" {
            n.say(
                "CROWD",
                &format!(
                    "no problems: about {expected:.0} reports a minute are usual at this hour"
                ),
            );
            return;
        }
        let top = |key: &str| -> Vec<String> {
            status["breakdown"][key]
                .as_array()
                .into_iter()
                .flatten()
                .take(2)
                .filter_map(|s| {
                    Some(format!(
                        "{} {:.0}%",
                        s["id"].as_str()?,
                        s["share"].as_f64().unwrap_or(0.0) * 100.0
                    ))
                })
                .collect()
        };
        let mut hot = top("problems");
        hot.extend(top("countries"));
        let screens = &status["breakdown"]["messages"][0];
        if let Some(text) = screens["text"].as_str() {
            hot.push(format!(
                "{:.0}% see “{text}”",
                screens["share"].as_f64().unwrap_or(0.0) * 100.0
            ));
        }
        for source in status["signals"].as_array().into_iter().flatten() {
            if source["verdict"]
                .as_str()
                .is_some_and(|v| v != "no_problems")
            {
                let ratio = source["ratio"]
                    .as_f64()
                    .map(|r| format!(", {r:.0}× usual"))
                    .unwrap_or_default();
                hot.push(format!(
                    "posts on {}: {} in the last hour{ratio}",
                    source["name"].as_str().unwrap_or("?"),
                    source["last_hour"].as_u64().unwrap_or(0)
                ));
            }
        }
        let mix = if hot.is_empty() {
            String::new()
        } else {
            format!(" ({})", hot.join(", "))
        };
        n.say(
            "CROWD",
            &format!(
                "verdict {words}: {observed:.0} reports a minute against {expected:.0} expected{mix} — {}",
                n.since_onset()
            ),
        );
    }

    /// Tells monitors going down or up, then the operators' diagnosis after each change.
    pub fn monitors(&mut self, n: &Narrator, body: &Value) {
        let mut changed = false;
        for m in body["monitors"].as_array().into_iter().flatten() {
            let (Some(id), Some(state)) = (m["id"].as_str(), m["state"].as_str()) else {
                continue;
            };
            if state == "unknown" {
                continue;
            }
            let before = self.monitors.insert(id.to_owned(), state.to_owned());
            if before.as_deref() == Some(state) || (before.is_none() && state == "up") {
                continue;
            }
            changed = true;
            match state {
                "down" => n.say(
                    "PROBES",
                    &format!(
                        "monitor {id} is down by quorum ({}) — {}",
                        m["probable_cause"].as_str().unwrap_or("cause unknown"),
                        n.since_onset()
                    ),
                ),
                _ => n.say("PROBES", &format!("monitor {id} is {state} again")),
            }
        }
        // Also when some region fails without a quorum (a regional problem): the diagnosis
        // names it even though no monitor is down.
        if let Some(d) = body["diagnosis"].as_str() {
            let failing = !(d.contains(" pass from ") || d.starts_with("No "));
            if changed || self.diagnosis_failing.is_some_and(|f| f != failing) {
                n.say("CAUSE", d);
            }
            self.diagnosis_failing = Some(failing);
        }
    }

    /// Tells the change most likely behind incident `id`, once, when its evidence names one.
    fn probable_cause(&mut self, n: &Narrator, id: i64, i: &Value) {
        if let Some(cause) = i["evidence"]["probable_change"]["sentence"].as_str()
            && self.causes_told.insert(id)
        {
            n.say("CAUSE", &format!("#{id} probable cause: {cause}"));
        }
    }

    /// Tells drafts, publication, updates and resolution; returns the ids resolved just now.
    pub fn incidents(&mut self, n: &Narrator, list: &Value) -> Vec<i64> {
        let mut resolved = Vec::new();
        let mut all: Vec<&Value> = list["incidents"].as_array().into_iter().flatten().collect();
        all.sort_by_key(|i| i["id"].as_i64());
        for i in all {
            let Some(id) = i["id"].as_i64() else {
                continue;
            };
            let draft = i["draft"].as_bool().unwrap_or(false);
            let status = i["status"].as_str().unwrap_or("").to_owned();
            let updates = i["updates"].as_array().map_or(0, Vec::len);
            let title = i["title"].as_str().unwrap_or("");
            let before = self.incidents.insert(id, (draft, status.clone(), updates));
            match before {
                None if status == "resolved" => {}
                None => {
                    let how = if draft {
                        "drafted from the signals (not public until an operator publishes it)"
                    } else {
                        "opened"
                    };
                    n.say(
                        "INCIDENT",
                        &format!("#{id} {how}: \"{title}\" — {}", n.since_onset()),
                    );
                    // The operators' view: the change most likely behind it.
                    self.probable_cause(n, id, i);
                    if let Some(d) = i["time_to_detect_s"].as_i64() {
                        n.say(
                            "INCIDENT",
                            &format!(
                                "#{id} time to detect: {} (from the onset of the crowd's reports and the first failed probe to the first alarm)",
                                duration(d)
                            ),
                        );
                    }
                }
                Some((was_draft, was_status, was_updates)) => {
                    // A draft's evidence may name its probable change later, as more
                    // parts fail.
                    self.probable_cause(n, id, i);
                    if was_draft && !draft {
                        let tta = i["time_to_acknowledge_s"]
                            .as_i64()
                            .map(|s| format!(", {} after detection", duration(s)))
                            .unwrap_or_default();
                        n.say(
                            "ACK",
                            &format!("the operator publishes #{id} on the status page{tta}"),
                        );
                    }
                    if updates > was_updates
                        && let Some(u) = i["updates"].as_array().and_then(|u| u.last())
                    {
                        n.say(
                            "UPDATE",
                            &format!(
                                "#{id} {}: {}",
                                u["status"].as_str().unwrap_or(&status),
                                u["message"].as_str().unwrap_or("")
                            ),
                        );
                    }
                    if status == "resolved" && was_status != "resolved" {
                        let t = |k: &str| {
                            i[k].as_i64()
                                .map(duration)
                                .unwrap_or_else(|| "unknown".into())
                        };
                        n.say(
                            "RESOLVED",
                            &format!(
                                "#{id} resolved — time to detect {}, to acknowledge {}, to resolve {}",
                                t("time_to_detect_s"),
                                t("time_to_acknowledge_s"),
                                t("time_to_resolve_s")
                            ),
                        );
                        resolved.push(id);
                    }
                }
            }
        }
        resolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_are_told() {
        let clock = Arc::new(downbeat_domain::ManualClock::new(
            Timestamp::from_second(1_800_000_000).unwrap(),
        ));
        let n = Narrator::new(clock, Timestamp::from_second(1_799_999_880).unwrap());
        let mut seen = Seen::default();
        let status = |v: &str| serde_json::json!({"verdict": v, "observed": 40.0, "expected": 5.0, "as_of": "2027-01-15T08:00:00Z"});
        seen.crowd(&n, &status("no_problems"));
        seen.crowd(&n, &status("no_problems"));
        seen.crowd(&n, &status("problems"));
        let list = |draft: bool, status: &str, updates: usize| {
            serde_json::json!({"incidents": [{
                "id": 1, "draft": draft, "status": status, "title": "Melodia <down>",
                "time_to_detect_s": 120, "time_to_acknowledge_s": 900, "time_to_resolve_s": 9000,
                "updates": (0..updates).map(|_| serde_json::json!({"status": status, "message": "m"})).collect::<Vec<_>>(),
            }]})
        };
        assert!(
            seen.incidents(&n, &list(true, "investigating", 1))
                .is_empty()
        );
        assert!(
            seen.incidents(&n, &list(false, "investigating", 2))
                .is_empty()
        );
        assert_eq!(seen.incidents(&n, &list(false, "resolved", 3)), vec![1]);
        assert!(seen.incidents(&n, &list(false, "resolved", 3)).is_empty());
        let lines = n.lines.lock().unwrap().clone();
        let tags: Vec<&str> = lines
            .iter()
            .map(|l| l[8..].split_whitespace().next().unwrap())
            .collect();
        assert_eq!(
            tags,
            [
                "CROWD", "CROWD", "INCIDENT", "INCIDENT", "ACK", "UPDATE", "UPDATE", "RESOLVED"
            ],
            "{lines:#?}"
        );
        assert!(lines[1].contains("2 min after the onset"), "{}", lines[1]);
        assert!(lines[7].contains("to detect 2 min"), "{}", lines[7]);
    }
}
