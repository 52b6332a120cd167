//! Intake: reports, roll-ups, salts, cities.

use super::*;
use downbeat_domain::{CountryCode, Platform};

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
        rows.sort_by_key(|r| {
            (
                r.minute_ms,
                r.network_hash,
                r.platform.map(Platform::as_str),
            )
        });
        let summary: Vec<(i64, u8, &str, &str, u64)> = rows
            .iter()
            .map(|r| {
                (
                    r.minute_ms - T0,
                    r.network_hash[0],
                    r.problem.as_str(),
                    r.platform.map_or("", Platform::as_str),
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
async fn top_cities_count_counted_reports_per_city_and_country() {
    each_backend(|s, name| async move {
        let at = |city: Option<&str>, country: Option<&'static str>, client: u8, counted| {
            let mut r = report(
                "melodia",
                T0 + i64::from(client) * 1_000,
                "login",
                client,
                counted,
            );
            r.city = city.map(Into::into);
            r.country = country.map(super::country);
            r
        };
        insert(
            &s,
            vec![
                at(Some("Manchester"), Some("GB"), 1, true),
                at(Some("London"), Some("GB"), 2, true),
                at(Some("London"), Some("GB"), 3, true),
                at(Some("London"), Some("GB"), 4, false), // not counted
                at(Some("London"), None, 5, true),
                at(Some("London"), Some("CA"), 6, true),
                at(Some("<b>Glasgow</b>"), Some("GB"), 7, true),
                at(None, Some("GB"), 8, true), // no city
                at(Some("Paris"), Some("FR"), 9, true),
            ],
        )
        .await;
        // before the window, and another service
        let mut old = at(Some("Leeds"), Some("GB"), 10, true);
        old.received_at_ms = T0 - 1;
        let mut other = at(Some("Leeds"), Some("GB"), 11, true);
        other.service = "other".into();
        insert(&s, vec![old, other]).await;

        let top = s.top_cities("melodia", T0, 4).await.unwrap();
        assert_eq!(top.named, 7, "{name}: counted reports that name a city");
        let got: Vec<(&str, Option<&str>, u64)> = top
            .cities
            .iter()
            .map(|c| (c.city.as_str(), c.country.map(CountryCode::as_str), c.count))
            .collect();
        // Every client here is on one network.
        assert!(
            top.cities.iter().all(|c| c.networks == 1),
            "{name}: {top:?}"
        );
        assert_eq!(
            got,
            [
                ("London", Some("GB"), 2),
                ("<b>Glasgow</b>", Some("GB"), 1),
                ("London", None, 1),
                ("London", Some("CA"), 1),
            ],
            "{name}"
        );
        let later = s.top_cities("melodia", T0 + 6_500, 10).await.unwrap();
        assert_eq!(later.named, 2, "{name}");
        assert_eq!(
            s.top_cities("nobody", 0, 10).await.unwrap(),
            TopCities::default(),
            "{name}"
        );
    })
    .await;
}

#[tokio::test]
async fn top_cities_count_distinct_networks_on_the_busiest_day() {
    each_backend(|s, name| async move {
        const DAY: i64 = 86_400_000;
        let day0 = T0.div_euclid(DAY) * DAY;
        let at = |city: &str, at_ms: i64, client: u8, network: u8| {
            let mut r = report("melodia", at_ms, "login", client, true);
            r.city = Some(city.into());
            r.country = Some(super::country("GB"));
            r.network_hash = [network; 16];
            r
        };
        insert(
            &s,
            vec![
                // Many clients of one network.
                at("Leeds", day0 + 1_000, 1, 1),
                at("Leeds", day0 + 2_000, 2, 1),
                at("Leeds", day0 + 3_000, 3, 1),
                at("Leeds", day0 + 4_000, 4, 1),
                // Three networks.
                at("York", day0 + 1_000, 5, 2),
                at("York", day0 + 2_000, 6, 3),
                at("York", day0 + 3_000, 7, 4),
                // Two networks each day: a network's hash changes at midnight, so the days'
                // networks are not added up.
                at("Bath", day0 + DAY - 2_000, 8, 5),
                at("Bath", day0 + DAY - 1_000, 9, 6),
                at("Bath", day0 + DAY + 1_000, 10, 7),
                at("Bath", day0 + DAY + 2_000, 11, 8),
            ],
        )
        .await;
        let top = s.top_cities("melodia", day0, 10).await.unwrap();
        let got: Vec<(&str, u64, u64)> = top
            .cities
            .iter()
            .map(|c| (c.city.as_str(), c.count, c.networks))
            .collect();
        assert_eq!(
            got,
            [("York", 3, 3), ("Bath", 4, 2), ("Leeds", 4, 1)],
            "{name}: most networks first"
        );
        assert_eq!(top.named, 11, "{name}");
    })
    .await;
}

const WINDOW: i64 = 15 * 60_000;

/// Writes `reports` (each with its client under yesterday's salt) through
/// `insert_reports_once`; which of them counted.
async fn insert_once(
    s: &std::sync::Arc<dyn Store>,
    reports: Vec<(NewReport, Option<Hash16>)>,
) -> Vec<bool> {
    let mut batch = CountingBatch::with_window(WINDOW);
    for (r, earlier) in reports {
        batch.push(r, earlier);
    }
    let (batch, r) = s.insert_reports_once(batch).await;
    r.unwrap();
    batch.reports.iter().map(|r| r.counted).collect()
}

#[tokio::test]
async fn a_client_counts_once_per_service_and_window_as_the_store_decides() {
    each_backend(|s, name| async move {
        let r = |at: i64, client: u8, counted: bool| {
            (report("melodia", T0 + at, "login", client, counted), None)
        };
        // Twice in one batch: the first counts. A report that does not ask to count is
        // stored as it is.
        assert_eq!(
            insert_once(&s, vec![r(0, 1, true), r(1, 1, true), r(2, 2, false)]).await,
            [true, false, false],
            "{name}"
        );
        // Later batches: within the window no, from the window on yes (the window runs
        // from the counted report, not from the duplicates).
        assert_eq!(
            insert_once(&s, vec![r(WINDOW - 1, 1, true)]).await,
            [false],
            "{name}"
        );
        assert_eq!(
            insert_once(&s, vec![r(WINDOW, 1, true)]).await,
            [true],
            "{name}"
        );
        // Another service is another count.
        let other = report("quiet", T0 + 5, "login", 1, true);
        assert_eq!(insert_once(&s, vec![(other, None)]).await, [true], "{name}");
        // Near midnight: the same client under yesterday's key counted a moment ago.
        let new_key = report("melodia", T0 + WINDOW + 60_000, "login", 9, true);
        assert_eq!(
            insert_once(&s, vec![(new_key.clone(), Some([1; 16]))]).await,
            [false],
            "{name}: yesterday's key counted within the window"
        );
        assert_eq!(
            insert_once(&s, vec![(new_key, Some([7; 16]))]).await,
            [true],
            "{name}: an unknown earlier key"
        );
        // What was stored agrees: 1 (client 1) + 1 (client 1 a window on) + 1 (client 9).
        assert_eq!(s.summary("melodia", T0).await.unwrap().total, 3, "{name}");
        // Pruning with yesterday's salt forgets the marks made before it.
        let out = s
            .prune(PruneCutoffs {
                raw_before_ms: T0 - 30 * 86_400_000,
                rollups_before_ms: T0 - 400 * 86_400_000,
                salts_before_day: T0 / 86_400_000 + 1,
            })
            .await
            .unwrap();
        assert_eq!(
            out.counted_clients, 3,
            "{name}: clients 1 and 9 of melodia, 1 of quiet"
        );
        assert_eq!(
            insert_once(&s, vec![r(WINDOW + 1, 1, true)]).await,
            [true],
            "{name}: a pruned mark no longer holds"
        );
    })
    .await;
}

/// Two nodes (two stores on one PostgreSQL database) counting the same clients at the same
/// moment: each client counts once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_counting_one_client_at_once_count_it_once() {
    let Some(t) = testing::postgres().await else {
        return;
    };
    let a = open(&t.target).await.unwrap();
    let b = open(&t.target).await.unwrap();
    for round in 0..20i64 {
        // Clients in opposite orders, so the two batches' locks cross.
        let batch = |reverse: bool| {
            let mut v: Vec<(NewReport, Option<Hash16>)> = (0..30u8)
                .map(|c| {
                    (
                        report("melodia", T0 + round * WINDOW, "login", c, true),
                        None,
                    )
                })
                .collect();
            if reverse {
                v.reverse();
            }
            v
        };
        let (x, y) = tokio::join!(insert_once(&a, batch(false)), insert_once(&b, batch(true)));
        let y: Vec<bool> = y.into_iter().rev().collect();
        for c in 0..30 {
            assert!(
                x[c] ^ y[c],
                "round {round}, client {c}: {} and {}",
                x[c],
                y[c]
            );
        }
    }
    assert_eq!(a.summary("melodia", T0).await.unwrap().total, 20 * 30);
}

/// The messages of counted reports come back newest first, with their network, from the
/// window asked for; uncounted reports and reports without one are left out. Through the
/// counting path too (PostgreSQL writes it in one statement).
#[tokio::test]
async fn counted_reports_messages_come_back_newest_first() {
    each_backend(|s, name| async move {
        let said = |at: i64, client: u8, counted: bool, text: Option<&str>| NewReport {
            message: text.map(str::to_owned),
            ..report("melodia", T0 + at, "login", client, counted)
        };
        insert(
            &s,
            vec![
                said(1_000, 10, true, Some("Something went wrong")),
                said(2_000, 20, false, Some("not counted")),
                said(3_000, 30, true, None),
                said(4_000, 40, true, Some("Can't log in")),
                said(-60_000, 50, true, Some("too early")),
            ],
        )
        .await;
        let mut batch = CountingBatch::with_window(60_000);
        batch.reports.push(said(5_000, 60, true, Some("Error 503")));
        batch.earlier.push(None);
        let (_, r) = s.insert_reports_once(batch).await;
        r.unwrap();
        let got = s.report_messages("melodia", T0).await.unwrap();
        let texts: Vec<(&str, i64, u8)> = got
            .iter()
            .map(|m| (m.text.as_str(), m.at_ms - T0, m.network_hash[0]))
            .collect();
        assert_eq!(
            texts,
            [
                ("Error 503", 5_000, 6),
                ("Can't log in", 4_000, 4),
                ("Something went wrong", 1_000, 1)
            ],
            "{name}"
        );
        assert!(s.report_messages("other", T0).await.unwrap().is_empty());
    })
    .await;
}

/// Hidden message clusters are kept per service by key; hiding twice keeps the first record,
/// showing again forgets it.
#[tokio::test]
async fn hidden_message_keys_are_kept_per_service() {
    each_backend(|s, name| async move {
        s.set_message_hidden("melodia", "melodia sucks", Some(("ed", T0)))
            .await
            .unwrap();
        s.set_message_hidden("melodia", "melodia sucks", Some(("ann", T0 + 1)))
            .await
            .unwrap();
        s.set_message_hidden("melodia", "a rumour", Some(("ed", T0)))
            .await
            .unwrap();
        assert_eq!(
            s.hidden_messages("melodia").await.unwrap(),
            ["a rumour", "melodia sucks"],
            "{name}"
        );
        assert!(s.hidden_messages("other").await.unwrap().is_empty());
        s.set_message_hidden("melodia", "a rumour", None)
            .await
            .unwrap();
        assert_eq!(
            s.hidden_messages("melodia").await.unwrap(),
            ["melodia sucks"],
            "{name}"
        );
    })
    .await;
}
