//! Notifications: the outbox of events to tell people about, one delivery per (event,
//! destination) that a worker claims, attempts and settles; public subscribers and their
//! manage tokens; and each monitor's flap-suppression state ([`NotifyStore`]).
//!
//! Enqueueing is idempotent: an event is keyed by its stable id and a delivery by (event id,
//! destination), so an event enqueued twice — after a restart, or by two nodes — is sent once.
//! A worker claims due deliveries for a while (`claimed_until_ms`); another node skips them
//! until the claim lapses, so a crashed worker's deliveries are retried, not lost.

mod postgres;
mod sqlite;

use crate::StoreError;
use crate::sql::{At, FromRow, Param, RowLike};
use async_trait::async_trait;
use downbeat_domain::event::EventKind;

#[async_trait]
pub trait NotifyStore: Send + Sync + 'static {
    /// Whether several nodes may share this store (PostgreSQL), so what one node keeps in
    /// memory may be behind what another saved.
    fn shared(&self) -> bool {
        false
    }

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
    /// `which` destination (or to its kind of subscriber) that are due and not claimed by
    /// anyone else, oldest due first (see [`Claim::due`]).
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

/// The columns [`DeliveryRow`] reads, in order, from `notify_deliveries d`.
macro_rules! delivery_columns {
    () => {
        "d.id, d.event_id, d.destination, d.state, d.attempts, d.next_attempt_ms, d.created_ms,
        d.last_attempt_ms, d.last_status, d.last_error, d.delivered_ms"
    };
}
pub(crate) use delivery_columns;

/// The columns [`ClaimedDelivery`] reads after the delivery's, from `notify_events e`.
macro_rules! event_columns {
    () => {
        "e.id, e.kind, e.service, e.occurred_ms, e.link, e.data"
    };
}
pub(crate) use event_columns;

/// The columns [`SubscriberRow`] reads, in order, from `notify_subscribers s`.
macro_rules! subscriber_columns {
    () => {
        "s.id, s.service, s.kind, s.address, s.components, s.secret, s.created_ms,
        s.confirmed_ms, s.confirm_sent_ms"
    };
}

/// Statements both backends run as written. (Claiming differs: see `sqlite.rs` and
/// `postgres.rs`.)
pub(crate) mod sql {
    use crate::sql::{Sql, sql};

