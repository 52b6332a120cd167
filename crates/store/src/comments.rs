//! Community comments on a service's public page, their moderation, and the networks an
//! operator paused ([`CommentStore`]). Comments are never reports: nothing here counts.
//!
//! Like a report, a comment keeps only keyed hashes of its client's address and network
//! (under the day's salt, see the intake's `identity`), never the address.

mod postgres;
mod sqlite;

use crate::sql::{At, FromRow, Param, RowLike, bytes};
use crate::{Hash16, StoreError};
use async_trait::async_trait;
use downbeat_domain::CommentState;

#[async_trait]
pub trait CommentStore: Send + Sync + 'static {
    /// Stores a new comment; returns its id.
    async fn insert_comment(&self, comment: NewComment) -> Result<i64, StoreError>;

    /// The shown comments of a service, newest first, at most `limit`.
    async fn shown_comments(
        &self,
        service: &str,
        limit: u32,
    ) -> Result<Vec<CommentRow>, StoreError>;

    /// The comments of a service awaiting approval, oldest first (a queue), at most `limit`.
    async fn pending_comments(
        &self,
        service: &str,
        limit: u32,
    ) -> Result<Vec<CommentRow>, StoreError>;

    /// How many comments of a service await approval.
    async fn pending_comment_count(&self, service: &str) -> Result<u64, StoreError>;

    /// The shown and hidden comments of a service, newest first, at most `limit`.
    async fn moderated_comments(
        &self,
        service: &str,
        limit: u32,
    ) -> Result<Vec<CommentRow>, StoreError>;

    /// One comment of a service.
    async fn comment(&self, service: &str, id: i64) -> Result<Option<CommentRow>, StoreError>;

    /// Moves a comment of `service` to `state`, recording who did it and when; false when
    /// the service has no such comment.
    async fn moderate_comment(
        &self,
        id: i64,
        service: &str,
        state: CommentState,
        by: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Refuses comments from the network with this hash on `service` until `until_ms`. A
    /// network paused already stays paused until the later of the two ends.
    async fn ban_network(
        &self,
        service: &str,
        network_hash: Hash16,
        until_ms: i64,
        by: &str,
    ) -> Result<(), StoreError>;

    /// Whether the network with this hash is paused on `service` at `now_ms`.
    async fn network_banned(
        &self,
        service: &str,
        network_hash: Hash16,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
}

/// The columns [`CommentRow`] reads, in order.
macro_rules! comment_columns {
    () => {
        "id, service, created_ms, text, client_hash, network_hash, state, moderated_by,
        moderated_ms"
    };
}

/// Every statement of this stage runs as written on both backends.
pub(crate) mod sql {
    use crate::sql::{Sql, sql};

    /// Parameters: [`super::new_comment_params`].
    pub const INSERT_COMMENT: Sql = sql!(
        "INSERT INTO comments (service, created_ms, text, client_hash, network_hash, state)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
    );
    /// `$1` service, `$2` state, `$3` limit.
    pub const NEWEST_IN_STATE: Sql = sql!(concat!(
        "SELECT ",
        comment_columns!(),
        " FROM comments WHERE service = $1 AND state = $2
         ORDER BY created_ms DESC, id DESC LIMIT $3"
    ));
    /// `$1` service, `$2` state, `$3` limit.
    pub const OLDEST_IN_STATE: Sql = sql!(concat!(
        "SELECT ",
        comment_columns!(),
        " FROM comments WHERE service = $1 AND state = $2
         ORDER BY created_ms, id LIMIT $3"
    ));
    pub const PENDING_COUNT: Sql =
        sql!("SELECT COUNT(*) FROM comments WHERE service = $1 AND state = 'pending'");
    /// `$1` service, `$2` limit.
    pub const MODERATED: Sql = sql!(concat!(
        "SELECT ",
        comment_columns!(),
        " FROM comments WHERE service = $1 AND state IN ('shown', 'hidden')
         ORDER BY created_ms DESC, id DESC LIMIT $2"
    ));
    pub const COMMENT: Sql = sql!(concat!(
        "SELECT ",
        comment_columns!(),
        " FROM comments WHERE service = $1 AND id = $2"
    ));
    /// `$1` id, `$2` service, `$3` state, `$4` by, `$5` now.
    pub const MODERATE: Sql = sql!(
        "UPDATE comments SET state = $3, moderated_by = $4, moderated_ms = $5
         WHERE id = $1 AND service = $2"
    );
    /// `$1` service, `$2` network hash, `$3` until, `$4` by.
    pub const BAN_NETWORK: Sql = sql!(
        "INSERT INTO banned_networks AS b (service, network_hash, until_ms, banned_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (service, network_hash) DO UPDATE SET
            until_ms = CASE WHEN excluded.until_ms > b.until_ms
                THEN excluded.until_ms ELSE b.until_ms END,
            banned_by = excluded.banned_by"
    );
    pub const NETWORK_BANNED: Sql = sql!(
        "SELECT until_ms FROM banned_networks
         WHERE service = $1 AND network_hash = $2 AND until_ms > $3"
    );
    // Comments go with the raw reports' retention, and a pause once that long over. Few
    // rows (comments are rate-limited per client), so one statement each, with no chunks.
    pub const PRUNE_COMMENTS: Sql = sql!("DELETE FROM comments WHERE created_ms < $1");
    pub const PRUNE_BANNED_NETWORKS: Sql = sql!("DELETE FROM banned_networks WHERE until_ms < $1");
}

/// A comment as the public form takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComment {
    pub service: String,
    pub created_ms: i64,
    /// Validated (`downbeat_domain::CommentText`), still untrusted: pages escape it.
    pub text: String,
    pub client_hash: Hash16,
    pub network_hash: Hash16,
    /// Pending (premoderated) or shown (open).
    pub state: CommentState,
}

/// The parameters of [`sql::INSERT_COMMENT`]. The hashes are `c`'s as slices, made by the
/// caller (both drivers bind byte slices, not arrays).
fn new_comment_params<'a>(
    c: &'a NewComment,
    client: &'a &'a [u8],
    network: &'a &'a [u8],
) -> [&'a dyn Param; 6] {
    [
        &c.service,
        &c.created_ms,
        &c.text,
        client,
        network,
        &c.state,
    ]
}

/// A stored comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRow {
    pub id: i64,
    pub service: String,
    pub created_ms: i64,
    pub text: String,
    pub client_hash: Hash16,
    pub network_hash: Hash16,
    pub state: CommentState,
    /// Who approved or hid it last, and when.
    pub moderated_by: Option<String>,
    pub moderated_ms: Option<i64>,
}

impl FromRow for CommentRow {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(CommentRow {
            id: r.get(0)?,
            service: r.get(1)?,
            created_ms: r.get(2)?,
            text: r.get(3)?,
            client_hash: bytes(r.get(4)?, "hash")?,
            network_hash: bytes(r.get(5)?, "hash")?,
            state: r.word(6, At("comments", "state"))?,
            moderated_by: r.get(7)?,
            moderated_ms: r.get(8)?,
        })
    }
}
