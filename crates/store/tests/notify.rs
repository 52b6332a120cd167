//! The notification outbox, on every backend.

use downbeat_store::testing::each_backend;
use downbeat_store::*;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn event(id: &str) -> NotifyEventRow {
    NotifyEventRow {
        id: id.into(),
        kind: "incident.created".into(),
        service: "acme".into(),
        occurred_ms: T0,
        link: "https://status.example/acme/incidents/1".into(),
        data: r#"{"title":"Login fails"}"#.into(),
    }
}

fn dests(d: &[&str]) -> Vec<String> {
    d.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn enqueueing_twice_makes_one_delivery_per_destination() {
    each_backend(|s, b| async move {
        let e = event("incident-1-update-1");
        assert_eq!(
            s.enqueue_notification(e.clone(), dests(&["a", "b"]), T0)
                .await
                .unwrap(),
            2,
            "{b}"
        );
        // A restart, or a second node, enqueues the same event again: nothing new.
        assert_eq!(
            s.enqueue_notification(e.clone(), dests(&["a", "b"]), T0 + 5)
                .await
                .unwrap(),
            0,
            "{b}"
        );
        // A destination added later gets its own delivery.
        assert_eq!(
            s.enqueue_notification(e, dests(&["b", "c"]), T0 + 9)
                .await
                .unwrap(),
            1,
            "{b}"
        );
        let all = s.deliveries(Some("incident-1-update-1"), 10).await.unwrap();
        assert_eq!(all.len(), 3, "{b}");
        assert!(
            all.iter()
                .all(|d| d.state == DeliveryState::Pending && d.attempts == 0),
            "{b}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_claim_keeps_others_off_until_it_lapses() {
    each_backend(|s, b| async move {
        for i in 0..3 {
            s.enqueue_notification(event(&format!("verdict-{i}")), dests(&["a", "b"]), T0 + i)
                .await
                .unwrap();
        }
        let first = s
            .claim_deliveries("a", "node1", T0 + 10, 30_000, 2)
            .await
            .unwrap();
        assert_eq!(
            first
                .iter()
                .map(|c| c.event.id.as_str())
                .collect::<Vec<_>>(),
            ["verdict-0", "verdict-1"],
            "{b}: oldest first, at most the limit, one destination"
        );
        assert_eq!(first[0].event, event("verdict-0"), "{b}");
        assert!(first.iter().all(|c| c.delivery.destination == "a"), "{b}");
        let second = s
            .claim_deliveries("a", "node2", T0 + 11, 30_000, 10)
            .await
            .unwrap();
        assert_eq!(second.len(), 1, "{b}: claimed ones are skipped");
        assert_eq!(second[0].event.id, "verdict-2", "{b}");
        // node1 dies; its claim lapses and node2 takes its deliveries over.
        let lapsed = s
            .claim_deliveries("a", "node2", T0 + 10 + 30_000, 30_000, 10)
            .await
            .unwrap();
        assert_eq!(lapsed.len(), 2, "{b}");
        // node1's late result no longer counts.
        let late = Attempt {
            at_ms: T0 + 40_000,
            status: Some(200),
            error: None,
            outcome: DeliveryState::Delivered,
            next_attempt_ms: T0 + 40_000,
        };
        assert!(
            !s.record_attempt(first[0].delivery.id, "node1", late.clone())
                .await
                .unwrap(),
            "{b}"
        );
        assert!(
            s.record_attempt(first[0].delivery.id, "node2", late)
                .await
                .unwrap(),
            "{b}"
        );
        let d = &s.deliveries(Some("verdict-0"), 10).await.unwrap();
        let a = d.iter().find(|d| d.destination == "a").unwrap();
        assert_eq!(
            (a.state, a.attempts, a.last_status, a.delivered_ms),
            (DeliveryState::Delivered, 1, Some(200), Some(T0 + 40_000)),
            "{b}"
        );
    })
    .await;
}

#[tokio::test]
async fn attempts_reschedule_and_give_up() {
    each_backend(|s, b| async move {
        s.enqueue_notification(event("monitor-login-down-1"), dests(&["a"]), T0)
            .await
            .unwrap();
        let c = s.claim_deliveries("a", "n", T0, 30_000, 10).await.unwrap();
        let id = c[0].delivery.id;
        let retry = Attempt {
            at_ms: T0 + 1,
            status: Some(500),
            error: Some("HTTP 500".into()),
            outcome: DeliveryState::Pending,
            next_attempt_ms: T0 + 60_000,
        };
        assert!(s.record_attempt(id, "n", retry).await.unwrap(), "{b}");
        assert!(
            s.claim_deliveries("a", "n", T0 + 59_999, 30_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "{b}: not due yet"
        );
        let c = s
            .claim_deliveries("a", "n", T0 + 60_000, 30_000, 10)
            .await
            .unwrap();
        assert_eq!(c.len(), 1, "{b}");
        let give_up = Attempt {
            at_ms: T0 + 60_001,
            status: None,
            error: Some("connection refused".into()),
            outcome: DeliveryState::Failed,
            next_attempt_ms: T0 + 60_001,
        };
        assert!(s.record_attempt(id, "n", give_up).await.unwrap(), "{b}");
        assert!(
            s.claim_deliveries("a", "n", T0 + 999_999_999, 30_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "{b}: failed is settled"
        );
        let d = &s.deliveries(None, 10).await.unwrap()[0];
        assert_eq!(
            (d.state, d.attempts, d.last_status, d.last_error.as_deref()),
            (DeliveryState::Failed, 2, None, Some("connection refused")),
            "{b}"
        );
    })
    .await;
}
