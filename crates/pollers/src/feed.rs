//! RSS 2.0, RSS 1.0 (RDF) and Atom feeds: a Reddit search feed, a forum's, a support site's.
//! Fetched with the validators of the last answer (`If-None-Match`, `If-Modified-Since`),
//! so an unchanged feed costs a 304; entries already seen are skipped without a word.

use crate::text::html_to_text;
use crate::{Found, PollError, Poller, State};
use roxmltree::{Document, Node};

const ATOM: &str = "http://www.w3.org/2005/Atom";
const ETAG: &str = "etag";
const LAST_MODIFIED: &str = "last_modified";

/// The feed's entries not seen before.
pub(crate) async fn fetch(
    p: &mut Poller,
    state: &mut State,
    now_ms: i64,
) -> Result<Vec<Found>, PollError> {
    let url = p.config().url.clone();
    let mut headers = Vec::new();
    if let Some(etag) = state.cursors.get(ETAG) {
        headers.push(("if-none-match", etag.clone()));
    }
    if let Some(lm) = state.cursors.get(LAST_MODIFIED) {
        headers.push(("if-modified-since", lm.clone()));
    }
    let answer = p.request(hyper::Method::GET, &url, &headers, None).await?;
    if answer.status == 304 {
        return Ok(Vec::new());
    }
    let text = std::str::from_utf8(&answer.body)
        .map_err(|e| p.garbage(format!("feed is not UTF-8: {e}")))?;
    let entries = parse(text, now_ms).map_err(|e| p.garbage(e))?;
    for (key, header) in [(ETAG, "etag"), (LAST_MODIFIED, "last-modified")] {
        match answer.headers.get(header).and_then(|v| v.to_str().ok()) {
            Some(v) if !v.is_empty() && v.len() <= 200 => {
                state.cursors.insert(key.into(), v.to_owned());
            }
            _ => {
                state.cursors.remove(key);
            }
        }
    }
    Ok(entries
        .into_iter()
        .filter(|e| !state.seen.contains(&crate::id_digest(&e.id)))
        .collect())
}

/// A feed's entries, newest or not; an entry without a time is taken as `now_ms`.
pub fn parse(xml: &str, now_ms: i64) -> Result<Vec<Found>, String> {
    let doc = Document::parse(xml).map_err(|e| format!("feed is not XML: {e}"))?;
    let root = doc.root_element();
    let lang_of = |n: Node| {
        n.attribute(("http://www.w3.org/XML/1998/namespace", "lang"))
            .map(crate::mastodon::primary_language)
    };
    match root.tag_name().name() {
        "rss" => {
            let channel = child(root, "channel").ok_or("an RSS feed without a channel")?;
            let lang = text_of(channel, "language").map(|l| crate::mastodon::primary_language(&l));
            Ok(children(channel, "item")
                .map(|item| rss_item(item, lang.clone(), now_ms))
                .collect())
        }
        "RDF" => {
            let lang = child(root, "channel")
                .and_then(|c| text_of(c, "language"))
                .map(|l| crate::mastodon::primary_language(&l));
            Ok(children(root, "item")
                .map(|item| rss_item(item, lang.clone(), now_ms))
                .collect())
        }
        "feed" if root.tag_name().namespace() == Some(ATOM) => {
            let lang = lang_of(root);
            Ok(children(root, "entry")
                .map(|entry| atom_entry(entry, lang_of(entry).or(lang.clone()), now_ms))
                .collect())
        }
        other => Err(format!("<{other}> is not an RSS or Atom feed")),
    }
}

fn rss_item(item: Node, lang: Option<String>, now_ms: i64) -> Found {
    let title = text_of(item, "title").unwrap_or_default();
    let body = text_of(item, "encoded") // content:encoded
        .or_else(|| text_of(item, "description"))
        .map(|h| html_to_text(&h))
        .unwrap_or_default();
    let link = text_of(item, "link");
    let at_ms = text_of(item, "pubDate")
        .and_then(|d| jiff::fmt::rfc2822::parse(d.trim()).ok())
        .map(|z| z.timestamp().as_millisecond())
        .or_else(|| text_of(item, "date").and_then(|d| rfc3339(&d)))
        .unwrap_or(now_ms);
    let id = text_of(item, "guid")
        .or_else(|| {
            item.attribute(("http://www.w3.org/1999/02/22-rdf-syntax-ns#", "about"))
                .map(str::to_owned)
        })
        .or_else(|| link.clone())
        .unwrap_or_else(|| format!("{at_ms}:{title}"));
    Found {
        id,
        at_ms,
        text: joined(&title, &body),
        url: link,
        lang,
        repost: false,
    }
}

