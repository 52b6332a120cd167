//! External signals: what other places say about a service's trouble, as counts per source
//! (`{source, at, count}`: "340 posts about Melodia problems in this minute") or as posts
//! (`{source, at, text, url, lang}`: one post each). A batch is checked whole: the first bad
//! row refuses it, named by its index and field, so a sender never has half a batch stored.

use crate::slug::Slug;
use serde::Deserialize;
use std::fmt;
use utoipa::ToSchema;

/// The most rows one batch may carry.
pub const MAX_SIGNAL_ROWS: usize = 1000;
/// The longest post text kept, in characters (a Mastodon post is at most 500 by default).
pub const MAX_POST_CHARS: usize = 1000;
/// The longest post URL.
pub const MAX_URL_CHARS: usize = 2048;
/// The largest count one row may carry.
pub const MAX_COUNT: i64 = 1_000_000;

/// One row of a batch as sent, before it is checked.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSignal {
    /// Where the signal comes from: a slug such as `mastodon` or `support-forum`.
    pub source: Option<String>,
    /// When (RFC 3339), e.g. `2026-12-07T08:01:00Z`.
    pub at: Option<String>,
    /// Posts counted at `at` (1 to 1,000,000); give either this or `text`.
    pub count: Option<i64>,
    /// One post's text (at most 1,000 characters).
    pub text: Option<String>,
    /// The post's address (http or https), with `text` only.
    pub url: Option<String>,
    /// The post's language (ISO 639, e.g. `en` or `pt-BR`), with `text` only.
    pub lang: Option<String>,
}

/// A checked row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    Count {
        source: Slug,
        at_ms: i64,
        count: u32,
    },
    Post(Post),
}

impl Signal {
    pub fn source(&self) -> &Slug {
        match self {
            Signal::Count { source, .. } => source,
            Signal::Post(p) => &p.source,
        }
    }

    pub fn at_ms(&self) -> i64 {
        match self {
            Signal::Count { at_ms, .. } => *at_ms,
            Signal::Post(p) => p.at_ms,
        }
    }

    /// The posts this row stands for.
    pub fn count(&self) -> u32 {
        match self {
            Signal::Count { count, .. } => *count,
            Signal::Post(_) => 1,
        }
    }
}

/// One post: its text with line breaks and tabs as spaces, trimmed; still untrusted text
/// that every output escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub source: Slug,
    pub at_ms: i64,
    pub text: String,
    pub url: Option<String>,
    /// The primary language subtag, lower case (`pt` of `pt-BR`).
    pub lang: Option<String>,
    /// The service's problem kind the text speaks of ("can't log in": `login`), when its
    /// words tell; set by whoever classifies it (the API, a poller), not by the sender.
    pub kind: Option<crate::problem::ProblemKind>,
}

/// The times a row may carry: not older than `max_age_ms` before `now_ms`, not more than
/// `max_skew_ms` after it.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    pub now_ms: i64,
    pub max_age_ms: i64,
    pub max_skew_ms: i64,
}

/// Why a batch was refused: the row (`None`: the batch as a whole) and field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalError {
    pub index: Option<usize>,
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "signals[{i}].{}: {}", self.field, self.message),
            None => write!(f, "signals: {}", self.message),
        }
    }
}

impl std::error::Error for SignalError {}

/// Checks a batch: every row, or the first fault.
pub fn check_batch(rows: Vec<RawSignal>, when: Accepted) -> Result<Vec<Signal>, SignalError> {
    if rows.len() > MAX_SIGNAL_ROWS {
        return Err(SignalError {
            index: None,
            field: "signals",
            message: format!(
                "{} rows; at most {MAX_SIGNAL_ROWS} in one batch",
                rows.len()
            ),
        });
    }
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            check_row(row, when).map_err(|(field, message)| SignalError {
                index: Some(i),
                field,
                message,
            })
        })
        .collect()
}

