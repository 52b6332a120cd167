//! Guesses about the visitor from request headers: country from `Accept-Language`, platform
//! from `User-Agent`. Guesses only pre-fill or personalise; the visitor can always choose.
//!
//! When the operator provides a GeoIP database ([`crate::geoip`]), the report form asks it
//! first; the language region is the fallback, free and good enough to pre-fill a form.

use axum::http::{HeaderMap, header};
use downbeat_domain::{CountryCode, Platform};

/// The region of the visitor's most preferred language tag that has one: `en-GB,en;q=0.9` →
/// GB. Language-only tags (`fr`) say nothing about where someone is, so they are skipped.
pub fn country(headers: &HeaderMap) -> Option<CountryCode> {
    let value = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
    let mut best: Option<(f32, CountryCode)> = None;
    for item in value.split(',').take(16) {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        // language[-script][-region]...: the region is the first 2-letter subtag after the
        // language.
        let Some(region) = tag
            .split(['-', '_'])
            .skip(1)
            .find(|s| s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()))
        else {
            continue;
        };
        let Ok(code) = CountryCode::parse(region) else {
            continue;
        };
        if best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, code));
        }
    }
    best.map(|(_, c)| c)
}

/// The platform a browser's User-Agent suggests: phones and tablets name their OS; any other
/// browser is on a computer, where people use the desktop app or the web player — we guess
/// the desktop app, and the form lets them say otherwise.
pub fn platform(headers: &HeaderMap) -> Option<Platform> {
    let ua = headers.get(header::USER_AGENT)?.to_str().ok()?;
    if ua.contains("iPhone") || ua.contains("iPad") || ua.contains("iPod") {
        Some(Platform::Ios)
    } else if ua.contains("Android") {
        Some(Platform::Android)
    } else if ua.contains("Windows")
        || ua.contains("Macintosh")
        || ua.contains("X11")
        || ua.contains("CrOS")
    {
        Some(Platform::Desktop)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(name: header::HeaderName, v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn country_from_language_regions() {
        let cases = [
            ("en-GB,en;q=0.9", Some("GB")),
            ("en,de-DE;q=0.8", Some("DE")),
            ("fr", None),
            ("es-419", None),
            ("zh-Hant-TW", Some("TW")),
            ("de-AT;q=0.5,en-US;q=0.9", Some("US")),
            ("en-XX", None),
            ("en-GB;q=0", None),
            ("", None),
        ];
        for (v, want) in cases {
            let got = country(&with(header::ACCEPT_LANGUAGE, v));
            assert_eq!(got.map(|c| c.as_str()), want, "{v}");
        }
    }

    #[test]
    fn platform_from_user_agents() {
        let cases = [
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
                Some(Platform::Ios),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8)",
                Some(Platform::Android),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
                Some(Platform::Desktop),
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/140",
                Some(Platform::Desktop),
            ),
            ("curl/8.5.0", None),
        ];
        for (v, want) in cases {
            assert_eq!(platform(&with(header::USER_AGENT, v)), want, "{v}");
        }
    }
}