fn atom_entry(entry: Node, lang: Option<String>, now_ms: i64) -> Found {
    let title = text_of(entry, "title").unwrap_or_default();
    let body = child(entry, "content")
        .or_else(|| child(entry, "summary"))
        .map(|n| match n.attribute("type") {
            Some("html") => html_to_text(&all_text(n)),
            _ => all_text(n).split_whitespace().collect::<Vec<_>>().join(" "),
        })
        .unwrap_or_default();
    let link = children(entry, "link")
        .find(|l| matches!(l.attribute("rel"), None | Some("alternate")))
        .and_then(|l| l.attribute("href"))
        .map(str::to_owned);
    let at_ms = text_of(entry, "published")
        .or_else(|| text_of(entry, "updated"))
        .and_then(|d| rfc3339(&d))
        .unwrap_or(now_ms);
    let id = text_of(entry, "id")
        .or_else(|| link.clone())
        .unwrap_or_else(|| format!("{at_ms}:{title}"));
    Found {
        id,
        at_ms,
        text: joined(&title, &body),
        url: link,
        lang,
        repost: false,
    }
}

fn joined(title: &str, body: &str) -> String {
    let title = html_to_text(title);
    match (title.is_empty(), body.is_empty()) {
        (_, true) => title,
        (true, false) => body.to_owned(),
        (false, false) if body.starts_with(&title) => body.to_owned(),
        (false, false) => format!("{title} — {body}"),
    }
}

fn rfc3339(s: &str) -> Option<i64> {
    s.trim()
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

fn child<'a>(n: Node<'a, 'a>, name: &str) -> Option<Node<'a, 'a>> {
    children(n, name).next()
}

fn children<'a, 'n>(n: Node<'a, 'a>, name: &'n str) -> impl Iterator<Item = Node<'a, 'a>> + 'n
where
    'a: 'n,
{
    n.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn text_of(n: Node, name: &str) -> Option<String> {
    let t = all_text(child(n, name)?);
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// Every text node under `n` (CDATA included), in order.
fn all_text(n: Node) -> String {
    n.descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_630_400_000; // 2026-12-07T08:00:00Z

    #[test]
    fn rss_atom_and_rdf_entries_are_read() {
        let rss = r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>Melodia forum</title><language>de-DE</language>
<item><title>Melodia geht nicht</title><link>https://forum.example/t/1</link>
<guid isPermaLink="false">t1</guid><pubDate>Mon, 07 Dec 2026 07:58:00 +0000</pubDate>
<description>&lt;p&gt;Seit heute &lt;b&gt;Fehler&lt;/b&gt; beim Login&lt;/p&gt;</description></item>
<item><title><![CDATA[Kein Datum]]></title></item>
</channel></rss>"#;
        let got = parse(rss, NOW).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].id, "t1");
        assert_eq!(
            got[0].text,
            "Melodia geht nicht — Seit heute Fehler beim Login"
        );
        assert_eq!(got[0].at_ms, NOW - 120_000);
        assert_eq!(got[0].lang.as_deref(), Some("de"));
        assert_eq!(got[0].url.as_deref(), Some("https://forum.example/t/1"));
        assert_eq!((got[1].text.as_str(), got[1].at_ms), ("Kein Datum", NOW));

        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
<entry><id>t3_abc</id><title>Is Melodia down?</title>
<link rel="alternate" href="https://reddit.example/r/melodia/comments/abc/"/>
<updated>2026-12-07T07:59:30+00:00</updated>
<content type="html">&lt;div&gt;&lt;p&gt;can&amp;#39;t log in&lt;/p&gt;&lt;/div&gt;</content></entry>
</feed>"#;
        let got = parse(atom, NOW).unwrap();
        assert_eq!(got[0].id, "t3_abc");
        assert_eq!(got[0].text, "Is Melodia down? — can't log in");
        assert_eq!(got[0].at_ms, NOW - 30_000);
        assert_eq!(got[0].lang.as_deref(), Some("en"));

        let rdf = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://support.example/"><title>Support</title></channel>
<item rdf:about="https://support.example/a/9"><title>Melodia: Störung</title><dc:date>2026-12-07T07:00:00Z</dc:date></item>
</rdf:RDF>"#;
        let got = parse(rdf, NOW).unwrap();
        assert_eq!(got[0].id, "https://support.example/a/9");
        assert_eq!(got[0].at_ms, NOW - 3_600_000);
    }

    #[test]
    fn garbage_is_an_error_naming_what_is_wrong() {
        for (xml, says) in [
            (
                "<html><body>Bad gateway</body></html>",
                "<html> is not an RSS or Atom feed",
            ),
            ("<rss><channel><item>", "not XML"),
            ("{\"posts\": []}", "not XML"),
            ("<rss version=\"2.0\"></rss>", "without a channel"),
            ("<feed><entry/></feed>", "<feed> is not an RSS or Atom feed"),
        ] {
            let e = parse(xml, NOW).unwrap_err();
            assert!(e.contains(says), "{xml}: {e}");
        }
    }
}
