//! Why a report was not taken.

use crate::ingest::IngestError;
use downbeat_store::StoreError;

/// Why the intake refused a report; the API maps each to a status code.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The client sent too many reports; it may try again after the wait.
    #[error("too many reports from this address; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    /// A field's value is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The group commit could not take or store the report.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The store could not give the day's salt.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}
