//! Bluesky: `GET /xrpc/app.bsky.feed.searchPosts` (sorted latest first, paged back by an
//! opaque `cursor`), from `since` — the newest post time the last round read (the first
//! round looks back an hour). An AppView that wants authentication gets a session from
//! `com.atproto.server.createSession` with an app password, made again when it expires.

use crate::{FIRST_LOOKBACK_MS, Found, MAX_PAGES, PollError, Poller, State};
use downbeat_config::notify::Secret;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

/// Posts asked for per page (the API's most).
pub const PAGE: usize = 100;
const CURSOR: &str = "since";

#[derive(Debug, Deserialize)]
struct SearchPosts {
    cursor: Option<String>,
    posts: Vec<PostView>,
}

/// `app.bsky.feed.defs#postView` (fields Downbeat reads).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostView {
    uri: String,
    author: Author,
    record: Record,
    indexed_at: String,
}

#[derive(Debug, Deserialize)]
struct Author {
    handle: String,
}

/// `app.bsky.feed.post`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(default)]
    text: String,
    created_at: Option<String>,
    #[serde(default)]
    langs: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    access_jwt: String,
}

/// The posts found since the cursor in `state`.
pub(crate) async fn fetch(
    p: &mut Poller,
    state: &mut State,
    search: &str,
    login: Option<&(String, Secret)>,
    now_ms: i64,
) -> Result<Vec<Found>, PollError> {
    let base = p.config().url.clone();
    let since_ms = match state.cursors.get(CURSOR) {
        Some(s) => s
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .unwrap_or(now_ms - FIRST_LOOKBACK_MS),
        None => now_ms - FIRST_LOOKBACK_MS,
    };
    let since = jiff::Timestamp::from_millisecond(since_ms)
        .map_err(|e| PollError::Malformed(e.to_string()))?;
    let q = utf8_percent_encode(search, NON_ALPHANUMERIC);
    let first = format!(
        "{base}/xrpc/app.bsky.feed.searchPosts?q={q}&sort=latest&limit={PAGE}&since={}",
        utf8_percent_encode(&since.to_string(), NON_ALPHANUMERIC)
    );
    let mut found = Vec::new();
    let mut newest_ms = since_ms;
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let url = match &cursor {
            Some(c) => format!(
                "{first}&cursor={}",
                utf8_percent_encode(c, NON_ALPHANUMERIC)
            ),
            None => first.clone(),
        };
        let page = search_page(p, &url, login).await?;
        let mut older = false;
        for post in page.posts {
            let f = found_of(p, post)?;
            // `since` is a filter the AppView may not apply exactly: stop at what is older.
            if f.at_ms < since_ms {
                older = true;
                continue;
            }
            newest_ms = newest_ms.max(f.at_ms);
            found.push(f);
        }
        match page.cursor {
            Some(c) if !older && !c.is_empty() => cursor = Some(c),
            _ => break,
        }
    }
    // Posts at exactly the newest time are read again next round (`since` is inclusive)
    // and dropped as seen.
    if let Ok(t) = jiff::Timestamp::from_millisecond(newest_ms) {
        state.cursors.insert(CURSOR.into(), t.to_string());
    }
    Ok(found)
}

/// One page of results, signing in (again) when the AppView asks for it.
async fn search_page(
    p: &mut Poller,
    url: &str,
    login: Option<&(String, Secret)>,
) -> Result<SearchPosts, PollError> {
    if let Some(login) = login
        && p.session.is_none()
    {
        p.session = Some(sign_in(p, login).await?);
    }
    let mut retried = false;
    loop {
        let headers: Vec<(&'static str, String)> = p
            .session
            .iter()
            .map(|jwt| ("authorization", format!("Bearer {jwt}")))
            .collect();
        match p.request(hyper::Method::GET, url, &headers, None).await {
            Ok(answer) => {
                return serde_json::from_slice(&answer.body)
                    .map_err(|e| p.garbage(format!("searchPosts: {e}")));
            }
            // An expired or refused session: sign in again, once.
            Err(PollError::Status { status: 400 | 401 }) if !retried && let Some(login) = login => {
                retried = true;
                p.session = Some(sign_in(p, login).await?);
            }
            Err(PollError::Status { status: 401 }) if login.is_none() => {
                return Err(PollError::Auth(
                    "the AppView asks for authentication: give identifier and app_password".into(),
                ));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A new session's access token.
async fn sign_in(
    p: &mut Poller,
    (identifier, password): &(String, Secret),
) -> Result<String, PollError> {
    let base = p.config().url.clone();
    let body = serde_json::json!({ "identifier": identifier, "password": password.expose() });
    let url = format!("{base}/xrpc/com.atproto.server.createSession");
    match p
        .request(
            hyper::Method::POST,
            &url,
            &[],
            Some(body.to_string().into_bytes()),
        )
        .await
    {
        Ok(answer) => serde_json::from_slice::<Session>(&answer.body)
            .map(|s| s.access_jwt)
            .map_err(|e| p.garbage(format!("createSession: {e}"))),
        Err(PollError::Status { status }) if (400..500).contains(&status) => Err(PollError::Auth(
            format!("createSession answered {status}: check identifier and app_password"),
        )),
        Err(e) => Err(e),
    }
}

fn found_of(p: &Poller, post: PostView) -> Result<Found, PollError> {
    // `indexedAt` is when the AppView saw it, the time `since` filters by; `createdAt` is
    // the author's clock, which may be anything.
    let at_ms = post
        .indexed_at
        .parse::<jiff::Timestamp>()
        .or_else(|_| post.record.created_at.as_deref().unwrap_or("").parse())
        .map_err(|_| {
            p.garbage(format!(
                "post {}: indexedAt {:?}",
                post.uri, post.indexed_at
            ))
        })?
        .as_millisecond();
    let rkey = post
        .uri
        .strip_prefix("at://")
        .and_then(|rest| rest.rsplit('/').next())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| p.garbage(format!("post uri {:?} is not an at:// URI", post.uri)))?;
    let url = format!(
        "https://bsky.app/profile/{}/post/{rkey}",
        post.author.handle
    );
    Ok(Found {
        at_ms,
        text: post.record.text,
        url: Some(url),
        lang: post
            .record
            .langs
            .first()
            .map(|l| crate::mastodon::primary_language(l)),
        repost: false,
        id: post.uri,
    })
}
