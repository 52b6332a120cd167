//! Clustering the short error texts listeners type with a report ("What does the error
//! say?"), such as "Something went wrong".
//!
//! Texts are free input, so two rules decide what a status page may show:
//!
//! - **Near-identical texts are one message.** [`normalise`] gives each text a key: lower
//!   case; quotes and apostrophes dropped (so "Can't", "Can’t" and "cant" are all "cant");
//!   every word holding a digit (numbers, hex ids, UUIDs, codes like `E-1234`, `0x1f`,
//!   `AB12CD34`, `#4`) replaced by `#`; a trailing `(error 4)`-style part dropped; repeated,
//!   sentence-ending and trailing punctuation dropped; whitespace collapsed. Texts with the
//!   same key form a [`Cluster`].
//! - **Nothing personal or abusive is shown, and nothing one network alone says.**
//!   [`showable`] refuses a text holding a URL, a bare domain (any `word.tld`, since new
//!   top-level domains keep coming: `melodia.app`), an e-mail address, a phone number (seven
//!   or more digits; a seven-digit error code looks the same and is refused too) or a blocked
//!   word; such a text never counts towards any cluster. [`clusters`] returns a cluster only
//!   once reports from at least [`Rules::min_networks`] distinct networks carry it.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One report's message as stored: the text the listener typed, the (hashed) /24 or /48
/// network they reported from, and when (unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting<'a> {
    /// The text as typed.
    pub text: &'a str,
    /// The hashed network the report came from.
    pub network: [u8; 16],
    /// When the report was made (unix ms).
    pub at_ms: i64,
}

/// What makes a cluster visible.
#[derive(Debug, Clone)]
pub struct Rules {
    /// A cluster is shown only once reports from at least this many distinct networks carry
    /// it (default 3).
    pub min_networks: usize,
    /// Words that keep a text from ever being shown (case-insensitive, whole words), on top
    /// of the built-in rules. An entry of several words matches them in sequence.
    pub blocked_words: Vec<String>,
    /// Keys ([`normalise`]) of clusters an operator hid: never returned.
    pub hidden: std::collections::BTreeSet<String>,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            min_networks: 3,
            blocked_words: Vec::new(),
            hidden: std::collections::BTreeSet::new(),
        }
    }
}

/// A group of near-identical messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// A readable representative: the most common original variant (ties: the earliest
    /// seen), trimmed, whitespace collapsed.
    pub text: String,
    /// The normalised key the variants share.
    pub key: String,
    /// Reports carrying it.
    pub count: u64,
    /// Distinct networks among them.
    pub networks: usize,
    /// When the first of them was made (unix ms).
    pub first_seen_ms: i64,
    /// When the last of them was made (unix ms).
    pub last_seen_ms: i64,
}

/// Words that may stand next to a code in a trailing bracketed part that is dropped:
/// "(error 4)", "[code: E-12]", "(HTTP 503)".
const CODE_WORDS: &[&str] = &["error", "err", "code", "status", "id", "ref", "http"];

/// Characters that join two word characters into one word ("e-1234", "wi-fi", "4/5").
const JOINERS: &[char] = &['-', '_', '.', '/'];

/// Punctuation that ends a sentence: dropped at the end of a word.
const SENTENCE_END: &[char] = &['.', '!', '?', '…'];

/// Quotes and apostrophes of every kind; all are dropped.
fn is_quote(c: char) -> bool {
    matches!(
        c,
        '\'' | '"'
            | '`'
            | '´'
            | '‘'
            | '’'
            | '‚'
            | '‛'
            | '“'
            | '”'
            | '„'
            | '‟'
            | '′'
            | '″'
            | '«'
            | '»'
            | '‹'
            | '›'
    )
}

/// Invisible characters that only get in the way (zero-width spaces and joiners, BOM).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}'
    )
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '#'
}

fn is_open(c: char) -> bool {
    matches!(c, '(' | '[' | '{')
}

fn is_close(c: char) -> bool {
    matches!(c, ')' | ']' | '}')
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Space,
    Punct(char),
}

impl Tok {
    fn is_placeholder(&self) -> bool {
        matches!(self, Tok::Word(w) if w == "#")
    }
    /// Punctuation other than brackets.
    fn is_plain_punct(&self) -> bool {
        matches!(self, Tok::Punct(c) if !is_open(*c) && !is_close(*c))
    }
}

