//! [`IncidentStore`] on SQLite.

use super::sql::*;
use super::*;
use crate::sql::One;
use crate::sqlite::{SqliteStore, execute, query, query_one, query_opt};
use rusqlite::Connection;

fn insert_updates(
    c: &Connection,
    id: i64,
    updates: &[IncidentUpdateRow],
) -> Result<(), StoreError> {
    for u in updates {
        execute(c, &INSERT_UPDATE, &update_row_params(&id, u))?;
    }
    Ok(())
}

/// The updates of the given incidents, attached to them: one query for the whole list. The
/// ids go in as one `?` each (PostgreSQL binds one array instead).
fn with_updates(
    c: &Connection,
    incidents: Vec<IncidentRow>,
) -> Result<Vec<IncidentRecord>, StoreError> {
    if incidents.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; incidents.len()].join(", ");
    let mut st = c.prepare(&format!(
        concat!(
            "SELECT ",
            update_columns!(),
            " FROM incident_updates WHERE incident_id IN ({marks}) ORDER BY at_ms, id"
        ),
        marks = marks
    ))?;
    let mut rows = st.query(rusqlite::params_from_iter(incidents.iter().map(|r| r.id)))?;
    let mut updates = Vec::new();
    while let Some(r) = rows.next()? {
        updates.push(IncidentUpdateRow::from_row(r)?);
    }
    Ok(attach_updates(incidents, updates))
}

#[async_trait]
impl IncidentStore for SqliteStore {
    async fn insert_incident(
        &self,
        i: IncidentRow,
        updates: Vec<IncidentUpdateRow>,
        fence: Option<&crate::Fence>,
    ) -> Result<i64, StoreError> {
        let fence = fence.cloned();
        self.write(move |c| {
            let tx = c.transaction()?;
            crate::sqlite::check_fence(&tx, fence.as_ref())?;
            let Some(id): Option<One<i64>> = query_opt(&tx, &INSERT_INCIDENT, &insert_params(&i))?
            else {
                return Err(origin_taken(&i));
            };
            insert_updates(&tx, id.0, &updates)?;
            tx.commit()?;
            Ok(id.0)
        })
        .await
    }

    async fn update_incident(
        &self,
        i: IncidentRow,
        updates: Vec<IncidentUpdateRow>,
        fence: Option<&crate::Fence>,
    ) -> Result<(), StoreError> {
        let fence = fence.cloned();
        self.write(move |c| {
            let tx = c.transaction()?;
            crate::sqlite::check_fence(&tx, fence.as_ref())?;
            if execute(&tx, &UPDATE_INCIDENT, &update_params(&i))? == 0 {
                let exists: One<bool> = query_one(&tx, &INCIDENT_EXISTS, &[&i.id])?;
                return Err(not_updated(&i, exists.0));
            }
            insert_updates(&tx, i.id, &updates)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn incident(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError> {
        self.read(move |c| {
            let row: Option<IncidentRow> = query_opt(c, &INCIDENT, &[&id])?;
            Ok(with_updates(c, row.into_iter().collect())?.pop())
        })
        .await
    }

    async fn incidents(&self, f: IncidentFilter) -> Result<Vec<IncidentRecord>, StoreError> {
        self.read(move |c| {
            let limit = i64::from(f.limit);
            let rows = query(c, &INCIDENTS, &filter_params(&f, &limit))?;
            with_updates(c, rows)
        })
        .await
    }
}
