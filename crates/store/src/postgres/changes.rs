//! The change feed: what any node changed, as soon as it is committed, through PostgreSQL's
//! `LISTEN/NOTIFY` — so every node's pages and caches follow changes made through another.
//!
//! Triggers (migration `0010_cluster_edges`) send `reports <service>` when counted reports
//! are committed and `incidents <service>` when an incident or maintenance window changes,
//! on the channel [`CHANNEL`]; PostgreSQL delivers them at commit, so a node that hears of a
//! change can read it. Each node also says `node <id>` every [`HEARTBEAT`] (and at once when
//! it hears of a node it did not know), which gives every node the count of live nodes.
//!
//! One dedicated connection per node listens (not a pooled one: a `LISTEN` belongs to its
//! session). When it fails — the server restarts, the network drops — the feed connects
//! again every [`RETRY_EVERY`] until it can, and then says [`Change::Resync`]: notifications
//! sent while it was away are lost, so whoever follows the feed reloads everything. It also
//! says `Resync` when it first connects (changes made before it listened are not in it).
//! The heartbeat is a statement, so the connection's watchdog also catches a server that
//! falls silent under an idle `LISTEN`.

use super::connect::{Connector, PgConnection, chain};
use crate::StoreError;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_postgres::{AsyncMessage, Config, Notification};

/// The channel the triggers and the heartbeats use.
pub const CHANNEL: &str = "downbeat_changes";
/// How often a node says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A node not heard from for this long is no longer counted live.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(15);
/// How often a lost feed tries to connect again.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);
/// Changes waiting for their reader; beyond this the feed says [`Change::Resync`] instead.
const BACKLOG: usize = 1024;

/// A change another node (or this one) committed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Counted reports of the service were committed.
    Reports(String),
    /// An incident or maintenance window of the service changed.
    Incidents(String),
    /// A monitor has new results or a new state.
    Monitor(String),
    /// A service, monitor or destination managed at runtime changed.
    Config,
    /// The feed (re)connected, or its reader fell behind: anything may have changed.
    Resync,
}

/// A node's view of the feed; dropping it stops the feed and closes its connection.
pub struct ChangeFeed {
    pub changes: mpsc::Receiver<Change>,
    /// Nodes heard from within the last 15 s (`NODE_TIMEOUT`), this one included (at
    /// least 1).
    pub live_nodes: watch::Receiver<usize>,
}

/// How the feed connects: the pool's settings, for a connection of its own.
pub(crate) struct FeedSettings {
    pub config: Config,
    pub connector: Connector,
}

/// Starts the feed of node `node` (a name unique to this process). `stripe` follows the
/// node's place among the live nodes (in the order of their names), which gives each live
/// node its own stripe of the report roll-up ([`crate::reports::STRIPES`]).
pub(crate) fn start(
    settings: Arc<FeedSettings>,
    node: String,
    stripe: Arc<AtomicI64>,
) -> ChangeFeed {
    let (tx, changes) = mpsc::channel(BACKLOG);
    let (live, live_nodes) = watch::channel(1);
    let live = Live {
        count: live,
        stripe,
    };
    tokio::spawn(run(settings, node, tx, live));
    ChangeFeed {
        changes,
        live_nodes,
    }
}

/// What the feed keeps up to date about the live nodes.
struct Live {
    count: watch::Sender<usize>,
    stripe: Arc<AtomicI64>,
}

impl Live {
    /// Forgets nodes gone quiet, then sets the count and this node's stripe.
    fn update(&self, nodes: &mut Nodes) {
        let now = Instant::now();
        self.count.send_if_modified(|n| nodes.update(n, now));
        let stripe = nodes.place() as i64 % crate::reports::STRIPES;
        self.stripe.store(stripe, Ordering::Relaxed);
    }
}

/// Why a session ended.
enum Ended {
    /// The reader dropped the feed.
    Closed,
    Lost(StoreError),
}

impl From<tokio_postgres::Error> for Ended {
    fn from(e: tokio_postgres::Error) -> Self {
        Ended::Lost(e.into())
    }
}

async fn run(settings: Arc<FeedSettings>, node: String, tx: mpsc::Sender<Change>, live: Live) {
    let mut nodes = Nodes::new(node.clone());
    let mut lost = false;
    loop {
        match session(&settings, &node, &tx, &live, &mut nodes, &mut lost).await {
            Ended::Closed => return,
            Ended::Lost(e) => {
                if !lost {
                    tracing::warn!(error = %e, "change feed lost; pages follow other nodes again once it is back");
                    lost = true;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(RETRY_EVERY) => {}
            () = tx.closed() => return,
        }
    }
}

/// One connection's life: listen, say so (`Resync`), then pass changes on and beat.
async fn session(
    settings: &FeedSettings,
    node: &str,
    tx: &mpsc::Sender<Change>,
    live: &Live,
    nodes: &mut Nodes,
    lost: &mut bool,
) -> Ended {
    let (notes_tx, mut notes) = mpsc::unbounded_channel();
    let opened = settings
        .connector
        .open_driven(&settings.config, |connection| {
            tokio::spawn(drive(connection, notes_tx))
        })
        .await;
    let (client, io) = match opened {
        Ok(c) => c,
        Err(e) => return e.into(),
    };
    // The connection closes when the client is dropped; its task ends with it.
    let _io = AbortOnDrop(io);
    if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
        return e.into();
    }
    if *lost {
        tracing::info!("change feed back");
        *lost = false;
    }
    let mut resync_owed = true;
    let beat = format!("node {node}");
    let hello = || say(&client, &beat);
    if let Err(e) = hello().await {
        return e.into();
    }
    let mut tick = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if resync_owed {
            resync_owed = tx.try_send(Change::Resync).is_err();
        }
        tokio::select! {
            note = notes.recv() => {
                let Some(note) = note else {
                    return Ended::Lost(StoreError::Unavailable("the change feed's connection closed".into()));
                };
                match parse(note.payload()) {
                    Some(Heard::Node(id)) => {
                        if nodes.heard(id, Instant::now()) {
                            // A newcomer: tell it of this node now rather than at the next beat.
                            if let Err(e) = hello().await {
                                return e.into();
                            }
                        }
                        live.update(nodes);
                    }
                    Some(Heard::Change(change)) => {
                        if tx.try_send(change).is_err() {
                            resync_owed = true;
                        }
                    }
                    None => tracing::debug!(payload = note.payload(), "unknown change notification"),
                }
            }
            _ = tick.tick() => {
                if let Err(e) = hello().await {
                    return e.into();
                }
                live.update(nodes);
            }
            () = tx.closed() => return Ended::Closed,
        }
    }
}

