//! The API when its PostgreSQL stops answering (integrity item 17): a server of the test's
//! own is stopped (SIGSTOP) under a running Downbeat; requests that need the store get 503
//! with `Retry-After` within the configured timeouts instead of hanging, and the store
//! recovers once the server goes on.

use crate::helpers::{TestApp, spawn_on};
use downbeat_api::auth::{self, Role};
use downbeat_store::StoreTarget;
use downbeat_store::testing::{PgCluster, TestStore};
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

async fn create_incident(app: &TestApp, token: &str, title: &str) -> (StatusCode, Option<String>) {
    let r = app
        .client
        .post(app.url("/api/v1/services/melodia/incidents"))
        .bearer_auth(token)
        .json(&json!({"title": title, "message": "Looking into it."}))
        .send()
        .await
        .expect("an answer, not a hang");
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status(), retry_after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stops_answering_gives_503_with_retry_after() {
    let Some(pg) = PgCluster::start(None) else {
        return;
    };
    let store = TestStore {
        target: StoreTarget::Postgres(pg.url("127.0.0.1", "?sslmode=disable")),
        name: "postgres",
        dir: tempfile::tempdir().unwrap(),
    };
    let clock = Arc::new(downbeat_domain::ManualClock::new(jiff::Timestamp::now()));
    let app = spawn_on(
        store,
        "database_connect_timeout = \"1s\"\ndatabase_statement_timeout = \"1s\"\n",
        clock,
    )
    .await;
    let token = auth::create_token(&*app.app.store, "ed", Role::Editor, app.clock.now_ms())
        .await
        .unwrap();
    assert_eq!(
        create_incident(&app, &token, "Before").await.0,
        StatusCode::CREATED
    );

    pg.pause();
    for attempt in ["on a pooled connection", "on a new connection"] {
        let (status, retry_after) = create_incident(&app, &token, "During").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{attempt}");
        assert!(retry_after.is_some(), "{attempt}: 503 says when to retry");
    }

    pg.resume();
    // The pool drops what failed and connects again.
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..20 {
        status = create_incident(&app, &token, "After").await.0;
        if status == StatusCode::CREATED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, StatusCode::CREATED, "the store recovered");
    app.stop().await;
}
