//! Every refusal as an HTML page with the right status: the message says what happened and
//! what to do, and reaches the page escaped like everything else.

use crate::views::{ErrorPage, Layout, html};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use downbeat_api::ApiError;
use downbeat_store::StoreError;

#[derive(Debug)]
pub enum AdminError {
    /// Not signed in: to the sign-in page, coming back to `next` afterwards.
    SignIn {
        next: String,
    },
    /// Plain HTTP from another machine.
    Insecure,
    Forbidden(String),
    NotFound(String),
    BadRequest(String),
    UnsupportedMediaType(String),
    TooLarge(usize),
    Unavailable(String),
}

impl AdminError {
    pub fn status(&self) -> StatusCode {
        match self {
            AdminError::SignIn { .. } => StatusCode::SEE_OTHER,
            AdminError::Insecure | AdminError::Forbidden(_) => StatusCode::FORBIDDEN,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AdminError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AdminError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn words(&self) -> (&'static str, String) {
        match self {
            AdminError::SignIn { .. } => ("Sign in", "Sign in to continue.".into()),
            AdminError::Insecure => (
                "HTTPS needed",
                "The admin area is served over plain HTTP only to this machine. Reach it \
                 through HTTPS (a TLS proxy listed in server.trusted_proxies that sends \
                 X-Forwarded-Proto: https) or through an SSH tunnel to the loopback address."
                    .into(),
            ),
            AdminError::Forbidden(m) => ("Not allowed", m.clone()),
            AdminError::NotFound(m) => ("Not found", m.clone()),
            AdminError::BadRequest(m) => ("Bad request", m.clone()),
            AdminError::UnsupportedMediaType(m) => ("Unsupported form", m.clone()),
            AdminError::TooLarge(limit) => (
                "Too large",
                format!("The form is larger than the limit of {limit} bytes."),
            ),
            AdminError::Unavailable(m) => ("Unavailable", m.clone()),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        if let AdminError::SignIn { next } = &self {
            let to = if next == "/admin" {
                "/admin/login".to_owned()
            } else {
                format!("/admin/login?next={}", crate::login::encode_next(next))
            };
            return Redirect::to(&to).into_response();
        }
        let status = self.status();
        let (title, message) = self.words();
        let mut resp = html(
            status,
            &ErrorPage {
                layout: Layout::bare(title),
                heading: title,
                message,
            },
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error in the admin area");
        AdminError::Unavailable("The store is unavailable; try again shortly.".into())
    }
}

impl From<downbeat_incidents::IncidentError> for AdminError {
    fn from(e: downbeat_incidents::IncidentError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<ApiError> for AdminError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::NotFound(m) => AdminError::NotFound(m),
            ApiError::Forbidden(m) | ApiError::Unauthorized(m) => AdminError::Forbidden(m),
            ApiError::Unavailable(m) => AdminError::Unavailable(m),
            other => AdminError::BadRequest(other.to_string()),
        }
    }
}

/// Any other `/admin/...` path.
pub async fn not_found() -> AdminError {
    AdminError::NotFound("There is no such page in the admin area.".into())
}
