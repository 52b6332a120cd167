//! Live crowd verdicts: every minute, the detector reads the minute that just ended.
//!
//! Each service has one series for all its reports and one per problem kind, platform and
//! country with volume. Reports are weighed by network first: a /24 (or /48) counts fully
//! for its first [`NETWORK_CAP`] reports of a minute and proportionally less after that, so
//! one client or one flooding network cannot fake an outage, while a real outage — many
//! networks at once — is unaffected.
//!
//! A dimension has at most [`MAX_SERIES_PER_DIMENSION`] slots, held by volume: a value
//! without one whose last hour averages more than [`EVICT_MARGIN`] times the usual volume of
//! the quietest holder without an open verdict takes that one's slot (its state is dropped),
//! so a few reports from many countries cannot keep a real regional outage out. A new series
//! first learns from the last [`HISTORY_MINUTES`] minutes, so it judges at once.
//!
//! Detector states are saved every few minutes and at shutdown, so a restart keeps the
//! baseline; the minutes missed while down are read back from the stored reports. A service
//! with no saved state learns from up to [`LEARN_FROM_DAYS`] days of stored reports before
//! judging the last hour (cold start: see the detector crate for its priors).
//!
//! A minute is read once, [`GRACE_MS`] after it ends. Its reports that commit later (a queue
//! backlog in a surge) are found by reading the last [`LATE_MINUTES`] minutes again, and count
//! in the minute being read when they are found: the detector stays causal (a judged minute
//! is never judged again) and misses none that commit within that time. (Across a restart,
//! the stored reports at the first run stand for what was read.)
//!
//! Every verdict change is stored as an event with its evidence, and the overall series'
//! changes are told (`crowd.verdict`). A change that cannot be stored or queued is retried
//! on the next run, and on start the latest change is queued again (the outbox sends an event
//! once), so a failure or a crash between the two loses nothing.
//!
//! With several nodes on one PostgreSQL, every node runs the detectors (they are
//! deterministic over the same stored reports, so every node shows the same verdict), but
//! only the holder of the `crowd` lease records events and saves state.
//!
//! [`Crowd`] is the stage's handle: the job calls [`run_once`], the outputs read
//! [`Crowd::status`] and [`Crowd::baselines`].
//!
//! # Layout
//! - this file: [`Crowd`], weighing by network, feeding the detectors, verdict events and
//!   their explanation, [`CrowdStatus`].
//! - [`seed`]: a baseline seeded from past counts.
//! - [`messages`]: the error texts listeners type, clustered for showing.

pub mod messages;
pub mod seed;

pub use seed::{SeedError, SeedSummary, seed_from_csv, seed_series_from_csv};

use downbeat_config::Raises;
use downbeat_config::{Config, ServiceConfig};
use downbeat_detect::{Assessment, Detector, DetectorConfig, Verdict};
use downbeat_domain::Clock;
use downbeat_domain::event::{CrowdVerdict, Event, Notice};
use downbeat_domain::{CountryCode, Platform};
use downbeat_notify::Notifier;
use downbeat_store::{DetectionStore, ReportStore, SignalStore};
use downbeat_store::{
    DetectorState, Fence, Hash16, NetworkMinute, SignalKind, StoreError, VerdictEvent,
};
use jiff::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::Deref;
use std::sync::{Arc, RwLock};

/// Reports per network per minute that count fully.
pub const NETWORK_CAP: f64 = 3.0;
/// Most sub-series per dimension (problem, platform, country) of a service: the slots that
/// values hold by volume.
pub const MAX_SERIES_PER_DIMENSION: usize = 50;
/// A minute is read this long after it ends, so reports committing at its edge are in.
pub const GRACE_MS: i64 = 5_000;
/// States are saved after this many minutes of new data (and at shutdown).
pub const SAVE_EVERY_MINUTES: u32 = 10;
/// A service without saved state learns from this much stored history.
pub const LEARN_FROM_DAYS: i64 = 7;
/// Minutes judged (not only learned) when catching up: the last hour.
pub const JUDGE_LAST_MINUTES: i64 = 60;
/// The lease that makes one node record events and save state.
pub const LEASE: &str = "crowd";
/// The lease outlives a few runs of the job, so a live leader keeps it.
pub const LEASE_TTL_MS: i64 = 60_000;
/// Minutes of breakdowns kept for explanations.
pub const RECENT_MINUTES: usize = 15;
/// Reports that commit up to this many minutes after their minute was read still count.
pub const LATE_MINUTES: usize = 15;
/// Minutes of per-series counts a series that gets a slot learns from before it judges:
/// twice the detector's warm-up, so it judges at once, its lean included.
pub const HISTORY_MINUTES: usize = 60;
/// A value takes the slot of the quietest calm holder of its dimension when its mean over
/// the last [`HISTORY_MINUTES`] is more than this many times that one's usual volume (a
/// margin, so two values of like volume do not take turns).
pub const EVICT_MARGIN: f64 = 2.0;

pub(crate) const MINUTE_MS: i64 = 60_000;
/// Catch-up reads at most this much history per store query.
const CHUNK_MS: i64 = 6 * 3_600_000;

/// One minute's weighed counts of a service.
#[derive(Debug, Clone, Default)]
struct MinuteCounts {
    total: f64,
    by: BTreeMap<String, f64>, // series key ("problem:login") -> weighed count
    networks: HashSet<Hash16>,
}

fn weigh(rows: &[NetworkMinute]) -> MinuteCounts {
    let mut per_network: HashMap<Hash16, u64> = HashMap::new();
    for r in rows {
        *per_network.entry(r.network_hash).or_default() += r.count;
    }
    let mut m = MinuteCounts::default();
    for r in rows {
        let n = per_network[&r.network_hash] as f64;
        let w = if n > NETWORK_CAP {
            NETWORK_CAP / n
        } else {
            1.0
        };
        let c = r.count as f64 * w;
        m.total += c;
        *m.by.entry(format!("problem:{}", r.problem)).or_default() += c;
        if let Some(p) = r.platform {
            *m.by.entry(format!("platform:{}", p.as_str())).or_default() += c;
        }
        if let Some(country) = r.country {
            *m.by
                .entry(format!("country:{}", country.as_str()))
                .or_default() += c;
        }
        m.networks.insert(r.network_hash);
    }
    m
}

/// The dimension of a series key ("country" for "country:GB"; "all" for "all").
fn dimension(key: &str) -> &str {
    key.split(':').next().unwrap_or("")
}

/// A stored row of a minute, without its count: what the count of a minute is kept per, to
/// find the reports that committed after the minute was read.
type RowKey = (Hash16, String, Option<Platform>, Option<CountryCode>);

fn row_key(r: &NetworkMinute) -> RowKey {
    (r.network_hash, r.problem.clone(), r.platform, r.country)
}

