//! Versioned migrations: numbered SQL files per backend, applied in order, each once, each
//! in its own transaction, recorded in `schema_migrations`.

/// A migration: its version and SQL.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($dir:literal: $($v:literal $name:literal),* $(,)?) => {
        &[$(Migration {
            version: $v,
            name: $name,
            sql: include_str!(concat!("../migrations/", $dir, "/", $name, ".sql")),
        }),*]
    };
}

pub const SQLITE: &[Migration] = migrations!("sqlite": 1 "0001_reports", 2 "0002_detection", 3 "0003_leases", 4 "0004_probes", 5 "0005_incidents", 6 "0006_outbox", 7 "0007_notify", 8 "0008_sign_in", 9 "0009_agents", 10 "0010_cluster_edges", 11 "0011_shared_work");
pub const POSTGRES: &[Migration] = migrations!("postgres": 1 "0001_reports", 2 "0002_detection", 3 "0003_leases", 4 "0004_probes", 5 "0005_incidents", 6 "0006_outbox", 7 "0007_notify", 8 "0008_sign_in", 9 "0009_agents", 10 "0010_cluster_edges", 11 "0011_shared_work");

/// The statements both backends' migration runners share (creating `schema_migrations`
/// differs: SQLite says `INTEGER`, PostgreSQL `BIGINT`).
pub(crate) mod sql {
    use crate::sql::{Sql, sql};

    pub const CURRENT_VERSION: Sql =
        sql!("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    pub const RECORD_VERSION: Sql =
        sql!("INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES ($1, $2, $3)");
}

/// The newest version this binary knows; a store with a newer one is refused.
pub fn latest(list: &[Migration]) -> i64 {
    list.last().map_or(0, |m| m.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_dense_and_backends_agree() {
        for list in [SQLITE, POSTGRES] {
            for (i, m) in list.iter().enumerate() {
                assert_eq!(m.version, i as i64 + 1, "{}", m.name);
            }
        }
        let names = |l: &[Migration]| l.iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(
            names(SQLITE),
            names(POSTGRES),
            "every migration exists for both backends"
        );
    }
}
