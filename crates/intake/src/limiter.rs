//! Per-client token buckets: a flood from one address gets 429, not a say in the verdict.
//!
//! The configured limit (`reports.rate_limit_per_minute`, `reports.rate_limit_burst`) is
//! the cluster's: with `n` live nodes each node keeps buckets of `1/n` of it (rounded up),
//! checked in memory before a request's body is read, so a limit costs no trip to the
//! database. A client whose requests a load balancer spreads over the nodes gets at most
//! the limit plus `n - 1` (the rounding) per minute across the cluster; one pinned to a
//! single node gets at least `1/n` of it. When the count of live nodes changes, the buckets
//! start again full (a client may get one extra burst then).

use downbeat_config::ReportSettings;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub struct Limiter {
    per_minute: u32,
    burst: u32,
    share: RwLock<Share>,
    clock: DefaultClock,
}

/// This node's part of the limit.
struct Share {
    nodes: usize,
    reports: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl Limiter {
    pub fn new(settings: &ReportSettings) -> Self {
        let (per_minute, burst) = (settings.rate_limit_per_minute, settings.rate_limit_burst);
        Limiter {
            per_minute,
            burst,
            share: RwLock::new(Share {
                nodes: 1,
                reports: Arc::new(buckets(per_minute, burst, 1)),
            }),
            clock: DefaultClock::default(),
        }
    }

    fn reports(&self) -> Arc<DefaultKeyedRateLimiter<IpAddr>> {
        self.share
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .reports
            .clone()
    }

    /// `Ok` if `ip` may report now, else how long until it may.
    pub fn check_report(&self, ip: IpAddr) -> Result<(), Duration> {
        self.reports()
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Shares the limit among `nodes` live nodes (at least one).
    pub fn set_live_nodes(&self, nodes: usize) {
        let nodes = nodes.max(1);
        let mut share = self.share.write().unwrap_or_else(|e| e.into_inner());
        if share.nodes != nodes {
            *share = Share {
                nodes,
                reports: Arc::new(buckets(self.per_minute, self.burst, nodes)),
            };
        }
    }

    /// The live nodes the limit is shared among.
    pub fn live_nodes(&self) -> usize {
        self.share.read().unwrap_or_else(|e| e.into_inner()).nodes
    }

    /// Forgets clients whose bucket has refilled; called periodically.
    pub fn sweep(&self) {
        let reports = self.reports();
        reports.retain_recent();
        reports.shrink_to_fit();
    }

    pub fn tracked_clients(&self) -> usize {
        self.reports().len()
    }
}

/// Buckets of `1/nodes` of the limit, rounded up to whole reports.
fn buckets(per_minute: u32, burst: u32, nodes: usize) -> DefaultKeyedRateLimiter<IpAddr> {
    let nodes = u32::try_from(nodes).unwrap_or(u32::MAX).max(1);
    let part = |n: u32| NonZeroU32::new(n.div_ceil(nodes)).unwrap_or(NonZeroU32::MIN);
    DefaultKeyedRateLimiter::keyed(Quota::per_minute(part(per_minute)).allow_burst(part(burst)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(per_minute: u32, burst: u32) -> ReportSettings {
        ReportSettings {
            rate_limit_per_minute: per_minute,
            rate_limit_burst: burst,
            ..ReportSettings::default()
        }
    }

    fn allowed_at_once(l: &Limiter, ip: IpAddr) -> usize {
        (0..100).take_while(|_| l.check_report(ip).is_ok()).count()
    }

    #[test]
    fn the_limit_is_shared_among_live_nodes() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let l = Limiter::new(&settings(60, 10));
        assert_eq!(allowed_at_once(&l, ip), 10);
        l.set_live_nodes(2);
        assert_eq!(l.live_nodes(), 2);
        assert_eq!(allowed_at_once(&l, ip), 5, "half the burst on each of two");
        l.set_live_nodes(3);
        assert_eq!(allowed_at_once(&l, ip), 4, "a third, rounded up");
        l.set_live_nodes(0);
        assert_eq!(l.live_nodes(), 1, "never fewer than this node");
        let l = Limiter::new(&settings(1, 1));
        l.set_live_nodes(5);
        assert_eq!(allowed_at_once(&l, ip), 1, "never less than one report");
    }
}
