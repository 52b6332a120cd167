//! Which node probes which monitor: rendezvous hashing over the live nodes.
//!
//! Every node beats in the store every [`BEAT`] and reads back the live nodes with the
//! database's time ([`ClusterStore::beat`]). Monitor `m` belongs to the live node with the
//! highest score `hash(node, m)`: every node computes the same owner from the same set, a
//! node that dies or leaves gives up only its own monitors (spread over the others), and a
//! node that joins takes about `1/n` of them.
//!
//! - **Joining without a gap or a double round.** A new node counts only from
//!   [`JOIN_AFTER`] after its first beat (the database's clock, turned into this node's
//!   time with the offset the beat measured): by then every node has read its row, so all
//!   switch those monitors over at the same moment — the old owner probes the rounds
//!   before it, the new one the rounds after. Rounds fall on the same instants on every
//!   node (see `downbeat_probe::schedule`), so none is probed twice or skipped. The same
//!   holds for a node alone or a whole cluster starting together: nothing is probed for
//!   the first 3 s, then the first node to count probes everything until the next counts.
//! - **Dying.** A node not heard from for `NODE_TIMEOUT_MS` (4 s) is gone: its monitors
//!   are probed by the others from their next beat and round, within two intervals of a
//!   5 s monitor. A round in between may be lost; none is doubled.
//! - **Leaving.** A node that stops deletes its row; the others take over at their next beat.
//! - **Losing the database.** A node that cannot beat keeps its last view: while nobody can
//!   beat, nobody's view changes. A node whose own beats have failed for longer than the
//!   timeout assumes the others have given it up only once it can beat again; results it
//!   stores meanwhile are judged like anyone's, once.
//!
//! SQLite has one node: every monitor is this node's.

use downbeat_store::{ClusterStore, Members};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How often a node beats and reads the live set.
pub const BEAT: Duration = Duration::from_secs(1);
/// How long after its first beat a node starts to count (several beats of every node).
pub const JOIN_AFTER: Duration = Duration::from_secs(3);

/// This node's view of who probes what. Cheap to share.
pub struct Owners {
    me: Arc<str>,
    view: RwLock<Option<View>>,
}

/// The live nodes, and from when (this node's time) each counts.
#[derive(Debug, Clone)]
struct View {
    nodes: Vec<(Arc<str>, Instant)>,
}

impl Owners {
    /// The view of node `me`: before its first beat (and always on SQLite), every monitor
    /// is its own.
    pub fn new(me: Arc<str>) -> Self {
        Owners {
            me,
            view: RwLock::new(None),
        }
    }

    /// This node's name.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// Whether monitor `id` is this node's to probe now.
    pub fn mine(&self, id: &str) -> bool {
        let now = Instant::now();
        if self
            .view
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
        {
            return true;
        }
        self.owner_at(id, now)
            .is_some_and(|owner| *owner == *self.me)
    }

    /// The node that probes monitor `id` at `now`; `None` without a view (one node) — or
    /// when no node counts yet.
    pub fn owner_at(&self, id: &str, now: Instant) -> Option<Arc<str>> {
        let view = self.view.read().unwrap_or_else(|e| e.into_inner());
        let view = view.as_ref()?;
        view.nodes
            .iter()
            .filter(|(_, from)| *from <= now)
            .max_by_key(|(node, _)| (score(node, id), node.clone()))
            .map(|(node, _)| node.clone())
    }

    /// The live nodes as a beat saw them at `now` (this node's time).
    pub fn set(&self, members: &Members, now: Instant) {
        let join_ms = JOIN_AFTER.as_millis() as i64;
        let nodes = members
            .nodes
            .iter()
            .map(|m| {
                // When it counts, on the database's clock, as this node's instant.
                let in_ms = m.started_ms + join_ms - members.now_ms;
                let from = if in_ms <= 0 {
                    now.checked_sub(Duration::from_millis(in_ms.unsigned_abs()))
                        .unwrap_or(now)
                } else {
                    now + Duration::from_millis(in_ms as u64)
                };
                (Arc::<str>::from(m.id.as_str()), from)
            })
            .collect();
        *self.view.write().unwrap_or_else(|e| e.into_inner()) = Some(View { nodes });
    }

    /// How many nodes the view holds (1 without one).
    pub fn live(&self) -> usize {
        self.view
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(1, |v| v.nodes.len().max(1))
    }

    /// Beats once and takes the answer as the view; whether the store shares monitors
    /// among nodes (false: one node, everything is this node's).
    pub async fn beat(&self, store: &dyn ClusterStore) -> Result<bool, downbeat_store::StoreError> {
        let asked = Instant::now();
        let Some(members) = store.beat(&self.me).await? else {
            return Ok(false);
        };
        // The database answered somewhere between asking and now: its time is taken as
        // of halfway.
        let at = asked + (Instant::now() - asked) / 2;
        self.set(&members, at);
        Ok(true)
    }

