//! [`OperatorStore`] on PostgreSQL.

use super::PgStore;
use crate::StoreError;
use crate::operator::*;
use async_trait::async_trait;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

const INCIDENT_COLUMNS: &str =
    "id, service, kind, title, status, impact, components, draft, source,
    evidence, created_ms, updated_ms, published_ms, resolved_ms, onset_ms, detected_ms,
    acknowledged_ms, scheduled_start_ms, scheduled_end_ms, recovered_ms, postmortem,
    postmortem_ms, version";

fn hash32(v: &[u8]) -> Result<Hash32, StoreError> {
    v.try_into()
        .map_err(|_| StoreError::Internal(format!("expected a 32-byte hash, got {}", v.len())))
}

fn token_row(r: &Row) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: r.get(0),
        name: r.get(1),
        role: r.get(2),
        hash: hash32(r.get(3))?,
        created_ms: r.get(4),
        revoked_ms: r.get(5),
    })
}

fn user_row(r: &Row) -> UserRow {
    UserRow {
        name: r.get(0),
        role: r.get(1),
        password_hash: r.get(2),
        created_ms: r.get(3),
        failed_logins: r.get(4),
        locked_until_ms: r.get(5),
    }
}

fn incident_row(r: &Row) -> IncidentRow {
    IncidentRow {
        id: r.get(0),
        service: r.get(1),
        kind: r.get(2),
        title: r.get(3),
        status: r.get(4),
        impact: r.get(5),
        components: r.get(6),
        draft: r.get(7),
        source: r.get(8),
        evidence: r.get(9),
        created_ms: r.get(10),
        updated_ms: r.get(11),
        published_ms: r.get(12),
        resolved_ms: r.get(13),
        onset_ms: r.get(14),
        detected_ms: r.get(15),
        acknowledged_ms: r.get(16),
        scheduled_start_ms: r.get(17),
        scheduled_end_ms: r.get(18),
        recovered_ms: r.get(19),
        postmortem: r.get(20),
        postmortem_ms: r.get(21),
        version: r.get(22),
    }
}

async fn insert_updates(
    tx: &tokio_postgres::Transaction<'_>,
    id: i64,
    updates: &[IncidentUpdateRow],
) -> Result<(), StoreError> {
    for u in updates {
        tx.execute(
            "INSERT INTO incident_updates (incident_id, at_ms, status, message, components, author)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &id,
                &u.at_ms,
                &u.status,
                &u.message,
                &u.components,
                &u.author,
            ],
        )
        .await?;
    }
    Ok(())
}

impl PgStore {
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
                "SELECT id, incident_id, at_ms, status, message, components, author
                 FROM incident_updates WHERE incident_id = ANY($1) ORDER BY at_ms, id",
                &[&ids],
            )
            .await?;
        let updates = updates
            .iter()
            .map(|r| IncidentUpdateRow {
                id: r.get(0),
                incident: r.get(1),
                at_ms: r.get(2),
                status: r.get(3),
                message: r.get(4),
                components: r.get(5),
                author: r.get(6),
            })
            .collect();
        Ok(attach_updates(rows, updates))
    }
}

