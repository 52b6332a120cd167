//! `[service.signal.poll]`: a built-in poller that fills a signal source from a public
//! source — a Mastodon server's hashtag timelines and search, Bluesky's post search, or an
//! RSS or Atom feed (a Reddit search feed, a forum, a support site) — instead of an outside
//! sender posting to the signals API. Types, serde shape and checks.
//!
//! ```toml
//! [[service.signal]]
//! source = "mastodon"
//! name = "Mastodon"
//! [service.signal.poll]
//! kind = "mastodon"
//! url = "https://mastodon.example"
//! hashtags = ["MelodiaDown"]
//! search = "melodia"
//! include = ["melodia"]
//! exclude = ["melodia festival"]
//! languages = ["en", "de"]
//! ```

use crate::load::Validator;
use crate::notify::Secret;
use downbeat_domain::Span;
use serde::Deserialize;

/// The serde shape of `[service.signal.poll]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPoll {
    pub kind: String,
    pub url: String,
    #[serde(default)]
    pub hashtags: Vec<String>,
    pub search: Option<String>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    pub every: Option<String>,
    pub timeout: Option<String>,
    pub min_score: Option<u32>,
    /// Mastodon: an access token (search needs one on most servers).
    pub token: Option<String>,
    /// Bluesky: the account (handle or DID) an app password belongs to.
    pub identifier: Option<String>,
    /// Bluesky: an app password, for an AppView that asks for authentication.
    pub app_password: Option<String>,
}

/// A checked poller.
#[derive(Debug, Clone)]
pub struct PollConfig {
    pub kind: PollKind,
    /// The server's base URL (Mastodon, Bluesky) or the feed's URL.
    pub url: String,
    /// A post counts only when it carries one of these (lower case; hashtags without `#`
    /// count as words too). Defaults to the hashtags and the search's words.
    pub include: Vec<String>,
    /// A post carrying one of these is dropped.
    pub exclude: Vec<String>,
    /// Primary language subtags kept (empty: all). Posts without a language are kept.
    pub languages: Vec<String>,
    /// How often it polls (10 s to 1 h, default 60 s).
    pub every: Span,
    /// How long one request may take (1 s to 60 s, default 10 s).
    pub timeout: Span,
    /// The relevance a post needs to count (default 3: an inclusion word, 2, and one
    /// trouble phrase such as "down" or "não funciona", 1).
    pub min_score: u32,
}

#[derive(Debug, Clone)]
pub enum PollKind {
    /// `GET /api/v1/timelines/tag/{hashtag}` for each hashtag, and `GET /api/v2/search`
    /// (statuses) when `search` is set.
    Mastodon {
        hashtags: Vec<String>,
        search: Option<String>,
        token: Option<Secret>,
    },
    /// `GET /xrpc/app.bsky.feed.searchPosts?q={search}`, signed in with an app password
    /// when one is given.
    Bluesky {
        search: String,
        login: Option<(String, Secret)>,
    },
    /// An RSS 2.0, RSS 1.0 or Atom feed.
    Feed,
}

impl PollKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            PollKind::Mastodon { .. } => "mastodon",
            PollKind::Bluesky { .. } => "bluesky",
            PollKind::Feed => "feed",
        }
    }
}

/// The most words a list (include, exclude, hashtags) may hold.
const MAX_WORDS: usize = 50;
/// The longest word or phrase.
const MAX_WORD: usize = 60;

