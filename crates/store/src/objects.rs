//! Services, monitors and notification destinations managed at runtime, through the API or
//! the admin area, beside those the config file declares ([`ObjectStore`]). Each is kept as
//! the TOML table the file would hold, so one validator checks both, and `downbeat config
//! export` writes them back as a file. Operator data: a destination's secrets are in it.

use crate::StoreError;
use crate::postgres::{PgStore, execute as pg_execute, query as pg_query};
use crate::sql::{FromRow, RowLike};
use crate::sqlite::{SqliteStore, execute, query};
use async_trait::async_trait;

#[async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// Every managed object, oldest first.
    async fn config_objects(&self) -> Result<Vec<ObjectRow>, StoreError>;

    /// Adds `row`; false when an object of its kind has its id already.
    async fn insert_config_object(&self, row: &ObjectRow) -> Result<bool, StoreError>;

    /// Replaces the body of `row`'s object; false when there is none.
    async fn update_config_object(&self, row: &ObjectRow) -> Result<bool, StoreError>;

    /// Removes object `id` of `kind`; false when there is none.
    async fn delete_config_object(&self, kind: &str, id: &str) -> Result<bool, StoreError>;

    /// In one transaction: removes `delete` (kind, id), then adds or replaces `put` (an
    /// object replaced keeps its place and creation time). All or nothing.
    async fn apply_config_objects(
        &self,
        put: Vec<ObjectRow>,
        delete: Vec<(String, String)>,
    ) -> Result<(), StoreError>;
}

/// A managed object: its kind (`service`, `monitor`, or a destination's table such as
/// `notify.webhook`), its id, and its TOML table as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRow {
    pub kind: String,
    pub id: String,
    pub body: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Who changed it last: a token's or user's name.
    pub updated_by: String,
}

impl FromRow for ObjectRow {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(ObjectRow {
            kind: r.get(0)?,
            id: r.get(1)?,
            body: r.get(2)?,
            created_ms: r.get(3)?,
            updated_ms: r.get(4)?,
            updated_by: r.get(5)?,
        })
    }
}

mod sql {
    use crate::sql::{Sql, sql};

    pub const OBJECTS: Sql = sql!(
        "SELECT kind, id, body, created_ms, updated_ms, updated_by FROM config_objects
         ORDER BY seq"
    );
    pub const INSERT: Sql = sql!(
        "INSERT INTO config_objects (kind, id, body, created_ms, updated_ms, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, id) DO NOTHING"
    );
    pub const UPDATE: Sql = sql!(
        "UPDATE config_objects SET body = $3, updated_ms = $4, updated_by = $5
         WHERE kind = $1 AND id = $2"
    );
    pub const DELETE: Sql = sql!("DELETE FROM config_objects WHERE kind = $1 AND id = $2");
    pub const UPSERT: Sql = sql!(
        "INSERT INTO config_objects (kind, id, body, created_ms, updated_ms, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, id) DO UPDATE
         SET body = excluded.body, updated_ms = excluded.updated_ms,
             updated_by = excluded.updated_by"
    );
}

#[async_trait]
impl ObjectStore for SqliteStore {
    async fn config_objects(&self) -> Result<Vec<ObjectRow>, StoreError> {
        self.read(move |c| query(c, &sql::OBJECTS, &[])).await
    }

    async fn insert_config_object(&self, row: &ObjectRow) -> Result<bool, StoreError> {
        let r = row.clone();
        self.write(move |c| {
            execute(
                c,
                &sql::INSERT,
                &[
                    &r.kind,
                    &r.id,
                    &r.body,
                    &r.created_ms,
                    &r.updated_ms,
                    &r.updated_by,
                ],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn update_config_object(&self, row: &ObjectRow) -> Result<bool, StoreError> {
        let r = row.clone();
        self.write(move |c| {
            execute(
                c,
                &sql::UPDATE,
                &[&r.kind, &r.id, &r.body, &r.updated_ms, &r.updated_by],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn delete_config_object(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        let (kind, id) = (kind.to_owned(), id.to_owned());
        self.write(move |c| execute(c, &sql::DELETE, &[&kind, &id]).map(|n| n > 0))
            .await
    }

    async fn apply_config_objects(
        &self,
        put: Vec<ObjectRow>,
        delete: Vec<(String, String)>,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            for (kind, id) in &delete {
                execute(&tx, &sql::DELETE, &[kind, id])?;
            }
            for r in &put {
                execute(
                    &tx,
                    &sql::UPSERT,
                    &[
                        &r.kind,
                        &r.id,
                        &r.body,
                        &r.created_ms,
                        &r.updated_ms,
                        &r.updated_by,
                    ],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl ObjectStore for PgStore {
    async fn config_objects(&self) -> Result<Vec<ObjectRow>, StoreError> {
        let client = self.client().await?;
        pg_query(&client, &sql::OBJECTS, &[]).await
    }

    async fn insert_config_object(&self, r: &ObjectRow) -> Result<bool, StoreError> {
        let client = self.client().await?;
        pg_execute(
            &client,
            &sql::INSERT,
            &[
                &r.kind,
                &r.id,
                &r.body,
                &r.created_ms,
                &r.updated_ms,
                &r.updated_by,
            ],
        )
        .await
        .map(|n| n > 0)
    }

    async fn update_config_object(&self, r: &ObjectRow) -> Result<bool, StoreError> {
        let client = self.client().await?;
        pg_execute(
            &client,
            &sql::UPDATE,
            &[&r.kind, &r.id, &r.body, &r.updated_ms, &r.updated_by],
        )
        .await
        .map(|n| n > 0)
    }

    async fn delete_config_object(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        pg_execute(&client, &sql::DELETE, &[&kind, &id])
            .await
            .map(|n| n > 0)
    }

    async fn apply_config_objects(
        &self,
        put: Vec<ObjectRow>,
        delete: Vec<(String, String)>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        for (kind, id) in &delete {
            pg_execute(&tx, &sql::DELETE, &[kind, id]).await?;
        }
        for r in &put {
            pg_execute(
                &tx,
                &sql::UPSERT,
                &[
                    &r.kind,
                    &r.id,
                    &r.body,
                    &r.created_ms,
                    &r.updated_ms,
                    &r.updated_by,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
