//! Following other nodes: the store's change feed ([`downbeat_store::ChangeFeed`],
//! PostgreSQL `LISTEN/NOTIFY`) applied to this node's memory, so its pages and API cache
//! show a change made through any node within moments, and its rate limits are shared
//! among the live nodes.
//!
//! - `Reports(service)`: the service's report generation moves (the API cache's answers
//!   for it expire; the pages reload its model).
//! - `Incidents(service)`: the service's incident snapshot is reloaded from the store.
//! - `Monitor(id)`: another node stored results of the monitor or changed its state; the
//!   monitors stage reads them again within moments.
//! - `Resync` (the feed connected again after losing notifications): all of the above for
//!   every service.
//! - An incident change (or a resync) rings the pages' refresher, which rebuilds at once
//!   rather than at its next tick; a report change waits for the tick (every second), so a
//!   wave does not reload every node's pages per commit.
//! - The count of live nodes sets each node's share of the rate limits.
//!
//! A change this node made comes back too; applying it again costs one model reload.

use downbeat_api::App;
use downbeat_store::Change;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Follows the store's change feed as node `node` until `stopped` turns true; `None` when
/// the store has no feed (SQLite: one node).
pub fn spawn(app: &App, node: &str, mut stopped: watch::Receiver<bool>) -> Option<JoinHandle<()>> {
    let mut feed = app.store.changes(node)?;
    let app = app.clone();
    Some(tokio::spawn(async move {
        loop {
            tokio::select! {
                change = feed.changes.recv() => match change {
                    Some(change) => apply(&app, change).await,
                    None => return,
                },
                changed = feed.live_nodes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let n = *feed.live_nodes.borrow_and_update();
                    tracing::info!(live_nodes = n, "rate limits shared among the live nodes");
                    app.intake.limiter.set_live_nodes(n);
                }
                _ = stopped.changed() => return,
            }
        }
    }))
}

/// Brings this node's memory up to date with `change`.
pub async fn apply(app: &App, change: Change) {
    let generations = &app.intake.generations;
    match change {
        // The pages' refresher sees the moved generation at its next tick (every second):
        // within the 2 s a change may take to show, without a reload per commit of a wave
        // on every node.
        Change::Reports(service) => {
            generations.bump(&service);
            return;
        }
        Change::Incidents(service) => {
            if !app
                .config
                .load()
                .services
                .iter()
                .any(|s| s.id.as_str() == service)
            {
                return;
            }
            if let Err(e) = downbeat_incidents::refresh(&app.incidents, &service).await {
                tracing::warn!(service, error = %e, "incident snapshot not reloaded; the next incident round will");
            }
        }
        Change::Monitor(id) => {
            downbeat_monitors::changed_elsewhere(&app.monitors, &id);
            return;
        }
        Change::Config => {
            // A service, monitor or destination changed through another node.
            if let Err(e) = downbeat_api::manage::refresh(app).await {
                tracing::warn!(error = %e, "config objects changed elsewhere not read; the next change or resync will");
            }
        }
        Change::Resync => {
            if let Err(e) = downbeat_api::manage::refresh(app).await {
                tracing::warn!(error = %e, "config objects not read again after a resync");
            }
            downbeat_monitors::all_changed_elsewhere(&app.monitors);
            for s in &app.config.load().services {
                generations.bump(s.id.as_str());
            }
            if let Err(e) = downbeat_incidents::refresh_all(&app.incidents).await {
                tracing::warn!(error = %e, "incident snapshots not reloaded; the next incident round will");
            }
        }
    }
    generations.ring_elsewhere();
}
