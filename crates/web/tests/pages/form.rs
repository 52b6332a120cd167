//! The report form: a plain POST, guesses from the request, the thank-you view with the
//! count, and errors shown on the form again (4xx, never 500).

use crate::helpers::*;

/// Form fields as sent.
type Fields<'a> = &'a [(&'a str, &'a str)];

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_report_is_thanked_with_the_count_of_others() {
    let app = spawn_app().await;
    let auto = [
        ("problem", "login"),
        ("platform", "auto"),
        ("country", "auto"),
        ("city", ""),
    ];
    let r = app
        .post_form(
            "melodia",
            &auto,
            &[
                ("x-forwarded-for", "10.0.0.1"),
                ("user-agent", IPHONE),
                ("accept-language", "en-GB,en;q=0.8"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    assert!(html.contains("Thanks: your report counts."), "{html}");
    assert!(
        html.contains("You are the first to report Login problems with Melodia in the last hour."),
        "{html}"
    );
    assert!(
        html.contains("Device: iOS app")
            && html.contains("Country: United Kingdom")
            && html.contains("City: not given")
    );

    let chosen = [
        ("problem", "login"),
        ("platform", "web"),
        ("country", "germany"),
        ("city", "Berlin"),
    ];
    let r = app
        .post_form(
            "melodia",
            &chosen,
            &[("x-forwarded-for", "10.0.1.1"), ("user-agent", IPHONE)],
        )
        .await;
    let html = r.text().await.unwrap();
    assert!(
        html.contains("You and 1 other reported Login problems"),
        "{html}"
    );
    assert!(
        html.contains("Device: Web player")
            && html.contains("Country: Germany")
            && html.contains("City: Berlin")
    );

    // The same client again: accepted, not counted, and told so.
    let r = app
        .post_form("melodia", &chosen, &[("x-forwarded-for", "10.0.1.1")])
        .await;
    let html = r.text().await.unwrap();
    assert!(
        html.contains("you already reported a problem with Melodia"),
        "{html}"
    );
    assert!(html.contains("2 people reported Login problems"), "{html}");

    // Typed names and codes, and "none".
    for (typed, shown) in [
        ("the Netherlands", "Netherlands"),
        ("UK", "United Kingdom"),
        ("jp", "Japan"),
        ("none", "not given"),
    ] {
        let r = app
            .post_form(
                "melodia",
                &[("problem", "search"), ("country", typed)],
                &[
                    ("x-forwarded-for", "10.0.9.1"),
                    ("accept-language", "de-DE"),
                ],
            )
            .await;
        let html = r.text().await.unwrap();
        assert!(
            html.contains(&format!("Country: {shown}")),
            "{typed}: {html}"
        );
    }

    // Nothing to guess from: the report goes in without platform and country.
    let r = app
        .post_form("melodia", &auto, &[("x-forwarded-for", "10.0.2.1")])
        .await;
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Device: not given") && html.contains("Country: not given"),
        "{html}"
    );

    // Counted: three clients above, one for the typed countries (the same client after that).
    app.pages.refresh().await;
    let page = app.page("/s/melodia").await;
    assert!(
        page.contains("<span id=\"reports-hour\">4</span>"),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_forms_come_back_with_the_error() {
    let app = spawn_app().await;
    let cases: [(Fields, u16, &str); 4] = [
        (&[("problem", "teleport")], 422, "unknown problem kind"),
        (
            &[("problem", "login"), ("country", "XX")],
            422,
            "no country is called &#34;XX&#34;",
        ),
        (
            &[("problem", "login"), ("platform", "toaster")],
            422,
            "platform: unknown platform",
        ),
        (&[("platform", "ios")], 400, "invalid form body"),
    ];
    for (i, (form, status, words)) in cases.iter().enumerate() {
        let ip = format!("10.5.{i}.1");
        let r = app
            .post_form("melodia", form, &[("x-forwarded-for", &ip)])
            .await;
        assert_eq!(r.status().as_u16(), *status, "{form:?}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("role=\"alert\"") && html.contains(words),
            "{form:?}: {html}"
        );
        assert!(
            html.contains("<form class=\"report\" method=\"post\""),
            "the form is shown again"
        );
    }
    // The visitor's choices survive the error.
    let r = app
        .post_form(
            "melodia",
            &[
                ("problem", "nope"),
                ("platform", "android"),
                ("country", "FR"),
                ("city", "Lyon"),
            ],
            &[("x-forwarded-for", "10.6.0.1")],
        )
        .await;
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<option value=\"android\" selected>")
            && html.contains("autocomplete=\"country-name\" value=\"FR\"")
    );
    assert!(html.contains("value=\"Lyon\""));

    // What the error says: too long, or bytes that are not UTF-8 (never stored as
    // replacement characters), each named.
    let long = "é".repeat(141);
    let r = app
        .post_form(
            "melodia",
            &[("problem", "login"), ("message", &long)],
            &[("x-forwarded-for", "10.6.1.1")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("message: must be at most 140 characters")
    );
    let r = app
        .client
        .post(app.url("/s/melodia/report"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "10.6.2.1")
        .body("problem=login&message=Something+went+wrong%FF%FE")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("message: is not valid UTF-8 text"), "{html}");

    let big = "x".repeat(20_000);
    let r = app
        .post_form(
            "melodia",
            &[("problem", "login"), ("city", &big)],
            &[("x-forwarded-for", "10.7.0.1")],
        )
        .await;
    assert_eq!(r.status(), 413);

    // The rate limit (10 at once per address) answers 429 with Retry-After, on the form.
    let mut last = 0;
    for _ in 0..12 {
        let r = app
            .post_form(
                "melodia",
                &[("problem", "login")],
                &[("x-forwarded-for", "10.8.0.1")],
            )
            .await;
        last = r.status().as_u16();
        if last == 429 {
            assert!(r.headers().contains_key("retry-after"));
            assert!(r.text().await.unwrap().contains("Please try again in"));
            break;
        }
    }
    assert_eq!(last, 429);
    let r = app.post_form("nobody", &[("problem", "login")], &[]).await;
    assert_eq!(r.status(), 404);
    app.stop().await;
}

/// The counted reports of the last hour, from the API.
async fn counted(app: &TestApp) -> u64 {
    let (_, v) = app
        .get_json("/api/v1/services/melodia/summary?window=60m")
        .await;
    v["total"].as_u64().expect("total")
}

/// The token in a form the answer shows again.
fn token_in(html: &str) -> &str {
    let rest = html
        .split("name=\"form_token\" value=\"")
        .nth(1)
        .expect("a form token");
    rest.split('"').next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_another_site_makes_browsers_send_are_refused() {
    let app = spawn_app().await;
    // A forger can read the public page and its token; the browser still says where the
    // post came from.
    let token = app
        .form_token("melodia")
        .await
        .expect("the page has a token");
    let fields = [("problem", "login"), ("form_token", token.as_str())];
    let cases: [(&str, Fields, &str); 4] = [
        (
            "Origin of another site",
            &[("origin", "https://evil.example")],
            "sent from another site (https://evil.example)",
        ),
        (
            "Sec-Fetch-Site: cross-site",
            &[("sec-fetch-site", "cross-site")],
            "sent from another site, not from this page",
        ),
        (
            "cross-site even with our Origin",
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://evil.example"),
            ],
            "sent from another site (https://evil.example)",
        ),
        (
            "Origin: null",
            &[("origin", "null")],
            "does not say where it is (Origin: null)",
        ),
    ];
    for (i, (name, headers, words)) in cases.into_iter().enumerate() {
        let ip = format!("10.40.{i}.1");
        let mut headers = headers.to_vec();
        headers.push(("x-forwarded-for", &ip));
        let r = app.post_form_raw("melodia", &fields, &headers).await;
        assert_eq!(r.status(), 403, "{name}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{name}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("role=\"alert\"") && html.contains(words),
            "{name}: {html}"
        );
        assert!(
            html.contains("<form class=\"report\" method=\"post\""),
            "{name}: the form is shown, for a visitor who meant to report"
        );
    }
    // Without the page's token: a blind post, a made-up one, one of this hour not signed here.
    let hour = token.split('.').next().unwrap();
    let unsigned = format!("{hour}.{}", "0".repeat(32));
    for (i, bad) in [None, Some("garbage"), Some(unsigned.as_str())]
        .into_iter()
        .enumerate()
    {
        let ip = format!("10.41.{i}.1");
        let mut fields = vec![("problem", "login")];
        fields.extend(bad.map(|t| ("form_token", t)));
        let r = app
            .post_form_raw("melodia", &fields, &[("x-forwarded-for", &ip)])
            .await;
        assert_eq!(r.status(), 403, "{bad:?}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("did not come from this site&#39;s form")
                && html.contains("form token is missing or wrong"),
            "{bad:?}: {html}"
        );
    }
    assert_eq!(counted(&app).await, 0, "nothing refused was counted");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sites_own_form_works_behind_a_proxy_and_without_origin() {
    let app = spawn_app().await;
    // The token is in the one cached page: the same for every visitor, and no cookie.
    let first = app.get("/s/melodia").await;
    assert!(first.headers().get("set-cookie").is_none());
    let token = app.form_token("melodia").await.unwrap();
    assert_eq!(token_in(&first.text().await.unwrap()), token);
    let etag = app.get("/s/melodia").await.headers()["etag"].clone();
    let again = app
        .get_with("/s/melodia", &[("if-none-match", etag.to_str().unwrap())])
        .await;
    assert_eq!(again.status(), 304, "the token does not break revalidation");

    let own = app.url("");
    let fields = [("problem", "login"), ("form_token", token.as_str())];
    let cases: [(&str, Fields); 5] = [
        ("our own Origin", &[("origin", own.as_str())]),
        // A TLS proxy on loopback (a trusted proxy here) forwards the public host.
        (
            "behind a proxy",
            &[
                ("x-forwarded-host", "status.example"),
                ("x-forwarded-proto", "https"),
                ("origin", "https://status.example"),
            ],
        ),
        // A proxy that forwards no host: the browser vouches with Sec-Fetch-Site.
        (
            "same-origin through a proxy that rewrites Host",
            &[
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://status.example"),
            ],
        ),
        ("no Origin at all (curl, old browsers)", &[]),
        ("typed or bookmarked", &[("sec-fetch-site", "none")]),
    ];
    for (i, (name, headers)) in cases.into_iter().enumerate() {
        let ip = format!("10.42.{i}.1");
        let mut headers = headers.to_vec();
        headers.push(("x-forwarded-for", &ip));
        let r = app.post_form_raw("melodia", &fields, &headers).await;
        assert_eq!(r.status(), 200, "{name}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("Thanks: your report counts."),
            "{name}: {html}"
        );
    }
    assert_eq!(counted(&app).await, 5);

    // A page left open three hours: refused, with a fresh form that works.
    app.clock.advance(std::time::Duration::from_secs(3 * 3600));
    app.pages.refresh().await;
    let r = app
        .post_form_raw(
            "melodia",
            &[
                ("problem", "login"),
                ("form_token", &token),
                ("city", "Leeds"),
            ],
            &[("x-forwarded-for", "10.43.0.1"), ("origin", &own)],
        )
        .await;
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("form token has expired"), "{html}");
    assert!(
        html.contains("value=\"Leeds\""),
        "the visitor's choices stay"
    );
    let fresh = token_in(&html).to_owned();
    assert_ne!(fresh, token);
    let r = app
        .post_form_raw(
            "melodia",
            &[("problem", "login"), ("form_token", &fresh)],
            &[("x-forwarded-for", "10.43.0.1"), ("origin", &own)],
        )
        .await;
    assert_eq!(r.status(), 200);
    app.stop().await;
}
