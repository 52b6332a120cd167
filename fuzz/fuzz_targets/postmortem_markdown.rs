//! A post-mortem's Markdown as the status page renders it (`downbeat_web::markdown::to_html`).
//! The renderer promises that raw HTML in the source is text and that only http(s), mailto
//! and same-site links survive; so no `<script`, `<img`, `<iframe` or other tag than the ones
//! Markdown itself makes can appear, and every `href` is a safe one.
#![no_main]

use downbeat_web::markdown::to_html;
use libfuzzer_sys::fuzz_target;

/// The tags CommonMark with tables, strikethrough and task lists produces.
const ALLOWED: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "em",
    "strong",
    "del",
    "a",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "blockquote",
    "hr",
    "br",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "input",
    "sup",
    "div",
    "span",
];

fn safe_href(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || (lower.starts_with('/') && !lower.starts_with("//"))
        || lower.starts_with('#')
}

fuzz_target!(|source: &str| {
    let html = to_html(source);
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "{source:?} -> {html}");
    assert!(!lower.contains("<img"), "{source:?} -> {html}");
    // Every tag is one Markdown makes: `<` followed by a name is never the source's.
    let mut rest = lower.as_str();
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let name: String = rest
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(
            ALLOWED.contains(&name.as_str()),
            "tag {name:?} from {source:?} -> {html}"
        );
    }
    let mut rest = html.as_str();
    while let Some(i) = rest.find(" href=\"") {
        rest = &rest[i + 7..];
        let end = rest.find('"').expect("an href is quoted");
        // pulldown-cmark escapes the URL; `&amp;` and friends do not change the scheme.
        assert!(
            safe_href(&rest[..end]),
            "href {:?} from {source:?}",
            &rest[..end]
        );
    }
});
