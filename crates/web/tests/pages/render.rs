//! What the pages say in each state: no data, an outage, regional problems, maintenance;
//! hostile operator strings shown escaped.

use crate::helpers::*;
use askama::Template;
use downbeat_crowd::{CrowdStatus, SeriesStatus};
use downbeat_domain::{Clock, ComponentState, CountryCode, Verdict};
use downbeat_web::model::PageModel;
use downbeat_web::views::ServicePage;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_before_any_report_say_so_honestly() {
    let app = spawn_app().await;
    let html = app.page("/s/melodia").await;
    assert!(html.contains("No current problems at Melodia"), "{html}");
    assert!(html.contains("<svg class=\"chart\""), "no inline chart");
    assert!(html.contains("<svg class=\"map\""), "no inline map");
    assert!(html.contains("method=\"post\" action=\"/s/melodia/report\""));
    assert!(html.contains("No reports in the last 24 hours."));
    assert!(html.contains("No usual level is known yet."));
    assert!(html.contains("Login and accounts") && html.contains("Operational"));
    assert!(html.contains("Uptime, last 90 days: no data yet"));
    assert!(html.contains("No open incidents."));
    assert!(html.contains("No maintenance scheduled."));
    assert!(html.contains("Log out and back in, then restart the app."));
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));

    let index = app.page("/").await;
    assert!(index.contains("href=\"/s/melodia\">Melodia</a>"), "{index}");
    assert!(index.contains("All systems operational"));
    let found = app.page("/?q=MELO").await;
    assert!(found.contains("Services matching “MELO”") && found.contains("/s/melodia"));
    let none = app.page("/?q=nothing-like-it").await;
    assert!(none.contains("No service matches.") && !none.contains("href=\"/s/melodia\""));

    let history = app.page("/s/melodia/incidents").await;
    assert!(history.contains("No incidents reported."));
    for path in [
        "/s/nobody",
        "/s/melodia/incidents/1",
        "/s/nobody/incidents",
        "/s/nobody/badge.svg",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 404, "{path}");
        assert!(
            r.text().await.unwrap().contains("<h1>Not found</h1>"),
            "{path}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_fill_the_chart_breakdowns_and_map() {
    let app = spawn_app().await;
    app.post_many(40, 0, outage).await;
    app.detect().await;
    let html = app.page("/s/melodia").await;
    assert!(
        html.contains("<span id=\"reports-hour\">40</span> reports in the last hour"),
        "{html}"
    );
    assert!(html.contains("40 reports in the last 24 hours"));
    // 70% login, a quarter each platform and country
    assert!(
        html.contains("<span>Login</span>") && html.contains(">70%<"),
        "{html}"
    );
    assert!(html.contains("<span>iOS app</span>") && html.contains(">25%<"));
    assert!(html.contains("<span>United Kingdom</span>"));
    assert!(
        html.contains("most from Germany 25%, United Kingdom 25%, Japan 25%, United States 25%")
    );
    assert!(html.contains("class=\"bars\" d=\"M"), "no bars drawn");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_shows_on_the_page_badge_feed_and_summary() {
    let store = downbeat_store::testing::sqlite();
    let now = jiff::Timestamp::now();
    // Two weeks of about 8 reports a minute, so the detector judges from the first minute.
    let mut csv = String::from("timestamp,count\n");
    let start = now.as_second() / 3600 * 3600 - 14 * 86_400;
    for h in 0..14 * 24 {
        csv.push_str(&format!("{},{}\n", start + h * 3600, 480 + (h % 7) * 3));
    }
    let db = downbeat_store::open(&store.target).await.unwrap();
    downbeat_crowd::seed_from_csv(&*db, "melodia", csv.as_bytes(), now)
        .await
        .unwrap();
    drop(db);
    let app = spawn_with(&config_text(""), store, now).await;
    let t0 = now.as_millisecond() / MINUTE * MINUTE;
    let mut client = 0;
    let mut verdict = String::new();
    for m in 0..9 {
        app.clock.set_ms(t0 + m * MINUTE + 10_000);
        let n = if m < 3 { 8 } else { 150 };
        app.post_many(n, client, if m < 3 { normal } else { outage })
            .await;
        client += n;
        app.detect().await;
        verdict = app
            .app
            .crowd
            .status(&app.app.config.load().services[0])
            .verdict
            .as_str()
            .to_owned();
        if m >= 3 && verdict == "problems" {
            break;
        }
    }
    assert_eq!(verdict, "problems", "the seeded outage was not detected");

    let html = app.page("/s/melodia").await;
    assert!(
        html.contains("User reports indicate problems at Melodia since "),
        "{html}"
    );
    assert!(html.contains("class=\"verdict problems\""));
    assert!(html.contains("class=\"band\""), "no usual range drawn");

    let badge = app.page("/s/melodia/badge.svg").await;
    assert!(
        badge.contains(">problems</text>") && badge.contains("#c62828"),
        "{badge}"
    );

    let feed = app.page("/s/melodia/feed.atom").await;
    let doc = roxmltree::Document::parse(&feed).expect("feed is XML");
    let titles: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("entry"))
        .filter_map(|e| {
            e.children()
                .find(|c| c.has_tag_name("title"))
                .and_then(|t| t.text())
        })
        .collect();
    assert!(
        titles
            .first()
            .is_some_and(|t| t.starts_with("Melodia: problems (was ")),
        "{titles:?}"
    );
    let all = app.page("/feed.atom").await;
    assert!(all.contains("Melodia: problems (was "), "{all}");

    let summary: serde_json::Value = app
        .get("/s/melodia/api/v2/summary.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(summary["crowd"]["verdict"], "problems");
    // The official side says nothing yet: Statuspage's status follows the components.
    assert_eq!(summary["status"]["indicator"], "none");

    let index = app.page("/").await;
    assert!(
        index.contains("<span class=\"dot problems\"></span>Problems"),
        "{index}"
    );
    app.stop().await;
}

/// A model in a given crowd state, rendered directly: the states the detector reaches only
/// after hours of traffic.
fn crowd(verdict: Verdict, hot: Vec<SeriesStatus>) -> Arc<CrowdStatus> {
    Arc::new(CrowdStatus {
        service: "melodia".into(),
        name: "Melodia".into(),
        verdict,
        since: jiff::Timestamp::from_second(1_795_000_000)
            .ok()
            .filter(|_| verdict != Verdict::NoProblems),
        as_of: jiff::Timestamp::from_second(1_795_000_300).ok(),
        observed: 3.0,
        expected: 2.0,
        lower: 0.0,
        upper: 6.0,
        score: 0.1,
        explanation: "Reports at the usual level.".into(),
        breakdown: Default::default(),
        networks: 3,
        hot_series: hot,
        signals: Vec::new(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regional_problems_and_maintenance_render() {
    let app = spawn_app().await;
    let now = jiff::Timestamp::from_second(1_795_000_400).unwrap();
    let mut m: PageModel = (*app.pages.state().model(0)).clone();
    m.crowd = crowd(
        Verdict::NoProblems,
        vec![SeriesStatus {
            series: "country:GB".into(),
            label: "United Kingdom".into(),
            verdict: Verdict::Problems,
            since: jiff::Timestamp::from_second(1_795_000_000).ok(),
            observed: 40.0,
            expected: 2.0,
            score: 0.9,
        }],
    );
    m.regional = vec![downbeat_web::model::Regional {
        country: CountryCode::parse("GB").unwrap(),
        verdict: Verdict::Problems,
        since: jiff::Timestamp::from_second(1_795_000_000).ok(),
    }];
    m.components[1].state = ComponentState::UnderMaintenance;
    let gb = CountryCode::parse("GB").ok();
    let visitor = ServicePage::new(&m, "/a.css", gb, now).render().unwrap();
    assert!(visitor.contains("No current problems at Melodia"));
    assert!(
        visitor.contains("<strong><span class=\"dot problems\"></span>In the United Kingdom: problems since 11:06 UTC</strong>"),
        "{visitor}"
    );
    let everyone = ServicePage::new(&m, "/a.css", None, now).render().unwrap();
    assert!(!everyone.contains("<strong><span class=\"dot problems\">"));
    assert!(
        everyone.contains("Where it differs:")
            && everyone.contains("In the United Kingdom: problems")
    );
    assert!(everyone.contains("<span class=\"dot under_maintenance\"></span>Under maintenance"));
    assert!(
        everyone.contains("<span class=\"dot under_maintenance\"></span>Under maintenance</p>"),
        "the overall official state"
    );

    m.crowd = crowd(Verdict::PossibleProblems, vec![]);
    m.regional.clear();
    let possible = ServicePage::new(&m, "/a.css", gb, now).render().unwrap();
    assert!(
        possible.contains("User reports indicate possible problems at Melodia since 11:06 UTC")
    );
    assert!(!possible.contains("Where it differs"));
    app.stop().await;
}

/// External sources' posts show as a line each, with what they are about, names and labels
/// escaped; a page without sources shows no such section.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_about_the_service_show_per_source() {
    let app = spawn_app().await;
    let now = jiff::Timestamp::from_second(1_795_000_400).unwrap();
    let mut m: PageModel = (*app.pages.state().model(0)).clone();
    let page = ServicePage::new(&m, "/a.css", None, now).render().unwrap();
    assert!(
        !page.contains("Posts about Melodia problems"),
        "no sources, no section"
    );
    let mut c = (*crowd(Verdict::Problems, vec![])).clone();
    let source = |name: &str, last_hour, ratio, kinds| downbeat_crowd::SignalStatus {
        source: "s".into(),
        name: name.into(),
        raises: "corroborate",
        verdict: Verdict::Problems,
        last_hour,
        usual_hour: 28.0,
        ratio,
        kinds,
    };
    let kind = |kind: &str, label: &str, percent| downbeat_crowd::KindShare {
        kind: kind.into(),
        label: label.into(),
        percent,
    };
    c.signals = vec![
        source(
            "Mastodon",
            340,
            Some(12.1),
            vec![
                kind("login", "Login", 45),
                kind("podcasts", "<i>Pods</i>", 15),
            ],
        ),
        source("<b>the forum</b>", 1, None, vec![]),
        source(
            "Bluesky",
            30,
            Some(1.0),
            vec![kind("crash", "App crash", 60)],
        ),
    ];
    m.crowd = Arc::new(c);
    let page = ServicePage::new(&m, "/a.css", None, now).render().unwrap();
    assert!(
        page.contains("<h3>Posts about Melodia problems</h3>"),
        "{page}"
    );
    assert!(
        page.contains(
            "<li>On Mastodon: 340 posts in the last hour, 12× usual — 45% about Login, 15% \
             about &#60;i&#62;Pods&#60;/i&#62;</li>"
        ),
        "{page}"
    );
    assert!(
        page.contains("<li>On Bluesky: 30 posts in the last hour — 60% about App crash</li>"),
        "{page}"
    );
    assert!(
        page.contains("<li>On &#60;b&#62;the forum&#60;/b&#62;: 1 post in the last hour</li>"),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_are_shown_escaped() {
    let app = spawn_with(
        &config_text(EVIL),
        downbeat_store::testing::sqlite(),
        jiff::Timestamp::now(),
    )
    .await;
    let r = app
        .post_form(
            "evil",
            &[
                ("problem", "hack"),
                ("platform", "auto"),
                ("country", "auto"),
                ("city", "<script>alert(4)</script>"),
            ],
            &[("x-forwarded-for", "10.1.1.1")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let thanks = r.text().await.unwrap();
    app.pages.refresh().await;
    let pages = [
        ("/s/evil", app.page("/s/evil").await),
        ("/", app.page("/").await),
        ("/s/evil/incidents", app.page("/s/evil/incidents").await),
        ("/s/evil/badge.svg", app.page("/s/evil/badge.svg").await),
        ("/s/evil/feed.atom", app.page("/s/evil/feed.atom").await),
        ("thanks", thanks),
    ];
    for (path, body) in &pages {
        for raw in [
            // (the page's own <script src="/assets/live-..."> is the one script tag)
            "<script>",
            "<img",
            "<b ",
            "<i>",
            "<u>",
            "onmouseover=alert(3)>",
        ] {
            assert!(!body.contains(raw), "{path} shows {raw} unescaped:\n{body}");
        }
        assert!(
            body.matches("<script").count() <= 1,
            "{path} has a script besides live refresh"
        );
    }
    let page = &pages[0].1;
    assert!(
        page.contains("Evil &#60;script&#62;alert(1)&#60;/script&#62; &#38; Co"),
        "{page}"
    );
    assert!(page.contains("&#60;img src=x onerror=alert(2)&#62;"));
    assert!(page.contains("&#60;b onmouseover=alert(3)&#62;Hack&#60;/b&#62;"));
    assert!(page.contains("&#60;i&#62;Core&#60;/i&#62;"));
    assert!(page.contains("&#34;quoted&#34; &#38; &#60;u&#62;under&#60;/u&#62;"));
    assert!(
        pages[5]
            .1
            .contains("City: &#60;script&#62;alert(4)&#60;/script&#62;"),
        "{}",
        pages[5].1
    );
    roxmltree::Document::parse(&pages[3].1).expect("the badge is XML");
    roxmltree::Document::parse(&pages[4].1).expect("the feed is XML");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_checks_set_component_states() {
    let target = axum::Router::new().route("/ok", axum::routing::get(|| async { "ok" }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, target).await.unwrap() });
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = config_text(&format!(
        r#"
[probes]
failures_to_open = 1
successes_to_close = 1

[[monitor]]
id = "login-port"
service = "melodia"
component = "login"
kind = "tcp"
target = "127.0.0.1:{closed}"
interval = "5s"
timeout = "2s"

[[monitor]]
id = "playback-web"
service = "melodia"
component = "playback"
kind = "http"
target = "http://127.0.0.1:{port}/ok"
interval = "5s"
timeout = "2s"
"#
    ))
    .replace("[server]\n", "[server]\nregion = \"eu-west\"\n");
    let app = spawn_with(
        &config,
        downbeat_store::testing::sqlite(),
        jiff::Timestamp::now(),
    )
    .await;
    // Probes run on real time; keep the manual clock with it so results count as fresh.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let html = loop {
        app.clock.set(jiff::Timestamp::now());
        app.pages.refresh().await;
        let html = app.page("/s/melodia").await;
        if html.contains("Failing") && html.contains("eu-west: passing") {
            break html;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "checks never settled:\n{html}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert!(html.contains("<h3>Checks</h3>"), "{html}");
    assert!(html.contains("login-port (tcp check, login)"));
    assert!(html.contains("Probable cause: "), "{html}");
    assert!(html.contains("<span>Login and accounts</span><span><span class=\"dot major_outage\"></span>Major outage"), "{html}");
    assert!(
        html.contains(
            "<span>Playback</span><span><span class=\"dot operational\"></span>Operational"
        )
    );
    let summary: serde_json::Value = app
        .get("/s/melodia/api/v2/summary.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(summary["status"]["indicator"], "critical");
    assert_eq!(summary["components"][0]["status"], "major_outage");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_from_a_country_with_its_own_outage_see_a_line_for_it() {
    let app = spawn_app().await;
    let t0 = jiff::Timestamp::now().as_millisecond() / MINUTE * MINUTE - 200 * MINUTE;
    let countries = ["US", "DE", "FR", "JP", "GB"];
    let spread = |i: u32| serde_json::json!({"problem": "playback", "platform": "web", "country": countries[(i % 5) as usize]});
    let mut client = 0;
    for m in 0..75 {
        app.clock.set_ms(t0 + m * MINUTE + 10_000);
        app.post_many(20, client, spread).await;
        client += 20;
        downbeat_crowd::run_once(&app.app.crowd, app.clock.now())
            .await
            .unwrap();
    }
    // The United Kingdom only: its usual 4 a minute become 40.
    let mut hot = false;
    for k in 0..8 {
        app.clock.set_ms(t0 + (75 + k) * MINUTE + 10_000);
        app.post_many(16, client, spread).await;
        client += 16;
        app.post_many(
            36,
            client,
            |_| serde_json::json!({"problem": "playback", "platform": "ios", "country": "GB"}),
        )
        .await;
        client += 36;
        app.detect().await;
        if !app.pages.state().model(0).regional.is_empty() {
            hot = true;
            break;
        }
    }
    assert!(hot, "no regional outage detected");
    let gb = app
        .get_with("/s/melodia", &[("accept-language", "en-GB,en;q=0.9")])
        .await;
    assert_eq!(gb.headers()["vary"], "Accept-Encoding, Accept-Language");
    let gb = gb.text().await.unwrap();
    assert!(
        gb.contains("<strong><span class=\"dot problems\"></span>In the United Kingdom: problems since")
            || gb.contains("<strong><span class=\"dot possible_problems\"></span>In the United Kingdom: possible problems since"),
        "{gb}"
    );
    let de = app
        .get_with("/s/melodia", &[("accept-language", "de-DE")])
        .await
        .text()
        .await
        .unwrap();
    assert!(!de.contains("<strong><span class=\"dot"), "{de}");
    assert!(de.contains("Where it differs:") && de.contains("In the United Kingdom:"));
    app.stop().await;
}
