//! Bluesky: searchPosts paged by cursor from `since`, with an app password's session.

use super::*;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use downbeat_pollers::PollError;
use serde_json::{Value, json};
use std::collections::HashMap;

#[derive(Clone)]
struct Fake {
    /// (indexedAt ms, post view), any order.
    posts: Arc<Mutex<Vec<(i64, Value)>>>,
    /// The token searchPosts takes; a session made before it changed has expired.
    token: Arc<Mutex<u32>>,
    log: Log,
}

fn post_view(n: u32, at_ms: i64, text: &str, langs: &[&str]) -> (i64, Value) {
    (
        at_ms,
        json!({
            "uri": format!("at://did:plc:ana{n}/app.bsky.feed.post/3kpost{n}"),
            "cid": format!("bafyrei{n}"),
            "author": {"did": format!("did:plc:ana{n}"), "handle": format!("ana{n}.bsky.example"), "displayName": "Ana"},
            "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": rfc3339(at_ms - 500), "langs": langs},
            "replyCount": 0, "repostCount": 0, "likeCount": 0, "quoteCount": 0,
            "indexedAt": rfc3339(at_ms),
            "labels": [],
        }),
    )
}

/// searchPosts: newest first from `since` (inclusive), three a page, the cursor an offset.
async fn search(
    State(f): State<Fake>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    f.log.push(&uri, &headers);
    let token = *f.token.lock().unwrap();
    let expected = format!("Bearer jwt-{token}");
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(a) if a == expected => {}
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "ExpiredToken", "message": "Token has expired"})),
            )
                .into_response();
        }
        None => {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "AuthMissing", "message": "Authentication Required"})),
            )
                .into_response();
        }
    }
    assert_eq!(q.get("q").map(String::as_str), Some("melodia"));
    assert_eq!(q.get("sort").map(String::as_str), Some("latest"));
    let since: i64 = q["since"]
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    let mut posts: Vec<(i64, Value)> = f
        .posts
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.0 >= since)
        .cloned()
        .collect();
    posts.sort_by_key(|p| -p.0);
    let offset: usize = q.get("cursor").map_or(0, |c| c.parse().unwrap());
    let page: Vec<Value> = posts
        .iter()
        .skip(offset)
        .take(3)
        .map(|p| p.1.clone())
        .collect();
    let mut body = json!({"posts": page, "hitsTotal": posts.len()});
    if offset + 3 < posts.len() {
        body["cursor"] = json!((offset + 3).to_string());
    }
    (
        [
            ("ratelimit-limit", "3000"),
            ("ratelimit-remaining", "2999"),
            ("ratelimit-policy", "3000;w=300"),
        ],
        axum::Json(body),
    )
        .into_response()
}

async fn create_session(
    State(f): State<Fake>,
    uri: Uri,
    headers: HeaderMap,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    f.log.push(&uri, &headers);
    if b["identifier"] != "status.melodia.example" || b["password"] != "abcd-efgh-ijkl-mnop" {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}))).into_response();
    }
    let token = *f.token.lock().unwrap();
    axum::Json(json!({
        "did": "did:plc:melodia", "handle": "status.melodia.example",
        "accessJwt": format!("jwt-{token}"), "refreshJwt": "refresh", "active": true,
    }))
    .into_response()
}

async fn fake_server(posts: Vec<(i64, Value)>) -> (Fake, SocketAddr) {
    let fake = Fake {
        posts: Arc::new(Mutex::new(posts)),
        token: Arc::new(Mutex::new(1)),
        log: Log::default(),
    };
    let router = Router::new()
        .route("/xrpc/app.bsky.feed.searchPosts", get(search))
        .route(
            "/xrpc/com.atproto.server.createSession",
            post(create_session),
        )
        .with_state(fake.clone());
    let addr = serve(router).await;
    (fake, addr)
}

fn paths(log: &Log) -> Vec<String> {
    log.take()
        .into_iter()
        .map(|s| {
            let (path, query) = s.uri.split_once('?').unwrap_or((&s.uri, ""));
            let cursor = query.split('&').find(|p| p.starts_with("cursor="));
            format!(
                "{}{}",
                path.trim_start_matches("/xrpc/"),
                cursor.map_or(String::new(), |c| format!(" {c}"))
            )
        })
        .collect()
}

