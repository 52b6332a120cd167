//! Crowd reports: accepted, counted once, limited, and refused clearly when wrong.

use crate::helpers::*;
use downbeat_store::testing;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn a_report_is_acknowledged_counted_and_broken_down_on_every_backend() {
    for store in testing::all().await {
        let name = store.name;
        let app = spawn_with(store, "").await;
        let r = app
            .report(
                "melodia",
                json!({"problem": "login", "platform": "ios", "country": "gb", "city": " London "}),
                "198.51.100.1",
            )
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{name}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["counted"], json!(true), "{name}");
        assert_eq!(body["problem"], json!("login"), "{name}");
        let r = app
            .report(
                "melodia",
                json!({"problem": "playback", "platform": "web"}),
                "198.51.100.2",
            )
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{name}");
        let s = app.summary("60m").await;
        assert_eq!(s["total"], json!(2), "{name}: {s}");
        assert_eq!(
            s["by_problem"],
            json!({"login": 1, "playback": 1}),
            "{name}"
        );
        assert_eq!(s["by_platform"], json!({"ios": 1, "web": 1}), "{name}");
        assert_eq!(s["by_country"], json!({"GB": 1}), "{name}");
        app.stop().await;
    }
}

#[tokio::test]
async fn one_client_counts_once_per_dedupe_window() {
    let app = spawn_app().await;
    assert!(app.report_counted("login", "192.0.2.77").await);
    assert!(!app.report_counted("login", "192.0.2.77").await);
    assert!(
        !app.report_counted("playback", "192.0.2.77").await,
        "another problem from the same client"
    );
    assert!(
        app.report_counted("login", "192.0.2.78").await,
        "a neighbour counts on its own"
    );
    assert_eq!(app.summary("60m").await["total"], json!(2));
    // the same client, once the 15-minute window has passed
    app.clock.advance(Duration::from_secs(15 * 60 + 1));
    assert!(app.report_counted("login", "192.0.2.77").await);
    assert_eq!(app.summary("60m").await["total"], json!(3));
    // a client counts once per service, not once overall
    let r = app
        .report("quiet", json!({"problem": "podcasts"}), "192.0.2.77")
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["counted"], json!(true));
    app.stop().await;
}

#[tokio::test]
async fn the_dedupe_window_survives_a_restart() {
    let app = spawn_app().await;
    assert!(app.report_counted("login", "192.0.2.10").await);
    let (store, clock) = app.stop().await;
    let app = spawn_on(store, "", clock).await;
    assert!(
        !app.report_counted("login", "192.0.2.10").await,
        "restart must not count the client again"
    );
    assert_eq!(app.summary("60m").await["total"], json!(1));
    app.stop().await;
}

#[tokio::test]
async fn a_flood_from_one_address_gets_429_with_retry_after() {
    let app = spawn_with(
        testing::sqlite(),
        "[reports]\nrate_limit_burst = 3\nrate_limit_per_minute = 6\n",
    )
    .await;
    for _ in 0..3 {
        let r = app
            .report("melodia", json!({"problem": "login"}), "203.0.113.5")
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    let r = app
        .report("melodia", json!({"problem": "login"}), "203.0.113.5")
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry), "Retry-After {retry}");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("too many"),
        "{body}"
    );
    // others are not held back by one flooding address
    let r = app
        .report("melodia", json!({"problem": "login"}), "203.0.113.6")
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(app.summary("60m").await["total"], json!(2));
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"downbeat_reports_rejected_total{reason="rate_limited"} 1"#),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    // No trusted proxies: every request comes from 127.0.0.1, whatever it claims.
    let clock = std::sync::Arc::new(downbeat_domain::ManualClock::new(jiff::Timestamp::now()));
    let app = spawn_raw(
        testing::sqlite(),
        "[[service]]\nid = \"melodia\"\nname = \"Melodia\"\n",
        clock,
    )
    .await;
    let mut counted = 0;
    for i in 0..3 {
        counted += app
            .report_counted("login", &format!("198.51.100.{i}"))
            .await as u32;
    }
    assert_eq!(
        counted, 1,
        "spoofed X-Forwarded-For must not make three clients"
    );
    app.stop().await;
}

