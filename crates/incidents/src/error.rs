//! Why an operation on an incident was refused.

use downbeat_store::StoreError;

/// Why an incident or maintenance operation was refused; the API and the admin area map
/// each to their own answer.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    /// A field's value is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    /// Valid, but not allowed in the incident's current state (an illegal transition).
    #[error("{0}")]
    Conflict(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl IncidentError {
    pub fn unknown_service(service: &str) -> Self {
        let shown: String = service.chars().take(64).collect();
        IncidentError::NotFound(format!("unknown service {shown:?}"))
    }
}
