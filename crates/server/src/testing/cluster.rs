//! Several nodes of one cluster in one test process: apps on one PostgreSQL database, each
//! with its own pool, change feed, memory, jobs and listener — what separate `downbeat
//! serve` processes on one database would be, short of the processes.

use super::{TestApp, spawn, until};
use downbeat_domain::ManualClock;
use downbeat_store::testing::TestStore;
use std::sync::Arc;

/// `n` nodes with exactly `config`, all on `store`'s database (the first takes `store`,
/// the others [`TestStore::shared`] copies), on one clock; started one after the other.
pub async fn spawn_nodes(
    config: &str,
    store: TestStore,
    n: usize,
    clock: Arc<ManualClock>,
) -> Vec<TestApp> {
    let others: Vec<TestStore> = (1..n).map(|_| store.shared()).collect();
    let mut nodes = vec![spawn(config, store, clock.clone()).await];
    for s in others {
        nodes.push(spawn(config, s, clock.clone()).await);
    }
    nodes
}

/// Waits until every node of `nodes` counts exactly `n` live nodes (it has heard the
/// others' heartbeats on the change feed).
pub async fn until_live_nodes(nodes: &[&TestApp], n: usize) {
    until(&format!("every node counts {n} live nodes"), || async {
        nodes.iter().all(|a| a.app.intake.limiter.live_nodes() == n)
    })
    .await;
}
