//! Background jobs. Each is a step (`run_once(now)`) that tests call directly, wrapped in a
//! loop that runs it periodically until the app stops.

use downbeat_api::App;
use downbeat_intake::identity::DAY_MS;
use downbeat_store::{PruneCutoffs, PruneOutcome, StoreError};
use jiff::Timestamp;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often raw reports and roll-ups past retention are deleted.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// The first prune waits a little, so start-up is not slowed by it.
pub const PRUNE_FIRST_AFTER: Duration = Duration::from_secs(60);
/// How long a node keeps pruning to itself: longer than the period, so the node that
/// prunes keeps doing so while it lives.
const PRUNE_LEASE_MS: i64 = 90 * 60 * 1000;
/// How often the crowd detector looks for newly completed minutes.
pub const CROWD_EVERY: Duration = Duration::from_secs(5);
/// How often incidents are drafted from signals, maintenance advanced, and the pages'
/// incident snapshots reloaded (changes made through other nodes appear this fast).
pub const INCIDENTS_EVERY: Duration = Duration::from_secs(3);
/// How often in-memory structures are swept.
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(10);

/// On a clock faster than real time (the demo), job periods shrink with it, but never below this.
pub const FASTEST_PERIOD: Duration = Duration::from_millis(100);

pub fn spawn_all(app: &App, stopped: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let scaled = |d: Duration| app.clock.real(d, FASTEST_PERIOD);
    let prune_app = app.clone();
    let house_app = app.clone();
    let crowd_app = app.clone();
    let incidents_app = app.clone();
    vec![
        tokio::spawn(every(
            scaled(INCIDENTS_EVERY),
            scaled(INCIDENTS_EVERY),
            stopped.clone(),
            move || {
                let app = incidents_app.clone();
                async move {
                    if let Err(e) = incidents_once(&app).await {
                        tracing::warn!(error = %e, "incident round failed; will retry");
                    }
                }
            },
        )),
        tokio::spawn(every(
            scaled(CROWD_EVERY),
            scaled(CROWD_EVERY),
            stopped.clone(),
            move || {
                let app = crowd_app.clone();
                async move {
                    if let Err(e) = downbeat_crowd::run_once(&app.crowd, app.clock.now()).await {
                        tracing::warn!(error = %e, "crowd detection failed; will retry");
                    }
                }
            },
        )),
        tokio::spawn(every(
            scaled(PRUNE_EVERY),
            scaled(PRUNE_FIRST_AFTER),
            stopped.clone(),
            move || {
                let app = prune_app.clone();
                async move {
                    match prune_as_leader(&app, app.clock.now()).await {
                        Ok(None) => {}
                        Ok(Some(out)) if out != PruneOutcome::default() => {
                            tracing::info!(?out, "pruned")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "prune failed; will retry"),
                    }
                }
            },
        )),
        tokio::spawn(every(
            HOUSEKEEPING_EVERY,
            HOUSEKEEPING_EVERY,
            stopped,
            move || {
                let app = house_app.clone();
                async move { housekeeping_once(&app) }
            },
        )),
    ]
}

/// One incident round: drafts and maintenance ([`downbeat_incidents::signals::run_once`]),
/// then every snapshot reloaded.
#[tracing::instrument(name = "incidents round", skip_all)]
pub async fn incidents_once(app: &App) -> Result<(), StoreError> {
    let incidents = &app.incidents;
    downbeat_incidents::signals::run_once(incidents, app.clock.now().as_millisecond()).await?;
    downbeat_incidents::refresh_all(incidents).await
}

/// Runs `step` after `first`, then every `period`, until `stopped` turns true.
async fn every<F, Fut>(
    period: Duration,
    first: Duration,
    mut stopped: watch::Receiver<bool>,
    mut step: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => step().await,
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
    }
}

/// Prunes as of `now` if this node holds the prune lease (taking it when free): one node
/// prunes at a time — pruning twice is harmless, but wasted. `None` when another node holds
/// it.
pub async fn prune_as_leader(
    app: &App,
    now: Timestamp,
) -> Result<Option<PruneOutcome>, StoreError> {
    let lease = app
        .store
        .try_lease(
            "prune",
            &app.crowd.node_id,
            now.as_millisecond(),
            PRUNE_LEASE_MS,
        )
        .await?;
    match lease {
        Some(_) => prune_once(app, now).await.map(Some),
        None => Ok(None),
    }
}

#[tracing::instrument(name = "prune", skip_all)]
/// Deletes what is past retention as of `now`: raw reports, roll-ups, and salts older than
/// yesterday (the dedupe window never reaches further back).
pub async fn prune_once(app: &App, now: Timestamp) -> Result<PruneOutcome, StoreError> {
    let now_ms = now.as_millisecond();
    let r = &app.config.load().retention;
    app.store
        .prune(PruneCutoffs {
            raw_before_ms: now_ms - r.raw.as_millis(),
            rollups_before_ms: now_ms - r.rollups.as_millis(),
            salts_before_day: now_ms.div_euclid(DAY_MS) - 1,
        })
        .await
}

/// Sweeps the rate limiter's forgotten clients and refreshes gauges.
pub fn housekeeping_once(app: &App) {
    app.intake.sweep();
}