    /// Beats every [`BEAT`] until `stopped`, then leaves. Returns at once on a store with
    /// one node.
    pub async fn run(
        self: Arc<Self>,
        store: Arc<dyn ClusterStore>,
        mut stopped: watch::Receiver<bool>,
    ) {
        let mut failing = false;
        loop {
            match self.beat(store.as_ref()).await {
                Ok(false) => return,
                Ok(true) => {
                    if failing {
                        tracing::info!("beating again; monitors are shared among the live nodes");
                        failing = false;
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "cannot beat; keeping the last view of the live nodes");
                        failing = true;
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(BEAT) => {}
                _ = stopped.changed() => break,
            }
            if *stopped.borrow() {
                break;
            }
        }
        if let Err(e) = store.leave(&self.me).await {
            tracing::warn!(error = %e, "could not say this node left; the others notice in seconds");
        }
    }
}

/// A node's score for a monitor: a stable 64-bit hash of both (FNV-1a, then a finaliser),
/// the same in every build and on every machine.
fn score(node: &str, monitor: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in node.bytes().chain([0xff]).chain(monitor.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // splitmix64's finaliser: FNV's low bits alone are poorly mixed.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use downbeat_store::Member;

    fn members(now_ms: i64, nodes: &[(&str, i64)]) -> Members {
        Members {
            now_ms,
            nodes: nodes
                .iter()
                .map(|(id, started_ms)| Member {
                    id: (*id).into(),
                    started_ms: *started_ms,
                })
                .collect(),
        }
    }

    fn share(owners: &[&Owners], ids: &[String], at: Instant) -> Vec<usize> {
        owners
            .iter()
            .map(|o| {
                ids.iter()
                    .filter(|id| o.owner_at(id, at).as_deref() == Some(o.me()))
                    .count()
            })
            .collect()
    }

    #[test]
    fn without_a_view_every_monitor_is_mine() {
        let o = Owners::new("a".into());
        assert!(o.mine("api"));
        assert_eq!(o.live(), 1);
    }

    #[test]
    fn every_node_picks_the_same_owner_and_the_load_spreads() {
        let now = Instant::now();
        let m = members(100_000, &[("a", 0), ("b", 0), ("c", 0)]);
        let (a, b, c) = (
            Owners::new("a".into()),
            Owners::new("b".into()),
            Owners::new("c".into()),
        );
        for o in [&a, &b, &c] {
            o.set(&m, now);
        }
        let ids: Vec<String> = (0..3000).map(|i| format!("monitor-{i}")).collect();
        for id in &ids {
            let owner = a.owner_at(id, now);
            assert_eq!(owner, b.owner_at(id, now));
            assert_eq!(owner, c.owner_at(id, now));
        }
        let counts = share(&[&a, &b, &c], &ids, now);
        assert_eq!(
            counts.iter().sum::<usize>(),
            3000,
            "each monitor exactly once"
        );
        assert!(counts.iter().all(|n| (800..1200).contains(n)), "{counts:?}");
    }

    #[test]
    fn a_node_that_goes_gives_up_only_its_own_monitors() {
        let now = Instant::now();
        let a = Owners::new("a".into());
        a.set(&members(100_000, &[("a", 0), ("b", 0), ("c", 0)]), now);
        let ids: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
        let before: Vec<_> = ids.iter().map(|id| a.owner_at(id, now)).collect();
        a.set(&members(101_000, &[("a", 0), ("b", 0)]), now);
        for (id, was) in ids.iter().zip(before) {
            let is = a.owner_at(id, now);
            if was.as_deref() != Some("c") {
                assert_eq!(is, was, "{id} moved although its node stayed");
            } else {
                assert_ne!(is.as_deref(), Some("c"));
            }
        }
    }

    #[test]
    fn a_newcomer_counts_from_the_same_moment_on_every_node() {
        let now = Instant::now();
        // b started 1 s ago on the database's clock: it counts in 2 s.
        let m = members(50_000, &[("a", 0), ("b", 49_000)]);
        let (a, b) = (Owners::new("a".into()), Owners::new("b".into()));
        a.set(&m, now);
        b.set(&m, now);
        let ids: Vec<String> = (0..500).map(|i| format!("m{i}")).collect();
        let before = now + Duration::from_millis(1_990);
        let after = now + Duration::from_millis(2_010);
        assert_eq!(
            share(&[&a, &b], &ids, before),
            vec![500, 0],
            "b does not count yet"
        );
        let split = share(&[&a, &b], &ids, after);
        assert_eq!(split.iter().sum::<usize>(), 500);
        assert!(split[1] > 150, "b took its share: {split:?}");
    }

    #[test]
    fn a_cluster_starting_together_waits_then_agrees() {
        let now = Instant::now();
        // a started 1 s ago and b half a second ago: a counts in 2 s, b in 2.5 s. One node
        // (here b) may not have seen the other yet: it must not probe meanwhile either.
        let both = members(1_000, &[("a", 0), ("b", 500)]);
        let (a, b) = (Owners::new("a".into()), Owners::new("b".into()));
        a.set(&both, now);
        b.set(&members(1_000, &[("b", 500)]), now);
        let ids: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
        assert_eq!(share(&[&a, &b], &ids, now), vec![0, 0], "nobody counts yet");
        b.set(&both, now);
        let between = now + Duration::from_millis(2_200);
        assert_eq!(
            share(&[&a, &b], &ids, between),
            vec![200, 0],
            "a alone counts"
        );
        let split = share(&[&a, &b], &ids, now + Duration::from_millis(2_600));
        assert_eq!(split.iter().sum::<usize>(), 200, "{split:?}");
        assert!(split.iter().all(|n| *n > 50), "{split:?}");
    }

    #[test]
    fn scores_are_stable() {
        // A rolling upgrade mixes builds: the score must not depend on the build.
        assert_eq!(score("a", "api"), score("a", "api"));
        assert_ne!(score("a", "api"), score("b", "api"));
        assert_ne!(score("ab", "c"), score("a", "bc"));
    }
}
