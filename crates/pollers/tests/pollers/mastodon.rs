//! Mastodon: hashtag timelines and search, paged by `min_id`/`max_id`.

use super::*;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use downbeat_pollers::PollError;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How the fake server answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    /// `X-RateLimit-Remaining: 0`, resetting in two minutes.
    QuotaSpent,
    /// 429 with `Retry-After: 1`.
    TooMany,
    /// A page that is not a list of statuses.
    Garbage,
    /// Never answers.
    Hang,
}

#[derive(Clone)]
struct Fake {
    statuses: Arc<Mutex<Vec<Value>>>,
    mode: Arc<Mutex<Mode>>,
    log: Log,
}

/// A status as the API documents it, `minutes` before now.
fn status(id: u64, minutes: i64, text: &str) -> Value {
    json!({
        "id": id.to_string(),
        "created_at": rfc3339(NOW - minutes * 60_000),
        "in_reply_to_id": null,
        "sensitive": false,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": format!("https://social.example/users/ana/statuses/{id}"),
        "url": format!("https://social.example/@ana/{id}"),
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "content": format!("<p>{text}</p>"),
        "reblog": null,
        "account": {"id": "1", "username": "ana", "acct": "ana"},
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": "melodiadown", "url": "https://social.example/tags/melodiadown"}],
        "emojis": [],
    })
}

/// Statuses newest first, paged as Mastodon pages them: `max_id` reads back, `min_id`
/// reads the statuses just after it.
fn page(all: &[Value], q: &HashMap<String, String>) -> Vec<Value> {
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20)
        .min(40);
    let id = |s: &Value| s["id"].as_str().unwrap().parse::<u64>().unwrap();
    let num = |k: &str| q.get(k).map(|v| v.parse::<u64>().unwrap());
    let mut v: Vec<Value> = all.to_vec();
    v.sort_by_key(id);
    if let Some(min) = num("min_id") {
        let mut after: Vec<Value> = v.into_iter().filter(|s| id(s) > min).take(limit).collect();
        after.reverse();
        return after;
    }
    v.reverse();
    v.into_iter()
        .filter(|s| num("max_id").is_none_or(|max| id(s) < max))
        .take(limit)
        .collect()
}

async fn answer(
    fake: &Fake,
    uri: &Uri,
    headers: &HeaderMap,
    body: impl FnOnce(Vec<Value>) -> Value,
    q: &HashMap<String, String>,
) -> Response {
    fake.log.push(uri, headers);
    let mode = *fake.mode.lock().unwrap();
    let statuses = page(&fake.statuses.lock().unwrap(), q);
    let reset = rfc3339(NOW + 120_000);
    match mode {
        Mode::Normal => (
            [
                ("x-ratelimit-limit", "300".to_owned()),
                ("x-ratelimit-remaining", "299".to_owned()),
                ("x-ratelimit-reset", reset),
            ],
            axum::Json(body(statuses)),
        )
            .into_response(),
        Mode::QuotaSpent => (
            [
                ("x-ratelimit-limit", "300".to_owned()),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-reset", reset),
            ],
            axum::Json(body(statuses)),
        )
            .into_response(),
        Mode::TooMany => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            axum::Json(json!({"error": "Too many requests"})),
        )
            .into_response(),
        Mode::Garbage => (StatusCode::OK, "<html>Bad gateway</html>").into_response(),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK.into_response()
        }
    }
}

async fn fake_server(statuses: Vec<Value>) -> (Fake, SocketAddr) {
    let fake = Fake {
        statuses: Arc::new(Mutex::new(statuses)),
        mode: Arc::new(Mutex::new(Mode::Normal)),
        log: Log::default(),
    };
    let router = Router::new()
        .route(
            "/api/v1/timelines/tag/{tag}",
            get(
                |State(f): State<Fake>,
                 uri: Uri,
                 headers: HeaderMap,
                 Query(q): Query<HashMap<String, String>>| async move {
                    answer(&f, &uri, &headers, |s| json!(s), &q).await
                },
            ),
        )
        .route(
            "/api/v2/search",
            get(
                |State(f): State<Fake>,
                 uri: Uri,
                 headers: HeaderMap,
                 Query(q): Query<HashMap<String, String>>| async move {
                    assert_eq!(q.get("type").map(String::as_str), Some("statuses"));
                    answer(
                        &f,
                        &uri,
                        &headers,
                        |s| json!({"accounts": [], "statuses": s, "hashtags": []}),
                        &q,
                    )
                    .await
                },
            ),
        )
        .with_state(fake.clone());
    let addr = serve(router).await;
    (fake, addr)
}

