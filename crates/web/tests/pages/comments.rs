//! Community comments on the service page: the form (no JavaScript), pending or shown by
//! the service's mode, escaped text, refusals (422, 429, 403), and never a report.

use crate::helpers::*;
use downbeat_store::testing;
use reqwest::StatusCode;

/// `config` with Melodia taking comments in `mode`.
pub fn with_comments(config: &str, mode: &str) -> String {
    config.replace(
        "name = \"Melodia\"\n",
        &format!("name = \"Melodia\"\ncomments = \"{mode}\"\n"),
    )
}

/// A server on SQLite whose Melodia takes comments in `mode`.
async fn commenting(mode: &str) -> TestApp {
    spawn_with(
        &with_comments(&config_text(EVIL), mode),
        testing::sqlite(),
        jiff::Timestamp::now(),
    )
    .await
}

/// A few comments on Melodia from their own networks, hostile ones among them, a long link
/// too (the pages' checks see them all); shown when comments are open.
pub async fn post_comments(app: &TestApp) {
    for (i, text) in [
        "Same here in Leeds, since about 8.",
        "<a href=\"https://x.example\">x</a> and https://x.example/a/very/long/path/that/must/wrap/on/a/phone/screen/instead/of/scrolling",
        "<script>alert(1)</script> works again after a restart",
    ]
    .into_iter()
    .enumerate()
    {
        let r = app.comment("melodia", text, &format!("10.90.{i}.1")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{text}");
    }
}

impl TestApp {
    /// Posts the comment form of `service` as a browser would: with the page's form token.
    pub async fn comment(&self, service: &str, text: &str, ip: &str) -> reqwest::Response {
        let token = self.form_token(service).await.unwrap_or_default();
        self.comment_raw(
            service,
            serde_urlencoded::to_string([("form_token", token.as_str()), ("comment", text)])
                .unwrap(),
            &[("x-forwarded-for", ip)],
        )
        .await
    }

    /// Posts exactly this body to the comment form's route.
    async fn comment_raw(
        &self,
        service: &str,
        body: String,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut r = self
            .client
            .post(self.url(&format!("/s/{service}/comments")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().await.expect("post comment")
    }
}

/// The comment section of a page.
fn section(html: &str) -> &str {
    let start = html
        .find("<section id=\"comments\"")
        .expect("a comment section");
    let end = html[start..].find("</section>").unwrap() + start;
    &html[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_is_shown_at_once_when_open_and_waits_when_premoderated() {
    for (mode, shown) in [("open", true), ("premoderated", false)] {
        for store in testing::all().await {
            let name = store.name;
            let app = spawn_with(
                &with_comments(&config_text(EVIL), mode),
                store,
                jiff::Timestamp::now(),
            )
            .await;
            let page = app.page("/s/melodia").await;
            let s = section(&page);
            assert!(s.contains("No comments yet."), "{name} {mode}: {s}");
            assert!(
                s.contains("<textarea id=\"comment-text\" name=\"comment\" maxlength=\"280\""),
                "{name} {mode}: {s}"
            );
            assert!(!page.contains("<script>"), "no script needed");

            let r = app
                .comment("melodia", "Same here:\r\nno login since 8", "10.1.0.1")
                .await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name} {mode}");
            assert_eq!(
                r.headers()["location"],
                "/s/melodia?comment=sent#comments",
                "{name} {mode}"
            );
            let back = app.page("/s/melodia?comment=sent").await;
            let s = section(&back);
            let thanks = if shown {
                "Thanks — your comment is posted."
            } else {
                "Thanks — your comment will appear once a moderator approves it."
            };
            assert!(s.contains(thanks), "{name} {mode}: {s}");
            assert_eq!(
                s.contains("<p class=\"comment\">Same here: no login since 8</p>"),
                shown,
                "{name} {mode}: shown on the page it leads to, at once when open: {s}"
            );
            assert!(
                !section(&app.page("/s/melodia").await).contains("Thanks —"),
                "{name} {mode}: the plain page has no thank-you line"
            );
            let rows = app.app.store.shown_comments("melodia", 20).await.unwrap();
            assert_eq!(rows.len(), usize::from(shown), "{name} {mode}");
            assert_eq!(
                app.app
                    .store
                    .pending_comment_count("melodia")
                    .await
                    .unwrap(),
                u64::from(!shown),
                "{name} {mode}"
            );
            if shown {
                app.clock.advance(std::time::Duration::from_secs(5 * 60));
                app.pages.refresh().await;
                let s = app.page("/s/melodia").await;
                assert!(section(&s).contains(">5 minutes ago</time>"), "{name}: {s}");
            }
            app.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_and_html_in_comments_are_shown_as_text() {
    let app = commenting("open").await;
    let hostile = [
        "<a href=\"https://x.example\">x</a>",
        "see https://x.example now",
        "<script>alert(1)</script>",
    ];
    for (i, text) in hostile.iter().enumerate() {
        let r = app.comment("melodia", text, &format!("10.2.{i}.1")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{text}");
    }
    let page = app.page("/s/melodia").await;
    let s = section(&page);
    assert!(
        s.contains("&#60;a href=&#34;https://x.example&#34;&#62;x&#60;/a&#62;"),
        "{s}"
    );
    assert!(s.contains("see https://x.example now"), "{s}");
    assert!(
        s.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{s}"
    );
    assert!(
        !page.contains("<a href=\"https://x.example") && !page.contains("href=\"https://x"),
        "no link to x.example on the page"
    );
    assert!(!page.contains("<script>alert"), "{page}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_comments_come_back_with_the_error_naming_the_field() {
    let app = commenting("open").await;
    let long = "é".repeat(281);
    let cases: [(&str, &str); 4] = [
        (&long, "comment: must be at most 280 characters (got 281)"),
        (
            "red \u{1b}[31m alert",
            "comment: must not contain control characters",
        ),
        ("  \r\n ", "comment: must not be empty"),
        (
            "odd\u{FFFF}",
            "comment: must not contain the character U+FFFF",
        ),
    ];
    for (i, (text, words)) in cases.into_iter().enumerate() {
        let r = app.comment("melodia", text, &format!("10.3.{i}.1")).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{text:?}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("role=\"alert\"") && html.contains(words),
            "{text:?}: {html}"
        );
        assert!(
            html.contains("<form class=\"comment\" method=\"post\""),
            "the form is shown again"
        );
    }
    // What was typed comes back (escaped), with a token that works.
    let r = app
        .comment("melodia", &format!("<b>{long}"), "10.3.9.1")
        .await;
    let html = r.text().await.unwrap();
    assert!(html.contains(">&#60;b&#62;éé"), "{html}");
    // Not UTF-8: refused naming the field, never stored as replacement characters.
    let token = app.form_token("melodia").await.unwrap();
    let r = app
        .comment_raw(
            "melodia",
            format!("form_token={token}&comment=Same+here%FF%FE"),
            &[("x-forwarded-for", "10.3.10.1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("comment: is not valid UTF-8 text"), "{html}");
    let r = app
        .comment_raw(
            "melodia",
            format!("form_token={token}&comment={}", "x".repeat(20_000)),
            &[("x-forwarded-for", "10.3.11.1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        app.app
            .store
            .shown_comments("melodia", 20)
            .await
            .unwrap()
            .is_empty(),
        "nothing refused was stored"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_from_other_sites_or_without_the_token_are_refused() {
    let app = commenting("open").await;
    let token = app.form_token("melodia").await.unwrap();
    let hour = token.split('.').next().unwrap();
    let unsigned = format!("{hour}.{}", "0".repeat(32));
    let body = |t: &str| serde_urlencoded::to_string([("form_token", t), ("comment", "hi")]);
    // (body, headers, what the answer says)
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 4] = [
        (
            body(&token).unwrap(),
            vec![("origin", "https://evil.example")],
            "sent from another site (https://evil.example)",
        ),
        (
            body(&token).unwrap(),
            vec![("sec-fetch-site", "cross-site")],
            "sent from another site, not from this page",
        ),
        (
            serde_urlencoded::to_string([("comment", "hi")]).unwrap(),
            vec![],
            "form token is missing or wrong",
        ),
        (
            body(&unsigned).unwrap(),
            vec![],
            "form token is missing or wrong",
        ),
    ];
    for (i, (body, mut headers, words)) in cases.into_iter().enumerate() {
        let ip = format!("10.4.{i}.1");
        headers.push(("x-forwarded-for", &ip));
        let r = app.comment_raw("melodia", body, &headers).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{words}");
        let html = r.text().await.unwrap();
        assert!(html.contains(words), "{words}: {html}");
    }
    // The site's own page, with its own Origin: taken.
    let own = app.url("");
    let r = app
        .comment_raw(
            "melodia",
            body(&token).unwrap(),
            &[("origin", &own), ("x-forwarded-for", "10.4.9.1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.app
            .store
            .shown_comments("melodia", 20)
            .await
            .unwrap()
            .len(),
        1
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_posts_three_comments_in_ten_minutes_and_a_paused_network_none() {
    let app = commenting("premoderated").await;
    for n in 1..=3 {
        let r = app
            .comment("melodia", &format!("number {n}"), "10.5.0.1")
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "comment {n}");
    }
    let r = app.comment("melodia", "number 4", "10.5.0.1").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "600");
    let html = r.text().await.unwrap();
    assert!(
        html.contains(
            "You have posted 3 comments in the last 10 minutes. Please try again in 600 s."
        ),
        "{html}"
    );
    assert!(
        html.contains(">number 4</textarea>"),
        "what was typed stays"
    );
    let r = app.comment("melodia", "someone else", "10.5.0.2").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "another client");
    app.clock.advance(std::time::Duration::from_secs(10 * 60));
    app.pages.refresh().await;
    let r = app.comment("melodia", "number 4", "10.5.0.1").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "ten minutes later");
    assert_eq!(
        app.app
            .store
            .pending_comment_count("melodia")
            .await
            .unwrap(),
        5
    );

    // A network a moderator paused: refused, its neighbours in the same /24 too.
    let now_ms = app.clock.now_ms();
    let (network, _) = app
        .app
        .intake
        .salts
        .network_hashes("10.6.0.1".parse().unwrap(), now_ms)
        .await
        .unwrap();
    app.app
        .store
        .ban_network("melodia", network, now_ms + 86_400_000, "ed")
        .await
        .unwrap();
    for ip in ["10.6.0.1", "10.6.0.200"] {
        let r = app.comment("melodia", "let me in", ip).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{ip}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("Comments from your network are paused for a day."),
            "{html}"
        );
    }
    let r = app.comment("melodia", "another network", "10.7.0.1").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.app
            .store
            .pending_comment_count("melodia")
            .await
            .unwrap(),
        6
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_never_count_as_reports() {
    let app = commenting("open").await;
    app.post_many(4, 0, normal).await;
    app.detect().await;
    // The last hour's counts (without their moving start) and the verdict.
    let counts = |mut summary: serde_json::Value| {
        summary.as_object_mut().unwrap().remove("since");
        summary
    };
    let before = (
        counts(
            app.get_json("/api/v1/services/melodia/summary?window=60m")
                .await
                .1,
        ),
        app.get_json("/api/v1/services/melodia/status").await.1["verdict"].clone(),
    );
    assert_eq!(before.0["total"], 4);
    // Many comments from many networks, all shown.
    for i in 0..30 {
        let r = app
            .comment("melodia", "Login is broken for me too", &spread_ip(100 + i))
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    app.clock.advance(std::time::Duration::from_secs(60));
    app.detect().await;
    let (_, summary) = app
        .get_json("/api/v1/services/melodia/summary?window=60m")
        .await;
    let (_, status) = app.get_json("/api/v1/services/melodia/status").await;
    assert_eq!((counts(summary), status["verdict"].clone()), before);
    let page = app.page("/s/melodia").await;
    assert!(
        page.contains("<span id=\"reports-hour\">4</span>"),
        "{page}"
    );
    assert_eq!(section(&page).matches("<li>").count(), 20, "the newest 20");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_comments_has_no_section_and_no_form_route() {
    let app = spawn_app().await;
    let page = app.page("/s/melodia").await;
    assert!(!page.contains("id=\"comments\""), "off by default");
    let r = app.comment("melodia", "hello", "10.8.0.1").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("This service does not take comments.")
    );
    let plain = app.page("/s/melodia?comment=sent").await;
    assert!(!plain.contains("Thanks —"), "no thank-you line either");
    app.stop().await;
}
