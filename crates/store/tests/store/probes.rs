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
