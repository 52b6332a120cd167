//! The crowd side in detail: top cities (folded, shared, escaped) and the chart's usual
//! range per bucket from the detector's seasonal model.

use crate::helpers::*;
use downbeat_domain::Clock;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_cities_are_folded_shared_and_escaped() {
    let app = spawn_app().await;
    // Each row below is sent from 3 clients on 3 networks (the city minimum is 3 networks),
    // so every city is typed from enough networks to be shown.
    let city = |i: u32| match i / 3 {
        0..=2 => json!({"problem": "login", "country": "GB", "city": "London"}),
        3 => json!({"problem": "login", "country": "GB", "city": "london"}),
        4 => json!({"problem": "login", "country": "CA", "city": "London"}),
        5 => json!({"problem": "login", "country": "GB", "city": "<script>alert(5)</script>"}),
        6..=7 => json!({"problem": "login", "country": "FR", "city": "Paris"}),
        // no city: not in the shares
        _ => json!({"problem": "login", "country": "US"}),
    };
    app.post_many(36, 0, city).await;
    app.pages.refresh().await;
    let html = app.page("/s/melodia").await;
    let cities = &html[html.find("<h3>Top cities, last hour</h3>").expect("cities")..];
    let rows: Vec<&str> = cities
        .split("<li class=\"share\"><span>")
        .skip(1)
        .map(|r| r.split("</li>").next().unwrap())
        .collect();
    let row = |label: &str, pct: u32| {
        format!(
            "{label}</span><span class=\"track\"><span class=\"fill\" style=\"width:{pct}%\"></span></span><span class=\"num\">{pct}%</span>"
        )
    };
    // 24 reports named a city; London (GB) in either case is half of them.
    assert_eq!(rows[0], row("London, United Kingdom", 50), "{rows:?}");
    assert_eq!(rows[1], row("Paris, France", 25), "{rows:?}");
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(
        rows.contains(&row("London, Canada", 13).as_str()),
        "{rows:?}"
    );
    assert!(
        rows.contains(
            &row(
                "&#60;script&#62;alert(5)&#60;/script&#62;, United Kingdom",
                13
            )
            .as_str()
        ),
        "{rows:?}"
    );
    assert!(!html.contains("<script>alert(5)"));
    assert!(
        !cities.contains("london,"),
        "the less common spelling is folded in"
    );
    app.stop().await;
}

