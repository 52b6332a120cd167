//! Mastodon: a server's hashtag timelines (`GET /api/v1/timelines/tag/{hashtag}`) and its
//! status search (`GET /api/v2/search?type=statuses`), both answering statuses newest
//! first and paged by id: `min_id` reads forward from the cursor (the statuses just after
//! it), `max_id` back from the oldest read (the first round looks back an hour).

use crate::{FIRST_LOOKBACK_MS, Found, MAX_PAGES, PollError, Poller, State};
use downbeat_config::notify::Secret;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

/// Statuses asked for per page (Mastodon's most).
pub const PAGE: usize = 40;

/// A status, as the API documents it (fields Downbeat reads).
#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    created_at: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    spoiler_text: String,
    url: Option<String>,
    uri: Option<String>,
    language: Option<String>,
    /// A boost: the boosted status (its own post counts, not each boost).
    reblog: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct SearchResults {
    statuses: Vec<Status>,
}

/// What is new on each hashtag timeline and in the search since the cursors in `state`.
pub(crate) async fn fetch(
    p: &mut Poller,
    state: &mut State,
    hashtags: &[String],
    search: Option<&str>,
    token: Option<&Secret>,
    now_ms: i64,
) -> Result<Vec<Found>, PollError> {
    let base = p.config().url.clone();
    let mut endpoints: Vec<(String, String, bool)> = hashtags
        .iter()
        .map(|tag| {
            let path = utf8_percent_encode(tag, NON_ALPHANUMERIC);
            (
                format!("tag:{tag}"),
                format!("{base}/api/v1/timelines/tag/{path}?limit={PAGE}"),
                false,
            )
        })
        .collect();
    if let Some(q) = search {
        let q = utf8_percent_encode(q, NON_ALPHANUMERIC);
        endpoints.push((
            "search".into(),
            format!("{base}/api/v2/search?q={q}&type=statuses&resolve=false&limit={PAGE}"),
            true,
        ));
    }
    let headers: Vec<(&'static str, String)> = token
        .map(|t| ("authorization", format!("Bearer {}", t.expose())))
        .into_iter()
        .collect();
    let mut found = Vec::new();
    for (key, url, is_search) in endpoints {
        let cursor = state.cursors.get(&key).cloned();
        let (posts, newest) =
            read_endpoint(p, &url, is_search, &headers, cursor.clone(), now_ms).await?;
        found.extend(posts);
        if let Some(n) = newest.filter(|n| cursor.as_ref().is_none_or(|c| newer(n, c))) {
            state.cursors.insert(key, n);
        }
    }
    Ok(found)
}

/// One endpoint's new statuses and the newest id read.
async fn read_endpoint(
    p: &mut Poller,
    url: &str,
    is_search: bool,
    headers: &[(&'static str, String)],
    cursor: Option<String>,
    now_ms: i64,
) -> Result<(Vec<Found>, Option<String>), PollError> {
    let mut found = Vec::new();
    let mut newest: Option<String> = None;
    match cursor {
        // Forward from the cursor: each page is the statuses just after `min_id`.
        Some(mut min_id) => {
            for _ in 0..MAX_PAGES {
                let page = page(p, &format!("{url}&min_id={min_id}"), is_search, headers).await?;
                let full = page.len() >= PAGE;
                let Some(top) = page.iter().map(|f| f.0.clone()).reduce(max_id) else {
                    break;
                };
                found.extend(page.into_iter().map(|(_, f)| f));
                newest = Some(top.clone());
                min_id = top;
                if !full {
                    break;
                }
            }
        }
        // The first round: the newest page, then back an hour at most.
        None => {
            let mut max: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let u = match &max {
                    Some(m) => format!("{url}&max_id={m}"),
                    None => url.to_owned(),
                };
                let page = page(p, &u, is_search, headers).await?;
                let full = page.len() >= PAGE;
                let Some(bottom) = page.iter().map(|f| f.0.clone()).reduce(min_id) else {
                    break;
                };
                if let Some(top) = page.iter().map(|f| f.0.clone()).reduce(max_id) {
                    newest = Some(newest.map_or(top.clone(), |n| max_id(n, top)));
                }
                let oldest_ms = page.iter().map(|f| f.1.at_ms).min().unwrap_or(now_ms);
                found.extend(page.into_iter().map(|(_, f)| f));
                if !full || oldest_ms < now_ms - FIRST_LOOKBACK_MS {
                    break;
                }
                max = Some(bottom);
            }
        }
    }
    Ok((found, newest))
}

/// One page: its statuses with their ids.
async fn page(
    p: &mut Poller,
    url: &str,
    is_search: bool,
    headers: &[(&'static str, String)],
) -> Result<Vec<(String, Found)>, PollError> {
    let answer = p.request(hyper::Method::GET, url, headers, None).await?;
    let statuses = if is_search {
        serde_json::from_slice::<SearchResults>(&answer.body).map(|r| r.statuses)
    } else {
        serde_json::from_slice::<Vec<Status>>(&answer.body)
    }
    .map_err(|e| p.garbage(format!("statuses: {e}")))?;
    statuses
        .into_iter()
        .map(|s| {
            let at_ms = s
                .created_at
                .parse::<jiff::Timestamp>()
                .map_err(|_| p.garbage(format!("status {}: created_at {:?}", s.id, s.created_at)))?
                .as_millisecond();
            if s.id.is_empty() || !s.id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(p.garbage(format!("status id {:?} is not a Mastodon id", s.id)));
            }
            let content = crate::text::html_to_text(&s.content);
            let text = if s.spoiler_text.trim().is_empty() {
                content
            } else {
                format!("{} {content}", s.spoiler_text.trim())
            };
            Ok((
                s.id.clone(),
                Found {
                    id: s.uri.clone().unwrap_or_else(|| s.id.clone()),
                    at_ms,
                    text,
                    url: s.url.or(s.uri),
                    lang: s.language.as_deref().map(primary_language),
                    repost: s.reblog.is_some_and(|r| !r.is_null()),
                },
            ))
        })
        .collect()
}

/// `pt` of `pt-BR`, lower case.
pub(crate) fn primary_language(tag: &str) -> String {
    tag.split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Mastodon ids are decimal numbers (snowflakes) sent as strings: longer is newer.
fn newer(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

fn max_id(a: String, b: String) -> String {
    if newer(&b, &a) { b } else { a }
}

fn min_id(a: String, b: String) -> String {
    if newer(&b, &a) { a } else { b }
}
