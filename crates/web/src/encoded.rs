//! A response body prepared once and served many times: identity, gzip and brotli bytes,
//! their ETags and headers, all built at render time so a request only picks and clones.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use std::hash::Hasher;
use std::io::Write;

/// gzip level and brotli quality: one setting per format. Pages are rendered at most about
/// once a second each and served thousands of times, so the smaller body wins; brotli 11 is
/// several times slower than 9 for a few percent, so 9.
const GZIP_LEVEL: u32 = 9;
const BROTLI_QUALITY: u32 = 9;
const BROTLI_WINDOW: u32 = 22;

/// Cache-Control for pages: a CDN in front may serve a copy for 5 s and a stale one for
/// 30 s while it revalidates, so an outage crowd mostly hits the CDN.
pub const PAGE_CACHE_CONTROL: &str = "public, max-age=5, stale-while-revalidate=30";
/// Cache-Control for content-addressed assets.
pub const ASSET_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";
/// Vary for the same bytes to everyone.
pub const VARY_ENCODING: &str = "Accept-Encoding";
/// Vary for the service page while it has a per-country line.
pub const VARY_ENCODING_LANGUAGE: &str = "Accept-Encoding, Accept-Language";
/// Pages load nothing from elsewhere. Their one script is the same-origin live updater,
/// which fetches the page it is on; inline styles only for bar widths.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// One representation per content coding, with what to send alongside.
#[derive(Debug)]
pub struct Encoded {
    identity: Bytes,
    gzip: Bytes,
    brotli: Bytes,
    /// The ETag base: a hash of the identity body. Each coding's tag appends a suffix, so a
    /// strong ETag never names two different byte sequences.
    tag: u64,
    etags: [HeaderValue; 3],
    content_type: HeaderValue,
    cache_control: HeaderValue,
    vary: HeaderValue,
}

/// Which representation a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity = 0,
    Gzip = 1,
    Brotli = 2,
}

impl Encoded {
    /// Compresses `body` both ways and prepares the headers.
    pub fn new(
        body: Vec<u8>,
        content_type: &'static str,
        cache_control: &'static str,
        vary: &'static str,
    ) -> Encoded {
        Encoded::reusing(body, content_type, cache_control, vary, None)
    }

    /// Bytes held: every coding's body.
    pub fn weight(&self) -> usize {
        self.identity.len() + self.gzip.len() + self.brotli.len()
    }

    /// Like [`Encoded::new`], but when `previous` holds the same bytes its compressed bodies
    /// are reused: most re-renders after a data change (badges, feeds, summaries) produce
    /// the page they replace, and compressing is most of a render's cost.
    pub fn reusing(
        body: Vec<u8>,
        content_type: &'static str,
        cache_control: &'static str,
        vary: &'static str,
        previous: Option<&Encoded>,
    ) -> Encoded {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        h.write(&body);
        h.write_usize(body.len());
        let tag = h.finish();
        let same = previous.filter(|p| p.tag == tag && p.identity[..] == body[..]);
        let (gzip, brotli) = match same {
            Some(p) => (p.gzip.clone(), p.brotli.clone()),
            None => (Bytes::from(gzip(&body)), Bytes::from(brotli(&body))),
        };
        let etag = |suffix: &str| {
            HeaderValue::from_str(&format!("\"{tag:016x}{suffix}\""))
                .unwrap_or(HeaderValue::from_static("\"0\""))
        };
        Encoded {
            etags: [etag(""), etag("-gz"), etag("-br")],
            tag,
            identity: Bytes::from(body),
            gzip,
            brotli,
            content_type: HeaderValue::from_static(content_type),
            cache_control: HeaderValue::from_static(cache_control),
            vary: HeaderValue::from_static(vary),
        }
    }

    pub fn identity(&self) -> &Bytes {
        &self.identity
    }

    pub fn bytes(&self, coding: Coding) -> &Bytes {
        match coding {
            Coding::Identity => &self.identity,
            Coding::Gzip => &self.gzip,
            Coding::Brotli => &self.brotli,
        }
    }

