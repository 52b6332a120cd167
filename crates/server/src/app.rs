//! The one assembly: builds every stage with the handles it needs, starts their background
//! work, and serves the JSON API, the pages and the admin area. `downbeat serve`, the demo
//! and every test harness start Downbeat through [`start`] and [`serve_app`].

use crate::jobs;
use downbeat_api::App;
use downbeat_api::metrics::Metrics;
use downbeat_config::Config;
use downbeat_crowd::Crowd;
use downbeat_domain::Clock;
use downbeat_incidents::{IncidentStores, Incidents};
use downbeat_intake::Intake;
use downbeat_monitors::Monitors;
use downbeat_notify::Notifier;
use downbeat_store::{Store, StoreError};
use prometheus_client::registry::Registry;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Background tasks started with the app, stopped by [`Running::stop`].
pub struct Running {
    stop: watch::Sender<bool>,
    writer: tokio::task::JoinHandle<()>,
    jobs: Vec<tokio::task::JoinHandle<()>>,
}

/// Builds every stage and starts the background tasks: the ingest writer, the monitors,
/// the notification workers, the signal pollers, the jobs and (on PostgreSQL) the follower of other nodes'
/// changes. Restores what a restart must not forget (the
/// dedupe window, monitor states, incident snapshots) before it returns.
pub async fn start(
    config: Arc<Config>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> Result<(App, Running), StoreError> {
    // The config in force: the file's with the objects managed at runtime (the store's);
    // replaced whole by a reload or a change made through the API.
    let (composed, refused) = downbeat_api::manage::compose_stored(store.as_ref(), &config)
        .await
        .map_err(|e| match e {
            downbeat_api::manage::ManageError::Store(e) => e,
            other => StoreError::Internal(other.to_string()),
        })?;
    let config = downbeat_config::Live::new(composed);
    // This process's name in leases and claims (random per start).
    let node_id: Arc<str> = Arc::from(format!("{:016x}", rand::random::<u64>()));
    let mut registry = Registry::with_prefix("downbeat");
    let (intake, writer) =
        Intake::start(config.clone(), store.clone(), clock.clone(), &mut registry).await?;
    let notifier = Notifier::new(
        config.clone(),
        store.clone(),
        clock.clone(),
        node_id.clone(),
        &mut registry,
    );
    // Each stage gets the store traits it reads and writes, no more.
    let crowd = Crowd::new(
        config.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        clock.clone(),
        node_id.clone(),
        notifier.clone(),
    );
    let monitors = Monitors::new(
        config.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        clock.clone(),
        node_id.clone(),
        notifier.clone(),
        &mut registry,
    );
    let incidents = Incidents::new(
        config.clone(),
        IncidentStores {
            records: store.clone(),
            detection: store.clone(),
            reports: store.clone(),
            probes: store.clone(),
            changes: store.clone(),
        },
        clock.clone(),
        node_id.clone(),
        notifier.clone(),
        crowd.clone(),
        monitors.clone(),
    );
    let poll_metrics = downbeat_pollers::metrics::PollMetrics::register(&mut registry);
    let app = App::new(
        config,
        store,
        clock,
        intake,
        crowd,
        monitors,
        incidents,
        notifier,
        Metrics::new(registry),
    );
    app.management.set_refused(refused);
    downbeat_incidents::refresh_all(&app.incidents).await?;
    let (stop, stopped) = watch::channel(false);
    let mut jobs = jobs::spawn_all(&app, stopped.clone());
    // Other nodes' changes, into this node's pages and caches (PostgreSQL only).
    jobs.extend(crate::changes::spawn(&app, &node_id, stopped.clone()));
    jobs.push(tokio::spawn(reconcile(app.incidents.clone())));
    jobs.extend(downbeat_notify::worker::start(
        &app.notifier,
        stopped.clone(),
    ));
    // Sources with a built-in poller (one node polls each).
    jobs.push(tokio::spawn(run_pollers(
        app.clone(),
        node_id.clone(),
        poll_metrics,
        stopped.clone(),
    )));
    // Services added at runtime: what the intake keeps for them.
    jobs.push(tokio::spawn(follow_config(app.clone(), stopped.clone())));
    jobs.extend(downbeat_monitors::start(&app.monitors, stopped).await?);
    Ok((app, Running { stop, writer, jobs }))
}

/// Runs the built-in pollers the config asks for, and starts them afresh when a change of
/// config changes them (each keeps its cursor in the store, so nothing is read twice).
async fn run_pollers(
    app: App,
    node_id: Arc<str>,
    metrics: downbeat_pollers::metrics::PollMetrics,
    mut stopped: watch::Receiver<bool>,
) {
    let polled = |c: &Config| -> String {
        c.services
            .iter()
            .flat_map(|s| {
                s.signals
                    .iter()
                    .filter(|g| g.poll.is_some())
                    .map(move |g| (s, g))
            })
            .map(|(s, g)| format!("{s:?}/{g:?}\n"))
            .collect()
    };
    let mut changes = app.config.changes();
    loop {
        let config = app.config.get();
        let key = polled(&config);
        let (stop, stop_rx) = watch::channel(false);
        let tasks = downbeat_pollers::start(
            &config,
            app.store.clone(),
            app.clock.clone(),
            node_id.clone(),
            metrics.clone(),
            stop_rx,
        );
        let end = loop {
            tokio::select! {
                r = changes.changed() => {
                    if r.is_err() || polled(&app.config.get()) != key {
                        break r.is_err();
                    }
                }
                _ = stopped.changed() => break true,
            }
        };
        let _ = stop.send(true);
        for t in tasks {
            let _ = t.await;
        }
        if end || *stopped.borrow() {
            return;
        }
        tracing::info!("signal pollers restarted for a change of config");
    }
}

/// Brings what stages keep per service up to date after a change of config.
async fn follow_config(app: App, mut stopped: watch::Receiver<bool>) {
    let mut changes = app.config.changes();
    loop {
        tokio::select! {
            r = changes.changed() => if r.is_err() { return },
            _ = stopped.changed() => return,
        }
        // Cached API answers expire within a second (`API_CACHE_MAX_AGE_MS`).
        app.intake.reconfigured();
    }
}

/// Enqueues again what a crash between a commit and its enqueue may have lost (once, at
/// start).
async fn reconcile(incidents: Incidents) {
    if let Err(e) = downbeat_incidents::reconcile(&incidents).await {
        tracing::warn!(error = %e, "could not re-enqueue recent incident events");
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
        if let Err(e) = downbeat_crowd::save_all(&app.crowd).await {
            tracing::warn!(error = %e, "could not save detector state; it will be relearned from stored reports");
        }
        app.intake.close();
        let _ = self.writer.await;
    }
}

/// Serves the app's JSON API on `listener` until `shutdown` completes, then drains and
/// returns.
pub async fn serve(
    config: Arc<Config>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (app, running) = start(config, store, clock)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let router = downbeat_api::router(app.clone());
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
    // `node` is this process's name in the cluster (the `nodes` table on PostgreSQL).
    tracing::info!(
        addr = %listener.local_addr()?,
        backend = app.store.backend().as_str(),
        node = app.monitors.owners.me(),
        "serving"
    );
    let limits = crate::listen::Limits::of(&app.config.load().server);
    let result = crate::listen::serve(listener, router, limits, shutdown).await;
    tracing::info!("no more requests; draining the ingest queue");
    running.stop(&app).await;
    tracing::info!("stopped");
    result
}
