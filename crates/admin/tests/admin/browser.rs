//! The admin area in Chromium (through playwright-core): an editor signs in, reads a
//! draft's evidence, publishes it in one click and finds it on the public page; axe-core
//! on each admin page; screenshots in `artifacts/screenshots/` at the workspace root.
//!
//! Needs node, `npm ci --prefix crates/admin/tests/browser` and Debian's chromium. Without
//! them this test skips with a loud message, except under CI (`CI` set), where it fails.

use crate::helpers::*;
use downbeat_api::auth::Role;
use std::path::{Path, PathBuf};
use std::process::Command;

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
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../artifacts/screenshots");
    let out = Command::new("node")
        .args([
            "publish.js",
            &app.url(""),
            &shots.display().to_string(),
            "ed",
            PASSWORD,
            &id.to_string(),
            title,
        ])
        .current_dir(&dir)
        .output()
        .expect("run node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "browser test failed:\n{text}");
    eprintln!("browser: {text}screenshots in {}", shots.display());
    let i = app.incident(id).await;
    assert!(
        !i.draft && i.published_ms.is_some(),
        "published in the store: {i:?}"
    );
    app.stop().await;
}
