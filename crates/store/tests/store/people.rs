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
            failed_logins: 0,
            locked_until_ms: None,
        };
        s.save_user(u.clone()).await.unwrap();
        u.failed_logins = 5;
        u.locked_until_ms = Some(T0 + 900_000);
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
