//! Scenario parsing, generation, CSV output and sending, through the public API.

use downbeat_replay::generate::{FLOOD_NETWORK, LISTENER_NETWORK};
use downbeat_replay::{
    Position, Scenario, ScenarioError, SendError, SendOptions, Source, Speed, Traffic, csv, send,
    shipped,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::time::Duration;

fn load(name: &str) -> Scenario {
    Scenario::load(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn minutes_csv(
    s: &Scenario,
    from: Option<Position>,
    until: Option<Position>,
    breakdown: bool,
) -> String {
    let t = Traffic::generate(s);
    let w = s.window(from, until).unwrap();
    let mut out = Vec::new();
    csv::write_minutes(&t, w, csv::Value::Sent, breakdown, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

const SMALL: &str = r#"
seed = 1
start = "2026-11-24T08:00:00Z"
duration = "20m"
[baseline]
per_minute = 40
[mix]
problem = { login = 3, playback = 1 }
platform = { ios = 1, web = 1 }
country = { GB = 1, US = 1 }
city = { GB = { London = 1, "Stoke-on-Trent, \"Potteries\"" = 1 } }
[[flood]]
start = "5m"
duration = "10m"
per_minute = 30
networks = 2
clients_per_network = 3
"#;

// ---- parsing ------------------------------------------------------------------------------

#[test]
fn every_shipped_scenario_parses_and_is_named_after_its_file() {
    let names: Vec<&str> = shipped::names().collect();
    assert_eq!(
        names,
        [
            "design-outage",
            "regional-slow-ramp",
            "normal-30-days",
            "network-flood",
            "expired-certificate",
            "dns-failure",
            "regional-cdn"
        ]
    );
    for s in shipped::all() {
        assert!(!s.description().is_empty(), "{}", s.name());
        assert_eq!(s.service(), Some("melodia"), "{}", s.name());
        // The embedded copy is the file in scenarios/.
        let path = format!(
            "{}/../../scenarios/{}.toml",
            env!("CARGO_MANIFEST_DIR"),
            s.name()
        );
        assert_eq!(Scenario::load_file(path.as_ref()).unwrap(), s);
    }
}

#[test]
fn a_small_file_parses_with_defaults() {
    let s = Scenario::parse(SMALL, "small.toml").unwrap();
    assert_eq!(s.name(), "small.toml");
    assert_eq!(s.minutes(), 20);
    assert_eq!(s.service(), None);
    assert_eq!(s.start().to_string(), "2026-11-24T08:00:00Z");
    assert_eq!(s.timestamp_of(3).to_string(), "2026-11-24T08:03:00Z");
    assert_eq!(s.events().len(), 1, "{:?}", s.events());
}

#[test]
fn unknown_scenario_name_lists_the_shipped_ones() {
    let e = Scenario::load("no-such-scenario").unwrap_err();
    assert!(matches!(e, ScenarioError::NotFound(..)));
    assert!(e.to_string().contains("design-outage"), "{e}");
}

#[test]
fn bad_scenarios_are_refused_naming_the_key() {
    // (what is changed, the key the error must name)
    let cases: &[(&str, &str, &str)] = &[
        ("seed = 1", "sed = 1", "sed"),
        (
            "per_minute = 40",
            "per_minute = 40\nper_minut = 3",
            "baseline.per_minut",
        ),
        ("per_minute = 40", "per_minute = -1", "baseline.per_minute"),
        (
            "per_minute = 40",
            "per_minute = \"many\"",
            "baseline.per_minute",
        ),
        ("ios = 1,", "toaster = 1,", "mix.platform.toaster"),
        ("GB = 1,", "XX = 1,", "mix.country.XX"),
        ("login = 3,", "\"Log In\" = 3,", "mix.problem.Log In"),
        ("duration = \"20m\"", "duration = \"soon\"", "duration"),
        ("duration = \"20m\"", "duration = \"0s\"", "duration"),
        ("08:00:00Z", "08:00:30Z", "start"),
        ("start = \"5m\"", "start = \"later\"", "flood[0].start"),
        ("networks = 2", "networks = 0", "flood[0].networks"),
        (
            "clients_per_network = 3",
            "clients_per_network = 300",
            "flood[0].clients_per_network",
        ),
        (
            "per_minute = 40",
            "per_minute = 40\nhourly = [1, 2]",
            "baseline.hourly",
        ),
        (
            "per_minute = 40",
            "per_minute = 40\ndaily_amplitude = 1.5",
            "baseline.daily_amplitude",
        ),
        (
            "per_minute = 40",
            "per_minute = 40\nweekly = { mon = 1, funday = 2 }",
            "baseline.weekly.funday",
        ),
        (
            "per_minute = 40",
            "per_minute = 40\nholiday = [{ date = \"2026-02-30\", factor = 0.5 }]",
            "baseline.holiday[0].date",
        ),
        ("problem = { login = 3, playback = 1 }\n", "", "mix.problem"),
    ];
    for (from, to, key) in cases {
        assert!(
            SMALL.contains(from),
            "case {key}: {from:?} not in the template"
        );
        let text = SMALL.replacen(from, to, 1);
        match Scenario::parse(&text, "bad.toml") {
            Err(ScenarioError::Invalid {
                key: k, message, ..
            }) => {
                assert_eq!(&k, key, "message: {message}")
            }
            other => panic!("case {key}: expected an error naming the key, got {other:?}"),
        }
    }
}

#[test]
fn bad_outages_are_refused_naming_the_key() {
    let outage = |body: &str| format!("{SMALL}\n[[outage]]\nonset = \"5m\"\nramp = \"5m\"\n{body}");
    let cases: &[(&str, &str)] = &[
        ("recovery = \"10m\"", "outage[0].peak_per_minute"),
        (
            "peak_per_minute = 9\npeak_multiplier = 3\nrecovery = \"10m\"",
            "outage[0].peak_per_minute",
        ),
        (
            "peak_multiplier = 0.5\nrecovery = \"10m\"",
            "outage[0].peak_multiplier",
        ),
        ("peak_per_minute = 9", "outage[0].recovery"),
        (
            "peak_per_minute = 9\nrecovery = \"10m\"\nramp_shape = \"wobbly\"",
            "outage[0].ramp_shape",
        ),
        (
            "peak_per_minute = 9\n[[outage.recovery_phase]]\nlevel = 0.5\nover = \"5m\"",
            "outage[0].recovery_phase[0].level",
        ),
        (
            "peak_per_minute = 9\n[[outage.recovery_phase]]\nlevel = 0\nover = \"a while\"",
            "outage[0].recovery_phase[0].over",
        ),
        (
            "peak_per_minute = 9\nrecovery = \"10m\"\n[outage.mix]\ncountry = { ZZ = 1 }",
            "outage[0].mix.country.ZZ",
        ),
        (
            "peak_per_minute = 9\nrecovery = \"10m\"\nplatau = \"5m\"",
            "outage[0].platau",
        ),
    ];
    for (body, key) in cases {
        match Scenario::parse(&outage(body), "bad.toml") {
            Err(ScenarioError::Invalid {
                key: k, message, ..
            }) => {
                assert_eq!(&k, key, "message: {message}")
            }
            other => panic!("case {key}: expected an error naming the key, got {other:?}"),
        }
    }
}

#[test]
fn syntax_errors_say_where() {
    let e = Scenario::parse("seed = \n", "broken.toml").unwrap_err();
    assert!(matches!(e, ScenarioError::Syntax { .. }), "{e:?}");
    assert!(e.to_string().contains("broken.toml"), "{e}");
}

// ---- determinism ---------------------------------------------------------------------------

#[test]
fn same_seed_same_traffic_other_seed_other_traffic() {
    let s = load("regional-slow-ramp");
    let a = minutes_csv(&s, None, None, true);
    assert_eq!(
        a,
        minutes_csv(&load("regional-slow-ramp"), None, None, true)
    );
    let other = s.clone().with_seed(s.seed() + 1);
    assert_ne!(a, minutes_csv(&other, None, None, true));

    let t1 = Traffic::generate(&s);
    let t2 = Traffic::generate(&other);
    assert_eq!(t1.reports(100), Traffic::generate(&s).reports(100));
    assert_ne!(t1.reports(100), t2.reports(100));
}

#[test]
fn a_slice_is_the_same_minutes_of_the_full_run() {
    let s = load("network-flood");
    let full = minutes_csv(&s, None, None, false);
    let slice = minutes_csv(
        &s,
        Some(Position::Offset(840)),
        Some("15h".parse().unwrap()),
        false,
    );
    let full_lines: Vec<&str> = full.lines().collect();
    let slice_lines: Vec<&str> = slice.lines().collect();
    assert_eq!(slice_lines.len(), 61);
    assert_eq!(slice_lines[1..], full_lines[841..901]);
    let at: Position = "2026-11-19T14:00:00Z".parse().unwrap();
    assert_eq!(s.window(Some(at), None).unwrap().from, 840);
    assert!(s.window(Some(Position::Offset(2000)), None).is_err());
    assert!(
        s.window(Some(Position::Offset(60)), Some(Position::Offset(60)))
            .is_err()
    );
}

// ---- shape ---------------------------------------------------------------------------------

#[test]
fn design_outage_reaches_tens_of_thousands_within_30_minutes_with_the_65_25_10_split() {
    let s = load("design-outage");
    let t = Traffic::generate(&s);
    let onset = s.outage_onsets()[0].1 as u32;
    assert_eq!(s.timestamp_of(onset).to_string(), "2026-11-24T08:10:00Z");
    let before = t.minute(onset - 1).total;
    assert!(before < 100, "baseline before onset: {before}");
    let first_10k = (onset..onset + 120)
        .find(|&m| t.minute(m).total >= 10_000)
        .expect("reaches 10,000 a minute");
    assert!(
        first_10k - onset <= 30,
        "10,000/min only {} min after onset",
        first_10k - onset
    );
    let peak = (onset..s.minutes())
        .max_by_key(|&m| t.minute(m).total)
        .unwrap();
    assert!(peak - onset <= 60, "peak {} min after onset", peak - onset);
    assert!(
        t.minute(peak).total >= 30_000,
        "peak {}",
        t.minute(peak).total
    );
    // Phased recovery: ~4 h after onset it is much better but not over; 6 h after, normal.
    let at_4h = t.minute(onset + 240).total;
    assert!(
        at_4h < t.minute(peak).total / 5 && at_4h > 1_000,
        "4 h after onset: {at_4h}"
    );
    assert!(t.minute(onset + 360).total < 100);

    // Every report of ten peak minutes: the platform split and the problems.
    let mut platform: HashMap<&str, f64> = HashMap::new();
    let mut problem: HashMap<String, f64> = HashMap::new();
    let mut n = 0.0f64;
    for m in peak - 5..peak + 5 {
        for r in t.reports(m) {
            n += 1.0;
            let group = if r.platform.is_mobile() {
                "mobile"
            } else {
                r.platform.as_str()
            };
            *platform.entry(group).or_insert(0.0) += 1.0;
            *problem.entry(r.problem.to_string()).or_insert(0.0) += 1.0;
        }
    }
    for (group, share) in [("mobile", 0.65), ("desktop", 0.25), ("web", 0.10)] {
        let got = platform[group] / n;
        assert!(
            (got - share).abs() < 0.02,
            "{group}: {got:.3} of {n} reports"
        );
    }
    let top = problem.iter().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    assert_eq!(top, "login");
}

/// The outage's listeners say what their screens show (40% of them, "Something went wrong"
/// the most); everyday reports say nothing; and the messages come from their own random
/// stream, so every other field of every report is what it was without them.
#[test]
fn outage_reports_say_what_the_screens_show_and_change_nothing_else() {
    let s = load("design-outage");
    let t = Traffic::generate(&s);
    let onset = s.outage_onsets()[0].1 as u32;
    let mut said: HashMap<String, f64> = HashMap::new();
    let (mut outage, mut with) = (0.0f64, 0.0f64);
    for m in onset + 20..onset + 25 {
        for r in t.reports(m) {
            match r.source {
                Source::Outage(_) => {
                    outage += 1.0;
                    if let Some(text) = &r.message {
                        with += 1.0;
                        *said.entry(text.to_string()).or_insert(0.0) += 1.0;
                    }
                }
                _ => assert_eq!(r.message, None, "{r:?}"),
            }
        }
    }
    assert!((with / outage - 0.4).abs() < 0.02, "{with} of {outage}");
    let top = said.iter().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    assert_eq!(top, "Something went wrong");

    let silent = shipped::text("design-outage")
        .unwrap()
        .replace("message_share = 0.4", "message_share = 0");
    let quiet = Scenario::parse(&silent, "design-outage").unwrap();
    let q = Traffic::generate(&quiet);
    for m in [onset - 1, onset + 20] {
        let strip = |mut r: downbeat_replay::Report| {
            r.message = None;
            r
        };
        let a: Vec<_> = t.reports(m).into_iter().map(strip).collect();
        assert_eq!(a, q.reports(m), "minute {m}");
    }
}

#[test]
fn normal_days_peak_in_the_evening_and_dip_at_4_am() {
    let s = load("normal-30-days");
    let t = Traffic::generate(&s);
    assert_eq!(s.minutes(), 30 * 1440);
    let w = s.window(None, None).unwrap();
    assert!(s.outage_onsets().is_empty());
    // Mean per hour of day over the 30 days (start is midnight UTC, offset +00:00).
    let mut by_hour = [0u64; 24];
    for c in t.minutes(w) {
        by_hour[(c.minute % 1440 / 60) as usize] += c.total;
    }
    let (evening, four_am) = (by_hour[20], by_hour[4]);
    assert!(evening > 3 * four_am, "20:00 {evening} vs 04:00 {four_am}");
    let quietest = (0..24).min_by_key(|&h| by_hour[h]).unwrap();
    assert!((3..=5).contains(&quietest), "quietest hour {quietest}");
    // Saturday busier than Tuesday, the holiday (Thursday 26th) quieter than the Thursday
    // before, and growth: the last full week busier than the first.
    let day = |d: u32| {
        t.minutes(
            s.window(
                Some(Position::Offset(d * 1440)),
                Some(Position::Offset((d + 1) * 1440)),
            )
            .unwrap(),
        )
        .map(|c| c.total)
        .sum::<u64>()
    };
    assert!(day(5) > day(1), "Sat {} vs Tue {}", day(5), day(1));
    assert!(
        (day(24) as f64) < 0.8 * day(17) as f64,
        "holiday {} vs {}",
        day(24),
        day(17)
    );
    let week = |w: u32| (w * 7..w * 7 + 7).map(day).sum::<u64>();
    assert!(
        week(2) as f64 > 1.01 * week(0) as f64,
        "{} vs {}",
        week(2),
        week(0)
    );
    // Noise is honest: sampled totals follow the expected ones.
    let (got, want) = t
        .minutes(w)
        .fold((0.0, 0.0), |(g, e), c| (g + c.total as f64, e + c.expected));
    assert!((got / want - 1.0).abs() < 0.01, "{got} vs {want}");
}

#[test]
fn floods_come_from_few_networks_and_listeners_from_many() {
    let s = load("network-flood");
    let t = Traffic::generate(&s);
    let in_net = |a: Ipv4Addr, base: Ipv4Addr, bits: u32| {
        u32::from(a) >> (32 - bits) == u32::from(base) >> (32 - bits)
    };
    let mut flood_nets: BTreeMap<usize, HashSet<[u8; 3]>> = BTreeMap::new();
    let mut flood_clients: BTreeMap<usize, HashSet<Ipv4Addr>> = BTreeMap::new();
    let mut listeners = HashSet::new();
    let mut listener_nets = HashSet::new();
    let mut flood_reports = 0;
    for m in 14 * 60..20 * 60 {
        for r in t.reports(m) {
            let o = r.client.octets();
            match r.source {
                Source::Flood(j) => {
                    flood_reports += 1;
                    assert!(in_net(r.client, FLOOD_NETWORK, 12), "{}", r.client);
                    flood_nets.entry(j).or_default().insert([o[0], o[1], o[2]]);
                    flood_clients.entry(j).or_default().insert(r.client);
                }
                _ => {
                    assert!(in_net(r.client, LISTENER_NETWORK, 8), "{}", r.client);
                    assert!(listeners.insert(r.client), "listener {} reused", r.client);
                    listener_nets.insert([o[0], o[1], o[2]]);
                }
            }
        }
    }
    assert!(flood_reports > 150_000, "{flood_reports}");
    assert_eq!(flood_nets[&0].len(), 3);
    assert_eq!(flood_clients[&0].len(), 3 * 40);
    assert_eq!(flood_nets[&1].len(), 1);
    assert!(flood_clients[&1].len() <= 250);
    assert!(
        listener_nets.len() as f64 > 0.9 * listeners.len() as f64,
        "{} listeners in {} /24s",
        listeners.len(),
        listener_nets.len()
    );
}

#[test]
fn the_regional_ramp_stays_in_its_country() {
    let s = load("regional-slow-ramp");
    let t = Traffic::generate(&s);
    let count = |from: u32, to: u32| {
        let mut gb = 0;
        let mut rest = 0;
        for m in from..to {
            for r in t.reports(m) {
                if r.country.as_str() == "GB" {
                    gb += 1
                } else {
                    rest += 1
                }
            }
        }
        (gb, rest)
    };
    let (gb_before, rest_before) = count(30, 90);
    let (gb_peak, rest_peak) = count(155, 195); // full strength: 150..195 minutes
    assert!(gb_peak > 40 * gb_before, "GB {gb_before} → {gb_peak}");
    assert!(
        gb_peak / 40 > 250,
        "GB per minute at peak: {}",
        gb_peak / 40
    );
    // Elsewhere: the baseline's own drift only (afternoon → evening), not an outage.
    let (b, p) = (rest_before as f64 / 60.0, rest_peak as f64 / 40.0);
    assert!(p < 1.5 * b, "rest of the world {b:.1}/min → {p:.1}/min");
}

#[test]
fn demo_shapes_differ_where_they_should() {
    let cdn = load("regional-cdn");
    let t = Traffic::generate(&cdn);
    let europe: HashSet<&str> = ["GB", "DE", "FR", "NL", "ES", "IT", "SE", "PL", "IE"].into();
    for r in t.reports(80) {
        if matches!(r.source, Source::Outage(_)) {
            assert!(europe.contains(r.country.as_str()), "{}", r.country);
        }
    }
    // The expired certificate is abrupt: thousands in the second minute after onset; the DNS
    // failure creeps up.
    let cert = load("expired-certificate");
    let tc = Traffic::generate(&cert);
    let onset = cert.outage_onsets()[0].1 as u32;
    assert!(tc.minute(onset + 1).total > 3_000);
    let dns = load("dns-failure");
    let td = Traffic::generate(&dns);
    let onset = dns.outage_onsets()[0].1 as u32;
    assert!(
        td.minute(onset + 1).total < 500,
        "{}",
        td.minute(onset + 1).total
    );
    assert!(td.minute(onset + 25).total > 20_000);
}

#[test]
fn a_correct_server_counts_a_flood_client_once_per_window() {
    let s = load("network-flood");
    let t = Traffic::generate(&s);
    let w = s
        .window(Some("13h".parse().unwrap()), Some("17h".parse().unwrap()))
        .unwrap();
    let counted = t.counted(w, csv::DEDUPE_WINDOW);
    let rows: Vec<_> = t.minutes(w).collect();
    let flood_sent: u64 = rows.iter().map(|c| c.flood).sum();
    let flood_counted: u64 = rows
        .iter()
        .zip(&counted)
        .map(|(c, n)| n - (c.normal + c.outage))
        .sum();
    // 120 clients, 2 h: each counts at most once per 15 minutes, so at most 8 times.
    assert!(flood_sent > 150_000, "{flood_sent}");
    assert!(
        (120 * 7..=120 * 8).contains(&flood_counted),
        "{flood_counted}"
    );
    // Without floods, counted is sent.
    let d = load("regional-cdn");
    let td = Traffic::generate(&d);
    let wd = d.window(None, None).unwrap();
    let sent: Vec<u64> = td.minutes(wd).map(|c| c.total).collect();
    assert_eq!(td.counted(wd, csv::DEDUPE_WINDOW), sent);
}

// ---- CSV -----------------------------------------------------------------------------------

#[test]
fn minute_csv_feeds_downbeat_detect() {
    let s = load("design-outage");
    let text = minutes_csv(&s, Some("1d".parse().unwrap()), None, false);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("timestamp,value"));
    let first = lines.next().unwrap();
    assert!(first.starts_with("2026-11-24T08:00:00Z,"), "{first}");
    assert_eq!(text.lines().count(), 1 + 8 * 60);
    let mut out = Vec::new();
    let summary = downbeat_detect::backtest::backtest(text.as_bytes(), &mut out, None).unwrap();
    assert_eq!(summary.rows, 8 * 60);
}

#[test]
fn breakdown_columns_add_up_to_the_value() {
    let s = Scenario::parse(SMALL, "small.toml").unwrap();
    let text = minutes_csv(&s, None, None, true);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
            "timestamp",
            "value",
            "expected",
            "normal",
            "outage",
            "flood",
            "counted",
            "problem:login",
            "problem:playback",
            "platform:ios",
            "platform:web",
            "country:GB",
            "country:US"
        ]
    );
    let mut rows = 0;
    for line in lines {
        rows += 1;
        let f: Vec<&str> = line.split(',').collect();
        let n = |i: usize| f[i].parse::<u64>().unwrap();
        assert!(f[0].parse::<jiff::Timestamp>().is_ok(), "{line}");
        let value = n(1);
        assert_eq!(n(3) + n(4) + n(5), value, "{line}");
        assert!(n(6) <= value && n(6) >= n(3), "{line}");
        assert_eq!(n(7) + n(8), value, "{line}");
        assert_eq!(n(9) + n(10), value, "{line}");
        assert_eq!(n(11) + n(12), value, "{line}");
    }
    assert_eq!(rows, 20);
}

#[test]
fn report_csv_has_one_row_per_report_with_quoted_cities() {
    let s = Scenario::parse(SMALL, "small.toml").unwrap();
    let t = Traffic::generate(&s);
    let w = s.window(None, None).unwrap();
    let mut out = Vec::new();
    csv::write_reports(&t, w, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("timestamp,problem,platform,country,city,client,source\n"));
    assert_eq!(text.lines().count() as u64, 1 + t.total(w));
    assert!(
        text.contains(",\"Stoke-on-Trent, \"\"Potteries\"\"\","),
        "city quoted"
    );
    assert!(text.lines().any(|l| l.ends_with(",flood")));
    let times: Vec<jiff::Timestamp> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in sending order");
}

#[test]
fn thirty_days_of_counts_generate_quickly() {
    // Not a benchmark (no timed assertion): prints the figure for the record.
    let s = load("normal-30-days");
    let start = std::time::Instant::now();
    let t = Traffic::generate(&s);
    let mut out = Vec::with_capacity(2 << 20);
    csv::write_minutes(
        &t,
        s.window(None, None).unwrap(),
        csv::Value::Sent,
        false,
        &mut out,
    )
    .unwrap();
    eprintln!(
        "normal-30-days: 43,200 minutes of counts and CSV in {:?}",
        start.elapsed()
    );
}

// ---- sending -------------------------------------------------------------------------------

mod receiver {
    //! A tiny stand-in for the server: records every POST, answers like Downbeat would
    //! (202 counted the first time an address reports, not counted after, 429 past 5 a run).
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use axum::{Json, Router};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    #[derive(Debug, Clone)]
    pub struct Received {
        pub service: String,
        pub forwarded_for: String,
        pub body: serde_json::Value,
    }

    #[derive(Default)]
    pub struct Log {
        pub received: Vec<Received>,
        per_address: HashMap<String, u32>,
        /// Signal batches: the bearer token and the body.
        pub signals: Vec<(String, serde_json::Value)>,
        /// Changes recorded: the bearer token and the body.
        pub changes: Vec<(String, serde_json::Value)>,
    }

    fn bearer(headers: &HeaderMap) -> String {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    async fn signals(
        State(log): State<Shared>,
        headers: HeaderMap,
        Json(body): Json<serde_json::Value>,
    ) -> StatusCode {
        log.lock().unwrap().signals.push((bearer(&headers), body));
        StatusCode::OK
    }

    async fn changes(
        State(log): State<Shared>,
        headers: HeaderMap,
        Json(body): Json<serde_json::Value>,
    ) -> StatusCode {
        log.lock().unwrap().changes.push((bearer(&headers), body));
        StatusCode::CREATED
    }

    pub type Shared = Arc<Mutex<Log>>;

    async fn report(
        State(log): State<Shared>,
        Path(service): Path<String>,
        headers: HeaderMap,
        Json(body): Json<serde_json::Value>,
    ) -> (StatusCode, Json<serde_json::Value>) {
        let forwarded_for = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let mut log = log.lock().unwrap();
        if service != "melodia" {
            return (
                StatusCode::NOT_FOUND,
                Json(serde_json::json!({"error": "no such service"})),
            );
        }
        let n = log.per_address.entry(forwarded_for.clone()).or_default();
        *n += 1;
        let n = *n;
        log.received.push(Received {
            service,
            forwarded_for,
            body,
        });
        if n > 5 {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                Json(serde_json::json!({"error": "slow down"})),
            );
        }
        (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"status": "accepted", "counted": n == 1})),
        )
    }

    /// Serves on 127.0.0.1:0 until the returned sender is dropped or fired.
    pub async fn spawn() -> (String, Shared, tokio::sync::oneshot::Sender<()>) {
        let log = Shared::default();
        let app = Router::new()
            .route("/api/v1/services/{service}/reports", post(report))
            .route("/api/v1/services/{service}/signals", post(signals))
            .route("/api/v1/services/{service}/changes", post(changes))
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        (format!("http://{addr}"), log, tx)
    }
}

