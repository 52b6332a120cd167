//! Tokens, users and sessions.

use super::*;
use downbeat_domain::Role;

fn token(name: &str, role: Role, fill: u8) -> ApiToken {
    ApiToken {
        id: 0,
        name: name.into(),
        role,
        hash: [fill; 32],
        created_ms: T0,
        revoked_ms: None,
        regions: Vec::new(),
    }
}

#[tokio::test]
async fn tokens_are_found_by_hash_until_revoked_and_names_are_unique() {
    each_backend(|s, name| async move {
        s.create_token(token("ci", Role::Editor, 1)).await.unwrap();
        s.create_token(token("bot", Role::Viewer, 2)).await.unwrap();
        let dup = s.create_token(token("ci", Role::Admin, 3)).await;
        assert!(
            matches!(dup, Err(StoreError::Conflict(_))),
            "{name}: {dup:?}"
        );
        let found = s.token_by_hash([1; 32]).await.unwrap().expect(name);
        assert_eq!((found.name.as_str(), found.role.as_str()), ("ci", "editor"));
        assert!(s.token_by_hash([9; 32]).await.unwrap().is_none(), "{name}");
        assert!(s.revoke_token("ci", T0 + 1).await.unwrap(), "{name}");
        assert!(
            !s.revoke_token("ci", T0 + 2).await.unwrap(),
            "{name}: twice"
        );
        assert!(s.token_by_hash([1; 32]).await.unwrap().is_none(), "{name}");
        let all = s.tokens().await.unwrap();
        assert_eq!(all.len(), 2, "{name}");
        assert_eq!(all[1].revoked_ms, Some(T0 + 1), "{name}: {all:?}");
    })
    .await;
}

#[tokio::test]
async fn tokens_keep_the_regions_they_may_report_for() {
    each_backend(|s, name| async move {
        let regions = |names: &[&str]| -> Vec<downbeat_domain::Slug> {
            names
                .iter()
                .map(|n| downbeat_domain::Slug::parse(n).unwrap())
                .collect()
        };
        let mut agent = token("eu-agent", Role::Agent, 4);
        agent.regions = regions(&["eu-west", "eu-north"]);
        s.create_token(agent).await.unwrap();
        s.create_token(token("plain", Role::Agent, 5))
            .await
            .unwrap();
        let found = s.token_by_hash([4; 32]).await.unwrap().expect(name);
        assert_eq!(found.regions, regions(&["eu-west", "eu-north"]), "{name}");
        let plain = s.token_by_hash([5; 32]).await.unwrap().expect(name);
        assert!(plain.regions.is_empty(), "{name}: {plain:?}");
        let all = s.tokens().await.unwrap();
        assert_eq!(all[0].regions.len(), 2, "{name}: {all:?}");
    })
    .await;
}

#[tokio::test]
async fn users_are_upserted_and_sessions_expire() {
    each_backend(|s, name| async move {
        let mut u = UserRow {
            name: "alice".into(),
            role: Role::Editor,
            password_hash: "$argon2id$v=19$x".into(),
            created_ms: T0,
            from_config: false,
        };
        s.save_user(u.clone()).await.unwrap();
        u.role = Role::Admin;
        u.from_config = true;
        s.save_user(u.clone()).await.unwrap();
        assert_eq!(s.user("alice").await.unwrap(), Some(u.clone()), "{name}");
        assert_eq!(s.users().await.unwrap().len(), 1, "{name}");
        assert!(s.user("bob").await.unwrap().is_none(), "{name}");

        let session = SessionRow {
            id_hash: [7; 32],
            user: "alice".into(),
            csrf: "c".into(),
            created_ms: T0,
            expires_ms: T0 + 1_000,
        };
        s.insert_session(session.clone()).await.unwrap();
        assert_eq!(
            s.session([7; 32], T0 + 999).await.unwrap(),
            Some(session),
            "{name}"
        );
        assert!(
            s.session([7; 32], T0 + 1_000).await.unwrap().is_none(),
            "{name}: expired"
        );
        s.delete_session([7; 32]).await.unwrap();
        assert!(
            s.session([7; 32], T0).await.unwrap().is_none(),
            "{name}: deleted"
        );
    })
    .await;
}

fn session(fill: u8, user: &str) -> SessionRow {
    SessionRow {
        id_hash: [fill; 32],
        user: user.into(),
        csrf: "c".into(),
        created_ms: T0,
        expires_ms: T0 + 3_600_000,
    }
}

fn user(name: &str, hash: &str) -> UserRow {
    UserRow {
        name: name.into(),
        role: Role::Editor,
        password_hash: hash.into(),
        created_ms: T0,
        from_config: false,
    }
}

const LOCK: LockPolicy = LockPolicy {
    every: 3,
    for_ms: 900_000,
    forget_ms: 86_400_000,
};

