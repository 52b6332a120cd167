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

/// The destination name of a subscriber's deliveries: `subscriber:<id>` (config destination
/// ids are slugs, which never contain a colon).
pub fn subscriber_destination(id: i64) -> String {
    format!("{SUBSCRIBER_PREFIX}{id}")
}

/// The subscriber a delivery's destination names, if it is one.
pub fn destination_subscriber(destination: &str) -> Option<i64> {
    destination.strip_prefix(SUBSCRIBER_PREFIX)?.parse().ok()
}

pub const SUBSCRIBER_PREFIX: &str = "subscriber:";

/// Which deliveries a worker claims: one configured destination's, or every subscriber's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim<'a> {
    Destination(&'a str),
    Subscribers,
}

/// How a subscriber is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberKind {
    Email,
    Webhook,
}

impl SubscriberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberKind::Email => "email",
            SubscriberKind::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(SubscriberKind::Email),
            "webhook" => Some(SubscriberKind::Webhook),
            _ => None,
        }
    }
}

/// A public subscriber.
#[derive(Clone, PartialEq, Eq)]
pub struct SubscriberRow {
    /// Assigned by the store.
    pub id: i64,
    pub service: String,
    pub kind: SubscriberKind,
    /// A mail address (lowercase) or an http(s) URL.
    pub address: String,
    /// Component ids; empty means the whole service.
    pub components: Vec<String>,
    /// Webhook subscribers: the secret that signs their bodies.
    pub secret: Option<String>,
    pub created_ms: i64,
    /// Email subscribers: none until they confirm; webhook subscribers: at creation.
    pub confirmed_ms: Option<i64>,
    pub confirm_sent_ms: Option<i64>,
}

impl std::fmt::Debug for SubscriberRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriberRow")
            .field("id", &self.id)
            .field("service", &self.service)
            .field("kind", &self.kind)
            .field("components", &self.components)
            .field("confirmed_ms", &self.confirmed_ms)
            .finish_non_exhaustive()
    }
}

/// Cut-offs for [`NotifyStore::prune_notifications`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyPrune {
    /// Delivered and failed deliveries created before this go, and events left without any.
    pub settled_before_ms: i64,
    /// Manage tokens created before this go.
    pub tokens_before_ms: i64,
    /// Email subscriptions still unconfirmed that were created before this go.
    pub unconfirmed_before_ms: i64,
}

/// What [`NotifyStore::prune_notifications`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifyPruned {
    pub deliveries: u64,
    pub events: u64,
    pub tokens: u64,
    pub subscribers: u64,
}

pub(crate) fn join_components(c: &[String]) -> String {
    c.join(",")
}

pub(crate) fn split_components(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
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
    /// `which` destination (or to any subscriber) that are due and not claimed by anyone
    /// else, oldest due first.
    async fn claim_deliveries(
        &self,
        which: Claim<'_>,
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

    /// Stores a new subscriber, or, when the service already has one of that kind at that
    /// address, returns it unchanged. `true` when it is new.
    async fn add_subscriber(&self, new: SubscriberRow)
    -> Result<(SubscriberRow, bool), StoreError>;

    async fn subscriber(&self, id: i64) -> Result<Option<SubscriberRow>, StoreError>;

    /// The subscriber a token (by its SHA-256 hex) manages, if the token was created at or
    /// after `not_before_ms`.
    async fn subscriber_by_token(
        &self,
        token_hash: &str,
        not_before_ms: i64,
    ) -> Result<Option<SubscriberRow>, StoreError>;

    /// Remembers a token (its SHA-256 hex) that manages `subscriber`. False when the
    /// subscriber is gone.
    async fn add_subscriber_token(
        &self,
        subscriber: i64,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Marks a subscriber confirmed (if not already); false when it is gone.
    async fn confirm_subscriber(&self, id: i64, now_ms: i64) -> Result<bool, StoreError>;

    /// Records that a confirmation mail is queued now, unless one was queued after
    /// `unless_since_ms`: returns whether this one may go.
    async fn mark_confirmation_sent(
        &self,
        id: i64,
        now_ms: i64,
        unless_since_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Replaces a subscriber's components (empty: the whole service).
    async fn set_subscriber_components(
        &self,
        id: i64,
        components: Vec<String>,
    ) -> Result<bool, StoreError>;

    /// Deletes a subscriber, its tokens and its pending deliveries; false when it was gone.
    async fn delete_subscriber(&self, id: i64) -> Result<bool, StoreError>;

    /// The confirmed subscribers of a service.
    async fn confirmed_subscribers(&self, service: &str) -> Result<Vec<SubscriberRow>, StoreError>;

    /// Deletes what is past its time (see [`NotifyPrune`]).
    async fn prune_notifications(&self, cutoffs: NotifyPrune) -> Result<NotifyPruned, StoreError>;

    /// Every monitor's saved flap-suppression state (monitor id, JSON).
    async fn flap_states(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Saves (or, with `None`, forgets) a monitor's flap-suppression state.
    async fn save_flap_state(
        &self,
        monitor: &str,
        state: Option<String>,
        now_ms: i64,
    ) -> Result<(), StoreError>;
}
