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
