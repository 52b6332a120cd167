//! The admin area in Chromium (through playwright-core): an editor signs in, reads a
//! draft's evidence, publishes it in one click and finds it on the public page; approves
//! a comment from the queue the same way; manages the configuration through its forms;
//! axe-core on each admin page (html-validate too on the configuration's); screenshots in
//! `artifacts/screenshots/` at the workspace root.
//!
//! Needs node, `npm ci --prefix crates/admin/tests/browser` and Debian's chromium. Without
//! them this test skips with a loud message, except under CI (`CI` set), where it fails.

use crate::helpers::*;
use downbeat_api::auth::Role;
use std::path::{Path, PathBuf};
use std::process::Command;

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../artifacts/screenshots")
}

/// Runs `script` with the base URL and the screenshot folder first, then `args`; fails the
/// test with what it printed unless it succeeds.
fn run_node(dir: &Path, args: &[&str]) {
    let shots = screenshots();
    let shots = shots.display().to_string();
    let mut all = vec![args[0], args[1], shots.as_str()];
    all.extend(&args[2..]);
    let out = Command::new("node")
        .args(&all)
        .current_dir(dir)
        .output()
        .expect("run node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "browser test failed:\n{text}");
    eprintln!("browser: {text}screenshots in {shots}");
}

/// The npm folder, or None (after saying why) when the tools are missing outside CI.
fn node_tools() -> Option<PathBuf> {
    downbeat_server::testing::browser_tools::tools(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser"),
        "admin browser test",
        true,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_publishes_a_draft_in_chromium_and_it_appears_on_the_public_page() {
    let Some(dir) = node_tools() else {
        return;
    };
    let app = spawn_app().await;
    app.add_user("ed", Role::Editor).await;
    let title = "Melodia: users report problems (login, 71%)";
    let id = app
        .draft(
            title,
            "Reports 14× the usual for a Tuesday at 08:18 UTC",
            true,
        )
        .await;
    run_node(
        &dir,
        &[
            "publish.js",
            &app.url(""),
            "ed",
            PASSWORD,
            &id.to_string(),
            title,
        ],
    );
    let i = app.incident(id).await;
    assert!(
        !i.draft && i.published_ms.is_some(),
        "published in the store: {i:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_approves_a_comment_in_chromium_and_it_appears_on_the_public_page() {
    let Some(dir) = node_tools() else {
        return;
    };
    let app = spawn_with(&config_text("").replace(
        "name = \"Melodia\"\n",
        "name = \"Melodia\"\ncomments = \"premoderated\"\n",
    ))
    .await;
    app.add_user("ed", Role::Editor).await;
    let text = "Same here in Leeds since 8, the app says <error 401>";
    for (i, t) in [text, "Works again for me", "<script>alert(1)</script>"]
        .into_iter()
        .enumerate()
    {
        crate::comments::comment(&app, t, &format!("10.9.{i}.1")).await;
    }
    run_node(&dir, &["moderate.js", &app.url(""), "ed", PASSWORD, text]);
    let shown = app.app.store.shown_comments("melodia", 20).await.unwrap();
    assert_eq!(shown.len(), 1, "approved in the store: {shown:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_manages_the_configuration_in_chromium_with_valid_accessible_pages() {
    let Some(dir) = node_tools() else {
        return;
    };
    let app = spawn_with(&config_text(
        "[[monitor]]\nid = \"from-file\"\nservice = \"melodia\"\nkind = \"tcp\"\ntarget = \"127.0.0.1:9\"\n",
    ))
    .await;
    app.add_user("root", Role::Admin).await;
    run_node(&dir, &["config.js", &app.url(""), "root", PASSWORD]);
    let config = app.app.config.get();
    let radio = app
        .app
        .config
        .service("radio")
        .expect("the service is in force");
    assert_eq!(radio.components[0].id.as_str(), "stream");
    assert!(radio.auto_publish, "changed through its field");
    assert_eq!(radio.name, "Radio <FM>");
    assert!(
        config
            .notify
            .destinations
            .iter()
            .any(|d| d.id.as_str() == "ops"),
        "the destination is in force"
    );
    assert!(
        !config.monitors.iter().any(|m| m.id.as_str() == "radio-tcp"),
        "the monitor was removed"
    );
    app.stop().await;
}
