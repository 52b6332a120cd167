//! Per-service change counters: a generation moves whenever a commit adds counted reports
//! to a service — through this node, or through another (heard from the store's change
//! feed) — so answers cached in memory know when they are stale.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Notify;

/// Per-service change counters.
#[derive(Default)]
pub struct Generations {
    by_service: HashMap<String, AtomicU64>,
    /// Rung when a change made through another node arrives, so the pages reload now
    /// instead of at their next tick.
    elsewhere: Notify,
}

impl Generations {
    pub fn new<'a>(services: impl Iterator<Item = &'a str>) -> Self {
        Generations {
            by_service: services
                .map(|s| (s.to_owned(), AtomicU64::new(0)))
                .collect(),
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

    pub fn bump(&self, service: &str) {
        if let Some(g) = self.by_service.get(service) {
            g.fetch_add(1, Ordering::Release);
        }
    }

    pub fn get(&self, service: &str) -> u64 {
        self.by_service
            .get(service)
            .map_or(0, |g| g.load(Ordering::Acquire))
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