    pub const INSERT_EVENT: Sql = sql!(
        "INSERT INTO notify_events (id, kind, service, occurred_ms, link, data)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING"
    );
    pub const INSERT_DELIVERY: Sql = sql!(
        "INSERT INTO notify_deliveries
            (event_id, destination, state, next_attempt_ms, created_ms)
         VALUES ($1, $2, 'pending', $3, $3)
         ON CONFLICT (event_id, destination) DO NOTHING"
    );
    /// Parameters: [`super::attempt_params`].
    pub const RECORD_ATTEMPT: Sql = sql!(
        "UPDATE notify_deliveries SET attempts = attempts + 1, state = $3,
            next_attempt_ms = $4, last_attempt_ms = $5, last_status = $6,
            last_error = $7, delivered_ms = $8, claimed_by = NULL,
            claimed_until_ms = NULL
         WHERE id = $1 AND claimed_by = $2 AND state = 'pending'"
    );
    // The cast names the type of a parameter that may be NULL, which PostgreSQL cannot infer
    // from `IS NULL` alone (standard SQL, so SQLite runs it too).
    pub const DELIVERIES: Sql = sql!(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM notify_deliveries d
         WHERE CAST($1 AS TEXT) IS NULL OR d.event_id = $1 ORDER BY d.id DESC LIMIT $2"
    ));
    /// Parameters: [`super::subscriber_params`].
    pub const INSERT_SUBSCRIBER: Sql = sql!(
        "INSERT INTO notify_subscribers
            (service, kind, address, components, secret, created_ms, confirmed_ms,
             confirm_sent_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (service, kind, address) DO NOTHING"
    );
    pub const SUBSCRIBER_BY_ADDRESS: Sql = sql!(concat!(
        "SELECT ",
        subscriber_columns!(),
        " FROM notify_subscribers s
         WHERE service = $1 AND kind = $2 AND address = $3"
    ));
    pub const SUBSCRIBER: Sql = sql!(concat!(
        "SELECT ",
        subscriber_columns!(),
        " FROM notify_subscribers s WHERE id = $1"
    ));
    pub const SUBSCRIBER_BY_TOKEN: Sql = sql!(concat!(
        "SELECT ",
        subscriber_columns!(),
        " FROM notify_subscriber_tokens t
         JOIN notify_subscribers s ON s.id = t.subscriber
         WHERE t.hash = $1 AND t.created_ms >= $2"
    ));
    pub const ADD_SUBSCRIBER_TOKEN: Sql = sql!(
        "INSERT INTO notify_subscriber_tokens (hash, subscriber, created_ms)
         SELECT $1, id, $3 FROM notify_subscribers WHERE id = $2"
    );
    pub const CONFIRM_SUBSCRIBER: Sql = sql!(
        "UPDATE notify_subscribers SET confirmed_ms = COALESCE(confirmed_ms, $2)
         WHERE id = $1"
    );
    pub const MARK_CONFIRMATION_SENT: Sql = sql!(
        "UPDATE notify_subscribers SET confirm_sent_ms = $2
         WHERE id = $1 AND (confirm_sent_ms IS NULL OR confirm_sent_ms <= $3)"
    );
    pub const SET_SUBSCRIBER_COMPONENTS: Sql =
        sql!("UPDATE notify_subscribers SET components = $2 WHERE id = $1");
    pub const DELETE_PENDING_DELIVERIES: Sql =
        sql!("DELETE FROM notify_deliveries WHERE destination = $1 AND state = 'pending'");
    pub const DELETE_SUBSCRIBER_TOKENS: Sql =
        sql!("DELETE FROM notify_subscriber_tokens WHERE subscriber = $1");
    pub const DELETE_SUBSCRIBER: Sql = sql!("DELETE FROM notify_subscribers WHERE id = $1");
    pub const CONFIRMED_SUBSCRIBERS: Sql = sql!(concat!(
        "SELECT ",
        subscriber_columns!(),
        " FROM notify_subscribers s
         WHERE service = $1 AND confirmed_ms IS NOT NULL ORDER BY id"
    ));
    pub const PRUNE_DELIVERIES: Sql = sql!(
        "DELETE FROM notify_deliveries
         WHERE state IN ('delivered', 'failed') AND created_ms < $1"
    );
    pub const PRUNE_EVENTS: Sql = sql!(
        "DELETE FROM notify_events WHERE occurred_ms < $1 AND NOT EXISTS
            (SELECT 1 FROM notify_deliveries d WHERE d.event_id = notify_events.id)"
    );
    pub const PRUNE_TOKENS: Sql =
        sql!("DELETE FROM notify_subscriber_tokens WHERE created_ms < $1");
    pub const PRUNE_UNCONFIRMED_TOKENS: Sql = sql!(
        "DELETE FROM notify_subscriber_tokens WHERE subscriber IN
            (SELECT id FROM notify_subscribers
             WHERE confirmed_ms IS NULL AND created_ms < $1)"
    );
    pub const PRUNE_UNCONFIRMED: Sql =
        sql!("DELETE FROM notify_subscribers WHERE confirmed_ms IS NULL AND created_ms < $1");
    pub const FLAP_STATES: Sql = sql!("SELECT monitor, state FROM notify_flaps ORDER BY monitor");
    pub const SAVE_FLAP_STATE: Sql = sql!(
        "INSERT INTO notify_flaps (monitor, state, updated_ms) VALUES ($1, $2, $3)
         ON CONFLICT (monitor) DO UPDATE SET state = $2, updated_ms = $3"
    );
    pub const DELETE_FLAP_STATE: Sql = sql!("DELETE FROM notify_flaps WHERE monitor = $1");
}

