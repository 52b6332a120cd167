//! Query strings parsed into typed structs, with errors as JSON like every other error.

use super::ApiError;
use serde::de::DeserializeOwned;

pub fn parse_query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))
}