    /// The response to a request with `headers`: 304 when its If-None-Match names this
    /// body, otherwise the best coding it accepts.
    pub fn respond(&self, headers: &HeaderMap, status: StatusCode) -> Response<Body> {
        let coding = negotiate(headers);
        let not_modified = status == StatusCode::OK
            && headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| self.matches(v));
        let mut res = if not_modified {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            let mut r = Response::new(Body::from(self.bytes(coding).clone()));
            *r.status_mut() = status;
            r
        };
        let h = res.headers_mut();
        // Room for these, the content length and the date at once: growing the map insert
        // by insert was a tenth of a cached page's cost.
        h.reserve(10);
        h.insert(header::CONTENT_TYPE, self.content_type.clone());
        h.insert(header::CACHE_CONTROL, self.cache_control.clone());
        h.insert(header::VARY, self.vary.clone());
        h.insert(header::ETAG, self.etags[coding as usize].clone());
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        match coding {
            Coding::Identity => {}
            Coding::Gzip => {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            Coding::Brotli => {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
            }
        }
        res
    }

    /// Whether an If-None-Match value names this body (in any coding: they are the same
    /// resource, and a cache that stored one coding may revalidate with its tag).
    pub fn matches(&self, if_none_match: &str) -> bool {
        if_none_match.split(',').any(|t| {
            let t = t.trim();
            if t == "*" {
                return true;
            }
            let t = t.strip_prefix("W/").unwrap_or(t).trim_matches('"');
            let base = t
                .strip_suffix("-gz")
                .or_else(|| t.strip_suffix("-br"))
                .unwrap_or(t);
            base.len() == 16 && u64::from_str_radix(base, 16).is_ok_and(|v| v == self.tag)
        })
    }
}

/// The best coding `Accept-Encoding` allows: brotli, then gzip, then identity. A coding with
/// `q=0` is refused; absent or unreadable headers get identity.
pub fn negotiate(headers: &HeaderMap) -> Coding {
    let Some(value) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return Coding::Identity;
    };
    let (mut br, mut gz) = (false, false);
    for item in value.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if refused {
            continue;
        }
        if name.eq_ignore_ascii_case("br") {
            br = true;
        } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            gz = true;
        } else if name == "*" {
            br = true;
        }
    }
    if br {
        Coding::Brotli
    } else if gz {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3),
        flate2::Compression::new(GZIP_LEVEL),
    );
    // Writing to a Vec cannot fail.
    let _ = e.write_all(body);
    e.finish().unwrap_or_default()
}

fn brotli(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 3);
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, BROTLI_WINDOW);
        let _ = w.write_all(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn negotiation_prefers_brotli_and_honours_q0() {
        let cases = [
            ("gzip, deflate, br", Coding::Brotli),
            ("gzip", Coding::Gzip),
            ("br;q=0, gzip", Coding::Gzip),
            ("GZIP;q=0.5", Coding::Gzip),
            ("identity", Coding::Identity),
            ("gzip;q=0", Coding::Identity),
            ("*", Coding::Brotli),
        ];
        for (v, want) in cases {
            assert_eq!(negotiate(&accept(v)), want, "{v}");
        }
        assert_eq!(negotiate(&HeaderMap::new()), Coding::Identity);
    }

    #[test]
    fn etags_match_across_codings_only_for_the_same_body() {
        let a = Encoded::new(
            b"hello".to_vec(),
            "text/plain",
            PAGE_CACHE_CONTROL,
            VARY_ENCODING,
        );
        let b = Encoded::new(
            b"hellO".to_vec(),
            "text/plain",
            PAGE_CACHE_CONTROL,
            VARY_ENCODING,
        );
        let tag = a.etags[1].to_str().unwrap().to_owned();
        assert!(a.matches(&tag));
        assert!(a.matches(&format!("W/{tag}, \"x\"")));
        assert!(a.matches("*"));
        assert!(!b.matches(&tag));
        assert!(!a.matches("\"nonsense\""));
    }
}