/// Something that happened and that destinations may be told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyEventRow {
    /// Stable across restarts and nodes, e.g. `incident-12-update-3`; receivers deduplicate
    /// on it.
    pub id: String,
    /// Stored as its machine name, e.g. `incident.created`.
    pub kind: OutboxKind,
    pub service: String,
    pub occurred_ms: i64,
    /// The page that shows it.
    pub link: String,
    /// JSON object: the event's details.
    pub data: String,
}

/// What an outbox row is about: a notification event, or the mail that asks a new email
/// subscriber to confirm (which is no event: nobody filters on it or hears of it but them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxKind {
    Event(EventKind),
    Confirmation,
}

impl OutboxKind {
    /// Every kind: each event kind, then the confirmation.
    pub const ALL: [OutboxKind; EventKind::ALL.len() + 1] = {
        let mut all = [OutboxKind::Confirmation; EventKind::ALL.len() + 1];
        let mut i = 0;
        while i < EventKind::ALL.len() {
            all[i] = OutboxKind::Event(EventKind::ALL[i]);
            i += 1;
        }
        all
    };

    /// The stored word: the event's machine name, or `subscription.confirm`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Event(k) => k.as_str(),
            OutboxKind::Confirmation => "subscription.confirm",
        }
    }
}

/// The parameters of [`sql::INSERT_EVENT`].
fn event_params(e: &NotifyEventRow) -> [&dyn Param; 6] {
    [&e.id, &e.kind, &e.service, &e.occurred_ms, &e.link, &e.data]
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
    pub const ALL: [DeliveryState; 3] = [
        DeliveryState::Pending,
        DeliveryState::Delivered,
        DeliveryState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        DeliveryState::ALL.into_iter().find(|d| d.as_str() == s)
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

impl FromRow for DeliveryRow {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(DeliveryRow {
            id: r.get(0)?,
            event_id: r.get(1)?,
            destination: r.get(2)?,
            state: r.word(3, At("notify_deliveries", "state"))?,
            attempts: r.get(4)?,
            next_attempt_ms: r.get(5)?,
            created_ms: r.get(6)?,
            last_attempt_ms: r.get(7)?,
            last_status: r.get(8)?,
            last_error: r.get(9)?,
            delivered_ms: r.get(10)?,
        })
    }
}

/// A claimed delivery with its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub delivery: DeliveryRow,
    pub event: NotifyEventRow,
}

impl FromRow for ClaimedDelivery {
    /// The delivery's columns, then the event's ([`event_columns`]).
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(ClaimedDelivery {
            delivery: DeliveryRow::from_row(r)?,
            event: NotifyEventRow {
                id: r.get(11)?,
                kind: r.word(12, At("notify_events", "kind"))?,
                service: r.get(13)?,
                occurred_ms: r.get(14)?,
                link: r.get(15)?,
                data: r.get(16)?,
            },
        })
    }
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

/// The parameters of [`sql::RECORD_ATTEMPT`]; `delivered` is made by the caller from `a`
/// ([`delivered_ms`]).
fn attempt_params<'a>(
    delivery: &'a i64,
    holder: &'a String,
    a: &'a Attempt,
    delivered: &'a Option<i64>,
) -> [&'a dyn Param; 8] {
    [
        delivery,
        holder,
        &a.outcome,
        &a.next_attempt_ms,
        &a.at_ms,
        &a.status,
        &a.error,
        delivered,
    ]
}