/// Words (runs of letters, digits and `#`, with [`JOINERS`] inside), single spaces for runs
/// of whitespace, and punctuation, with quotes and invisible characters dropped.
fn tokenize(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text
        .chars()
        .filter(|&c| !is_quote(c) && !is_invisible(c))
        .collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            if toks.last() != Some(&Tok::Space) {
                toks.push(Tok::Space);
            }
            i += 1;
        } else if is_word_char(c) {
            let mut word = String::new();
            word.push(c);
            i += 1;
            while i < chars.len() {
                if is_word_char(chars[i]) {
                    word.push(chars[i]);
                    i += 1;
                } else if JOINERS.contains(&chars[i])
                    && chars.get(i + 1).is_some_and(|&n| is_word_char(n))
                {
                    word.push(chars[i]);
                    word.push(chars[i + 1]);
                    i += 2;
                } else {
                    break;
                }
            }
            toks.push(Tok::Word(word));
        } else {
            toks.push(Tok::Punct(c));
            i += 1;
        }
    }
    toks
}

/// Replaces every word holding a digit (or `#`) by the placeholder `#`, a run of
/// placeholders separated by single spaces becoming one.
fn replace_codes(toks: Vec<Tok>) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    for t in toks {
        let t = match t {
            Tok::Word(w) if w.chars().any(|c| c.is_numeric() || c == '#') => Tok::Word("#".into()),
            t => t,
        };
        if t.is_placeholder() {
            let n = out.len();
            if n >= 2 && out[n - 1] == Tok::Space && out[n - 2].is_placeholder() {
                out.pop();
                continue;
            }
        }
        out.push(t);
    }
    out
}

/// Drops runs of two or more punctuation marks ("!!!", "?!", "--"), ellipses, and a
/// sentence-ending mark at the end of a word ("wrong. Try" → "wrong Try"). Brackets stay.
fn drop_punctuation(toks: Vec<Tok>) -> Vec<Tok> {
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        if !toks[i].is_plain_punct() {
            out.push(toks[i].clone());
            i += 1;
            continue;
        }
        let start = i;
        while i < toks.len() && toks[i].is_plain_punct() {
            i += 1;
        }
        let run = &toks[start..i];
        let ends_word = matches!(toks.get(i), None | Some(Tok::Space));
        let drop = run.len() >= 2
            || run
                .iter()
                .any(|t| matches!(t, Tok::Punct(c) if *c == '…' || (ends_word && SENTENCE_END.contains(c))));
        if !drop {
            out.extend_from_slice(run);
        }
    }
    out
}

/// Whether `inner` (the inside of a bracketed part) holds only a code: placeholders, the
/// [`CODE_WORDS`], spaces and punctuation, with at least one placeholder.
fn only_code(inner: &[Tok]) -> bool {
    inner.iter().any(Tok::is_placeholder)
        && inner.iter().all(|t| match t {
            Tok::Word(w) => w == "#" || CODE_WORDS.contains(&w.as_str()),
            Tok::Space => true,
            Tok::Punct(c) => !is_open(*c) && !is_close(*c),
        })
}

/// Drops a last sentence or clause that holds only a code ("Something went wrong. Error
/// code 1234", "Playback failed - code 7"): the tokens after the last `.`, `!`, `?`, `:`,
/// `;`, `-` or `—` that is followed by a space, when they hold only codes and the
/// [`CODE_WORDS`]. A text that is only a code ("Error 503") has no such break and stays.
fn drop_code_sentence(mut toks: Vec<Tok>) -> Vec<Tok> {
    let cut = (1..toks.len()).rev().find(|&i| {
        matches!(toks[i - 1], Tok::Punct(c) if matches!(c, '.' | '!' | '?' | ':' | ';' | '-' | '—'))
            && toks[i] == Tok::Space
    });
    // What stays must say something besides a code ("Error: 503" stays whole).
    let says_more = |part: &[Tok]| {
        part.iter()
            .any(|t| matches!(t, Tok::Word(w) if w != "#" && !CODE_WORDS.contains(&w.as_str())))
    };
    if let Some(i) = cut
        && only_code(&toks[i..])
        && says_more(&toks[..i - 1])
    {
        toks.truncate(i - 1);
    }
    toks
}

