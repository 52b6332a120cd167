//! The page model: everything a service's public pages show, loaded from the app in one go.
//!
//! A [`PageModel`] is plain data. It is rebuilt (store reads included) only when its
//! [`Version`] moves, and every page of the service renders from it without touching the
//! store. The official side comes from the monitors: component states from their open
//! checks, 90 days of uptime from the hourly probe roll-ups (days without probes stay "no
//! data"), checks by region and a public diagnosis. Incidents and maintenance have their
//! slots here; until that feature lands they hold what is true today: none, and components
//! "Operational" unless a check says otherwise (Statuspage's convention).

use downbeat_api::App;
use downbeat_config::ServiceConfig;
use downbeat_crowd::{BucketBaseline, CrowdStatus};
use downbeat_domain::city::{CityTally, PublicCities};
use downbeat_domain::probe::Cause;
use downbeat_domain::{ComponentState, CountryCode, Verdict};
use downbeat_incidents::{self as incidents, ServiceIncidents};
use downbeat_monitors::diagnosis::{self, PublicRegion};
use downbeat_store::{DAY_MS, ProbeDay, StoreError, Summary, VerdictEvent};
use jiff::Timestamp;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The chart's bucket: reports per 15 minutes.
pub const CHART_BUCKET_MS: i64 = 15 * 60_000;
/// 24 hours of buckets.
pub const CHART_BUCKETS: usize = 96;
/// Days shown in the uptime bars.
pub const UPTIME_DAYS: usize = 90;
/// Distinct (city, country) spellings read for the top cities (most networks first); folded,
/// kept only when enough networks typed them, and cut to [`TOP_CITIES`] on the page.
const CITY_ROWS: u32 = 200;
/// Cities shown.
pub const TOP_CITIES: usize = 8;
/// Comments shown on the service page, newest first.
pub const SHOWN_COMMENTS: u32 = 20;
/// Verdict changes kept for the feeds.
pub const FEED_ENTRIES: usize = 50;
/// How far back the feeds look.
const FEED_DAYS: i64 = 30;
const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// What a model was built from; a different version means the pages are out of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// Moves whenever a commit adds counted reports to the service, and when what the
    /// public sees of it otherwise changes (a message cluster hidden, a comment shown).
    pub generation: u64,
    /// The minute the crowd detector last judged.
    pub as_of_s: Option<i64>,
    /// The wall-clock minute: "the last 24 hours" drifts even when nothing else moves.
    pub minute: i64,
    /// A digest of the service's monitors' open/closed states.
    pub probes: u64,
    /// The generation of the service's incident snapshot.
    pub incidents: u64,
    /// How many times the config was replaced (a service or monitor changed at runtime).
    pub config: u64,
}

impl Version {
    pub fn current(app: &App, service: &ServiceConfig, now: Timestamp) -> Version {
        Version {
            generation: app.intake.generations.get(service.id.as_str()),
            as_of_s: app.crowd.status(service).as_of.map(|t| t.as_second()),
            minute: now.as_millisecond().div_euclid(MINUTE_MS),
            probes: probe_digest(app, service),
            incidents: incidents::snapshot(&app.incidents, service.id.as_str()).generation,
            config: app.config.generation(),
        }
    }
}

/// Changes when one of the service's monitors opens or closes (per-region details may lag
/// by up to the minute tick).
fn probe_digest(app: &App, service: &ServiceConfig) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for m in &app.config.load().monitors {
        if m.service == service.id {
            let (down, since, _) = app.monitors.state(m.id.as_str());
            (m.id.as_str(), down, since).hash(&mut h);
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
    /// The crowd detector's usual range per bucket, when it has a trained model.
    pub baseline: Option<Vec<BucketBaseline>>,
    /// Changes drawn on the chart (only where the service shows them: `public_changes`).
    pub markers: Vec<ChartMarker>,
}

/// A change on the chart: when, and its words ("Deploy of Login").
#[derive(Debug, Clone, PartialEq)]
pub struct ChartMarker {
    pub at_ms: i64,
    pub label: String,
}

/// A country whose own crowd verdict differs from the service's overall one.
#[derive(Debug, Clone, PartialEq)]
pub struct Regional {
    pub country: CountryCode,
    pub verdict: Verdict,
    pub since: Option<Timestamp>,
}

/// One UTC day of uptime: the probes of the monitors behind a bar that day, and how many
/// failed (from the hourly roll-ups, every region together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UptimeDay {
    pub day_ms: i64,
    pub probes: u64,
    pub failures: u64,
}

