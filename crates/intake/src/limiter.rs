//! Per-client token buckets: a flood from one address gets 429, not a say in the verdict.

use downbeat_config::ReportSettings;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

pub struct Limiter {
    reports: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl Limiter {
    pub fn new(settings: &ReportSettings) -> Self {
        let per_minute = NonZeroU32::new(settings.rate_limit_per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.rate_limit_burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Limiter {
            reports: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    /// `Ok` if `ip` may report now, else how long until it may.
    pub fn check_report(&self, ip: IpAddr) -> Result<(), Duration> {
        self.reports
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets clients whose bucket has refilled; called periodically.
    pub fn sweep(&self) {
        self.reports.retain_recent();
        self.reports.shrink_to_fit();
    }

    pub fn tracked_clients(&self) -> usize {
        self.reports.len()
    }
}