/// Every public answer that shows crowd data, as text.
async fn public_text(app: &TestApp) -> String {
    let mut out = String::new();
    for path in [
        "/s/melodia",
        "/",
        "/s/melodia/feed.atom",
        "/s/melodia/api/v2/summary.json",
        "/api/v2/summary.json",
        "/api/v1/services/melodia/summary?window=60m",
        "/api/v1/services/melodia/reports?since=1h",
        "/api/v1/services/melodia/status",
        "/api/v1/services/melodia/events?since=24h",
    ] {
        out.push_str(&app.get(path).await.text().await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_shows_only_once_three_networks_name_it() {
    let app = spawn_app().await;
    let atlantis = |_| json!({"problem": "login", "country": "GB", "city": "Atlantis"});
    // Two networks.
    app.post_many(2, 0, atlantis).await;
    // Many clients, one network.
    for host in 1..=12 {
        let r = app
            .report(
                "melodia",
                json!({"problem": "login", "country": "GB", "city": "Gotham"}),
                &format!("192.0.2.{host}"),
            )
            .await;
        assert_eq!(r.status(), 202);
    }
    app.pages.refresh().await;
    let seen = public_text(&app).await;
    assert!(!seen.contains("Atlantis"), "two networks are not enough");
    assert!(!seen.contains("Gotham"), "one network is never enough");
    assert!(!app.page("/s/melodia").await.contains("Top cities"));

    // A third network.
    app.post_many(1, 2, atlantis).await;
    app.pages.refresh().await;
    let page = app.page("/s/melodia").await;
    assert!(page.contains("Top cities"), "{page}");
    assert!(page.contains("Atlantis, United Kingdom"), "{page}");
    assert!(!page.contains("Gotham"), "{page}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_band_follows_the_time_of_day() {
    let store = downbeat_store::testing::sqlite();
    let now = jiff::Timestamp::now();
    // Two weeks of a strong daily rhythm: quiet nights, busy evenings (UTC).
    let mut csv = String::from("timestamp,count\n");
    let start = now.as_second() / 86_400 * 86_400 - 14 * 86_400;
    let per_hour = |h: i64| match h % 24 {
        0..=5 => 30,
        17..=22 => 1_200,
        _ => 300,
    };
    let mut h = 0;
    while start + h * 3600 < now.as_second() {
        csv.push_str(&format!("{},{}\n", start + h * 3600, per_hour(h)));
        h += 1;
    }
    let db = downbeat_store::open(&store.target).await.unwrap();
    downbeat_crowd::seed_from_csv(&*db, "melodia", csv.as_bytes(), now)
        .await
        .unwrap();
    drop(db);
    let app = spawn_with(&config_text(""), store, now).await;
    // The next minute is judged: the detector's model is now the server's.
    app.clock.set_ms(now.as_millisecond() + 60_000);
    app.detect().await;

    let model = app.pages.state().model(0);
    let chart = &model.chart;
    let band = chart.baseline.as_ref().expect("a trained model has a band");
    assert_eq!(band.len(), 96);
    let at_hour = |hour: i64| {
        band.iter()
            .find(|b| (b.start_ms / 3_600_000) % 24 == hour && b.minutes == 15)
            .expect("a full bucket at that hour")
    };
    let (night, evening) = (at_hour(3), at_hour(20));
    // 30 an hour is about 7.5 per 15 minutes; 1200 an hour about 300.
    assert!((3.0..15.0).contains(&night.expected), "night: {night:?}");
    assert!(
        (200.0..400.0).contains(&evening.expected),
        "evening: {evening:?}"
    );
    assert!(night.lower <= night.expected && night.expected <= night.upper);
    assert!(
        evening.upper < 600.0 && evening.lower > 100.0,
        "{evening:?}"
    );
    // The current bucket covers only the minutes so far.
    let last = band.last().unwrap();
    let elapsed = (app.clock.now().as_millisecond() - last.start_ms) / 60_000 + 1;
    assert_eq!(i64::from(last.minutes), elapsed.min(15));

    let html = app.page("/s/melodia").await;
    assert!(html.contains("<path class=\"band\" d=\"M"), "{html}");
    assert!(html.contains("<path class=\"exp\" d=\"M"));
    assert!(
        html.contains("The shaded band is the usual range for each 15 minutes"),
        "{html}"
    );
    assert!(!html.contains("No usual level is known yet."));
    app.stop().await;
}

/// What listeners' screens say: variants of one text are one cluster, shown (escaped, with
/// its share) once reports from three networks typed it, and in the API; a text with a link
/// never shows, however many networks typed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_error_says_shows_once_three_networks_typed_it_and_never_a_link() {
    let app = spawn_app().await;
    let said = |text: &'static str| move |_| json!({"problem": "login", "message": text});
    app.post_many(1, 0, said("Something went wrong")).await;
    app.post_many(1, 1, said("something went wrong (error 4)"))
        .await;
    app.post_many(4, 10, said("see https://evil.example/outage"))
        .await;
    app.post_many(3, 20, said("<b>Can't</b> log in")).await;
    app.pages.refresh().await;
    let page = app.page("/s/melodia").await;
    assert!(page.contains(r#"name="message""#), "the form asks: {page}");
    assert!(
        !page.contains("Something went wrong"),
        "two networks: {page}"
    );
    assert!(!page.contains("evil.example"), "{page}");
    assert!(!page.contains("<b>Can"), "shown as text: {page}");
    assert!(page.contains("&#60;b&#62;Can"), "{page}");

    app.post_many(1, 2, said("  Something   went wrong ")).await;
    app.pages.refresh().await;
    let page = app.page("/s/melodia").await;
    assert!(page.contains("What the error says"), "{page}");
    assert!(page.contains("see “Something went wrong”"), "{page}");
    assert!(!page.contains("evil.example"), "{page}");

    let r = app
        .get("/api/v1/services/melodia/messages?window=60m")
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["with_message"], 10, "{v}");
    let texts: Vec<&str> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 2, "{v}");
    let wrong = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["text"].as_str().unwrap().starts_with("Something"))
        .unwrap();
    assert_eq!(wrong["count"], 3, "{v}");
    assert_eq!(wrong["networks"], 3, "{v}");
    assert_eq!(wrong["share"], 0.3, "{v}");
    assert!(!v.to_string().contains("evil"), "{v}");
    app.stop().await;
}
