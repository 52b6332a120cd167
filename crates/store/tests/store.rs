//! Every storage behaviour, run against every backend (SQLite always, PostgreSQL when
//! configured; see `downbeat_store::testing`).

use downbeat_store::testing::{self, TestStore};
use downbeat_store::*;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn report(service: &str, at_ms: i64, problem: &str, client: u8, counted: bool) -> NewReport {
    NewReport {
        service: service.into(),
        received_at_ms: at_ms,
        problem: problem.into(),
        platform: Some(if client.is_multiple_of(2) {
            "ios"
        } else {
            "web"
        }),
        country: (!client.is_multiple_of(3)).then_some("GB"),
        city: Some("London".into()),
        client_hash: [client; 16],
        network_hash: [client / 10; 16],
        counted,
    }
}

async fn insert(s: &std::sync::Arc<dyn Store>, batch: Vec<NewReport>) {
    let (_, r) = s.insert_reports(batch).await;
    r.unwrap();
}

async fn each_backend<F, Fut>(test: F)
where
    F: Fn(std::sync::Arc<dyn Store>, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let stores: Vec<TestStore> = testing::all().await;
    for t in &stores {
        let store = open(&t.target)
            .await
            .unwrap_or_else(|e| panic!("{}: open: {e}", t.name));
        test(store, t.name).await;
    }
}