fn row_counts(rows: &[NetworkMinute]) -> HashMap<RowKey, u64> {
    rows.iter().map(|r| (row_key(r), r.count)).collect()
}

struct Series {
    detector: Detector,
    last: Option<Assessment>,
}

/// A verdict change to store and, for the overall series, to tell.
struct Change {
    event: VerdictEvent,
    /// Whether `event` is stored.
    recorded: bool,
    notice: Option<Notice>,
}

/// A service's detectors and recent minutes.
struct Watch {
    /// The start of the last minute fed, or None before the first run.
    through_ms: Option<i64>,
    series: BTreeMap<String, Series>,
    recent: VecDeque<(i64, MinuteCounts)>,
    /// Weighed counts per series of the last [`HISTORY_MINUTES`] minutes fed, oldest first.
    history: VecDeque<(i64, BTreeMap<String, f64>)>,
    /// Stored counts per row of the last [`LATE_MINUTES`] minutes fed (every minute, empty
    /// ones too), oldest first.
    seen: VecDeque<(i64, HashMap<RowKey, u64>)>,
    /// Series that lost their slot since the last save: their saved states go at the next.
    evicted: BTreeSet<String>,
    /// Changes not yet stored or told, oldest first.
    pending: VecDeque<Change>,
    unsaved: u32,
    /// What listeners' screens said over the last [`RECENT_MINUTES`], read each round.
    messages: Vec<MessageShare>,
    /// Posts per external source of the last [`HISTORY_MINUTES`] minutes fed, oldest first.
    signal_history: VecDeque<(i64, BTreeMap<String, f64>)>,
    /// The stored posts of the last hour fed per source and problem kind, read each round.
    signal_kinds: Vec<SignalKind>,
    /// The service's verdict: the crowd's (series `all`) as its sources of signals may raise
    /// it ([`overall_verdict`]), and since when (unix seconds). None before the first minute.
    overall: Option<(Verdict, i64)>,
}

/// The crowd side of a service, as `/status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CrowdStatus {
    pub service: String,
    pub name: String,
    pub verdict: Verdict,
    /// When the current verdict began (None before any data).
    pub since: Option<Timestamp>,
    /// The minute the figures describe.
    pub as_of: Option<Timestamp>,
    pub observed: f64,
    pub expected: f64,
    pub lower: f64,
    pub upper: f64,
    pub score: f64,
    pub explanation: String,
    /// Shares of the last minutes' reports, largest first.
    pub breakdown: Breakdown,
    /// Distinct networks reporting in the last minutes.
    pub networks: usize,
    /// Sub-series (a problem, platform or country) whose own verdict is not "no problems".
    pub hot_series: Vec<SeriesStatus>,
    /// The service's external sources of signals, in configuration order.
    pub signals: Vec<SignalStatus>,
}

/// An external source's posts, as `/status` and the page show them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalStatus {
    pub source: String,
    /// The source's configured name (untrusted text for pages: escape it).
    pub name: String,
    /// `corroborate` or `alone`: whether its verdict may raise the service's on its own.
    pub raises: &'static str,
    /// Its own series' verdict.
    pub verdict: Verdict,
    /// Posts in the last hour fed.
    pub last_hour: u64,
    /// Posts usual for that hour, by its series' model.
    pub usual_hour: f64,
    /// `last_hour / usual_hour`, while anything is usual.
    pub ratio: Option<f64>,
    /// What its posts of that hour are about, most first: the problem kinds with at least
    /// [`KIND_MIN_POSTS`] posts and [`KIND_MIN_PERCENT`] of them.
    pub kinds: Vec<KindShare>,
}

/// A problem kind's share of a source's posts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindShare {
    /// The kind's id (`login`).
    pub kind: String,
    /// Its label among the service's problem kinds ("Login"; the id for a kind the service
    /// no longer offers).
    pub label: String,
    /// Of the source's posts with text in the hour, rounded: counts carry no text, so they
    /// are not in it.
    pub percent: u32,
}

/// A kind with fewer of a source's posts in the hour is not named: a post or two says
/// little.
pub const KIND_MIN_POSTS: u64 = 3;
/// A kind with a smaller share of a source's posts is not named.
pub const KIND_MIN_PERCENT: u64 = 10;

/// The series key of an external source.
pub fn signal_series(source: &str) -> String {
    format!("signal:{source}")
}

/// The service's verdict from the crowd's and its sources': a source that raises `alone`
/// lifts it to its own verdict; one that may only `corroborate` lifts a crowd that already
/// sees possible problems to problems when it sees problems itself. Chatter alone, which
/// anyone can stir up, moves nothing unless the operator said it may.
pub fn overall_verdict(crowd: Verdict, sources: &[(Raises, Verdict)]) -> Verdict {
    sources
        .iter()
        .fold(crowd, |v, &(raises, own)| match raises {
            Raises::Alone => v.max(own),
            Raises::Corroborate
                if crowd >= Verdict::PossibleProblems && own == Verdict::Problems =>
            {
                Verdict::Problems
            }
            Raises::Corroborate => v,
        })
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Breakdown {
    pub problems: Vec<Share>,
    pub platforms: Vec<Share>,
    pub countries: Vec<Share>,
    /// What listeners' screens say, clustered (see [`messages`]): only what enough
    /// networks typed; shares of the reports that carried a message.
    pub messages: Vec<MessageShare>,
}

/// A clustered message and its share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageShare {
    /// Untrusted text: escape it where it is shown.
    pub text: String,
    pub share: f64,
}

/// Most messages a breakdown carries.
pub const TOP_MESSAGES: usize = 5;

/// What listeners' screens say: the messages of a service's counted reports since
/// `since_ms`, clustered ([`messages::clusters`]) under `reports.message_min_networks` and
/// `reports.message_blocked_words`, most reported first; with how many reports carried a
/// message (shown or not), the base of every share.
pub async fn screen_messages(
    reports: &dyn ReportStore,
    config: &Config,
    service: &str,
    since_ms: i64,
) -> Result<(Vec<messages::Cluster>, u64), StoreError> {
    let hidden = reports.hidden_messages(service).await?;
    read_messages(
        reports,
        config,
        service,
        since_ms,
        hidden.into_iter().collect(),
    )
    .await
}

/// For operators: every cluster [`screen_messages`] would show, the hidden ones included,
/// and the keys of those hidden.
pub async fn message_clusters_for_operators(
    reports: &dyn ReportStore,
    config: &Config,
    service: &str,
    since_ms: i64,
) -> Result<(Vec<messages::Cluster>, BTreeSet<String>), StoreError> {
    let hidden: BTreeSet<String> = reports
        .hidden_messages(service)
        .await?
        .into_iter()
        .collect();
    let (clusters, _) = read_messages(reports, config, service, since_ms, BTreeSet::new()).await?;
    Ok((clusters, hidden))
}

