//! `crowd.verdict` events reach the outbox even when queueing fails once (integrity item 14).

use super::*;

/// Makes the outbox unwritable (`away`) or writable again, behind the store's back.
async fn outbox(target: &TestStore, away: bool) {
    let sql = if away {
        "ALTER TABLE notify_events RENAME TO notify_events_away"
    } else {
        "ALTER TABLE notify_events_away RENAME TO notify_events"
    };
    testing::execute_raw(&target.target, sql).await;
}

/// Calm for 90 minutes, then a surge until the overall verdict changes; returns the minute
/// of the change.
async fn outage(rig: &mut Rig) -> i64 {
    rig.calm(0, 90, 6).await;
    for m in 90..96 {
        rig.reports(m, 150, "US").await;
        if rig.judge(m).await.verdict != Verdict::NoProblems {
            return m;
        }
    }
    panic!("the surge raised nothing");
}

async fn queued(rig: &Rig, m: i64) -> usize {
    let id = format!("verdict-melodia-{}", rig.t0 + m * MINUTE);
    rig.store.deliveries(Some(&id), 10).await.unwrap().len()
}

/// Regression: a change whose enqueue failed was only logged, and never told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_could_not_be_queued_is_queued_on_the_next_run() {
    for target in testing::all().await {
        let name = target.name;
        let mut rig = Rig::new(&target, t0()).await;
        outbox(&target, true).await;
        let m = outage(&mut rig).await;
        outbox(&target, false).await;
        assert_eq!(queued(&rig, m).await, 0, "{name}");
        rig.reports(m + 1, 150, "US").await;
        rig.judge(m + 1).await;
        assert_eq!(queued(&rig, m).await, 1, "{name}: queued on the next run");
        let stored = rig.store.verdict_events("melodia", 0, 100).await.unwrap();
        assert_eq!(
            stored
                .iter()
                .filter(|e| e.series == "all" && e.at_ms == rig.t0 + m * MINUTE)
                .count(),
            1,
            "{name}: stored once"
        );
    }
}

/// Regression: a change stored but not queued before the node stopped was never told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_stored_but_not_queued_before_a_stop_is_queued_on_start() {
    for target in testing::all().await {
        let name = target.name;
        let mut rig = Rig::new(&target, t0()).await;
        outbox(&target, true).await;
        let m = outage(&mut rig).await;
        downbeat_crowd::save_all(&rig.crowd).await.unwrap();
        let (store, clock, t0) = (rig.store.clone(), rig.clock.clone(), rig.t0);
        drop(rig);
        outbox(&target, false).await;
        let rig = Rig::on(store, clock, t0);
        rig.judge(m).await;
        assert_eq!(queued(&rig, m).await, 1, "{name}: queued again on start");
    }
}
