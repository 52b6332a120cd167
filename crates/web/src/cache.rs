//! Rendered pages in memory, keyed by page and (for the service page) visitor variant.
//!
//! Each entry remembers the data epoch it was rendered from. The refresher bumps a service's
//! epoch when it rebuilds that service's model, then re-renders the entries visitors used
//! since the last round. A request never waits for the store: it gets the entry as it is,
//! and if that entry is from an older epoch (the refresher has not reached it yet) it also
//! starts one background re-render — single-flight, through the entry's `refreshing` flag.

use crate::encoded::Encoded;
use downbeat_api::statuspage::Endpoint;
use downbeat_domain::CountryCode;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// A public page. Services are named by their position in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Page {
    Index,
    Service(usize),
    /// The service page with the thank-you line of a comment just taken
    /// (`/s/{service}?comment=sent`, where posting a comment leads).
    CommentSent(usize),
    Incidents(usize),
    /// One published incident or maintenance window: (service, id).
    Incident(usize, i64),
    ServiceFeed(usize),
    Feed,
    Badge(usize),
    /// A Statuspage API document: of a service, or site-wide (None).
    Statuspage(Option<usize>, Endpoint),
}

impl Page {
    /// The service whose data the page shows, or None for pages over all services.
    pub fn service(self) -> Option<usize> {
        match self {
            Page::Service(i)
            | Page::CommentSent(i)
            | Page::Incidents(i)
            | Page::Incident(i, _)
            | Page::ServiceFeed(i)
            | Page::Badge(i) => Some(i),
            Page::Statuspage(service, _) => service,
            Page::Index | Page::Feed => None,
        }
    }
}

/// A cache key: the page, plus the visitor's country for the service page when that
/// country's crowd verdict differs from the overall one (a handful of variants at most).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub page: Page,
    pub country: Option<CountryCode>,
}

impl Key {
    pub fn plain(page: Page) -> Key {
        Key {
            page,
            country: None,
        }
    }
}

/// A rendered page.
#[derive(Debug)]
pub struct Entry {
    pub epoch: u64,
    pub body: Encoded,
    /// Served since the last refresh round: worth re-rendering eagerly.
    used: AtomicBool,
    /// A background re-render is on its way.
    refreshing: AtomicBool,
}

impl Entry {
    pub fn new(epoch: u64, body: Encoded) -> Entry {
        Entry {
            epoch,
            body,
            used: AtomicBool::new(true),
            refreshing: AtomicBool::new(false),
        }
    }

    /// Notes a hit. Reads first, so the hot path does not write a shared cache line on
    /// every request.
    pub fn touch(&self) {
        if !self.used.load(Ordering::Relaxed) {
            self.used.store(true, Ordering::Relaxed);
        }
    }

    /// Claims the one background re-render of this entry; false if already claimed.
    pub fn claim_refresh(&self) -> bool {
        !self.refreshing.swap(true, Ordering::AcqRel)
    }
}

/// Entries, bounded by count and by bytes (country variants could otherwise grow with every
/// new hot country).
pub struct PageCache {
    entries: RwLock<HashMap<Key, Arc<Entry>>>,
    max_entries: usize,
    max_bytes: usize,
}

impl PageCache {
    pub fn new(max_entries: usize, max_bytes: usize) -> PageCache {
        PageCache {
            entries: RwLock::new(HashMap::new()),
            max_entries,
            max_bytes,
        }
    }

    pub fn get(&self, key: &Key) -> Option<Arc<Entry>> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Bytes held by every entry's bodies.
    pub fn bytes(&self) -> usize {
        weight(&self.entries.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Stores `entry` unless a newer one is already there (a slow render must not replace
    /// a fresher one).
    pub fn put(&self, key: Key, entry: Arc<Entry>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.get(&key).is_some_and(|old| old.epoch > entry.epoch) {
            return;
        }
        let over_count = entries.len() >= self.max_entries && !entries.contains_key(&key);
        let over_bytes =
            key.country.is_some() && weight(&entries) + entry.body.weight() > self.max_bytes;
        if over_count || over_bytes {
            // Variants beyond the bound go first; plain pages are few (one per page the
            // config declares) and always wanted.
            entries.retain(|k, _| k.country.is_none());
        }
        if key.country.is_some() && weight(&entries) + entry.body.weight() > self.max_bytes {
            // Plain pages alone fill the budget: this variant is served, not kept.
            return;
        }
        entries.insert(key, entry);
    }

    /// The keys to re-render after a data change, given each page's current epoch: stale
    /// entries used since the last round. Stale entries nobody asked for are dropped (the
    /// next request renders them) — except plain pages, which are always kept warm.
    pub fn stale_keys(&self, epoch_of: impl Fn(Page) -> u64) -> Vec<Key> {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        entries.retain(|k, e| {
            if e.epoch == epoch_of(k.page) {
                return true;
            }
            let used = e.used.swap(false, Ordering::Relaxed);
            if used || k.country.is_none() {
                out.push(*k);
                true
            } else {
                false
            }
        });
        out
    }

    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Bytes held by `entries`' bodies. Summing on insert is cheap: the cache holds at most a
/// few thousand entries and inserts happen on renders, not on hits.
fn weight(entries: &HashMap<Key, Arc<Entry>>) -> usize {
    entries.values().map(|e| e.body.weight()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoded::Encoded;

    fn entry(epoch: u64, n: usize) -> Arc<Entry> {
        // Incompressible bytes, so every coding weighs about as much as the page.
        let body: Vec<u8> = (0..n as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        Arc::new(Entry::new(
            epoch,
            Encoded::new(body, "text/html", "no-cache", "accept-encoding"),
        ))
    }

    #[test]
    fn country_variants_are_bounded_by_bytes() {
        let max = 2 << 20;
        let cache = PageCache::new(4096, max);
        cache.put(Key::plain(Page::Index), entry(1, 100_000));
        for (i, c) in ["GB", "US", "DE", "JP", "FR", "IN", "BR", "ES", "IT", "NL"]
            .iter()
            .enumerate()
        {
            let key = Key {
                page: Page::Service(0),
                country: Some(CountryCode::parse(c).unwrap()),
            };
            cache.put(key, entry(1, 300_000 + i));
            assert!(cache.bytes() <= max, "{} bytes after {c}", cache.bytes());
        }
        assert!(
            cache.get(&Key::plain(Page::Index)).is_some(),
            "plain pages stay"
        );
    }
}
