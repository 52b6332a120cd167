//! Reading a request body: JSON only (a write with another Content-Type is 415, so no other
//! site's page can send one without a CORS preflight, which this API never answers),
//! size-limited, with errors that say which field is wrong. The status page's own report
//! form is read by the page, through [`form`].

use super::ApiError;
use axum::body::Body;
use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

pub use downbeat_intake::RawReport;

/// `Ok` when the request says `Content-Type: application/json` (parameters such as a
/// charset allowed), else 415 naming the expected type. A form or `text/plain` is what a
/// page on another site can make a visitor's browser send without asking: refusing them
/// keeps cross-site writes out.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/json") {
        return Ok(());
    }
    let shown: String = ct.chars().take(60).collect();
    Err(ApiError::UnsupportedMediaType(format!(
        "Content-Type must be application/json (got {shown:?})"
    )))
}

/// Reads at most `limit` bytes of body; more is 413, refused before reading when the
/// declared length already says so.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::TooLarge { limit })
        }
        Err(e) => Err(ApiError::BadRequest(format!(
            "could not read the request body: {e}"
        ))),
    }
}

/// The status page's report form (`application/x-www-form-urlencoded`, as its page
/// re-encodes it) as a raw report; an untouched `<select>` or text box sends "", which means
/// "not given".
pub fn form(bytes: &[u8]) -> Result<RawReport<'_>, ApiError> {
    let mut raw: RawReport = serde_urlencoded::from_bytes(bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid form body: {e}")))?;
    for f in [
        &mut raw.platform,
        &mut raw.country,
        &mut raw.city,
        &mut raw.message,
    ] {
        if f.as_deref().is_some_and(|s| s.trim().is_empty()) {
            *f = None;
        }
    }
    Ok(raw)
}

/// Parses a JSON object into `T`, naming the path of what is wrong; `example` shows the
/// expected shape when the body is not an object at all.
pub fn json<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8], example: &str) -> Result<T, ApiError> {
    // serde would read a struct from an array too, with a confusing message.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(ApiError::BadRequest(format!(
            "invalid JSON body: expected an object like {example}"
        )));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            ApiError::BadRequest(format!("invalid JSON body: {inner}"))
        } else {
            ApiError::BadRequest(format!("invalid JSON body at `{path}`: {inner}"))
        }
    })
}

/// A whole JSON request body (`Content-Type: application/json`, at most `limit` bytes)
/// parsed into `T`.
pub async fn json_request<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    example: &str,
) -> Result<T, ApiError> {
    require_json(headers)?;
    let bytes = read_limited(headers, body, limit).await?;
    json(&bytes, example)
}
