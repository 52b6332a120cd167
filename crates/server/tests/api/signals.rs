//! External signals through the real server (issue 17, item 3): a `signal` token posts
//! counts and posts of the service's configured sources; a batch with a bad row is refused
//! whole, naming the row and its field; a retried batch changes nothing; posts are stored
//! with the problem kind their words tell; the public figures compare the window with the
//! week before it.

use crate::helpers::*;
use downbeat_api::auth::{self, Role};
use downbeat_domain::ManualClock;
use downbeat_store::{SignalKind, testing};
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

const CONFIG: &str = r#"
[[service]]
id = "melodia"
name = "Melodia"

[[service.signal]]
source = "mastodon"
name = "Mastodon"

[[service.signal]]
source = "forum"
name = "the <b>forum</b>"
raises = "alone"

[[service]]
id = "quiet"
name = "Quiet"
"#;

async fn app() -> TestApp {
    let clock = Arc::new(ManualClock::new(
        "2026-12-07T08:30:00Z".parse::<Timestamp>().unwrap(),
    ));
    spawn_raw(testing::sqlite(), CONFIG, clock).await
}

async fn token(app: &TestApp, role: Role) -> String {
    auth::create_token(
        &*app.app.store,
        &format!("{role}-token"),
        role,
        app.clock.now_ms(),
    )
    .await
    .unwrap()
}

