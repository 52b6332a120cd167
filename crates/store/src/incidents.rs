//! Incidents: incidents and maintenance windows, their timestamped updates and post-mortems
//! ([`IncidentStore`]).
//!
//! Rows carry the domain's incident vocabulary ([`Kind`], [`Status`], [`Impact`],
//! [`Source`]) and component states, read from their stored words and JSON here; the
//! incidents crate owns what they mean. Changes are optimistic: an update names the version
//! it read.

mod postgres;
mod sqlite;

use crate::StoreError;
use crate::sql::{At, FromRow, Param, RowLike};
use async_trait::async_trait;
pub use downbeat_domain::incident::Components;
use downbeat_domain::incident::{Impact, Kind, Source, Status};

#[async_trait]
pub trait IncidentStore: Send + Sync + 'static {
    /// Inserts an incident (its `id` and `version` are ignored; the version starts at 1)
    /// with its first updates; returns the new id. Under `fence` when given (a draft of
    /// the node holding the incidents lease): refused if the lease is lost. An `origin`
    /// that an open incident already has is [`StoreError::Conflict`], nothing inserted.
    async fn insert_incident(
        &self,
        incident: IncidentRow,
        updates: Vec<IncidentUpdateRow>,
        fence: Option<&crate::Fence>,
    ) -> Result<i64, StoreError>;
    /// Replaces an incident's row and appends updates, if its stored version is still
    /// `incident.version` (which becomes `version + 1`). A stale version is
    /// [`StoreError::Conflict`]; an unknown id is [`StoreError::NotFound`]. Under `fence`
    /// when given.
    async fn update_incident(
        &self,
        incident: IncidentRow,
        updates: Vec<IncidentUpdateRow>,
        fence: Option<&crate::Fence>,
    ) -> Result<(), StoreError>;
    async fn incident(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError>;
    /// Incidents matching `filter`, newest first.
    async fn incidents(&self, filter: IncidentFilter) -> Result<Vec<IncidentRecord>, StoreError>;
}

/// The columns [`IncidentRow`] reads, in order.
macro_rules! incident_columns {
    () => {
        "id, service, kind, title, status, impact, components, draft, source,
        evidence, created_ms, updated_ms, published_ms, resolved_ms, onset_ms, detected_ms,
        acknowledged_ms, scheduled_start_ms, scheduled_end_ms, recovered_ms, postmortem,
        postmortem_ms, version, origin"
    };
}

/// The columns [`IncidentUpdateRow`] reads, in order.
macro_rules! update_columns {
    () => {
        "id, incident_id, at_ms, status, message, components, author"
    };
}
pub(crate) use update_columns;

/// Statements both backends run as written. (Reading the updates of a list of incidents
/// differs: see `sqlite.rs` and `postgres.rs`.)
pub(crate) mod sql {
    use crate::sql::{Sql, sql};

    /// Parameters: [`super::insert_params`]. Inserts nothing (and returns no id) when an
    /// open incident already has the row's origin: the partial unique index's predicate is
    /// spelt out so both backends pick that index as the conflict target.
    pub const INSERT_INCIDENT: Sql = sql!(
        "INSERT INTO incidents (service, kind, title, status, impact, components, draft,
            source, evidence, created_ms, updated_ms, published_ms, resolved_ms, onset_ms,
            detected_ms, acknowledged_ms, scheduled_start_ms, scheduled_end_ms,
            recovered_ms, postmortem, postmortem_ms, origin, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
            $17, $18, $19, $20, $21, $22, 1)
         ON CONFLICT (origin)
            WHERE origin IS NOT NULL AND status NOT IN ('resolved', 'completed')
            DO NOTHING
         RETURNING id"
    );
    /// Parameters: [`super::update_params`].
    pub const UPDATE_INCIDENT: Sql = sql!(
        "UPDATE incidents SET title = $3, status = $4, impact = $5, components = $6,
            draft = $7, source = $8, evidence = $9, updated_ms = $10, published_ms = $11,
            resolved_ms = $12, onset_ms = $13, detected_ms = $14, acknowledged_ms = $15,
            scheduled_start_ms = $16, scheduled_end_ms = $17, recovered_ms = $18,
            postmortem = $19, postmortem_ms = $20, version = version + 1
         WHERE id = $1 AND version = $2"
    );
    pub const INCIDENT_EXISTS: Sql = sql!("SELECT EXISTS (SELECT 1 FROM incidents WHERE id = $1)");
    /// Parameters: [`super::update_row_params`].
    pub const INSERT_UPDATE: Sql = sql!(
        "INSERT INTO incident_updates (incident_id, at_ms, status, message, components, author)
         VALUES ($1, $2, $3, $4, $5, $6)"
    );
    pub const INCIDENT: Sql = sql!(concat!(
        "SELECT ",
        incident_columns!(),
        " FROM incidents WHERE id = $1"
    ));
    // The casts name the type of a parameter that may be NULL, which PostgreSQL cannot
    // infer from `IS NULL` alone (standard SQL, so SQLite runs it too).
    /// Parameters: [`super::filter_params`].
    pub const INCIDENTS: Sql = sql!(concat!(
        "SELECT ",
        incident_columns!(),
        " FROM incidents
         WHERE (CAST($1 AS TEXT) IS NULL OR service = $1) AND (CAST($2 AS TEXT) IS NULL OR kind = $2)
           AND ($3 OR NOT draft)
           AND (NOT $4 OR status NOT IN ('resolved', 'completed'))
           AND (CAST($5 AS BIGINT) IS NULL OR created_ms >= $5
                OR status NOT IN ('resolved', 'completed'))
           AND (CAST($7 AS TEXT) IS NULL OR origin = $7)
         ORDER BY created_ms DESC, id DESC LIMIT $6"
    ));
}