async fn read_messages(
    reports: &dyn ReportStore,
    config: &Config,
    service: &str,
    since_ms: i64,
    hidden: BTreeSet<String>,
) -> Result<(Vec<messages::Cluster>, u64), StoreError> {
    let rows = reports.report_messages(service, since_ms).await?;
    let sightings: Vec<messages::Sighting<'_>> = rows
        .iter()
        .map(|r| messages::Sighting {
            text: &r.text,
            network: r.network_hash,
            at_ms: r.at_ms,
        })
        .collect();
    let rules = messages::Rules {
        min_networks: config.reports.message_min_networks as usize,
        blocked_words: config.reports.message_blocked_words.clone(),
        hidden,
    };
    Ok((messages::clusters(&sightings, &rules), rows.len() as u64))
}

/// The top clusters as shares of the reports with a message, rounded to 0.1 %.
pub fn message_shares(clusters: Vec<messages::Cluster>, with_message: u64) -> Vec<MessageShare> {
    clusters
        .into_iter()
        .take(TOP_MESSAGES)
        .map(|c| MessageShare {
            share: (c.count as f64 / with_message.max(1) as f64 * 1000.0).round() / 1000.0,
            text: c.text,
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Share {
    pub id: String,
    pub label: String,
    pub share: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeriesStatus {
    pub series: String,
    pub label: String,
    pub verdict: Verdict,
    pub since: Option<Timestamp>,
    pub observed: f64,
    pub expected: f64,
    pub score: f64,
}

/// The crowd stage's handle: every service's detectors (the job feeds them, handlers read
/// the latest snapshots) and what they need. Cheap to clone.
#[derive(Clone)]
pub struct Crowd {
    inner: Arc<Inner>,
}

pub struct Inner {
    pub config: downbeat_config::Live,
    /// Where the minute counts come from.
    pub reports: Arc<dyn ReportStore>,
    /// Where detector states, verdict events and the lease live.
    pub detection: Arc<dyn DetectionStore>,
    /// Where external signals' minute counts come from.
    pub signals: Arc<dyn SignalStore>,
    pub clock: Arc<dyn Clock>,
    /// This process's name in leases.
    pub node_id: Arc<str>,
    pub notifier: Notifier,
    watches: tokio::sync::Mutex<HashMap<String, Watch>>,
    snapshots: RwLock<HashMap<String, Arc<CrowdStatus>>>,
    /// A copy of each service's overall detector as of its latest snapshot, for baselines
    /// at other times (charts) without waiting for the job's lock.
    models: RwLock<HashMap<String, Arc<Detector>>>,
}

impl Deref for Crowd {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl Crowd {
    pub fn new(
        config: downbeat_config::Live,
        reports: Arc<dyn ReportStore>,
        detection: Arc<dyn DetectionStore>,
        signals: Arc<dyn SignalStore>,
        clock: Arc<dyn Clock>,
        node_id: Arc<str>,
        notifier: Notifier,
    ) -> Crowd {
        Crowd {
            inner: Arc::new(Inner {
                config,
                reports,
                detection,
                signals,
                clock,
                node_id,
                notifier,
                watches: tokio::sync::Mutex::new(HashMap::new()),
                snapshots: RwLock::new(HashMap::new()),
                models: RwLock::new(HashMap::new()),
            }),
        }
    }
}

/// The usual number of reports in one time bucket, by the overall detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BucketBaseline {
    pub start_ms: i64,
    /// Minutes of the bucket the figures cover (fewer than the bucket's for the current,
    /// partial one).
    pub minutes: u32,
    /// The sum of the per-minute expected counts.
    pub expected: f64,
    /// The sums of the per-minute band edges: the range where the bucket stays when every
    /// one of its minutes is within its own normal band (what the detector judges).
    pub lower: f64,
    pub upper: f64,
}

impl Crowd {
    /// The latest status of a service (a calm one before the first run).
    pub fn status(&self, service: &ServiceConfig) -> Arc<CrowdStatus> {
        let snaps = self.snapshots.read().unwrap_or_else(|e| e.into_inner());
        snaps
            .get(service.id.as_str())
            .cloned()
            .unwrap_or_else(|| Arc::new(empty_status(service)))
    }

    /// The usual range of the service's reports in each of `buckets` buckets of `bucket_ms`
    /// from `start_ms`, counting only minutes that start before `until_ms`: the current
    /// model's seasonal baseline (time of day and of week, current level) evaluated at every
    /// minute and summed per bucket. It is today's idea of what was usual then, not a
    /// record of what the detector expected at the time; outage minutes teach the model
    /// next to nothing (they are clipped to the band), so an outage does not raise its own
    /// baseline. `None` before the detector has a model or while it is warming up.
    ///
    /// The detector reads reports weighed by network (see [`NETWORK_CAP`]); for a crowd of
    /// many networks that is the plain count.
    pub fn baselines(
        &self,
        service: &str,
        start_ms: i64,
        bucket_ms: i64,
        buckets: usize,
        until_ms: i64,
    ) -> Option<Vec<BucketBaseline>> {
        let model = self
            .models
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(service)
            .cloned()?;
        if model.warming_up() {
            return None;
        }
        let per = (bucket_ms / MINUTE_MS).max(1);
        Some(
            (0..buckets as i64)
                .map(|i| {
                    let start = start_ms + i * per * MINUTE_MS;
                    let mut b = BucketBaseline {
                        start_ms: start,
                        minutes: 0,
                        expected: 0.0,
                        lower: 0.0,
                        upper: 0.0,
                    };
                    for k in 0..per {
                        let t = start + k * MINUTE_MS;
                        if t >= until_ms {
                            break;
                        }
                        let p = model.baseline(t.div_euclid(1000));
                        b.minutes += 1;
                        b.expected += p.expected.max(0.0);
                        b.lower += p.lower.max(0.0);
                        b.upper += p.upper.max(0.0);
                    }
                    b
                })
                .collect(),
        )
    }
}

fn empty_status(service: &ServiceConfig) -> CrowdStatus {
    CrowdStatus {
        service: service.id.to_string(),
        name: service.name.clone(),
        verdict: Verdict::NoProblems,
        since: None,
        as_of: None,
        observed: 0.0,
        expected: 0.0,
        lower: 0.0,
        upper: 0.0,
        score: 0.0,
        explanation: "No reports yet.".into(),
        breakdown: Breakdown::default(),
        networks: 0,
        hot_series: Vec::new(),
        signals: Vec::new(),
    }
}

fn ts(ms: i64) -> Option<Timestamp> {
    Timestamp::from_millisecond(ms).ok()
}

/// Feeds every complete minute up to `now` to every service's detectors, records verdict
/// changes, saves state now and then, and refreshes the status snapshots.
#[tracing::instrument(name = "crowd minute", skip_all)]
pub async fn run_once(crowd: &Crowd, now: Timestamp) -> Result<(), StoreError> {
    let mut watches = crowd.watches.lock().await;
    // The leader's writes carry the lease's fencing token: if it lost the lease while
    // paused, they are refused rather than doubled.
    let fence = crowd
        .detection
        .try_lease(LEASE, &crowd.node_id, now.as_millisecond(), LEASE_TTL_MS)
        .await?;
    let leader = fence.is_some();
    for service in &crowd.config.get().services {
        let key = service.id.to_string();
        if !watches.contains_key(&key) {
            let mut w = load_watch(crowd, service).await?;
            // A crash between storing a change and queueing it would lose the news: queue the
            // latest again (the outbox sends an event once).
            let latest = latest_change(crowd, service, now.as_millisecond()).await?;
            // The service's verdict as last told, which the sources of signals may have
            // raised above the crowd's: not told again as a change after a restart.
            w.overall = latest
                .as_ref()
                .map(|c| (c.event.verdict, c.event.at_ms.div_euclid(1000)));
            w.pending.extend(latest);
            watches.insert(key.clone(), w);
        }
        let watch = watches.get_mut(&key).expect("inserted above");
        advance(crowd, service, watch, now.as_millisecond(), leader).await?;
        flush(crowd, watch, now.as_millisecond(), fence.as_ref()).await;
        if let Some(fence) = &fence
            && watch.unsaved >= SAVE_EVERY_MINUTES
        {
            save(crowd, service.id.as_str(), watch, fence).await?;
        }
        let snapshot = Arc::new(snapshot(service, watch));
        if let Some(all) = watch.series.get("all") {
            crowd
                .models
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.clone(), Arc::new(all.detector.clone()));
        }
        crowd
            .snapshots
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, snapshot);
    }
    Ok(())
}

/// Saves every service's detector state (at shutdown).
pub async fn save_all(crowd: &Crowd) -> Result<(), StoreError> {
    let mut watches = crowd.watches.lock().await;
    let now = crowd.clock.now().as_millisecond();
    let Some(fence) = crowd
        .detection
        .try_lease(LEASE, &crowd.node_id, now, LEASE_TTL_MS)
        .await?
    else {
        return Ok(());
    };
    for (service, watch) in watches.iter_mut() {
        // A last try at the changes not yet stored or told (on start, the latest is told
        // again anyway).
        flush(crowd, watch, now, Some(&fence)).await;
        save(crowd, service, watch, &fence).await?;
    }
    Ok(())
}

async fn load_watch(crowd: &Crowd, service: &ServiceConfig) -> Result<Watch, StoreError> {
    let mut series = BTreeMap::new();
    let mut through: Option<i64> = None;
    for s in crowd.detection.detector_states(service.id.as_str()).await? {
        match serde_json::from_str::<Detector>(&s.state) {
            Ok(detector) => {
                through =
                    Some(through.map_or(s.through_minute_ms, |t: i64| t.min(s.through_minute_ms)));
                series.insert(
                    s.series,
                    Series {
                        detector,
                        last: None,
                    },
                );
            }
            // A state this binary cannot read is relearned rather than fatal.
            Err(e) => {
                tracing::warn!(service = %service.id, series = %s.series, error = %e, "discarding unreadable detector state")
            }
        }
    }
    let mut watch = Watch {
        through_ms: through,
        series,
        recent: VecDeque::new(),
        history: VecDeque::new(),
        seen: VecDeque::new(),
        evicted: BTreeSet::new(),
        pending: VecDeque::new(),
        unsaved: 0,
        messages: Vec::new(),
        signal_history: VecDeque::new(),
        signal_kinds: Vec::new(),
        overall: None,
    };
    // Sources no longer configured.
    let gone: Vec<String> = watch
        .series
        .keys()
        .filter(|k| {
            k.strip_prefix("signal:")
                .is_some_and(|source| service.signal_source(source).is_none())
        })
        .cloned()
        .collect();
    for k in gone {
        watch.series.remove(&k);
        watch.evicted.insert(k);
    }
    if let Some(through) = through {
        // States saved when the slots were otherwise, or not deleted after an eviction.
        let t = through / 1000;
        let dims: BTreeSet<String> = watch
            .series
            .keys()
            .map(|k| dimension(k).to_owned())
            .collect();
        for dim in dims.into_iter().filter(|d| d != "signal") {
            let mut holders: Vec<(f64, String)> = watch
                .series
                .iter()
                .filter(|(k, _)| k.as_str() != "all" && dimension(k) == dim)
                .map(|(k, s)| (s.detector.baseline(t).expected, k.clone()))
                .collect();
            holders.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
            let excess = holders.len().saturating_sub(MAX_SERIES_PER_DIMENSION);
            for (_, k) in holders.into_iter().take(excess) {
                watch.series.remove(&k);
                watch.evicted.insert(k);
            }
        }
        // The minutes before the saved state, for new series to learn from and to find
        // their late reports.
        let from = through - (HISTORY_MINUTES as i64 - 1) * MINUTE_MS;
        let rows = crowd
            .reports
            .network_minutes(service.id.as_str(), from, through + MINUTE_MS)
            .await?;
        let mut by_minute: BTreeMap<i64, Vec<NetworkMinute>> = BTreeMap::new();
        for r in rows {
            by_minute.entry(r.minute_ms).or_default().push(r);
        }
        let mut m = from;
        while m <= through {
            let rows = by_minute.remove(&m).unwrap_or_default();
            keep_seen(&mut watch, m, row_counts(&rows));
            keep_history(&mut watch, m, weigh(&rows).by);
            m += MINUTE_MS;
        }
    }
    Ok(watch)
}

/// Keeps the counts of a minute's stored rows, to find the reports that commit later.
fn keep_seen(watch: &mut Watch, minute_ms: i64, seen: HashMap<RowKey, u64>) {
    watch.seen.push_back((minute_ms, seen));
    while watch.seen.len() > LATE_MINUTES {
        watch.seen.pop_front();
    }
}

/// Keeps a minute's weighed counts per series, for new series to learn from.
fn keep_history(watch: &mut Watch, minute_ms: i64, by: BTreeMap<String, f64>) {
    watch.history.push_back((minute_ms, by));
    while watch.history.len() > HISTORY_MINUTES {
        watch.history.pop_front();
    }
}

/// The reports of minutes already read that committed since (counts above those seen then),
/// moved to minute `into_ms`; what was seen is updated.
async fn late_rows(
    crowd: &Crowd,
    service: &ServiceConfig,
    watch: &mut Watch,
    into_ms: i64,
) -> Result<Vec<NetworkMinute>, StoreError> {
    let Some(&(from, _)) = watch.seen.front() else {
        return Ok(Vec::new());
    };
    let rows = crowd
        .reports
        .network_minutes(service.id.as_str(), from, into_ms)
        .await?;
    let mut late = Vec::new();
    for mut r in rows {
        let Some((_, seen)) = watch.seen.iter_mut().find(|(m, _)| *m == r.minute_ms) else {
            continue;
        };
        let before = seen.entry(row_key(&r)).or_insert(0);
        if r.count > *before {
            let new = r.count - *before;
            *before = r.count;
            r.count = new;
            r.minute_ms = into_ms;
            late.push(r);
        }
    }
    Ok(late)
}

/// The latest change of the overall series within `[notify] give_up_after`, stored and to be
/// told again.
async fn latest_change(
    crowd: &Crowd,
    service: &ServiceConfig,
    now_ms: i64,
) -> Result<Option<Change>, StoreError> {
    let since = now_ms - crowd.config.load().notify.give_up_after.as_millis();
    let events = crowd
        .detection
        .verdict_events(service.id.as_str(), since, 500)
        .await?;
    Ok(events.into_iter().find(|e| e.series == "all").map(|event| {
        let notice = notice_of(&event);
        Change {
            event,
            recorded: true,
            notice: Some(notice),
        }
    }))
}

/// The `crowd.verdict` notice of an overall change.
fn notice_of(e: &VerdictEvent) -> Notice {
    let change = Event::CrowdVerdict(CrowdVerdict {
        verdict: e.verdict,
        previous: e.previous,
        explanation: e.explanation.clone(),
    });
    Notice::new(&e.service, e.at_ms, change)
}

/// Stores and tells the pending changes, oldest first. A failure keeps the change and those
/// after it for the next run (it is logged, not returned: the status still refreshes); a
/// change that still fails after `[notify] give_up_after` is dropped, as the outbox would
/// give up on it. A change is stored only under the crowd lease (`fence`): one this node
/// decided while it led but could not store before it lost the lease is dropped, since the
/// new leader judges the same minutes itself.
async fn flush(crowd: &Crowd, watch: &mut Watch, now_ms: i64, fence: Option<&Fence>) {
    let give_up_ms = crowd.config.load().notify.give_up_after.as_millis();
    while let Some(c) = watch.pending.front_mut() {
        let stale = c.event.at_ms < now_ms - give_up_ms;
        if !c.recorded {
            let Some(fence) = fence else {
                tracing::info!(service = %c.event.service, series = %c.event.series,
                    "another node leads crowd detection now; leaving this change to it");
                watch.pending.pop_front();
                continue;
            };
            if let Err(e) = crowd
                .detection
                .insert_verdict_event(c.event.clone(), Some(fence))
                .await
            {
                if matches!(e, StoreError::Conflict(_)) {
                    tracing::warn!(service = %c.event.service, error = %e,
                        "lost the crowd lease; the new leader judges these minutes");
                    watch.pending.clear();
                    return;
                }
                if stale {
                    tracing::error!(service = %c.event.service, series = %c.event.series, error = %e, "giving up storing a verdict change");
                    watch.pending.pop_front();
                    continue;
                }
                tracing::warn!(service = %c.event.service, series = %c.event.series, error = %e, "could not store a verdict change; will retry");
                return;
            }
            c.recorded = true;
        }
        if let Some(notice) = &c.notice
            && let Err(e) = crowd.notifier.enqueue(notice.clone()).await
        {
            if !stale {
                tracing::warn!(event = %notice.id(), error = %e, "could not queue a verdict change; will retry");
                return;
            }
            tracing::error!(event = %notice.id(), error = %e, "giving up queueing a verdict change");
        }
        watch.pending.pop_front();
    }
}

/// Feeds the minutes after the last one fed up to the last complete one.
async fn advance(
    crowd: &Crowd,
    service: &ServiceConfig,
    watch: &mut Watch,
    now_ms: i64,
    leader: bool,
) -> Result<(), StoreError> {
    // The last complete minute: it ended at least GRACE_MS ago.
    let last_complete = (now_ms - GRACE_MS).div_euclid(MINUTE_MS) * MINUTE_MS - MINUTE_MS;
    let first = match watch.through_ms {
        Some(t) => t + MINUTE_MS,
        None => {
            let from = last_complete - LEARN_FROM_DAYS * 86_400_000;
            // Start where the data starts, not days of zeros before the first report or
            // the first post of a source (a poller may have read posts before anyone
            // reported).
            let rows = crowd
                .reports
                .network_minutes(service.id.as_str(), from, last_complete + MINUTE_MS)
                .await?;
            let posts = if service.signals.is_empty() {
                Vec::new()
            } else {
                crowd
                    .signals
                    .signal_minutes(service.id.as_str(), from, last_complete + MINUTE_MS)
                    .await?
            };
            let reported = rows.iter().map(|r| r.minute_ms);
            match reported.chain(posts.iter().map(|p| p.minute_ms)).min() {
                Some(m) => m,
                None => last_complete,
            }
        }
    };
    if first > last_complete {
        return Ok(());
    }
    let judge_from = last_complete - (JUDGE_LAST_MINUTES - 1) * MINUTE_MS;
    let (clusters, with_message) = screen_messages(
        crowd.reports.as_ref(),
        &crowd.config.get(),
        service.id.as_str(),
        last_complete + MINUTE_MS - RECENT_MINUTES as i64 * MINUTE_MS,
    )
    .await?;
    watch.messages = message_shares(clusters, with_message);
    if !service.signals.is_empty() {
        let until = last_complete + MINUTE_MS;
        watch.signal_kinds = crowd
            .signals
            .signal_kinds(
                service.id.as_str(),
                until - HISTORY_MINUTES as i64 * MINUTE_MS,
                until,
            )
            .await?;
    }
    // Reports that committed after their minute was read count in the first minute read now:
    // late, but never in a minute already judged.
    let mut late = late_rows(crowd, service, watch, first).await?;
    let mut chunk_start = first.max(last_complete - LEARN_FROM_DAYS * 86_400_000);
    while chunk_start <= last_complete {
        let chunk_end = (chunk_start + CHUNK_MS).min(last_complete + MINUTE_MS);
        let rows = crowd
            .reports
            .network_minutes(service.id.as_str(), chunk_start, chunk_end)
            .await?;
        let mut by_minute: BTreeMap<i64, Vec<NetworkMinute>> = BTreeMap::new();
        for r in rows {
            by_minute.entry(r.minute_ms).or_default().push(r);
        }
        let mut signals: BTreeMap<i64, BTreeMap<String, f64>> = BTreeMap::new();
        if !service.signals.is_empty() {
            for s in crowd
                .signals
                .signal_minutes(service.id.as_str(), chunk_start, chunk_end)
                .await?
            {
                signals
                    .entry(s.minute_ms)
                    .or_default()
                    .insert(s.source, s.count as f64);
            }
        }
        let mut m = chunk_start;
        while m < chunk_end {
            let mut rows = by_minute.remove(&m).unwrap_or_default();
            let seen = row_counts(&rows);
            rows.append(&mut late);
            keep_seen(watch, m, seen);
            let posts = signals.remove(&m).unwrap_or_default();
            feed(
                service,
                watch,
                m,
                weigh(&rows),
                posts,
                m >= judge_from,
                leader,
            );
            m += MINUTE_MS;
        }
        chunk_start = chunk_end;
    }
    Ok(())
}

/// Gives slots to values with volume this minute that have none: a free slot of their
/// dimension, or the one of its quietest calm holder when they are busier by
/// [`EVICT_MARGIN`] (busiest first). A new series learns from the minutes in `history`.
fn give_slots(watch: &mut Watch, counts: &MinuteCounts, t: i64) {
    let minutes = watch.history.len() as f64 + 1.0;
    let mut newcomers: Vec<(&str, f64)> = counts
        .by
        .iter()
        .filter(|(k, v)| **v >= 1.0 && !watch.series.contains_key(*k))
        .map(|(k, v)| {
            let before: f64 = watch.history.iter().filter_map(|(_, by)| by.get(k)).sum();
            (k.as_str(), (before + v) / minutes)
        })
        .collect();
    newcomers.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    for (key, volume) in newcomers {
        let dim = dimension(key);
        let holders = watch.series.keys().filter(|k| dimension(k) == dim).count();
        if holders >= MAX_SERIES_PER_DIMENSION {
            // An open verdict keeps its slot: an outage is not forgotten mid-way.
            let weakest = watch
                .series
                .iter()
                .filter(|(k, s)| dimension(k) == dim && s.detector.verdict() == Verdict::NoProblems)
                .map(|(k, s)| (s.detector.baseline(t).expected.max(0.0), k))
                .min_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
            match weakest {
                Some((usual, k)) if volume > EVICT_MARGIN * usual => {
                    let k = k.clone();
                    tracing::debug!(series = %k, by = key, "series lost its slot");
                    watch.series.remove(&k);
                    watch.evicted.insert(k);
                }
                _ => continue,
            }
        }
        let mut detector = Detector::new(DetectorConfig::for_counts());
        for (m, by) in &watch.history {
            detector.warm_up(m / 1000, by.get(key).copied().unwrap_or(0.0));
        }
        watch.evicted.remove(key);
        watch.series.insert(
            key.to_owned(),
            Series {
                detector,
                last: None,
            },
        );
    }
}

/// Feeds one minute to every series of the service, queueing the verdict changes.
fn feed(
    service: &ServiceConfig,
    watch: &mut Watch,
    minute_ms: i64,
    counts: MinuteCounts,
    posts: BTreeMap<String, f64>,
    judge: bool,
    leader: bool,
) {
    let t = minute_ms / 1000;
    give_slots(watch, &counts, t);
    for key in std::iter::once("all".to_owned()).chain(
        service
            .signals
            .iter()
            .map(|s| signal_series(s.source.as_str())),
    ) {
        watch.series.entry(key).or_insert_with(|| Series {
            detector: Detector::new(DetectorConfig::for_counts()),
            last: None,
        });
    }
    let mut changes = Vec::new();
    for (key, s) in watch.series.iter_mut() {
        let v = if key == "all" {
            counts.total
        } else if let Some(source) = key.strip_prefix("signal:") {
            posts.get(source).copied().unwrap_or(0.0)
        } else {
            counts.by.get(key).copied().unwrap_or(0.0)
        };
        let a = if judge {
            s.detector.observe(t, v)
        } else {
            s.detector.warm_up(t, v)
        };
        // The service's own changes follow its overall verdict (below).
        if judge && leader && a.changed && key != "all" {
            changes.push((key.clone(), a));
        }
        s.last = Some(a);
    }
    watch.signal_history.push_back((minute_ms, posts));
    while watch.signal_history.len() > HISTORY_MINUTES {
        watch.signal_history.pop_front();
    }
    if let Some(a) = overall_assessment(service, watch) {
        let before = watch.overall.map_or(a.previous, |(v, _)| v);
        let since = match watch.overall {
            Some((v, since)) if v == a.verdict => since,
            _ if a.verdict == before => a.verdict_since,
            _ => t,
        };
        watch.overall = Some((a.verdict, since));
        if judge && leader && a.verdict != before {
            changes.push((
                "all".to_owned(),
                Assessment {
                    previous: before,
                    verdict_since: since,
                    changed: true,
                    ..a
                },
            ));
        }
    }
    keep_history(watch, minute_ms, counts.by.clone());
    watch.recent.push_back((minute_ms, counts));
    while watch.recent.len() > RECENT_MINUTES {
        watch.recent.pop_front();
    }
    watch.through_ms = Some(minute_ms);
    watch.unsaved += 1;
    for (key, a) in changes {
        let breakdown = breakdown(service, watch);
        let signals = signal_statuses(service, watch);
        let explanation = if key == "all" {
            explain_overall(service, watch, &breakdown, &signals)
        } else {
            explain(service, &a, &breakdown, &key)
        };
        let evidence = serde_json::json!({
            "observed": a.value, "expected": a.expected, "lower": a.lower, "upper": a.upper,
            "score": a.score, "ratio": a.ratio(),
            "verdict_since": ts(a.verdict_since * 1000),
            "breakdown": breakdown,
            "networks": distinct_networks(&watch.recent),
            "signals": signals,
        });
        let event = VerdictEvent {
            id: 0,
            service: service.id.to_string(),
            series: key.clone(),
            at_ms: minute_ms,
            verdict: a.verdict,
            previous: a.previous,
            score: a.score,
            observed: a.value,
            expected: a.expected,
            explanation,
            evidence,
        };
        let notice = (key == "all").then(|| {
            tracing::info!(service = %service.id, verdict = a.verdict.as_str(), explanation = %event.explanation, "crowd verdict changed");
            notice_of(&event)
        });
        watch.pending.push_back(Change {
            event,
            recorded: false,
            notice,
        });
    }
}

async fn save(
    crowd: &Crowd,
    service: &str,
    watch: &mut Watch,
    fence: &Fence,
) -> Result<(), StoreError> {
    let Some(through) = watch.through_ms else {
        return Ok(());
    };
    if !watch.evicted.is_empty() {
        let gone = watch.evicted.iter().cloned().collect();
        crowd
            .detection
            .delete_detector_states(service, gone)
            .await?;
        watch.evicted.clear();
    }
    let states = watch
        .series
        .iter()
        .filter_map(|(k, s)| {
            serde_json::to_string(&s.detector)
                .ok()
                .map(|state| DetectorState {
                    series: k.clone(),
                    state,
                    through_minute_ms: through,
                })
        })
        .collect();
    crowd
        .detection
        .save_detector_states(service, states, Some(fence))
        .await?;
    watch.unsaved = 0;
    Ok(())
}

fn distinct_networks(recent: &VecDeque<(i64, MinuteCounts)>) -> usize {
    let mut all = HashSet::new();
    for (_, m) in recent {
        all.extend(m.networks.iter().copied());
    }
    all.len()
}

fn label_of(service: &ServiceConfig, key: &str) -> String {
    let (dim, id) = key.split_once(':').unwrap_or(("", key));
    match dim {
        "problem" => service
            .offers(id)
            .map_or_else(|| id.to_owned(), |p| p.label.clone()),
        "platform" => id
            .parse::<Platform>()
            .map_or_else(|_| id.to_owned(), |p| p.label().to_owned()),
        "country" => CountryCode::parse(id).map_or_else(|_| id.to_owned(), |c| c.name().to_owned()),
        "signal" => service.signal_source(id).map_or_else(
            || format!("Posts on {id}"),
            |s| format!("Posts on {}", s.name),
        ),
        _ => "All reports".to_owned(),
    }
}

fn breakdown(service: &ServiceConfig, watch: &Watch) -> Breakdown {
    let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
    let mut total = 0.0;
    for (_, m) in &watch.recent {
        total += m.total;
        for (k, v) in &m.by {
            *sums.entry(k.as_str()).or_default() += v;
        }
    }
    let shares = |dim: &str| {
        let mut v: Vec<Share> = sums
            .iter()
            .filter(|(k, _)| k.split(':').next() == Some(dim))
            .map(|(k, &n)| Share {
                id: k.split_once(':').map_or(*k, |(_, id)| id).to_owned(),
                label: label_of(service, k),
                share: if total > 0.0 { n / total } else { 0.0 },
            })
            .collect();
        v.sort_by(|a, b| b.share.total_cmp(&a.share).then_with(|| a.id.cmp(&b.id)));
        v.truncate(10);
        v
    };
    Breakdown {
        problems: shares("problem"),
        platforms: shares("platform"),
        countries: shares("country"),
        messages: watch.messages.clone(),
    }
}

/// Plain words: "reports 14× the usual for a Tuesday at 20:00, for 6 minutes; 71% login;
/// 65% mobile app".
fn explain(service: &ServiceConfig, a: &Assessment, b: &Breakdown, key: &str) -> String {
    // What is counted: reports (of a sub-series), or an external source's posts.
    let who = if key == "all" {
        "reports".to_owned()
    } else if key.starts_with("signal:") {
        label_of(service, key).to_lowercase()
    } else {
        format!("reports ({})", label_of(service, key))
    };
    if a.verdict == Verdict::NoProblems {
        return capitalised(format!(
            "{who} at the usual level: {:.0} in the last minute, about {:.0} expected.",
            a.value, a.expected
        ));
    }
    let when = Timestamp::from_second(a.t)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC))
        .ok();
    let usual = match when {
        Some(z) => format!(
            "the usual for a {} at {:02}:{:02} UTC",
            z.strftime("%A"),
            z.hour(),
            z.minute()
        ),
        None => "the usual".into(),
    };
    let minutes = (a.verdict_for_s() / 60).max(1);
    let mut s = if a.expected >= 1.0 {
        format!(
            "{who} {:.0}× {usual}, for {minutes} minute{}",
            a.value / a.expected,
            if minutes == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "{who}: {:.0} in a minute where about {:.1} are usual, for {minutes} minute{}",
            a.value,
            a.expected,
            if minutes == 1 { "" } else { "s" }
        )
    };
    if key == "all" {
        if let Some(p) = b.problems.first() {
            s.push_str(&format!(
                "; {:.0}% {}",
                p.share * 100.0,
                p.label.to_lowercase()
            ));
        }
        let mobile: f64 = b
            .platforms
            .iter()
            .filter(|p| p.id.parse::<Platform>().is_ok_and(Platform::is_mobile))
            .map(|p| p.share)
            .sum();
        if mobile > 0.0 {
            s.push_str(&format!("; {:.0}% mobile app", mobile * 100.0));
        }
        if let Some(c) = b.countries.first() {
            s.push_str(&format!(
                "; most from {} ({:.0}%)",
                c.label,
                c.share * 100.0
            ));
        }
        if let Some(m) = b.messages.first() {
            s.push_str(&format!("; {:.0}% see “{}”", m.share * 100.0, m.text));
        }
    }
    if s.is_empty() {
        return s;
    }
    capitalised(s + ".")
}