#[tokio::test]
async fn summary_counts_only_counted_reports_in_the_window() {
    each_backend(|s, name| async move {
        let batch = vec![
            report("melodia", T0 + 1_000, "login", 1, true),
            report("melodia", T0 + 2_000, "login", 2, true),
            report("melodia", T0 + 3_000, "playback", 3, true),
            report("melodia", T0 + 4_000, "login", 1, false),
            report("other", T0 + 5_000, "login", 4, true),
            report("melodia", T0 - 3_600_000, "search", 5, true),
        ];
        insert(&s, batch).await;
        let sum = s.summary("melodia", T0).await.unwrap();
        assert_eq!(sum.total, 3, "{name}");
        assert_eq!(sum.by_problem.get("login"), Some(&2), "{name}");
        assert_eq!(sum.by_problem.get("playback"), Some(&1), "{name}");
        assert_eq!(sum.by_platform.get("web"), Some(&2), "{name}");
        assert_eq!(sum.by_platform.get("ios"), Some(&1), "{name}");
        // client 3 gave no country: in the total, not in the breakdown
        assert_eq!(sum.by_country.get("GB"), Some(&2), "{name}");
        let wide = s.summary("melodia", T0 - 7_200_000).await.unwrap();
        assert_eq!(wide.total, 4, "{name}");
        assert_eq!(
            s.summary("nobody", T0).await.unwrap(),
            Summary::default(),
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn roll_ups_accumulate_across_batches() {
    each_backend(|s, name| async move {
        for i in 0..5 {
            insert(
                &s,
                vec![report("melodia", T0 + i * 1_000, "login", 2, true)],
            )
            .await;
        }
        insert(&s, vec![report("melodia", T0 + 61_000, "login", 2, true)]).await;
        let counts = s
            .report_counts("melodia", T0, T0 + 3_600_000, MINUTE_MS)
            .await
            .unwrap();
        assert_eq!(
            counts,
            vec![
                BucketCount {
                    start_ms: T0,
                    count: 5
                },
                BucketCount {
                    start_ms: T0 + 60_000,
                    count: 1
                }
            ],
            "{name}"
        );
        let hourly = s
            .report_counts("melodia", T0, T0 + 3_600_000, 3_600_000)
            .await
            .unwrap();
        assert_eq!(
            hourly,
            vec![BucketCount {
                start_ms: T0,
                count: 6
            }],
            "{name}"
        );
        let none = s
            .report_counts("melodia", T0 + 120_000, T0 + 3_600_000, MINUTE_MS)
            .await
            .unwrap();
        assert!(none.is_empty(), "{name}");
    })
    .await;
}

#[tokio::test]
async fn recent_counted_clients_restore_the_dedupe_window() {
    each_backend(|s, name| async move {
        insert(
            &s,
            vec![
                report("melodia", T0, "login", 1, true),
                report("melodia", T0 + 5_000, "login", 1, true),
                report("melodia", T0 + 9_000, "login", 1, false),
                report("melodia", T0 - 60_000, "login", 2, true),
                report("other", T0 + 1, "login", 1, true),
            ],
        )
        .await;
        let recent = s.recent_counted_clients("melodia", T0).await.unwrap();
        assert_eq!(
            recent,
            vec![RecentClient {
                service: "melodia".into(),
                client_hash: [1; 16],
                last_counted_ms: T0 + 5_000
            },],
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_first_salt_of_a_day_wins() {
    each_backend(|s, name| async move {
        let a = s.daily_salt(20_000, [7; 32]).await.unwrap();
        let b = s.daily_salt(20_000, [9; 32]).await.unwrap();
        let c = s.daily_salt(20_001, [9; 32]).await.unwrap();
        assert_eq!((a, b, c), ([7; 32], [7; 32], [9; 32]), "{name}");
    })
    .await;
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
                probe_results: 0
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
        "INSERT INTO schema_migrations VALUES (999, 'future', 0)",
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

#[tokio::test]
async fn network_minutes_group_counted_reports_by_minute_and_network() {
    each_backend(|s, name| async move {
        insert(
            &s,
            vec![
                report("melodia", T0 + 1_000, "login", 11, true),
                report("melodia", T0 + 2_000, "login", 12, true), // same network (client / 10)
                report("melodia", T0 + 3_000, "login", 21, true),
                report("melodia", T0 + 4_000, "login", 22, false), // not counted
                report("melodia", T0 + 61_000, "search", 11, true),
                report("melodia", T0 + 120_000, "search", 11, true), // outside the range
            ],
        )
        .await;
        let mut rows = s
            .network_minutes("melodia", T0, T0 + 120_000)
            .await
            .unwrap();
        rows.sort_by_key(|r| (r.minute_ms, r.network_hash, r.platform.clone()));
        let summary: Vec<(i64, u8, &str, &str, u64)> = rows
            .iter()
            .map(|r| {
                (
                    r.minute_ms - T0,
                    r.network_hash[0],
                    r.problem.as_str(),
                    r.platform.as_str(),
                    r.count,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, 1, "login", "ios", 1),
                (0, 1, "login", "web", 1),
                (0, 2, "login", "web", 1),
                (60_000, 1, "search", "web", 1),
            ],
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn detector_states_and_verdict_events_round_trip() {
    each_backend(|s, name| async move {
        let st = |series: &str, v: &str, t| DetectorState {
            series: series.into(),
            state: v.into(),
            through_minute_ms: t,
        };
        s.save_detector_states(
            "melodia",
            vec![
                st("all", "{\"a\":1}", 60_000),
                st("country:GB", "{}", 60_000),
            ],
        )
        .await
        .unwrap();
        s.save_detector_states("melodia", vec![st("all", "{\"a\":2}", 120_000)])
            .await
            .unwrap();
        let mut got = s.detector_states("melodia").await.unwrap();
        got.sort_by(|a, b| a.series.cmp(&b.series));
        assert_eq!(
            got,
            vec![
                st("all", "{\"a\":2}", 120_000),
                st("country:GB", "{}", 60_000)
            ],
            "{name}"
        );
        assert!(
            s.detector_states("other").await.unwrap().is_empty(),
            "{name}"
        );

        let ev = |at_ms, verdict: &str| VerdictEvent {
            id: 0,
            service: "melodia".into(),
            series: "all".into(),
            at_ms,
            verdict: verdict.into(),
            previous: "no_problems".into(),
            score: 0.9,
            observed: 140.0,
            expected: 10.0,
            explanation: "reports 14× the usual".into(),
            evidence: "{}".into(),
        };
        let a = s
            .insert_verdict_event(ev(T0, "possible_problems"))
            .await
            .unwrap();
        let b = s
            .insert_verdict_event(ev(T0 + 60_000, "problems"))
            .await
            .unwrap();
        assert!(b > a, "{name}");
        let events = s.verdict_events("melodia", T0, 10).await.unwrap();
        assert_eq!(
            events
                .iter()
                .map(|e| e.verdict.as_str())
                .collect::<Vec<_>>(),
            ["problems", "possible_problems"],
            "{name}"
        );
        assert_eq!(events[0].id, b, "{name}");
        assert_eq!(events[0].explanation, "reports 14× the usual", "{name}");
        assert_eq!(
            s.verdict_events("melodia", T0 + 1, 10).await.unwrap().len(),
            1,
            "{name}"
        );
        assert_eq!(
            s.verdict_events("melodia", 0, 1).await.unwrap().len(),
            1,
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_lease_has_one_holder_until_it_expires() {
    each_backend(|s, name| async move {
        assert!(
            s.try_lease("crowd", "node-a", 1_000, 30_000).await.unwrap(),
            "{name}: free lease"
        );
        assert!(
            !s.try_lease("crowd", "node-b", 2_000, 30_000).await.unwrap(),
            "{name}: held by a"
        );
        assert!(
            s.try_lease("crowd", "node-a", 20_000, 30_000)
                .await
                .unwrap(),
            "{name}: a renews"
        );
        assert!(
            !s.try_lease("crowd", "node-b", 49_999, 30_000)
                .await
                .unwrap(),
            "{name}: renewed until 50 s"
        );
        assert!(
            s.try_lease("crowd", "node-b", 50_000, 30_000)
                .await
                .unwrap(),
            "{name}: expired, b takes it"
        );
        assert!(
            !s.try_lease("crowd", "node-a", 50_001, 30_000)
                .await
                .unwrap(),
            "{name}: now b's"
        );
        assert!(
            s.try_lease("other", "node-a", 50_001, 30_000)
                .await
                .unwrap(),
            "{name}: leases are per name"
        );
    })
    .await;
}

fn probe(monitor: &str, region: &str, at_ms: i64, down: bool) -> NewProbeResult {
    NewProbeResult {
        monitor: monitor.into(),
        region: region.into(),
        at_ms,
        outcome: if down { "down" } else { "up" },
        cause: down.then_some("connect"),
        total_ms: Some(2.5),
        reliable: true,
        result: format!("{{\"at\":{at_ms}}}"),
    }
}

#[tokio::test]
async fn probe_results_roll_up_and_come_back_latest_first_per_region() {
    each_backend(|s, name| async move {
        s.insert_probe_results(vec![
            probe("api", "eu-west", T0, false),
            probe("api", "eu-west", T0 + 5_000, true),
            probe("api", "us-east", T0 + 1_000, false),
            probe("web", "eu-west", T0 + 2_000, false),
        ])
        .await
        .unwrap();
        s.insert_probe_results(vec![probe("api", "eu-west", T0 + 3_600_000, false)])
            .await
            .unwrap();
        let got = s.probe_results("api", T0, 100).await.unwrap();
        assert_eq!(
            got.iter().map(|r| r.at_ms - T0).collect::<Vec<_>>(),
            [0, 1_000, 5_000, 3_600_000],
            "{name}"
        );
        assert_eq!(got[2].cause.as_deref(), Some("connect"), "{name}");
        assert_eq!(
            s.probe_results("api", T0 + 2_000, 100).await.unwrap().len(),
            2,
            "{name}"
        );
        assert_eq!(
            s.probe_results("api", T0, 1).await.unwrap().len(),
            1,
            "{name}"
        );
        let mut latest = s.latest_probe_results(T0).await.unwrap();
        latest.sort_by(|a, b| (&a.monitor, &a.region).cmp(&(&b.monitor, &b.region)));
        let l: Vec<(&str, &str, i64)> = latest
            .iter()
            .map(|r| (r.monitor.as_str(), r.region.as_str(), r.at_ms - T0))
            .collect();
        assert_eq!(
            l,
            [
                ("api", "eu-west", 3_600_000),
                ("api", "us-east", 1_000),
                ("web", "eu-west", 2_000)
            ],
            "{name}"
        );
        let hours = s.probe_hours("api", T0).await.unwrap();
        let h: Vec<(&str, i64, u64, u64)> = hours
            .iter()
            .map(|h| (h.region.as_str(), h.hour_ms - T0, h.probes, h.failures))
            .collect();
        assert_eq!(
            h,
            [
                ("eu-west", 0, 2, 1),
                ("us-east", 0, 1, 0),
                ("eu-west", 3_600_000, 1, 0)
            ],
            "{name}"
        );
        assert!((hours[0].total_ms - 5.0).abs() < 1e-9, "{name}");
    })
    .await;
}

#[tokio::test]
async fn monitor_states_persist() {
    each_backend(|s, name| async move {
        let st = |state: &str, since_ms, cause: Option<&str>| MonitorState {
            monitor: "api".into(),
            state: state.into(),
            since_ms,
            cause: cause.map(Into::into),
        };
        s.save_monitor_state(st("down", 5, Some("tls_certificate")))
            .await
            .unwrap();
        assert_eq!(
            s.monitor_states().await.unwrap(),
            vec![st("down", 5, Some("tls_certificate"))],
            "{name}"
        );
        s.save_monitor_state(st("up", 9, None)).await.unwrap();
        assert_eq!(
            s.monitor_states().await.unwrap(),
            vec![st("up", 9, None)],
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