type Fault = (&'static str, String);

fn check_row(row: RawSignal, when: Accepted) -> Result<Signal, Fault> {
    let source = row.source.ok_or(("source", "is required".to_owned()))?;
    let source = Slug::parse(&source).map_err(|e| ("source", e.to_string()))?;
    let at = row.at.ok_or(("at", "is required (RFC 3339)".to_owned()))?;
    let at_ms = at
        .parse::<jiff::Timestamp>()
        .map_err(|_| ("at", format!("{at:?} is not an RFC 3339 time")))?
        .as_millisecond();
    if at_ms < when.now_ms - when.max_age_ms {
        return Err(("at", format!("{at} is older than this server accepts")));
    }
    if at_ms > when.now_ms + when.max_skew_ms {
        return Err(("at", format!("{at} is ahead of this server's clock")));
    }
    match (row.count, row.text) {
        (Some(_), Some(_)) => Err(("count", "give count or text, not both".to_owned())),
        (None, None) => Err((
            "count",
            "give count (posts counted) or text (one post)".to_owned(),
        )),
        (Some(count), None) => {
            if row.url.is_some() {
                return Err(("url", "belongs to a post (with text), not a count".into()));
            }
            if row.lang.is_some() {
                return Err(("lang", "belongs to a post (with text), not a count".into()));
            }
            if !(1..=MAX_COUNT).contains(&count) {
                return Err(("count", format!("{count} is not between 1 and {MAX_COUNT}")));
            }
            Ok(Signal::Count {
                source,
                at_ms,
                count: count as u32,
            })
        }
        (None, Some(text)) => Ok(Signal::Post(Post {
            source,
            at_ms,
            text: post_text(&text)?,
            url: row.url.as_deref().map(post_url).transpose()?,
            lang: row.lang.as_deref().map(language).transpose()?,
            kind: None,
        })),
    }
}

fn post_text(text: &str) -> Result<String, Fault> {
    let n = text.chars().count();
    if n > MAX_POST_CHARS {
        return Err(("text", format!("{n} characters; at most {MAX_POST_CHARS}")));
    }
    // Line breaks and tabs are a post's own; other control characters are not text.
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(("text", "holds control characters".into()));
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return Err(("text", "is blank".into()));
    }
    Ok(text)
}

fn post_url(url: &str) -> Result<String, Fault> {
    let n = url.chars().count();
    if n > MAX_URL_CHARS {
        return Err(("url", format!("{n} characters; at most {MAX_URL_CHARS}")));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or(("url", "must start with https:// or http://".to_owned()))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(("url", "has no host".into()));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(("url", "holds spaces or control characters".into()));
    }
    Ok(url.to_owned())
}

