//! The change feed between nodes: PostgreSQL only (`LISTEN/NOTIFY`); SQLite has one node
//! and no feed.

use super::*;
use downbeat_store::testing::{PgCluster, TestStore};
use std::collections::BTreeSet;
use std::time::Duration;

async fn next(feed: &mut ChangeFeed) -> Change {
    tokio::time::timeout(Duration::from_secs(30), feed.changes.recv())
        .await
        .expect("a change within 30 s")
        .expect("the feed is open")
}

async fn until_live(feed: &mut ChangeFeed, n: usize) {
    tokio::time::timeout(
        Duration::from_secs(30),
        feed.live_nodes.wait_for(|&live| live == n),
    )
    .await
    .unwrap_or_else(|_| panic!("{n} live nodes within 30 s"))
    .expect("the feed is open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_hears_what_another_commits_and_counts_the_live_nodes() {
    let sqlite = testing::sqlite();
    assert!(open(&sqlite.target).await.unwrap().changes("n").is_none());
    let Some(t) = testing::postgres().await else {
        return;
    };
    let a = open(&t.target).await.unwrap();
    let b = open(&t.target).await.unwrap();
    let mut fa = a.changes("node-a").unwrap();
    assert_eq!(
        next(&mut fa).await,
        Change::Resync,
        "listening: anything may have changed"
    );
    let mut fb = b.changes("node-b").unwrap();
    assert_eq!(next(&mut fb).await, Change::Resync);
    until_live(&mut fa, 2).await;
    until_live(&mut fb, 2).await;

    // Reports that do not count change nothing a page shows: no word of them.
    insert(&b, vec![report("melodia", T0, "login", 1, false)]).await;
    insert(
        &b,
        vec![
            report("melodia", T0, "login", 2, true),
            report("melodia", T0, "login", 3, true),
            report("quiet", T0, "login", 4, true),
        ],
    )
    .await;
    let heard: BTreeSet<_> = [next(&mut fa).await, next(&mut fa).await].into();
    assert_eq!(
        heard,
        [
            Change::Reports("melodia".into()),
            Change::Reports("quiet".into())
        ]
        .into(),
        "one word per service and commit"
    );
    let own: BTreeSet<_> = [next(&mut fb).await, next(&mut fb).await].into();
    assert_eq!(own, heard, "a node hears its own changes too");
    execute_raw_incident(&t.target).await;
    assert_eq!(next(&mut fa).await, Change::Incidents("melodia".into()));
}

/// Reports written by a node of an earlier release, whose connections do not say they
/// announce their own writes, are still heard (the trigger says them at commit); a node of
/// this release's writes are not said at commit (its store says them a moment later, off
/// the commit's path: see the store's `announce` module).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_of_nodes_that_do_not_announce_them_are_still_heard() {
    let Some(t) = testing::postgres().await else {
        return;
    };
    let a = open(&t.target).await.unwrap();
    let mut feed = a.changes("node-a").unwrap();
    assert_eq!(next(&mut feed).await, Change::Resync);
    let row = |service: &str| {
        format!(
            "INSERT INTO reports (service, received_at_ms, problem, client_hash, network_hash,
                counted) VALUES ('{service}', {T0}, 'login', '\\x01', '\\x01', TRUE);"
        )
    };
    testing::execute_raw(
        &t.target,
        &format!("SET downbeat.announces = 'on'; {}", row("announced")),
    )
    .await;
    testing::execute_raw(&t.target, &row("older")).await;
    assert_eq!(
        next(&mut feed).await,
        Change::Reports("older".into()),
        "the trigger said the older node's reports, and nothing of the announcing node's"
    );
}