/// Any web page can make its visitors' browsers post a form (or `text/plain`) here without
/// asking; JSON needs a CORS preflight first, which no write route answers. So a write is
/// JSON or nothing (was: a form from `Origin: https://evil.example` was accepted and
/// counted).
#[tokio::test]
async fn form_posts_to_the_json_api_are_refused_whoever_sends_them() {
    let app = spawn_app().await;
    let url = app.url("/api/v1/services/melodia/reports");
    for (i, (ct, body)) in [
        (
            "application/x-www-form-urlencoded",
            "problem=playlists&platform=&country=DE&city=M%C3%BCnchen",
        ),
        ("multipart/form-data; boundary=x", "--x--"),
        ("text/plain", r#"{"problem": "login"}"#),
    ]
    .into_iter()
    .enumerate()
    {
        for origin in [Some("https://evil.example"), None] {
            let mut req = app
                .client
                .post(&url)
                .header("x-forwarded-for", format!("192.0.2.{}", 200 + i))
                .header("content-type", ct)
                .body(body);
            if let Some(o) = origin {
                req = req
                    .header("origin", o)
                    .header("sec-fetch-site", "cross-site");
            }
            let r = req.send().await.unwrap();
            assert_eq!(
                r.status(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{ct} {origin:?}"
            );
            assert!(
                r.headers().get("access-control-allow-origin").is_none(),
                "{ct}"
            );
            let v: Value = r.json().await.unwrap();
            let err = v["error"].as_str().unwrap();
            assert!(
                err.contains("Content-Type must be application/json"),
                "{ct}: {err}"
            );
        }
    }
    assert_eq!(
        app.summary("60m").await["total"],
        json!(0),
        "nothing counted"
    );
    // JSON, with a charset, is the way in.
    let r = app
        .client
        .post(&url)
        .header("x-forwarded-for", "192.0.2.210")
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"problem": "playlists", "country": "DE", "city": "München"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let s = app.summary("60m").await;
    assert_eq!(s["by_problem"], json!({"playlists": 1}));
    assert_eq!(s["by_country"], json!({"DE": 1}));
    app.stop().await;
}

/// A browser asks before a cross-site JSON write (a CORS preflight); no write route says
/// yes, so the browser never sends it.
#[tokio::test]
async fn write_routes_answer_no_cors_preflight() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/services/melodia/reports",
        "/api/v1/services/melodia/subscriptions",
        "/api/v1/services/melodia/incidents",
        "/api/v1/agent/results",
        "/s/melodia/report",
    ] {
        let r = app
            .client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        assert!(!r.status().is_success(), "{path}: {}", r.status());
        let allow: Vec<&str> = r
            .headers()
            .keys()
            .map(|k| k.as_str())
            .filter(|k| k.starts_with("access-control-"))
            .collect();
        assert!(allow.is_empty(), "{path}: {allow:?}");
    }
    app.stop().await;
}

/// (name, path, content type, body, expected status, words the error must contain)
type BadCase = (
    &'static str,
    &'static str,
    &'static str,
    Vec<u8>,
    u16,
    &'static [&'static str],
);

