//! Community comments: stored per service, listed by state, moderated, and networks paused
//! for a while.

use super::*;
use downbeat_domain::CommentState;

fn comment(service: &str, at_ms: i64, text: &str, net: u8, state: CommentState) -> NewComment {
    NewComment {
        service: service.into(),
        created_ms: at_ms,
        text: text.into(),
        client_hash: [net + 100; 16],
        network_hash: [net; 16],
        state,
    }
}

fn texts(rows: &[CommentRow]) -> Vec<&str> {
    rows.iter().map(|c| c.text.as_str()).collect()
}

#[tokio::test]
async fn comments_are_listed_by_state_per_service_and_moderated() {
    each_backend(|s, name| async move {
        use CommentState::*;
        let mut ids = Vec::new();
        for (i, (text, state)) in [
            ("first <b>shown</b>", Shown),
            ("waiting", Pending),
            ("second shown", Shown),
            ("waiting too", Pending),
        ]
        .into_iter()
        .enumerate()
        {
            let at = T0 + i as i64 * 60_000;
            ids.push(
                s.insert_comment(comment("melodia", at, text, i as u8, state))
                    .await
                    .unwrap(),
            );
        }
        s.insert_comment(comment("other", T0, "elsewhere", 9, Shown))
            .await
            .unwrap();

        let shown = s.shown_comments("melodia", 20).await.unwrap();
        assert_eq!(
            texts(&shown),
            ["second shown", "first <b>shown</b>"],
            "{name}: newest first, stored as typed"
        );
        assert_eq!(shown[1].network_hash, [0; 16], "{name}");
        assert_eq!(shown[1].client_hash, [100; 16], "{name}");
        assert_eq!(shown[1].created_ms, T0, "{name}");
        assert_eq!(shown[1].moderated_by, None, "{name}");
        assert_eq!(
            texts(&s.shown_comments("melodia", 1).await.unwrap()),
            ["second shown"],
            "{name}: the limit"
        );
        assert_eq!(
            texts(&s.pending_comments("melodia", 20).await.unwrap()),
            ["waiting", "waiting too"],
            "{name}: a queue, oldest first"
        );
        assert_eq!(s.pending_comment_count("melodia").await.unwrap(), 2);
        assert_eq!(s.pending_comment_count("nobody").await.unwrap(), 0);

        // Approve the first waiting one, hide the first shown one.
        assert!(
            s.moderate_comment(ids[1], "melodia", Shown, "ed", T0 + 600_000)
                .await
                .unwrap(),
            "{name}"
        );
        assert!(
            s.moderate_comment(ids[0], "melodia", Hidden, "ann", T0 + 700_000)
                .await
                .unwrap(),
            "{name}"
        );
        assert!(
            !s.moderate_comment(ids[0], "other", Shown, "ed", T0)
                .await
                .unwrap(),
            "{name}: a comment of another service is not found"
        );
        assert_eq!(
            texts(&s.shown_comments("melodia", 20).await.unwrap()),
            ["second shown", "waiting"],
            "{name}"
        );
        assert_eq!(s.pending_comment_count("melodia").await.unwrap(), 1);
        let moderated = s.moderated_comments("melodia", 20).await.unwrap();
        assert_eq!(
            texts(&moderated),
            ["second shown", "waiting", "first <b>shown</b>"],
            "{name}: shown and hidden, newest first"
        );
        let hidden = s.comment("melodia", ids[0]).await.unwrap().expect(name);
        assert_eq!(
            (
                hidden.state,
                hidden.moderated_by.as_deref(),
                hidden.moderated_ms
            ),
            (Hidden, Some("ann"), Some(T0 + 700_000)),
            "{name}"
        );
        assert!(
            s.comment("other", ids[0]).await.unwrap().is_none(),
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_paused_network_is_refused_until_its_pause_ends_on_that_service_only() {
    each_backend(|s, name| async move {
        let net = [7; 16];
        assert!(
            !s.network_banned("melodia", net, T0).await.unwrap(),
            "{name}"
        );
        s.ban_network("melodia", net, T0 + 1_000, "ed")
            .await
            .unwrap();
        assert!(
            s.network_banned("melodia", net, T0).await.unwrap(),
            "{name}"
        );
        assert!(
            s.network_banned("melodia", net, T0 + 999).await.unwrap(),
            "{name}"
        );
        assert!(
            !s.network_banned("melodia", net, T0 + 1_000).await.unwrap(),
            "{name}: over at its end"
        );
        assert!(
            !s.network_banned("other", net, T0).await.unwrap(),
            "{name}: per service"
        );
        assert!(
            !s.network_banned("melodia", [8; 16], T0).await.unwrap(),
            "{name}: per network"
        );
        // Paused again: the later end wins, whichever order they come in.
        s.ban_network("melodia", net, T0 + 5_000, "ann")
            .await
            .unwrap();
        s.ban_network("melodia", net, T0 + 2_000, "ed")
            .await
            .unwrap();
        assert!(
            s.network_banned("melodia", net, T0 + 4_000).await.unwrap(),
            "{name}"
        );
        assert!(
            !s.network_banned("melodia", net, T0 + 5_000).await.unwrap(),
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn comments_and_ended_pauses_go_with_raw_retention() {
    each_backend(|s, name| async move {
        let old = T0 - 40 * 86_400_000;
        s.insert_comment(comment("melodia", old, "old", 1, CommentState::Shown))
            .await
            .unwrap();
        s.insert_comment(comment("melodia", old, "old too", 1, CommentState::Pending))
            .await
            .unwrap();
        s.insert_comment(comment("melodia", T0, "new", 2, CommentState::Shown))
            .await
            .unwrap();
        s.ban_network("melodia", [1; 16], old + 86_400_000, "ed")
            .await
            .unwrap();
        s.ban_network("melodia", [2; 16], T0 + 86_400_000, "ed")
            .await
            .unwrap();
        let out = s
            .prune(PruneCutoffs {
                raw_before_ms: T0 - 30 * 86_400_000,
                rollups_before_ms: T0 - 400 * 86_400_000,
                salts_before_day: 0,
            })
            .await
            .unwrap();
        assert_eq!((out.comments, out.banned_networks), (2, 1), "{name}");
        assert_eq!(
            texts(&s.shown_comments("melodia", 20).await.unwrap()),
            ["new"],
            "{name}"
        );
        assert_eq!(s.pending_comment_count("melodia").await.unwrap(), 0);
        assert!(
            s.network_banned("melodia", [2; 16], T0).await.unwrap(),
            "{name}: a pause still running stays"
        );
    })
    .await;
}