#[async_trait]
impl OperatorStore for PgStore {
    async fn create_token(&self, t: ApiToken) -> Result<i64, StoreError> {
        let res = self
            .client()
            .await?
            .query_one(
                "INSERT INTO api_tokens (name, role, hash, created_ms, revoked_ms)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&t.name, &t.role, &&t.hash[..], &t.created_ms, &t.revoked_ms],
            )
            .await;
        match res {
            Ok(row) => Ok(row.get(0)),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(StoreError::Conflict(
                format!("a token named {:?} already exists", t.name),
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn token_by_hash(&self, hash: Hash32) -> Result<Option<ApiToken>, StoreError> {
        self.client()
            .await?
            .query_opt(
                "SELECT id, name, role, hash, created_ms, revoked_ms FROM api_tokens
                 WHERE hash = $1 AND revoked_ms IS NULL",
                &[&&hash[..]],
            )
            .await?
            .as_ref()
            .map(token_row)
            .transpose()
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.client()
            .await?
            .query(
                "SELECT id, name, role, hash, created_ms, revoked_ms FROM api_tokens ORDER BY name",
                &[],
            )
            .await?
            .iter()
            .map(token_row)
            .collect()
    }

    async fn revoke_token(&self, name: &str, now_ms: i64) -> Result<bool, StoreError> {
        Ok(self
            .client()
            .await?
            .execute(
                "UPDATE api_tokens SET revoked_ms = $2 WHERE name = $1 AND revoked_ms IS NULL",
                &[&name, &now_ms],
            )
            .await?
            > 0)
    }

    async fn save_user(&self, u: UserRow) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO users (name, role, password_hash, created_ms, failed_logins, locked_until_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (name) DO UPDATE SET role = excluded.role,
                    password_hash = excluded.password_hash, failed_logins = excluded.failed_logins,
                    locked_until_ms = excluded.locked_until_ms",
                &[&u.name, &u.role, &u.password_hash, &u.created_ms, &u.failed_logins, &u.locked_until_ms],
            )
            .await?;
        Ok(())
    }

    async fn user(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(self
            .client()
            .await?
            .query_opt(
                "SELECT name, role, password_hash, created_ms, failed_logins, locked_until_ms
                 FROM users WHERE name = $1",
                &[&name],
            )
            .await?
            .as_ref()
            .map(user_row))
    }

    async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        Ok(self
            .client()
            .await?
            .query(
                "SELECT name, role, password_hash, created_ms, failed_logins, locked_until_ms
                 FROM users ORDER BY name",
                &[],
            )
            .await?
            .iter()
            .map(user_row)
            .collect())
    }

    async fn insert_session(&self, s: SessionRow) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM sessions WHERE expires_ms < $1",
                &[&s.created_ms],
            )
            .await?;
        client
            .execute(
                "INSERT INTO sessions (id_hash, user_name, csrf, created_ms, expires_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &&s.id_hash[..],
                    &s.user,
                    &s.csrf,
                    &s.created_ms,
                    &s.expires_ms,
                ],
            )
            .await?;
        Ok(())
    }

    async fn session(
        &self,
        id_hash: Hash32,
        now_ms: i64,
    ) -> Result<Option<SessionRow>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT id_hash, user_name, csrf, created_ms, expires_ms FROM sessions
                 WHERE id_hash = $1 AND expires_ms > $2",
                &[&&id_hash[..], &now_ms],
            )
            .await?;
        row.map(|r| {
            Ok(SessionRow {
                id_hash: hash32(r.get(0))?,
                user: r.get(1),
                csrf: r.get(2),
                created_ms: r.get(3),
                expires_ms: r.get(4),
            })
        })
        .transpose()
    }

    async fn delete_session(&self, id_hash: Hash32) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute("DELETE FROM sessions WHERE id_hash = $1", &[&&id_hash[..]])
            .await?;
        Ok(())
    }

    async fn insert_incident(
        &self,
        i: IncidentRow,
        updates: Vec<IncidentUpdateRow>,
    ) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO incidents (service, kind, title, status, impact, components, draft,
                    source, evidence, created_ms, updated_ms, published_ms, resolved_ms, onset_ms,
                    detected_ms, acknowledged_ms, scheduled_start_ms, scheduled_end_ms,
                    recovered_ms, postmortem, postmortem_ms, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                    $17, $18, $19, $20, $21, 1)
                 RETURNING id",
                &[
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
                ],
            )
            .await?
            .get(0);
        insert_updates(&tx, id, &updates).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn update_incident(
        &self,
        i: IncidentRow,
        updates: Vec<IncidentUpdateRow>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute(
                "UPDATE incidents SET title = $3, status = $4, impact = $5, components = $6,
                    draft = $7, source = $8, evidence = $9, updated_ms = $10, published_ms = $11,
                    resolved_ms = $12, onset_ms = $13, detected_ms = $14, acknowledged_ms = $15,
                    scheduled_start_ms = $16, scheduled_end_ms = $17, recovered_ms = $18,
                    postmortem = $19, postmortem_ms = $20, version = version + 1
                 WHERE id = $1 AND version = $2",
                &[
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
                ],
            )
            .await?;
        if n == 0 {
            let exists: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM incidents WHERE id = $1)",
                    &[&i.id],
                )
                .await?
                .get(0);
            return Err(if exists {
                StoreError::Conflict(format!(
                    "incident {} changed since version {}; reload and retry",
                    i.id, i.version
                ))
            } else {
                StoreError::NotFound(format!("incident {}", i.id))
            });
        }
        insert_updates(&tx, i.id, &updates).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn incident(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"),
                &[&id],
            )
            .await?;
        Ok(self
            .with_updates(row.as_ref().map(incident_row).into_iter().collect())
            .await?
            .pop())
    }

    async fn incidents(&self, f: IncidentFilter) -> Result<Vec<IncidentRecord>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents
                     WHERE ($1::text IS NULL OR service = $1) AND ($2::text IS NULL OR kind = $2)
                       AND ($3 OR NOT draft)
                       AND (NOT $4 OR status NOT IN ('resolved', 'completed'))
                       AND ($5::bigint IS NULL OR created_ms >= $5
                            OR status NOT IN ('resolved', 'completed'))
                     ORDER BY created_ms DESC, id DESC LIMIT $6"
                ),
                &[
                    &f.service,
                    &f.kind,
                    &f.include_drafts,
                    &f.open_only,
                    &f.since_ms,
                    &i64::from(f.limit),
                ],
            )
            .await?;
        self.with_updates(rows.iter().map(incident_row).collect())
            .await
    }
}