async fn push(
    app: &TestApp,
    token: Option<&str>,
    service: &str,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = app
        .client
        .post(app.url(&format!("/api/v1/services/{service}/signals")))
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn ago(app: &TestApp, minutes: i64) -> String {
    let now = Timestamp::from_millisecond(app.clock.now_ms()).unwrap();
    (now - SignedDuration::from_mins(minutes)).to_string()
}

async fn figures(app: &TestApp) -> Value {
    let (s, v) = app
        .get_json("/api/v1/services/melodia/signals?window=60m")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

#[tokio::test]
async fn a_signal_token_posts_counts_and_posts_that_show_against_the_week_before() {
    let app = app().await;
    let t = token(&app, Role::Signal).await;
    // The week before: 168 Mastodon posts a day for two days → 2 an hour on average.
    let (s, v) = push(
        &app,
        Some(&t),
        "melodia",
        json!({"signals": [
            {"source": "mastodon", "at": ago(&app, 24 * 60), "count": 168},
            {"source": "mastodon", "at": ago(&app, 47 * 60), "count": 168},
        ]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let batch = json!({"signals": [
        {"source": "mastodon", "at": ago(&app, 5), "count": 20},
        {"source": "mastodon", "at": ago(&app, 4), "count": 4},
        {"source": "forum", "at": ago(&app, 3), "text": "<script>alert(1)</script> can't log in",
         "url": "https://forum.example/t/1", "lang": "en-GB"},
        {"source": "forum", "at": ago(&app, 2), "text": "Melodia down\nagain?"},
    ]});
    let (s, v) = push(&app, Some(&t), "melodia", batch.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!({"rows": 4, "new_posts": 2, "known_posts": 0, "counts": 2})
    );
    let (s, again) = push(&app, Some(&t), "melodia", batch).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (again["new_posts"].as_u64(), again["known_posts"].as_u64()),
        (Some(0), Some(2)),
        "a retried batch changes nothing"
    );
    let f = figures(&app).await;
    let sources = f["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2, "{f}");
    assert_eq!(sources[0]["source"], "mastodon");
    assert_eq!(sources[0]["count"], 24);
    assert_eq!(sources[0]["usual"], 2.0, "{f}");
    assert_eq!(sources[0]["ratio"], 12.0, "{f}");
    assert_eq!(sources[0]["raises"], "corroborate");
    assert_eq!(sources[1]["source"], "forum");
    assert_eq!(
        sources[1]["name"], "the <b>forum</b>",
        "JSON carries names as they are"
    );
    assert_eq!(sources[1]["count"], 2);
    assert_eq!(sources[1]["ratio"], Value::Null, "nothing usual yet");
    assert_eq!(sources[1]["raises"], "alone");
    assert!(
        !f.to_string().contains("script"),
        "posts' text is not republished: {f}"
    );
    // `/status` names every source with its own verdict.
    app.detect().await;
    let (_, status) = app.verdict().await;
    let names: Vec<&str> = status["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mastodon", "forum"], "{status}");
    assert_eq!(status["signals"][1]["raises"], "alone");
}

/// The server finds each post's problem kind by the service's keywords as it stores it (a
/// sender cannot name one), and `/status` says what a source's posts are about.
#[tokio::test]
async fn posts_are_stored_with_the_kind_their_words_tell_and_status_names_it() {
    let app = app().await;
    let t = token(&app, Role::Signal).await;
    let (s, v) = push(
        &app,
        Some(&t),
        "melodia",
        json!({"signals": [
            {"source": "forum", "at": ago(&app, 3), "text": "all fine", "kind": "crash"},
        ]}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a sender cannot set a kind: {v}"
    );
    assert!(v["error"].as_str().unwrap().contains("kind"), "{v}");
    let post = |minutes: i64, text: &str| json!({"source": "forum", "at": ago(&app, minutes), "text": text});
    let (s, v) = push(
        &app,
        Some(&t),
        "melodia",
        json!({"signals": [
            post(5, "Can't log in since 8:00"),
            post(5, "Não consigo entrar na minha conta"),
            post(4, "Kann mich nicht anmelden"),
            post(4, "No sound, skipping every song"),
            post(3, "Melodia down again?"),
            {"source": "mastodon", "at": ago(&app, 3), "count": 40},
        ]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let now = app.clock.now_ms();
    let kinds = app
        .app
        .store
        .signal_kinds("melodia", now - 3_600_000, now + 1)
        .await
        .unwrap();
    let kind = |kind: Option<&str>, count| SignalKind {
        source: "forum".into(),
        kind: kind.map(Into::into),
        count,
    };
    assert_eq!(
        kinds,
        [
            kind(Some("login"), 3),
            kind(Some("playback"), 1),
            kind(None, 1)
        ]
    );
    app.detect().await;
    let (_, status) = app.verdict().await;
    assert_eq!(
        status["signals"][1]["kinds"],
        json!([{"kind": "login", "label": "Login", "percent": 60}]),
        "playback's one post is too few to name: {status}"
    );
    assert_eq!(
        status["signals"][0]["kinds"],
        json!([]),
        "counts carry no kinds: {status}"
    );
}

#[tokio::test]
async fn a_batch_with_a_bad_row_is_refused_whole_naming_the_row() {
    let app = app().await;
    let t = token(&app, Role::Signal).await;
    let good = json!({"source": "mastodon", "at": ago(&app, 1), "count": 3});
    let cases = [
        (
            json!({"source": "mastodon", "at": ago(&app, 1), "count": 0}),
            "count",
            "signals[1].count: 0 is not between 1",
        ),
        (
            json!({"source": "bluesky", "at": ago(&app, 1), "count": 1}),
            "source",
            "\"bluesky\" is not a signal source of this service (its sources: mastodon, forum)",
        ),
        (
            json!({"source": "forum", "at": "soon", "text": "x"}),
            "at",
            "is not an RFC 3339 time",
        ),
        (
            json!({"source": "forum", "at": ago(&app, 1), "text": "x", "url": "ftp://x"}),
            "url",
            "must start with https:// or http://",
        ),
        (
            json!({"source": "forum", "at": ago(&app, 1), "text": "a\u{0}b"}),
            "text",
            "control characters",
        ),
        (
            json!({"source": "forum", "at": ago(&app, 3 * 24 * 60), "text": "x"}),
            "at",
            "older than",
        ),
    ];
    for (bad, field, says) in cases {
        let (s, v) = push(
            &app,
            Some(&t),
            "melodia",
            json!({"signals": [good, bad, good]}),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        assert_eq!(
            (v["list"].as_str(), v["index"].as_u64()),
            (Some("signals"), Some(1)),
            "{v}"
        );
        assert_eq!(v["field"], field, "{v}");
        assert!(v["error"].as_str().unwrap().contains(says), "{bad}: {v}");
    }
    assert_eq!(
        figures(&app).await["sources"][0]["count"],
        0,
        "nothing of a refused batch is stored, its good rows neither"
    );
    let (s, v) = push(&app, Some(&t), "quiet", json!({"signals": [good]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("this service takes no signals"),
        "{v}"
    );
    let (s, v) = push(
        &app,
        Some(&t),
        "melodia",
        json!({"signals": [good], "extra": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let many = vec![good.clone(); 1001];
    let (s, v) = push(&app, Some(&t), "melodia", json!({"signals": many})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "signals");
    let (s, _) = push(&app, Some(&t), "nobody", json!({"signals": [good]})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_signal_and_admin_tokens_post_signals() {
    let app = app().await;
    let body = json!({"signals": [{"source": "mastodon", "at": ago(&app, 1), "count": 3}]});
    let (s, _) = push(&app, None, "melodia", body.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    for role in [Role::Viewer, Role::Editor, Role::Agent] {
        let t = token(&app, role).await;
        let (s, v) = push(&app, Some(&t), "melodia", body.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{role}: {v}");
    }
    let admin = token(&app, Role::Admin).await;
    let (s, v) = push(&app, Some(&admin), "melodia", body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = app
        .client
        .post(app.url("/api/v1/services/melodia/signals"))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("signals")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// A source with a built-in poller (issue 17, item 4): the server polls a feed on its own —
/// here a forum's Atom feed on loopback — and its relevant entries become the source's
/// posts, counted in the public figures and in `/metrics`.
#[tokio::test]
async fn a_polled_feed_fills_its_source_without_any_sender() {
    use axum::routing::get;
    let now = Timestamp::now();
    let at = |minutes: i64| (now - SignedDuration::from_mins(minutes)).to_string();
    let feed = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Melodia forum</title>\
         <entry><id>tag:forum.example,2026:1</id><title>Melodia is down for me</title><updated>{}</updated></entry>\
         <entry><id>tag:forum.example,2026:2</id><title>Melodia: can't log in</title><updated>{}</updated></entry>\
         <entry><id>tag:forum.example,2026:3</id><title>Melodia meetup on Friday</title><updated>{}</updated></entry></feed>",
        at(1),
        at(2),
        at(3)
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/feed.atom", get(move || async move { feed }));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let config = format!(
        "[[service]]\nid = \"melodia\"\nname = \"Melodia\"\n\
         [[service.signal]]\nsource = \"forum\"\nname = \"the forum\"\n\
         [service.signal.poll]\nkind = \"feed\"\nurl = \"http://{addr}/feed.atom\"\ninclude = [\"melodia\"]\nevery = \"10s\"\n"
    );
    let clock = Arc::new(ManualClock::new(now));
    let app = spawn_raw(testing::sqlite(), &config, clock).await;
    // The first round comes within half a period (spread over it at start).
    let metrics = || async {
        let r = app.client.get(app.url("/metrics")).send().await.unwrap();
        r.text().await.unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let metrics = loop {
        let m = metrics().await;
        // Posts are counted once stored: the round is over.
        if m.contains("downbeat_poll_posts_total{") || std::time::Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    for line in [
        "downbeat_poll_requests_total{service=\"melodia\",source=\"forum\",outcome=\"ok\"} 1",
        "downbeat_poll_posts_total{service=\"melodia\",source=\"forum\",outcome=\"kept\"} 2",
        "downbeat_poll_posts_total{service=\"melodia\",source=\"forum\",outcome=\"irrelevant\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    // The public figures (cached per minute of the app's clock) count them.
    app.clock.advance(std::time::Duration::from_secs(60));
    let f = figures(&app).await;
    assert_eq!(
        f["sources"][0]["count"], 2,
        "the two entries about trouble, not the meetup: {f}"
    );
}
