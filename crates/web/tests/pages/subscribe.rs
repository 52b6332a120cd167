//! Subscribing by mail from the service page, with a real SMTP sink: the confirmation mail,
//! nothing else until confirmed, notifications with RFC 8058 one-click unsubscribe, and the
//! one-click POST working without cookies or CSRF; bad input answered with the field named.

use crate::helpers::{TestApp, config_text, spawn_with};
use downbeat_domain::event::{Event, IncidentChange, IncidentDraft, Notice};
use downbeat_server::testing::smtp_sink::{Received, SmtpSink};
use downbeat_store::testing;
use reqwest::StatusCode;
use serde_json::json;

async fn app_with_sink(extra: &str) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start(None).await;
    let config = config_text(&format!(
        "[notify]\npublic_url = \"https://status.example\"\n\
         [notify.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"Melodia status <status@melodia.example>\"\n\
         [notify.subscribers]\nper_client_per_hour = 4\n{extra}",
        sink.port()
    ));
    let app = spawn_with(&config, testing::sqlite(), jiff::Timestamp::now()).await;
    (app, sink)
}

async fn subscribe(app: &TestApp, form: &[(&str, &str)], ip: &str) -> (StatusCode, String) {
    let r = app
        .client
        .post(app.url("/s/melodia/subscribe"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", ip)
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(
        r.headers().get("cache-control").unwrap(),
        "no-store",
        "a personal answer"
    );
    (status, r.text().await.unwrap())
}

/// The path of a link in a mail (the public URL is https://status.example).
fn path_of(link: &str) -> String {
    link.strip_prefix("https://status.example")
        .unwrap_or_else(|| panic!("{link} is not under the public URL"))
        .to_owned()
}

fn assert_one_click(m: &Received) -> String {
    let lu = m.header("list-unsubscribe").expect("List-Unsubscribe");
    assert!(
        lu.starts_with("<https://status.example/subscriptions/dbs_")
            && lu.ends_with("/unsubscribe>"),
        "{lu}"
    );
    assert_eq!(
        m.header("list-unsubscribe-post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    lu.trim_start_matches('<').trim_end_matches('>').to_owned()
}

async fn incident(app: &TestApp, seq: usize, components: &[&str]) -> u32 {
    let update = Event::IncidentUpdated(IncidentChange {
        incident: 1,
        seq,
        news: json!({"title": "Login <failing>", "status": "identified", "message": "Found it."})
            .into(),
    });
    let e = Notice::new("melodia", app.clock.now_ms(), update).about(components.iter().copied());
    app.app.notifier.enqueue(e).await.unwrap()
}

#[tokio::test]
async fn a_visitor_subscribes_confirms_hears_and_unsubscribes_in_one_click() {
    let (app, sink) = app_with_sink("").await;
    let page = app.page("/s/melodia").await;
    assert!(
        page.contains(r#"<form class="subscribe" method="post" action="/s/melodia/subscribe">"#),
        "the form is on the page, no script needed"
    );
    assert!(page.contains(r#"name="component" value="login""#));

    let (status, body) = subscribe(
        &app,
        &[("email", " Ana@Example.test "), ("component", "login")],
        "198.51.100.7",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Check your mail"), "{body}");

    let mails = sink.wait_for("ana@example.test", 1).await;
    let confirm = &mails[0];
    assert_eq!(
        confirm.header("subject").as_deref(),
        Some("Confirm your subscription to Melodia status updates")
    );
    assert_one_click(confirm);
    let manage = confirm
        .link("/subscriptions/dbs_")
        .filter(|l| !l.ends_with("/unsubscribe"))
        .expect("a manage link");
    let manage = path_of(&manage);

    // Unconfirmed: nothing else is sent to the address.
    assert_eq!(
        incident(&app, 1, &[]).await,
        0,
        "no delivery for an unconfirmed address"
    );
    // Opening the link (a mail scanner would too) changes nothing.
    let r = app.get(&manage).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers().get("referrer-policy").unwrap(), "no-referrer");
    let html = r.text().await.unwrap();
    assert!(html.contains("Confirm my subscription") && html.contains("Login and accounts"));
    assert_eq!(incident(&app, 2, &[]).await, 0);

    let r = app
        .client
        .post(app.url(&format!("{manage}/confirm")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Confirmed"));

    // Confirmed: login and service-wide incidents reach it; a playback-only one does not.
    assert_eq!(incident(&app, 3, &["login"]).await, 1);
    assert_eq!(incident(&app, 4, &["playback"]).await, 0);
    let draft = Event::IncidentDraft(IncidentDraft {
        incident: 9,
        news: json!({"title": "t"}).into(),
    });
    let draft = Notice::new("melodia", app.clock.now_ms(), draft);
    assert_eq!(
        app.app.notifier.enqueue(draft).await.unwrap(),
        0,
        "drafts are for operators only"
    );
    let mails = sink.wait_for("ana@example.test", 2).await;
    let news = &mails[1];
    assert_eq!(
        news.header("x-downbeat-event-id").as_deref(),
        Some("incident-1-update-3")
    );
    assert_eq!(
        news.header("subject").as_deref(),
        Some("Melodia: Login <failing> (identified)")
    );
    let one_click = assert_one_click(news);
    assert!(
        news.body().contains(&format!("Unsubscribe: {one_click}")),
        "{}",
        news.body()
    );
    assert_ne!(
        path_of(&one_click),
        format!("{manage}/unsubscribe"),
        "a fresh token per mail"
    );

    // RFC 8058: a bare POST, no cookie, no CSRF token.
    let r = reqwest::Client::new()
        .post(app.url(&path_of(&one_click)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Unsubscribed") && html.contains("ana@example.test"),
        "{html}"
    );
    assert_eq!(
        incident(&app, 5, &[]).await,
        0,
        "nothing after unsubscribing"
    );
    // Every link of that subscription is dead now.
    let r = app.get(&manage).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("This link no longer works")
    );
    app.stop().await;
    assert_eq!(sink.mails_to("ana@example.test").len(), 2);
}

#[tokio::test]
async fn asking_again_neither_reveals_nor_repeats() {
    let (app, sink) = app_with_sink("").await;
    for _ in 0..2 {
        let (status, body) = subscribe(&app, &[("email", "bo@example.test")], "198.51.100.8").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    sink.wait_for("bo@example.test", 1).await;
    // One confirmation mail an hour, however often it is asked for.
    let queued = |app: &TestApp| {
        let store = app.app.store.clone();
        async move {
            store
                .deliveries(None, 100)
                .await
                .unwrap()
                .into_iter()
                .filter(|d| d.destination.starts_with("subscriber:"))
                .count()
        }
    };
    assert_eq!(queued(&app).await, 1);
    app.clock.advance(std::time::Duration::from_secs(3601));
    subscribe(&app, &[("email", "bo@example.test")], "198.51.100.9").await;
    sink.wait_for("bo@example.test", 2).await;
    assert_eq!(queued(&app).await, 2);
    app.stop().await;
}

#[tokio::test]
async fn bad_subscriptions_name_the_field_escape_the_input_and_are_rate_limited() {
    let (app, _sink) = app_with_sink("").await;
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    let cases: &[Case] = &[
        (
            &[("email", "")],
            422,
            "Mail address: enter your mail address",
        ),
        (
            &[("email", "<script>alert(1)</script>")],
            422,
            "Mail address: is not a mail address",
        ),
        (
            &[("email", "a@b.example"), ("component", "<nope>")],
            422,
            "Parts: Melodia has no component",
        ),
    ];
    for (i, (form, status, says)) in cases.iter().enumerate() {
        let (s, body) = subscribe(&app, form, &format!("203.0.113.{i}")).await;
        assert_eq!(s.as_u16(), *status, "{form:?}: {body}");
        assert!(body.contains(says), "{form:?}: {body}");
        assert!(
            !body.contains("<script>alert(1)") && !body.contains("\"<nope>"),
            "{body}"
        );
    }
    let (_, body) = subscribe(
        &app,
        &[("email", "<script>alert(1)</script>")],
        "203.0.113.50",
    )
    .await;
    assert!(
        body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "typed value kept, escaped"
    );
    // Four requests an hour per address; the fifth is refused with Retry-After.
    for _ in 0..4 {
        subscribe(&app, &[("email", "c@example.test")], "203.0.113.99").await;
    }
    let r = app
        .client
        .post(app.url("/s/melodia/subscribe"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "203.0.113.99")
        .body("email=c%40example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    assert!(r.text().await.unwrap().contains("try again in"));
    // Junk tokens and unknown services: pages, never a 500.
    for path in [
        "/subscriptions/nope",
        "/subscriptions/dbs_0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
        let r = app
            .client
            .post(app.url(&format!("{path}/unsubscribe")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = app
        .client
        .post(app.url("/s/nobody/subscribe"))
        .body("email=a%40b.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn without_a_relay_there_is_no_form() {
    let app = spawn_with(&config_text(""), testing::sqlite(), jiff::Timestamp::now()).await;
    let page = app.page("/s/melodia").await;
    assert!(
        !page.contains("/subscribe\""),
        "no subscribe form without [notify.smtp]"
    );
    let r = app
        .client
        .post(app.url("/s/melodia/subscribe"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=a%40b.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

/// The same journey in Chromium, through the forms a visitor sees: subscribe from the
/// service page, open the mailed link, confirm, unsubscribe; axe-core on every page and
/// html-validate on each kind of subscription page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_in_chromium_is_accessible_and_valid() {
    let Some(dir) = crate::helpers::node_tools("subscription browser test", true) else {
        return;
    };
    let (app, sink) = app_with_sink("").await;
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut save = |name: &str, body: String| {
        let p = tmp.path().join(format!("{name}.html"));
        std::fs::write(&p, body).unwrap();
        files.push(p.display().to_string());
    };
    save("service-with-form", app.page("/s/melodia").await);
    let (_, error) = subscribe(&app, &[("email", "not a mail")], "198.51.100.60").await;
    save("subscribe-error", error);

    let shots = crate::browser::screenshots().display().to_string();
    let base = app.url("");
    let (ok, text) = crate::browser::run_node(
        &dir,
        &["subscribe.js", "form", &base, &shots, "cy@example.test"],
    );
    assert!(ok, "subscribing in the browser failed:\n{text}");
    let mails = sink.wait_for("cy@example.test", 1).await;
    let manage = path_of(
        &mails[0]
            .link("/subscriptions/dbs_")
            .filter(|l| !l.ends_with("/unsubscribe"))
            .expect("a manage link"),
    );
    save("manage", app.page(&manage).await);
    let (ok, text) =
        crate::browser::run_node(&dir, &["subscribe.js", "manage", &base, &shots, &manage]);
    assert!(ok, "managing in the browser failed:\n{text}");
    assert_eq!(
        app.get(&manage).await.status(),
        StatusCode::NOT_FOUND,
        "unsubscribed in the browser: the link is dead"
    );
    let mut args = vec!["validate.js"];
    args.extend(files.iter().map(String::as_str));
    let (ok, text) = crate::browser::run_node(&dir, &args);
    assert!(ok, "html-validate found errors:\n{text}");
    app.stop().await;
}