/// A timeline of 100 statuses, one a minute (ids 1000–1099, the newest now): every third is
/// chatter about the album, not trouble; one is a boost; one copies another's words.
fn timeline() -> Vec<Value> {
    (0..100u64)
        .map(|i| {
            let id = 1000 + i;
            let minutes = 99 - i as i64;
            let mut s = if i % 3 == 0 {
                status(id, minutes, "Melodia's new album is lovely")
            } else {
                status(id, minutes, &format!("Is #MelodiaDown? can't log in ({i})"))
            };
            if i == 95 {
                s["reblog"] = status(1, 0, "Is #MelodiaDown?");
            }
            if i == 97 {
                s["content"] = json!("<p>Is #MelodiaDown? can&#39;t log in (98)</p>");
            }
            s
        })
        .collect()
}

fn min_ids(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .filter_map(|s| {
            s.uri
                .split(['?', '&'])
                .find_map(|p| p.strip_prefix("min_id=").map(str::to_owned))
        })
        .collect()
}

#[tokio::test]
async fn a_hashtag_timeline_is_read_back_an_hour_then_forward_from_its_cursor_across_restarts() {
    let (fake, addr) = fake_server(timeline()).await;
    let h = Harness::new(&format!(
        "kind = \"mastodon\"\nurl = \"http://{addr}\"\nhashtags = [\"#MelodiaDown\"]\ninclude = [\"melodia\"]\ntoken = \"t0ken\""
    ))
    .await;
    let mut poller = h.poller();

    // First round: the newest page (minutes 0–39), then back from its oldest (40–79), which
    // reaches past the hour: two pages, 80 statuses.
    let r = poller.round().await.unwrap();
    let seen = fake.log.take();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0]
            .uri
            .starts_with("/api/v1/timelines/tag/melodiadown?limit=40"),
        "{}",
        seen[0].uri
    );
    assert!(seen[1].uri.ends_with("&max_id=1060"), "{}", seen[1].uri);
    assert_eq!(seen[0].headers["authorization"], "Bearer t0ken");
    assert_eq!(r.fetched, 80);
    // ids 1020..=1099: 27 about the album (i % 3 == 0), one boost, one copy of another's words
    assert_eq!(dropped(&r, "irrelevant"), 27);
    assert_eq!(dropped(&r, "repost"), 1);
    assert_eq!(dropped(&r, "duplicate"), 1);
    assert_eq!(r.stored, 80 - 27 - 2);
    assert_eq!(h.stored().await, r.stored);
    // "can't log in": each kept post is classified by the service's problem kinds.
    let kinds = h
        .store
        .signal_kinds("melodia", 0, NOW + 60_000)
        .await
        .unwrap();
    assert_eq!(
        kinds
            .iter()
            .map(|k| (k.kind.as_deref(), k.count))
            .collect::<Vec<_>>(),
        [(Some("login"), 51)]
    );

    // 50 new statuses: forward from the cursor, 40 then 10.
    {
        let mut all = fake.statuses.lock().unwrap();
        for i in 0..50u64 {
            all.push(status(1100 + i, 0, &format!("Melodia no funciona ({i})")));
        }
    }
    let r = poller.round().await.unwrap();
    assert_eq!(min_ids(&fake.log.take()), ["1099", "1139"]);
    assert_eq!((r.fetched, r.stored), (50, 50));

    // A restarted node reads its cursor from the store: nothing new, one request.
    let mut restarted = h.poller();
    let r = restarted.round().await.unwrap();
    assert_eq!(min_ids(&fake.log.take()), ["1149"]);
    assert_eq!((r.fetched, r.stored), (0, 0));
    assert_eq!(h.stored().await, 51 + 50);
    assert_eq!(h.posts("kept"), 101);
    assert_eq!(h.requests("ok"), 5);
}