fn capitalised(s: String) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => s,
    }
}

/// The crowd's (`all`) latest assessment, with the service's overall verdict: the crowd's
/// as its sources of signals raise it ([`overall_verdict`]).
fn overall_assessment(service: &ServiceConfig, watch: &Watch) -> Option<Assessment> {
    let all = watch.series.get("all")?.last?;
    let sources: Vec<(Raises, Verdict)> = service
        .signals
        .iter()
        .filter_map(|s| {
            let own = watch.series.get(&signal_series(s.source.as_str()))?.last?;
            Some((s.raises, own.verdict))
        })
        .collect();
    Some(Assessment {
        verdict: overall_verdict(all.verdict, &sources),
        ..all
    })
}

/// Each configured source's last hour, against its series' model.
fn signal_statuses(service: &ServiceConfig, watch: &Watch) -> Vec<SignalStatus> {
    service
        .signals
        .iter()
        .map(|s| {
            let source = s.source.as_str();
            let last_hour: f64 = watch
                .signal_history
                .iter()
                .filter_map(|(_, by)| by.get(source))
                .sum();
            let a = watch
                .series
                .get(&signal_series(source))
                .and_then(|x| x.last);
            let usual_hour = a.map_or(0.0, |a| a.expected.max(0.0) * 60.0);
            let round = |x: f64| (x * 10.0).round() / 10.0;
            SignalStatus {
                source: source.to_owned(),
                name: s.name.clone(),
                raises: s.raises.as_str(),
                verdict: a.map_or(Verdict::NoProblems, |a| a.verdict),
                last_hour: last_hour as u64,
                usual_hour: round(usual_hour),
                ratio: (usual_hour >= 0.5).then(|| round(last_hour / usual_hour)),
                kinds: kind_shares(service, source, &watch.signal_kinds),
            }
        })
        .collect()
}