/// When an attempt delivered, if it did.
fn delivered_ms(a: &Attempt) -> Option<i64> {
    (a.outcome == DeliveryState::Delivered).then_some(a.at_ms)
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

/// Which deliveries a worker claims: one configured destination's, or the public
/// subscribers' of one kind (each kind has its own loop, so slow webhook endpoints never
/// hold up confirmation mails).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim<'a> {
    Destination(&'a str),
    /// Email subscribers' deliveries — and those whose subscriber is gone, which settle at
    /// once as unsubscribed.
    Subscribers(SubscriberKind),
}

impl Claim<'_> {
    /// What `$1` of [`Claim::due`] is bound to: the destination's id, or the subscribers'
    /// kind.
    pub(crate) fn key(&self) -> &str {
        match self {
            Claim::Destination(d) => d,
            Claim::Subscribers(k) => k.as_str(),
        }
    }

    /// A statement selecting the ids of the deliveries this claim takes, oldest due first:
    /// pending, due at `$3` and not claimed by anyone, at most `$5`. `p` is the backend's
    /// placeholder sign (`$` or `?`); `lock` ends the statement (PostgreSQL's `FOR UPDATE
    /// SKIP LOCKED`).
    ///
    /// Webhook subscribers are served one request at a time per endpoint: an endpoint with
    /// a claim still running gets nothing more, and a claim takes at most one delivery per
    /// endpoint, so a slow endpoint holds at most one of the loop's requests. (Two
    /// PostgreSQL nodes claiming at the same instant may each take one for the same
    /// endpoint: a budget, not a guarantee.)
    pub(crate) fn due(&self, p: char, lock: &str) -> String {
        let pending = format!(
            "state = 'pending' AND next_attempt_ms <= {p}3
             AND (claimed_until_ms IS NULL OR claimed_until_ms <= {p}3)"
        );
        let subscribers_of = |kinds: &str| {
            format!(
                "SELECT '{SUBSCRIBER_PREFIX}' || CAST(id AS TEXT) FROM notify_subscribers
                 WHERE kind {kinds} {p}1"
            )
        };
        let eligible = match self {
            Claim::Destination(_) => format!("destination = {p}1 AND {pending}"),
            Claim::Subscribers(SubscriberKind::Email) => format!(
                "destination LIKE '{SUBSCRIBER_PREFIX}%' AND {pending}
                 AND destination NOT IN ({})",
                subscribers_of("<>")
            ),
            Claim::Subscribers(SubscriberKind::Webhook) => {
                return format!(
                    "SELECT id FROM notify_deliveries WHERE id IN (
                        SELECT id FROM (
                            SELECT id, ROW_NUMBER() OVER (PARTITION BY destination
                                ORDER BY next_attempt_ms, id) AS nth
                            FROM notify_deliveries
                            WHERE destination IN ({}) AND {pending}
                              AND destination NOT IN (
                                SELECT destination FROM notify_deliveries
                                WHERE state = 'pending' AND claimed_until_ms > {p}3)
                        ) AS firsts WHERE nth = 1)
                     ORDER BY next_attempt_ms, id LIMIT {p}5 {lock}",
                    subscribers_of("=")
                );
            }
        };
        format!(
            "SELECT id FROM notify_deliveries WHERE {eligible}
             ORDER BY next_attempt_ms, id LIMIT {p}5 {lock}"
        )
    }
}

/// How a subscriber is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberKind {
    Email,
    Webhook,
}

impl SubscriberKind {
    pub const ALL: [SubscriberKind; 2] = [SubscriberKind::Email, SubscriberKind::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberKind::Email => "email",
            SubscriberKind::Webhook => "webhook",
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

impl FromRow for SubscriberRow {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        let components: String = r.get(4)?;
        Ok(SubscriberRow {
            id: r.get(0)?,
            service: r.get(1)?,
            kind: r.word(2, At("notify_subscribers", "kind"))?,
            address: r.get(3)?,
            components: split_components(&components),
            secret: r.get(5)?,
            created_ms: r.get(6)?,
            confirmed_ms: r.get(7)?,
            confirm_sent_ms: r.get(8)?,
        })
    }
}

/// The parameters of [`sql::INSERT_SUBSCRIBER`]; `components` is made by the caller from
/// `n` ([`join_components`]).
fn subscriber_params<'a>(n: &'a SubscriberRow, components: &'a String) -> [&'a dyn Param; 8] {
    [
        &n.service,
        &n.kind,
        &n.address,
        components,
        &n.secret,
        &n.created_ms,
        &n.confirmed_ms,
        &n.confirm_sent_ms,
    ]
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

fn join_components(c: &[String]) -> String {
    c.join(",")
}

fn split_components(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A flap-suppression state row: (monitor, JSON).
struct FlapState(String, String);

impl FromRow for FlapState {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(FlapState(r.get(0)?, r.get(1)?))
    }
}
