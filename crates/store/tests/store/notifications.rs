//! The notification outbox, subscribers and flap states.

use super::*;
use downbeat_domain::event::EventKind;

fn event(id: &str) -> NotifyEventRow {
    NotifyEventRow {
        id: id.into(),
        kind: OutboxKind::Event(EventKind::IncidentCreated),
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
            .claim_deliveries(Claim::Destination("a"), "node1", T0 + 10, 30_000, 2)
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
            .claim_deliveries(Claim::Destination("a"), "node2", T0 + 11, 30_000, 10)
            .await
            .unwrap();
        assert_eq!(second.len(), 1, "{b}: claimed ones are skipped");
        assert_eq!(second[0].event.id, "verdict-2", "{b}");
        // node1 dies; its claim lapses and node2 takes its deliveries over.
        let lapsed = s
            .claim_deliveries(
                Claim::Destination("a"),
                "node2",
                T0 + 10 + 30_000,
                30_000,
                10,
            )
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
        let c = s
            .claim_deliveries(Claim::Destination("a"), "n", T0, 30_000, 10)
            .await
            .unwrap();
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
            s.claim_deliveries(Claim::Destination("a"), "n", T0 + 59_999, 30_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "{b}: not due yet"
        );
        let c = s
            .claim_deliveries(Claim::Destination("a"), "n", T0 + 60_000, 30_000, 10)
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
            s.claim_deliveries(Claim::Destination("a"), "n", T0 + 999_999_999, 30_000, 10)
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

fn subscriber(service: &str, kind: SubscriberKind, address: &str, at: i64) -> SubscriberRow {
    SubscriberRow {
        id: 0,
        service: service.into(),
        kind,
        address: address.into(),
        components: vec!["login".into(), "search".into()],
        secret: (kind == SubscriberKind::Webhook).then(|| "s3cret".into()),
        created_ms: at,
        confirmed_ms: (kind == SubscriberKind::Webhook).then_some(at),
        confirm_sent_ms: None,
    }
}

#[tokio::test]
async fn subscribers_are_unique_per_address_and_found_by_token_hash() {
    each_backend(|s, b| async move {
        let (a, new) = s
            .add_subscriber(subscriber(
                "acme",
                SubscriberKind::Email,
                "ana@x.example",
                T0,
            ))
            .await
            .unwrap();
        assert!(new, "{b}");
        assert_eq!(a.components, ["login", "search"], "{b}");
        assert_eq!(a.confirmed_ms, None, "{b}");
        let (again, new) = s
            .add_subscriber(subscriber(
                "acme",
                SubscriberKind::Email,
                "ana@x.example",
                T0 + 5,
            ))
            .await
            .unwrap();
        assert!(!new, "{b}: the same address subscribes once");
        assert_eq!((again.id, again.created_ms), (a.id, T0), "{b}");
        let (other, new) = s
            .add_subscriber(subscriber(
                "other",
                SubscriberKind::Email,
                "ana@x.example",
                T0,
            ))
            .await
            .unwrap();
        assert!(new && other.id != a.id, "{b}: per service");

        assert!(s.add_subscriber_token(a.id, "h1", T0).await.unwrap(), "{b}");
        assert!(
            !s.add_subscriber_token(999_999, "h2", T0).await.unwrap(),
            "{b}"
        );
        assert_eq!(
            s.subscriber_by_token("h1", T0).await.unwrap().unwrap().id,
            a.id,
            "{b}"
        );
        assert!(
            s.subscriber_by_token("h1", T0 + 1).await.unwrap().is_none(),
            "{b}: expired"
        );
        assert!(
            s.subscriber_by_token("nope", 0).await.unwrap().is_none(),
            "{b}"
        );

        assert!(
            s.confirmed_subscribers("acme").await.unwrap().is_empty(),
            "{b}"
        );
        assert!(
            s.mark_confirmation_sent(a.id, T0, T0 - 3_600_000)
                .await
                .unwrap(),
            "{b}"
        );
        assert!(
            !s.mark_confirmation_sent(a.id, T0 + 60_000, T0 + 60_000 - 3_600_000)
                .await
                .unwrap(),
            "{b}: one confirmation mail an hour"
        );
        assert!(s.confirm_subscriber(a.id, T0 + 10).await.unwrap(), "{b}");
        assert!(s.confirm_subscriber(a.id, T0 + 20).await.unwrap(), "{b}");
        let confirmed = s.confirmed_subscribers("acme").await.unwrap();
        assert_eq!(confirmed.len(), 1, "{b}");
        assert_eq!(
            confirmed[0].confirmed_ms,
            Some(T0 + 10),
            "{b}: the first confirmation counts"
        );
        assert!(
            s.set_subscriber_components(a.id, vec![]).await.unwrap(),
            "{b}"
        );
        assert!(
            s.subscriber(a.id)
                .await
                .unwrap()
                .unwrap()
                .components
                .is_empty(),
            "{b}"
        );

        // Deliveries to email subscribers are claimed together, apart from configured
        // destinations.
        let to = subscriber_destination(a.id);
        assert_eq!(destination_subscriber(&to), Some(a.id));
        s.enqueue_notification(
            event("incident-1-update-1"),
            vec![to.clone(), "ops".into()],
            T0,
        )
        .await
        .unwrap();
        let subs = s
            .claim_deliveries(
                Claim::Subscribers(SubscriberKind::Email),
                "n",
                T0,
                30_000,
                10,
            )
            .await
            .unwrap();
        assert_eq!(subs.len(), 1, "{b}");
        assert_eq!(subs[0].delivery.destination, to, "{b}");
        let ops = s
            .claim_deliveries(Claim::Destination("ops"), "n", T0, 30_000, 10)
            .await
            .unwrap();
        assert_eq!(ops.len(), 1, "{b}");
        s.enqueue_notification(event("incident-1-update-2"), vec![to.clone()], T0)
            .await
            .unwrap();

        assert!(s.delete_subscriber(a.id).await.unwrap(), "{b}");
        assert!(!s.delete_subscriber(a.id).await.unwrap(), "{b}");
        assert!(
            s.subscriber_by_token("h1", 0).await.unwrap().is_none(),
            "{b}"
        );
        let left = s.deliveries(Some("incident-1-update-2"), 10).await.unwrap();
        assert!(
            left.is_empty(),
            "{b}: pending deliveries go with the subscriber: {left:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn pruning_keeps_pending_work_and_recent_history() {
    each_backend(|s, b| async move {
        for (i, id) in ["old-delivered", "old-pending", "new-delivered"]
            .iter()
            .enumerate()
        {
            let at = if id.starts_with("old") {
                T0
            } else {
                T0 + 10 * 86_400_000
            };
            let mut e = event(id);
            e.occurred_ms = at;
            s.enqueue_notification(e, dests(&["a"]), at + i as i64)
                .await
                .unwrap();
        }
        for c in s
            .claim_deliveries(
                Claim::Destination("a"),
                "n",
                T0 + 11 * 86_400_000,
                30_000,
                10,
            )
            .await
            .unwrap()
        {
            if c.event.id.ends_with("pending") {
                continue;
            }
            let done = Attempt {
                at_ms: T0 + 11 * 86_400_000,
                status: Some(200),
                error: None,
                outcome: DeliveryState::Delivered,
                next_attempt_ms: 0,
            };
            s.record_attempt(c.delivery.id, "n", done).await.unwrap();
        }
        let (pending_sub, _) = s
            .add_subscriber(subscriber(
                "acme",
                SubscriberKind::Email,
                "old@x.example",
                T0,
            ))
            .await
            .unwrap();
        s.add_subscriber_token(pending_sub.id, "old-token", T0)
            .await
            .unwrap();
        let (hook, _) = s
            .add_subscriber(subscriber(
                "acme",
                SubscriberKind::Webhook,
                "https://h.example/",
                T0,
            ))
            .await
            .unwrap();
        let out = s
            .prune_notifications(NotifyPrune {
                settled_before_ms: T0 + 86_400_000,
                tokens_before_ms: T0 + 1,
                unconfirmed_before_ms: T0 + 1,
            })
            .await
            .unwrap();
        assert_eq!(
            out,
            NotifyPruned {
                deliveries: 1,
                events: 1,
                tokens: 1,
                subscribers: 1
            },
            "{b}"
        );
        let left: Vec<String> = s
            .deliveries(None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.event_id)
            .collect();
        assert_eq!(left, ["new-delivered", "old-pending"], "{b}");
        assert!(s.subscriber(pending_sub.id).await.unwrap().is_none(), "{b}");
        assert!(
            s.subscriber(hook.id).await.unwrap().is_some(),
            "{b}: confirmed ones stay"
        );
        // The pruned event can be told again; the pending one is still known.
        assert_eq!(
            s.enqueue_notification(event("old-pending"), dests(&["a"]), T0)
                .await
                .unwrap(),
            0,
            "{b}"
        );
    })
    .await;
}

#[tokio::test]
async fn flap_states_are_saved_replaced_and_forgotten() {
    each_backend(|s, b| async move {
        s.save_flap_state("api", Some(r#"{"recent":[1]}"#.into()), T0)
            .await
            .unwrap();
        s.save_flap_state("web", Some("{}".into()), T0)
            .await
            .unwrap();
        s.save_flap_state("api", Some(r#"{"recent":[1,2]}"#.into()), T0 + 1)
            .await
            .unwrap();
        assert_eq!(
            s.flap_states().await.unwrap(),
            [
                ("api".to_owned(), r#"{"recent":[1,2]}"#.to_owned()),
                ("web".to_owned(), "{}".to_owned())
            ],
            "{b}"
        );
        s.save_flap_state("web", None, T0 + 2).await.unwrap();
        s.save_flap_state("nobody", None, T0 + 2).await.unwrap();
        assert_eq!(s.flap_states().await.unwrap().len(), 1, "{b}");
    })
    .await;
}

/// Email and webhook subscribers are claimed by separate loops, and a webhook endpoint is
/// served one request at a time: a claim takes one delivery per endpoint, and none for an
/// endpoint whose last claim is still running — so a slow endpoint holds one request at
/// most. The email loop also settles deliveries whose subscriber is gone.
#[tokio::test]
async fn webhook_subscribers_are_claimed_apart_and_one_at_a_time_per_endpoint() {
    each_backend(|s, b| async move {
        let add = |kind, address: &'static str| {
            let s = s.clone();
            async move {
                s.add_subscriber(subscriber("acme", kind, address, T0))
                    .await
                    .unwrap()
                    .0
                    .id
            }
        };
        let mail = subscriber_destination(add(SubscriberKind::Email, "ana@x.example").await);
        let slow =
            subscriber_destination(add(SubscriberKind::Webhook, "https://slow.example/").await);
        let fast =
            subscriber_destination(add(SubscriberKind::Webhook, "https://fast.example/").await);
        let gone = subscriber_destination(999_999);
        for n in 1..=3 {
            s.enqueue_notification(
                event(&format!("incident-1-update-{n}")),
                vec![mail.clone(), slow.clone(), fast.clone(), gone.clone()],
                T0 + n,
            )
            .await
            .unwrap();
        }
        let now = T0 + 10;
        let claim = |kind, at: i64| {
            let s = s.clone();
            async move {
                s.claim_deliveries(Claim::Subscribers(kind), "n", at, 30_000, 10)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|c| (c.delivery.destination, c.event.id))
                    .collect::<Vec<_>>()
            }
        };
        let hooks = claim(SubscriberKind::Webhook, now).await;
        assert_eq!(
            hooks,
            [
                (slow.clone(), "incident-1-update-1".to_owned()),
                (fast.clone(), "incident-1-update-1".to_owned())
            ],
            "{b}: the oldest one per endpoint"
        );
        assert!(
            claim(SubscriberKind::Webhook, now).await.is_empty(),
            "{b}: nothing more while an endpoint's request runs"
        );
        let mails = claim(SubscriberKind::Email, now).await;
        assert_eq!(
            mails.len(),
            6,
            "{b}: mails and the gone subscriber's: {mails:?}"
        );
        assert!(
            mails.iter().all(|(d, _)| *d == mail || *d == gone),
            "{b}: {mails:?}"
        );
        // The fast endpoint answered; the slow one's request still runs.
        let fast_id = s
            .deliveries(Some("incident-1-update-1"), 10)
            .await
            .unwrap()
            .into_iter()
            .find(|d| d.destination == fast)
            .unwrap()
            .id;
        let done = Attempt {
            at_ms: now,
            status: Some(204),
            error: None,
            outcome: DeliveryState::Delivered,
            next_attempt_ms: now,
        };
        assert!(s.record_attempt(fast_id, "n", done).await.unwrap(), "{b}");
        assert_eq!(
            claim(SubscriberKind::Webhook, now + 1).await,
            [(fast.clone(), "incident-1-update-2".to_owned())],
            "{b}: the next one for the endpoint that answered, none for the slow one"
        );
        // The slow endpoint's claim lapsed: it gets its next request.
        let later = claim(SubscriberKind::Webhook, now + 30_001).await;
        assert!(
            later.contains(&(slow.clone(), "incident-1-update-1".to_owned())),
            "{b}: {later:?}"
        );
    })
    .await;
}