/// An incident or a maintenance window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRow {
    /// Assigned by the store on insert.
    pub id: i64,
    pub service: String,
    pub kind: Kind,
    pub title: String,
    pub status: Status,
    pub impact: Impact,
    /// The affected components and their states (a JSON object in the store).
    pub components: Components,
    /// A draft is visible to operators only.
    pub draft: bool,
    pub source: Source,
    /// The signals behind an automatic draft (JSON in the store).
    pub evidence: Option<serde_json::Value>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub published_ms: Option<i64>,
    pub resolved_ms: Option<i64>,
    /// When the signals say the trouble began, and when it was first detected.
    pub onset_ms: Option<i64>,
    pub detected_ms: Option<i64>,
    /// The first published update.
    pub acknowledged_ms: Option<i64>,
    pub scheduled_start_ms: Option<i64>,
    pub scheduled_end_ms: Option<i64>,
    /// When the signals recovered while the incident was still open: it awaits resolution.
    pub recovered_ms: Option<i64>,
    /// Markdown.
    pub postmortem: Option<String>,
    pub postmortem_ms: Option<i64>,
    /// Bumped by every update; an update names the version it read.
    pub version: i64,
    /// What an integration drafted it from (`alertmanager:…`, `webhook:…`); None for the
    /// rest. Set on insert only: at most one open incident has a given origin, and an
    /// insert that would make a second is [`StoreError::Conflict`].
    pub origin: Option<String>,
}

impl FromRow for IncidentRow {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        const T: &str = "incidents";
        Ok(IncidentRow {
            id: r.get(0)?,
            service: r.get(1)?,
            kind: r.word(2, At(T, "kind"))?,
            title: r.get(3)?,
            status: r.word(4, At(T, "status"))?,
            impact: r.word(5, At(T, "impact"))?,
            components: r.json(6, At(T, "components"))?,
            draft: r.get(7)?,
            source: r.word(8, At(T, "source"))?,
            evidence: r.json_opt(9, At(T, "evidence"))?,
            created_ms: r.get(10)?,
            updated_ms: r.get(11)?,
            published_ms: r.get(12)?,
            resolved_ms: r.get(13)?,
            onset_ms: r.get(14)?,
            detected_ms: r.get(15)?,
            acknowledged_ms: r.get(16)?,
            scheduled_start_ms: r.get(17)?,
            scheduled_end_ms: r.get(18)?,
            recovered_ms: r.get(19)?,
            postmortem: r.get(20)?,
            postmortem_ms: r.get(21)?,
            version: r.get(22)?,
            origin: r.get(23)?,
        })
    }
}

/// The parameters of [`sql::INSERT_INCIDENT`].
fn insert_params(i: &IncidentRow) -> [&dyn Param; 22] {
    [
        &i.service,
        &i.kind,
        &i.title,
        &i.status,
        &i.impact,
        &i.components,
        &i.draft,
        &i.source,
        &i.evidence,
        &i.created_ms,
        &i.updated_ms,
        &i.published_ms,
        &i.resolved_ms,
        &i.onset_ms,
        &i.detected_ms,
        &i.acknowledged_ms,
        &i.scheduled_start_ms,
        &i.scheduled_end_ms,
        &i.recovered_ms,
        &i.postmortem,
        &i.postmortem_ms,
        &i.origin,
    ]
}

