//! [`OperatorStore`] on SQLite.

use super::SqliteStore;
use crate::StoreError;
use crate::operator::*;
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

const INCIDENT_COLUMNS: &str =
    "id, service, kind, title, status, impact, components, draft, source,
    evidence, created_ms, updated_ms, published_ms, resolved_ms, onset_ms, detected_ms,
    acknowledged_ms, scheduled_start_ms, scheduled_end_ms, recovered_ms, postmortem,
    postmortem_ms, version";

fn hash32(v: Vec<u8>) -> rusqlite::Result<Hash32> {
    v.try_into().map_err(|v: Vec<u8>| {
        rusqlite::Error::FromSqlConversionFailure(
            v.len(),
            rusqlite::types::Type::Blob,
            "expected a 32-byte hash".into(),
        )
    })
}

fn token_row(r: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        hash: hash32(r.get(3)?)?,
        created_ms: r.get(4)?,
        revoked_ms: r.get(5)?,
    })
}

fn user_row(r: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        name: r.get(0)?,
        role: r.get(1)?,
        password_hash: r.get(2)?,
        created_ms: r.get(3)?,
        failed_logins: r.get(4)?,
        locked_until_ms: r.get(5)?,
    })
}

fn incident_row(r: &Row<'_>) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        id: r.get(0)?,
        service: r.get(1)?,
        kind: r.get(2)?,
        title: r.get(3)?,
        status: r.get(4)?,
        impact: r.get(5)?,
        components: r.get(6)?,
        draft: r.get(7)?,
        source: r.get(8)?,
        evidence: r.get(9)?,
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
    })
}

fn update_row(r: &Row<'_>) -> rusqlite::Result<IncidentUpdateRow> {
    Ok(IncidentUpdateRow {
        id: r.get(0)?,
        incident: r.get(1)?,
        at_ms: r.get(2)?,
        status: r.get(3)?,
        message: r.get(4)?,
        components: r.get(5)?,
        author: r.get(6)?,
    })
}

fn insert_updates(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    updates: &[IncidentUpdateRow],
) -> Result<(), StoreError> {
    let mut st = tx.prepare_cached(
        "INSERT INTO incident_updates (incident_id, at_ms, status, message, components, author)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for u in updates {
        st.execute(params![
            id,
            u.at_ms,
            u.status,
            u.message,
            u.components,
            u.author
        ])?;
    }
    Ok(())
}

