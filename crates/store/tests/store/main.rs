//! Every storage behaviour, run against every backend (SQLite always, PostgreSQL when
//! configured; see `downbeat_store::testing`): one module per stage, as in the crate, and
//! here what concerns the store as a whole (pruning, reopening, migrations). One test binary.

mod changes;
mod comments;
mod connect;
mod detection;
mod incidents;
mod notifications;
mod people;
mod probes;
mod reports;
mod signals;
mod unreadable;

use downbeat_domain::probe::{Cause, Outcome};
use downbeat_domain::{CountryCode, Platform};
use downbeat_store::testing::{self, each_backend};
use downbeat_store::*;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn report(service: &str, at_ms: i64, problem: &str, client: u8, counted: bool) -> NewReport {
    NewReport {
        service: service.into(),
        received_at_ms: at_ms,
        problem: problem.into(),
        platform: Some(if client.is_multiple_of(2) {
            Platform::Ios
        } else {
            Platform::Web
        }),
        country: (!client.is_multiple_of(3)).then(|| country("GB")),
        city: Some("London".into()),
        message: None,
        client_hash: [client; 16],
        network_hash: [client / 10; 16],
        counted,
    }
}

fn country(code: &str) -> CountryCode {
    CountryCode::parse(code).unwrap()
}

async fn insert(s: &std::sync::Arc<dyn Store>, batch: Vec<NewReport>) {
    let (_, r) = s.insert_reports(batch).await;
    r.unwrap();
}

fn probe(monitor: &str, region: &str, at_ms: i64, down: bool) -> NewProbeResult {
    NewProbeResult {
        monitor: monitor.into(),
        region: region.into(),
        at_ms,
        outcome: if down { Outcome::Down } else { Outcome::Up },
        cause: down.then_some(Cause::Connect),
        total_ms: Some(2.5),
        reliable: true,
        result: format!("{{\"at\":{at_ms}}}"),
    }
}

