//! The API's one error type: every failure becomes a status code and a JSON body
//! `{"error": "..."}` naming what is wrong (and `"field"` when one field is to blame).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use downbeat_incidents::IncidentError;
use downbeat_incidents::integrations::IntegrationError;
use downbeat_intake::IntakeError;
use downbeat_intake::ingest::IngestError;
use downbeat_notify::SubscriptionError;
use downbeat_store::StoreError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// A well-formed request with a field whose value is not acceptable.
    #[error("{field}: {message}")]
    InvalidField {
        field: &'static str,
        message: String,
    },
    /// A config object refused by the config check: `key` within the object (`interval`,
    /// `component[1].name`), in the check's own words.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// A batch refused whole for one row: `list[index].field`.
    #[error("{list}[{index}].{field}: {message}")]
    InvalidRow {
        list: &'static str,
        index: usize,
        field: &'static str,
        message: String,
    },
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many reports from this address; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    /// Another sender over its limit (an integration), in its own words.
    #[error("{message}")]
    Throttled { message: String, retry_after_s: u64 },
    #[error("{0}")]
    Unavailable(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// The request is valid but conflicts with the current state (an illegal transition).
    #[error("{0}")]
    Conflict(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// With `index`: the row of a batch (`list`) the field belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    list: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidField { .. }
            | ApiError::InvalidRow { .. }
            | ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } | ApiError::Throttled { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
        }
    }

    pub fn unknown_service(service: &str) -> Self {
        let shown: String = service.chars().take(64).collect();
        ApiError::NotFound(format!("unknown service {shown:?}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (field, index) = match &self {
            ApiError::InvalidField { field, .. } => (Some(*field), None),
            ApiError::Invalid { field, .. } => (Some(field.as_str()), None),
            ApiError::InvalidRow {
                list, index, field, ..
            } => (Some(*field), Some((*list, *index))),
            _ => (None, None),
        };
        let retry_after = match &self {
            ApiError::RateLimited { retry_after_s } | ApiError::Throttled { retry_after_s, .. } => {
                Some(*retry_after_s)
            }
            ApiError::Unavailable(_) => Some(1),
            _ => None,
        };
        let mut resp = (
            status,
            Json(ErrorBody {
                error: self.to_string(),
                field,
                list: index.map(|(list, _)| list),
                index: index.map(|(_, i)| i),
            }),
        )
            .into_response();
        if matches!(self, ApiError::Unauthorized(_)) {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"downbeat\""),
            );
        }
        if let Some(s) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => return ApiError::Conflict(m),
            StoreError::NotFound(m) => return ApiError::NotFound(m),
            _ => {}
        }
        // The store's detail goes to the log; the client learns it may retry.
        tracing::error!(error = %e, "store error");
        ApiError::Unavailable("the store is unavailable; retry shortly".into())
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Store(e) => {
                tracing::error!(error = %e, "report not stored");
                ApiError::Unavailable("the report could not be stored; retry shortly".into())
            }
            other => ApiError::Unavailable(other.to_string()),
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::RateLimited { retry_after_s } => ApiError::RateLimited { retry_after_s },
            IntakeError::Invalid { field, message } => ApiError::InvalidField { field, message },
            IntakeError::Ingest(e) => e.into(),
            IntakeError::Store(e) => e.into(),
        }
    }
}

impl From<IncidentError> for ApiError {
    fn from(e: IncidentError) -> Self {
        match e {
            IncidentError::Invalid { field, message } => ApiError::InvalidField { field, message },
            IncidentError::NotFound(m) => ApiError::NotFound(m),
            IncidentError::Conflict(m) => ApiError::Conflict(m),
            IncidentError::Store(e) => e.into(),
        }
    }
}

impl From<IntegrationError> for ApiError {
    fn from(e: IntegrationError) -> Self {
        match e {
            IntegrationError::NotFound(m) => ApiError::NotFound(m),
            IntegrationError::Malformed(m) => ApiError::BadRequest(m),
            IntegrationError::Invalid { field, message } => {
                ApiError::InvalidField { field, message }
            }
            IntegrationError::InvalidRow {
                list,
                index,
                field,
                message,
            } => ApiError::InvalidRow {
                list,
                index,
                field,
                message,
            },
            e @ IntegrationError::RateLimited { retry_after_s, .. } => ApiError::Throttled {
                message: e.to_string(),
                retry_after_s,
            },
            IntegrationError::Store(e) => e.into(),
        }
    }
}

impl From<SubscriptionError> for ApiError {
    fn from(e: SubscriptionError) -> Self {
        match e {
            SubscriptionError::Invalid { field, message } => {
                ApiError::InvalidField { field, message }
            }
            SubscriptionError::NotFound(m) => ApiError::NotFound(m),
            SubscriptionError::Conflict(m) => ApiError::Conflict(m),
            SubscriptionError::RateLimited { retry_after_s } => {
                ApiError::RateLimited { retry_after_s }
            }
            SubscriptionError::Store(e) => e.into(),
        }
    }
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
