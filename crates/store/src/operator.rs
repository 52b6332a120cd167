//! The operator's side of the store: API tokens, admin users and their sessions, and
//! incidents (with maintenance windows and post-mortems).
//!
//! A separate trait from [`crate::Store`] (which extends it) so the crowd and probe storage
//! and the operator storage each stay readable. Rows are plain data: enumerations travel as
//! their machine names and JSON columns as strings; the server owns their meaning.

use crate::StoreError;
use async_trait::async_trait;

/// A SHA-256 digest.
pub type Hash32 = [u8; 32];

/// An API token: only the hash of its secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub hash: Hash32,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

/// An admin user. `password_hash` is an argon2 PHC string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub created_ms: i64,
    /// Failed logins since the last success.
    pub failed_logins: i64,
    pub locked_until_ms: Option<i64>,
}

/// A signed-in admin session: only the hash of its cookie value is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id_hash: Hash32,
    pub user: String,
    pub csrf: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

/// An incident or a maintenance window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRow {
    /// Assigned by the store on insert.
    pub id: i64,
    pub service: String,
    /// `incident` or `maintenance`.
    pub kind: String,
    pub title: String,
    pub status: String,
    pub impact: String,
    /// JSON object: component id → state.
    pub components: String,
    /// A draft is visible to operators only.
    pub draft: bool,
    /// `operator`, `crowd` or `probes`.
    pub source: String,
    /// JSON: the signals behind an automatic draft.
    pub evidence: Option<String>,
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
}

/// One timestamped update of an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentUpdateRow {
    /// Assigned by the store.
    pub id: i64,
    pub incident: i64,
    pub at_ms: i64,
    pub status: String,
    pub message: String,
    /// JSON object: component id → state, as of this update.
    pub components: String,
    /// The user or token that wrote it (`downbeat` for automatic updates).
    pub author: String,
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
    /// `incident` or `maintenance`; none means both.
    pub kind: Option<String>,
    pub include_drafts: bool,
    /// Only those not resolved (incidents) or not completed (maintenance).
    pub open_only: bool,
    /// Only those created, or still open, at or after this time.
    pub since_ms: Option<i64>,
    pub limit: u32,
}

/// Incidents with their updates attached (updates in the order given), for backends that
/// read both lists with one query each.
pub(crate) fn attach_updates(
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

#[async_trait]
pub trait OperatorStore: Send + Sync + 'static {
    /// Stores a new token. A name already taken is [`StoreError::Conflict`].
    async fn create_token(&self, token: ApiToken) -> Result<i64, StoreError>;
    /// The unrevoked token with this hash.
    async fn token_by_hash(&self, hash: Hash32) -> Result<Option<ApiToken>, StoreError>;
    /// Every token, revoked ones included, by name.
    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError>;
    /// Revokes a token by name; whether one was revoked.
    async fn revoke_token(&self, name: &str, now_ms: i64) -> Result<bool, StoreError>;

    /// Inserts or replaces a user.
    async fn save_user(&self, user: UserRow) -> Result<(), StoreError>;
    async fn user(&self, name: &str) -> Result<Option<UserRow>, StoreError>;
    async fn users(&self) -> Result<Vec<UserRow>, StoreError>;

    async fn insert_session(&self, session: SessionRow) -> Result<(), StoreError>;
    /// The session with this hash, if it has not expired at `now_ms`.
    async fn session(&self, id_hash: Hash32, now_ms: i64)
    -> Result<Option<SessionRow>, StoreError>;
    async fn delete_session(&self, id_hash: Hash32) -> Result<(), StoreError>;

    /// Inserts an incident (its `id` and `version` are ignored; the version starts at 1)
    /// with its first updates; returns the new id.
    async fn insert_incident(
        &self,
        incident: IncidentRow,
        updates: Vec<IncidentUpdateRow>,
    ) -> Result<i64, StoreError>;
    /// Replaces an incident's row and appends updates, if its stored version is still
    /// `incident.version` (which becomes `version + 1`). A stale version is
    /// [`StoreError::Conflict`]; an unknown id is [`StoreError::NotFound`].
    async fn update_incident(
        &self,
        incident: IncidentRow,
        updates: Vec<IncidentUpdateRow>,
    ) -> Result<(), StoreError>;
    async fn incident(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError>;
    /// Incidents matching `filter`, newest first.
    async fn incidents(&self, filter: IncidentFilter) -> Result<Vec<IncidentRecord>, StoreError>;
}
