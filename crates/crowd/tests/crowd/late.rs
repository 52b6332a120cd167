//! Reports that commit after their minute was read (integrity item 18).

use super::*;

/// Regression: the tick read each minute once, so reports committed after that (a queue
/// backlog) were never counted by the detector, although the roll-ups had them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_committed_after_their_minute_was_judged_still_count() {
    for target in testing::all().await {
        let name = target.name;
        let mut rig = Rig::new(&target, t0()).await;
        rig.calm(0, 60, 6).await;
        rig.reports(60, 6, "US").await;
        assert_eq!(rig.judge(60).await.observed, 6.0, "{name}");
        // Thirty more of minute 60 commit now that it has been judged.
        rig.reports(60, 30, "US").await;
        rig.reports(61, 7, "US").await;
        assert_eq!(
            rig.judge(61).await.observed,
            37.0,
            "{name}: late reports count in the minute read when they are found"
        );
        rig.reports(62, 8, "US").await;
        assert_eq!(rig.judge(62).await.observed, 8.0, "{name}: and only once");
        // After a restart (the saved state and the stored reports say what was read), and
        // late by several minutes.
        downbeat_crowd::save_all(&rig.crowd).await.unwrap();
        let mut rig = Rig::on(rig.store.clone(), rig.clock.clone(), rig.t0);
        rig.next = 10_000;
        rig.reports(63, 6, "US").await;
        assert_eq!(rig.judge(63).await.observed, 6.0, "{name}");
        rig.reports(58, 5, "US").await;
        rig.reports(64, 7, "US").await;
        assert_eq!(rig.judge(64).await.observed, 12.0, "{name}");
    }
}

/// Regression: a surge whose every report commits after its minute was judged raised
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surge_that_commits_late_still_raises_a_verdict() {
    for target in testing::all().await {
        let name = target.name;
        let mut rig = Rig::new(&target, t0()).await;
        rig.calm(0, 90, 6).await;
        let mut seen = None;
        for k in 0..8 {
            let m = 90 + k;
            rig.reports(m, 6, "US").await;
            if rig.judge(m).await.verdict != Verdict::NoProblems {
                seen = Some(k);
                break;
            }
            // The surge's reports of minute m, committed once it has been judged.
            rig.reports(m, 150, "GB").await;
        }
        assert!(
            seen.is_some_and(|k| k <= 4),
            "{name}: late surge seen at {seen:?}"
        );
    }
}
