//! Post-mortems are Markdown written by operators; this renders them safely. Raw HTML in
//! the source is shown as text, never interpreted; links keep only http(s), mailto and
//! same-site targets; images become links (the pages load nothing from elsewhere).

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, html};

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || (lower.starts_with('/') && !lower.starts_with("//"))
        || lower.starts_with('#')
}

/// Markdown to HTML that cannot carry markup or script of its own.
pub fn to_html(source: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut dropped_links = 0usize;
    let events = Parser::new_ext(source, options).map(|event| match event {
        Event::Html(s) | Event::InlineHtml(s) => Event::Text(s),
        Event::Start(Tag::Image {
            dest_url,
            title,
            id,
            ..
        }) => {
            if safe_url(&dest_url) {
                Event::Start(Tag::Link {
                    link_type: LinkType::Inline,
                    dest_url,
                    title,
                    id,
                })
            } else {
                dropped_links += 1;
                Event::Text(CowStr::Borrowed(""))
            }
        }
        Event::End(TagEnd::Image) if dropped_links > 0 => {
            dropped_links -= 1;
            Event::Text(CowStr::Borrowed(""))
        }
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        Event::Start(Tag::Link { dest_url, .. }) if !safe_url(&dest_url) => {
            dropped_links += 1;
            Event::Text(CowStr::Borrowed(""))
        }
        Event::End(TagEnd::Link) if dropped_links > 0 => {
            dropped_links -= 1;
            Event::Text(CowStr::Borrowed(""))
        }
        other => other,
    });
    let mut out = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn markdown_renders_and_markup_does_not() {
        let h = to_html("# Root cause\n\nA *certificate* expired.\n\n- renewed\n- monitored");
        assert!(
            h.contains("<h1>Root cause</h1>") && h.contains("<em>certificate</em>"),
            "{h}"
        );
        assert!(h.contains("<li>renewed</li>"), "{h}");
        for hostile in [
            "<script>alert(1)</script>",
            "hi <img src=x onerror=alert(1)> there",
            "<div onclick=\"x()\">block</div>",
        ] {
            let h = to_html(hostile);
            assert!(
                !h.contains("<script") && !h.contains("<img") && !h.contains("<div"),
                "{h}"
            );
            assert!(h.contains("&lt;"), "shown as text: {h}");
        }
    }

    #[test]
    fn only_safe_links_survive() {
        let h = to_html("[ok](https://example.org/x) [bad](javascript:alert(1)) [rel](/s/melodia)");
        assert!(h.contains("href=\"https://example.org/x\""), "{h}");
        assert!(h.contains("href=\"/s/melodia\""), "{h}");
        assert!(!h.to_lowercase().contains("javascript"), "{h}");
        assert!(h.contains("bad"), "the text stays: {h}");
        let h = to_html("![graph](https://example.org/g.png) ![x](data:image/png;base64,AAA)");
        assert!(!h.contains("<img") && !h.contains("data:"), "{h}");
        assert!(h.contains("href=\"https://example.org/g.png\""), "{h}");
    }
}