#[tokio::test]
async fn bad_input_gets_a_4xx_json_error_naming_what_is_wrong() {
    let app = spawn_app().await;
    let reports = "/api/v1/services/melodia/reports";
    let json_ct = "application/json";
    let cases: Vec<BadCase> = vec![
        (
            "unknown service",
            "/api/v1/services/spotify/reports",
            json_ct,
            br#"{"problem":"login"}"#.to_vec(),
            404,
            &["unknown service", "spotify"],
        ),
        (
            "malformed JSON",
            reports,
            json_ct,
            br#"{"problem": "#.to_vec(),
            400,
            &["invalid JSON"],
        ),
        (
            "empty body",
            reports,
            json_ct,
            b"".to_vec(),
            400,
            &["invalid JSON"],
        ),
        (
            "array",
            reports,
            json_ct,
            b"[1,2,3]".to_vec(),
            400,
            &["object"],
        ),
        (
            "wrong type",
            reports,
            json_ct,
            br#"{"problem": 7}"#.to_vec(),
            400,
            &["problem", "integer"],
        ),
        (
            "missing problem",
            reports,
            json_ct,
            br#"{"platform": "ios"}"#.to_vec(),
            400,
            &["problem"],
        ),
        (
            "unknown field",
            reports,
            json_ct,
            br#"{"problem": "login", "mood": "sad"}"#.to_vec(),
            400,
            &["mood"],
        ),
        (
            "unknown problem",
            reports,
            json_ct,
            br#"{"problem": "teleportation"}"#.to_vec(),
            422,
            &["problem", "teleportation", "login"],
        ),
        (
            "problem not offered",
            "/api/v1/services/quiet/reports",
            json_ct,
            br#"{"problem": "playback"}"#.to_vec(),
            422,
            &["problem", "playback"],
        ),
        (
            "unknown platform",
            reports,
            json_ct,
            br#"{"problem": "login", "platform": "toaster"}"#.to_vec(),
            422,
            &["platform", "toaster"],
        ),
        (
            "bad country",
            reports,
            json_ct,
            br#"{"problem": "login", "country": "XX1"}"#.to_vec(),
            422,
            &["country", "ISO 3166"],
        ),
        (
            "unassigned country",
            reports,
            json_ct,
            br#"{"problem": "login", "country": "XX"}"#.to_vec(),
            422,
            &["country"],
        ),
        (
            "long city",
            reports,
            json_ct,
            format!(r#"{{"problem": "login", "city": "{}"}}"#, "a".repeat(5000)).into_bytes(),
            422,
            &["city", "at most"],
        ),
        (
            "control char in city",
            reports,
            json_ct,
            br#"{"problem": "login", "city": "Lon\u0000don"}"#.to_vec(),
            422,
            &["city", "control"],
        ),
        (
            "long message",
            reports,
            json_ct,
            format!(
                r#"{{"problem": "login", "message": "{}"}}"#,
                "é".repeat(141)
            )
            .into_bytes(),
            422,
            &["message", "at most 140"],
        ),
        (
            "control char in message",
            reports,
            json_ct,
            br#"{"problem": "login", "message": "Something\u0007 went wrong"}"#.to_vec(),
            422,
            &["message", "control"],
        ),
        (
            "invalid UTF-8",
            reports,
            json_ct,
            b"\xff\xfe{\"problem\":\"login\"}".to_vec(),
            400,
            &["invalid JSON"],
        ),
        (
            "too large",
            reports,
            json_ct,
            format!(
                r#"{{"problem": "login", "x": "{}"}}"#,
                "b".repeat(2_000_000)
            )
            .into_bytes(),
            413,
            &["larger than"],
        ),
        (
            "wrong content type",
            reports,
            "text/plain",
            b"problem=login".to_vec(),
            415,
            &["Content-Type"],
        ),
        (
            "no content type",
            reports,
            "",
            br#"{"problem":"login"}"#.to_vec(),
            415,
            &["Content-Type"],
        ),
        (
            "a form (the API takes JSON only)",
            reports,
            "application/x-www-form-urlencoded",
            b"problem=login&colour=red".to_vec(),
            415,
            &["application/json"],
        ),
        (
            "unknown field",
            reports,
            json_ct,
            br#"{"problem":"login","colour":"red"}"#.to_vec(),
            400,
            &["colour"],
        ),
    ];
    for (i, (name, path, ct, body, want, words)) in cases.into_iter().enumerate() {
        let mut req = app
            .client
            .post(app.url(path))
            .header("x-forwarded-for", format!("198.51.100.{}", i + 1))
            .body(body);
        if !ct.is_empty() {
            req = req.header("content-type", ct);
        }
        let r = req.send().await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.status().as_u16(), want, "{name}");
        let text = r.text().await.unwrap();
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{name}: body is not JSON: {text}"));
        let err = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no error string: {v}"));
        for w in words {
            assert!(
                err.contains(w),
                "{name}: error {err:?} should mention {w:?}"
            );
        }
    }
    // nothing bad was counted, and the server is fine
    assert_eq!(app.summary("60m").await["total"], json!(0));
    let (s, _) = app.get_json("/healthz").await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_commits_every_acknowledged_report() {
    let app = spawn_app().await;
    let acks = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..300u32 {
        let acks = acks.clone();
        let client = app.client.clone();
        let url = app.url("/api/v1/services/melodia/reports");
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .header("x-forwarded-for", format!("10.9.{}.{}", i / 256, i % 256))
                .json(&json!({"problem": "login"}))
                .send()
                .await;
            let ok = matches!(r, Ok(r) if r.status() == StatusCode::ACCEPTED);
            acks.fetch_add(ok as u64, std::sync::atomic::Ordering::SeqCst);
            ok
        }));
    }
    // shut down in the middle of the stream: once some, but not all, are acknowledged
    while acks.load(std::sync::atomic::Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let (store, clock) = app.stop().await;
    let mut acked = 0;
    for t in tasks {
        acked += t.await.unwrap() as u64;
    }
    let app = spawn_on(store, "", clock).await;
    let total = app.summary("60m").await["total"].as_u64().unwrap();
    assert!(total >= acked, "{acked} acknowledged but {total} stored");
    assert!(
        acked > 0,
        "some reports should have been acknowledged before shutdown"
    );
    app.stop().await;
}
