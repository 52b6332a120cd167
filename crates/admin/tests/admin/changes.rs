//! The dashboard's chart marks every recorded change in the operators' words (issue 18,
//! item 1), escaped like everything else they typed.

use crate::helpers::*;
use downbeat_domain::Role;
use downbeat_domain::change::{Change, ChangeKind};
use reqwest::StatusCode;

#[tokio::test]
async fn the_dashboard_chart_marks_changes_with_their_version_and_title() {
    let app = spawn_app().await;
    app.add_user("ana", Role::Viewer).await;
    let now_ms = app.clock.now_ms();
    let deploy = Change {
        kind: ChangeKind::Deploy,
        component: Some(downbeat_domain::Slug::parse("login").unwrap()),
        version: Some("2.3.0".into()),
        title: Some("<script>x</script> TLS".into()),
        link: None,
        region: None,
        at_ms: now_ms - 2 * 3_600_000,
    };
    app.app
        .store
        .insert_change("melodia", &deploy, "ci", now_ms)
        .await
        .unwrap();
    let mut b = app.browser();
    b.sign_in("ana").await;
    let dash = b.get("/admin/s/melodia").await;
    assert_eq!(dash.status, StatusCode::OK);
    assert!(
        dash.body.contains("<line class=\"change\""),
        "{}",
        dash.body
    );
    assert!(
        dash.body
            .contains("<li>deploy login 2.3.0 — &#60;script&#62;x&#60;/script&#62; TLS at "),
        "{}",
        dash.body
    );
    assert!(!dash.body.contains("<script>x"));
}
