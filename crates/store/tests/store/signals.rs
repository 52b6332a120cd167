//! External signals: counts replace, posts are kept once, minutes add up per source, posts
//! add up per source and problem kind.

use super::*;
use downbeat_domain::signal::{Post, Signal};
use downbeat_domain::{ProblemKind, Slug};

fn count(source: &str, at_ms: i64, count: u32) -> Signal {
    Signal::Count {
        source: Slug::parse(source).unwrap(),
        at_ms,
        count,
    }
}

fn post(source: &str, at_ms: i64, text: &str, url: Option<&str>) -> Signal {
    Signal::Post(Post {
        source: Slug::parse(source).unwrap(),
        at_ms,
        text: text.into(),
        url: url.map(Into::into),
        lang: Some("en".into()),
        kind: None,
    })
}

/// A post the API classified as `kind` (None: its words told none).
fn classified(source: &str, at_ms: i64, text: &str, kind: Option<&str>) -> Signal {
    Signal::Post(Post {
        kind: kind.map(|k| ProblemKind::parse(k).unwrap()),
        ..match post(source, at_ms, text, None) {
            Signal::Post(p) => p,
            Signal::Count { .. } => unreachable!(),
        }
    })
}

fn kind(source: &str, kind: Option<&str>, count: u64) -> SignalKind {
    SignalKind {
        source: source.into(),
        kind: kind.map(Into::into),
        count,
    }
}

fn minute(source: &str, minute_ms: i64, count: u64) -> SignalMinute {
    SignalMinute {
        source: source.into(),
        minute_ms,
        count,
    }
}

#[tokio::test]
async fn counts_replace_posts_count_once_and_minutes_add_up_per_source() {
    each_backend(|s, name| async move {
        let batch = vec![
            count("mastodon", T0 + 5_000, 40),
            post(
                "bluesky",
                T0 + 1_000,
                "melodia down?",
                Some("https://bsky.example/p/1"),
            ),
            post("bluesky", T0 + 2_000, "can't log in to melodia", None),
            post(
                "bluesky",
                T0 + 61_000,
                "still down",
                Some("https://bsky.example/p/2"),
            ),
            count("mastodon", T0 + 50_000, 42),
        ];
        let stored = s
            .insert_signals("melodia", &batch, T0 + 90_000)
            .await
            .unwrap();
        assert_eq!(
            stored,
            SignalsStored {
                new_posts: 3,
                known_posts: 0,
                counts: 1
            },
            "{name}: the later count of a minute replaces the earlier"
        );
        // The same batch again (a sender's retry) changes nothing.
        let again = s
            .insert_signals("melodia", &batch, T0 + 95_000)
            .await
            .unwrap();
        assert_eq!((again.new_posts, again.known_posts), (0, 3), "{name}");
        s.insert_signals("other", &[count("mastodon", T0, 7)], T0)
            .await
            .unwrap();
        assert_eq!(
            s.signal_minutes("melodia", T0, T0 + 3_600_000)
                .await
                .unwrap(),
            vec![
                minute("bluesky", T0, 2),
                minute("bluesky", T0 + 60_000, 1),
                minute("mastodon", T0, 42),
            ],
            "{name}"
        );
        assert_eq!(
            s.signal_minutes("melodia", T0 + 60_000, T0 + 120_000)
                .await
                .unwrap(),
            vec![minute("bluesky", T0 + 60_000, 1)],
            "{name}: the window's bounds"
        );
    })
    .await;
}

#[tokio::test]
async fn old_signals_are_pruned_with_raw_data_and_roll_ups() {
    each_backend(|s, name| async move {
        let old = T0 - 40 * 86_400_000;
        let ancient = T0 - 500 * 86_400_000;
        s.insert_signals(
            "melodia",
            &[
                count("mastodon", ancient, 5),
                count("mastodon", old, 6),
                post("rss", old, "down again", None),
            ],
            T0,
        )
        .await
        .unwrap();
        s.prune(PruneCutoffs {
            raw_before_ms: T0 - 30 * 86_400_000,
            rollups_before_ms: T0 - 400 * 86_400_000,
            salts_before_day: 0,
        })
        .await
        .unwrap();
        assert_eq!(
            s.signal_minutes("melodia", ancient - 1, T0).await.unwrap(),
            vec![minute("mastodon", old, 6), minute("rss", old, 1)],
            "{name}: the ancient minute is gone; the old one stays with the roll-ups"
        );
        // The old post itself is gone with the raw data: storing it again counts it again.
        let again = s
            .insert_signals("melodia", &[post("rss", old, "down again", None)], T0)
            .await
            .unwrap();
        assert_eq!(again.new_posts, 1, "{name}");
    })
    .await;
}

#[tokio::test]
async fn posts_add_up_per_source_and_kind_in_their_time_range() {
    each_backend(|s, name| async move {
        let hour = 3_600_000;
        let batch = vec![
            classified("mastodon", T0 + 1_000, "can't log in", Some("login")),
            classified("mastodon", T0 + 2_000, "logged out again", Some("login")),
            classified("mastodon", T0 + 65_000, "password rejected", Some("login")),
            classified("mastodon", T0 + 3_000, "no sound", Some("playback")),
            classified("mastodon", T0 + 4_000, "melodia down?", None),
            classified("mastodon", T0 + 5_000, "is it just me", None),
            classified("bluesky", T0 + 6_000, "sign in fails", Some("login")),
            // Outside the range: the posts' own time counts, not the minute's.
            classified("mastodon", T0 - 1, "login broken", Some("login")),
            classified("mastodon", T0 + hour, "login broken", Some("login")),
            // Counts carry no text, so no kind.
            count("mastodon", T0 + 1_000, 50),
        ];
        s.insert_signals("melodia", &batch, T0 + hour)
            .await
            .unwrap();
        s.insert_signals(
            "other",
            &[classified("mastodon", T0, "login", Some("login"))],
            T0,
        )
        .await
        .unwrap();
        // The same post again, with another kind: kept once, with its first kind.
        s.insert_signals(
            "melodia",
            &[classified(
                "bluesky",
                T0 + 6_000,
                "sign in fails",
                Some("crash"),
            )],
            T0 + hour,
        )
        .await
        .unwrap();
        assert_eq!(
            s.signal_kinds("melodia", T0, T0 + hour).await.unwrap(),
            vec![
                kind("bluesky", Some("login"), 1),
                kind("mastodon", Some("login"), 3),
                kind("mastodon", Some("playback"), 1),
                kind("mastodon", None, 2),
            ],
            "{name}: by source, then kind, the unclassified last"
        );
        assert_eq!(
            s.signal_kinds("melodia", T0 + 60_000, T0 + 120_000)
                .await
                .unwrap(),
            vec![kind("mastodon", Some("login"), 1)],
            "{name}"
        );
        assert_eq!(
            s.signal_kinds("quiet", T0, T0 + hour).await.unwrap(),
            vec![],
            "{name}"
        );
    })
    .await;
}
