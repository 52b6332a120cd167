//! `downbeat user …`: a new password signs the user out everywhere, and `user remove` takes
//! the user and its sessions away (an unknown name is a usage error, exit code 2).

use super::{BIN, MELODIA};
use downbeat_store::{SessionRow, Store, StoreTarget};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

/// Runs `downbeat user ARGS --config … --data-dir …` with `stdin` as its input.
fn user(config: &Path, data: &Path, args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new(BIN)
        .arg("user")
        .args(args)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run downbeat user");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn store(data: &Path) -> Arc<dyn Store> {
    downbeat_store::open(&StoreTarget::from_url(None, data).unwrap())
        .await
        .unwrap()
}

/// A session for `name` as signing in stores it; the store it is in is dropped after.
async fn signed_in(data: &Path, name: &str, fill: u8) {
    let now = jiff::Timestamp::now().as_millisecond();
    store(data)
        .await
        .insert_session(SessionRow {
            id_hash: [fill; 32],
            user: name.into(),
            csrf: "c".into(),
            created_ms: now,
            expires_ms: now + 3_600_000,
        })
        .await
        .unwrap();
}

async fn has_session(data: &Path, fill: u8) -> bool {
    let now = jiff::Timestamp::now().as_millisecond();
    store(data)
        .await
        .session([fill; 32], now)
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn a_new_password_signs_a_user_out_and_remove_takes_the_user_away() {
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = (dir.path().join("downbeat.toml"), dir.path().join("data"));
    let hash = downbeat_api::auth::hash_password("correct horse battery staple").unwrap();
    std::fs::write(
        &config,
        format!(
            "{MELODIA}[[user]]\nname = \"cfg\"\nrole = \"viewer\"\npassword_hash = \"{hash}\"\n"
        ),
    )
    .unwrap();
    let (code, err) = user(
        &config,
        &data,
        &["add", "ana", "--role", "editor"],
        "first password here\n",
    );
    assert_eq!(code, 0, "{err}");
    signed_in(&data, "ana", 1).await;

    // The same command again is how a password is changed.
    let (code, err) = user(&config, &data, &["add", "ana"], "second password here\n");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("signed it out of 1 session"), "{err}");
    assert!(
        !has_session(&data, 1).await,
        "the old password's session ended"
    );

    signed_in(&data, "ana", 2).await;
    let (code, err) = user(&config, &data, &["remove", "ana"], "");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("removed user \"ana\""), "{err}");
    assert!(store(&data).await.user("ana").await.unwrap().is_none());
    assert!(!has_session(&data, 2).await, "its sessions ended");

    let (code, err) = user(&config, &data, &["remove", "ana"], "");
    assert_eq!(code, 2, "an unknown name is a usage error: {err}");
    assert!(err.contains("no user named \"ana\""), "{err}");

    // A user from the config file goes too, with a word that the file would add it again.
    store(&data)
        .await
        .save_user(downbeat_store::UserRow {
            name: "cfg".into(),
            role: downbeat_api::auth::Role::Viewer,
            password_hash: hash,
            created_ms: 0,
            from_config: true,
        })
        .await
        .unwrap();
    let (code, err) = user(&config, &data, &["remove", "cfg"], "");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("[[user]] table named \"cfg\""), "{err}");
}
