//! Serving from memory: ETags and 304s, content negotiation, cache headers, and a refresh
//! when reports arrive.

use crate::helpers::*;
use std::io::Read;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etag_and_if_none_match_give_304() {
    let app = spawn_app().await;
    for path in [
        "/s/melodia",
        "/",
        "/feed.atom",
        "/s/melodia/badge.svg",
        "/api/v2/summary.json",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=5, stale-while-revalidate=30"
        );
        assert_eq!(r.headers()["vary"], "Accept-Encoding");
        let again = app.get_with(path, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(again.bytes().await.unwrap().is_empty());
        // A tag from a compressed copy names the same page.
        let gz = app.get_with(path, &[("accept-encoding", "gzip")]).await;
        let gz_tag = gz.headers()["etag"].to_str().unwrap().to_owned();
        assert_ne!(
            gz_tag, etag,
            "{path}: one strong tag for two byte sequences"
        );
        let cross = app.get_with(path, &[("if-none-match", &gz_tag)]).await;
        assert_eq!(cross.status(), 304, "{path}");
        let other = app
            .get_with(path, &[("if-none-match", "\"0123456789abcdef\"")])
            .await;
        assert_eq!(other.status(), 200, "{path}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_brotli_are_negotiated_and_decode_to_the_page() {
    let app = spawn_app().await;
    let plain = app.get("/s/melodia").await;
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();

    let gz = app
        .get_with("/s/melodia", &[("accept-encoding", "gzip, deflate")])
        .await;
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let gz = gz.bytes().await.unwrap();
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);

    let br = app
        .get_with("/s/melodia", &[("accept-encoding", "gzip, deflate, br")])
        .await;
    assert_eq!(br.headers()["content-encoding"], "br");
    let br = br.bytes().await.unwrap();
    let mut out = Vec::new();
    brotli::Decompressor::new(&br[..], 4096)
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);
    assert!(br.len() < plain.len() / 2 && gz.len() < plain.len() / 2);

    let refused = app
        .get_with("/s/melodia", &[("accept-encoding", "br;q=0, gzip;q=0")])
        .await;
    assert!(refused.headers().get("content-encoding").is_none());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_reports_change_the_page_after_a_refresh() {
    let app = spawn_app().await;
    let before = app.get("/s/melodia").await;
    let tag = before.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        before
            .text()
            .await
            .unwrap()
            .contains("<span id=\"reports-hour\">0</span>")
    );
    app.post_many(3, 0, outage).await;
    app.pages.refresh().await;
    let after = app.get_with("/s/melodia", &[("if-none-match", &tag)]).await;
    assert_eq!(
        after.status(),
        200,
        "the old tag must not match the new page"
    );
    assert!(
        after
            .text()
            .await
            .unwrap()
            .contains("<span id=\"reports-hour\">3</span>")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stylesheet_is_immutable_under_its_hash() {
    let app = spawn_app().await;
    let html = app.page("/s/melodia").await;
    let start = html.find("/assets/style-").expect("stylesheet link");
    let path = &html[start..start + html[start..].find('"').unwrap()];
    let css = app.get_with(path, &[("accept-encoding", "gzip")]).await;
    assert_eq!(css.status(), 200);
    assert_eq!(
        css.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(css.headers()["content-encoding"], "gzip");
    assert_eq!(app.get("/assets/style-00000000.css").await.status(), 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_refresh_script_is_same_origin_immutable_and_optional() {
    let app = spawn_app().await;
    let html = app.page("/s/melodia").await;
    let start = html
        .find("<script src=\"/assets/live-")
        .expect("script tag")
        + 13;
    let path = &html[start..start + html[start..].find('"').unwrap()];
    assert!(html.contains(&format!("<script src=\"{path}\" defer></script>")));
    let js = app.get(path).await;
    assert_eq!(js.status(), 200);
    assert_eq!(
        js.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let body = js.text().await.unwrap();
    assert!(body.contains("fetch(location.pathname"), "{body}");
    assert!(!body.contains("http"), "no other origin: {body}");
    // What it refreshes is marked on the page; the form is not among it.
    assert_eq!(html.matches(" data-live ").count(), 5);
    assert!(!html[html.find("<form").unwrap()..].starts_with("<form data-live"));
    assert_eq!(app.get("/assets/live-00000000.js").await.status(), 404);
    // Other pages have no script.
    assert!(!app.page("/").await.contains("<script"));
    app.stop().await;
}
