//! The admin stylesheet, served under its content hash so it can be cached forever.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const CSS: &str = include_str!("../assets/admin.css");

/// `/admin/assets/admin-0123abcd.css`: the path changes when the content does.
pub static CSS_PATH: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(CSS.as_bytes());
    format!(
        "/admin/assets/admin-{}.css",
        downbeat_api::auth::hex(&digest[..4])
    )
});

pub fn css_path() -> &'static str {
    CSS_PATH.as_str()
}

pub async fn serve(Path(file): Path<String>) -> Response {
    if format!("/admin/assets/{file}") != *CSS_PATH {
        return crate::error::AdminError::NotFound("There is no such file.".into()).into_response();
    }
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        CSS,
    )
        .into_response()
}
