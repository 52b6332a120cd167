//! How often one client may comment: at most [`PER_WINDOW`] comments on a service in any
//! [`WINDOW_MS`], counted in this node's memory.
//!
//! A client is its address (behind trusted proxies), or its /64 for IPv6, which one host
//! commonly has whole. The count is exact (a sliding window of the times of the last few
//! comments, on the app's clock) rather than a token bucket, so "3 in 10 minutes" means
//! what it says. It is per node: behind a load balancer that spreads one client over `n`
//! nodes, that client may post up to `n` times as many. Comments are few and moderated, so
//! a shared counter (a round trip per comment) is not worth it.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

/// Comments a client may post on one service within [`WINDOW_MS`].
pub const PER_WINDOW: usize = 3;
/// The window: 10 minutes.
pub const WINDOW_MS: i64 = 10 * 60_000;
/// Forget clients whose window is over once this many are remembered...
const SWEEP_ABOVE: usize = 10_000;
/// ...at most this often: while more clients than that are active, sweeping at every
/// comment would cost a pass over all of them each time.
const SWEEP_EVERY_MS: i64 = 60_000;

/// One client on one service (by its position in the config).
type Client = (usize, IpAddr);

#[derive(Default)]
pub struct CommentLimiter {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    recent: HashMap<Client, VecDeque<i64>>,
    /// When forgotten clients were last swept out, and how many sweeps there were.
    swept_ms: Option<i64>,
    sweeps: u64,
}

impl CommentLimiter {
    /// Counts a comment of `ip` on service `service` at `now_ms` if it may post one, else
    /// says how many seconds until it may.
    pub fn check(&self, service: usize, ip: IpAddr, now_ms: i64) -> Result<(), u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *state;
        if state.recent.len() > SWEEP_ABOVE
            && state.swept_ms.is_none_or(|t| now_ms - t >= SWEEP_EVERY_MS)
        {
            state
                .recent
                .retain(|_, times| times.back().is_some_and(|t| now_ms - t < WINDOW_MS));
            state.swept_ms = Some(now_ms);
            state.sweeps += 1;
        }
        let times = state.recent.entry((service, client(ip))).or_default();
        while times.front().is_some_and(|t| now_ms - t >= WINDOW_MS) {
            times.pop_front();
        }
        match times.front() {
            Some(oldest) if times.len() >= PER_WINDOW => {
                let wait_ms = oldest + WINDOW_MS - now_ms;
                Err(u64::try_from(wait_ms).unwrap_or(0).div_ceil(1_000).max(1))
            }
            _ => {
                times.push_back(now_ms);
                Ok(())
            }
        }
    }

    /// Clients remembered.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recent
            .len()
    }

    #[cfg(test)]
    fn sweeps(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).sweeps
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An address as a client: IPv4 as it is, IPv6 by its /64.
fn client(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_comments_in_any_ten_minutes_per_client_and_service() {
        let l = CommentLimiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let min = 60_000;
        assert_eq!(l.check(0, a, 0), Ok(()));
        assert_eq!(l.check(0, a, 2 * min), Ok(()));
        assert_eq!(l.check(0, a, 4 * min), Ok(()));
        assert_eq!(
            l.check(0, a, 5 * min),
            Err(300),
            "until the first is 10 minutes old"
        );
        assert_eq!(l.check(0, b, 5 * min), Ok(()), "another client");
        assert_eq!(l.check(1, a, 5 * min), Ok(()), "another service");
        assert_eq!(l.check(0, a, 10 * min - 1), Err(1));
        assert_eq!(l.check(0, a, 10 * min), Ok(()));
        assert_eq!(l.check(0, a, 11 * min), Err(60), "the one at 2 min is next");
        // An IPv6 host changing its interface id is the same client.
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        for i in 1..=3 {
            assert_eq!(l.check(0, v6(&format!("2001:db8:1:2::{i}")), 0), Ok(()));
        }
        assert!(l.check(0, v6("2001:db8:1:2:ffff::9"), 0).is_err());
        assert_eq!(l.check(0, v6("2001:db8:1:3::1"), 0), Ok(()), "another /64");
        assert_eq!(l.len(), 5);
    }

    #[test]
    fn many_clients_are_swept_out_once_a_minute_not_at_every_comment() {
        let l = CommentLimiter::default();
        let ip = |i: usize| IpAddr::from([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
        for i in 0..=SWEEP_ABOVE {
            assert_eq!(l.check(0, ip(i), 0), Ok(()));
        }
        assert_eq!(l.sweeps(), 0);
        // Ten minutes on, all of them are over their window: one sweep forgets them.
        let later = WINDOW_MS;
        for i in 0..=SWEEP_ABOVE {
            assert_eq!(l.check(0, ip(SWEEP_ABOVE + 1 + i), later), Ok(()));
        }
        assert_eq!(l.sweeps(), 1, "swept once, though the map stayed large");
        assert_eq!(l.len(), SWEEP_ABOVE + 1, "the first ones are forgotten");
        assert_eq!(l.check(0, ip(0), later + SWEEP_EVERY_MS), Ok(()));
        assert_eq!(l.sweeps(), 2, "a minute later, the next");
    }
}
