//! The generator: per-minute expected and sampled counts for a whole scenario, and the
//! individual reports of any minute on demand, each with its client address.
//!
//! Counts for every minute are drawn up front (cheap: a few draws a minute, so 30 days take
//! milliseconds). Reports are drawn only for the minutes asked for, from a random stream of
//! their own per minute, so a slice is identical to the same minutes of a full run.

use crate::rng::{Rng, mix64};
use crate::scenario::{MAX_FLOOD_NETWORKS, Mix, Scenario, Window};
use downbeat_domain::{CountryCode, Platform, ProblemKind};
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

const COUNTS: u64 = 1;
const REPORTS: u64 = 2;
const MESSAGES: u64 = 7;
const ADDRESSES: u64 = 3;
const SOCIAL: u64 = 11;

/// Normal listeners are spread over 10.0.0.0/8: 16.7 million distinct addresses in 65,536
/// /24 networks. Only ever written into X-Forwarded-For, never connected to.
pub const LISTENER_NETWORK: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 0);
/// Flood clients live in /24s of 172.16.0.0/12, apart from the listeners.
pub const FLOOD_NETWORK: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 0);

/// Where a report comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Everyday reports: the baseline.
    Normal,
    /// The extra reports of the scenario's outage with this index.
    Outage(usize),
    /// The flood with this index: few networks, reused addresses.
    Flood(usize),
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Normal => "normal",
            Source::Outage(_) => "outage",
            Source::Flood(_) => "flood",
        }
    }
}

/// One minute's totals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinuteCounts {
    pub minute: u32,
    pub timestamp: Timestamp,
    /// The generator's mean for the minute, before noise.
    pub expected: f64,
    pub total: u64,
    pub normal: u64,
    pub outage: u64,
    pub flood: u64,
}

/// One crowd report, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub minute: u32,
    /// When it is sent, to the millisecond, inside its minute.
    pub at: Timestamp,
    /// Milliseconds into its minute.
    pub offset_ms: u32,
    pub problem: ProblemKind,
    pub platform: Platform,
    pub country: CountryCode,
    pub city: Option<Arc<str>>,
    /// What the listener's screen says, when they typed it.
    pub message: Option<Arc<str>>,
    /// The address it claims in X-Forwarded-For.
    pub client: Ipv4Addr,
    pub source: Source,
}

/// A scenario's traffic: counts for every minute, reports on demand.
#[derive(Debug, Clone)]
pub struct Traffic<'a> {
    scenario: &'a Scenario,
    sources: usize,
    /// `minutes × sources`, normal first, then outages, then floods.
    expected: Vec<f64>,
    counts: Vec<u32>,
    /// Normal and outage reports before each minute: listener address indexes.
    listeners_before: Vec<u64>,
    flood_first_network: Vec<u32>,
    address_key: u64,
    /// Social posts per minute (empty without `[social]`).
    social: Vec<u32>,
}