/// How a day of an uptime bar is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayStatus {
    /// Nothing measured that day (no probes yet, or before monitoring began).
    NoData,
    /// At least 99.5% of probes passed.
    Operational,
    /// At least 95%.
    Degraded,
    Outage,
}

impl UptimeDay {
    /// The share of passing probes, `None` without probes.
    pub fn uptime(&self) -> Option<f64> {
        (self.probes > 0).then(|| 1.0 - self.failures.min(self.probes) as f64 / self.probes as f64)
    }

    pub fn status(&self) -> DayStatus {
        match self.uptime() {
            None => DayStatus::NoData,
            Some(u) if u >= 0.995 => DayStatus::Operational,
            Some(u) if u >= 0.95 => DayStatus::Degraded,
            Some(_) => DayStatus::Outage,
        }
    }
}

/// [`UPTIME_DAYS`] days ending today (UTC), oldest first, none measured.
pub fn empty_days(now: Timestamp) -> Vec<UptimeDay> {
    let today = now.as_millisecond().div_euclid(DAY_MS) * DAY_MS;
    (0..UPTIME_DAYS as i64)
        .map(|i| UptimeDay {
            day_ms: today - (UPTIME_DAYS as i64 - 1 - i) * DAY_MS,
            probes: 0,
            failures: 0,
        })
        .collect()
}

/// Adds a monitor's daily counts into `days` (which [`empty_days`] made).
fn add_days(days: &mut [UptimeDay], from: &[ProbeDay]) {
    let Some(first) = days.first().map(|d| d.day_ms) else {
        return;
    };
    for d in from {
        let i = (d.day_ms - first).div_euclid(DAY_MS);
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| days.get_mut(i)) {
            slot.probes += d.probes;
            slot.failures += d.failures;
        }
    }
}

/// A component on the official side.
#[derive(Debug, Clone)]
pub struct ComponentModel {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub state: ComponentState,
    /// Its monitors' days, oldest first, [`UPTIME_DAYS`] long.
    pub uptime: Vec<UptimeDay>,
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
    pub cause: Option<Cause>,
    /// Latest result per vantage region, in public words.
    pub regions: Vec<PublicRegion>,
    /// Its days, oldest first, [`UPTIME_DAYS`] long.
    pub uptime: Vec<UptimeDay>,
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
    /// targets and addresses an operator may not want on a public page; `diagnosis` is its
    /// public variant.)
    pub probes: Vec<ProbeModel>,
    /// What the monitors see, in public words; None without monitors or results.
    pub diagnosis: Option<String>,
    /// The cities most named by reports in the breakdown window, with their counts: only
    /// those typed from at least `reports.city_min_networks` networks (the raw text of one
    /// report never gets this far).
    pub cities: PublicCities,
    /// What listeners' screens say over the same window, clustered: only what enough
    /// networks typed, most reported first,
    /// with the share of the reports that said what their screen says (see
    /// [`downbeat_crowd::screen_messages`]).
    pub messages: Vec<ScreenMessage>,
    /// Published incidents and maintenance (the server's in-memory snapshot).
    pub official: Arc<ServiceIncidents>,
    /// The newest shown comments, newest first, when the service takes comments (see
    /// [`SHOWN_COMMENTS`]). They move the service's generation when they change, so the
    /// model is reloaded (see the web crate's `comment` and the admin area's moderation).
    pub comments: Vec<PublicComment>,
    /// The report form's token for the hour the model was built in (see
    /// [`downbeat_intake::form_token`]); empty until the day's salt is loaded. The model is
    /// rebuilt every minute, so the cached page always carries a current one.
    pub form_token: String,
}