/// A language tag's primary subtag (2 or 3 letters), lower case; the rest of the tag
/// (region, script) is checked for shape and dropped.
fn language(tag: &str) -> Result<String, Fault> {
    let mut parts = tag.split(['-', '_']);
    let primary = parts.next().unwrap_or_default();
    let letters = |s: &str, lo: usize, hi: usize| {
        (lo..=hi).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    let well_formed = letters(primary, 2, 3)
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| letters(p, 2, 8));
    if !well_formed {
        return Err((
            "lang",
            format!("{tag:?} is not a language tag such as en or pt-BR"),
        ));
    }
    Ok(primary.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_630_400_000; // 2026-12-07T08:00:00Z
    const WHEN: Accepted = Accepted {
        now_ms: NOW,
        max_age_ms: 7 * 86_400_000,
        max_skew_ms: 300_000,
    };

    fn raw(source: &str, at: &str) -> RawSignal {
        RawSignal {
            source: Some(source.into()),
            at: Some(at.into()),
            ..RawSignal::default()
        }
    }

    fn count(n: i64) -> RawSignal {
        RawSignal {
            count: Some(n),
            ..raw("mastodon", "2026-12-07T07:59:00Z")
        }
    }

    fn post(text: &str) -> RawSignal {
        RawSignal {
            text: Some(text.into()),
            ..raw("bluesky", "2026-12-07T07:58:30+00:00")
        }
    }

    fn fault(rows: Vec<RawSignal>) -> String {
        check_batch(rows, WHEN).unwrap_err().to_string()
    }

    #[test]
    fn counts_and_posts_are_checked_into_signals() {
        let got = check_batch(
            vec![
                count(340),
                RawSignal {
                    url: Some("https://social.example/@ana/1".into()),
                    lang: Some("pt-BR".into()),
                    ..post("  Melodia\ncaiu de novo?\t#MelodiaDown ")
                },
            ],
            WHEN,
        )
        .unwrap();
        assert_eq!(
            got[0],
            Signal::Count {
                source: Slug::parse("mastodon").unwrap(),
                at_ms: NOW - 60_000,
                count: 340
            }
        );
        let Signal::Post(p) = &got[1] else {
            panic!("a post: {got:?}")
        };
        assert_eq!(p.text, "Melodia caiu de novo? #MelodiaDown");
        assert_eq!(p.lang.as_deref(), Some("pt"));
        assert_eq!(p.at_ms, NOW - 90_000);
        assert_eq!((got[0].count(), got[1].count()), (340, 1));
    }

    #[test]
    fn a_bad_row_refuses_the_batch_naming_its_index_and_field() {
        let cases: Vec<(RawSignal, &str)> = vec![
            (
                RawSignal {
                    source: None,
                    ..count(1)
                },
                "signals[1].source: is required",
            ),
            (
                RawSignal {
                    source: Some("My Source".into()),
                    ..count(1)
                },
                "signals[1].source:",
            ),
            (
                RawSignal {
                    at: None,
                    ..count(1)
                },
                "signals[1].at: is required",
            ),
            (
                RawSignal {
                    at: Some("yesterday".into()),
                    ..count(1)
                },
                "not an RFC 3339 time",
            ),
            (
                RawSignal {
                    at: Some("2026-11-01T00:00:00Z".into()),
                    ..count(1)
                },
                "older than",
            ),
            (
                RawSignal {
                    at: Some("2026-12-07T09:00:00Z".into()),
                    ..count(1)
                },
                "ahead of",
            ),
            (count(0), "signals[1].count: 0 is not between 1"),
            (count(MAX_COUNT + 1), "signals[1].count:"),
            (
                RawSignal {
                    count: Some(3),
                    ..post("down?")
                },
                "not both",
            ),
            (
                raw("x", "2026-12-07T07:59:00Z"),
                "give count (posts counted) or text",
            ),
            (
                RawSignal {
                    url: Some("https://a.example/".into()),
                    ..count(2)
                },
                "signals[1].url: belongs to a post",
            ),
            (
                RawSignal {
                    lang: Some("en".into()),
                    ..count(2)
                },
                "signals[1].lang: belongs to a post",
            ),
            (post(" \n "), "signals[1].text: is blank"),
            (
                post("bell \u{7}"),
                "signals[1].text: holds control characters",
            ),
            (post(&"x".repeat(MAX_POST_CHARS + 1)), "1001 characters"),
            (
                RawSignal {
                    url: Some("javascript:alert(1)".into()),
                    ..post("hi")
                },
                "signals[1].url: must start with",
            ),
            (
                RawSignal {
                    url: Some("https:///path".into()),
                    ..post("hi")
                },
                "has no host",
            ),
            (
                RawSignal {
                    url: Some("https://a.example/a b".into()),
                    ..post("hi")
                },
                "spaces",
            ),
            (
                RawSignal {
                    lang: Some("english".into()),
                    ..post("hi")
                },
                "signals[1].lang:",
            ),
            (
                RawSignal {
                    lang: Some("e1".into()),
                    ..post("hi")
                },
                "signals[1].lang:",
            ),
        ];
        for (bad, expected) in cases {
            let message = fault(vec![count(1), bad.clone(), count(2)]);
            assert!(
                message.contains(expected),
                "{bad:?}: {message:?} should say {expected:?}"
            );
        }
    }

    #[test]
    fn an_oversized_batch_is_refused_as_a_whole() {
        let message = fault(vec![count(1); MAX_SIGNAL_ROWS + 1]);
        assert_eq!(message, "signals: 1001 rows; at most 1000 in one batch");
        assert_eq!(
            check_batch(vec![count(1); MAX_SIGNAL_ROWS], WHEN)
                .unwrap()
                .len(),
            1000
        );
    }
}