/// Drops leading spaces and punctuation, and from the end: spaces, punctuation and
/// bracketed parts that hold only a code, until none is left.
fn trim_ends(mut toks: Vec<Tok>) -> Vec<Tok> {
    loop {
        while toks
            .last()
            .is_some_and(|t| *t == Tok::Space || t.is_plain_punct())
        {
            toks.pop();
        }
        let Some(Tok::Punct(close)) = toks.last() else {
            break;
        };
        if !is_close(*close) {
            break;
        }
        // The opening bracket that matches the last one.
        let mut depth = 0usize;
        let mut open_at = None;
        for (j, t) in toks.iter().enumerate().rev() {
            match t {
                Tok::Punct(c) if is_close(*c) => depth += 1,
                Tok::Punct(c) if is_open(*c) => {
                    depth -= 1;
                    if depth == 0 {
                        open_at = Some(j);
                        break;
                    }
                }
                _ => {}
            }
        }
        match open_at {
            Some(j) if only_code(&toks[j + 1..toks.len() - 1]) => toks.truncate(j),
            _ => break,
        }
    }
    let lead = toks
        .iter()
        .take_while(|t| **t == Tok::Space || t.is_plain_punct())
        .count();
    toks.drain(..lead);
    toks
}

/// The normalised form of a message, the key near-identical texts share:
///
/// - lower case;
/// - quotes and apostrophes of every kind (straight, curly, guillemets, backticks) dropped,
///   so "Can't", "Can’t" and "cant" all read "cant";
/// - every word that holds a digit replaced by the placeholder `#`: numbers, hex ids
///   (`0x1f`, `AB12CD34`), UUIDs, error codes (`E-1234`, `#4`); a word may hold `-`, `_`,
///   `.` and `/` between its letters and digits, so `E-1234` and `4/5` are one word. Words
///   like `mp3` or `4g` become `#` too. Placeholders separated by single spaces become one;
/// - a last sentence or clause that holds only a code dropped ("Something went wrong.
///   Error code 1234" → "something went wrong"), unless nothing but a code is left;
/// - a trailing parenthesised, bracketed or braced part that holds only codes, spaces,
///   punctuation and the words error, err, code, status, id, ref or http dropped
///   ("Something went wrong (error 4)" → "something went wrong");
/// - runs of two or more punctuation marks (`!!!`, `...`, `?!`) and ellipses dropped
///   anywhere, a single `.`, `!` or `?` at the end of a word dropped, and any punctuation
///   other than brackets dropped at the start and the end;
/// - runs of whitespace collapsed to one space, leading and trailing whitespace trimmed.
///
/// ```
/// use downbeat_crowd::messages::normalise;
/// assert_eq!(normalise("Something went wrong (error 4)"), "something went wrong");
/// assert_eq!(normalise("Error 503: service unavailable"), "error #: service unavailable");
/// ```
pub fn normalise(text: &str) -> String {
    let toks = trim_ends(drop_punctuation(drop_code_sentence(replace_codes(
        tokenize(&text.to_lowercase()),
    ))));
    let mut s = String::new();
    for t in &toks {
        match t {
            Tok::Word(w) => s.push_str(w),
            Tok::Space => s.push(' '),
            Tok::Punct(c) => s.push(*c),
        }
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lower-case words of a text (runs of letters and digits), apostrophes dropped first so
/// "can't" is one word.
fn words(text: &str) -> Vec<String> {
    let cleaned: String = text
        .to_lowercase()
        .chars()
        .filter(|&c| !is_quote(c) && !is_invisible(c))
        .collect();
    cleaned
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A URL: a scheme (`://`), `www.`, or a bare domain: a run of letters, digits, `-` and
/// `.` made of at least two non-empty labels whose last is two or more letters
/// (`example.com`, `melodia-status.com`, `melodia.app`).
fn has_url(lower: &str) -> bool {
    if lower.contains("://") || lower.contains("www.") {
        return true;
    }
    lower
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '.'))
        .map(|chunk| chunk.trim_matches(|c| c == '.' || c == '-'))
        .any(|chunk| {
            let labels: Vec<&str> = chunk.split('.').collect();
            labels.len() >= 2
                && labels.iter().all(|l| !l.is_empty())
                && labels.last().is_some_and(|tld| {
                    tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic)
                })
        })
}

/// An e-mail address (or a handle): an `@` with a letter or digit on both sides.
fn has_email(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().any(|(i, &c)| {
        c == '@'
            && i > 0
            && chars[i - 1].is_alphanumeric()
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())
    })
}

/// A phone number: seven or more digits with at most three separators (whitespace, `-`,
/// `.`, `(`, `)`, `+`) between any two of them.
fn has_phone(text: &str) -> bool {
    let mut digits = 0;
    let mut gap = 0;
    for c in text.chars() {
        if c.is_numeric() {
            digits += 1;
            gap = 0;
            if digits >= 7 {
                return true;
            }
        } else if digits > 0
            && gap < 3
            && (c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')' | '+'))
        {
            gap += 1;
        } else {
            digits = 0;
            gap = 0;
        }
    }
    false
}