/// Failed sign-ins count and lock per (user, client): one client locking itself out of a
/// user locks nobody else out, and other users are untouched.
#[tokio::test]
async fn sign_in_failures_lock_a_user_only_from_one_client() {
    each_backend(|s, b| async move {
        s.save_user(user("alice", "h1")).await.unwrap();
        s.save_user(user("bob", "h1")).await.unwrap();
        for n in 1..=3 {
            let row = s
                .record_login_failure("alice", "198.51.100.1", T0 + n, LOCK)
                .await
                .unwrap();
            assert_eq!(row.failures, n, "{b}");
            assert_eq!(
                row.locked_until_ms,
                (n == 3).then_some(T0 + 3 + 900_000),
                "{b}: every third failure locks"
            );
        }
        let row = s
            .login_failure("alice", "198.51.100.1")
            .await
            .unwrap()
            .unwrap();
        assert!(
            row.locked_at(T0 + 10) && !row.locked_at(T0 + 3 + 900_000),
            "{b}"
        );
        assert!(
            s.login_failure("alice", "198.51.100.2")
                .await
                .unwrap()
                .is_none(),
            "{b}: another client is not locked"
        );
        assert!(
            s.login_failure("bob", "198.51.100.1")
                .await
                .unwrap()
                .is_none(),
            "{b}: nor another user"
        );
        // A fourth failure (once the lock is over) counts on and keeps the lock's end.
        let row = s
            .record_login_failure("alice", "198.51.100.1", T0 + 1_000_000, LOCK)
            .await
            .unwrap();
        assert_eq!(
            (row.failures, row.locked_until_ms),
            (4, Some(T0 + 900_003)),
            "{b}"
        );
        s.record_login_failure("alice", "2001:db8:1:2::/64", T0, LOCK)
            .await
            .unwrap();
        assert_eq!(s.login_failures("alice").await.unwrap().len(), 2, "{b}");
        s.clear_login_failures("alice", "198.51.100.1")
            .await
            .unwrap();
        let left = s.login_failures("alice").await.unwrap();
        assert_eq!(left.len(), 1, "{b}: {left:?}");
        assert_eq!(left[0].client, "2001:db8:1:2::/64", "{b}");
        // Old failures that lock nothing are forgotten as new ones come.
        s.record_login_failure("bob", "192.0.2.9", T0 + 86_400_001, LOCK)
            .await
            .unwrap();
        assert!(s.login_failures("alice").await.unwrap().is_empty(), "{b}");
    })
    .await;
}

/// A changed password ends the user's sessions (whoever changes it) and forgets its
/// failures; saving the same password again does not. Deleting a user deletes both.
#[tokio::test]
async fn a_new_password_ends_sessions_and_deleting_a_user_deletes_them() {
    each_backend(|s, b| async move {
        s.save_user(user("alice", "h1")).await.unwrap();
        s.save_user(user("bob", "h1")).await.unwrap();
        s.insert_session(session(1, "alice")).await.unwrap();
        s.insert_session(session(2, "alice")).await.unwrap();
        s.insert_session(session(3, "bob")).await.unwrap();
        s.record_login_failure("alice", "192.0.2.1", T0, LOCK)
            .await
            .unwrap();

        let mut same = user("alice", "h1");
        same.role = Role::Admin;
        assert_eq!(s.save_user(same).await.unwrap(), 0, "{b}");
        assert!(s.session([1; 32], T0).await.unwrap().is_some(), "{b}");
        assert_eq!(s.login_failures("alice").await.unwrap().len(), 1, "{b}");

        assert_eq!(s.save_user(user("alice", "h2")).await.unwrap(), 2, "{b}");
        for id in [1, 2] {
            assert!(
                s.session([id; 32], T0).await.unwrap().is_none(),
                "{b}: a new password ends session {id}"
            );
        }
        assert!(s.login_failures("alice").await.unwrap().is_empty(), "{b}");
        assert!(
            s.session([3; 32], T0).await.unwrap().is_some(),
            "{b}: others' sessions stay"
        );

        s.record_login_failure("bob", "192.0.2.1", T0, LOCK)
            .await
            .unwrap();
        assert!(s.delete_user("bob").await.unwrap(), "{b}");
        assert!(!s.delete_user("bob").await.unwrap(), "{b}: gone");
        assert!(s.user("bob").await.unwrap().is_none(), "{b}");
        assert!(s.session([3; 32], T0).await.unwrap().is_none(), "{b}");
        assert!(s.login_failures("bob").await.unwrap().is_empty(), "{b}");
        // A user of the same name added again gets none of the old sessions back.
        s.save_user(user("bob", "h1")).await.unwrap();
        assert!(s.session([3; 32], T0).await.unwrap().is_none(), "{b}");
    })
    .await;
}
