//! Answers served from memory: when everybody asks at once, most requests get bytes rendered
//! moments ago instead of a trip to the store.
//!
//! Every service has a generation that moves whenever a commit adds counted reports to it.
//! A cached answer is reused while its service's generation is unchanged and it is younger
//! than the cache's freshness limit (time-relative answers — "the last 24 hours" — drift as
//! the clock moves, so even an unchanged generation expires them). Generations move on
//! changes made through other nodes too (the server follows the store's change feed).
//!
//! While the store cannot be reached, an expired answer is still the last known state:
//! [`ResponseCache::last`] gives it, whatever its age, to serve instead of a 503.

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::RwLock;

struct Entry {
    generation: u64,
    at_ms: i64,
    body: Bytes,
}

/// Rendered answers keyed by (service, request); bounded by count and by bytes (keys and
/// bodies), so large answers cannot pile up to gigabytes.
pub struct ResponseCache {
    max_age_ms: i64,
    max_entries: usize,
    max_bytes: usize,
    entries: RwLock<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<(String, String), Entry>,
    bytes: usize,
}

fn weight(service: &str, key: &str, body: &Bytes) -> usize {
    service.len() + key.len() + body.len()
}

impl ResponseCache {
    pub fn new(max_age_ms: i64, max_entries: usize, max_bytes: usize) -> Self {
        ResponseCache {
            max_age_ms,
            max_entries,
            max_bytes,
            entries: RwLock::new(Entries::default()),
        }
    }

    /// The cached body for `key` if still valid at `now_ms` for `generation`.
    pub fn get(&self, service: &str, key: &str, generation: u64, now_ms: i64) -> Option<Bytes> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        // The tuple key needs owned strings; look up by scanning the few entries of this
        // service instead would cost more than this allocation on a hit path this rare.
        let e = entries.map.get(&(service.to_owned(), key.to_owned()))?;
        let fresh =
            e.generation == generation && now_ms - e.at_ms < self.max_age_ms && now_ms >= e.at_ms;
        fresh.then(|| e.body.clone())
    }

    /// The last answer cached for `key`, however old, and when it was made: what a read
    /// serves while the store is unavailable.
    pub fn last(&self, service: &str, key: &str) -> Option<(Bytes, i64)> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let e = entries.map.get(&(service.to_owned(), key.to_owned()))?;
        Some((e.body.clone(), e.at_ms))
    }

    pub fn put(&self, service: &str, key: &str, generation: u64, now_ms: i64, body: Bytes) {
        let w = weight(service, key, &body);
        if w > self.max_bytes / 4 {
            // One answer this large would crowd out the rest: it is served, not kept.
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.map.len() >= self.max_entries || entries.bytes + w > self.max_bytes {
            // Arbitrary query strings must not grow memory without bound.
            entries.map.clear();
            entries.bytes = 0;
        }
        let old = entries.map.insert(
            (service.to_owned(), key.to_owned()),
            Entry {
                generation,
                at_ms: now_ms,
                body,
            },
        );
        entries.bytes += w;
        if let Some(old) = old {
            entries.bytes -= weight(service, key, &old.body);
        }
    }

    /// Bytes held (keys and bodies).
    pub fn bytes(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_by_generation_and_age() {
        let c = ResponseCache::new(1_000, 10, 1 << 20);
        c.put("m", "q", 1, 0, Bytes::from_static(b"x"));
        assert_eq!(c.get("m", "q", 1, 999).as_deref(), Some(&b"x"[..]));
        assert!(
            c.get("m", "q", 2, 10).is_none(),
            "a new generation invalidates"
        );
        assert!(c.get("m", "q", 1, 1_000).is_none(), "too old");
        assert!(c.get("m", "other", 1, 10).is_none());
        assert!(c.get("n", "q", 1, 10).is_none());
        assert_eq!(
            c.last("m", "q"),
            Some((Bytes::from_static(b"x"), 0)),
            "the last answer stays for when the store is down"
        );
        assert_eq!(c.last("m", "other"), None);
    }

    #[test]
    fn stays_bounded() {
        let c = ResponseCache::new(1_000, 3, 1 << 20);
        for i in 0..10 {
            c.put("m", &i.to_string(), 0, 0, Bytes::new());
        }
        assert!(c.entries.read().unwrap().map.len() <= 3);
    }

    #[test]
    fn stays_bounded_by_bytes() {
        let max = 8 << 20;
        let c = ResponseCache::new(1_000, 1024, max);
        for i in 0..200 {
            c.put("m", &i.to_string(), 0, 0, Bytes::from(vec![b'x'; 1 << 20]));
            assert!(c.bytes() <= max, "{} bytes after {i} answers", c.bytes());
        }
        assert!(
            c.get("m", "199", 0, 0).is_some(),
            "the latest answer is kept"
        );
        // One answer larger than a quarter of the budget is not kept at all.
        c.put("m", "huge", 0, 0, Bytes::from(vec![b'x'; max / 2]));
        assert!(c.get("m", "huge", 0, 0).is_none());
        // Replacing an answer does not count it twice.
        let c = ResponseCache::new(1_000, 1024, max);
        for _ in 0..50 {
            c.put("m", "same", 0, 0, Bytes::from(vec![b'x'; 1000]));
        }
        assert_eq!(c.bytes(), "m".len() + "same".len() + 1000);
    }
}