/// Whether a blocked word (or sequence of words) occurs as whole words in `text`.
fn has_blocked(text: &str, blocked: &[String]) -> bool {
    if blocked.is_empty() {
        return false;
    }
    let found = words(text);
    blocked.iter().any(|b| {
        let b = words(b);
        !b.is_empty() && found.windows(b.len()).any(|w| w == b.as_slice())
    })
}

/// Whether a text may ever be shown. False when it:
///
/// - is empty or whitespace only;
/// - holds a URL: a scheme (`scheme://`), `www.`, or a bare domain. Any `name.tld` whose
///   last part is two or more letters counts, since top-level domains are open-ended
///   (`example.com`, `melodia.app`); so a missing space after a full stop ("failed.Retry")
///   is refused too, while "e.g." and "version 2.3" are not domains;
/// - holds an e-mail address: an `@` with a letter or digit on both sides;
/// - holds a phone number: seven or more digits, allowing whitespace, dashes, dots,
///   parentheses and `+` between them. A seven-digit error code ("Error code 1234567") or a
///   long id looks the same and is refused too: the safe side;
/// - holds one of `rules.blocked_words` as whole words, case-insensitively (apostrophes are
///   ignored on both sides, so "cant" blocks "can't").
pub fn showable(text: &str, rules: &Rules) -> bool {
    if text.trim().is_empty() {
        return false;
    }
    let lower = text.to_lowercase();
    !(has_url(&lower)
        || has_email(&lower)
        || has_phone(&lower)
        || has_blocked(&lower, &rules.blocked_words))
}

/// A variant of a cluster: how often it was seen, when first, and where in the input.
struct Variant {
    count: u64,
    first_ms: i64,
    first_index: usize,
}

struct Acc {
    count: u64,
    networks: HashSet<[u8; 16]>,
    first_ms: i64,
    last_ms: i64,
    variants: HashMap<String, Variant>,
}

