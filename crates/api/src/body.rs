//! Reading a report from a request body: JSON or an HTML form, size-limited, with errors
//! that say which field is wrong.

use super::ApiError;
use axum::body::Body;
use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

pub use downbeat_intake::RawReport;

/// The body formats a report may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Form,
}

/// The request's format from its Content-Type, or 415.
pub fn format_of(headers: &HeaderMap) -> Result<Format, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => Ok(Format::Json),
        "application/x-www-form-urlencoded" => Ok(Format::Form),
        _ => {
            let shown: String = ct.chars().take(60).collect();
            Err(ApiError::UnsupportedMediaType(format!(
                "Content-Type must be application/json or application/x-www-form-urlencoded (got {shown:?})"
            )))
        }
    }
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

/// Parses a body in `format` into a raw report.
pub fn parse(format: Format, bytes: &[u8]) -> Result<RawReport<'_>, ApiError> {
    match format {
        Format::Json => json(bytes, r#"{"problem": "login"}"#),
        Format::Form => {
            let mut raw: RawReport = serde_urlencoded::from_bytes(bytes)
                .map_err(|e| ApiError::BadRequest(format!("invalid form body: {e}")))?;
            // An untouched <select> or text box sends "": that means "not given".
            for f in [&mut raw.platform, &mut raw.country, &mut raw.city] {
                if f.as_deref().is_some_and(|s| s.trim().is_empty()) {
                    *f = None;
                }
            }
            Ok(raw)
        }
    }
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
    if format_of(headers)? != Format::Json {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be application/json".into(),
        ));
    }
    let bytes = read_limited(headers, body, limit).await?;
    json(&bytes, example)
}
