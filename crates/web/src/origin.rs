//! Where a form post came from: a browser says it in `Sec-Fetch-Site` and `Origin`, and a
//! post another site's page made a visitor's browser send is refused.
//!
//! - `Sec-Fetch-Site: cross-site` is refused; `same-origin` (our own page) and `none` (the
//!   visitor's own doing, such as a bookmark) are accepted whatever `Origin` says — a
//!   reverse proxy that rewrites `Host` cannot make them look foreign.
//! - Otherwise (no `Sec-Fetch-Site`: older browsers, and every browser over plain HTTP;
//!   or `same-site`: a sibling subdomain, which must prove more), an `Origin` must name this
//!   site: its host and port must be the request's own, from `X-Forwarded-Host` when a
//!   trusted proxy sent it, else from `Host`. The scheme is not compared: a proxy that
//!   terminates TLS may not say so, and the same host over HTTP is still this site.
//!   `Origin: null` (a sandboxed frame, a redirect from elsewhere) is refused.
//! - No `Origin` and no `Sec-Fetch-Site` (curl, very old browsers) is accepted: the form
//!   token is what such a post must still carry.

use axum::http::{HeaderMap, header};
use ipnet::IpNet;
use std::net::IpAddr;

/// A post from another site, with what the browser said about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Foreign {
    /// `Sec-Fetch-Site: cross-site`, or an `Origin` that is not this site (named when the
    /// browser named it).
    #[error(
        "This report was sent from another site{}, not from this page, so it was refused. \
         If you meant to report a problem, use the form below.",
        .0.as_deref().map(|o| format!(" ({o})")).unwrap_or_default()
    )]
    OtherSite(Option<String>),
    /// `Origin: null`: a page that would not say where it is.
    #[error(
        "This report was sent from a page that does not say where it is (Origin: null), so it \
         was refused. If you meant to report a problem, use the form below."
    )]
    Opaque,
}

/// `Ok` unless the browser says the post came from another site.
pub fn check(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Result<(), Foreign> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let origin = text(header::ORIGIN.as_str()).filter(|o| !o.is_empty());
    let shown = || {
        origin
            .filter(|o| *o != "null")
            .map(|o| o.chars().take(100).collect())
    };
    let site = text("sec-fetch-site").map(str::to_ascii_lowercase);
    match site.as_deref() {
        Some("cross-site") => return Err(Foreign::OtherSite(shown())),
        Some("same-origin" | "none") => return Ok(()),
        _ => {}
    }
    let Some(origin) = origin else {
        // `same-site` always comes with an Origin on a POST; without one, nothing vouches.
        return match site.as_deref() {
            Some("same-site") => Err(Foreign::OtherSite(shown())),
            _ => Ok(()),
        };
    };
    if origin == "null" {
        return Err(Foreign::Opaque);
    }
    let ours = own_host(peer, headers, trusted);
    match (authority(origin), ours) {
        (Some(theirs), Some(ours)) if theirs == ours => Ok(()),
        _ => Err(Foreign::OtherSite(shown())),
    }
}

/// The host (and port) this request was sent to: `X-Forwarded-Host` when the peer is a
/// trusted proxy (the value the nearest proxy appended), else `Host`; lower-case, without
/// a default port.
fn own_host(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Option<String> {
    let peer = peer.to_canonical();
    let forwarded = trusted
        .iter()
        .any(|n| n.contains(&peer))
        .then(|| headers.get("x-forwarded-host")?.to_str().ok())
        .flatten()
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let host = forwarded.or_else(|| {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::trim)
            .filter(|h| !h.is_empty())
    })?;
    Some(without_default_port(&host.to_ascii_lowercase()))
}

/// An `Origin`'s host and port (`https://Status.Example:443` → `status.example`).
fn authority(origin: &str) -> Option<String> {
    let (scheme, rest) = origin.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    Some(without_default_port(&host.to_ascii_lowercase()))
}

/// `host:80` and `host:443` as `host`: browsers leave default ports out of `Origin`, and
/// clients out of `Host`, but not every proxy does.
fn without_default_port(host: &str) -> String {
    host.strip_suffix(":443")
        .or_else(|| host.strip_suffix(":80"))
        .unwrap_or(host)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn posts_from_other_sites_are_refused_behind_a_proxy_too() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.1.1.1".parse().unwrap();
        let direct: IpAddr = "203.0.113.5".parse().unwrap();
        let ok = |peer, pairs: &[(&'static str, &str)]| check(peer, &headers(pairs), &trusted);
        let host = ("host", "status.example");
        // (peer, headers, accepted)
        type Case = (IpAddr, Vec<(&'static str, &'static str)>, bool);
        let cases: Vec<Case> = vec![
            (direct, vec![host], true),
            (
                direct,
                vec![host, ("origin", "http://status.example")],
                true,
            ),
            (
                direct,
                vec![host, ("origin", "https://STATUS.example:443")],
                true,
            ),
            (
                direct,
                vec![host, ("origin", "https://evil.example")],
                false,
            ),
            (direct, vec![host, ("origin", "null")], false),
            (direct, vec![host, ("origin", "file://")], false),
            (direct, vec![("origin", "https://status.example")], false),
            (direct, vec![host, ("sec-fetch-site", "cross-site")], false),
            (
                direct,
                vec![
                    host,
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://status.example"),
                ],
                false,
            ),
            (direct, vec![host, ("sec-fetch-site", "same-site")], false),
            (
                direct,
                vec![
                    host,
                    ("sec-fetch-site", "same-site"),
                    ("origin", "https://blog.status.example"),
                ],
                false,
            ),
            // The browser vouches: a proxy's rewritten Host does not matter.
            (
                proxy,
                vec![
                    ("host", "127.0.0.1:8080"),
                    ("sec-fetch-site", "same-origin"),
                    ("origin", "https://status.example"),
                ],
                true,
            ),
            (direct, vec![host, ("sec-fetch-site", "none")], true),
            // Behind a trusted proxy, the host it forwards is ours.
            (
                proxy,
                vec![
                    ("host", "127.0.0.1:8080"),
                    ("x-forwarded-host", "status.example"),
                    ("origin", "https://status.example"),
                ],
                true,
            ),
            (
                proxy,
                vec![
                    ("host", "127.0.0.1:8080"),
                    ("x-forwarded-host", "status.example"),
                    ("origin", "https://evil.example"),
                ],
                false,
            ),
            // From anyone else, a forwarded host is not believed.
            (
                direct,
                vec![
                    ("host", "status.example"),
                    ("x-forwarded-host", "evil.example"),
                    ("origin", "https://evil.example"),
                ],
                false,
            ),
        ];
        for (peer, pairs, want) in cases {
            assert_eq!(ok(peer, &pairs).is_ok(), want, "{peer} {pairs:?}");
        }
        let e = ok(direct, &[host, ("origin", "https://evil.example")]).unwrap_err();
        assert!(e.to_string().contains("https://evil.example"), "{e}");
        let e = ok(direct, &[host, ("sec-fetch-site", "cross-site")]).unwrap_err();
        assert!(e.to_string().contains("from another site, not"), "{e}");
    }
}
