//! Posts as text: HTML (a Mastodon status, a feed entry's description) to plain words, and
//! a post's text bounded and cleaned the way the signals API cleans a sent post.

use downbeat_domain::signal::{MAX_POST_CHARS, MAX_URL_CHARS};

/// The text of an HTML fragment: tags dropped (a line or paragraph break becomes a
/// space), character references decoded, whitespace collapsed. Not a sanitiser: the
/// result is still untrusted text that every output escapes.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            match rest.find('>') {
                Some(end) => {
                    // A block's edge separates words ("<p>down</p><p>again</p>"); an
                    // inline tag does not ("#<span>MelodiaDown</span>").
                    if breaks(&rest[1..end]) {
                        out.push(' ');
                    }
                    rest = &rest[end + 1..];
                }
                None => {
                    // A '<' that opens no tag is text.
                    out.push('<');
                    rest = &rest[1..];
                }
            }
        } else {
            let (decoded, used) = reference(rest);
            out.push_str(&decoded);
            rest = &rest[used..];
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a tag (its text between `<` and `>`) ends a line of text.
fn breaks(tag: &str) -> bool {
    let name: String = tag
        .trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        name.as_str(),
        "p" | "br"
            | "div"
            | "li"
            | "ul"
            | "ol"
            | "blockquote"
            | "tr"
            | "td"
            | "th"
            | "hr"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "pre"
            | "section"
            | "article"
    )
}

/// The character reference at the start of `s` (which starts with `&`): its text and the
/// bytes it took; an unknown one is kept as written.
fn reference(s: &str) -> (String, usize) {
    let Some(end) = s[1..].find(';').map(|e| e + 1).filter(|&e| e <= 12) else {
        return ("&".into(), 1);
    };
    let name = &s[1..end];
    let named = match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        "hellip" => Some('…'),
        "mdash" => Some('—'),
        "ndash" => Some('–'),
        "rsquo" | "lsquo" => Some('\''),
        "rdquo" | "ldquo" => Some('"'),
        _ => None,
    };
    let numeric = || {
        let n = name.strip_prefix('#')?;
        let code = match n.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => n.parse().ok()?,
        };
        char::from_u32(code)
    };
    match named.or_else(numeric) {
        Some(c) => (c.to_string(), end + 1),
        None => ("&".into(), 1),
    }
}

/// A post's text as stored: control characters dropped, whitespace collapsed, at most
/// [`MAX_POST_CHARS`] characters (a longer post is cut, not refused: the source wrote it).
/// `None` when nothing is left.
pub fn post_text(text: &str) -> Option<String> {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .filter(|&c| !downbeat_domain::text::is_noncharacter(c))
        .collect();
    let words = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.is_empty() {
        return None;
    }
    Some(words.chars().take(MAX_POST_CHARS).collect())
}

/// A post's link when it is one the signals API would take (http or https, with a host,
/// no spaces, not too long); otherwise none, and the post is kept without it.
pub fn post_url(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let fit = !rest.is_empty()
        && !rest.starts_with('/')
        && url.chars().count() <= MAX_URL_CHARS
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    fit.then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_words() {
        for (html, text) in [
            (
                "<p>Is <a href=\"https://m.example/tags/MelodiaDown\" class=\"mention hashtag\">#<span>MelodiaDown</span></a> again?</p><p>can&#39;t log in</p>",
                "Is #MelodiaDown again? can't log in",
            ),
            ("down&nbsp;&amp;&nbsp;out<br/>again", "down & out again"),
            (
                "a &lt;b&gt; &#x41;&#66; &unknown; & <b>do</b>ne",
                "a <b> AB &unknown; & done",
            ),
            ("1 < 2 and no tag", "1 < 2 and no tag"),
            ("", ""),
        ] {
            assert_eq!(html_to_text(html), text, "{html}");
        }
    }

    #[test]
    fn post_text_and_url_are_bounded_and_cleaned() {
        assert_eq!(post_text(" a\u{7}b \n c ").as_deref(), Some("a b c"));
        assert_eq!(post_text(" \t "), None);
        assert_eq!(post_text(&"é".repeat(1500)).unwrap().chars().count(), 1000);
        assert_eq!(
            post_url("https://m.example/@a/1").as_deref(),
            Some("https://m.example/@a/1")
        );
        for bad in [
            "javascript:alert(1)",
            "https:///x",
            "https://a.example/a b",
            "ftp://a",
        ] {
            assert_eq!(post_url(bad), None, "{bad}");
        }
    }
}
