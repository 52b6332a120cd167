//! The pages' shared state: one model per service, data epochs, the page cache and the
//! stylesheet; the refresher that keeps models current; the serve-or-render step.

use crate::cache::{Entry, Key, Page, PageCache};
use crate::comment_limit::CommentLimiter;
use crate::encoded::{ASSET_CACHE_CONTROL, Encoded, VARY_ENCODING};
use crate::geoip::GeoIp;
use crate::model::{PageModel, Version};
use axum::body::Body;
use axum::http::{HeaderMap, Response, StatusCode};
use downbeat_api::App;
use jiff::Timestamp;
use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// How often the refresher looks for new data: pages are at most about this stale, plus
/// the time to load and render.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// A change made through another node wakes the refresher at once (see
/// [`downbeat_intake::Generations::changed_elsewhere`]), then it rests this long: a report
/// wave on another node rebuilds these pages a few times a second, not once per commit.
pub const ELSEWHERE_REST: Duration = Duration::from_millis(200);
/// Bound on cached pages (plain pages plus per-country variants).
const MAX_ENTRIES: usize = 4096;
/// Bound on the bytes of cached country variants (plain pages are kept whatever they weigh:
/// one per page the config declares).
const MAX_BYTES: usize = 64 << 20;
const CSS: &str = include_str!("../assets/style.css");
const LIVE_JS: &str = include_str!("../assets/live.js");

/// `/assets/{name}-{hash}.{ext}`: a new version of a file gets a new path, so the old one
/// can be cached forever.
fn hashed_path(name: &str, ext: &str, body: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(body.as_bytes());
    format!("/assets/{name}-{:08x}.{ext}", h.finish() as u32)
}

/// The pages of an app. Cheap to clone.
#[derive(Clone)]
pub struct Pages {
    web: Arc<Web>,
}

/// One service's page model and its epoch, at a position that stays its own for the life
/// of the process (a service removed at runtime leaves its slot; one added gets a new one).
struct Slot {
    model: RwLock<Arc<PageModel>>,
    /// Moves when its model is rebuilt.
    epoch: AtomicU64,
}

/// The services' slots: append-only, so a position handed out stays valid.
#[derive(Default)]
struct Slots {
    all: Vec<Arc<Slot>>,
    /// The position of each service the config in force declares.
    ids: HashMap<String, usize>,
    /// Those positions in the config's order (the pages over all services).
    order: Vec<usize>,
}

/// What handlers share.
pub struct Web {
    pub app: App,
    slots: arc_swap::ArcSwap<Slots>,
    /// Moves when any model is rebuilt (pages over all services).
    global_epoch: AtomicU64,
    pub cache: PageCache,
    pub css_path: String,
    pub css: Encoded,
    /// The live-refresh script (progressive enhancement of the service page).
    pub js_path: String,
    pub js: Encoded,
    /// When these pages started: the `updated` of a feed with no entries yet.
    pub started: Timestamp,
    /// The operator's GeoIP database, when configured (`[server] geoip`).
    pub geoip: Option<GeoIp>,
    /// Comments per client and service, on this node.
    pub comment_limit: CommentLimiter,
    refresh_lock: tokio::sync::Mutex<()>,
}

impl Pages {
    /// Builds the state from memory only (models fill in on the first refresh, which starts
    /// at once in the background when a tokio runtime is running).
    pub fn new(app: App) -> Pages {
        let now = app.clock.now();
        let css_path = hashed_path("style", "css", CSS);
        let web = Arc::new(Web {
            slots: arc_swap::ArcSwap::from_pointee(Slots::of(&app, &Slots::default(), now)),
            global_epoch: AtomicU64::new(0),
            cache: PageCache::new(MAX_ENTRIES, MAX_BYTES),
            css_path,
            css: Encoded::new(
                CSS.as_bytes().to_vec(),
                "text/css; charset=utf-8",
                ASSET_CACHE_CONTROL,
                VARY_ENCODING,
            ),
            js_path: hashed_path("live", "js", LIVE_JS),
            js: Encoded::new(
                LIVE_JS.as_bytes().to_vec(),
                "text/javascript; charset=utf-8",
                ASSET_CACHE_CONTROL,
                VARY_ENCODING,
            ),
            started: now,
            geoip: app.config.load().server.geoip.as_deref().and_then(|path| {
                // The config check opened it already; only a file changed since can fail.
                GeoIp::open(path)
                    .inspect_err(|e| tracing::error!(error = %e, "cannot open the GeoIP database; countries are guessed from the browser language only"))
                    .ok()
            }),
            comment_limit: CommentLimiter::default(),
            refresh_lock: tokio::sync::Mutex::new(()),
            app,
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            spawn_refresher(Arc::downgrade(&web), web.app.intake.generations.clone());
        } else {
            tracing::warn!("no tokio runtime: status pages will not refresh by themselves");
        }
        Pages { web }
    }

    pub fn state(&self) -> Arc<Web> {
        self.web.clone()
    }

    /// Reloads the models whose data moved and re-renders the cached pages that show them;
    /// returns when done. The background refresher calls this every [`REFRESH_EVERY`];
    /// tests call it to see new data at once.
    pub async fn refresh(&self) {
        self.web.refresh().await;
    }
}

/// Refreshes every [`REFRESH_EVERY`], and at once when a change made through another node
/// arrives (the server follows the store's change feed and rings `generations`).
fn spawn_refresher(web: Weak<Web>, generations: Arc<downbeat_intake::Generations>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REFRESH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let rung = tokio::select! {
                _ = tick.tick() => false,
                () = generations.changed_elsewhere() => true,
            };
            // The router owns the state; once the server is gone, so is this task.
            let Some(web) = web.upgrade() else { break };
            web.refresh().await;
            drop(web);
            if rung {
                tokio::time::sleep(ELSEWHERE_REST).await;
            }
        }
    });
}