/// The updates of the given incidents, attached to them: one query for the whole list.
fn with_updates(
    c: &Connection,
    incidents: Vec<IncidentRow>,
) -> Result<Vec<IncidentRecord>, StoreError> {
    if incidents.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; incidents.len()].join(", ");
    let mut st = c.prepare(&format!(
        "SELECT id, incident_id, at_ms, status, message, components, author
         FROM incident_updates WHERE incident_id IN ({marks}) ORDER BY at_ms, id"
    ))?;
    let updates = st
        .query_map(
            rusqlite::params_from_iter(incidents.iter().map(|r| r.id)),
            update_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(attach_updates(incidents, updates))
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

#[async_trait]
impl OperatorStore for SqliteStore {
    async fn create_token(&self, t: ApiToken) -> Result<i64, StoreError> {
        self.write(move |c| {
            match c.execute(
                "INSERT INTO api_tokens (name, role, hash, created_ms, revoked_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![t.name, t.role, &t.hash[..], t.created_ms, t.revoked_ms],
            ) {
                Ok(_) => Ok(c.last_insert_rowid()),
                Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                    "a token named {:?} already exists",
                    t.name
                ))),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    async fn token_by_hash(&self, hash: Hash32) -> Result<Option<ApiToken>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT id, name, role, hash, created_ms, revoked_ms FROM api_tokens
                 WHERE hash = ?1 AND revoked_ms IS NULL",
            )?
            .query_row([&hash[..]], token_row)
            .optional()?)
        })
        .await
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT id, name, role, hash, created_ms, revoked_ms FROM api_tokens ORDER BY name",
            )?;
            Ok(st.query_map([], token_row)?.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn revoke_token(&self, name: &str, now_ms: i64) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE api_tokens SET revoked_ms = ?2 WHERE name = ?1 AND revoked_ms IS NULL",
                params![name, now_ms],
            )? > 0)
        })
        .await
    }

    async fn save_user(&self, u: UserRow) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO users (name, role, password_hash, created_ms, failed_logins, locked_until_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO UPDATE SET role = excluded.role,
                    password_hash = excluded.password_hash, failed_logins = excluded.failed_logins,
                    locked_until_ms = excluded.locked_until_ms",
                params![u.name, u.role, u.password_hash, u.created_ms, u.failed_logins, u.locked_until_ms],
            )?;
            Ok(())
        })
        .await
    }

    async fn user(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        let name = name.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT name, role, password_hash, created_ms, failed_logins, locked_until_ms
                 FROM users WHERE name = ?1",
            )?
            .query_row([name], user_row)
            .optional()?)
        })
        .await
    }

    async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT name, role, password_hash, created_ms, failed_logins, locked_until_ms
                 FROM users ORDER BY name",
            )?;
            Ok(st.query_map([], user_row)?.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn insert_session(&self, s: SessionRow) -> Result<(), StoreError> {
        self.write(move |c| {
            // Expired sessions go as new ones arrive.
            c.execute("DELETE FROM sessions WHERE expires_ms < ?1", [s.created_ms])?;
            c.execute(
                "INSERT INTO sessions (id_hash, user_name, csrf, created_ms, expires_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![&s.id_hash[..], s.user, s.csrf, s.created_ms, s.expires_ms],
            )?;
            Ok(())
        })
        .await
    }

    async fn session(
        &self,
        id_hash: Hash32,
        now_ms: i64,
    ) -> Result<Option<SessionRow>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT id_hash, user_name, csrf, created_ms, expires_ms FROM sessions
                 WHERE id_hash = ?1 AND expires_ms > ?2",
            )?
            .query_row(params![&id_hash[..], now_ms], |r| {
                Ok(SessionRow {
                    id_hash: hash32(r.get(0)?)?,
                    user: r.get(1)?,
                    csrf: r.get(2)?,
                    created_ms: r.get(3)?,
                    expires_ms: r.get(4)?,
                })
            })
            .optional()?)
        })
        .await
    }

    async fn delete_session(&self, id_hash: Hash32) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute("DELETE FROM sessions WHERE id_hash = ?1", [&id_hash[..]])?;
            Ok(())
        })
        .await
    }

    async fn insert_incident(
        &self,
        i: IncidentRow,
        updates: Vec<IncidentUpdateRow>,
    ) -> Result<i64, StoreError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO incidents (service, kind, title, status, impact, components, draft,
                    source, evidence, created_ms, updated_ms, published_ms, resolved_ms, onset_ms,
                    detected_ms, acknowledged_ms, scheduled_start_ms, scheduled_end_ms,
                    recovered_ms, postmortem, postmortem_ms, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                    ?17, ?18, ?19, ?20, ?21, 1)",
                params![
                    i.service,
                    i.kind,
                    i.title,
                    i.status,
                    i.impact,
                    i.components,
                    i.draft,
                    i.source,
                    i.evidence,
                    i.created_ms,
                    i.updated_ms,
                    i.published_ms,
                    i.resolved_ms,
                    i.onset_ms,
                    i.detected_ms,
                    i.acknowledged_ms,
                    i.scheduled_start_ms,
                    i.scheduled_end_ms,
                    i.recovered_ms,
                    i.postmortem,
                    i.postmortem_ms
                ],
            )?;
            let id = tx.last_insert_rowid();
            insert_updates(&tx, id, &updates)?;
            tx.commit()?;
            Ok(id)
        })
        .await
    }

    async fn update_incident(
        &self,
        i: IncidentRow,
        updates: Vec<IncidentUpdateRow>,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE incidents SET title = ?3, status = ?4, impact = ?5, components = ?6,
                    draft = ?7, source = ?8, evidence = ?9, updated_ms = ?10, published_ms = ?11,
                    resolved_ms = ?12, onset_ms = ?13, detected_ms = ?14, acknowledged_ms = ?15,
                    scheduled_start_ms = ?16, scheduled_end_ms = ?17, recovered_ms = ?18,
                    postmortem = ?19, postmortem_ms = ?20, version = version + 1
                 WHERE id = ?1 AND version = ?2",
                params![
                    i.id,
                    i.version,
                    i.title,
                    i.status,
                    i.impact,
                    i.components,
                    i.draft,
                    i.source,
                    i.evidence,
                    i.updated_ms,
                    i.published_ms,
                    i.resolved_ms,
                    i.onset_ms,
                    i.detected_ms,
                    i.acknowledged_ms,
                    i.scheduled_start_ms,
                    i.scheduled_end_ms,
                    i.recovered_ms,
                    i.postmortem,
                    i.postmortem_ms
                ],
            )?;
            if n == 0 {
                let exists: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM incidents WHERE id = ?1)",
                    [i.id],
                    |r| r.get(0),
                )?;
                return Err(if exists {
                    StoreError::Conflict(format!(
                        "incident {} changed since version {}; reload and retry",
                        i.id, i.version
                    ))
                } else {
                    StoreError::NotFound(format!("incident {}", i.id))
                });
            }
            insert_updates(&tx, i.id, &updates)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn incident(&self, id: i64) -> Result<Option<IncidentRecord>, StoreError> {
        self.read(move |c| {
            let row = c
                .prepare_cached(&format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1"
                ))?
                .query_row([id], incident_row)
                .optional()?;
            Ok(with_updates(c, row.into_iter().collect())?.pop())
        })
        .await
    }

    async fn incidents(&self, f: IncidentFilter) -> Result<Vec<IncidentRecord>, StoreError> {
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents
                 WHERE (?1 IS NULL OR service = ?1) AND (?2 IS NULL OR kind = ?2)
                   AND (?3 OR NOT draft)
                   AND (NOT ?4 OR status NOT IN ('resolved', 'completed'))
                   AND (?5 IS NULL OR created_ms >= ?5 OR status NOT IN ('resolved', 'completed'))
                 ORDER BY created_ms DESC, id DESC LIMIT ?6"
            ))?;
            let rows = st
                .query_map(
                    params![
                        f.service,
                        f.kind,
                        f.include_drafts,
                        f.open_only,
                        f.since_ms,
                        f.limit
                    ],
                    incident_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            with_updates(c, rows)
        })
        .await
    }
}
