//! What the outputs read: the handle of every stage, plus the API's own response cache and
//! metrics. The JSON API, the pages and the admin area take this; the stages below take
//! only their own handles.

use crate::cache::ResponseCache;
use crate::metrics::Metrics;

use downbeat_crowd::Crowd;
use downbeat_domain::Clock;
use downbeat_incidents::Incidents;
use downbeat_intake::Intake;
use downbeat_monitors::Monitors;
use downbeat_notify::Notifier;
use downbeat_store::Store;
use std::ops::Deref;
use std::sync::Arc;

/// How stale a cached API answer may be when nothing changed (the clock still moves).
pub const API_CACHE_MAX_AGE_MS: i64 = 1_000;
/// Most cached API answers.
const API_CACHE_ENTRIES: usize = 1024;
/// Most bytes of cached API answers (a series of 20,000 buckets is about 1 MB).
const API_CACHE_BYTES: usize = 32 << 20;

/// The stages as the outputs see them; cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<Stages>,
}

/// Every stage's handle.
pub struct Stages {
    pub config: downbeat_config::Live,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub intake: Intake,
    pub crowd: Crowd,
    pub monitors: Monitors,
    pub incidents: Incidents,
    pub notifier: Notifier,
    pub metrics: Metrics,
    pub api_cache: ResponseCache,
    /// Changes to services, monitors and destinations at runtime, and reloads.
    pub management: crate::manage::Management,
}

impl Deref for App {
    type Target = Stages;
    fn deref(&self) -> &Stages {
        &self.inner
    }
}

impl App {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: downbeat_config::Live,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        intake: Intake,
        crowd: Crowd,
        monitors: Monitors,
        incidents: Incidents,
        notifier: Notifier,
        metrics: Metrics,
    ) -> App {
        App {
            inner: Arc::new(Stages {
                config,
                store,
                clock,
                intake,
                crowd,
                monitors,
                incidents,
                notifier,
                metrics,
                management: Default::default(),
                api_cache: ResponseCache::new(
                    API_CACHE_MAX_AGE_MS,
                    API_CACHE_ENTRIES,
                    API_CACHE_BYTES,
                ),
            }),
        }
    }
}