impl<'a> Traffic<'a> {
    /// Draws the counts of every minute of `scenario`.
    pub fn generate(scenario: &'a Scenario) -> Traffic<'a> {
        let n_out = scenario.outages.len();
        let sources = 1 + n_out + scenario.floods.len();
        let minutes = scenario.minutes as usize;
        let mut expected = Vec::with_capacity(minutes * sources);
        let mut counts = Vec::with_capacity(minutes * sources);
        let mut listeners_before = Vec::with_capacity(minutes + 1);
        let mut listeners = 0u64;
        let k = scenario.overdispersion;
        for m in 0..scenario.minutes {
            listeners_before.push(listeners);
            let mut rng = Rng::stream(scenario.seed, COUNTS, u64::from(m));
            let noisy = |rate: f64, rng: &mut Rng| {
                // Gamma-Poisson: the minute's rate itself varies, variance k·rate².
                let rate = if k > 0.0 && rate > 0.0 {
                    rate * rng.gamma(1.0 / k) * k
                } else {
                    rate
                };
                rng.poisson(rate).min(u64::from(u32::MAX)) as u32
            };
            let base = scenario.baseline_rate(m);
            expected.push(base);
            counts.push(noisy(base, &mut rng));
            for i in 0..n_out {
                let r = scenario.outage_rate(i, m, base);
                expected.push(r);
                counts.push(noisy(r, &mut rng));
            }
            for j in 0..scenario.floods.len() {
                let r = scenario.flood_rate(j, m);
                expected.push(r);
                counts.push(rng.poisson(r).min(u64::from(u32::MAX)) as u32);
            }
            let row = &counts[counts.len() - sources..];
            listeners += row[..=n_out].iter().map(|&c| u64::from(c)).sum::<u64>();
        }
        listeners_before.push(listeners);
        let flood_first_network = (0..scenario.floods.len())
            .map(|j| {
                (Rng::stream(scenario.seed, ADDRESSES, j as u64 + 1).next_u64()
                    % u64::from(MAX_FLOOD_NETWORKS)) as u32
            })
            .collect();
        // Chatter follows the everyday and the outage listeners' counts (its own stream, so
        // the reports are the same with or without it).
        let social = match &scenario.social {
            None => Vec::new(),
            Some(so) => (0..minutes)
                .map(|m| {
                    let c = &counts[m * sources..(m + 1) * sources];
                    let outage: f64 = c[1..=n_out].iter().map(|&x| f64::from(x)).sum();
                    let rate = so.per_report * f64::from(c[0]) + so.per_outage_report * outage;
                    let mut rng = Rng::stream(scenario.seed, SOCIAL, m as u64);
                    rng.poisson(rate).min(u64::from(u32::MAX)) as u32
                })
                .collect(),
        };
        Traffic {
            scenario,
            sources,
            expected,
            counts,
            listeners_before,
            flood_first_network,
            address_key: mix64(scenario.seed ^ 0x5EED_AD0D),
            social,
        }
    }

    pub fn scenario(&self) -> &'a Scenario {
        self.scenario
    }

    /// Social posts about the service in minute `m`, and the signal source they are posted
    /// as; None without `[social]`.
    pub fn social(&self, m: u32) -> Option<(&'a str, u32)> {
        let so = self.scenario.social.as_ref()?;
        Some((so.source.as_str(), *self.social.get(m as usize)?))
    }

    /// Totals of minute `m` (< the scenario's length).
    pub fn minute(&self, m: u32) -> MinuteCounts {
        let at = m as usize * self.sources;
        let n_out = self.scenario.outages.len();
        let c = &self.counts[at..at + self.sources];
        let sum = |s: &[u32]| s.iter().map(|&x| u64::from(x)).sum::<u64>();
        let (normal, outage, flood) = (u64::from(c[0]), sum(&c[1..=n_out]), sum(&c[1 + n_out..]));
        MinuteCounts {
            minute: m,
            timestamp: self.scenario.timestamp_of(m),
            expected: self.expected[at..at + self.sources].iter().sum(),
            total: normal + outage + flood,
            normal,
            outage,
            flood,
        }
    }