#[tokio::test]
async fn prune_deletes_only_what_is_past_retention() {
    each_backend(|s, name| async move {
        let old = T0 - 40 * 86_400_000;
        let ancient = T0 - 500 * 86_400_000;
        insert(
            &s,
            vec![
                report("melodia", ancient, "login", 1, true),
                report("melodia", old, "login", 2, true),
                report("melodia", T0, "login", 3, true),
            ],
        )
        .await;
        s.daily_salt(10, [1; 32]).await.unwrap();
        s.daily_salt(20, [1; 32]).await.unwrap();
        let out = s
            .prune(PruneCutoffs {
                raw_before_ms: T0 - 30 * 86_400_000,
                rollups_before_ms: T0 - 400 * 86_400_000,
                salts_before_day: 15,
            })
            .await
            .unwrap();
        assert_eq!(
            out,
            PruneOutcome {
                reports: 2,
                rollups: 1,
                salts: 1,
                probe_results: 0,
                counted_clients: 0,
                comments: 0,
                banned_networks: 0,
            },
            "{name}"
        );
        // roll-ups outlive raw reports: the 40-day-old minute is still counted
        assert_eq!(
            s.summary("melodia", ancient).await.unwrap().total,
            2,
            "{name}"
        );
        assert!(
            s.recent_counted_clients("melodia", ancient)
                .await
                .unwrap()
                .len()
                == 1,
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn prune_deletes_old_probe_results() {
    each_backend(|s, name| async move {
        let old = T0 - 40 * 86_400_000;
        s.insert_probe_results(vec![
            probe("api", "eu-west", old, false),
            probe("api", "eu-west", T0, false),
        ])
        .await
        .unwrap();
        let out = s
            .prune(PruneCutoffs {
                raw_before_ms: T0 - 30 * 86_400_000,
                rollups_before_ms: T0 - 400 * 86_400_000,
                salts_before_day: 0,
            })
            .await
            .unwrap();
        assert_eq!(out.probe_results, 1, "{name}");
        assert_eq!(
            s.probe_results("api", 0, 10).await.unwrap().len(),
            1,
            "{name}"
        );
        assert_eq!(
            s.probe_hours("api", 0).await.unwrap().len(),
            2,
            "{name}: roll-ups outlive raw results"
        );
    })
    .await;
}

/// Regression (integrity item 15): retention went by id order and stopped at the first chunk
/// that was not entirely past retention, so one row dated in the future (a skewed clock)
/// capped deletion below one chunk per pass, and raw tables grew until the disk filled.
#[tokio::test]
async fn a_future_dated_row_does_not_hold_back_pruning() {
    each_backend(|s, name| async move {
        // More than one chunk on either backend (5,000 on SQLite, 10,000 on PostgreSQL).
        const EXPIRED: i64 = 12_000;
        let old = T0 - 40 * 86_400_000;
        let future = T0 + 365 * 86_400_000;
        // The future-dated rows come first: the lowest ids.
        insert(
            &s,
            vec![
                report("melodia", future, "login", 1, true),
                report("quiet", future, "login", 2, true),
            ],
        )
        .await;
        s.insert_probe_results(vec![
            probe("api", "eu-west", future, false),
            probe("web", "eu-west", future, false),
        ])
        .await
        .unwrap();
        let service = |i: i64| if i % 3 == 0 { "quiet" } else { "melodia" };
        let monitor = |i: i64| if i % 3 == 0 { "web" } else { "api" };
        insert(
            &s,
            (0..EXPIRED)
                .map(|i| report(service(i), old + i, "login", (i % 200) as u8, true))
                .collect(),
        )
        .await;
        s.insert_probe_results(
            (0..EXPIRED)
                .map(|i| probe(monitor(i), "eu-west", old + i, i % 2 == 0))
                .collect(),
        )
        .await
        .unwrap();
        insert(&s, vec![report("melodia", T0, "login", 3, true)]).await;
        s.insert_probe_results(vec![probe("api", "eu-west", T0, false)])
            .await
            .unwrap();

        let out = s
            .prune(PruneCutoffs {
                raw_before_ms: T0 - 30 * 86_400_000,
                rollups_before_ms: T0 - 400 * 86_400_000,
                salts_before_day: 0,
            })
            .await
            .unwrap();
        assert_eq!(
            (out.reports, out.probe_results),
            (EXPIRED as u64, EXPIRED as u64),
            "{name}: every expired row goes in one pass"
        );
        // Left: the future-dated rows and the fresh ones.
        let raw = |service: &'static str| {
            let s = s.clone();
            async move {
                s.network_minutes(service, 0, i64::MAX)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.count)
                    .sum::<u64>()
            }
        };
        assert_eq!((raw("melodia").await, raw("quiet").await), (2, 1), "{name}");
        let results = |monitor: &'static str| {
            let s = s.clone();
            async move { s.probe_results(monitor, 0, 100).await.unwrap().len() }
        };
        assert_eq!(
            (results("api").await, results("web").await),
            (2, 1),
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn data_survives_reopening() {
    for t in testing::all().await {
        {
            let s = open(&t.target).await.unwrap();
            insert(&s, vec![report("melodia", T0, "login", 1, true)]).await;
        }
        let s = open(&t.target).await.unwrap();
        s.ping().await.unwrap();
        assert_eq!(
            s.summary("melodia", T0).await.unwrap().total,
            1,
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let t = testing::sqlite();
    drop(open(&t.target).await.unwrap());
    let StoreTarget::Sqlite(path) = &t.target else {
        unreachable!()
    };
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (999, 'future', 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let err = open(&t.target)
        .await
        .err()
        .expect("must refuse")
        .to_string();
    assert!(err.contains("newer"), "{err}");
}

/// A rolling upgrade on PostgreSQL: a node of the version before migrations 12 and 13 (it
/// knows those up to 11) runs while a new node applies them beside it; the old node keeps
/// writing and reading through the statements it had already prepared, and may restart. A
/// later migration that does not keep it working stops it from starting, by name.
///
/// The old node is this code knowing 11 migrations, so it runs only statements that version
/// ran as they are: probe results (written) and the report summary (read). Reports are
/// written by the new node, with the column migration 13 added.
#[tokio::test]
async fn an_older_node_keeps_working_and_restarting_beside_a_newer_one_that_migrated() {
    let Some(t) = testing::postgres().await else {
        return;
    };
    let previous = &migrate::POSTGRES[..11];
    for v in [12, 13] {
        assert_eq!(migrate::keeps_working_from(v), Some(11), "migration {v}");
    }
    let old = testing::open_knowing(&t.target, previous).await.unwrap();
    let old_node = |s: std::sync::Arc<dyn Store>, k: i64| async move {
        s.insert_probe_results(vec![probe("api", "eu-west", T0 + k * 1_000, false)])
            .await
            .unwrap();
        s.summary("melodia", T0).await.unwrap().total
    };
    assert_eq!(old_node(old.clone(), 1).await, 0);

    let new = open(&t.target).await.unwrap();
    let (_, r) = new
        .insert_reports(vec![NewReport {
            message: Some("Something went wrong".into()),
            ..report("melodia", T0 + 2_000, "login", 2, true)
        }])
        .await;
    r.unwrap();
    assert_eq!(
        old_node(old.clone(), 3).await,
        1,
        "the old node's cached statements still run"
    );
    let restarted = testing::open_knowing(&t.target, previous)
        .await
        .expect("an old node restarts beside migrations 12 and 13");
    assert_eq!(old_node(restarted, 4).await, 1);
    assert_eq!(new.report_messages("melodia", T0).await.unwrap().len(), 1);

    // A newer release whose migration needs every node upgraded.
    let breaking = migrate::Migration {
        version: migrate::latest(migrate::POSTGRES) + 1,
        name: "9999_drops_what_old_nodes_read",
        sql: "CREATE TABLE upgrade_marker (x BIGINT)",
    };
    let mut newer: Vec<migrate::Migration> = migrate::POSTGRES
        .iter()
        .map(|m| migrate::Migration { ..*m })
        .collect();
    newer.push(breaking);
    drop(testing::open_knowing(&t.target, &newer).await.unwrap());
    let err = testing::open_knowing(&t.target, migrate::POSTGRES)
        .await
        .err()
        .expect("this release cannot run beside it")
        .to_string();
    assert!(
        err.contains("9999_drops_what_old_nodes_read") && err.contains("needs a newer binary"),
        "{err}"
    );
}

/// A store of the version before agents named their regions: results pushed twice, a token,
/// a monitor state. Opening it migrates: one copy of each result is left, the token reports
/// for no region (it must be issued again), and the saved state counts as told.
#[tokio::test]
async fn migrating_to_region_bound_agents_keeps_one_copy_of_each_result() {
    for t in testing::all().await {
        let name = t.name;
        let list = match &t.target {
            StoreTarget::Sqlite(_) => migrate::SQLITE,
            StoreTarget::Postgres(_) => migrate::POSTGRES,
        };
        let mut sql = String::from(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL,
                applied_at_ms BIGINT NOT NULL);",
        );
        for m in list.iter().filter(|m| m.version < 8) {
            sql.push_str(m.sql);
            sql.push_str(&format!(
                ";\nINSERT INTO schema_migrations VALUES ({}, '{}', 0);\n",
                m.version, m.name
            ));
        }
        let row = |at: i64, outcome: &str| {
            format!(
                "INSERT INTO probe_results (monitor, region, at_ms, outcome, total_ms, reliable, result)
                 VALUES ('api', 'eu-west', {at}, '{outcome}', 1.0, TRUE, '{{}}');"
            )
        };
        sql.push_str(&row(T0, "up"));
        sql.push_str(&row(T0, "up"));
        sql.push_str(&row(T0 + 1_000, "down"));
        let hash = match &t.target {
            StoreTarget::Sqlite(_) => format!("X'{}'", "ab".repeat(32)),
            StoreTarget::Postgres(_) => format!("decode('{}', 'hex')", "ab".repeat(32)),
        };
        sql.push_str(&format!(
            "INSERT INTO api_tokens (name, role, hash, created_ms) VALUES ('old', 'agent', {hash}, 0);
             INSERT INTO monitor_states (monitor, state, since_ms) VALUES ('api', 'down', 5);"
        ));
        testing::execute_raw(&t.target, &sql).await;
        let s = open(&t.target).await.unwrap();
        let kept: Vec<i64> = s
            .probe_results("api", 0, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.at_ms - T0)
            .collect();
        assert_eq!(kept, [0, 1_000], "{name}");
        let tokens = s.tokens().await.unwrap();
        assert!(tokens[0].regions.is_empty(), "{name}: {tokens:?}");
        assert!(s.monitor_states().await.unwrap()[0].notified, "{name}");
        // And from now on, a copy is refused.
        let again = s
            .insert_probe_results(vec![probe("api", "eu-west", T0, false)])
            .await
            .unwrap();
        assert_eq!(again, [false], "{name}");
    }
}
