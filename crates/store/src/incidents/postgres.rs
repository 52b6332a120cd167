//! [`IncidentStore`] on PostgreSQL.

use super::sql::*;
use super::*;
use crate::postgres::{PgStore, execute, query, query_one, query_opt};
use crate::sql::One;
use deadpool_postgres::GenericClient;

async fn insert_updates(
    c: &impl GenericClient,
    id: i64,
    updates: &[IncidentUpdateRow],
) -> Result<(), StoreError> {
    for u in updates {
        execute(c, &INSERT_UPDATE, &update_row_params(&id, u)).await?;
    }
    Ok(())
}

impl PgStore {
    /// The updates of the given incidents, attached to them: one query for the whole list,
    /// the ids bound as one array (`= ANY($1)`, PostgreSQL's; SQLite spells out a list).
    async fn with_updates(
        &self,
        rows: Vec<IncidentRow>,
    ) -> Result<Vec<IncidentRecord>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = rows.iter().map(|i| i.id).collect();
        let updates = self
            .client()
            .await?
            .query(
                concat!(
                    "SELECT ",
                    update_columns!(),
                    " FROM incident_updates WHERE incident_id = ANY($1) ORDER BY at_ms, id"
                ),
                &[&ids],
            )
            .await?;
        let updates = updates
            .iter()
            .map(IncidentUpdateRow::from_row)
            .collect::<Result<_, _>>()?;
        Ok(attach_updates(rows, updates))
    }
}

#[async_trait]
impl IncidentStore for PgStore {
    async fn insert_incident(
        &self,
        i: IncidentRow,
        updates: Vec<IncidentUpdateRow>,
        fence: Option<&crate::Fence>,
    ) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        crate::postgres::check_fence(&tx, fence).await?;
        let Some(id): Option<One<i64>> =
            query_opt(&tx, &INSERT_INCIDENT, &insert_params(&i)).await?
        else {
            return Err(origin_taken(&i));
        };
        insert_updates(&tx, id.0, &updates).await?;
        tx.commit().await?;
        Ok(id.0)
    }

    async fn update_incident(
        &self,
        i: IncidentRow,
        updates: Vec<IncidentUpdateRow>,
        fence: Option<&crate::Fence>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        crate::postgres::check_fence(&tx, fence).await?;
        if execute(&tx, &UPDATE_INCIDENT, &update_params(&i)).await? == 0 {
            let exists: One<bool> = query_one(&tx, &INCIDENT_EXISTS, &[&i.id]).await?;
            return Err(not_updated(&i, exists.0));
        }
        insert_updates(&tx, i.id, &updates).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn incident(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError> {
        let row: Option<IncidentRow> = {
            let client = self.client().await?;
            query_opt(&client, &INCIDENT, &[&id]).await?
        };
        Ok(self.with_updates(row.into_iter().collect()).await?.pop())
    }

    async fn incidents(&self, f: IncidentFilter) -> Result<Vec<IncidentRecord>, StoreError> {
        let limit = i64::from(f.limit);
        let rows = {
            let client = self.client().await?;
            query(&client, &INCIDENTS, &filter_params(&f, &limit)).await?
        };
        self.with_updates(rows).await
    }
}
