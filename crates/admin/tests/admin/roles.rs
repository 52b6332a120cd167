//! Who may do what: viewers see drafts and evidence but get no forms and every change
//! refused; editors publish a draft in one click; admins also see users and tokens. And
//! every change needs the session's CSRF token and a same-origin request.

use crate::helpers::*;
use downbeat_api::auth::Role;
use downbeat_domain::incident::Status;
use reqwest::StatusCode;

#[tokio::test]
async fn a_viewer_sees_drafts_and_evidence_but_cannot_change_anything() {
    let app = spawn_app().await;
    app.add_user("vic", Role::Viewer).await;
    let id = app
        .draft(
            "Melodia: users report problems (login, 71%)",
            "Reports 14× the usual",
            true,
        )
        .await;
    let mut b = app.browser();
    b.sign_in("vic").await;

    let home = b.get("/admin").await;
    home.assert(StatusCode::OK, "1 draft awaiting review");
    assert!(home.body.contains("1 ready to resolve"));

    let page = b.get("/admin/s/melodia").await;
    page.assert(
        StatusCode::OK,
        "Melodia: users report problems (login, 71%)",
    );
    for seen in [
        "Crowd: Problems",
        "Reports 14× the usual",
        "1480 reports in the last minute against 104 expected (usual range 79–133), from 512 distinct networks.",
        "<caption>Problems</caption>",
        "<caption>Countries</caption>",
        "United Kingdom",
        "Probes by region",
        "eu-west",
        "certificate expired 2 hours ago",
        "Probable cause for login-api: <strong>TLS certificate</strong>",
        "TLS certificate expired, seen from 2 of 2 regions.",
        "Signals recovered at",
        "ready to resolve",
    ] {
        assert!(page.body.contains(seen), "{seen:?} missing:\n{}", page.body);
    }
    // No form but signing out; no links to the forms.
    assert_eq!(page.body.matches("<form").count(), 1, "{}", page.body);
    assert!(page.body.contains(r#"action="/admin/logout""#));
    assert!(!page.body.contains("New incident"));
    let detail = b.get(&format!("/admin/incidents/{id}")).await;
    detail.assert(StatusCode::OK, "Probes by region");
    assert!(detail.body.contains("Time to detect"));
    assert_eq!(detail.body.matches("<form").count(), 1, "{}", detail.body);

    // A hand-made POST with a valid token is refused all the same.
    let csrf = page.csrf();
    let r = b
        .post(
            &format!("/admin/incidents/{id}/publish"),
            &[("csrf", &csrf)],
        )
        .await;
    r.assert(
        StatusCode::FORBIDDEN,
        "Your role (viewer) lets you look but not change anything",
    );
    let r = b
        .post(
            &format!("/admin/incidents/{id}/updates"),
            &[("csrf", &csrf), ("status", "resolved"), ("message", "done")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = b
        .post(
            "/admin/s/melodia/incidents",
            &[("csrf", &csrf), ("title", "t"), ("message", "m")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let i = app.incident(id).await;
    assert!(
        i.draft && i.status == Status::Investigating,
        "nothing changed: {i:?}"
    );
    assert_eq!(app.public_incident(id).await, None);

    for path in [
        "/admin/s/melodia/incidents",
        "/admin/s/melodia/maintenance",
        "/admin/people",
    ] {
        assert_eq!(b.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_editor_publishes_a_draft_in_one_click() {
    let app = spawn_app().await;
    app.add_user("ed", Role::Editor).await;
    let id = app
        .draft(
            "Melodia: checks failing (tls certificate)",
            "Reports 9× the usual",
            false,
        )
        .await;
    let mut b = app.browser();
    b.sign_in("ed").await;
    let page = b.get("/admin/s/melodia").await;
    page.assert(
        StatusCode::OK,
        &format!(r#"action="/admin/incidents/{id}/publish""#),
    );
    assert!(
        page.body
            .contains("Publish “Melodia: checks failing (tls certificate)”")
    );

    let r = b
        .post(
            &format!("/admin/incidents/{id}/publish"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location(),
        format!("/admin/incidents/{id}?done=published")
    );
    let done = b.get(r.location()).await;
    done.assert(
        StatusCode::OK,
        "Published: the incident is now on the public status page.",
    );
    assert!(
        done.body
            .contains(&format!(r#"href="/s/melodia/incidents/{id}""#))
    );

    let public = app.public_incident(id).await.expect("public now");
    assert_eq!(public["draft"], false);
    assert!(public.get("evidence").is_none(), "evidence stays private");
    assert!(public["acknowledged_at"].is_string());

    // Publishing twice is refused with the API's words, in the page.
    let again = b
        .post(
            &format!("/admin/incidents/{id}/publish"),
            &[("csrf", &done.csrf())],
        )
        .await;
    again.assert(StatusCode::CONFLICT, "is already published");
    app.stop().await;
}

#[tokio::test]
async fn posts_without_or_with_a_wrong_csrf_token_or_from_another_site_are_refused() {
    let app = spawn_app().await;
    app.add_user("ed", Role::Editor).await;
    let id = app.draft("A draft", "Reports 9× the usual", false).await;
    let mut b = app.browser();
    b.sign_in("ed").await;
    let csrf = b.csrf().await;
    let path = format!("/admin/incidents/{id}/publish");

    let r = b.post(&path, &[]).await;
    r.assert(
        StatusCode::FORBIDDEN,
        "The form had no security (CSRF) token",
    );
    let r = b.post(&path, &[("csrf", "")]).await;
    r.assert(StatusCode::FORBIDDEN, "no security (CSRF) token");
    let mut wrong = csrf.clone().into_bytes();
    wrong[10] = if wrong[10] == b'a' { b'b' } else { b'a' };
    let r = b
        .post(&path, &[("csrf", std::str::from_utf8(&wrong).unwrap())])
        .await;
    r.assert(StatusCode::FORBIDDEN, "does not match your session");

    // Another user's token does not fit this session.
    app.add_user("other", Role::Editor).await;
    let mut o = app.browser();
    o.sign_in("other").await;
    let theirs = o.csrf().await;
    assert_ne!(theirs, csrf);
    let r = b.post(&path, &[("csrf", &theirs)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    b.origin = Some("http://evil.example".into());
    let r = b.post(&path, &[("csrf", &csrf)]).await;
    r.assert(
        StatusCode::FORBIDDEN,
        "sent from another site (http://evil.example)",
    );
    assert!(app.incident(id).await.draft, "still a draft");

    // Without a session at all.
    let mut stranger = app.browser();
    let r = stranger.post(&path, &[("csrf", &csrf)]).await;
    r.assert(StatusCode::FORBIDDEN, "You are not signed in");

    // The same origin (as browsers send it) and the right token: accepted.
    b.origin = Some(app.url(""));
    let r = b.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(!app.incident(id).await.draft);
    app.stop().await;
}

#[tokio::test]
async fn admins_see_users_and_tokens_and_editors_do_not() {
    let app = spawn_app().await;
    app.add_user("root", Role::Admin).await;
    app.add_user("ed", Role::Editor).await;
    downbeat_api::auth::create_token(&*app.app.store, "ci-bot", Role::Editor, app.clock.now_ms())
        .await
        .unwrap();
    let mut ed = app.browser();
    ed.sign_in("ed").await;
    let r = ed.get("/admin/people").await;
    r.assert(
        StatusCode::FORBIDDEN,
        "Users and tokens are for admins; your role is editor.",
    );
    assert!(!ed.get("/admin").await.body.contains("/admin/people"));

    let mut root = app.browser();
    root.sign_in("root").await;
    assert!(
        root.get("/admin")
            .await
            .body
            .contains(r#"href="/admin/people""#)
    );
    let p = root.get("/admin/people").await;
    p.assert(StatusCode::OK, "<th scope=\"row\">ed</th><td>editor</td>");
    assert!(
        p.body
            .contains("<th scope=\"row\">ci-bot</th><td>editor</td>")
    );
    assert!(
        p.body.contains("downbeat user add"),
        "says how users are created"
    );
    assert!(!p.body.contains("$argon2"), "never a hash");
    app.stop().await;
}
