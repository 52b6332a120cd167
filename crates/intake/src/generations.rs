//! Per-service change counters: a generation moves whenever a commit adds counted reports
//! to a service — through this node, or through another (heard from the store's change
//! feed) — so answers cached in memory know when they are stale.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Notify;

/// Per-service change counters.
#[derive(Default)]
pub struct Generations {
    /// Grows when services are added at runtime; a removed one keeps its counter.
    by_service: RwLock<HashMap<String, AtomicU64>>,
    /// Rung when a change made through another node arrives, so the pages reload now
    /// instead of at their next tick.
    elsewhere: Notify,
}

impl Generations {
    pub fn new<'a>(services: impl Iterator<Item = &'a str>) -> Self {
        Generations {
            by_service: RwLock::new(
                services
                    .map(|s| (s.to_owned(), AtomicU64::new(0)))
                    .collect(),
            ),
            elsewhere: Notify::new(),
        }
    }

    /// Says that something changed through another node (reports, incidents; a reconnected
    /// feed): wakes whoever waits in [`Generations::changed_elsewhere`].
    pub fn ring_elsewhere(&self) {
        self.elsewhere.notify_one();
    }

    /// Waits until [`Generations::ring_elsewhere`] (a ring while nobody waited is kept for
    /// the next wait).
    pub async fn changed_elsewhere(&self) {
        self.elsewhere.notified().await;
    }

    /// Adds counters for services it does not know yet (added at runtime).
    pub fn ensure<'a>(&self, services: impl Iterator<Item = &'a str>) {
        let mut map = self.by_service.write().unwrap_or_else(|e| e.into_inner());
        for s in services {
            map.entry(s.to_owned()).or_insert_with(|| AtomicU64::new(0));
        }
    }

    pub fn bump(&self, service: &str) {
        let map = self.by_service.read().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = map.get(service) {
            g.fetch_add(1, Ordering::Release);
        }
    }

    pub fn get(&self, service: &str) -> u64 {
        let map = self.by_service.read().unwrap_or_else(|e| e.into_inner());
        map.get(service).map_or(0, |g| g.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_move_per_service() {
        let g = Generations::new(["a", "b"].into_iter());
        g.bump("a");
        g.bump("nobody");
        assert_eq!((g.get("a"), g.get("b"), g.get("nobody")), (1, 0, 0));
    }
}
