//! `[[user]]` tables from the config file, written to the store at start.
//!
//! The file wins for the users it names: their role and hash are replaced by the file's
//! (and a lock-out is cleared when the hash changes). A user already stored with the same
//! role and hash is left alone, so restarting does not reset a lock-out. Users added with
//! `downbeat user add` and not named in the file stay as they are.

use downbeat_api::App;
use downbeat_store::{StoreError, UserRow};

/// Writes the config's users to the store; returns how many were added or changed.
pub async fn sync_config_users(app: &App) -> Result<usize, StoreError> {
    let now_ms = app.clock.now().as_millisecond();
    let mut changed = 0;
    for u in &app.config.users {
        let existing = app.store.user(&u.name).await?;
        let same = existing
            .as_ref()
            .is_some_and(|e| e.role == u.role && e.password_hash == u.password_hash);
        if same {
            continue;
        }
        let new_hash = existing
            .as_ref()
            .is_none_or(|e| e.password_hash != u.password_hash);
        app.store
            .save_user(UserRow {
                name: u.name.clone(),
                role: u.role,
                password_hash: u.password_hash.clone(),
                created_ms: existing.as_ref().map_or(now_ms, |e| e.created_ms),
                failed_logins: if new_hash {
                    0
                } else {
                    existing.as_ref().map_or(0, |e| e.failed_logins)
                },
                locked_until_ms: if new_hash {
                    None
                } else {
                    existing.as_ref().and_then(|e| e.locked_until_ms)
                },
            })
            .await?;
        tracing::info!(user = %u.name, role = u.role.as_str(), "admin user from the config file");
        changed += 1;
    }
    Ok(changed)
}
