//! `[[user]]` tables from the config file, written to the store at start.
//!
//! The file wins for the users it names: their role and hash are replaced by the file's. A
//! changed hash ends the user's sessions and forgets its sign-in failures (the store does
//! that whenever a password changes); a user already stored with the same role and hash is
//! left alone, so restarting neither signs anyone out nor resets a lock-out. A user the file
//! wrote and no longer names is removed, with its sessions: taking someone out of the file
//! takes their access away. Users added with `downbeat user add` and not named in the file
//! stay as they are.

use downbeat_api::App;
use downbeat_store::{StoreError, UserRow};

/// Writes the config's users to the store and removes the users it wrote before and no
/// longer names; returns how many were added, changed or removed.
pub async fn sync_config_users(app: &App) -> Result<usize, StoreError> {
    let now_ms = app.clock.now().as_millisecond();
    let mut changed = 0;
    for u in &app.config.get().users {
        let existing = app.store.user(&u.name).await?;
        let same = existing.as_ref().is_some_and(|e| {
            e.role == u.role && e.password_hash == u.password_hash && e.from_config
        });
        if same {
            continue;
        }
        let ended = app
            .store
            .save_user(UserRow {
                name: u.name.clone(),
                role: u.role,
                password_hash: u.password_hash.clone(),
                created_ms: existing.as_ref().map_or(now_ms, |e| e.created_ms),
                from_config: true,
            })
            .await?;
        tracing::info!(user = %u.name, role = u.role.as_str(), sessions_ended = ended,
            "admin user from the config file");
        changed += 1;
    }
    for gone in app.store.users().await? {
        if gone.from_config && !app.config.load().users.iter().any(|u| u.name == gone.name) {
            app.store.delete_user(&gone.name).await?;
            tracing::warn!(user = %gone.name,
                "admin user removed: the config file no longer names it; its sessions ended");
            changed += 1;
        }
    }
    Ok(changed)
}
