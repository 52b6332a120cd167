//! Detector states, verdict events and leases.

use super::*;
use downbeat_domain::Verdict;

#[tokio::test]
async fn detector_states_and_verdict_events_round_trip() {
    each_backend(|s, name| async move {
        let st = |series: &str, v: &str, t| DetectorState {
            series: series.into(),
            state: v.into(),
            through_minute_ms: t,
        };
        s.save_detector_states(
            "melodia",
            vec![
                st("all", "{\"a\":1}", 60_000),
                st("country:GB", "{}", 60_000),
            ],
        )
        .await
        .unwrap();
        s.save_detector_states("melodia", vec![st("all", "{\"a\":2}", 120_000)])
            .await
            .unwrap();
        let mut got = s.detector_states("melodia").await.unwrap();
        got.sort_by(|a, b| a.series.cmp(&b.series));
        assert_eq!(
            got,
            vec![
                st("all", "{\"a\":2}", 120_000),
                st("country:GB", "{}", 60_000)
            ],
            "{name}"
        );
        assert!(
            s.detector_states("other").await.unwrap().is_empty(),
            "{name}"
        );

        let ev = |at_ms, verdict: Verdict| VerdictEvent {
            id: 0,
            service: "melodia".into(),
            series: "all".into(),
            at_ms,
            verdict,
            previous: Verdict::NoProblems,
            score: 0.9,
            observed: 140.0,
            expected: 10.0,
            explanation: "reports 14× the usual".into(),
            evidence: serde_json::json!({}),
        };
        let a = s
            .insert_verdict_event(ev(T0, Verdict::PossibleProblems))
            .await
            .unwrap();
        let b = s
            .insert_verdict_event(ev(T0 + 60_000, Verdict::Problems))
            .await
            .unwrap();
        assert!(b > a, "{name}");
        let events = s.verdict_events("melodia", T0, 10).await.unwrap();
        assert_eq!(
            events
                .iter()
                .map(|e| e.verdict.as_str())
                .collect::<Vec<_>>(),
            ["problems", "possible_problems"],
            "{name}"
        );
        assert_eq!(events[0].id, b, "{name}");
        assert_eq!(events[0].explanation, "reports 14× the usual", "{name}");
        assert_eq!(
            s.verdict_events("melodia", T0 + 1, 10).await.unwrap().len(),
            1,
            "{name}"
        );
        assert_eq!(
            s.verdict_events("melodia", 0, 1).await.unwrap().len(),
            1,
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn detector_states_of_series_that_lost_their_slot_are_deleted() {
    each_backend(|s, name| async move {
        let st = |series: &str| DetectorState {
            series: series.into(),
            state: "{}".into(),
            through_minute_ms: 60_000,
        };
        for service in ["melodia", "other"] {
            s.save_detector_states(service, vec![st("all"), st("country:GB"), st("country:FR")])
                .await
                .unwrap();
        }
        let n = s
            .delete_detector_states("melodia", vec!["country:FR".into(), "country:JP".into()])
            .await
            .unwrap();
        assert_eq!(n, 1, "{name}: only FR was saved");
        let series = |service: &'static str| {
            let s = s.clone();
            async move {
                let mut v: Vec<String> = s
                    .detector_states(service)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|d| d.series)
                    .collect();
                v.sort();
                v
            }
        };
        assert_eq!(series("melodia").await, ["all", "country:GB"], "{name}");
        assert_eq!(
            series("other").await,
            ["all", "country:FR", "country:GB"],
            "{name}: other services keep theirs"
        );
        assert_eq!(
            s.delete_detector_states("melodia", Vec::new())
                .await
                .unwrap(),
            0,
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_lease_has_one_holder_until_it_expires() {
    each_backend(|s, name| async move {
        assert!(
            s.try_lease("crowd", "node-a", 1_000, 30_000).await.unwrap(),
            "{name}: free lease"
        );
        assert!(
            !s.try_lease("crowd", "node-b", 2_000, 30_000).await.unwrap(),
            "{name}: held by a"
        );
        assert!(
            s.try_lease("crowd", "node-a", 20_000, 30_000)
                .await
                .unwrap(),
            "{name}: a renews"
        );
        assert!(
            !s.try_lease("crowd", "node-b", 49_999, 30_000)
                .await
                .unwrap(),
            "{name}: renewed until 50 s"
        );
        assert!(
            s.try_lease("crowd", "node-b", 50_000, 30_000)
                .await
                .unwrap(),
            "{name}: expired, b takes it"
        );
        assert!(
            !s.try_lease("crowd", "node-a", 50_001, 30_000)
                .await
                .unwrap(),
            "{name}: now b's"
        );
        assert!(
            s.try_lease("other", "node-a", 50_001, 30_000)
                .await
                .unwrap(),
            "{name}: leases are per name"
        );
    })
    .await;
}
