//! Changes operators made to their services — deploys, config changes, feature flags,
//! infrastructure changes, rollbacks — as their pipelines recorded them ([`ChangeStore`]).
//! Operator data: a version, a link to a pipeline run never reach a public page.

use crate::StoreError;
use crate::postgres::{
    PgStore, query as pg_query, query_one as pg_query_one, query_opt as pg_query_opt,
};
use crate::sql::{At, FromRow, One, Param, RowLike};
use crate::sqlite::{SqliteStore, query, query_one, query_opt};
use async_trait::async_trait;
use downbeat_domain::change::{Change, ChangeKind};

#[async_trait]
pub trait ChangeStore: Send + Sync + 'static {
    /// Records a change to `service` by `by` (a token's name); returns its id.
    async fn insert_change(
        &self,
        service: &str,
        change: &Change,
        by: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError>;

    /// The service's changes that took effect in `since_ms..until_ms`, newest first, at
    /// most `limit`.
    async fn service_changes(
        &self,
        service: &str,
        since_ms: i64,
        until_ms: i64,
        limit: u32,
    ) -> Result<Vec<ChangeRow>, StoreError>;

    /// One change of the service.
    async fn service_change(&self, service: &str, id: i64)
    -> Result<Option<ChangeRow>, StoreError>;
}

/// A recorded change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRow {
    pub id: i64,
    pub service: String,
    pub kind: ChangeKind,
    pub component: Option<String>,
    pub version: Option<String>,
    pub title: Option<String>,
    pub link: Option<String>,
    pub region: Option<String>,
    pub at_ms: i64,
    pub recorded_ms: i64,
    pub recorded_by: String,
}

impl ChangeRow {
    /// The change it records.
    pub fn change(&self) -> Change {
        let slug = |s: &Option<String>| {
            s.as_deref()
                .and_then(|s| downbeat_domain::Slug::parse(s).ok())
        };
        Change {
            kind: self.kind,
            component: slug(&self.component),
            version: self.version.clone(),
            title: self.title.clone(),
            link: self.link.clone(),
            region: slug(&self.region),
            at_ms: self.at_ms,
        }
    }
}

macro_rules! change_columns {
    () => {
        "id, service, kind, component, version, title, link, region, at_ms, recorded_ms,
        recorded_by"
    };
}

impl FromRow for ChangeRow {
    fn from_row(r: &impl RowLike) -> Result<Self, StoreError> {
        Ok(ChangeRow {
            id: r.get(0)?,
            service: r.get(1)?,
            kind: r.word(2, At("changes", "kind"))?,
            component: r.get(3)?,
            version: r.get(4)?,
            title: r.get(5)?,
            link: r.get(6)?,
            region: r.get(7)?,
            at_ms: r.get(8)?,
            recorded_ms: r.get(9)?,
            recorded_by: r.get(10)?,
        })
    }
}

mod sql {
    use crate::sql::{Sql, sql};

    pub const INSERT_CHANGE: Sql = sql!(
        "INSERT INTO changes (service, kind, component, version, title, link, region, at_ms,
            recorded_ms, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id"
    );
    pub const CHANGES: Sql = sql!(concat!(
        "SELECT ",
        change_columns!(),
        " FROM changes WHERE service = $1 AND at_ms >= $2 AND at_ms < $3
         ORDER BY at_ms DESC, id DESC LIMIT $4"
    ));
    pub const CHANGE: Sql = sql!(concat!(
        "SELECT ",
        change_columns!(),
        " FROM changes WHERE service = $1 AND id = $2"
    ));
}

/// A change's values, owned so a closure on SQLite's thread can take them.
struct Values {
    service: String,
    kind: ChangeKind,
    component: Option<String>,
    version: Option<String>,
    title: Option<String>,
    link: Option<String>,
    region: Option<String>,
    at_ms: i64,
    now_ms: i64,
    by: String,
}

impl Values {
    fn of(service: &str, c: &Change, by: &str, now_ms: i64) -> Values {
        Values {
            service: service.to_owned(),
            kind: c.kind,
            component: c.component.as_ref().map(|s| s.to_string()),
            version: c.version.clone(),
            title: c.title.clone(),
            link: c.link.clone(),
            region: c.region.as_ref().map(|s| s.to_string()),
            at_ms: c.at_ms,
            now_ms,
            by: by.to_owned(),
        }
    }

    fn params(&self) -> [&dyn Param; 10] {
        [
            &self.service,
            &self.kind,
            &self.component,
            &self.version,
            &self.title,
            &self.link,
            &self.region,
            &self.at_ms,
            &self.now_ms,
            &self.by,
        ]
    }
}

#[async_trait]
impl ChangeStore for SqliteStore {
    async fn insert_change(
        &self,
        service: &str,
        change: &Change,
        by: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let v = Values::of(service, change, by, now_ms);
        self.write(move |c| {
            query_one::<One<i64>>(c, &sql::INSERT_CHANGE, &v.params()).map(|One(id)| id)
        })
        .await
    }

    async fn service_changes(
        &self,
        service: &str,
        since_ms: i64,
        until_ms: i64,
        limit: u32,
    ) -> Result<Vec<ChangeRow>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| {
            query(
                c,
                &sql::CHANGES,
                &[&service, &since_ms, &until_ms, &i64::from(limit)],
            )
        })
        .await
    }

    async fn service_change(
        &self,
        service: &str,
        id: i64,
    ) -> Result<Option<ChangeRow>, StoreError> {
        let service = service.to_owned();
        self.read(move |c| query_opt(c, &sql::CHANGE, &[&service, &id]))
            .await
    }
}

#[async_trait]
impl ChangeStore for PgStore {
    async fn insert_change(
        &self,
        service: &str,
        change: &Change,
        by: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let v = Values::of(service, change, by, now_ms);
        let client = self.client().await?;
        pg_query_one::<One<i64>>(&client, &sql::INSERT_CHANGE, &v.params())
            .await
            .map(|One(id)| id)
    }

    async fn service_changes(
        &self,
        service: &str,
        since_ms: i64,
        until_ms: i64,
        limit: u32,
    ) -> Result<Vec<ChangeRow>, StoreError> {
        let client = self.client().await?;
        pg_query(
            &client,
            &sql::CHANGES,
            &[&service, &since_ms, &until_ms, &i64::from(limit)],
        )
        .await
    }

    async fn service_change(
        &self,
        service: &str,
        id: i64,
    ) -> Result<Option<ChangeRow>, StoreError> {
        let client = self.client().await?;
        pg_query_opt(&client, &sql::CHANGE, &[&service, &id]).await
    }
}
