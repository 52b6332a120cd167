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
            None,
        )
        .await
        .unwrap();
        s.save_detector_states("melodia", vec![st("all", "{\"a\":2}", 120_000)], None)
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

        let a = s
            .insert_verdict_event(ev(T0, Verdict::PossibleProblems), None)
            .await
            .unwrap();
        let b = s
            .insert_verdict_event(ev(T0 + 60_000, Verdict::Problems), None)
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
            s.save_detector_states(
                service,
                vec![st("all"), st("country:GB"), st("country:FR")],
                None,
            )
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

/// A stored verdict change of Melodia's overall series (shared with the other modules).
pub(super) fn ev(at_ms: i64, verdict: Verdict) -> VerdictEvent {
    VerdictEvent {
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
    }
}

/// Now on this machine (SQLite judges leases by it; PostgreSQL by its own clock).
fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[tokio::test]
async fn a_lease_has_one_holder_until_it_expires_and_a_new_token_when_it_changes_hands() {
    each_backend(|s, name| async move {
        let ttl = 400;
        let a = s.try_lease("crowd", "node-a", now_ms(), ttl).await.unwrap();
        let a = a.unwrap_or_else(|| panic!("{name}: a free lease is taken"));
        assert!(
            s.try_lease("crowd", "node-b", now_ms(), ttl)
                .await
                .unwrap()
                .is_none(),
            "{name}: held by a"
        );
        let renewed = s.try_lease("crowd", "node-a", now_ms(), ttl).await.unwrap();
        assert_eq!(renewed.as_ref(), Some(&a), "{name}: a renews, same token");
        tokio::time::sleep(std::time::Duration::from_millis(ttl as u64 + 100)).await;
        let b = s
            .try_lease("crowd", "node-b", now_ms(), 30_000)
            .await
            .unwrap();
        let b = b.unwrap_or_else(|| panic!("{name}: expired, b takes it"));
        assert!(b.token > a.token, "{name}: a new holder, a new token");
        assert!(
            s.try_lease("crowd", "node-a", now_ms(), ttl)
                .await
                .unwrap()
                .is_none(),
            "{name}: now b's"
        );
        assert!(
            s.try_lease("other", "node-a", now_ms(), ttl)
                .await
                .unwrap()
                .is_some(),
            "{name}: leases are per name"
        );
        // a, paused past its lease, wakes up and writes under its old fence: refused, and
        // nothing is written. b's writes go through.
        let state = |v: &str| {
            vec![DetectorState {
                series: "all".into(),
                state: v.into(),
                through_minute_ms: T0,
            }]
        };
        let err = s
            .save_detector_states("melodia", state("a"), Some(&a))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{name}: {err}");
        assert!(err.to_string().contains("crowd lease"), "{name}: {err}");
        let err = s
            .insert_verdict_event(ev(T0, Verdict::Problems), Some(&a))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{name}: {err}");
        assert!(
            s.detector_states("melodia").await.unwrap().is_empty(),
            "{name}"
        );
        assert!(
            s.verdict_events("melodia", 0, 10).await.unwrap().is_empty(),
            "{name}"
        );
        s.save_detector_states("melodia", state("b"), Some(&b))
            .await
            .unwrap();
        s.insert_verdict_event(ev(T0, Verdict::Problems), Some(&b))
            .await
            .unwrap();
        assert_eq!(s.detector_states("melodia").await.unwrap()[0].state, "b");
    })
    .await;
}

#[tokio::test]
async fn postgres_judges_leases_by_its_own_clock() {
    // A node whose clock runs a day ahead (or a demo's fast clock) cannot take a lease that
    // has not expired by the database's clock.
    let Some(t) = testing::postgres().await else {
        return;
    };
    let s = open(&t.target).await.unwrap();
    assert!(
        s.try_lease("crowd", "node-a", 0, 30_000)
            .await
            .unwrap()
            .is_some()
    );
    let ahead = now_ms() + 86_400_000;
    assert!(
        s.try_lease("crowd", "node-b", ahead, 30_000)
            .await
            .unwrap()
            .is_none(),
        "a clock ahead does not expire another node's lease"
    );
}
