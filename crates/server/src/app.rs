//! The application state shared by every handler and job, and the server's run loop.

use crate::cache::{Generations, ResponseCache};
use crate::crowd::Crowd;
use crate::dedupe::Dedupe;
use crate::identity::Salts;
use crate::ingest::{self, Ingest};
use crate::jobs;
use crate::limiter::Limiter;
use crate::metrics::{Metrics, ReportCounters};
use downbeat_config::Config;
use downbeat_domain::Clock;
use downbeat_store::{Store, StoreError};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How stale a cached API answer may be when nothing changed (the clock still moves).
pub const API_CACHE_MAX_AGE_MS: i64 = 1_000;

/// Everything a request or a job needs; cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

pub struct Inner {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub salts: Salts,
    pub dedupe: Dedupe,
    pub limiter: Limiter,
    pub metrics: Metrics,
    pub report_counters: HashMap<String, ReportCounters>,
    pub ingest: Ingest,
    /// Moves when a service's counted reports change; validates cached answers.
    pub generations: Arc<Generations>,
    pub api_cache: ResponseCache,
    pub crowd: Crowd,
    /// This process's name in leases (random per start).
    pub node_id: String,
    pub monitors: crate::monitors::Monitors,
    pub incidents: crate::incidents::Incidents,
    pub notifier: crate::notify::Notifier,
}

impl std::ops::Deref for App {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

/// Background tasks started with the app, stopped by [`Running::stop`].
pub struct Running {
    stop: watch::Sender<bool>,
    writer: tokio::task::JoinHandle<()>,
    jobs: Vec<tokio::task::JoinHandle<()>>,
}

impl App {
    /// Builds the state and starts the background tasks: the ingest writer and the jobs.
    /// Restores the dedupe window from the store, so a restart does not count anyone twice.
    pub async fn start(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<(App, Running), StoreError> {
        let metrics = Metrics::new();
        let now_ms = clock.now().as_millisecond();
        let dedupe = Dedupe::new(config.reports.dedupe_window.as_millis());
        let since_ms = now_ms - config.reports.dedupe_window.as_millis();
        for service in &config.services {
            let recent = store
                .recent_counted_clients(service.id.as_str(), since_ms)
                .await?;
            dedupe.restore(recent.iter().map(|r| (r.client_hash, r.last_counted_ms)));
        }
        let salts = Salts::new(store.clone());
        salts.prepare(now_ms).await?;
        let generations = Arc::new(Generations::new(
            config.services.iter().map(|s| s.id.as_str()),
        ));
        let (ingest, writer) = ingest::start(store.clone(), metrics.clone(), generations.clone());
        let config_region = config.server.region.clone();
        let report_counters = config
            .services
            .iter()
            .map(|s| (s.id.to_string(), metrics.report_counters(s.id.as_str())))
            .collect();
        let app = App {
            inner: Arc::new(Inner {
                report_counters,
                generations,
                api_cache: ResponseCache::new(API_CACHE_MAX_AGE_MS, 1024),
                crowd: Crowd::default(),
                node_id: format!("{:016x}", rand::random::<u64>()),
                monitors: crate::monitors::Monitors::new(&config_region, &config.monitors),
                incidents: Default::default(),
                notifier: crate::notify::Notifier::new(&config),
                limiter: Limiter::new(&config.reports),
                config,
                store,
                clock,
                salts,
                dedupe,
                metrics,
                ingest,
            }),
        };
        crate::incidents::refresh_all(&app).await?;
        let (stop, stopped) = watch::channel(false);
        let mut jobs = jobs::spawn_all(&app, stopped.clone());
        jobs.extend(crate::notify::worker::start(&app, stopped.clone()));
        jobs.extend(crate::monitors::start(&app, stopped).await?);
        Ok((app, Running { stop, writer, jobs }))
    }
}

impl Running {
    /// Stops the jobs, then closes the ingest queue and waits until every queued report is
    /// committed (or has failed and been answered).
    pub async fn stop(self, app: &App) {
        let _ = self.stop.send(true);
        for j in self.jobs {
            let _ = j.await;
        }
        if let Err(e) = crate::crowd::save_all(app).await {
            tracing::warn!(error = %e, "could not save detector state; it will be relearned from stored reports");
        }
        app.ingest.close();
        let _ = self.writer.await;
    }
}

/// Serves the app on `listener` until `shutdown` completes, then drains and returns.
pub async fn serve(
    config: Arc<Config>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (app, running) = App::start(config, store, clock)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let router = crate::api::router(app.clone());
    serve_app(app, running, router, listener, shutdown).await
}

/// Serves an already started app with `router` (the API, plus whatever the caller merged
/// into it, such as the pages); tests keep a handle on the app to step its jobs.
pub async fn serve_app(
    app: App,
    running: Running,
    router: axum::Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, backend = app.store.backend().as_str(), "serving");
    let result = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    tracing::info!("no more requests; draining the ingest queue");
    running.stop(&app).await;
    tracing::info!("stopped");
    result
}
