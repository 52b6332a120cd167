//! The operator's GeoIP database fills in the report form's country from the client
//! address; without one, or for addresses it does not know, the browser language does.

use crate::helpers::*;
use crate::mmdb::country_db;
use downbeat_web::geoip::GeoIp;

fn db_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("countries.mmdb");
    std::fs::write(
        &path,
        country_db(&[
            ("81.2.69.0/24", "GB"),
            ("8.8.0.0/16", "US"),
            ("175.16.199.0/24", "CN"),
        ]),
    )
    .unwrap();
    (dir, path)
}

#[test]
fn countries_come_from_the_database() {
    let (_dir, path) = db_file();
    let geo = GeoIp::open(&path).expect("the written database opens");
    let country = |ip: &str| geo.country(ip.parse().unwrap()).map(|c| c.as_str());
    assert_eq!(country("81.2.69.160"), Some("GB"));
    assert_eq!(country("81.2.69.0"), Some("GB"));
    assert_eq!(country("81.2.70.1"), None);
    assert_eq!(country("8.8.8.8"), Some("US"));
    assert_eq!(country("175.16.199.7"), Some("CN"));
    assert_eq!(country("10.1.1.1"), None);
    assert_eq!(country("::ffff:81.2.69.1"), Some("GB"), "IPv4-mapped");
    assert_eq!(country("2001:db8::1"), None, "IPv6 in an IPv4 database");
}

async fn reported_country(app: &TestApp, ip: &str, language: Option<&str>) -> String {
    let mut headers = vec![("x-forwarded-for", ip)];
    if let Some(l) = language {
        headers.push(("accept-language", l));
    }
    let r = app
        .post_form(
            "melodia",
            &[("problem", "login"), ("platform", "auto"), ("country", "")],
            &headers,
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let at = html.find("Country: ").expect("the recorded country");
    html[at + 9..].split('<').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_country_is_guessed_from_the_address_when_a_database_is_given() {
    let (_dir, path) = db_file();
    let config = config_text("").replace(
        "[server]\n",
        &format!("[server]\ngeoip = \"{}\"\n", path.display()),
    );
    let app = spawn_with(
        &config,
        downbeat_store::testing::sqlite(),
        jiff::Timestamp::now(),
    )
    .await;
    // The address beats the browser language; an unknown address falls back to it.
    assert_eq!(
        reported_country(&app, "81.2.69.160", Some("fr-FR")).await,
        "United Kingdom"
    );
    assert_eq!(
        reported_country(&app, "8.8.4.4", None).await,
        "United States"
    );
    assert_eq!(
        reported_country(&app, "10.9.9.9", Some("fr-FR")).await,
        "France"
    );
    assert_eq!(reported_country(&app, "10.9.8.9", None).await, "not given");
    app.stop().await;

    let without = spawn_app().await;
    assert_eq!(
        reported_country(&without, "81.2.69.160", None).await,
        "not given"
    );
    without.stop().await;
}