/// The parameters of [`sql::UPDATE_INCIDENT`] (the origin never changes).
fn update_params(i: &IncidentRow) -> [&dyn Param; 20] {
    [
        &i.id,
        &i.version,
        &i.title,
        &i.status,
        &i.impact,
        &i.components,
        &i.draft,
        &i.source,
        &i.evidence,
        &i.updated_ms,
        &i.published_ms,
        &i.resolved_ms,
        &i.onset_ms,
        &i.detected_ms,
        &i.acknowledged_ms,
        &i.scheduled_start_ms,
        &i.scheduled_end_ms,
        &i.recovered_ms,
        &i.postmortem,
        &i.postmortem_ms,
    ]
}

/// What [`sql::INSERT_INCIDENT`] inserting no row means.
fn origin_taken(i: &IncidentRow) -> StoreError {
    StoreError::Conflict(format!(
        "an open incident already comes from {}",
        i.origin.as_deref().unwrap_or("?")
    ))
}

/// What [`sql::UPDATE_INCIDENT`] changing no row means.
fn not_updated(i: &IncidentRow, exists: bool) -> StoreError {
    if exists {
        StoreError::Conflict(format!(
            "incident {} changed since version {}; reload and retry",
            i.id, i.version
        ))
    } else {
        StoreError::NotFound(format!("incident {}", i.id))
    }
}

/// One timestamped update of an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentUpdateRow {
    /// Assigned by the store.
    pub id: i64,
    pub incident: i64,
    pub at_ms: i64,
    pub status: Status,
    pub message: String,
    /// Component states as of this update (a JSON object in the store).
    pub components: Components,
    /// The user or token that wrote it (`downbeat` for automatic updates).
    pub author: String,
}

impl FromRow for IncidentUpdateRow {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        const T: &str = "incident_updates";
        Ok(IncidentUpdateRow {
            id: r.get(0)?,
            incident: r.get(1)?,
            at_ms: r.get(2)?,
            status: r.word(3, At(T, "status"))?,
            message: r.get(4)?,
            components: r.json(5, At(T, "components"))?,
            author: r.get(6)?,
        })
    }
}

/// The parameters of [`sql::INSERT_UPDATE`] for an update of incident `id`.
fn update_row_params<'a>(id: &'a i64, u: &'a IncidentUpdateRow) -> [&'a dyn Param; 6] {
    [
        id,
        &u.at_ms,
        &u.status,
        &u.message,
        &u.components,
        &u.author,
    ]
}

/// An incident with its updates, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    pub incident: IncidentRow,
    pub updates: Vec<IncidentUpdateRow>,
}

/// Which incidents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    pub service: Option<String>,
    /// None means both.
    pub kind: Option<Kind>,
    pub include_drafts: bool,
    /// Only those not resolved (incidents) or not completed (maintenance).
    pub open_only: bool,
    /// Only those created, or still open, at or after this time.
    pub since_ms: Option<i64>,
    /// Only those an integration drafted from this origin.
    pub origin: Option<String>,
    pub limit: u32,
}

/// The parameters of [`sql::INCIDENTS`] (`limit` is the caller's, as `i64`).
fn filter_params<'a>(f: &'a IncidentFilter, limit: &'a i64) -> [&'a dyn Param; 7] {
    [
        &f.service,
        &f.kind,
        &f.include_drafts,
        &f.open_only,
        &f.since_ms,
        limit,
        &f.origin,
    ]
}

/// Incidents with their updates attached (updates in the order given), for backends that
/// read both lists with one query each.
fn attach_updates(
    incidents: Vec<IncidentRow>,
    updates: Vec<IncidentUpdateRow>,
) -> Vec<IncidentRecord> {
    let position: std::collections::HashMap<i64, usize> = incidents
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id, i))
        .collect();
    let mut out: Vec<IncidentRecord> = incidents
        .into_iter()
        .map(|incident| IncidentRecord {
            incident,
            updates: Vec::new(),
        })
        .collect();
    for u in updates {
        if let Some(&i) = position.get(&u.incident) {
            out[i].updates.push(u);
        }
    }
    out
}