impl Validator<'_> {
    pub(crate) fn poll(&self, key: &str, raw: RawPoll) -> Result<PollConfig, crate::ConfigError> {
        let k = |f: &str| format!("{key}.{f}");
        let url = raw.url.trim().to_owned();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        match rest {
            Some(r) if !r.is_empty() && !r.starts_with('/') => {}
            _ => return Err(self.err(k("url"), "must be an http:// or https:// URL with a host")),
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.err(k("url"), "must not contain spaces"));
        }
        let hashtags = self.words(&k("hashtags"), raw.hashtags, true)?;
        let include = self.words(&k("include"), raw.include, false)?;
        let exclude = self.words(&k("exclude"), raw.exclude, false)?;
        let search = match raw.search {
            Some(s) if s.trim().is_empty() => {
                return Err(self.err(k("search"), "must not be empty"));
            }
            Some(s) if s.chars().count() > 200 => {
                return Err(self.err(k("search"), "must be at most 200 characters"));
            }
            Some(s) => Some(s.trim().to_owned()),
            None => None,
        };
        let secret = |f: &str, v: Option<String>| match v {
            Some(s) if s.trim().is_empty() || s.contains(char::is_whitespace) => {
                Err(self.err(k(f), "must be non-empty, without spaces"))
            }
            v => Ok(v.map(Secret::new)),
        };
        let unused = |f: &str, set: bool, kind: &str| {
            if set {
                Err(self.err(k(f), format!("is not used by kind = \"{kind}\"")))
            } else {
                Ok(())
            }
        };
        let kind = match raw.kind.as_str() {
            "mastodon" => {
                unused("identifier", raw.identifier.is_some(), "mastodon")?;
                unused("app_password", raw.app_password.is_some(), "mastodon")?;
                if hashtags.is_empty() && search.is_none() {
                    return Err(
                        self.err(k("hashtags"), "give hashtags to follow, a search, or both")
                    );
                }
                PollKind::Mastodon {
                    hashtags: hashtags.clone(),
                    search: search.clone(),
                    token: secret("token", raw.token)?,
                }
            }
            "bluesky" => {
                unused("token", raw.token.is_some(), "bluesky")?;
                unused("hashtags", !hashtags.is_empty(), "bluesky")?;
                let Some(q) = search.clone() else {
                    return Err(self.err(k("search"), "is required: what to search posts for"));
                };
                let login = match (raw.identifier, secret("app_password", raw.app_password)?) {
                    (Some(id), Some(pw)) if !id.trim().is_empty() => {
                        Some((id.trim().to_owned(), pw))
                    }
                    (None, None) => None,
                    (Some(_), Some(_)) => {
                        return Err(self.err(k("identifier"), "must not be empty"));
                    }
                    _ => {
                        return Err(
                            self.err(k("app_password"), "identifier and app_password go together")
                        );
                    }
                };
                PollKind::Bluesky { search: q, login }
            }
            "feed" => {
                for (f, set) in [
                    ("token", raw.token.is_some()),
                    ("identifier", raw.identifier.is_some()),
                    ("app_password", raw.app_password.is_some()),
                    ("hashtags", !hashtags.is_empty()),
                    ("search", search.is_some()),
                ] {
                    unused(f, set, "feed")?;
                }
                if include.is_empty() {
                    return Err(self.err(
                        k("include"),
                        "a feed needs inclusion words: the words a relevant entry carries",
                    ));
                }
                PollKind::Feed
            }
            other => {
                let shown: String = other.chars().take(40).collect();
                return Err(self.err(
                    k("kind"),
                    format!("{shown:?} is not a poller: use mastodon, bluesky or feed"),
                ));
            }
        };
        // Inclusion words default to what the poller asks the source for.
        let include = if include.is_empty() {
            let mut words = hashtags;
            words.extend(search.iter().flat_map(|s| {
                s.split_whitespace()
                    .filter(|w| !w.starts_with('-') && !w.contains(':'))
                    .map(|w| {
                        w.trim_matches(|c: char| !c.is_alphanumeric())
                            .to_lowercase()
                    })
                    .filter(|w| !w.is_empty() && !matches!(w.as_str(), "or" | "and"))
                    .collect::<Vec<_>>()
            }));
            words
        } else {
            include
        };
        let languages = raw
            .languages
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let l = l.trim().to_ascii_lowercase();
                if (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase()) {
                    Ok(l)
                } else {
                    Err(self.err(
                        format!("{key}.languages[{i}]"),
                        format!("{l:?} is not a language code such as en or pt"),
                    ))
                }
            })
            .collect::<Result<_, _>>()?;
        let min_score = raw.min_score.unwrap_or(3);
        if !(1..=20).contains(&min_score) {
            return Err(self.err(k("min_score"), "must be between 1 and 20"));
        }
        Ok(PollConfig {
            kind,
            url: url.trim_end_matches('/').to_owned(),
            include,
            exclude,
            languages,
            every: self.span(
                &k("every"),
                raw.every,
                Span::from_secs(60),
                Span::from_secs(10),
                Span::from_secs(3600),
            )?,
            timeout: self.span(
                &k("timeout"),
                raw.timeout,
                Span::from_secs(10),
                Span::from_secs(1),
                Span::from_secs(60),
            )?,
            min_score,
        })
    }

    /// A list of words or phrases, lower case; hashtags lose their `#`.
    fn words(
        &self,
        key: &str,
        raw: Vec<String>,
        hashtags: bool,
    ) -> Result<Vec<String>, crate::ConfigError> {
        if raw.len() > MAX_WORDS {
            return Err(self.err(key, format!("at most {MAX_WORDS} entries")));
        }
        let mut out: Vec<String> = Vec::with_capacity(raw.len());
        for (i, w) in raw.into_iter().enumerate() {
            let ik = format!("{key}[{i}]");
            let w = w.trim();
            let w = if hashtags {
                w.trim_start_matches('#')
            } else {
                w
            };
            if w.is_empty() {
                return Err(self.err(ik, "must not be empty"));
            }
            if w.chars().count() > MAX_WORD {
                return Err(self.err(ik, format!("must be at most {MAX_WORD} characters")));
            }
            if w.chars().any(char::is_control) {
                return Err(self.err(ik, "must not contain control characters"));
            }
            if hashtags && !w.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(self.err(ik, "a hashtag is letters, digits and _ only"));
            }
            let w = w.to_lowercase();
            if !out.contains(&w) {
                out.push(w);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_str;

    fn with_poll(poll: &str) -> Result<PollConfig, String> {
        let text = format!(
            "[[service]]\nid = \"m\"\nname = \"M\"\n[[service.signal]]\nsource = \"social\"\nname = \"Social\"\n[service.signal.poll]\n{poll}\n"
        );
        parse_str(&text, "test.toml")
            .map(|c| c.services[0].signals[0].poll.clone().unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn each_kind_parses_with_its_defaults() {
        let m = with_poll(
            "kind = \"mastodon\"\nurl = \"https://social.example/\"\nhashtags = [\"#MelodiaDown\"]\nsearch = \"melodia -festival\"",
        )
        .unwrap();
        let PollKind::Mastodon {
            hashtags,
            search,
            token,
        } = &m.kind
        else {
            panic!("{m:?}")
        };
        assert_eq!(hashtags, &["melodiadown"]);
        assert_eq!(search.as_deref(), Some("melodia -festival"));
        assert!(token.is_none());
        assert_eq!(m.url, "https://social.example");
        assert_eq!(
            m.include,
            ["melodiadown", "melodia"],
            "hashtags and search words"
        );
        assert_eq!(
            (m.every.as_secs(), m.timeout.as_secs(), m.min_score),
            (60, 10, 3)
        );

        let b = with_poll(
            "kind = \"bluesky\"\nurl = \"https://appview.example\"\nsearch = \"melodia\"\nidentifier = \"me.example\"\napp_password = \"abcd-efgh\"\nlanguages = [\"EN\", \"pt\"]\nevery = \"2m\"",
        )
        .unwrap();
        let PollKind::Bluesky { search, login } = &b.kind else {
            panic!("{b:?}")
        };
        assert_eq!(search, "melodia");
        assert_eq!(login.as_ref().map(|l| l.0.as_str()), Some("me.example"));
        assert_eq!(format!("{:?}", login.as_ref().unwrap().1), "Secret(***)");
        assert_eq!(b.languages, ["en", "pt"]);
        assert_eq!(b.every.as_secs(), 120);

        let f = with_poll(
            "kind = \"feed\"\nurl = \"https://forum.example/feed\"\ninclude = [\"Melodia\"]",
        )
        .unwrap();
        assert_eq!(f.kind.as_str(), "feed");
        assert_eq!(f.include, ["melodia"]);
    }

    #[test]
    fn mistakes_are_named_by_their_key() {
        let key = "service[0].signal[0].poll";
        for (poll, at, says) in [
            (
                "kind = \"twitter\"\nurl = \"https://x.example\"",
                "kind",
                "not a poller",
            ),
            (
                "kind = \"feed\"\nurl = \"ftp://x.example\"\ninclude = [\"m\"]",
                "url",
                "http:// or https://",
            ),
            (
                "kind = \"feed\"\nurl = \"https://\"\ninclude = [\"m\"]",
                "url",
                "with a host",
            ),
            (
                "kind = \"feed\"\nurl = \"https://x.example\"",
                "include",
                "inclusion words",
            ),
            (
                "kind = \"feed\"\nurl = \"https://x.example\"\ninclude = [\"m\"]\nsearch = \"m\"",
                "search",
                "not used by kind = \"feed\"",
            ),
            (
                "kind = \"mastodon\"\nurl = \"https://x.example\"",
                "hashtags",
                "give hashtags",
            ),
            (
                "kind = \"mastodon\"\nurl = \"https://x.example\"\nhashtags = [\"two words\"]",
                "hashtags[0]",
                "letters, digits",
            ),
            (
                "kind = \"mastodon\"\nurl = \"https://x.example\"\nhashtags = [\"m\"]\nidentifier = \"a\"",
                "identifier",
                "not used",
            ),
            (
                "kind = \"mastodon\"\nurl = \"https://x.example\"\nhashtags = [\"m\"]\ntoken = \"a b\"",
                "token",
                "without spaces",
            ),
            (
                "kind = \"bluesky\"\nurl = \"https://x.example\"",
                "search",
                "is required",
            ),
            (
                "kind = \"bluesky\"\nurl = \"https://x.example\"\nsearch = \"m\"\nidentifier = \"a\"",
                "app_password",
                "go together",
            ),
            (
                "kind = \"feed\"\nurl = \"https://x.example\"\ninclude = [\"\"]",
                "include[0]",
                "must not be empty",
            ),
            (
                "kind = \"feed\"\nurl = \"https://x.example\"\ninclude = [\"m\"]\nlanguages = [\"english\"]",
                "languages[0]",
                "language code",
            ),
            (
                "kind = \"feed\"\nurl = \"https://x.example\"\ninclude = [\"m\"]\nevery = \"1s\"",
                "every",
                "",
            ),
            (
                "kind = \"feed\"\nurl = \"https://x.example\"\ninclude = [\"m\"]\nmin_score = 0",
                "min_score",
                "between 1 and 20",
            ),
        ] {
            let e = with_poll(poll).unwrap_err();
            assert!(
                e.contains(&format!("{key}.{at}")) && e.contains(says),
                "{poll}: {e}"
            );
        }
    }
}
