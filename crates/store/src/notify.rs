//! The notification outbox: events to tell people about, and one delivery per (event,
//! destination) that a worker claims, attempts and settles.
//!
//! A separate trait from [`crate::Store`] (which extends it), like [`crate::OperatorStore`].
//! Enqueueing is idempotent: an event is keyed by its stable id and a delivery by (event id,
//! destination), so an event enqueued twice — after a restart, or by two nodes — is sent once.
//! A worker claims due deliveries for a while (`claimed_until_ms`); another node skips them
//! until the claim lapses, so a crashed worker's deliveries are retried, not lost.

use crate::StoreError;
use async_trait::async_trait;

/// Something that happened and that destinations may be told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyEventRow {
    /// Stable across restarts and nodes, e.g. `incident-12-update-3`; receivers deduplicate
    /// on it.
    pub id: String,
    /// The event type's machine name, e.g. `incident.created`.
    pub kind: String,
    pub service: String,
    pub occurred_ms: i64,
    /// The page that shows it.
    pub link: String,
    /// JSON object: the event's details.
    pub data: String,
}

/// A delivery's settled or pending state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Given up on.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

/// One event to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    /// Assigned by the store.
    pub id: i64,
    pub event_id: String,
    /// The configured destination's id.
    pub destination: String,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (pending only).
    pub next_attempt_ms: i64,
    pub created_ms: i64,
    pub last_attempt_ms: Option<i64>,
    /// The HTTP status of the last attempt, if one came back.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_ms: Option<i64>,
}

/// A claimed delivery with its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub delivery: DeliveryRow,
    pub event: NotifyEventRow,
}

/// How an attempt ended, as the worker judged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub at_ms: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    /// `Pending` means retry at `next_attempt_ms`.
    pub outcome: DeliveryState,
    pub next_attempt_ms: i64,
}

#[async_trait]
pub trait NotifyStore: Send + Sync + 'static {
    /// Stores `event` (unless its id is already stored) and a pending delivery, due at
    /// `now_ms`, to each destination that has none for it yet — in one transaction. Returns
    /// how many deliveries were new.
    async fn enqueue_notification(
        &self,
        event: NotifyEventRow,
        destinations: Vec<String>,
        now_ms: i64,
    ) -> Result<u32, StoreError>;

    /// Claims for `holder`, until `now_ms + claim_ms`, at most `limit` pending deliveries to
    /// `destination` that are due and not claimed by anyone else, oldest due first.
    async fn claim_deliveries(
        &self,
        destination: &str,
        holder: &str,
        now_ms: i64,
        claim_ms: i64,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records an attempt on a delivery `holder` has claimed, and releases the claim.
    /// Returns false (and changes nothing) if the delivery is no longer claimed by `holder`.
    async fn record_attempt(
        &self,
        delivery: i64,
        holder: &str,
        attempt: Attempt,
    ) -> Result<bool, StoreError>;

    /// Deliveries, newest first, at most `limit`; only those of `event_id` if given.
    async fn deliveries(
        &self,
        event_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>, StoreError>;
}