/// What `source`'s posts in `rows` are about: each kind's percent of all its posts (the
/// unclassified included), most first, those under [`KIND_MIN_POSTS`] or
/// [`KIND_MIN_PERCENT`] left out.
fn kind_shares(service: &ServiceConfig, source: &str, rows: &[SignalKind]) -> Vec<KindShare> {
    let of_source: Vec<&SignalKind> = rows.iter().filter(|r| r.source == source).collect();
    let total: u64 = of_source.iter().map(|r| r.count).sum();
    let mut shares: Vec<(u64, KindShare)> = of_source
        .into_iter()
        .filter_map(|r| {
            let kind = r.kind.as_deref()?;
            if r.count < KIND_MIN_POSTS || r.count * 100 < KIND_MIN_PERCENT * total {
                return None;
            }
            let label = service
                .offers(kind)
                .map_or_else(|| kind.to_owned(), |p| p.label.clone());
            let share = KindShare {
                kind: kind.to_owned(),
                label,
                percent: (r.count as f64 * 100.0 / total as f64).round() as u32,
            };
            Some((r.count, share))
        })
        .collect();
    shares.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.kind.cmp(&b.1.kind)));
    shares.into_iter().map(|(_, k)| k).collect()
}

/// "posts on Mastodon: 340 in the last hour, 12× usual, 45% about login": the kind most of
/// its posts are about, when one is named.
pub fn signal_words(s: &SignalStatus) -> String {
    let mut words = format!("posts on {}: {} in the last hour", s.name, s.last_hour);
    if let Some(r) = s.ratio {
        words.push_str(&format!(", {r:.0}× usual"));
    }
    if let Some(k) = s.kinds.first() {
        words.push_str(&format!(
            ", {}% about {}",
            k.percent,
            k.label.to_lowercase()
        ));
    }
    words
}

