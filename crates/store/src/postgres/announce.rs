//! Announcing this node's writes on the change feed, a few times a second rather than at
//! every commit.
//!
//! A `NOTIFY` takes one lock for the whole database from just before its transaction
//! commits until the commit is done, fsync included. When every batch of reports or probe
//! results notified at its own commit (the triggers of migrations 10 and 11), the nodes'
//! batches queued behind one another on that lock: three nodes wrote reports at a third of
//! one node's rate. Now a node's writes only note what changed ([`Announcer::changed`]), and
//! one task says it every [`EVERY`], after the writes committed, in a small transaction that
//! does not wait for its fsync (a notification lost to a crash costs a page refresh; a node
//! whose feed reconnects reloads everything anyway).
//!
//! The triggers stay for nodes of earlier releases during a rolling upgrade: connections of
//! this release set `downbeat.announces = on` ([`SETTING`]), and the triggers skip those
//! (migration 15).

use deadpool_postgres::Pool;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// How often the changes noted are said, at most: well within the 2 s a change may take to
/// show on another node's pages.
pub const EVERY: Duration = Duration::from_millis(200);

/// The connection option that tells the triggers this node announces its own writes.
pub(crate) const SETTING: &str = "-c downbeat.announces=on";

/// The payloads (`reports <service>`, `monitor <id>`) waiting to be said.
#[derive(Default)]
pub(crate) struct Announcer {
    pending: Mutex<BTreeSet<String>>,
}

impl Announcer {
    /// Notes payloads to say; call once what they describe is committed.
    pub fn changed(&self, payloads: impl IntoIterator<Item = String>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.extend(payloads);
    }

    fn take(&self) -> Vec<String> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *pending).into_iter().collect()
    }
}

/// Says what `announcer` noted every [`EVERY`] through `pool`, until the store that owns
/// the announcer is dropped. What could not be said is kept for the next round.
pub(crate) async fn run(announcer: Weak<Announcer>, pool: Pool) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        let Some(announcer) = announcer.upgrade() else {
            return;
        };
        let payloads = announcer.take();
        if payloads.is_empty() {
            continue;
        }
        match say(&pool, &payloads).await {
            Ok(()) => {
                if failing {
                    tracing::info!("announcing changes to the other nodes again");
                    failing = false;
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cannot announce changes to the other nodes; will retry");
                    failing = true;
                }
                announcer.changed(payloads);
            }
        }
    }
}

async fn say(pool: &Pool, payloads: &[String]) -> Result<(), crate::StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL synchronous_commit = off")
        .await?;
    tx.execute(
        &super::cached(
            &tx,
            "SELECT pg_notify('downbeat_changes', p) FROM UNNEST($1::text[]) AS p",
        )
        .await?,
        &[&payloads],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Starts announcing for a store that keeps `announcer` (and stops once it is dropped).
pub(crate) fn start(pool: Pool) -> Arc<Announcer> {
    let announcer = Arc::new(Announcer::default());
    tokio::spawn(run(Arc::downgrade(&announcer), pool));
    announcer
}
