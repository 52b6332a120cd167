//! Flap suppression. A monitor whose state keeps changing would page someone every minute;
//! instead, the `[notify] flap_changes`-th change within `flap_window` is announced once as
//! `monitor.flapping`, the changes after it are held, and when the monitor has kept one
//! state for `flap_settle`, one `monitor.settled` summary says where it ended and how many
//! changes were held. So one flapping episode sends at most `flap_changes + 1` messages.
//!
//! The state (recent changes, the episode being held) is saved in the store at every
//! change and loaded before the first one after a start, so a restart neither repeats a
//! flapping notice nor forgets the summary it owes. On several nodes it is read again
//! before each change is judged, since the node that judged the last one may be another.

use downbeat_config::{FlapSettings, MonitorConfig};
use downbeat_domain::event::{CheckState, Event, MonitorFlapping, MonitorSettled, Notice};
use downbeat_store::{NotifyStore, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use tokio::sync::OnceCell;

/// What to do with one change.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Announce it as usual.
    Send,
    /// It made the monitor flapping: announce that instead.
    Flapping(Notice),
    /// The monitor is flapping: keep quiet.
    Hold,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Episode {
    started_ms: i64,
    /// Changes seen since it started (the one that started it included).
    changes: u32,
    held: u32,
    last_ms: i64,
    down: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    recent: VecDeque<i64>,
    episode: Option<Episode>,
}

impl State {
    /// As saved: none when there is nothing to remember.
    fn saved(&self) -> Option<String> {
        (!self.recent.is_empty() || self.episode.is_some())
            .then(|| serde_json::to_string(self).unwrap_or_default())
    }
}

/// Per monitor: its recent changes and its flapping episode, if any.
#[derive(Debug, Default)]
pub struct Flaps {
    monitors: Mutex<HashMap<String, State>>,
    loaded: OnceCell<()>,
}

fn at(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or_default()
}

impl Flaps {
    /// Loads the saved states, once per start (later calls return at once).
    pub async fn load(&self, store: &dyn NotifyStore) -> Result<(), StoreError> {
        self.loaded
            .get_or_try_init(|| async {
                let rows = store.flap_states().await?;
                let mut all = self.monitors.lock().unwrap_or_else(|e| e.into_inner());
                for (monitor, json) in rows {
                    match serde_json::from_str::<State>(&json) {
                        Ok(st) => {
                            all.entry(monitor).or_insert(st);
                        }
                        Err(e) => tracing::warn!(%monitor, error = %e,
                            "unreadable flap state; starting that monitor afresh"),
                    }
                }
                Ok::<(), StoreError>(())
            })
            .await
            .map(|_| ())
    }

    /// Reads every monitor's saved state again, replacing what this node remembers: on
    /// several nodes, another may have judged a monitor's last change.
    pub async fn reload(&self, store: &dyn NotifyStore) -> Result<(), StoreError> {
        let rows = store.flap_states().await?;
        let mut fresh = HashMap::new();
        for (monitor, json) in rows {
            match serde_json::from_str::<State>(&json) {
                Ok(st) => {
                    fresh.insert(monitor, st);
                }
                Err(e) => tracing::warn!(%monitor, error = %e,
                    "unreadable flap state; starting that monitor afresh"),
            }
        }
        *self.monitors.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    /// Judges a change of monitor `m` to `down` (or up) at `at_ms`, and saves the monitor's
    /// new state. (Call [`Flaps::load`] first.)
    pub async fn transition(
        &self,
        store: &dyn NotifyStore,
        cfg: &FlapSettings,
        m: &MonitorConfig,
        down: bool,
        at_ms: i64,
    ) -> Verdict {
        let (verdict, saved) = self.judge(cfg, m, down, at_ms);
        if let Err(e) = store.save_flap_state(m.id.as_str(), saved, at_ms).await {
            tracing::warn!(monitor = %m.id, error = %e, "could not save the flap state");
        }
        verdict
    }

    fn judge(
        &self,
        cfg: &FlapSettings,
        m: &MonitorConfig,
        down: bool,
        at_ms: i64,
    ) -> (Verdict, Option<String>) {
        let mut all = self.monitors.lock().unwrap_or_else(|e| e.into_inner());
        let st = all.entry(m.id.to_string()).or_default();
        if let Some(ep) = &mut st.episode {
            ep.changes += 1;
            ep.held += 1;
            ep.last_ms = at_ms;
            ep.down = down;
            return (Verdict::Hold, st.saved());
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
            return (Verdict::Send, st.saved());
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
        let flapping = Event::MonitorFlapping(MonitorFlapping {
            monitor: m.id.to_string(),
            state: CheckState::of(down),
            changes,
            window: cfg.window,
        });
        let notice = Notice::new(m.service.as_str(), at_ms, flapping)
            .about(m.component.as_ref().map(|c| c.as_str()));
        (Verdict::Flapping(notice), st.saved())
    }

    /// Ends the episodes of monitors that have kept one state for `cfg.settle` as of
    /// `now_ms`, returning each monitor's id, its summary and its state to save.
    pub fn settle(
        &self,
        cfg: &FlapSettings,
        monitors: &[MonitorConfig],
        now_ms: i64,
    ) -> Vec<(String, Notice, Option<String>)> {
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
            let settled = Event::MonitorSettled(MonitorSettled {
                monitor: m.id.to_string(),
                state: CheckState::of(ep.down),
                changes: ep.changes,
                held: ep.held,
                started: at(ep.started_ms),
                since: at(ep.last_ms),
            });
            let notice = Notice::new(m.service.as_str(), ep.last_ms, settled)
                .about(m.component.as_ref().map(|c| c.as_str()));
            out.push((m.id.to_string(), notice, st.saved()));
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
