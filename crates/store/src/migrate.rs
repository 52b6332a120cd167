//! Versioned migrations: numbered SQL files per backend, applied in order, each once, each
//! in its own transaction, recorded in `schema_migrations`.
//!
//! # Rolling upgrades
//! Nodes of two versions share one database while a cluster is upgraded one node at a time:
//! the first new node applies the new migrations, and the old nodes keep running, and may
//! restart, as long as every migration they do not know *keeps them working*. A migration
//! says so in [`KEEPS_WORKING`], and `schema_migrations` records it, so a binary that has
//! never seen the migration can read the promise. Such a migration only expands the schema:
//! it adds a table, a nullable column or one with a default, an index, a trigger an old
//! binary does not notice; it never drops, renames or retypes what an older binary reads or
//! writes (that waits for a later release, once no node of the old version is left).
//! Cached statements name their columns, so an added column changes none of them.

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

pub const SQLITE: &[Migration] = migrations!("sqlite": 1 "0001_reports", 2 "0002_detection", 3 "0003_leases", 4 "0004_probes", 5 "0005_incidents", 6 "0006_outbox", 7 "0007_notify", 8 "0008_sign_in", 9 "0009_agents", 10 "0010_cluster_edges", 11 "0011_shared_work", 12 "0012_rolling_upgrades", 13 "0013_report_messages", 14 "0014_hidden_messages", 15 "0015_nodes_announce", 16 "0016_report_extras_indexed", 17 "0017_signals", 18 "0018_comments", 19 "0019_poll_states", 20 "0020_signal_kinds", 21 "0021_changes", 22 "0022_incident_origins", 23 "0023_config_objects");
pub const POSTGRES: &[Migration] = migrations!("postgres": 1 "0001_reports", 2 "0002_detection", 3 "0003_leases", 4 "0004_probes", 5 "0005_incidents", 6 "0006_outbox", 7 "0007_notify", 8 "0008_sign_in", 9 "0009_agents", 10 "0010_cluster_edges", 11 "0011_shared_work", 12 "0012_rolling_upgrades", 13 "0013_report_messages", 14 "0014_hidden_messages", 15 "0015_nodes_announce", 16 "0016_report_extras_indexed", 17 "0017_signals", 18 "0018_comments", 19 "0019_poll_states", 20 "0020_signal_kinds", 21 "0021_changes", 22 "0022_incident_origins", 23 "0023_config_objects");

/// Migrations that keep older binaries working: (version, oldest schema version whose
/// binaries keep working with it applied). A migration missing here needs every node
/// upgraded (see the module docs).
pub const KEEPS_WORKING: &[(i64, i64)] = &[
    (12, 11),
    (13, 11),
    (14, 11),
    (15, 11),
    (16, 11),
    (17, 11),
    (18, 11),
    (19, 11),
    (20, 11),
    (21, 11),
    (22, 11),
    (23, 11),
];

/// The first migration that records [`KEEPS_WORKING`] (it adds the column).
pub(crate) const RECORDS_COMPATIBILITY_FROM: i64 = 12;

/// The oldest schema version whose binaries keep working once `version` is applied.
pub fn keeps_working_from(version: i64) -> Option<i64> {
    KEEPS_WORKING
        .iter()
        .find(|(v, _)| *v == version)
        .map(|&(_, from)| from)
}

/// A migration applied to the database that this binary does not know.
#[derive(Debug, Clone)]
pub(crate) struct Unknown {
    pub version: i64,
    pub name: String,
    pub keeps_working_from: Option<i64>,
}

/// Whether a binary knowing migrations up to `latest` may run on a database that also has
/// `newer` applied: when each of them keeps `latest` working. The error names the first
/// that does not.
pub(crate) fn may_run_beside(latest: i64, newer: &[Unknown]) -> Result<(), crate::StoreError> {
    let current = newer.iter().map(|m| m.version).max().unwrap_or(latest);
    match newer
        .iter()
        .find(|m| m.keeps_working_from.is_none_or(|from| from > latest))
    {
        Some(m) => Err(crate::StoreError::Migration(format!(
            "database schema version {current} is newer than this binary knows ({latest}), \
             and migration {} ({}) needs a newer binary; upgrade Downbeat",
            m.version, m.name
        ))),
        None => {
            tracing::info!(
                schema = current,
                binary = latest,
                "the database schema is newer than this binary, and its newer migrations keep \
                 this version working (a rolling upgrade)"
            );
            Ok(())
        }
    }
}

/// The statements both backends' migration runners share (creating `schema_migrations`
/// differs: SQLite says `INTEGER`, PostgreSQL `BIGINT`).
pub(crate) mod sql {
    use crate::sql::{Sql, sql};

    pub const CURRENT_VERSION: Sql =
        sql!("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    pub const RECORD_VERSION: Sql =
        sql!("INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES ($1, $2, $3)");
    pub const RECORD_COMPATIBILITY: Sql =
        sql!("UPDATE schema_migrations SET keeps_working_from = $1 WHERE version = $2");
    pub const NEWER: Sql = sql!(
        "SELECT version, name, keeps_working_from FROM schema_migrations WHERE version > $1
         ORDER BY version"
    );
}

/// The newest version this binary knows; a store with a newer one is refused unless its
/// newer migrations keep this version working ([`may_run_beside`]).
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
        for &(v, from) in KEEPS_WORKING {
            assert!(from < v && v <= latest(POSTGRES), "{v} keeps {from}");
        }
    }

    fn unknown(version: i64, keeps: Option<i64>) -> Unknown {
        Unknown {
            version,
            name: format!("{version:04}_x"),
            keeps_working_from: keeps,
        }
    }

    #[test]
    fn an_older_binary_runs_only_beside_migrations_that_keep_it_working() {
        assert!(may_run_beside(11, &[]).is_ok());
        assert!(may_run_beside(11, &[unknown(12, Some(11))]).is_ok());
        assert!(may_run_beside(10, &[unknown(11, Some(9)), unknown(12, Some(10))]).is_ok());
        let e = may_run_beside(10, &[unknown(11, Some(10)), unknown(12, Some(11))])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("migration 12 (0012_x) needs a newer binary"),
            "{e}"
        );
        assert!(
            e.contains("version 12 is newer than this binary knows (10)"),
            "{e}"
        );
        let e = may_run_beside(11, &[unknown(12, None)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("migration 12"), "{e}");
    }
}