/// The service's explanation: the crowd's, with the sources whose own verdict is not "no
/// problems" — first when they raised the verdict above the crowd's, after it otherwise.
fn explain_overall(
    service: &ServiceConfig,
    watch: &Watch,
    b: &Breakdown,
    signals: &[SignalStatus],
) -> String {
    let Some(all) = watch.series.get("all").and_then(|s| s.last) else {
        return "No reports yet.".into();
    };
    let crowd = explain(service, &all, b, "all");
    let hot: Vec<String> = signals
        .iter()
        .filter(|s| s.verdict != Verdict::NoProblems)
        .map(signal_words)
        .collect();
    if hot.is_empty() {
        return crowd;
    }
    let posts = capitalised(hot.join("; ")) + ".";
    let raised = watch.overall.is_some_and(|(v, _)| v > all.verdict);
    if raised {
        format!("{posts} {crowd}")
    } else {
        format!("{crowd} {posts}")
    }
}

fn snapshot(service: &ServiceConfig, watch: &Watch) -> CrowdStatus {
    let Some(all) = watch.series.get("all").and_then(|s| s.last) else {
        return empty_status(service);
    };
    let (verdict, since_s) = watch.overall.unwrap_or((all.verdict, all.verdict_since));
    let signals = signal_statuses(service, watch);
    let b = breakdown(service, watch);
    let mut hot: Vec<SeriesStatus> = watch
        .series
        .iter()
        .filter(|(k, _)| k.as_str() != "all" && !k.starts_with("signal:"))
        .filter_map(|(k, s)| s.last.as_ref().map(|a| (k, a)))
        .filter(|(_, a)| a.verdict != Verdict::NoProblems)
        .map(|(k, a)| SeriesStatus {
            series: k.clone(),
            label: label_of(service, k),
            verdict: a.verdict,
            since: ts(a.verdict_since * 1000),
            observed: a.value,
            expected: a.expected,
            score: a.score,
        })
        .collect();
    hot.sort_by(|x, y| y.verdict.cmp(&x.verdict).then(y.score.total_cmp(&x.score)));
    CrowdStatus {
        service: service.id.to_string(),
        name: service.name.clone(),
        verdict,
        since: (verdict != Verdict::NoProblems)
            .then(|| ts(since_s * 1000))
            .flatten(),
        as_of: ts(all.t * 1000),
        observed: all.value,
        expected: all.expected,
        lower: all.lower,
        upper: all.upper,
        score: all.score,
        explanation: explain_overall(service, watch, &b, &signals),
        breakdown: b,
        networks: distinct_networks(&watch.recent),
        hot_series: hot,
        signals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(source: &str, kind: Option<&str>, count: u64) -> SignalKind {
        SignalKind {
            source: source.into(),
            kind: kind.map(Into::into),
            count,
        }
    }

    #[test]
    fn kinds_are_named_with_enough_posts_and_share_most_first() {
        let config = downbeat_config::parse_str(
            "[[service]]\nid = \"m\"\nname = \"M\"\n\
             problems = [\"login\", \"playback\", \"crash\", { id = \"podcasts\", label = \"Podcasts\" }]\n",
            "t",
        )
        .unwrap();
        let service = &config.services[0];
        let rows = [
            row("forum", Some("crash"), 3),
            row("forum", Some("login"), 5),
            row("forum", Some("playback"), 2),
            row("forum", Some("podcasts"), 3),
            row("forum", Some("search"), 4),
            row("forum", None, 3),
            row("mastodon", Some("login"), 50),
        ];
        let got: Vec<(String, String, u32)> = kind_shares(service, "forum", &rows)
            .into_iter()
            .map(|k| (k.kind, k.label, k.percent))
            .collect();
        let want = |kind: &str, label: &str, percent| (kind.into(), label.into(), percent);
        assert_eq!(
            got,
            [
                want("login", "Login", 25),
                // 4 of 20: a kind the service no longer offers shows as its id.
                want("search", "search", 20),
                // 3 and 3: the tie goes by id.
                want("crash", "App crash or blank screen", 15),
                want("podcasts", "Podcasts", 15),
            ],
            "playback (2 posts) is left out; the unclassified count in the whole; another \
             source's posts do not"
        );
        let few = [row("forum", Some("login"), 3), row("forum", None, 28)];
        assert_eq!(
            kind_shares(service, "forum", &few),
            [],
            "3 of 31 is under 10%"
        );
        let just = [row("forum", Some("login"), 3), row("forum", None, 27)];
        assert_eq!(kind_shares(service, "forum", &just)[0].percent, 10);
        assert_eq!(kind_shares(service, "bluesky", &rows), []);
    }

    #[test]
    fn signal_words_name_the_kind_most_posts_are_about() {
        let mut s = SignalStatus {
            source: "mastodon".into(),
            name: "Mastodon".into(),
            raises: "corroborate",
            verdict: Verdict::Problems,
            last_hour: 340,
            usual_hour: 28.0,
            ratio: Some(12.1),
            kinds: vec![],
        };
        assert_eq!(
            signal_words(&s),
            "posts on Mastodon: 340 in the last hour, 12× usual"
        );
        s.kinds = vec![
            KindShare {
                kind: "login".into(),
                label: "Login".into(),
                percent: 45,
            },
            KindShare {
                kind: "playback".into(),
                label: "Playback".into(),
                percent: 20,
            },
        ];
        assert_eq!(
            signal_words(&s),
            "posts on Mastodon: 340 in the last hour, 12× usual, 45% about login"
        );
        s.ratio = None;
        assert_eq!(
            signal_words(&s),
            "posts on Mastodon: 340 in the last hour, 45% about login"
        );
    }
}
