//! Detection state: the detectors' saved states, the verdict changes they record, and the
//! leases that let one node at a time run work that must run once ([`DetectionStore`]).

mod postgres;
mod sqlite;

use crate::StoreError;
use crate::sql::{At, FromRow, Param, RowLike};
use async_trait::async_trait;
use downbeat_domain::Verdict;

#[async_trait]
pub trait DetectionStore: Send + Sync + 'static {
    /// The saved detector states of a service.
    async fn detector_states(&self, service: &str) -> Result<Vec<DetectorState>, StoreError>;

    /// Saves (inserts or replaces) detector states of a service, in one transaction — under
    /// `fence` when given (refused with [`StoreError::Conflict`] if the lease is lost).
    async fn save_detector_states(
        &self,
        service: &str,
        states: Vec<DetectorState>,
        fence: Option<&Fence>,
    ) -> Result<(), StoreError>;

    /// Deletes the saved states of these series of a service (a crowd series that lost its
    /// slot); returns how many there were.
    async fn delete_detector_states(
        &self,
        service: &str,
        series: Vec<String>,
    ) -> Result<u64, StoreError>;

    /// Records a verdict change; returns its id. (`event.id` is ignored.) Under `fence` when
    /// given.
    async fn insert_verdict_event(
        &self,
        event: VerdictEvent,
        fence: Option<&Fence>,
    ) -> Result<i64, StoreError>;

    /// Verdict changes of a service at or after `since_ms`, newest first, at most `limit`.
    async fn verdict_events(
        &self,
        service: &str,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<VerdictEvent>, StoreError>;

    /// Takes or renews the lease `name` for `holder` for `ttl_ms`, if it is free, expired,
    /// or already held by `holder`; its fence if `holder` holds it now. PostgreSQL judges
    /// expiry by its own clock (`now_ms` is ignored: nodes' clocks may differ); SQLite, with
    /// one node, by `now_ms`. The token grows whenever the lease changes hands.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Option<Fence>, StoreError>;
}

/// Statements both backends run as written. (Saving states differs: see `sqlite.rs` and
/// `postgres.rs`.)
pub(crate) mod sql {
    use crate::sql::{Sql, sql};

    pub const DETECTOR_STATES: Sql =
        sql!("SELECT series, state, through_minute_ms FROM detector_states WHERE service = $1");
    /// Parameters: [`super::verdict_params`].
    pub const INSERT_VERDICT_EVENT: Sql = sql!(
        "INSERT INTO verdict_events (service, series, at_ms, verdict, previous, score, observed,
            expected, explanation, evidence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         RETURNING id"
    );
    pub const VERDICT_EVENTS: Sql = sql!(
        "SELECT id, service, series, at_ms, verdict, previous, score, observed, expected,
                explanation, evidence
         FROM verdict_events WHERE service = $1 AND at_ms >= $2
         ORDER BY at_ms DESC, id DESC LIMIT $3"
    );
    /// SQLite's, on the node's clock (`$3` expiry, `$4` now); PostgreSQL's is on its own.
    pub const TRY_LEASE: Sql = sql!(
        "INSERT INTO leases (name, holder, expires_at_ms, token) VALUES ($1, $2, $3, 1)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
            expires_at_ms = excluded.expires_at_ms,
            token = CASE WHEN leases.holder = excluded.holder THEN leases.token ELSE leases.token + 1 END
         WHERE leases.holder = excluded.holder OR leases.expires_at_ms <= $4
         RETURNING token"
    );
}

/// A lease held, with the fencing token its writes carry. A write under a fence is refused
/// (and changes nothing) unless the lease is still its holder's with the same token — and,
/// on PostgreSQL, unexpired by the database's clock. The check locks the lease row until
/// the write commits, so the lease cannot change hands in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub name: String,
    pub holder: String,
    pub token: i64,
}

impl Fence {
    /// The error of a write whose lease was lost.
    pub(crate) fn lost(&self) -> StoreError {
        StoreError::Conflict(format!(
            "the {} lease is no longer held by {} with token {}: another node took it",
            self.name, self.holder, self.token
        ))
    }
}

/// A detector's saved state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorState {
    pub series: String,
    pub state: String,
    pub through_minute_ms: i64,
}

impl FromRow for DetectorState {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(DetectorState {
            series: r.get(0)?,
            state: r.get(1)?,
            through_minute_ms: r.get(2)?,
        })
    }
}

/// A verdict change with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictEvent {
    pub id: i64,
    pub service: String,
    pub series: String,
    pub at_ms: i64,
    pub verdict: Verdict,
    pub previous: Verdict,
    pub score: f64,
    pub observed: f64,
    pub expected: f64,
    pub explanation: String,
    /// What the verdict rests on (JSON in the store; its shape is the crowd's).
    pub evidence: serde_json::Value,
}

impl FromRow for VerdictEvent {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(VerdictEvent {
            id: r.get(0)?,
            service: r.get(1)?,
            series: r.get(2)?,
            at_ms: r.get(3)?,
            verdict: r.word(4, At("verdict_events", "verdict"))?,
            previous: r.word(5, At("verdict_events", "previous"))?,
            score: r.get(6)?,
            observed: r.get(7)?,
            expected: r.get(8)?,
            explanation: r.get(9)?,
            evidence: r.json(10, At("verdict_events", "evidence"))?,
        })
    }
}

/// The parameters of [`sql::INSERT_VERDICT_EVENT`].
fn verdict_params(e: &VerdictEvent) -> [&dyn Param; 10] {
    [
        &e.service,
        &e.series,
        &e.at_ms,
        &e.verdict,
        &e.previous,
        &e.score,
        &e.observed,
        &e.expected,
        &e.explanation,
        &e.evidence,
    ]
}
