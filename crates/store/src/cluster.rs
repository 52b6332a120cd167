//! The nodes sharing a store ([`ClusterStore`]): who is alive, on the database's clock.
//!
//! Each node says it is alive every second or so ([`ClusterStore::beat`]); the answer is
//! every node heard from lately, with the database's own time, so every node judges
//! liveness by one clock whatever its own says. SQLite has one node: it answers `None`.

use crate::StoreError;
use crate::postgres::{DB_NOW_MS, PgStore, cached};
use crate::sql::{FromRow, RowLike};
use crate::sqlite::SqliteStore;
use async_trait::async_trait;

/// A node not heard from for this long is gone (the database's clock).
pub const NODE_TIMEOUT_MS: i64 = 4_000;

#[async_trait]
pub trait ClusterStore: Send + Sync + 'static {
    /// Says node `node` is alive now; the nodes heard from within [`NODE_TIMEOUT_MS`]
    /// (this one included), or `None` where one node has the store to itself.
    async fn beat(&self, node: &str) -> Result<Option<Members>, StoreError>;

    /// Says node `node` has left: the others stop counting it at their next beat.
    async fn leave(&self, node: &str) -> Result<(), StoreError>;
}

/// The live nodes as one beat saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Members {
    /// The database's time when it answered.
    pub now_ms: i64,
    pub nodes: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    /// When the node first beat (the database's clock).
    pub started_ms: i64,
}

impl FromRow for Member {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(Member {
            id: r.get(0)?,
            started_ms: r.get(1)?,
        })
    }
}

#[async_trait]
impl ClusterStore for SqliteStore {
    async fn beat(&self, _: &str) -> Result<Option<Members>, StoreError> {
        Ok(None)
    }

    async fn leave(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl ClusterStore for PgStore {
    async fn beat(&self, node: &str) -> Result<Option<Members>, StoreError> {
        let client = self.client().await?;
        // One statement: the beat, then everyone alive as of the same instant.
        let rows = client
            .query(
                &format!(
                    "WITH t AS (SELECT {DB_NOW_MS} AS now_ms),
                     me AS (INSERT INTO nodes (id, started_ms, seen_ms)
                            SELECT $1, now_ms, now_ms FROM t
                            ON CONFLICT (id) DO UPDATE SET seen_ms = excluded.seen_ms
                            RETURNING id, started_ms)
                     SELECT id, started_ms, now_ms FROM nodes, t
                        WHERE seen_ms >= now_ms - $2 AND id <> $1
                     UNION ALL SELECT id, started_ms, now_ms FROM me, t"
                ),
                &[&node, &NODE_TIMEOUT_MS],
            )
            .await?;
        let mut now_ms = 0;
        let mut nodes = Vec::with_capacity(rows.len());
        for r in &rows {
            now_ms = r.try_get(2)?;
            nodes.push(Member::from_row(r)?);
        }
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Some(Members { now_ms, nodes }))
    }

    async fn leave(&self, node: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &cached(&client, "DELETE FROM nodes WHERE id = $1").await?,
                &[&node],
            )
            .await?;
        // Nodes long gone (killed, never left) are forgotten after a day.
        client
            .execute(
                &format!("DELETE FROM nodes WHERE seen_ms < {DB_NOW_MS} - 86400000"),
                &[],
            )
            .await?;
        Ok(())
    }
}
