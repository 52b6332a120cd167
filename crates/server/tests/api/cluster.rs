//! Several nodes on one PostgreSQL database (issue 16, items 4, 6 and half of 7): two apps
//! in this process, each with its own pools, change feed, memory and listener.
//!
//! - A client counts once per service and window whichever node it reaches; the rate limit
//!   is the cluster's, shared among the live nodes.
//! - A change made through one node shows on the other's pages within 2 s.
//! - While PostgreSQL is down, writes answer 503 with `Retry-After` and reads serve the last
//!   known state; when it is back, the nodes recover by themselves and every acknowledged
//!   report is stored.

use crate::helpers::*;
use downbeat_api::auth::{self, Role};
use downbeat_server::testing::cluster::until_live_nodes;
use downbeat_store::testing::{self, PgCluster, TestStore};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

async fn editor(app: &TestApp) -> String {
    auth::create_token(&*app.app.store, "editor", Role::Editor, app.clock.now_ms())
        .await
        .unwrap()
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("an answer")
}

async fn page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = app
        .client
        .get(app.url(path))
        .send()
        .await
        .expect("an answer");
    (r.status(), r.text().await.unwrap_or_default())
}

/// Fails unless `path` on `node` shows `text` within 2 s of now.
async fn shows_within_2_s(node: &TestApp, path: &str, text: &str) {
    let start = Instant::now();
    loop {
        let (status, body) = page(node, path).await;
        if status == StatusCode::OK && body.contains(text) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{path} on the other node does not show {text:?} within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn reports_hour(n: usize) -> String {
    format!("<span id=\"reports-hour\">{n}</span>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_counts_once_whichever_node_it_reaches() {
    let Some(store) = testing::postgres().await else {
        return;
    };
    let nodes = spawn_nodes(store, "", 2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let ip = "198.51.100.1";
    assert!(a.report_counted("login", ip).await);
    assert!(
        !b.report_counted("login", ip).await,
        "the same client through the other node"
    );
    assert!(!a.report_counted("playback", ip).await);
    assert!(b.report_counted("login", "198.51.100.2").await);
    // Through both nodes at the same moment: one of the two counts.
    for i in 0..20 {
        let ip = format!("198.51.100.{}", 10 + i);
        let (x, y) = tokio::join!(
            a.report_counted("login", &ip),
            b.report_counted("login", &ip)
        );
        assert!(x ^ y, "{ip}: counted through A {x}, through B {y}");
    }
    // A window later the client counts again, through either node.
    a.clock.advance(Duration::from_secs(16 * 60));
    assert!(b.report_counted("login", ip).await);
    assert!(!a.report_counted("login", ip).await);
    for node in [a, b] {
        until("both nodes count 23 reports", || async {
            node.summary("60m").await["total"] == json!(23)
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_shared_among_the_live_nodes() {
    let Some(store) = testing::postgres().await else {
        return;
    };
    let nodes = spawn_nodes(
        store,
        "[reports]\nrate_limit_burst = 4\nrate_limit_per_minute = 4\n",
        2,
    )
    .await;
    let (a, b) = (&nodes[0], &nodes[1]);
    until_live_nodes(&[a, b], 2).await;
    // One client, its reports spread over both nodes (as a load balancer would).
    let mut accepted = 0;
    for i in 0..12 {
        let node = if i % 2 == 0 { a } else { b };
        let r = node
            .report("melodia", json!({"problem": "login"}), "203.0.113.9")
            .await;
        match r.status() {
            StatusCode::ACCEPTED => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(r.headers().contains_key("retry-after"));
            }
            other => panic!("report {i}: {other}"),
        }
    }
    assert_eq!(
        accepted, 4,
        "the cluster's burst of 4 (2 per node), not 4 per node"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_update_through_one_node_shows_on_the_others_pages_within_2_s() {
    let Some(store) = testing::postgres().await else {
        return;
    };
    let nodes = spawn_nodes(store, "", 2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let token = editor(a).await;
    let r = post(
        a,
        "/api/v1/services/melodia/incidents",
        &token,
        json!({"title": "Logins failing for some", "message": "Looking into it."}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    shows_within_2_s(b, "/s/melodia", "Logins failing for some").await;
    let updates = format!("/api/v1/incidents/{id}/updates");
    for (status, message) in [
        ("identified", "A certificate expired"),
        ("monitoring", "A new certificate is in place"),
        ("resolved", "Logins work again"),
    ] {
        let r = post(
            a,
            &updates,
            &token,
            json!({"status": status, "message": message}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        shows_within_2_s(b, &format!("/s/melodia/incidents/{id}"), message).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_wave_through_one_node_shows_on_the_others_page_within_2_s() {
    let Some(store) = testing::postgres().await else {
        return;
    };
    let nodes = spawn_nodes(store, "", 2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    assert!(page(b, "/s/melodia").await.1.contains(&reports_hour(0)));
    for wave in 1..=2 {
        for i in 0..20 {
            assert!(
                a.report_counted("login", &format!("192.0.2.{}", wave * 50 + i))
                    .await
            );
        }
        shows_within_2_s(b, "/s/melodia", &reports_hour(wave * 20)).await;
    }
}

/// Reports posted one after another, alternately to each node, each from its own address
/// and naming its own city, until `stop`: (city, answer) of each.
async fn report_stream(urls: [String; 2], stop: Arc<AtomicBool>) -> Vec<(String, StatusCode)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut out = Vec::new();
    let mut i = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let city = format!("c{i}");
        let r = client
            .post(&urls[i as usize % 2])
            .header(
                "x-forwarded-for",
                format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255),
            )
            .json(&json!({"problem": "login", "city": city}))
            .send()
            .await
            .expect("an answer, not a hang");
        out.push((city, r.status()));
        i += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgres_is_down_writes_get_503_reads_serve_the_last_state_and_nodes_recover() {
    let Some(pg) = PgCluster::start(None) else {
        return;
    };
    let pg = Arc::new(pg);
    let nodes = spawn_nodes(
        TestStore::on_cluster(&pg),
        "database_connect_timeout = \"1s\"\ndatabase_statement_timeout = \"1s\"\n",
        2,
    )
    .await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let token = editor(a).await;

    // What both nodes know before: an incident, and a report (B's summary answer cached).
    let r = post(
        a,
        "/api/v1/services/melodia/incidents",
        &token,
        json!({"title": "Known before the outage", "message": "Looking into it."}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(a.report_counted("login", "192.0.2.1").await);
    shows_within_2_s(b, "/s/melodia", "Known before the outage").await;
    shows_within_2_s(b, "/s/melodia", &reports_hour(1)).await;
    assert_eq!(b.summary("60m").await["total"], json!(1));

    // Reports keep coming through both nodes while the server stops.
    let stop = Arc::new(AtomicBool::new(false));
    let path = "/api/v1/services/melodia/reports";
    let stream = tokio::spawn(report_stream([a.url(path), b.url(path)], stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = pg.clone();
    tokio::task::spawn_blocking(move || stopping.stop())
        .await
        .unwrap();

    // Writes: 503 with Retry-After, on both nodes.
    for node in [a, b] {
        let r = node
            .report("melodia", json!({"problem": "login"}), "192.0.2.200")
            .await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().contains_key("retry-after"), "a report");
        let r = post(
            node,
            "/api/v1/services/melodia/incidents",
            &token,
            json!({"title": "During", "message": "x"}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().contains_key("retry-after"), "an incident");
    }
    // The page's report form too (its token is in the page, which B serves from memory).
    let (_, html) = page(b, "/s/melodia").await;
    let token_field = html
        .split("name=\"form_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page has a form token");
    let r = b
        .client
        .post(b.url("/s/melodia/report"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "192.0.2.202")
        .body(format!("problem=login&form_token={token_field}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"), "the report form");
    // Reads: the pages from memory, the crowd status, the last cached API answer.
    for node in [a, b] {
        let (status, body) = page(node, "/s/melodia").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("Known before the outage"));
        assert_eq!(page(node, "/").await.0, StatusCode::OK);
        let (status, _) = node.get_json("/api/v1/services/melodia/status").await;
        assert_eq!(status, StatusCode::OK);
    }
    let r = b
        .client
        .get(b.url("/api/v1/services/melodia/summary?window=60m"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the last answer, not a 503");
    assert!(r.headers().contains_key("age"));
    assert_eq!(r.json::<Value>().await.unwrap()["total"], json!(1));

    // Back: the nodes recover by themselves.
    let starting = pg.clone();
    tokio::task::spawn_blocking(move || starting.start_again())
        .await
        .unwrap();
    // (Each attempt from its own address: refused attempts spend the rate limit too.)
    let attempt = std::sync::atomic::AtomicU32::new(0);
    until("a report is taken again", || async {
        let n = attempt.fetch_add(1, Ordering::Relaxed);
        let ip = format!("192.0.{}.{}", 100 + n / 200, n % 200);
        a.report("melodia", json!({"problem": "login"}), &ip)
            .await
            .status()
            == StatusCode::ACCEPTED
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let sent = stream.await.unwrap();
    let acknowledged: Vec<&str> = sent
        .iter()
        .filter(|(_, s)| *s == StatusCode::ACCEPTED)
        .map(|(c, _)| c.as_str())
        .collect();
    let refused = sent
        .iter()
        .filter(|(_, s)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert!(
        sent.iter()
            .all(|(_, s)| matches!(*s, StatusCode::ACCEPTED | StatusCode::SERVICE_UNAVAILABLE)),
        "only 202 and 503: {sent:?}"
    );
    assert!(refused > 0 && acknowledged.len() > 10, "{sent:?}");

    // Nothing acknowledged is lost: every 202's city is stored, once.
    let since = a.clock.now_ms() - 3_600_000;
    let stored = a
        .app
        .store
        .top_cities("melodia", since, 100_000)
        .await
        .unwrap();
    let stored: std::collections::HashMap<&str, u64> = stored
        .cities
        .iter()
        .map(|c| (c.city.as_str(), c.count))
        .collect();
    for city in &acknowledged {
        assert_eq!(stored.get(city), Some(&1), "acknowledged report {city}");
    }

    // B follows A again: the change feed is back (B's page moves only through it).
    let counted = stored.values().sum::<u64>() as usize + 2; // and the two without a city
    shows_within_2_s(b, "/s/melodia", &reports_hour(counted)).await;
    let r = post(
        a,
        "/api/v1/services/melodia/incidents",
        &token,
        json!({"title": "Known after the outage", "message": "Back."}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    shows_within_2_s(b, "/s/melodia", "Known after the outage").await;
}

/// An HTTP target on loopback: `/health` answers 200 while `up`, 503 otherwise.
async fn target(up: Arc<AtomicBool>) -> std::net::SocketAddr {
    let router = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let up = up.load(Ordering::SeqCst);
            async move {
                if up {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

const MONITORS: [&str; 6] = [
    "probe-a", "probe-b", "probe-c", "probe-d", "probe-e", "probe-f",
];

/// Node `app`'s name in the cluster.
fn me(app: &TestApp) -> String {
    app.app.monitors.owners.me().to_owned()
}

/// Waits until every node in `nodes` sees exactly `n` live nodes, all of them counting.
async fn until_sharing(nodes: &[&TestApp], n: usize) {
    until(&format!("every node shares monitors among {n}"), || async {
        nodes.iter().all(|a| a.app.monitors.owners.live() == n)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_round_is_probed_once_and_every_change_told_once_as_nodes_join_and_leave() {
    // Six monitors every 5 s (on a clock running 5 times real time: a round a second) on
    // nodes that join and leave one database. The stored rounds show who probed what.
    let Some(store) = testing::postgres().await else {
        return;
    };
    let up = Arc::new(AtomicBool::new(true));
    let addr = target(up.clone()).await;
    let receiver = crate::channels::RawReceiver::start().await;
    let mut extra = String::from("[probes]\nfailures_to_open = 2\nsuccesses_to_close = 2\n");
    for id in MONITORS {
        extra += &format!(
            "[[monitor]]\nid = \"{id}\"\nservice = \"melodia\"\nkind = \"http\"\n\
             target = \"http://{addr}/health\"\ninterval = \"5s\"\ntimeout = \"2s\"\n"
        );
    }
    extra += &format!(
        "[[notify.webhook]]\nid = \"pager\"\nurl = \"{}\"\nsecret = \"s3cret-s3cret-s3cret\"\nevents = [\"monitor\"]\n",
        receiver.url("pager")
    );
    let config = config_text(&extra);
    let clock = Arc::new(downbeat_domain::ManualClock::new(jiff::Timestamp::now()));
    clock.run(5.0);
    let start_ms = clock.now_ms();
    let third = store.shared();
    let mut nodes = spawn_nodes_on(store, &config, 2, clock.clone()).await;
    until_sharing(&[&nodes[0], &nodes[1]], 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A third node joins while every monitor is up.
    nodes.push(spawn_raw(third, &config, clock.clone()).await);
    until_sharing(&[&nodes[0], &nodes[1], &nodes[2]], 3).await;
    // It counts 3 s after its first beat; give it that and a few rounds.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let joined_share = MONITORS
        .iter()
        .filter(|m| nodes[2].app.monitors.owners.mine(m))
        .count();
    // The outage.
    up.store(false, Ordering::SeqCst);
    let down_at = Instant::now();
    until("every node shows every monitor down", || async {
        nodes
            .iter()
            .all(|n| MONITORS.iter().all(|id| n.app.monitors.state(id).0))
    })
    .await;
    assert!(
        down_at.elapsed() < Duration::from_secs(6),
        "two bad rounds (2 s) and the change feed: {:?}",
        down_at.elapsed()
    );
    // The node that owns the most monitors leaves in the middle of it.
    let busiest = (0..nodes.len())
        .max_by_key(|&k| {
            MONITORS
                .iter()
                .filter(|m| nodes[k].app.monitors.owners.mine(m))
                .count()
        })
        .unwrap();
    let leaving = nodes.remove(busiest);
    let left = me(&leaving);
    let _ = leaving.stop().await;
    until_sharing(&[&nodes[0], &nodes[1]], 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    up.store(true, Ordering::SeqCst);
    until("every node shows every monitor up again", || async {
        nodes
            .iter()
            .all(|n| MONITORS.iter().all(|id| !n.app.monitors.state(id).0))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let end_ms = clock.now_ms();

    // One result per round: consecutive rounds 5 s apart on the clock (jitter aside), and
    // at most one longer gap per monitor — the round lost when its node left.
    let store = &nodes[0].app.store;
    let mut regained = 0;
    for m in MONITORS {
        let results = store.probe_results(m, start_ms, 1000).await.unwrap();
        let at: Vec<i64> = results
            .iter()
            .map(|r| r.at_ms)
            .filter(|t| *t <= end_ms)
            .collect();
        assert!(at.len() >= 8, "{m}: {} results", at.len());
        let gaps: Vec<i64> = at.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter().all(|g| *g >= 4_000),
            "{m}: a round probed twice: gaps {gaps:?}"
        );
        let long: Vec<&i64> = gaps.iter().filter(|g| **g > 6_000).collect();
        assert!(
            long.len() <= 1 && long.iter().all(|g| **g <= 10_500),
            "{m}: rounds lost beyond the leaving node's: gaps {gaps:?}"
        );
        regained += long.len();
    }
    assert!(regained <= MONITORS.len());
    // Every change told once: each monitor down once and up once, each with its own id.
    let got = receiver.json("pager");
    let ids = receiver.ids("pager");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "a delivery went out twice: {ids:?}"
    );
    for m in MONITORS {
        let kinds: Vec<&str> = got
            .iter()
            .filter(|e| e.to_string().contains(&format!("\"{m}\"")))
            .filter_map(|e| e["type"].as_str())
            .collect();
        assert_eq!(
            kinds,
            ["monitor.down", "monitor.up"],
            "{m}: told once each (left: {left}, the newcomer took {joined_share})"
        );
    }
    for n in nodes {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flap_suppression_counts_the_changes_every_node_judged() {
    // A monitor's changes are judged on whichever node stored the result that made them:
    // the third change within the window makes it flapping wherever the first two were.
    let Some(store) = testing::postgres().await else {
        return;
    };
    let extra = "[notify]\nflap_changes = 3\nflap_window = \"1h\"\n\
         [[monitor]]\nid = \"api\"\nservice = \"melodia\"\nkind = \"tcp\"\ntarget = \"127.0.0.1:1\"\n\
         interval = \"1h\"\ntimeout = \"1s\"\n";
    let nodes = spawn_nodes(store, extra, 2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let m = &a.app.config.load().monitors[0];
    let t0 = a.clock.now_ms();
    let change = |i: i64| downbeat_store::MonitorState {
        monitor: "api".into(),
        state: if i % 2 == 0 {
            downbeat_domain::event::CheckState::Down
        } else {
            downbeat_domain::event::CheckState::Up
        },
        since_ms: t0 + i * 60_000,
        cause: None,
        notified: false,
    };
    let on = |n: &TestApp, i: i64| {
        let notifier = n.app.notifier.clone();
        let m = m.clone();
        async move { notifier.monitor_notice(&m, &change(i)).await }
    };
    assert!(on(b, 0).await.is_some(), "the first change is told");
    assert!(on(a, 1).await.is_some(), "the second too");
    let third = on(a, 2).await.expect("the third is told as flapping");
    assert_eq!(third.event.kind().as_str(), "monitor.flapping");
    assert!(
        on(b, 3).await.is_none(),
        "b holds the fourth: the episode a started is in the store"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_node_died_before_telling_it_is_told_by_another_node() {
    // A node commits a monitor's change (saved as not yet told) and is killed before it
    // queues the notification. The other nodes keep running: one of them must tell it,
    // not only a node that starts later.
    let Some(store) = testing::postgres().await else {
        return;
    };
    let up = Arc::new(AtomicBool::new(false));
    let addr = target(up.clone()).await;
    let receiver = crate::channels::RawReceiver::start().await;
    let extra = format!(
        "[[monitor]]\nid = \"orphan\"\nservice = \"melodia\"\nkind = \"http\"\n\
         target = \"http://{addr}/health\"\ninterval = \"5s\"\ntimeout = \"2s\"\n\
         [[notify.webhook]]\nid = \"pager\"\nurl = \"{}\"\nsecret = \"s3cret-s3cret-s3cret\"\nevents = [\"monitor\"]\n",
        receiver.url("pager")
    );
    let nodes = spawn_nodes(store, &extra, 2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    // What the dead node left: the change to down, committed a minute ago, untold. (The
    // target is down too, so the running nodes judge no change of their own.)
    let since_ms = a.clock.now_ms() - 60_000;
    a.app
        .store
        .save_monitor_state(downbeat_store::MonitorState {
            monitor: "orphan".into(),
            state: downbeat_domain::event::CheckState::Down,
            since_ms,
            cause: None,
            notified: false,
        })
        .await
        .unwrap();
    until("the orphaned change is told", || async {
        !receiver.json("pager").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let got = receiver.json("pager");
    assert_eq!(got.len(), 1, "told once: {got:?}");
    assert_eq!(got[0]["type"], "monitor.down", "{got:?}");
    let at: jiff::Timestamp = got[0]["occurred_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        at.as_millisecond(),
        since_ms,
        "the dead node's change: {got:?}"
    );
    let states = b.app.store.monitor_states().await.unwrap();
    assert!(states.iter().all(|s| s.notified), "{states:?}");
    for n in nodes {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_prunes_at_a_time() {
    let Some(store) = testing::postgres().await else {
        return;
    };
    let nodes = spawn_nodes(store, "", 2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let now = jiff::Timestamp::now();
    let first = downbeat_server::jobs::prune_as_leader(&a.app, now)
        .await
        .unwrap();
    assert!(first.is_some(), "the first node to ask prunes");
    let second = downbeat_server::jobs::prune_as_leader(&b.app, now)
        .await
        .unwrap();
    assert!(second.is_none(), "the other node leaves it to the first");
    let again = downbeat_server::jobs::prune_as_leader(&a.app, now)
        .await
        .unwrap();
    assert!(again.is_some(), "the holder keeps pruning");
}
