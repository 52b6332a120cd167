//! The page model: everything a service's public pages show, loaded from the app in one go.
//!
//! A [`PageModel`] is plain data. It is rebuilt (store reads included) only when its
//! [`Version`] moves, and every page of the service renders from it without touching the
//! store. The official side (incidents, maintenance, probe-driven component states, uptime
//! history) has its slots here already; until those features land they hold what is true
//! today: no incidents, components "Operational" (Statuspage's convention when nothing says
//! otherwise), uptime days with no data.

use downbeat_config::ServiceConfig;
use downbeat_domain::{ComponentState, CountryCode, Verdict};
use downbeat_server::App;
use downbeat_server::crowd::CrowdStatus;
use downbeat_server::incidents::{self, ServiceIncidents};
use downbeat_store::{StoreError, Summary, VerdictEvent};
use jiff::Timestamp;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The chart's bucket: reports per 15 minutes.
pub const CHART_BUCKET_MS: i64 = 15 * 60_000;
/// 24 hours of buckets.
pub const CHART_BUCKETS: usize = 96;
/// Days shown in the uptime bars.
pub const UPTIME_DAYS: usize = 90;
/// Verdict changes kept for the feeds.
pub const FEED_ENTRIES: usize = 50;
/// How far back the feeds look.
const FEED_DAYS: i64 = 30;
const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// What a model was built from; a different version means the pages are out of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// Moves whenever a commit adds counted reports to the service.
    pub generation: u64,
    /// The minute the crowd detector last judged.
    pub as_of_s: Option<i64>,
    /// The wall-clock minute: "the last 24 hours" drifts even when nothing else moves.
    pub minute: i64,
    /// A digest of the service's monitors' open/closed states.
    pub probes: u64,
    /// The generation of the service's incident snapshot.
    pub incidents: u64,
}

impl Version {
    pub fn current(app: &App, service: &ServiceConfig, now: Timestamp) -> Version {
        Version {
            generation: app.generations.get(service.id.as_str()),
            as_of_s: app.crowd.status(service).as_of.map(|t| t.as_second()),
            minute: now.as_millisecond().div_euclid(MINUTE_MS),
            probes: probe_digest(app, service),
            incidents: incidents::snapshot(app, service.id.as_str()).generation,
        }
    }
}

/// Changes when one of the service's monitors opens or closes (per-region details may lag
/// by up to the minute tick).
fn probe_digest(app: &App, service: &ServiceConfig) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (i, m) in app.config.monitors.iter().enumerate() {
        if m.service == service.id {
            let (down, since, _) = app.monitors.state(i);
            (i, down, since).hash(&mut h);
        }
    }
    h.finish()
}

/// Reports per bucket over the chart's window, oldest first, empty buckets included.
#[derive(Debug, Clone)]
pub struct ChartData {
    pub start_ms: i64,
    pub bucket_ms: i64,
    pub counts: Vec<u64>,
}

/// A country whose own crowd verdict differs from the service's overall one.
#[derive(Debug, Clone, PartialEq)]
pub struct Regional {
    pub country: CountryCode,
    pub verdict: Verdict,
    pub since: Option<Timestamp>,
}

/// One day of a component's uptime bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayStatus {
    /// Nothing measured that day (no probes yet, or before monitoring began).
    NoData,
    Operational,
    Degraded,
    Outage,
}

/// A component on the official side.
#[derive(Debug, Clone)]
pub struct ComponentModel {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub state: ComponentState,
    /// Oldest first, [`UPTIME_DAYS`] long.
    pub uptime: Vec<DayStatus>,
}

/// A monitor of the service, as the official side shows it.
#[derive(Debug, Clone)]
pub struct ProbeModel {
    pub id: String,
    pub kind: &'static str,
    pub component: Option<String>,
    /// Open (down) after its hysteresis; None before any result.
    pub down: Option<bool>,
    pub since: Option<Timestamp>,
    pub cause: Option<String>,
    /// Latest outcome per vantage region ("up", "degraded", "down").
    pub regions: Vec<(String, &'static str)>,
}

/// Everything the pages of one service show.
#[derive(Debug, Clone)]
pub struct PageModel {
    /// The service's position in the config (the cache's key).
    pub index: usize,
    pub service: ServiceConfig,
    pub version: Version,
    pub built_at: Timestamp,
    pub crowd: Arc<CrowdStatus>,
    pub chart: ChartData,
    pub last_hour: Summary,
    pub last_day: Summary,
    /// Changes of the overall crowd verdict, newest first.
    pub events: Vec<VerdictEvent>,
    pub regional: Vec<Regional>,
    pub components: Vec<ComponentModel>,
    /// Monitors with their states. (The server's `diagnose` text is not shown: it names
    /// targets and addresses an operator may not want on a public page.)
    pub probes: Vec<ProbeModel>,
    /// Published incidents and maintenance (the server's in-memory snapshot).
    pub official: Arc<ServiceIncidents>,
}

impl PageModel {
    /// Reads what the pages need from the store and the crowd detector.
    pub async fn load(app: &App, index: usize, now: Timestamp) -> Result<PageModel, StoreError> {
        let service = &app.config.services[index];
        let version = Version::current(app, service, now);
        let id = service.id.as_str();
        let now_ms = now.as_millisecond();
        // The current, partial bucket is the chart's last one.
        let end = now_ms.div_euclid(CHART_BUCKET_MS) * CHART_BUCKET_MS + CHART_BUCKET_MS;
        let start = end - CHART_BUCKETS as i64 * CHART_BUCKET_MS;
        let mut counts = vec![0; CHART_BUCKETS];
        for b in app
            .store
            .report_counts(id, start, end, CHART_BUCKET_MS)
            .await?
        {
            let i = (b.start_ms - start).div_euclid(CHART_BUCKET_MS);
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| counts.get_mut(i)) {
                *slot += b.count;
            }
        }
        let last_hour = app.store.summary(id, now_ms - HOUR_MS).await?;
        let last_day = app.store.summary(id, now_ms - 24 * HOUR_MS).await?;
        let mut events = app
            .store
            .verdict_events(id, now_ms - FEED_DAYS * 24 * HOUR_MS, 200)
            .await?;
        events.retain(|e| e.series == "all");
        events.truncate(FEED_ENTRIES);
        let mut model = PageModel::empty(app, index, now);
        model.version = version;
        model.chart = ChartData {
            start_ms: start,
            bucket_ms: CHART_BUCKET_MS,
            counts,
        };
        model.last_hour = last_hour;
        model.last_day = last_day;
        model.events = events;
        Ok(model)
    }

