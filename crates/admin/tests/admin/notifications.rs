//! The notifications page: destinations with their counts and recent deliveries with their
//! attempts and errors, for any signed-in user; never a subscriber's address.

use crate::helpers::*;
use downbeat_api::auth::Role;
use downbeat_domain::event::EventKind;
use downbeat_store::{
    Attempt, Claim, DeliveryState, NotifyEventRow, OutboxKind, subscriber_destination,
};
use reqwest::StatusCode;

#[tokio::test]
async fn the_outbox_is_visible_with_attempts_and_errors() {
    let app = spawn_with(&config_text(
        "[notify]\npublic_url = \"https://status.example\"\n\
         [[notify.webhook]]\nid = \"ops-chat\"\nurl = \"http://127.0.0.1:9/x\"\nformat = \"slack\"\n",
    ))
    .await;
    app.add_user("vera", Role::Viewer).await;
    let store = &app.app.store;
    let now = app.clock.now_ms();
    let event = |id: &str| NotifyEventRow {
        id: id.into(),
        kind: OutboxKind::Event(EventKind::IncidentCreated),
        service: "melodia".into(),
        occurred_ms: now,
        link: "https://status.example/s/melodia".into(),
        data: "{}".into(),
    };
    // Deliveries are written straight to the store, due in an hour so the (running) worker
    // leaves them alone: it is not what is tested here.
    let due = now + 3_600_000;
    store
        .enqueue_notification(event("incident-1-update-1"), vec!["ops-chat".into()], due)
        .await
        .unwrap();
    store
        .enqueue_notification(
            event("incident-<b>2</b>-update-1"),
            vec!["ops-chat".into(), subscriber_destination(7)],
            due,
        )
        .await
        .unwrap();
    let claimed = store
        .claim_deliveries(Claim::Destination("ops-chat"), "test", due, 60_000, 10)
        .await
        .unwrap();
    for c in claimed {
        store
            .record_attempt(
                c.delivery.id,
                "test",
                Attempt {
                    at_ms: now,
                    status: Some(503),
                    error: Some("HTTP 503 <gateway>".into()),
                    outcome: DeliveryState::Failed,
                    next_attempt_ms: now,
                },
            )
            .await
            .unwrap();
    }
    let mut b = app.browser();
    b.sign_in("vera").await;
    let page = b.get("/admin/notifications").await;
    page.assert(StatusCode::OK, "Recent deliveries (all)");
    for want in [
        "<th scope=\"row\">ops-chat</th><td>webhook</td><td class=\"num\">0</td><td class=\"num\">0</td><td class=\"num\">2</td>",
        "<th scope=\"row\">subscribers</th><td>public subscribers</td><td class=\"num\">1</td>",
        "subscriber #7",
        "HTTP 503 &#60;gateway&#62;",
        "incident-&#60;b&#62;2&#60;/b&#62;-update-1",
        "<td>503</td>",
    ] {
        assert!(page.body.contains(want), "{want:?} not in:\n{}", page.body);
    }
    assert!(!page.body.contains("<b>2</b>"), "escaped");
    let failed = b.get("/admin/notifications?state=failed").await;
    failed.assert(StatusCode::OK, "Recent deliveries (failed)");
    assert!(
        !failed.body.contains("subscriber #7"),
        "the pending one is filtered out"
    );
    let bad = b.get("/admin/notifications?state=exploded").await;
    bad.assert(StatusCode::BAD_REQUEST, "state=failed");
    // Signed out: to the sign-in page.
    let anon = app.browser().get("/admin/notifications").await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    app.stop().await;
}