fn send_options(base: &str, s: &Scenario, from: u32, until: u32) -> SendOptions {
    let mut o = SendOptions::new(
        base,
        "melodia",
        s.window(Some(Position::Offset(from)), Some(Position::Offset(until)))
            .unwrap(),
    );
    o.speed = Speed::Times(60.0 * 200.0); // a minute in 5 ms
    o.concurrency = 16;
    o.request_timeout = Duration::from_secs(5);
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_posts_every_report_with_its_address_and_body() {
    let (base, log, _stop_server) = receiver::spawn().await;
    let s = Scenario::parse(SMALL, "small.toml").unwrap();
    let t = Traffic::generate(&s);
    let (from, until) = (3, 9); // includes the flood from minute 5
    let opts = send_options(&base, &s, from, until);
    let planned = t.total(opts.window);
    assert!(
        (200..1000).contains(&planned),
        "{planned} reports: keep the test small"
    );
    let mut calls = 0;
    let mut last = None;
    let summary = tokio::time::timeout(
        Duration::from_secs(60),
        send(
            &s,
            &opts,
            |p| {
                calls += 1;
                last = Some(p.clone())
            },
            std::future::pending(),
        ),
    )
    .await
    .expect("bounded")
    .unwrap();

    assert_eq!(summary.planned, planned);
    assert_eq!(summary.sent, planned);
    assert!(!summary.stopped);
    assert_eq!(summary.failed, 0, "{summary}");
    assert_eq!(
        summary.counted + summary.not_counted + summary.rate_limited,
        planned
    );
    assert!(
        summary.not_counted > 0 && summary.rate_limited > 0,
        "the flood repeats addresses: {summary}"
    );
    assert!(calls >= 2);
    let last = last.unwrap();
    assert_eq!(last.sent, planned);
    assert_eq!(last.simulated, s.timestamp_of(until));

    // What arrived is exactly what the generator made, address by address.
    let log = log.lock().unwrap();
    assert_eq!(log.received.len() as u64, planned);
    let mut want: Vec<(String, String, String, String, Option<String>)> = (from..until)
        .flat_map(|m| t.reports(m))
        .map(|r| {
            (
                r.client.to_string(),
                r.problem.to_string(),
                r.platform.to_string(),
                r.country.to_string(),
                r.city.map(|c| c.to_string()),
            )
        })
        .collect();
    let mut got: Vec<_> = log
        .received
        .iter()
        .map(|r| {
            assert_eq!(r.service, "melodia");
            let b = r.body.as_object().unwrap();
            assert!(b.len() == 3 || b.len() == 4, "{b:?}");
            let s = |k: &str| b[k].as_str().unwrap().to_owned();
            (
                r.forwarded_for.clone(),
                s("problem"),
                s("platform"),
                s("country"),
                b.get("city").map(|c| c.as_str().unwrap().to_owned()),
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(
        summary.counted,
        got.iter().map(|g| &g.0).collect::<HashSet<_>>().len() as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_paces_by_the_speed() {
    let (base, log, _stop_server) = receiver::spawn().await;
    let s = Scenario::parse(SMALL, "small.toml").unwrap();
    let mut opts = send_options(&base, &s, 0, 2);
    opts.speed = Speed::Times(600.0); // two minutes in 0.2 s
    let summary = send(&s, &opts, |_| {}, std::future::pending())
        .await
        .unwrap();
    assert_eq!(summary.sent as usize, log.lock().unwrap().received.len());
    // The last report is due late in the second minute: ≥ 60/600 s after the start.
    assert!(
        summary.elapsed >= Duration::from_millis(100),
        "{:?}",
        summary.elapsed
    );
}

#[tokio::test]
async fn send_stops_on_the_stop_signal_with_the_summary_so_far() {
    let (base, log, _stop_server) = receiver::spawn().await;
    let s = Scenario::parse(SMALL, "small.toml").unwrap();
    let mut opts = send_options(&base, &s, 0, 20);
    opts.speed = Speed::Times(1.0); // real time: would take 20 minutes
    let stop = tokio::time::sleep(Duration::from_millis(300));
    let summary = tokio::time::timeout(Duration::from_secs(30), send(&s, &opts, |_| {}, stop))
        .await
        .expect("stops promptly")
        .unwrap();
    assert!(summary.stopped);
    assert!(summary.sent < summary.planned);
    assert_eq!(
        summary.sent as usize,
        log.lock().unwrap().received.len(),
        "in-flight requests finished"
    );
}

#[tokio::test]
async fn send_to_nothing_is_a_clear_error() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = Scenario::parse(SMALL, "small.toml").unwrap();
    let opts = send_options(&format!("http://127.0.0.1:{port}"), &s, 0, 1);
    let e = send(&s, &opts, |_| {}, std::future::pending())
        .await
        .unwrap_err();
    assert!(matches!(e, SendError::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains("cannot reach"), "{e}");

    let mut bad = opts.clone();
    bad.base_url = "https://127.0.0.1:1".into();
    assert!(matches!(
        send(&s, &bad, |_| {}, std::future::pending()).await,
        Err(SendError::BadUrl { .. })
    ));
    let mut bad = opts.clone();
    bad.service = "../admin".into();
    assert!(matches!(
        send(&s, &bad, |_| {}, std::future::pending()).await,
        Err(SendError::BadService(_))
    ));
}

#[tokio::test]
async fn send_to_an_unknown_service_stops_with_a_clear_error() {
    let (base, log, _stop_server) = receiver::spawn().await;
    let s = Scenario::parse(SMALL, "small.toml").unwrap();
    let mut opts = send_options(&base, &s, 0, 20);
    opts.service = "podcastia".into();
    let e = tokio::time::timeout(
        Duration::from_secs(30),
        send(&s, &opts, |_| {}, std::future::pending()),
    )
    .await
    .expect("bounded")
    .unwrap_err();
    match e {
        SendError::UnknownService { summary, .. } => {
            assert!(summary.sent < summary.planned, "stopped early: {summary}");
            assert_eq!(summary.failures.get("HTTP 404"), Some(&summary.failed));
        }
        other => panic!("{other:?}"),
    }
    assert!(log.lock().unwrap().received.is_empty());
}

/// Social chatter follows the listeners: a few posts per everyday report, many per outage
/// report, none for a flood (fake reports); drawn from its own stream, so the reports are
/// the same with or without it; and refused naming the key when out of range.
#[test]
fn social_chatter_rises_with_the_outage_and_changes_no_report() {
    let s = load("design-outage");
    let t = Traffic::generate(&s);
    let onset = s.outage_onsets()[0].1 as u32;
    let posts = |from: u32, to: u32| -> (u64, u64) {
        (from..to).fold((0, 0), |(p, r), m| {
            let (source, n) = t.social(m).expect("the scenario has [social]");
            assert_eq!(source, "social");
            (p + u64::from(n), r + t.minute(m).total)
        })
    };
    let (before, reports_before) = posts(onset - 60, onset - 30);
    let (during, reports_during) = posts(onset + 20, onset + 50);
    let ratio = |p: u64, r: u64| p as f64 / r as f64;
    assert!(
        (ratio(before, reports_before) - 0.2).abs() < 0.1,
        "{before} posts, {reports_before} reports"
    );
    assert!(
        during > 4 * before,
        "{during} posts in the outage, {before} before"
    );
    assert!(
        ratio(during, reports_during) > 1.0,
        "{during} of {reports_during}"
    );

    let without = shipped::text("design-outage")
        .unwrap()
        .replace("[social]", "[ignored]");
    let text = without.replace("[ignored]\nper_report = 0.2\nper_outage_report = 1.5\n", "");
    let plain = Scenario::parse(&text, "design-outage").unwrap();
    let p = Traffic::generate(&plain);
    assert_eq!(p.social(onset), None);
    for m in [onset - 1, onset + 20] {
        assert_eq!(t.reports(m), p.reports(m), "minute {m}");
    }

    let flood = format!("{SMALL}[social]\nper_report = 0\nper_outage_report = 3\n");
    let f = Scenario::parse(&flood, "flood.toml").unwrap();
    let ft = Traffic::generate(&f);
    assert!(
        (0..20).all(|m| ft.social(m) == Some(("social", 0))),
        "a flood makes no chatter"
    );

    for (bad, key) in [
        ("[social]\nper_report = -1\n", "social.per_report"),
        (
            "[social]\nper_outage_report = 1000\n",
            "social.per_outage_report",
        ),
        ("[social]\nsource = \"Social Media\"\n", "social.source"),
        ("[social]\nweight = 1\n", "weight"),
    ] {
        let e = Scenario::parse(&format!("{SMALL}{bad}"), "bad.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{bad}: {e}");
    }
}

/// With a signal token, each minute's chatter goes to `…/signals` as one count, with the
/// token and the given clock's time; without one, none is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_posts_the_minutes_chatter_with_the_signal_token() {
    let s = load("design-outage");
    let onset = s.outage_onsets()[0].1 as u32;
    let (base, log, _stop) = receiver::spawn().await;
    // Quiet minutes before the onset: few reports to send, some chatter still.
    let mut o = send_options(&base, &s, onset - 5, onset - 2);
    let at: jiff::Timestamp = "2026-12-07T08:30:00Z".parse().unwrap();
    o.signals = Some(downbeat_replay::send::SignalSending {
        token: "sig-token".into(),
        clock: std::sync::Arc::new(downbeat_domain::ManualClock::new(at)),
    });
    downbeat_replay::send::send(&s, &o, |_| {}, std::future::pending())
        .await
        .unwrap();
    let t = Traffic::generate(&s);
    let mut counts: Vec<u64> = log
        .lock()
        .unwrap()
        .signals
        .iter()
        .map(|(token, body)| {
            assert_eq!(token, "Bearer sig-token");
            let row = &body["signals"][0];
            assert_eq!(row["source"], "social");
            assert_eq!(row["at"], at.to_string());
            row["count"].as_u64().unwrap()
        })
        .collect();
    counts.sort_unstable();
    let mut expected: Vec<u64> = (onset - 5..onset - 2)
        .map(|m| u64::from(t.social(m).unwrap().1))
        .filter(|&n| n > 0)
        .collect();
    assert!(!expected.is_empty(), "some chatter in those minutes");
    expected.sort_unstable();
    assert_eq!(counts, expected);

    let (base, log, _stop) = receiver::spawn().await;
    let o = send_options(&base, &s, onset + 20, onset + 21);
    downbeat_replay::send::send(&s, &o, |_| {}, std::future::pending())
        .await
        .unwrap();
    assert!(
        log.lock().unwrap().signals.is_empty(),
        "no token, no chatter"
    );
}

/// With a deployer token, the scenario's changes are recorded when the replay reaches their
/// minute (the bad deploy a minute before the onset), with the token and the clock's time;
/// a change outside the window sent is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_records_the_scenarios_changes_with_the_deployer_token() {
    let s = load("design-outage");
    let onset = s.outage_onsets()[0].1 as u32;
    let (base, log, _stop) = receiver::spawn().await;
    let mut o = send_options(&base, &s, onset - 2, onset);
    let at: jiff::Timestamp = "2026-12-07T08:09:00Z".parse().unwrap();
    o.changes = Some(downbeat_replay::send::SignalSending {
        token: "ci-token".into(),
        clock: std::sync::Arc::new(downbeat_domain::ManualClock::new(at)),
    });
    downbeat_replay::send::send(&s, &o, |_| {}, std::future::pending())
        .await
        .unwrap();
    let changes = log.lock().unwrap().changes.clone();
    assert_eq!(
        changes.len(),
        1,
        "the deploy, not the rollback an hour later: {changes:?}"
    );
    let (token, body) = &changes[0];
    assert_eq!(token, "Bearer ci-token");
    assert_eq!(
        body,
        &serde_json::json!({"kind": "deploy", "component": "login", "version": "2.3.0",
            "title": "login-frontend 2.3.0: new TLS configuration", "at": at.to_string()})
    );
}

#[test]
fn a_bad_change_is_named_by_its_key() {
    for (extra, key) in [
        (
            "[[change]]\nat = \"2m\"\nkind = \"hotfix\"\n",
            "change[0].kind",
        ),
        (
            "[[change]]\nat = \"30m\"\nkind = \"deploy\"\n",
            "change[0].at",
        ),
        (
            "[[change]]\nat = \"2m\"\nkind = \"deploy\"\ncolour = 1\n",
            "colour",
        ),
    ] {
        let e = Scenario::parse(&format!("{SMALL}{extra}"), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{extra}: {e}");
    }
}
