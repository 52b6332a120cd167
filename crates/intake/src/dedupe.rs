//! One client counts once per service within the dedupe window: this node's memory of it.
//! A mark here answers a repeat to this node at once; a report this map lets through is
//! only a candidate, which the store counts or not with its commit, across every node
//! ([`downbeat_store::ReportStore::insert_reports_once`]).
//!
//! A sharded map from client hash (already specific to the service) to the time that client
//! last counted. Expired entries are swept as a shard grows, so memory stays proportional to
//! the clients of one window and no background task is needed.

use downbeat_store::Hash16;
use std::collections::HashMap;
use std::sync::Mutex;

const SHARDS: usize = 16;

struct Shard {
    last: HashMap<Hash16, i64>,
    sweep_at: usize,
}

pub struct Dedupe {
    window_ms: i64,
    shards: Vec<Mutex<Shard>>,
}

/// Whether a report counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Counted,
    Duplicate,
}

impl Dedupe {
    pub fn new(window_ms: i64) -> Self {
        Dedupe {
            window_ms,
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        last: HashMap::new(),
                        sweep_at: 1024,
                    })
                })
                .collect(),
        }
    }

    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }

    fn shard(&self, key: &Hash16) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[key[0] as usize % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Decides whether a report from `key` at `now_ms` counts, and if so remembers it.
    /// `also` is the same client under another key (yesterday's salt near midnight).
    pub fn check_and_mark(&self, key: Hash16, also: Option<Hash16>, now_ms: i64) -> Mark {
        if self.window_ms <= 0 {
            return Mark::Counted;
        }
        let recent = |t: Option<&i64>| t.is_some_and(|&t| now_ms - t < self.window_ms);
        if let Some(other) = also
            && recent(self.shard(&other).last.get(&other))
        {
            return Mark::Duplicate;
        }
        let mut shard = self.shard(&key);
        if recent(shard.last.get(&key)) {
            return Mark::Duplicate;
        }
        shard.last.insert(key, now_ms);
        if shard.last.len() >= shard.sweep_at {
            let window = self.window_ms;
            shard.last.retain(|_, t| now_ms - *t < window);
            shard.sweep_at = (shard.last.len() * 2).max(1024);
        }
        Mark::Counted
    }

    /// Undoes a mark whose report could not be stored, so the client's retry counts.
    pub fn forget(&self, key: Hash16, marked_at_ms: i64) {
        let mut shard = self.shard(&key);
        if shard.last.get(&key) == Some(&marked_at_ms) {
            shard.last.remove(&key);
        }
    }

    /// Loads the window's counted clients after a restart.
    pub fn restore(&self, entries: impl Iterator<Item = (Hash16, i64)>) {
        for (key, at) in entries {
            let mut shard = self.shard(&key);
            let e = shard.last.entry(key).or_insert(at);
            *e = (*e).max(at);
        }
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).last.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: i64 = 15 * 60_000;

    #[test]
    fn counts_once_per_window() {
        let d = Dedupe::new(W);
        assert_eq!(d.check_and_mark([1; 16], None, 0), Mark::Counted);
        assert_eq!(d.check_and_mark([1; 16], None, W - 1), Mark::Duplicate);
        assert_eq!(d.check_and_mark([2; 16], None, 10), Mark::Counted);
        // the window runs from the counted report, not from the latest duplicate
        assert_eq!(d.check_and_mark([1; 16], None, W), Mark::Counted);
    }

    #[test]
    fn yesterdays_key_spans_midnight() {
        let d = Dedupe::new(W);
        assert_eq!(d.check_and_mark([1; 16], None, 0), Mark::Counted);
        assert_eq!(
            d.check_and_mark([9; 16], Some([1; 16]), 60_000),
            Mark::Duplicate
        );
    }

    #[test]
    fn forget_undoes_a_failed_report_and_restore_reloads() {
        let d = Dedupe::new(W);
        d.check_and_mark([1; 16], None, 5);
        d.forget([1; 16], 5);
        assert_eq!(d.check_and_mark([1; 16], None, 6), Mark::Counted);
        let e = Dedupe::new(W);
        e.restore([([3; 16], 100)].into_iter());
        assert_eq!(e.check_and_mark([3; 16], None, 200), Mark::Duplicate);
    }

    #[test]
    fn memory_stays_bounded_by_the_window() {
        let d = Dedupe::new(W);
        for i in 0..100_000u32 {
            let mut k = [0u8; 16];
            k[..4].copy_from_slice(&i.to_le_bytes());
            d.check_and_mark(k, None, i as i64 * 1_000);
        }
        // 1,000 s per 1,000 clients... only ~W/1000 = 900 can be inside the window, plus
        // what has not been swept yet (at most twice the live set per shard, min 1024).
        assert!(d.len() < 20_000, "{}", d.len());
    }
}
