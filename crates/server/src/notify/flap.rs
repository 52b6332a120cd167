//! Flap suppression. A monitor whose state keeps changing would page someone every minute;
//! instead, the `[notify] flap_changes`-th change within `flap_window` is announced once as
//! `monitor.flapping`, the changes after it are held, and when the monitor has kept one
//! state for `flap_settle`, one `monitor.settled` summary says where it ended and how many
//! changes were held. So one flapping episode sends at most `flap_changes + 1` messages.
//!
//! The state is in memory: after a restart the count starts again (the hysteresis state
//! itself is persisted, so a restart does not add changes of its own).

use super::Event;
use downbeat_config::{FlapSettings, MonitorConfig};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// What to do with one change.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Announce it as usual.
    Send,
    /// It made the monitor flapping: announce that instead.
    Flapping(Event),
    /// The monitor is flapping: keep quiet.
    Hold,
}

#[derive(Debug, Clone)]
struct Episode {
    started_ms: i64,
    /// Changes seen since it started (the one that started it included).
    changes: u32,
    held: u32,
    last_ms: i64,
    down: bool,
}

#[derive(Debug, Default)]
struct State {
    recent: VecDeque<i64>,
    episode: Option<Episode>,
}

/// Per monitor: its recent changes and its flapping episode, if any.
#[derive(Debug, Default)]
pub struct Flaps {
    monitors: Mutex<HashMap<String, State>>,
}

fn at(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

impl Flaps {
    /// Judges a change of monitor `m` to `down` (or up) at `at_ms`.
    pub fn transition(
        &self,
        cfg: &FlapSettings,
        m: &MonitorConfig,
        down: bool,
        at_ms: i64,
    ) -> Verdict {
        let mut all = self.monitors.lock().unwrap_or_else(|e| e.into_inner());
        let st = all.entry(m.id.to_string()).or_default();
        if let Some(ep) = &mut st.episode {
            ep.changes += 1;
            ep.held += 1;
            ep.last_ms = at_ms;
            ep.down = down;
            return Verdict::Hold;
        }
        st.recent.push_back(at_ms);
        while st
            .recent
            .front()
            .is_some_and(|t| *t <= at_ms - cfg.window.as_millis())
        {
            st.recent.pop_front();
        }
        if st.recent.len() < cfg.changes as usize {
            return Verdict::Send;
        }
        let changes = st.recent.len() as u32;
        st.recent.clear();
        st.episode = Some(Episode {
            started_ms: at_ms,
            changes,
            held: 1,
            last_ms: at_ms,
            down,
        });
        Verdict::Flapping(Event::flapping(
            m.service.as_str(),
            m.component.as_ref().map(|c| c.as_str()),
            m.id.as_str(),
            at_ms,
            json!({
                "monitor": m.id.as_str(),
                "state": if down { "down" } else { "up" },
                "changes": changes,
                "window": cfg.window.to_string(),
            }),
        ))
    }

    /// Ends the episodes of monitors that have kept one state for `cfg.settle` as of
    /// `now_ms`, returning their summaries.
    pub fn settle(
        &self,
        cfg: &FlapSettings,
        monitors: &[MonitorConfig],
        now_ms: i64,
    ) -> Vec<Event> {
        let mut all = self.monitors.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for m in monitors {
            let Some(st) = all.get_mut(m.id.as_str()) else {
                continue;
            };
            let Some(ep) = st
                .episode
                .take_if(|ep| ep.last_ms + cfg.settle.as_millis() <= now_ms)
            else {
                continue;
            };
            let state = if ep.down { "down" } else { "up" };
            out.push(Event::settled(
                m.service.as_str(),
                m.component.as_ref().map(|c| c.as_str()),
                m.id.as_str(),
                ep.last_ms,
                json!({
                    "monitor": m.id.as_str(),
                    "state": state,
                    "changes": ep.changes,
                    "held": ep.held,
                    "started": at(ep.started_ms),
                    "since": at(ep.last_ms),
                }),
            ));
        }
        out
    }

    /// Whether monitor `id` is in a flapping episode.
    pub fn is_flapping(&self, id: &str) -> bool {
        self.monitors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .is_some_and(|s| s.episode.is_some())
    }
}
