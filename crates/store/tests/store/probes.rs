//! Monitor results, roll-ups and states.

use super::*;
use downbeat_domain::event::CheckState;

#[tokio::test]
async fn probe_results_roll_up_and_come_back_latest_first_per_region() {
    each_backend(|s, name| async move {
        s.insert_probe_results(vec![
            probe("api", "eu-west", T0, false),
            probe("api", "eu-west", T0 + 5_000, true),
            probe("api", "us-east", T0 + 1_000, false),
            probe("web", "eu-west", T0 + 2_000, false),
        ])
        .await
        .unwrap();
        s.insert_probe_results(vec![probe("api", "eu-west", T0 + 3_600_000, false)])
            .await
            .unwrap();
        let got = s.probe_results("api", T0, 100).await.unwrap();
        assert_eq!(
            got.iter().map(|r| r.at_ms - T0).collect::<Vec<_>>(),
            [0, 1_000, 5_000, 3_600_000],
            "{name}"
        );
        assert_eq!(got[2].cause, Some(Cause::Connect), "{name}");
        assert_eq!(
            s.probe_results("api", T0 + 2_000, 100).await.unwrap().len(),
            2,
            "{name}"
        );
        assert_eq!(
            s.probe_results("api", T0, 1).await.unwrap().len(),
            1,
            "{name}"
        );
        let mut latest = s.latest_probe_results(T0).await.unwrap();
        latest.sort_by(|a, b| (&a.monitor, &a.region).cmp(&(&b.monitor, &b.region)));
        let l: Vec<(&str, &str, i64)> = latest
            .iter()
            .map(|r| (r.monitor.as_str(), r.region.as_str(), r.at_ms - T0))
            .collect();
        assert_eq!(
            l,
            [
                ("api", "eu-west", 3_600_000),
                ("api", "us-east", 1_000),
                ("web", "eu-west", 2_000)
            ],
            "{name}"
        );
        let hours = s.probe_hours("api", T0).await.unwrap();
        let h: Vec<(&str, i64, u64, u64)> = hours
            .iter()
            .map(|h| (h.region.as_str(), h.hour_ms - T0, h.probes, h.failures))
            .collect();
        assert_eq!(
            h,
            [
                ("eu-west", 0, 2, 1),
                ("us-east", 0, 1, 0),
                ("eu-west", 3_600_000, 1, 0)
            ],
            "{name}"
        );
        assert!((hours[0].total_ms - 5.0).abs() < 1e-9, "{name}");
    })
    .await;
}

