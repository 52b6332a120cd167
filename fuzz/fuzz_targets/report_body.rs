//! A crowd report's body, as the server reads it: the JSON API's body (`body::json` into a
//! `RawReport`) and the status page form's (`body::form`), then `validate` against the
//! example config's `melodia`. Bad bodies must be errors, never panics; a valid report must
//! name an offered problem and keep its fields within what the domain types promise.
#![no_main]

use downbeat_api::body;
use downbeat_config::{Config, ServiceConfig};
use downbeat_intake::{RawReport, validate};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static CONFIG: LazyLock<Config> = LazyLock::new(|| {
    let text = include_str!("../../downbeat.example.toml");
    downbeat_config::parse_str(text, "downbeat.example.toml").expect("the example config loads")
});

fn check(service: &ServiceConfig, raw: RawReport<'_>) {
    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    match validate(service, raw, now) {
        Ok(report) => {
            assert!(service.offers(report.problem.as_str()).is_some());
            assert_eq!(report.service.as_str(), service.id.as_str());
            if let Some(city) = &report.city {
                let s = city.to_string();
                assert!(!s.chars().any(char::is_control), "{s:?}");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let service = &CONFIG.services[0];
    match body::json::<RawReport>(data, r#"{"problem": "login"}"#) {
        Ok(raw) => check(service, raw),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    match body::form(data) {
        Ok(raw) => {
            for f in [&raw.platform, &raw.country, &raw.city] {
                assert!(f.as_deref().is_none_or(|s| !s.trim().is_empty()));
            }
            check(service, raw)
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