/// The visible clusters among `sightings`: sightings whose text is not [`showable`] are left
/// out entirely (they count for nothing); the others are grouped by [`normalise`]d key (an
/// empty key is left out); a cluster is returned only if its distinct networks >=
/// `rules.min_networks`. Sorted by count descending, then key ascending.
///
/// The representative text is the most common variant, variants compared trimmed with
/// whitespace collapsed; ties go to the one seen earliest (by time, then by order in
/// `sightings`).
pub fn clusters(sightings: &[Sighting<'_>], rules: &Rules) -> Vec<Cluster> {
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    for (index, s) in sightings.iter().enumerate() {
        if !showable(s.text, rules) {
            continue;
        }
        let key = normalise(s.text);
        if key.is_empty() {
            continue;
        }
        let acc = groups.entry(key).or_insert_with(|| Acc {
            count: 0,
            networks: HashSet::new(),
            first_ms: s.at_ms,
            last_ms: s.at_ms,
            variants: HashMap::new(),
        });
        acc.count += 1;
        acc.networks.insert(s.network);
        acc.first_ms = acc.first_ms.min(s.at_ms);
        acc.last_ms = acc.last_ms.max(s.at_ms);
        let display = s.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let v = acc.variants.entry(display).or_insert(Variant {
            count: 0,
            first_ms: s.at_ms,
            first_index: index,
        });
        v.count += 1;
        if s.at_ms < v.first_ms {
            v.first_ms = s.at_ms;
        }
    }
    let mut out: Vec<Cluster> = groups
        .into_iter()
        .filter(|(key, acc)| {
            acc.networks.len() >= rules.min_networks && !rules.hidden.contains(key)
        })
        .map(|(key, acc)| {
            let text = acc
                .variants
                .iter()
                .min_by(|a, b| {
                    b.1.count
                        .cmp(&a.1.count)
                        .then(a.1.first_ms.cmp(&b.1.first_ms))
                        .then(a.1.first_index.cmp(&b.1.first_index))
                })
                .map(|(text, _)| text.clone())
                .unwrap_or_default();
            Cluster {
                text,
                key,
                count: acc.count,
                networks: acc.networks.len(),
                first_seen_ms: acc.first_ms,
                last_seen_ms: acc.last_ms,
            }
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(n: u8) -> [u8; 16] {
        let mut a = [0u8; 16];
        a[0] = n;
        a
    }

    fn sighting(text: &str, network: u8, at_ms: i64) -> Sighting<'_> {
        Sighting {
            text,
            network: net(network),
            at_ms,
        }
    }

    #[test]
    fn normalise_groups_real_variants() {
        let table: &[(&str, &str)] = &[
            ("Something went wrong", "something went wrong"),
            ("something went wrong!!", "something went wrong"),
            ("Something went wrong (error 4)", "something went wrong"),
            ("  Something   went wrong. ", "something went wrong"),
            ("“Something went wrong”", "something went wrong"),
            ("SOMETHING WENT WRONG?!", "something went wrong"),
            ("Something went wrong [E-1234].", "something went wrong"),
            ("Something went wrong… (#4)", "something went wrong"),
            ("Something went wrong (code: 0x1f)!", "something went wrong"),
            (
                "Something went wrong. Error code 1234",
                "something went wrong",
            ),
            ("Playback failed - code 7", "playback failed"),
            ("Error: 503", "error: #"),
            ("Oops!! Something went wrong", "oops something went wrong"),
            ("Oops! Something went wrong.", "oops something went wrong"),
            (
                "Error 503: service unavailable",
                "error #: service unavailable",
            ),
            (
                "error 502: service unavailable",
                "error #: service unavailable",
            ),
            ("Can't log in", "cant log in"),
            ("Can’t log in", "cant log in"),
            ("cant log in", "cant log in"),
            ("CAN'T LOG IN!!!", "cant log in"),
            ("Playback error E-1234", "playback error #"),
            ("Playback error E-99", "playback error #"),
            ("Playback error #4", "playback error #"),
            ("Playback error 0x1F", "playback error #"),
            ("Playback error AB12CD34", "playback error #"),
            (
                "Request id 3f2a9c1e-7b4d-4e2a-9c1e-5d6f7a8b9c0d failed",
                "request id # failed",
            ),
            (
                "Request id 0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e failed",
                "request id # failed",
            ),
            (
                "Wi-Fi connected but nothing loads",
                "wi-fi connected but nothing loads",
            ),
            (
                "Something went wrong (again)",
                "something went wrong (again)",
            ),
            ("!!!", ""),
            ("   ", ""),
        ];
        for (text, key) in table {
            assert_eq!(normalise(text), *key, "normalise({text:?})");
        }
    }

    #[test]
    fn normalise_keeps_different_messages_apart() {
        let pairs = [
            ("Can't log in", "Can't play songs"),
            ("No internet connection", "Something went wrong"),
            ("Error 503: service unavailable", "Error 503: bad gateway"),
            ("Something went wrong (again)", "Something went wrong"),
            ("Playback error E-1234", "Login error E-1234"),
        ];
        for (a, b) in pairs {
            assert_ne!(normalise(a), normalise(b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn showable_refuses_links_addresses_numbers_and_blocked_words() {
        let rules = Rules {
            blocked_words: vec!["Damn".into(), "rip off".into()],
            ..Rules::default()
        };
        for text in [
            "see https://evil.example/x",
            "go to www.example.com",
            "visit melodia-status.com now",
            "works on melodia.app",
            "mail me at a.b@example.org",
            "call +1 (555) 123-4567",
            "call 555 123 4567",
            "Error code 1234567",
            "damn it, nothing plays",
            "DAMN!",
            "what a rip off",
            "",
            "   ",
        ] {
            assert!(!showable(text, &rules), "{text:?} should not be shown");
        }
        for text in [
            "Something went wrong",
            "Error 503",
            "Error 503. Try again",
            "Error 123456",
            "Can't log in",
            "e.g. after the update",
            "version 2.3 broke it",
            "Damnation is a band name",
            "rip it off",
        ] {
            assert!(showable(text, &rules), "{text:?} should be shown");
        }
        // Without the blocked words, the same texts are fine.
        assert!(showable("damn it, nothing plays", &Rules::default()));
    }

    #[test]
    fn a_hidden_cluster_is_never_returned_whatever_its_variant() {
        let s: Vec<Sighting> = (0..4)
            .flat_map(|n| {
                [
                    sighting("Melodia sucks!!", n, 1),
                    sighting("Can't log in", n, 2),
                ]
            })
            .collect();
        assert_eq!(clusters(&s, &Rules::default()).len(), 2);
        let rules = Rules {
            hidden: [normalise("MELODIA SUCKS")].into_iter().collect(),
            ..Rules::default()
        };
        let left: Vec<String> = clusters(&s, &rules).into_iter().map(|c| c.text).collect();
        assert_eq!(left, ["Can't log in"]);
    }

    #[test]
    fn clusters_need_enough_networks() {
        let rules = Rules::default();
        let mut s: Vec<Sighting> = (0..10)
            .map(|i| sighting("Something went wrong", (i % 2) as u8, 1_000 + i))
            .collect();
        assert!(clusters(&s, &rules).is_empty(), "10 reports, 2 networks");
        s.push(sighting("Something went wrong!", 2, 5_000));
        let c = clusters(&s, &rules);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].count, 11);
        assert_eq!(c[0].networks, 3);
        // A lower bar shows it from two networks.
        let two = Rules {
            min_networks: 2,
            ..Rules::default()
        };
        assert_eq!(clusters(&s[..10], &two).len(), 1);
    }

    #[test]
    fn clusters_count_times_and_representative() {
        let s = [
            sighting("something went wrong!!", 1, 5_000),
            sighting("Something went wrong", 2, 2_000),
            sighting("  Something   went wrong ", 3, 9_000),
            sighting("something went wrong!!", 4, 7_000),
            sighting("something went wrong!!", 5, 3_000),
            sighting("SOMETHING WENT WRONG", 6, 1_000),
        ];
        let c = clusters(&s, &Rules::default());
        assert_eq!(
            c,
            vec![Cluster {
                text: "something went wrong!!".into(),
                key: "something went wrong".into(),
                count: 6,
                networks: 6,
                first_seen_ms: 1_000,
                last_seen_ms: 9_000,
            }]
        );

        // A tie goes to the variant seen earliest, not the one listed first.
        let s = [
            sighting("Can't log in", 1, 8_000),
            sighting("Can’t log in!", 2, 4_000),
            sighting("Can't log in", 3, 9_000),
            sighting("Can’t log in!", 4, 6_000),
        ];
        let c = clusters(&s, &Rules::default());
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].text, "Can’t log in!");
        assert_eq!(c[0].key, "cant log in");

        // Variants differing only in whitespace are one variant.
        let s = [
            sighting("Can’t log in!", 1, 4_000),
            sighting("Can’t log in!", 2, 6_000),
            sighting("Can't log in", 3, 8_000),
            sighting("  Can't   log in ", 4, 9_000),
            sighting("Can't\tlog in", 5, 10_000),
        ];
        let c = clusters(&s, &Rules::default());
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].text, "Can't log in");
        assert_eq!(c[0].count, 5);
    }

    #[test]
    fn clusters_sorted_by_count_then_key() {
        let mut s = Vec::new();
        for n in 0..5 {
            s.push(sighting("No internet connection", n, 1));
            s.push(sighting("Can't log in", n, 1));
        }
        for n in 0..7 {
            s.push(sighting("Something went wrong", n, 1));
        }
        for n in 0..2 {
            s.push(sighting("Rare message", n, 1));
        }
        let keys: Vec<String> = clusters(&s, &Rules::default())
            .into_iter()
            .map(|c| c.key)
            .collect();
        assert_eq!(
            keys,
            [
                "something went wrong",
                "cant log in",
                "no internet connection"
            ]
        );
    }

    #[test]
    fn unshowable_variants_count_for_nothing() {
        // The domain holds a digit, so it normalises like its showable sibling.
        assert_eq!(
            normalise("Error 503 from edge3.example.net"),
            normalise("Error 503 from edge4")
        );
        let rules = Rules::default();
        let mut s = vec![
            sighting("Error 503 from edge4", 1, 1_000),
            sighting("Error 503 from edge4", 2, 2_000),
        ];
        for n in 3..8 {
            s.push(sighting("Error 503 from edge3.example.net", n, 500));
        }
        assert!(clusters(&s, &rules).is_empty(), "only two networks count");
        s.push(sighting("Error 503 from edge7", 3, 3_000));
        let c = clusters(&s, &rules);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].text, "Error 503 from edge4");
        assert_eq!(c[0].key, "error # from #");
        assert_eq!((c[0].count, c[0].networks), (3, 3));
        assert_eq!((c[0].first_seen_ms, c[0].last_seen_ms), (1_000, 3_000));

        // Blocked words and empty keys are left out too.
        let rules = Rules {
            blocked_words: vec!["wtf".into()],
            ..Rules::default()
        };
        let s: Vec<Sighting> = (0..5)
            .flat_map(|n| [sighting("WTF is this", n, 1), sighting("?!?!", n, 1)])
            .collect();
        assert!(clusters(&s, &rules).is_empty());
    }
}