#[tokio::test]
async fn monitor_states_persist() {
    each_backend(|s, name| async move {
        let st = |state, since_ms, cause| MonitorState {
            monitor: "api".into(),
            state,
            since_ms,
            cause,
            notified: true,
        };
        s.save_monitor_state(st(CheckState::Down, 5, Some(Cause::TlsCertificate)))
            .await
            .unwrap();
        assert_eq!(
            s.monitor_states().await.unwrap(),
            vec![st(CheckState::Down, 5, Some(Cause::TlsCertificate))],
            "{name}"
        );
        s.save_monitor_state(st(CheckState::Up, 9, None))
            .await
            .unwrap();
        assert_eq!(
            s.monitor_states().await.unwrap(),
            vec![st(CheckState::Up, 9, None)],
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn probe_days_sum_hours_and_regions_per_utc_day() {
    each_backend(|s, name| async move {
        const DAY: i64 = 86_400_000;
        s.insert_probe_results(vec![
            // day 0: three probes from two regions, one failing
            probe("api", "eu-west", T0 + 1_000, false),
            probe("api", "us-east", T0 + 2_000, false),
            probe("api", "eu-west", T0 + 23 * 3_600_000, true),
            // day 2 (day 1 has nothing): one failing probe
            probe("api", "eu-west", T0 + 2 * DAY + 5_000, true),
            // another monitor, and a day before the window
            probe("web", "eu-west", T0 + 1_000, true),
            probe("api", "eu-west", T0 - DAY, true),
        ])
        .await
        .unwrap();
        let days: Vec<(i64, u64, u64)> = s
            .probe_days("api", T0)
            .await
            .unwrap()
            .iter()
            .map(|d| ((d.day_ms - T0) / DAY, d.probes, d.failures))
            .collect();
        assert_eq!(days, [(0, 3, 1), (2, 1, 1)], "{name}");
        assert!(
            s.probe_days("nobody", 0).await.unwrap().is_empty(),
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_result_is_stored_and_rolled_up_once_per_monitor_region_and_start() {
    each_backend(|s, name| async move {
        let first = s
            .insert_probe_results(vec![
                probe("api", "eu-west", T0, true),
                probe("api", "us-east", T0, false),
            ])
            .await
            .unwrap();
        assert_eq!(first, [true, true], "{name}");
        // The same push again (a retry after a lost answer), plus one new result and a copy
        // of it within the batch.
        let again = s
            .insert_probe_results(vec![
                probe("api", "eu-west", T0, true),
                probe("api", "us-east", T0, false),
                probe("api", "eu-west", T0 + 1_000, false),
                probe("api", "eu-west", T0 + 1_000, false),
            ])
            .await
            .unwrap();
        assert_eq!(again, [false, false, true, false], "{name}");
        assert_eq!(
            s.probe_results("api", T0, 100).await.unwrap().len(),
            3,
            "{name}: stored once each"
        );
        let hours: Vec<(String, u64, u64)> = s
            .probe_hours("api", T0)
            .await
            .unwrap()
            .into_iter()
            .map(|h| (h.region, h.probes, h.failures))
            .collect();
        assert_eq!(
            hours,
            [("eu-west".into(), 2, 1), ("us-east".into(), 1, 0)],
            "{name}: rolled up once each"
        );
    })
    .await;
}

#[tokio::test]
async fn a_change_saved_untold_stays_untold_until_marked() {
    each_backend(|s, name| async move {
        let st = |since_ms, notified| MonitorState {
            monitor: "api".into(),
            state: CheckState::Down,
            since_ms,
            cause: Some(Cause::Connect),
            notified,
        };
        s.save_monitor_state(st(5, false)).await.unwrap();
        assert_eq!(s.monitor_states().await.unwrap(), [st(5, false)], "{name}");
        // Marking an older change leaves the newer one as it is.
        s.monitor_notified("api", 4).await.unwrap();
        assert_eq!(s.monitor_states().await.unwrap(), [st(5, false)], "{name}");
        s.monitor_notified("api", 5).await.unwrap();
        assert_eq!(s.monitor_states().await.unwrap(), [st(5, true)], "{name}");
    })
    .await;
}

/// A rule for the store's judging tests: one down result opens a monitor, one up result
/// closes it; it counts every result it judges.
struct OneStrike;

impl Judge for OneStrike {
    fn lookback_ms(&self, _: &str) -> i64 {
        60_000
    }

    fn judge(
        &self,
        monitor: &str,
        judging: &mut Judging,
        _latest: Vec<LatestResult>,
        new: &[&NewProbeResult],
    ) -> Vec<downbeat_store::MonitorState> {
        let mut changes = Vec::new();
        for r in new {
            judging.bad_rounds += 1;
            let down = r.outcome == Outcome::Down;
            let was_down = judging
                .state
                .as_ref()
                .is_some_and(|s| s.state == CheckState::Down);
            if down != was_down {
                let s = downbeat_store::MonitorState {
                    monitor: monitor.into(),
                    state: if down {
                        CheckState::Down
                    } else {
                        CheckState::Up
                    },
                    since_ms: r.at_ms,
                    cause: r.cause,
                    notified: false,
                };
                judging.state = Some(s.clone());
                changes.push(s);
            }
        }
        changes
    }
}

#[tokio::test]
async fn results_are_judged_with_their_shared_counters_and_a_change_is_saved_untold() {
    each_backend(|s, name| async move {
        let rule: std::sync::Arc<dyn Judge> = std::sync::Arc::new(OneStrike);
        let j = s
            .record_probe_results(
                vec![
                    probe("api", "eu-west", T0, false),
                    probe("api", "eu-west", T0 + 1_000, true),
                    probe("web", "eu-west", T0, false),
                ],
                rule.clone(),
            )
            .await
            .unwrap();
        assert_eq!(j.new, [true, true, true], "{name}");
        let states: Vec<(String, CheckState, i64)> = j
            .changes
            .iter()
            .map(|c| (c.monitor.clone(), c.state, c.since_ms - T0))
            .collect();
        // Up with no state before is no change; down is.
        assert_eq!(states, [("api".into(), CheckState::Down, 1_000)], "{name}");
        // A retried batch is not judged again; the next one sees the saved state.
        let j = s
            .record_probe_results(
                vec![
                    probe("api", "eu-west", T0 + 1_000, true),
                    probe("api", "us-east", T0 + 2_000, true),
                ],
                rule.clone(),
            )
            .await
            .unwrap();
        assert_eq!(j.new, [false, true], "{name}");
        assert!(j.changes.is_empty(), "{name}: still down: {:?}", j.changes);
        let mut saved = s.monitor_states().await.unwrap();
        saved.sort_by(|a, b| a.monitor.cmp(&b.monitor));
        assert_eq!(saved[0].state, CheckState::Down, "{name}");
        assert_eq!(saved[0].since_ms, T0 + 1_000, "{name}");
        assert!(!saved[0].notified, "{name}: saved untold");
        // The other node's picture: the state and the newest result per region.
        let (states, latest) = s.monitor_pictures(vec!["api".into()], T0).await.unwrap();
        assert_eq!(states.len(), 1, "{name}");
        let mut l: Vec<(String, i64)> = latest
            .iter()
            .map(|r| (r.region.clone(), r.at_ms - T0))
            .collect();
        l.sort();
        assert_eq!(
            l,
            [("eu-west".into(), 1_000), ("us-east".into(), 2_000)],
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn nodes_judging_one_monitor_at_once_decide_its_change_once() {
    // Two nodes (two pools on one database) store a down result of the same monitors from
    // different regions at the same moment: each monitor goes down once, not once per node.
    let Some(t) = testing::postgres().await else {
        return;
    };
    let a = open(&t.target).await.unwrap();
    let b = open(&t.shared().target).await.unwrap();
    let rule: std::sync::Arc<dyn Judge> = std::sync::Arc::new(OneStrike);
    let monitors: Vec<String> = (0..40).map(|i| format!("m{i:02}")).collect();
    let batch = |region: &str| -> Vec<NewProbeResult> {
        monitors
            .iter()
            .map(|m| probe(m, region, T0, true))
            .collect()
    };
    let mut tasks = Vec::new();
    for round in 0..5 {
        for (store, region) in [(a.clone(), "eu-west"), (b.clone(), "us-east")] {
            let mut rows = batch(region);
            for r in &mut rows {
                r.at_ms += round;
            }
            let rule = rule.clone();
            tasks.push(tokio::spawn(async move {
                store.record_probe_results(rows, rule).await.unwrap()
            }));
        }
    }
    let mut changes = 0;
    for t in tasks {
        changes += t.await.unwrap().changes.len();
    }
    assert_eq!(
        changes,
        monitors.len(),
        "one change per monitor across both nodes"
    );
    // Every result was judged once: the shared counter saw all ten.
    let states = a.monitor_states().await.unwrap();
    assert_eq!(states.len(), monitors.len());
}