#[tokio::test]
async fn search_pages_by_cursor_signs_in_again_when_the_session_expires_and_goes_on_from_since() {
    // Seven posts in the last hour (one in German, one not about trouble), one from two hours ago.
    let posts = vec![
        post_view(1, NOW - 60_000, "melodia is down?", &["en"]),
        post_view(2, NOW - 120_000, "Melodia: can't log in since 9", &["en"]),
        post_view(3, NOW - 180_000, "Melodia funktioniert nicht", &["de"]),
        post_view(4, NOW - 240_000, "loving the new Melodia mix", &["en"]),
        post_view(5, NOW - 300_000, "Melodia caiu de novo", &["pt-BR"]),
        post_view(6, NOW - 360_000, "Melodia not loading on my phone", &[]),
        post_view(7, NOW - 420_000, "anyone else? Melodia error 503", &["en"]),
        post_view(8, NOW - 7_200_000, "Melodia outage two hours ago", &["en"]),
    ];
    let (fake, addr) = fake_server(posts).await;
    let h = Harness::new(&format!(
        "kind = \"bluesky\"\nurl = \"http://{addr}\"\nsearch = \"melodia\"\nlanguages = [\"en\", \"pt\"]\n\
         identifier = \"status.melodia.example\"\napp_password = \"abcd-efgh-ijkl-mnop\""
    ))
    .await;
    let mut poller = h.poller();
    let r = poller.round().await.unwrap();
    assert_eq!(
        paths(&fake.log),
        [
            "com.atproto.server.createSession",
            "app.bsky.feed.searchPosts",
            "app.bsky.feed.searchPosts cursor=3",
            "app.bsky.feed.searchPosts cursor=6",
        ]
    );
    assert_eq!(
        r.fetched, 7,
        "the hour's seven; not the post from two hours ago"
    );
    assert_eq!((dropped(&r, "language"), dropped(&r, "irrelevant")), (1, 1));
    assert_eq!(r.stored, 5);

    // The session expires and a new post arrives: the poller signs in again, once, and
    // reads from the newest time it had (the post at that time again, dropped as seen).
    *fake.token.lock().unwrap() = 2;
    fake.posts
        .lock()
        .unwrap()
        .push(post_view(9, NOW, "Melodia no funciona", &["es"]));
    h.clock.set_ms(NOW + 30_000);
    let r = poller.round().await.unwrap();
    assert_eq!(
        paths(&fake.log),
        [
            "app.bsky.feed.searchPosts",
            "com.atproto.server.createSession",
            "app.bsky.feed.searchPosts"
        ]
    );
    assert_eq!(r.fetched, 2);
    assert_eq!(dropped(&r, "seen"), 1);
    // Spanish is not among the poller's languages.
    assert_eq!(dropped(&r, "language"), 1);
    assert_eq!(h.stored().await, 5);
}

#[tokio::test]
async fn an_appview_that_wants_authentication_says_so_and_a_wrong_password_is_named() {
    let (_fake, addr) = fake_server(vec![]).await;
    let h = Harness::new(&format!(
        "kind = \"bluesky\"\nurl = \"http://{addr}\"\nsearch = \"melodia\""
    ))
    .await;
    let e = h.poller().round().await.unwrap_err();
    assert!(
        matches!(e, PollError::Auth(_)) && e.to_string().contains("app_password"),
        "{e}"
    );

    let h = Harness::new(&format!(
        "kind = \"bluesky\"\nurl = \"http://{addr}\"\nsearch = \"melodia\"\nidentifier = \"status.melodia.example\"\napp_password = \"wrong\""
    ))
    .await;
    let e = h.poller().round().await.unwrap_err();
    assert!(e.to_string().contains("createSession answered 401"), "{e}");
}

#[tokio::test]
async fn a_page_that_is_not_search_results_is_garbage() {
    let router = Router::new().route(
        "/xrpc/app.bsky.feed.searchPosts",
        get(|| async { axum::Json(json!({"posts": [{"uri": "at://x/app.bsky.feed.post/1", "indexedAt": "yesterday", "author": {"handle": "a"}, "record": {"text": "melodia down"}}]})) }),
    );
    let addr = serve(router).await;
    let h = Harness::new(&format!(
        "kind = \"bluesky\"\nurl = \"http://{addr}\"\nsearch = \"melodia\""
    ))
    .await;
    let e = h.poller().round().await.unwrap_err();
    assert!(e.to_string().contains("indexedAt"), "{e}");
    assert_eq!(h.garbage(), 1);
    assert_eq!(h.stored().await, 0);
}
