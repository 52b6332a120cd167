//! Moderating community comments: the queue (escaped), approving one onto the public page,
//! hiding one off it, and pausing a network, whose next comment is refused. Viewers look
//! and change nothing.

use crate::helpers::*;
use downbeat_api::auth::Role;
use reqwest::StatusCode;

fn premoderated() -> String {
    config_text("").replace(
        "name = \"Melodia\"\n",
        "name = \"Melodia\"\ncomments = \"premoderated\"\n",
    )
}

/// Posts the public comment form from `ip` (behind the trusted loopback proxy), with the
/// page's form token, as a visitor's browser would; the answer's status.
pub async fn comment(app: &TestApp, text: &str, ip: &str) -> StatusCode {
    // The page carries the token of the hour its model was built in.
    app.pages.refresh().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(app.url("/s/melodia"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = page
        .split("name=\"form_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a form token")
        .to_owned();
    client
        .post(app.url("/s/melodia/comments"))
        .header("x-forwarded-for", ip)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([("form_token", token.as_str()), ("comment", text)])
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .status()
}

/// The public page's comment section, as it is now.
async fn public_comments(app: &TestApp) -> String {
    app.pages.refresh().await;
    let page = reqwest::get(app.url("/s/melodia"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page.find("<section id=\"comments\"").expect("comments");
    let end = page[start..].find("</section>").unwrap() + start;
    page[start..end].to_owned()
}

/// An editor's button on the queue: `action` on comment `id`.
async fn moderate(b: &mut Browser, csrf: &str, id: &str, action: &str) -> Page {
    b.post(
        "/admin/s/melodia/comments",
        &[("csrf", csrf), ("id", id), ("action", action)],
    )
    .await
}

/// The id of the stored comment with this text.
async fn id_of(app: &TestApp, text: &str) -> String {
    let store = &app.app.store;
    let mut all = store.pending_comments("melodia", 100).await.unwrap();
    all.extend(store.moderated_comments("melodia", 100).await.unwrap());
    all.iter()
        .find(|c| c.text == text)
        .map(|c| c.id.to_string())
        .unwrap_or_else(|| panic!("no comment {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editors_approve_hide_and_pause_and_the_public_page_follows() {
    let app = spawn_with(&premoderated()).await;
    app.add_user("viewer", Role::Viewer).await;
    app.add_user("ed", Role::Editor).await;
    let hostile = "Me <b>too</b> <a href=\"https://x.example\">x</a>";
    for (text, ip) in [
        ("Same here in Leeds", "10.1.0.1"),
        (hostile, "10.2.0.1"),
        ("Buy cheap followers", "10.3.0.1"),
    ] {
        assert_eq!(
            comment(&app, text, ip).await,
            StatusCode::SEE_OTHER,
            "{text}"
        );
    }
    assert!(public_comments(&app).await.contains("No comments yet."));

    // The dashboard links the queue with its count.
    let mut v = app.browser();
    v.sign_in("viewer").await;
    let home = v.get("/admin").await;
    home.assert(StatusCode::OK, "3 comments awaiting approval");
    assert!(
        home.body.contains("href=\"/admin/s/melodia/comments\""),
        "{}",
        home.body
    );
    v.get("/admin/s/melodia")
        .await
        .assert(StatusCode::OK, "Comments (3 awaiting approval)");
    let queue = v.get("/admin/s/melodia/comments").await;
    queue.assert(StatusCode::OK, "Awaiting approval (3)");
    assert!(
        queue
            .body
            .contains("Me &#60;b&#62;too&#60;/b&#62; &#60;a href=&#34;https://x.example&#34;"),
        "escaped: {}",
        queue.body
    );
    assert!(!queue.body.contains("href=\"https://x.example"));
    assert!(
        !queue.body.contains(">Approve</button>"),
        "viewers see no buttons"
    );
    let leeds = id_of(&app, "Same here in Leeds").await;
    let csrf = queue.csrf();
    let r = v
        .post(
            "/admin/s/melodia/comments",
            &[("csrf", &csrf), ("id", &leeds), ("action", "approve")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(public_comments(&app).await.contains("No comments yet."));

    let mut b = app.browser();
    b.sign_in("ed").await;
    let queue = b.get("/admin/s/melodia/comments").await;
    assert!(queue.body.contains(">Approve</button>"), "{}", queue.body);
    let csrf = queue.csrf();

    // Approve: on the public page.
    let r = moderate(&mut b, &csrf, &leeds, "approve").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/admin/s/melodia/comments?done=approved");
    let shown = public_comments(&app).await;
    assert!(
        shown.contains("<p class=\"comment\">Same here in Leeds</p>"),
        "{shown}"
    );
    let hostile_id = id_of(&app, hostile).await;
    moderate(&mut b, &csrf, &hostile_id, "approve").await;
    let shown = public_comments(&app).await;
    assert!(shown.contains("Me &#60;b&#62;too"), "{shown}");
    let page = b.get("/admin/s/melodia/comments?done=approved").await;
    page.assert(
        StatusCode::OK,
        "Approved: the comment is on the public page.",
    );
    assert!(page.body.contains("Awaiting approval (1)"), "{}", page.body);
    assert!(page.body.contains("Shown by ed, "), "{}", page.body);

    // Hide: off the public page again.
    let r = moderate(&mut b, &csrf, &leeds, "hide").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let shown = public_comments(&app).await;
    assert!(!shown.contains("Same here in Leeds"), "{shown}");
    assert!(
        shown.contains("Me &#60;b&#62;too"),
        "the other stays: {shown}"
    );

    // Pause the spammer's network: the comment is hidden, and its network (any address of
    // its /24) is refused; another network is not.
    let spam = id_of(&app, "Buy cheap followers").await;
    let r = moderate(&mut b, &csrf, &spam, "pause").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let stored = app
        .app
        .store
        .comment("melodia", spam.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, downbeat_domain::CommentState::Hidden);
    assert_eq!(
        comment(&app, "Buy more followers", "10.3.0.77").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        comment(&app, "An honest comment", "10.4.0.1").await,
        StatusCode::SEE_OTHER
    );
    b.get("/admin/s/melodia/comments?done=paused").await.assert(
        StatusCode::OK,
        "comments from that network are refused for a day",
    );

    // Bad forms.
    for (fields, status) in [
        (
            vec![("id", "nope"), ("action", "hide")],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("id", "99999"), ("action", "hide")],
            StatusCode::NOT_FOUND,
        ),
        (
            vec![("id", leeds.as_str()), ("action", "delete")],
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let mut fields = fields;
        fields.push(("csrf", &csrf));
        let r = b.post("/admin/s/melodia/comments", &fields).await;
        assert_eq!(r.status, status, "{fields:?}: {}", r.body);
    }
    let r = b
        .post(
            "/admin/s/melodia/comments",
            &[("csrf", "wrong"), ("id", &leeds), ("action", "approve")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!public_comments(&app).await.contains("Same here in Leeds"));
    // A day later the pause is over (and the editor's session too).
    app.clock
        .advance(std::time::Duration::from_secs(24 * 3600 + 60));
    assert_eq!(
        comment(&app, "Back again", "10.3.0.78").await,
        StatusCode::SEE_OTHER
    );

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_from_before_yesterday_cannot_pause_its_network() {
    let app = spawn_with(&premoderated()).await;
    app.add_user("ed", Role::Editor).await;
    assert_eq!(
        comment(&app, "old news", "10.5.0.1").await,
        StatusCode::SEE_OTHER
    );
    let old = id_of(&app, "old news").await;
    // Two days on, the comment's network hash can no longer be matched.
    app.clock
        .advance(std::time::Duration::from_secs(2 * 24 * 3600));
    let mut b = app.browser();
    b.sign_in("ed").await;
    let csrf = b.get("/admin/s/melodia/comments").await.csrf();
    let r = b
        .post(
            "/admin/s/melodia/comments",
            &[("csrf", &csrf), ("id", &old), ("action", "pause")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("cannot be paused"), "{}", r.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_comments_has_no_queue() {
    let app = spawn_app().await;
    app.add_user("ed", Role::Editor).await;
    let mut b = app.browser();
    b.sign_in("ed").await;
    let home = b.get("/admin").await;
    assert!(!home.body.contains("/comments"), "{}", home.body);
    let r = b.get("/admin/s/melodia/comments").await;
    r.assert(StatusCode::NOT_FOUND, "does not take comments");
    app.stop().await;
}
