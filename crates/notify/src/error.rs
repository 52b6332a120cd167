//! Why a subscription request was refused.

use downbeat_store::StoreError;

/// Why a subscription could not be made, found or changed; the API and the pages map each
/// to their own answer.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    /// A field's value is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    /// Valid, but not possible in the current state.
    #[error("{0}")]
    Conflict(String),
    /// Too many requests from one client address.
    #[error("too many requests from this address; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl SubscriptionError {
    pub fn unknown_service(service: &str) -> Self {
        let shown: String = service.chars().take(64).collect();
        SubscriptionError::NotFound(format!("unknown service {shown:?}"))
    }
}