#[tokio::test]
async fn search_and_hashtag_finding_one_status_store_it_once() {
    let (fake, addr) = fake_server(vec![
        status(500, 3, "#MelodiaDown since 8 — erro ao entrar"),
        status(501, 2, "Melodia ne marche pas"),
    ])
    .await;
    let h = Harness::new(&format!(
        "kind = \"mastodon\"\nurl = \"http://{addr}\"\nhashtags = [\"MelodiaDown\"]\nsearch = \"melodia\""
    ))
    .await;
    let r = h.poller().round().await.unwrap();
    let uris: Vec<String> = fake.log.take().into_iter().map(|s| s.uri).collect();
    assert!(
        uris[1].starts_with("/api/v2/search?q=melodia&type=statuses"),
        "{uris:?}"
    );
    assert_eq!(r.fetched, 4);
    assert_eq!(dropped(&r, "seen"), 2);
    assert_eq!(h.stored().await, 2);
}

#[tokio::test]
async fn a_spent_quota_and_retry_after_hold_the_next_requests() {
    let (fake, addr) = fake_server(timeline()).await;
    let h = Harness::new(&format!(
        "kind = \"mastodon\"\nurl = \"http://{addr}\"\nhashtags = [\"MelodiaDown\"]"
    ))
    .await;
    let mut poller = h.poller();

    // The answer says no requests remain until two minutes from now: the round's own pages
    // still go (the quota is the source's business), the next round waits without asking.
    *fake.mode.lock().unwrap() = Mode::QuotaSpent;
    poller.round().await.unwrap();
    fake.log.take();
    match poller.round().await {
        Err(PollError::RateLimited(d)) => {
            assert!(
                d > Duration::from_secs(100) && d <= Duration::from_secs(120),
                "{d:?}"
            )
        }
        other => panic!("expected a wait: {other:?}"),
    }
    assert!(
        fake.log.take().is_empty(),
        "no request while the quota is spent"
    );

    // 429 with Retry-After: 1 — nothing is asked for a second, then polling resumes.
    let mut poller = h.poller();
    *fake.mode.lock().unwrap() = Mode::TooMany;
    assert!(
        matches!(poller.round().await, Err(PollError::RateLimited(d)) if d == Duration::from_secs(1))
    );
    assert!(matches!(
        poller.round().await,
        Err(PollError::RateLimited(_))
    ));
    assert_eq!(fake.log.take().len(), 1);
    *fake.mode.lock().unwrap() = Mode::Normal;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    poller.round().await.unwrap();
    assert_eq!(h.requests("rate_limited"), 1);
}

#[tokio::test]
async fn a_malformed_page_is_counted_and_the_poller_keeps_its_place() {
    let (fake, addr) = fake_server(timeline()).await;
    let h = Harness::new(&format!(
        "kind = \"mastodon\"\nurl = \"http://{addr}\"\nhashtags = [\"MelodiaDown\"]"
    ))
    .await;
    let mut poller = h.poller();
    poller.round().await.unwrap();
    let before = h.stored().await;
    fake.log.take();

    *fake.mode.lock().unwrap() = Mode::Garbage;
    let e = poller.round().await.unwrap_err();
    assert!(matches!(e, PollError::Malformed(_)), "{e}");
    assert!(e.to_string().contains("statuses"), "{e}");
    assert_eq!(h.garbage(), 1);

    // Back to sense: on from the same cursor, nothing lost or doubled.
    *fake.mode.lock().unwrap() = Mode::Normal;
    fake.statuses
        .lock()
        .unwrap()
        .push(status(2000, 0, "#MelodiaDown again, no funciona"));
    let r = poller.round().await.unwrap();
    assert_eq!(min_ids(&fake.log.take()), ["1099", "1099"]);
    assert_eq!(r.stored, 1);
    assert_eq!(h.stored().await, before + 1);
}

#[tokio::test]
async fn a_source_that_hangs_costs_one_timeout() {
    let (fake, addr) = fake_server(timeline()).await;
    *fake.mode.lock().unwrap() = Mode::Hang;
    let h = Harness::new(&format!(
        "kind = \"mastodon\"\nurl = \"http://{addr}\"\nhashtags = [\"MelodiaDown\"]\ntimeout = \"1s\""
    ))
    .await;
    let started = Instant::now();
    let e = h.poller().round().await.unwrap_err();
    assert!(matches!(e, PollError::Timeout(_)), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(h.requests("timeout"), 1);
}