impl Slots {
    /// The slots for the config in force: `before`'s, plus one for each service new to
    /// them (its model empty until the next refresh).
    fn of(app: &App, before: &Slots, now: Timestamp) -> Slots {
        let config = app.config.get();
        let mut all = before.all.clone();
        // Every id ever seen keeps its position, in force or not.
        let mut known: HashMap<String, usize> =
            all.iter().enumerate().map(|(i, s)| (s.id(), i)).collect();
        let mut ids = HashMap::with_capacity(config.services.len());
        let mut order = Vec::with_capacity(config.services.len());
        for service in &config.services {
            let i = *known.entry(service.id.to_string()).or_insert_with(|| {
                all.push(Arc::new(Slot {
                    model: RwLock::new(Arc::new(PageModel::empty(app, all.len(), service, now))),
                    epoch: AtomicU64::new(0),
                }));
                all.len() - 1
            });
            ids.insert(service.id.to_string(), i);
            order.push(i);
        }
        Slots { all, ids, order }
    }
}

impl Slot {
    fn id(&self) -> String {
        self.model
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .service
            .id
            .to_string()
    }
}

impl Web {
    /// The position of the service a `/s/{service}/...` path names.
    pub fn service_in(&self, path: &str) -> Option<usize> {
        let rest = path.strip_prefix("/s/")?;
        let id = rest.split('/').next()?;
        self.slots.load().ids.get(id).copied()
    }

    /// The model at position `i` (from [`Web::service_in`]: positions are never reused).
    pub fn model(&self, i: usize) -> Arc<PageModel> {
        self.slots.load().all[i]
            .model
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The models of the services in force, in the config's order.
    pub fn models(&self) -> Vec<Arc<PageModel>> {
        let slots = self.slots.load();
        slots
            .order
            .iter()
            .map(|&i| {
                slots.all[i]
                    .model
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
            })
            .collect()
    }

    pub fn epoch_of(&self, page: Page) -> u64 {
        match page.service() {
            Some(i) => self.slots.load().all[i].epoch.load(Ordering::Acquire),
            None => self.global_epoch.load(Ordering::Acquire),
        }
    }

    /// Reloads the models whose data moved and re-renders their used pages (see
    /// [`Pages::refresh`]).
    pub(crate) async fn refresh(self: &Arc<Self>) {
        let _one_at_a_time = self.refresh_lock.lock().await;
        let now = self.app.clock.now();
        let config = self.app.config.get();
        let mut changed = false;
        let mut slots = self.slots.load_full();
        if config
            .services
            .iter()
            .any(|s| !slots.ids.contains_key(s.id.as_str()))
            || slots.ids.len() != config.services.len()
        {
            // Services added or removed at runtime: every page over all services moves.
            slots = Arc::new(Slots::of(&self.app, &slots, now));
            self.slots.store(slots.clone());
            changed = true;
        }
        for service in &config.services {
            let Some(&i) = slots.ids.get(service.id.as_str()) else {
                continue;
            };
            let slot = &slots.all[i];
            if self.model(i).version == Version::current(&self.app, service, now) {
                continue;
            }
            match PageModel::load(&self.app, i, service, now).await {
                Ok(m) => {
                    *slot.model.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(m);
                    slot.epoch.fetch_add(1, Ordering::AcqRel);
                    changed = true;
                }
                // The pages keep showing the last model; the next tick tries again.
                Err(e) => {
                    tracing::warn!(service = %service.id, error = %e, "could not reload status page data")
                }
            }
        }
        if !changed {
            return;
        }
        self.global_epoch.fetch_add(1, Ordering::AcqRel);
        let keys = self.cache.stale_keys(|p| self.epoch_of(p));
        let web = self.clone();
        // Rendering and compressing is CPU work: off the async workers.
        let _ = tokio::task::spawn_blocking(move || {
            for key in keys {
                let _ = web.render_entry(key);
            }
        })
        .await;
    }

    /// Renders `key` from the current models and caches it.
    pub fn render_entry(&self, key: Key) -> Result<Arc<Entry>, askama::Error> {
        // The epoch is read before the model: if the model moves during the render, the
        // entry is labelled older and gets re-rendered.
        let epoch = self.epoch_of(key.page);
        let previous = self.cache.get(&key);
        let body = crate::render::render(self, key, previous.as_ref().map(|e| &e.body))?;
        let entry = Arc::new(Entry::new(epoch, body));
        self.cache.put(key, entry.clone());
        Ok(entry)
    }

    /// The hot path: the cached page for `key`, rendered now only if it was never rendered.
    /// A stale entry is served as is while one background task re-renders it.
    pub fn serve(self: &Arc<Self>, key: Key, headers: &HeaderMap) -> Response<Body> {
        let entry = match self.cache.get(&key) {
            Some(e) => {
                e.touch();
                if e.epoch != self.epoch_of(key.page) && e.claim_refresh() {
                    let web = self.clone();
                    tokio::task::spawn_blocking(move || {
                        let _ = web.render_entry(key);
                    });
                }
                e
            }
            None => match self.render_entry(key) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, ?key, "rendering a page failed");
                    let mut r = Response::new(Body::from("This page could not be rendered."));
                    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    return r;
                }
            },
        };
        entry.body.respond(headers, StatusCode::OK)
    }
}
