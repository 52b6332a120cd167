//! RSS and Atom feeds: conditional requests, entries seen once, garbage counted.

use super::*;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use downbeat_pollers::PollError;

#[derive(Clone)]
struct Fake {
    /// The feed's body and its version (the ETag).
    feed: Arc<Mutex<(String, u32)>>,
    log: Log,
}

async fn feed(State(f): State<Fake>, uri: Uri, headers: HeaderMap) -> Response {
    f.log.push(&uri, &headers);
    let (body, version) = f.feed.lock().unwrap().clone();
    let etag = format!("\"v{version}\"");
    if headers
        .get("if-none-match")
        .is_some_and(|v| v == etag.as_str())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            ("content-type", "application/atom+xml; charset=utf-8"),
            ("etag", etag.as_str()),
        ],
        body,
    )
        .into_response()
}

/// A Reddit-style search feed (Atom) of `entries` (id, minutes ago, title).
fn atom(entries: &[(&str, i64, &str)]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:media=\"http://search.yahoo.com/mrss/\">\
         <category term=\"melodia\" label=\"r/melodia\"/><id>/r/melodia/search.rss?q=melodia</id><title>melodia search results</title>",
    );
    for (id, minutes, title) in entries {
        xml.push_str(&format!(
            "<entry><author><name>/u/listener</name></author><content type=\"html\">&lt;div class=&quot;md&quot;&gt;&lt;p&gt;{title}&lt;/p&gt;&lt;/div&gt;</content>\
             <id>{id}</id><link href=\"https://reddit.example/r/melodia/comments/{id}/\"/><updated>{}</updated><published>{}</published><title>{title}</title></entry>",
            rfc3339(NOW - minutes * 60_000),
            rfc3339(NOW - minutes * 60_000),
        ));
    }
    xml + "</feed>"
}

async fn fake_server(body: String) -> (Fake, SocketAddr) {
    let fake = Fake {
        feed: Arc::new(Mutex::new((body, 1))),
        log: Log::default(),
    };
    let router = Router::new()
        .route("/r/melodia/search.rss", get(feed))
        .with_state(fake.clone());
    (fake.clone(), serve(router).await)
}

#[tokio::test]
async fn an_unchanged_feed_costs_a_304_and_entries_count_once() {
    let (fake, addr) = fake_server(atom(&[
        ("t3_a", 2, "Is Melodia down right now?"),
        ("t3_b", 5, "Melodia: playlists gone, error"),
        ("t3_c", 9, "Melodia concert review"),
    ]))
    .await;
    let h = Harness::new(&format!(
        "kind = \"feed\"\nurl = \"http://{addr}/r/melodia/search.rss?q=melodia&sort=new\"\ninclude = [\"melodia\"]\nexclude = [\"concert\"]"
    ))
    .await;
    let mut poller = h.poller();
    let r = poller.round().await.unwrap();
    assert_eq!((r.fetched, r.stored, dropped(&r, "excluded")), (3, 2, 1));
    let first = fake.log.take();
    assert_eq!(first[0].uri, "/r/melodia/search.rss?q=melodia&sort=new");
    assert!(first[0].headers.get("if-none-match").is_none());

    // Unchanged: the validator goes with the request, and the answer is a 304.
    let r = poller.round().await.unwrap();
    assert_eq!(r.fetched, 0);
    assert_eq!(fake.log.take()[0].headers["if-none-match"], "\"v1\"");
    assert_eq!(h.requests("not_modified"), 1);

    // A new entry on top of the old ones: only it is new.
    *fake.feed.lock().unwrap() = (
        atom(&[
            ("t3_d", 0, "Melodia não funciona aqui"),
            ("t3_a", 2, "Is Melodia down right now?"),
            ("t3_b", 5, "Melodia: playlists gone, error"),
            ("t3_c", 9, "Melodia concert review"),
        ]),
        2,
    );
    let r = h.poller().round().await.unwrap();
    assert_eq!((r.fetched, r.stored), (1, 1));
    assert_eq!(h.stored().await, 3);
}

#[tokio::test]
async fn a_feed_that_is_not_a_feed_is_counted_and_polled_again() {
    let (fake, addr) = fake_server("<html><body>502 Bad Gateway</body></html>".into()).await;
    let h = Harness::new(&format!(
        "kind = \"feed\"\nurl = \"http://{addr}/r/melodia/search.rss\"\ninclude = [\"melodia\"]"
    ))
    .await;
    let mut poller = h.poller();
    let e = poller.round().await.unwrap_err();
    assert!(
        matches!(e, PollError::Malformed(_)) && e.to_string().contains("not an RSS or Atom feed"),
        "{e}"
    );
    assert_eq!(h.garbage(), 1);

    *fake.feed.lock().unwrap() = (atom(&[("t3_x", 1, "Melodia is down")]), 7);
    let r = poller.round().await.unwrap();
    assert_eq!(r.stored, 1);
}

#[tokio::test]
async fn an_error_status_is_an_error_and_nothing_is_stored() {
    let router = Router::new().route(
        "/feed",
        get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "<rss/>") }),
    );
    let addr = serve(router).await;
    let h = Harness::new(&format!(
        "kind = \"feed\"\nurl = \"http://{addr}/feed\"\ninclude = [\"melodia\"]"
    ))
    .await;
    let e = h.poller().round().await.unwrap_err();
    assert!(matches!(e, PollError::Status { status: 500 }), "{e}");
    assert_eq!(h.requests("status"), 1);
    assert_eq!(h.stored().await, 0);
}

#[tokio::test]
async fn on_two_nodes_one_polls_the_source() {
    let (fake, addr) = fake_server(atom(&[("t3_a", 2, "Is Melodia down right now?")])).await;
    let h = Harness::new(&format!(
        "kind = \"feed\"\nurl = \"http://{addr}/r/melodia/search.rss\"\ninclude = [\"melodia\"]"
    ))
    .await;
    let (mut a, mut b) = (h.poller(), h.poller());
    let r = a.round_if_leader("node-a", 60_000).await.unwrap();
    assert_eq!(r.map(|r| r.stored), Some(1));
    assert!(b.round_if_leader("node-b", 60_000).await.unwrap().is_none());
    assert_eq!(fake.log.take().len(), 1);
    // The lease lapses with its holder: the other node takes the source over, from the
    // saved state (a 304, nothing stored twice).
    h.clock.set_ms(NOW + 61_000);
    assert!(b.round_if_leader("node-b", 60_000).await.unwrap().is_some());
    assert_eq!(fake.log.take()[0].headers["if-none-match"], "\"v1\"");
    assert_eq!(h.stored().await, 1);
}