/// An incident row written as another node's store would.
async fn execute_raw_incident(target: &StoreTarget) {
    testing::execute_raw(
        target,
        "INSERT INTO incidents (service, kind, title, status, impact, components, draft,
            source, created_ms, updated_ms, version)
         VALUES ('melodia', 'incident', 'Login failing', 'investigating', 'major', '{}',
            FALSE, 'operator', 0, 0, 1)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_comes_back_by_itself_after_the_server_restarts() {
    let Some(pg) = PgCluster::start(None) else {
        return;
    };
    let t = TestStore::on_cluster(&pg);
    let store = open_with(
        &t.target,
        PgTimeouts {
            connect: Duration::from_secs(1),
            statement: Duration::from_secs(1),
        },
    )
    .await
    .unwrap();
    let mut feed = store.changes("n").unwrap();
    assert_eq!(next(&mut feed).await, Change::Resync);
    let pg = std::sync::Arc::new(pg);
    let stop = pg.clone();
    tokio::task::spawn_blocking(move || stop.stop())
        .await
        .unwrap();
    let (_, r) = store
        .insert_reports(vec![report("melodia", T0, "login", 1, true)])
        .await;
    assert!(
        matches!(r, Err(StoreError::Unavailable(_))),
        "a stopped server is unavailable, not an internal error: {r:?}"
    );
    let start = pg.clone();
    tokio::task::spawn_blocking(move || start.start_again())
        .await
        .unwrap();
    assert_eq!(
        next(&mut feed).await,
        Change::Resync,
        "back, and saying it missed what happened while away"
    );
    insert(&store, vec![report("melodia", T0, "login", 2, true)]).await;
    assert_eq!(next(&mut feed).await, Change::Reports("melodia".into()));
}

/// Nodes add their counts to their own stripes of a minute's roll-up row (PostgreSQL; a
/// node's stripe is its place among the live nodes, which the change feed follows). One node's open transaction on its
/// stripe does not hold up another node's batch for the same minute, and every read sums the
/// stripes as one minute: a window that starts inside a minute's first milliseconds leaves
/// the whole minute out, as it always did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_count_one_minute_in_stripes_without_waiting_for_each_other() {
    let Some(t) = testing::postgres().await else {
        return;
    };
    let StoreTarget::Postgres(url) = &t.target else {
        unreachable!()
    };
    let a = open(&t.target).await.unwrap();
    let b = open(&t.target).await.unwrap();
    // The feeds find each other: node a is first of the two, node b second.
    let mut fa = a.changes("node-a").unwrap();
    let mut fb = b.changes("node-b").unwrap();
    until_live(&mut fa, 2).await;
    until_live(&mut fb, 2).await;
    insert(&a, vec![report("melodia", T0 + 1_000, "login", 1, true)]).await;

    // Another session holds node a's row of the minute, as a batch of a's in flight would.
    let mut raw = testing::raw_postgres(url).await;
    let held = raw.transaction().await.unwrap();
    let locked = held
        .execute(
            "UPDATE report_minutes SET count = count WHERE service = 'melodia'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(locked, 1, "one row so far: node a's stripe");
    let b_wrote = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        // The same roll-up key (platform and country follow the client).
        insert(&b, vec![report("melodia", T0 + 2_000, "login", 1, true)]),
    )
    .await;
    assert!(b_wrote.is_ok(), "node b waited for node a's row");
    held.rollback().await.unwrap();

    assert_eq!(a.summary("melodia", T0).await.unwrap().total, 2);
    assert_eq!(
        b.report_counts("melodia", T0, T0 + 3_600_000, MINUTE_MS)
            .await
            .unwrap(),
        vec![BucketCount {
            start_ms: T0,
            count: 2
        }],
        "both stripes are one minute"
    );
    assert_eq!(
        b.report_counts("melodia", T0 + 1, T0 + 3_600_000, MINUTE_MS)
            .await
            .unwrap(),
        vec![],
        "a window from 1 ms into the minute leaves all of it out"
    );
    assert_eq!(
        b.report_counts("melodia", T0 - 60_000, T0 + 1, MINUTE_MS)
            .await
            .unwrap(),
        vec![BucketCount {
            start_ms: T0,
            count: 2
        }],
        "and one that ends 1 ms into it takes all of it"
    );
}