    /// Totals of every minute of `window`.
    pub fn minutes(&self, window: Window) -> impl Iterator<Item = MinuteCounts> + '_ {
        window.minutes().map(|m| self.minute(m))
    }

    /// Reports in `window`.
    pub fn total(&self, window: Window) -> u64 {
        self.minutes(window).map(|c| c.total).sum()
    }

    /// Reports per minute of `window` that a correct server counts: each client address once
    /// per `dedupe` (the server's `reports.dedupe_window`, 15m by default) since it last
    /// counted, starting fresh at the window's start. Listeners never repeat an address, so
    /// only flood minutes need their reports drawn. Rate limits are not simulated: they only
    /// refuse reports that dedupe would not count anyway.
    pub fn counted(&self, window: Window, dedupe: std::time::Duration) -> Vec<u64> {
        let dedupe_ms = i64::try_from(dedupe.as_millis()).unwrap_or(i64::MAX);
        let mut last: HashMap<Ipv4Addr, i64> = HashMap::new();
        let mut out = Vec::with_capacity(window.len() as usize);
        for m in window.minutes() {
            let c = self.minute(m);
            if c.flood == 0 {
                out.push(c.normal + c.outage);
                continue;
            }
            let mut n = 0;
            for r in self.reports(m) {
                if !matches!(r.source, Source::Flood(_)) {
                    n += 1;
                    continue;
                }
                let t = i64::from(m) * 60_000 + i64::from(r.offset_ms);
                match last.get(&r.client) {
                    Some(&prev) if t - prev < dedupe_ms => {}
                    _ => {
                        last.insert(r.client, t);
                        n += 1;
                    }
                }
            }
            out.push(n);
        }
        out
    }

    /// The reports of minute `m`, in the order they are sent.
    pub fn reports(&self, m: u32) -> Vec<Report> {
        let s = self.scenario;
        let at = m as usize * self.sources;
        let counts = &self.counts[at..at + self.sources];
        let mut rng = Rng::stream(s.seed, REPORTS, u64::from(m));
        // Messages draw from their own stream: a scenario that gains them sends the same
        // reports otherwise.
        let mut said = Rng::stream(s.seed, MESSAGES, u64::from(m));
        let mut out = Vec::with_capacity(counts.iter().map(|&c| c as usize).sum());
        let mut listener = self.listeners_before[m as usize];
        let minute_start = s.timestamp_of(m);
        for (i, &n) in counts.iter().enumerate() {
            let (source, mix) = if i == 0 {
                (Source::Normal, &s.mix)
            } else if i <= s.outages.len() {
                (Source::Outage(i - 1), &s.outages[i - 1].mix)
            } else {
                let j = i - 1 - s.outages.len();
                (Source::Flood(j), &s.floods[j].mix)
            };
            for _ in 0..n {
                let client = match source {
                    Source::Flood(j) => {
                        let f = &s.floods[j];
                        let net = (self.flood_first_network[j]
                            + rng.below(u64::from(f.networks)) as u32)
                            % MAX_FLOOD_NETWORKS;
                        let host = 1 + rng.below(u64::from(f.clients_per_network)) as u32;
                        Ipv4Addr::from(u32::from(FLOOD_NETWORK) | net << 8 | host)
                    }
                    _ => {
                        listener += 1;
                        listener_address(listener - 1, self.address_key)
                    }
                };
                let offset_ms = rng.below(60_000) as u32;
                let (problem, platform, country, city) = draw(mix, &mut rng);
                let message = match &mix.messages {
                    Some(m) if said.uniform() < mix.message_share => {
                        Some(m.pick(&mut said).clone())
                    }
                    _ => None,
                };
                out.push(Report {
                    minute: m,
                    at: minute_start + SignedDuration::from_millis(i64::from(offset_ms)),
                    offset_ms,
                    problem,
                    platform,
                    country,
                    city,
                    message,
                    client,
                    source,
                });
            }
        }
        out.sort_by_key(|r| r.offset_ms);
        out
    }
}

fn draw(mix: &Mix, rng: &mut Rng) -> (ProblemKind, Platform, CountryCode, Option<Arc<str>>) {
    let problem = mix.problem.pick(rng).clone();
    let platform = *mix.platform.pick(rng);
    let country = *mix.country.pick(rng);
    let city = match mix.cities.get(&country) {
        Some(cities) if rng.uniform() < mix.city_share => Some(cities.pick(rng).clone()),
        _ => None,
    };
    (problem, platform, country, city)
}

/// The `index`-th listener's address: a keyed permutation of 24 bits, so the first 16.7
/// million listeners are all distinct (none is deduplicated by the server) and consecutive
/// ones land in unrelated /24 networks.
fn listener_address(index: u64, key: u64) -> Ipv4Addr {
    const MASK: u32 = 0x00FF_FFFF;
    let mut x = (index as u32) & MASK;
    for round in 0..3 {
        let k = (key >> (round * 20)) as u32;
        x = x.wrapping_add(k) & MASK;
        x = x.wrapping_mul(0x9E_3779 | 1) & MASK;
        x ^= x >> 12;
        x = x.wrapping_mul(0x5B_D1E9 | 1) & MASK;
        x ^= x >> 11;
    }
    Ipv4Addr::from(u32::from(LISTENER_NETWORK) | x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn listener_addresses_are_distinct_and_spread() {
        let n = 200_000;
        let addrs: HashSet<Ipv4Addr> = (0..n).map(|i| listener_address(i, 42)).collect();
        assert_eq!(addrs.len(), n as usize);
        let nets: HashSet<[u8; 3]> = (0..1_000)
            .map(|i| {
                let o = listener_address(i, 42).octets();
                [o[0], o[1], o[2]]
            })
            .collect();
        assert!(
            nets.len() > 950,
            "1,000 listeners in only {} /24s",
            nets.len()
        );
        assert!(addrs.iter().all(|a| a.octets()[0] == 10));
    }
}
