//! The pages in real tools: html-validate on every kind of page, and Chromium (through
//! playwright-core) reporting a problem by clicking and commenting, with axe-core and
//! screenshots.
//!
//! Needs node, `npm ci --prefix crates/web/tests/browser` and Debian's chromium. Without
//! them these tests skip with a loud message, except under CI (`CI` set), where they fail.
//! Screenshots go to `artifacts/screenshots/` at the workspace root (git-ignored).

use crate::comments::{post_comments, with_comments};
use crate::helpers::*;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../artifacts/screenshots")
}

pub(crate) fn run_node(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("node")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_page_is_valid_html() {
    let Some(dir) = node_tools("HTML validation", false) else {
        return;
    };
    let app = spawn_with(
        &with_comments(&config_text(EVIL), "open"),
        downbeat_store::testing::sqlite(),
        jiff::Timestamp::now(),
    )
    .await;
    app.post_many(20, 0, outage).await;
    app.detect().await;
    post_comments(&app).await;
    let (open, resolved) = crate::incidents::open_and_resolved_incidents(&app).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut save = |name: &str, body: String| {
        let p = tmp.path().join(format!("{name}.html"));
        std::fs::write(&p, body).unwrap();
        files.push(p.display().to_string());
    };
    save("index", app.page("/").await);
    save("search", app.page("/?q=mel").await);
    save("service", app.page("/s/melodia").await);
    save("evil", app.page("/s/evil").await);
    save("incidents", app.page("/s/melodia/incidents").await);
    save(
        "incident-open",
        app.page(&format!("/s/melodia/incidents/{open}")).await,
    );
    save(
        "incident-postmortem",
        app.page(&format!("/s/melodia/incidents/{resolved}")).await,
    );
    save(
        "not-found",
        app.get("/s/nobody").await.text().await.unwrap(),
    );
    let thanks = app
        .post_form(
            "melodia",
            &[
                ("problem", "login"),
                ("platform", "auto"),
                ("country", "auto"),
            ],
            &[("x-forwarded-for", "10.3.3.3")],
        )
        .await;
    save("thanks", thanks.text().await.unwrap());
    let error = app
        .post_form(
            "melodia",
            &[("problem", "nope")],
            &[("x-forwarded-for", "10.3.3.4")],
        )
        .await;
    save("form-error", error.text().await.unwrap());
    save("comment-sent", app.page("/s/melodia?comment=sent").await);
    let refused = app.comment("melodia", &"x".repeat(300), "10.3.3.5").await;
    assert_eq!(refused.status(), 422);
    save("comment-error", refused.text().await.unwrap());
    let checks = crate::official::spawn_with_failing_checks().await;
    save("checks", checks.page("/s/melodia").await);
    checks.stop().await;
    let mut args = vec!["validate.js"];
    args.extend(files.iter().map(String::as_str));
    let (ok, text) = run_node(&dir, &args);
    assert!(ok, "html-validate found errors:\n{text}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_reports_a_problem_in_chromium() {
    let Some(dir) = node_tools("browser test", true) else {
        return;
    };
    let app = spawn_app().await;
    app.post_many(30, 0, outage).await;
    app.detect().await;
    let shots = screenshots();
    let (ok, text) = run_node(
        &dir,
        &["report.js", &app.url(""), &shots.display().to_string()],
    );
    assert!(ok, "browser test failed:\n{text}");
    eprintln!("browser: {text}screenshots in {}", shots.display());
    app.stop().await;
}

/// Posts about Melodia's trouble in the last hour, as a poller or a sender stores them:
/// classified by the service's words (11 of 20 about logging in).
async fn post_social(app: &TestApp) {
    use downbeat_domain::signal::{Post, Signal};
    let service = &app.app.config.load().services[0];
    let now_ms = app.clock.now_ms();
    let texts = [
        "Melodia: can't log in since 8",
        "Melodia logged me out and the password is refused",
        "Melodia app keeps crashing on start",
        "Melodia not working, nothing plays",
    ];
    let posts: Vec<Signal> = (0..20)
        .map(|i| {
            let text = format!("{} ({i})", texts[if i < 11 { i % 2 } else { 2 + i % 2 }]);
            Signal::Post(Post {
                source: downbeat_domain::Slug::parse("social").unwrap(),
                at_ms: now_ms - (3 + i as i64) * 60_000,
                kind: service.classify(&text),
                text,
                url: None,
                lang: Some("en".into()),
            })
        })
        .collect();
    app.app
        .store
        .insert_signals("melodia", &posts, now_ms)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_reads_and_posts_comments_in_chromium() {
    let Some(dir) = node_tools("browser test", true) else {
        return;
    };
    let app = spawn_with(
        &with_comments(
            &config_text("[[service.signal]]\nsource = \"social\"\nname = \"social media\"\n"),
            "open",
        ),
        downbeat_store::testing::sqlite(),
        jiff::Timestamp::now(),
    )
    .await;
    // What the screens say (clusters from many networks), what social media says (posts
    // classified by the service's problem kinds) and comments, hostile ones too.
    app.post_many(30, 0, outage).await;
    post_social(&app).await;
    app.detect().await;
    post_comments(&app).await;
    let shots = screenshots();
    let (ok, text) = run_node(
        &dir,
        &["comments.js", &app.url(""), &shots.display().to_string()],
    );
    assert!(ok, "browser test failed:\n{text}");
    eprintln!("browser: {text}screenshots in {}", shots.display());
    app.stop().await;
}