/// A comment on the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicComment {
    /// Untrusted text: templates escape it, and a link in it stays text.
    pub text: String,
    pub created_ms: i64,
}

/// One clustered message on the page.
#[derive(Debug, Clone, PartialEq)]
pub struct ScreenMessage {
    /// Untrusted text: templates escape it.
    pub text: String,
    /// Percent of the reports with a message, 0 to 100.
    pub pct: u32,
}

impl PageModel {
    /// Reads what the pages need from the store and the crowd detector.
    pub async fn load(
        app: &App,
        index: usize,
        service: &ServiceConfig,
        now: Timestamp,
    ) -> Result<PageModel, StoreError> {
        let version = Version::current(app, service, now);
        let id = service.id.as_str();
        let now_ms = now.as_millisecond();
        // The form token needs the day's salt: loaded once a day, from the store.
        app.intake.salts.prepare(now_ms).await?;
        let chart = chart_data(
            app,
            service,
            now_ms,
            if service.public_changes {
                Markers::Public
            } else {
                Markers::None
            },
        )
        .await?;
        let last_hour = app.store.summary(id, now_ms - HOUR_MS).await?;
        let last_day = app.store.summary(id, now_ms - 24 * HOUR_MS).await?;
        let mut events = app
            .store
            .verdict_events(id, now_ms - FEED_DAYS * 24 * HOUR_MS, 200)
            .await?;
        events.retain(|e| e.series == "all");
        events.truncate(FEED_ENTRIES);
        // Cities over the same window as the other breakdowns.
        let city_window = if last_hour.total > 0 {
            HOUR_MS
        } else {
            24 * HOUR_MS
        };
        let top = app
            .store
            .top_cities(id, now_ms - city_window, CITY_ROWS)
            .await?;
        let cities = PublicCities::from_tallies(
            top.named,
            top.cities.iter().map(|c| CityTally {
                city: &c.city,
                country: c.country,
                reports: c.count,
                networks: c.networks,
            }),
            u64::from(app.config.load().reports.city_min_networks),
        );
        let (clusters, with_message) = downbeat_crowd::screen_messages(
            app.store.as_ref(),
            &app.config.get(),
            id,
            now_ms - city_window,
        )
        .await?;
        let messages = downbeat_crowd::message_shares(clusters, with_message)
            .into_iter()
            .map(|m| ScreenMessage {
                pct: ((m.share * 100.0).round() as u32).min(100),
                text: m.text,
            })
            .collect();
        let comments = if service.comments.is_on() {
            app.store
                .shown_comments(id, SHOWN_COMMENTS)
                .await?
                .into_iter()
                .map(|c| PublicComment {
                    text: c.text,
                    created_ms: c.created_ms,
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut model = PageModel::empty(app, index, service, now);
        let first_day = model
            .probes
            .first()
            .and_then(|p| p.uptime.first())
            .map_or(0, |d| d.day_ms);
        for p in &mut model.probes {
            let days = app.store.probe_days(&p.id, first_day).await?;
            add_days(&mut p.uptime, &days);
        }
        for c in &mut model.components {
            for p in model
                .probes
                .iter()
                .filter(|p| p.component.as_deref() == Some(c.id.as_str()))
            {
                for (day, add) in c.uptime.iter_mut().zip(&p.uptime) {
                    day.probes += add.probes;
                    day.failures += add.failures;
                }
            }
        }
        model.cities = cities;
        model.messages = messages;
        model.comments = comments;
        model.version = version;
        model.chart = chart;
        model.last_hour = last_hour;
        model.last_day = last_day;
        model.events = events;
        Ok(model)
    }

    /// A model from memory only (config and crowd status): what the pages show before the
    /// first load, and all they can show while the store is unreachable at start.
    pub fn empty(app: &App, index: usize, service: &ServiceConfig, now: Timestamp) -> PageModel {
        let service = service.clone();
        let crowd = app.crowd.status(&service);
        let regional = regional(&crowd);
        let probes = probes(app, &service, now);
        let official = incidents::snapshot(&app.incidents, service.id.as_str());
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
                uptime: empty_days(now),
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
                config: u64::MAX,
            },
            built_at: now,
            crowd,
            chart: ChartData {
                start_ms: end - CHART_BUCKETS as i64 * CHART_BUCKET_MS,
                bucket_ms: CHART_BUCKET_MS,
                counts: vec![0; CHART_BUCKETS],
                baseline: None,
                markers: Vec::new(),
            },
            last_hour: Summary::default(),
            last_day: Summary::default(),
            events: Vec::new(),
            regional,
            components,
            diagnosis: diagnosis::diagnose_public(&app.monitors, service.id.as_str(), now_ms),
            probes,
            cities: PublicCities::default(),
            messages: Vec::new(),
            comments: Vec::new(),
            official,
            form_token: app
                .intake
                .salts
                .form_token(service.id.as_str(), now_ms)
                .unwrap_or_default(),
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

pub use downbeat_incidents::severity;

/// The service's monitors with their states and latest results.
fn probes(app: &App, service: &ServiceConfig, now: Timestamp) -> Vec<ProbeModel> {
    app.config
        .load()
        .monitors
        .iter()
        .filter(|m| m.service == service.id)
        .map(|m| {
            let latest = app.monitors.latest(m.id.as_str());
            let (down, since_ms, cause) = app.monitors.state(m.id.as_str());
            ProbeModel {
                id: m.id.to_string(),
                kind: m.probe.kind().as_str(),
                component: m.component.as_ref().map(ToString::to_string),
                down: (down || !latest.is_empty()).then_some(down),
                since: since_ms.and_then(|ms| Timestamp::from_millisecond(ms).ok()),
                cause: if down { cause } else { None },
                regions: diagnosis::regions(&app.monitors, m, now.as_millisecond()),
                uptime: empty_days(now),
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

/// Which changes a chart marks, and in whose words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markers {
    None,
    /// The public's: kind and component name ([`public_change_words`]).
    Public,
    /// The operators': version and title too.
    Operator,
}

/// The 24-hour chart of a service as of `now_ms`: reports per 15 minutes (the current,
/// partial bucket last), the detector's usual range, and changes marked as `markers` says.
/// The public page and the admin area draw the same chart.
pub async fn chart_data(
    app: &App,
    service: &ServiceConfig,
    now_ms: i64,
    markers: Markers,
) -> Result<ChartData, StoreError> {
    let id = service.id.as_str();
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
    let markers = match markers {
        Markers::None => Vec::new(),
        m => app
            .store
            .service_changes(id, start, end, 50)
            .await?
            .into_iter()
            .rev()
            .map(|c| ChartMarker {
                at_ms: c.at_ms,
                label: if m == Markers::Public {
                    public_change_words(service, c.kind, c.component.as_deref())
                } else {
                    let change = c.change();
                    let mut words = format!("{} {}", c.kind, change.subject());
                    if let (Some(t), true) =
                        (&c.title, c.component.is_some() || c.version.is_some())
                    {
                        words.push_str(&format!(" — {t}"));
                    }
                    words
                },
            })
            .collect(),
    };
    Ok(ChartData {
        start_ms: start,
        bucket_ms: CHART_BUCKET_MS,
        counts,
        baseline: app
            .crowd
            .baselines(id, start, CHART_BUCKET_MS, CHART_BUCKETS, now_ms),
        markers,
    })
}

/// A change in public words: "Deploy of Login", "Rollback", "Configuration change of
/// Playback" — the kind and the component's public name, nothing an operator typed.
pub fn public_change_words(
    service: &ServiceConfig,
    kind: downbeat_domain::change::ChangeKind,
    component: Option<&str>,
) -> String {
    use downbeat_domain::change::ChangeKind;
    let what = match kind {
        ChangeKind::Deploy => "Deploy",
        ChangeKind::Config => "Configuration change",
        ChangeKind::FeatureFlag => "Feature flag change",
        ChangeKind::Infrastructure => "Infrastructure change",
        ChangeKind::Rollback => "Rollback",
    };
    match component.and_then(|c| service.components.iter().find(|k| k.id.as_str() == c)) {
        Some(c) => format!("{what} of {}", c.name),
        None => what.to_owned(),
    }
}
