//! A token bucket per integration (`rate_limit_burst`, refilled at `rate_limit_per_minute`):
//! a flood of alerts gets 429 with Retry-After, not a say in the incidents. Checked after
//! the token (a stranger cannot spend an integration's bucket) and before the body is read.
//! Each node keeps its own buckets: an integration usually posts to one address, and its
//! requests are few next to reports.

use downbeat_config::{IntegrationSettings, RateLimit};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

pub struct Limits {
    buckets: HashMap<String, DefaultDirectRateLimiter>,
    clock: DefaultClock,
}

/// The name an integration's bucket (and its answers) go by.
pub fn alertmanager_name() -> String {
    "alertmanager".into()
}

/// The name of inbound webhook `id`.
pub fn webhook_name(id: &str) -> String {
    format!("webhook {id}")
}

impl Limits {
    pub fn new(settings: &IntegrationSettings) -> Limits {
        let bucket = |r: RateLimit| {
            let n = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
            DefaultDirectRateLimiter::direct(
                Quota::per_minute(n(r.per_minute)).allow_burst(n(r.burst)),
            )
        };
        let mut buckets = HashMap::new();
        if let Some(a) = &settings.alertmanager {
            buckets.insert(alertmanager_name(), bucket(a.rate_limit));
        }
        for w in &settings.webhooks {
            buckets.insert(webhook_name(w.id.as_str()), bucket(w.rate_limit));
        }
        Limits {
            buckets,
            clock: DefaultClock::default(),
        }
    }

    /// `Ok` if integration `name` may post now, else how long until it may.
    pub fn check(&self, name: &str) -> Result<(), Duration> {
        match self.buckets.get(name) {
            Some(b) => b
                .check()
                .map_err(|not_until| not_until.wait_time_from(self.clock.now())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_integration_has_its_own_bucket() {
        let c = downbeat_config::parse_str(
            "[[service]]\nid = \"m\"\nname = \"M\"\n[[service.component]]\nid = \"login\"\nname = \"Login\"\n\
             [integrations.alertmanager]\nrate_limit_burst = 3\nrate_limit_per_minute = 1\n\
             [[integrations.alertmanager.route]]\nservice = \"m\"\ncomponent = \"login\"\n\
             [[integrations.webhook]]\nid = \"kuma\"\nservice = \"m\"\ncomponent = \"login\"\n\
             state = { pointer = \"/s\" }\nrate_limit_burst = 1\n",
            "t",
        )
        .unwrap();
        let l = Limits::new(&c.integrations);
        let at_once = |name: &str| (0..10).take_while(|_| l.check(name).is_ok()).count();
        assert_eq!(at_once("alertmanager"), 3);
        assert_eq!(at_once(&webhook_name("kuma")), 1, "its own burst");
        let wait = l.check("alertmanager").unwrap_err();
        assert!(
            wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
            "{wait:?}: one a minute"
        );
    }
}
