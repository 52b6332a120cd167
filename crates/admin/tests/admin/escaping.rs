//! Hostile strings — in titles, messages, evidence, user names and form input — reach the
//! admin pages as text, never as markup.

use crate::helpers::*;
use downbeat_api::auth::Role;
use reqwest::StatusCode;

const TITLE: &str = "<script>alert(1)</script> & \"quotes\"";
const EXPLANATION: &str = "<img src=x onerror=alert(2)>";
const USER: &str = "\"><svg onload=alert(3)>";

#[track_caller]
fn assert_inert(page: &Page) {
    for raw in ["<script>alert", "<img src=x", "<svg onload", "\"><svg"] {
        assert!(
            !page.body.contains(raw),
            "{raw:?} unescaped in:\n{}",
            page.body
        );
    }
}

#[tokio::test]
async fn hostile_strings_are_escaped_in_every_admin_page() {
    let app = spawn_app().await;
    app.add_user(USER, Role::Admin).await;
    let id = app.draft(TITLE, EXPLANATION, true).await;
    let mut b = app.browser();
    b.sign_in(USER).await;

    let dash = b.get("/admin/s/melodia").await;
    assert_eq!(dash.status, StatusCode::OK);
    assert_inert(&dash);
    // askama writes numeric entities.
    assert!(
        dash.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;quotes&#34;"),
        "{}",
        dash.body
    );
    assert!(dash.body.contains("&#60;img src=x onerror=alert(2)&#62;"));

    let csrf = dash.csrf();
    // Form input echoed back after an error is escaped too.
    let r = b
        .post(
            &format!("/admin/incidents/{id}/updates"),
            &[
                ("csrf", &csrf),
                ("form", "update"),
                ("status", "bogus<script>alert(4)</script>"),
                ("message", "<script>alert(5)</script>"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_inert(&r);
    assert!(
        r.body
            .contains("&#60;script&#62;alert(5)&#60;/script&#62;</textarea>")
    );

    let r = b
        .post(
            &format!("/admin/incidents/{id}/publish"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = b
        .post(
            &format!("/admin/incidents/{id}/updates"),
            &[
                ("csrf", &csrf),
                ("form", "resolve"),
                ("status", "resolved"),
                ("message", EXPLANATION),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = b
        .post(
            &format!("/admin/incidents/{id}/postmortem"),
            &[
                ("csrf", &csrf),
                ("markdown", "<script>alert(6)</script>\n\n**bold**"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    for path in [
        "/admin".to_owned(),
        "/admin/s/melodia".to_owned(),
        format!("/admin/incidents/{id}"),
        "/admin/people".to_owned(),
    ] {
        let p = b.get(&path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}");
        assert_inert(&p);
    }
    let detail = b.get(&format!("/admin/incidents/{id}")).await;
    assert!(
        detail
            .body
            .contains("by &#34;&#62;&#60;svg onload=alert(3)&#62;"),
        "the author, escaped:\n{}",
        detail.body
    );

    // A hostile user name typed into the sign-in form comes back escaped.
    let mut stranger = app.browser();
    let r = stranger.login("<script>alert(7)</script>", "x").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_inert(&r);
    app.stop().await;
}