/// Sends `payload` on the channel (a heartbeat).
async fn say(client: &tokio_postgres::Client, payload: &str) -> Result<u64, tokio_postgres::Error> {
    client
        .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
        .await
}

/// Drives the connection's I/O and passes its notifications on, until it closes.
async fn drive(mut connection: PgConnection, notes: mpsc::UnboundedSender<Notification>) {
    loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notification(n))) => {
                if notes.send(n).is_err() {
                    return;
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::debug!(error = %chain(&e), "change feed connection ended");
                return;
            }
            None => return,
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a notification says.
#[derive(Debug, PartialEq, Eq)]
enum Heard<'a> {
    Node(&'a str),
    Change(Change),
}

fn parse(payload: &str) -> Option<Heard<'_>> {
    if payload == "config" {
        return Some(Heard::Change(Change::Config));
    }
    let (kind, rest) = payload.split_once(' ')?;
    match kind {
        "node" => Some(Heard::Node(rest)),
        "reports" => Some(Heard::Change(Change::Reports(rest.to_owned()))),
        "incidents" => Some(Heard::Change(Change::Incidents(rest.to_owned()))),
        "monitor" => Some(Heard::Change(Change::Monitor(rest.to_owned()))),
        _ => None,
    }
}

/// The nodes heard from, by when.
struct Nodes {
    me: String,
    seen: HashMap<String, Instant>,
}

impl Nodes {
    fn new(me: String) -> Self {
        Nodes {
            me,
            seen: HashMap::new(),
        }
    }

    /// Notes `id` as alive now; whether it is new (not this node, not heard from lately).
    fn heard(&mut self, id: &str, now: Instant) -> bool {
        let new = id != self.me
            && self
                .seen
                .get(id)
                .is_none_or(|&t| now.duration_since(t) >= NODE_TIMEOUT);
        self.seen.insert(id.to_owned(), now);
        new
    }

    /// Forgets nodes not heard from within [`NODE_TIMEOUT`] and sets `live` to the count
    /// (this node always counts); whether it changed.
    fn update(&mut self, live: &mut usize, now: Instant) -> bool {
        let me = &self.me;
        self.seen
            .retain(|id, &mut t| id == me || now.duration_since(t) < NODE_TIMEOUT);
        let n = 1 + self.seen.keys().filter(|id| *id != me).count();
        let changed = *live != n;
        *live = n;
        changed
    }

    /// How many live nodes have a name before this node's.
    fn place(&self) -> usize {
        self.seen.keys().filter(|id| **id < self.me).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_read() {
        assert_eq!(parse("node ab12"), Some(Heard::Node("ab12")));
        assert_eq!(
            parse("reports melodia"),
            Some(Heard::Change(Change::Reports("melodia".into())))
        );
        assert_eq!(
            parse("incidents melodia"),
            Some(Heard::Change(Change::Incidents("melodia".into())))
        );
        assert_eq!(
            parse("monitor api"),
            Some(Heard::Change(Change::Monitor("api".into())))
        );
        assert_eq!(parse("gossip x"), None);
        assert_eq!(parse("reports"), None);
    }

    #[test]
    fn nodes_count_while_they_beat() {
        let t0 = Instant::now();
        let mut nodes = Nodes::new("me".into());
        let mut live = 1;
        assert!(!nodes.heard("me", t0), "this node is never new");
        assert!(nodes.heard("other", t0));
        assert!(!nodes.heard("other", t0 + HEARTBEAT), "known");
        assert!(nodes.update(&mut live, t0 + HEARTBEAT));
        assert_eq!(live, 2);
        assert_eq!(nodes.place(), 0, "\"me\" comes before \"other\"");
        assert!(!nodes.update(&mut live, t0 + HEARTBEAT * 2));
        let later = t0 + HEARTBEAT + NODE_TIMEOUT;
        assert!(nodes.update(&mut live, later));
        assert_eq!(live, 1, "silent for the timeout: gone");
        assert_eq!(nodes.place(), 0, "alone: first");
        assert!(nodes.heard("other", later), "back: new again");
        nodes.heard("aardvark", later);
        nodes.update(&mut live, later);
        assert_eq!((live, nodes.place()), (3, 1), "after \"aardvark\"");
    }
}