    /// A model from memory only (config and crowd status): what the pages show before the
    /// first load, and all they can show while the store is unreachable at start.
    pub fn empty(app: &App, index: usize, now: Timestamp) -> PageModel {
        let service = app.config.services[index].clone();
        let crowd = app.crowd.status(&service);
        let regional = regional(&crowd);
        let probes = probes(app, &service);
        let official = incidents::snapshot(app, service.id.as_str());
        let declared = official.component_states();
        let components = service
            .components
            .iter()
            .map(|c| ComponentModel {
                id: c.id.to_string(),
                name: c.name.clone(),
                description: c.description.clone(),
                state: worst(
                    component_state(c.id.as_str(), &probes),
                    declared
                        .get(c.id.as_str())
                        .copied()
                        .unwrap_or(ComponentState::Operational),
                ),
                uptime: vec![DayStatus::NoData; UPTIME_DAYS],
            })
            .collect();
        let now_ms = now.as_millisecond();
        let end = now_ms.div_euclid(CHART_BUCKET_MS) * CHART_BUCKET_MS + CHART_BUCKET_MS;
        PageModel {
            index,
            version: Version {
                generation: u64::MAX,
                as_of_s: None,
                minute: i64::MIN,
                probes: 0,
                incidents: u64::MAX,
            },
            built_at: now,
            crowd,
            chart: ChartData {
                start_ms: end - CHART_BUCKETS as i64 * CHART_BUCKET_MS,
                bucket_ms: CHART_BUCKET_MS,
                counts: vec![0; CHART_BUCKETS],
            },
            last_hour: Summary::default(),
            last_day: Summary::default(),
            events: Vec::new(),
            regional,
            components,
            probes,
            official,
            service,
        }
    }

    /// The worst official component state (Operational when there are none).
    pub fn official_state(&self) -> ComponentState {
        self.components
            .iter()
            .map(|c| c.state)
            .max_by_key(|s| severity(*s))
            .unwrap_or(ComponentState::Operational)
    }

    /// The regional line for a visitor from `country`, if it differs from the overall one.
    pub fn regional_for(&self, country: CountryCode) -> Option<&Regional> {
        self.regional.iter().find(|r| r.country == country)
    }
}

/// The worse of two states.
fn worst(a: ComponentState, b: ComponentState) -> ComponentState {
    if severity(b) > severity(a) { b } else { a }
}

pub use downbeat_server::incidents::severity;

/// The service's monitors with their states and latest results.
fn probes(app: &App, service: &ServiceConfig) -> Vec<ProbeModel> {
    app.config
        .monitors
        .iter()
        .enumerate()
        .filter(|(_, m)| m.service == service.id)
        .map(|(i, m)| {
            let latest = app.monitors.latest(i);
            let (down, since_ms, cause) = app.monitors.state(i);
            ProbeModel {
                id: m.id.to_string(),
                kind: m.probe.kind().as_str(),
                component: m.component.as_ref().map(ToString::to_string),
                down: (down || !latest.is_empty()).then_some(down),
                since: since_ms.and_then(|ms| Timestamp::from_millisecond(ms).ok()),
                cause: if down { cause } else { None },
                regions: latest
                    .iter()
                    .map(|(region, r)| (region.to_string(), r.result.outcome.as_str()))
                    .collect(),
            }
        })
        .collect()
}

/// A component's state from the monitors attached to it: all open is a major outage, some
/// open a partial one; nothing attached or nothing open is "Operational" (Statuspage's
/// convention until incidents say otherwise).
fn component_state(component: &str, probes: &[ProbeModel]) -> ComponentState {
    let attached: Vec<&ProbeModel> = probes
        .iter()
        .filter(|p| p.component.as_deref() == Some(component))
        .collect();
    let open = attached.iter().filter(|p| p.down == Some(true)).count();
    match open {
        0 => ComponentState::Operational,
        n if n == attached.len() => ComponentState::MajorOutage,
        _ => ComponentState::PartialOutage,
    }
}

/// Countries whose crowd verdict differs from the overall verdict.
fn regional(crowd: &CrowdStatus) -> Vec<Regional> {
    crowd
        .hot_series
        .iter()
        .filter(|s| s.verdict != crowd.verdict)
        .filter_map(|s| {
            let code = s.series.strip_prefix("country:")?;
            Some(Regional {
                country: CountryCode::parse(code).ok()?,
                verdict: s.verdict,
                since: s.since,
            })
        })
        .collect()
}
