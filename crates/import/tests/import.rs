//! Each importer on real files from the projects' own repositories and documentation (see
//! `data/README.md`), and on files written to reach the rest: the config is accepted by
//! Downbeat's loader, what was not carried over is listed exactly, and fields map as a
//! user would expect. Bad input is refused naming the file and what was expected.

use std::path::{Path, PathBuf};

use downbeat_domain::incident::{Impact, Status};
use downbeat_import::{ImportError, Imported, Kind, MaintenanceWindow, import};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// Imports, checks the printed config with Downbeat's loader, and returns it with the config
/// as Downbeat reads it.
fn imported(kind: Kind, rel: &str) -> (Imported, downbeat_config::Config) {
    let i = import(kind, &data(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let text = i.render();
    let config =
        downbeat_config::parse_str(&text, rel).unwrap_or_else(|e| panic!("{rel}: {e}\n{text}"));
    (i, config)
}

fn skipped(i: &Imported) -> Vec<String> {
    i.skipped.iter().map(ToString::to_string).collect()
}

fn monitor<'a>(i: &'a Imported, id: &str) -> &'a toml::Table {
    i.config["monitor"]
        .as_array()
        .expect("monitors")
        .iter()
        .filter_map(toml::Value::as_table)
        .find(|m| m["id"].as_str() == Some(id))
        .unwrap_or_else(|| panic!("no monitor {id}"))
}

fn ids(c: &downbeat_config::Config) -> Vec<&str> {
    c.monitors.iter().map(|m| m.id.as_str()).collect()
}

#[test]
fn uptime_kuma_backup_from_a_real_importer_test() {
    let (i, c) = imported(
        Kind::UptimeKuma,
        "uptime-kuma/uptime-mon-importer-test.json",
    );
    assert_eq!(
        skipped(&i),
        [
            r#"monitorList[2] "kw".ignoreTls: not carried over: Downbeat always verifies certificates (trust a private CA with ca_pem)"#,
            r#"monitorList[2] "kw".invertKeyword: not carried over: Downbeat checks that the body contains a text, not that it lacks one"#,
            r#"monitorList[2] "kw".active: paused in Uptime Kuma: not carried over, the monitor runs in Downbeat"#,
            r#"monitorList[2] "kw".upsideDown: not carried over: Downbeat has no upside-down monitors"#,
            r#"monitorList[5] "basic".authMethod: not carried over: add the credentials as an Authorization header"#,
        ]
    );
    assert_eq!(
        ids(&c),
        [
            "ping-site",
            "https-a-example",
            "kw",
            "db",
            "a-dns-monitor",
            "basic"
        ]
    );
    assert_eq!(monitor(&i, "ping-site")["kind"].as_str(), Some("ping"));
    let a = monitor(&i, "https-a-example");
    assert_eq!(a["headers"]["Cookie"].as_str(), Some("session=abc123"));
    assert_eq!(a["expect_status"].as_str(), Some("200-299"));
    assert_eq!(a["timeout"].as_str(), Some("48s"));
    let kw = monitor(&i, "kw");
    assert_eq!(kw["expect_status"].as_str(), Some("200-299,404"));
    assert_eq!(kw["interval"].as_str(), Some("20s"));
    assert!(
        kw.get("body_contains").is_none(),
        "an inverted keyword is not a body check"
    );
    let db = c.monitors.iter().find(|m| m.id.as_str() == "db").unwrap();
    assert_eq!(db.probe.target(), "db.internal:5432");
    assert_eq!(db.probe.timeout().as_millis(), 800);
    assert_eq!(i.config["service"][0]["id"].as_str(), Some("uptime-kuma"));
    assert!(i.history.is_empty());
}

#[test]
fn an_empty_uptime_kuma_backup_imports_to_an_empty_config() {
    let (i, c) = imported(
        Kind::UptimeKuma,
        "uptime-kuma/uptime-kuma-api-upload-backup.json",
    );
    assert!(i.config.is_empty() && c.services.is_empty());
    assert!(i.skipped.is_empty() && i.history.is_empty());
}

#[test]
fn uptime_kuma_notifications_status_pages_groups_and_maintenance() {
    let (i, c) = imported(
        Kind::UptimeKuma,
        "uptime-kuma/written-notifications-pages.json",
    );
    assert_eq!(
        skipped(&i),
        [
            r#"monitorList[2] "API health" (type "push"): not carried over: Downbeat has no push (heartbeat) monitor yet"#,
            r#"monitorList[3] "Website".maxredirects: 20 is more than Downbeat follows: set to 10"#,
            r#"monitorList[3] "Website".interval: 3s is outside Downbeat's 5s to 1d: set to 5s"#,
            r#"monitorList[3] "Website".timeout: 48s is longer than Downbeat allows here (at most the interval and 2m): set to 5s"#,
            r#"monitorList[4] "Login".body: not carried over: Downbeat's http probe sends no request body"#,
            r#"monitorList[5] "Docker" (type "docker"): not carried over: Downbeat has no docker monitor"#,
            r#"notificationList[3] "Tg" (type "telegram"): not carried over: Downbeat has no telegram channel"#,
            r#"notificationList[4] "Hook" (type "webhook"): its receiver gets Downbeat's signed JSON, not the source's payload: give it the new secret"#,
            r#"maintenanceList[1] "Weekly reboot": not carried over: a recurring-weekday maintenance; Downbeat takes windows with a start and an end"#,
        ]
    );
    // The status page is a service with its group as component; the rest goes to Uptime Kuma.
    let shop = c
        .services
        .iter()
        .find(|s| s.id.as_str() == "shop-status")
        .expect("shop");
    assert_eq!(shop.name, "Shop Status");
    assert_eq!(shop.components[0].id.as_str(), "storefront");
    let kuma = c
        .services
        .iter()
        .find(|s| s.id.as_str() == "uptime-kuma")
        .expect("kuma");
    assert_eq!(kuma.components[0].id.as_str(), "backend");
    let api = monitor(&i, "api-health");
    assert_eq!(api["component"].as_str(), Some("backend"));
    assert_eq!(api["json_pointer"].as_str(), Some("/status"));
    assert_eq!(api["json_equals"].as_str(), Some("ok"));
    let site = monitor(&i, "website");
    assert_eq!(site["service"].as_str(), Some("shop-status"));
    assert_eq!(site["body_contains"].as_str(), Some("Welcome"));
    let login = monitor(&i, "login");
    assert_eq!(login["method"].as_str(), Some("POST"));
    assert_eq!(login["headers"]["X-Probe"].as_str(), Some("1"));
    // Destinations: chat, mail through the backup's relay, ntfy with its token, signed JSON.
    let n = &c.notify;
    let smtp = n.smtp.as_ref().expect("relay");
    assert_eq!((smtp.host.as_str(), smtp.port), ("smtp.example.com", 465));
    assert_eq!(smtp.tls, downbeat_config::notify::SmtpTls::Implicit);
    let kinds: Vec<(&str, &str)> = n
        .destinations
        .iter()
        .map(|d| (d.id.as_str(), d.kind()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("ops-slack", "webhook"),
            ("phone", "webhook"),
            ("hook", "webhook"),
            ("mail", "email")
        ]
    );
    match &n.destination("phone").unwrap().channel {
        downbeat_config::notify::Channel::Http { url, token, .. } => {
            assert_eq!(url, "https://ntfy.example.com/alerts");
            assert_eq!(token.as_ref().map(|t| t.expose()), Some("tk_abc"));
        }
        other => panic!("{other:?}"),
    }
    match &n.destination("mail").unwrap().channel {
        downbeat_config::notify::Channel::Email { to } => {
            assert_eq!(to, &["ops@example.com", "dev@example.com"])
        }
        other => panic!("{other:?}"),
    }
    // History: the pinned incident and the single maintenance window, in Berlin time.
    assert_eq!(i.history.incidents.len(), 1);
    let inc = &i.history.incidents[0];
    assert_eq!(
        (inc.title.as_str(), inc.impact),
        ("Checkout slow", Impact::Minor)
    );
    assert_eq!(inc.service, "shop-status");
    let m = &i.history.maintenance[0];
    assert_eq!(
        m.window,
        MaintenanceWindow::Once {
            starts_at: "2024-04-01T20:00:00Z".parse().unwrap(),
            ends_at: Some("2024-04-01T21:30:00Z".parse().unwrap()),
        }
    );
    assert!(i.render().contains(
        "# 1 incident with 1 update and 1 maintenance window: add --apply to write them into the store"
    ));
}

#[test]
fn gatus_main_config_of_the_gatus_repository() {
    let (i, c) = imported(Kind::Gatus, "gatus/config.yaml");
    assert_eq!(
        skipped(&i),
        [
            r#"endpoints[6].conditions[0] "[DOMAIN_EXPIRATION] > 720h": not carried over: a kind = "domain" monitor checks domain expiry, but needs the registry's rdap_url (add it by hand)"#,
            r#"endpoints[7] "price-aggregation-service": not carried over: Gatus's grpc client settings have no equivalent; a kind = "grpc" monitor checks grpc.health.v1 (add it by hand)"#,
        ]
    );
    assert_eq!(
        ids(&c),
        [
            "front-end",
            "back-end",
            "monitoring",
            "nas",
            "example-dns-query",
            "icmp-ping",
            "check-domain-expiration"
        ]
    );
    assert_eq!(monitor(&i, "icmp-ping")["kind"].as_str(), Some("ping"));
    let groups: Vec<&str> = c.services[0]
        .components
        .iter()
        .map(|x| x.id.as_str())
        .collect();
    assert_eq!(groups, ["core", "internal"]);
    let front = monitor(&i, "front-end");
    assert_eq!(front["expect_status"].as_str(), Some("200"));
    assert_eq!(front["json_pointer"].as_str(), Some("/status"));
    assert_eq!(front["json_equals"].as_str(), Some("UP"));
    assert_eq!(front["max_latency_ms"].as_integer(), Some(150));
    assert_eq!(front["interval"].as_str(), Some("5m"));
    assert_eq!(
        monitor(&i, "back-end")["expiry_warn_days"].as_integer(),
        Some(2)
    );
    let dns = monitor(&i, "example-dns-query");
    assert_eq!(dns["target"].as_str(), Some("example.com"));
    assert_eq!(dns["resolver"].as_str(), Some("8.8.8.8"));
    assert_eq!(dns["expect_answers"][0].as_str(), Some("93.184.216.34"));
}

#[test]
fn gatus_examples_alerting_tcp_and_mattermost() {
    let (i, c) = imported(Kind::Gatus, "gatus/examples-alerting.yaml");
    assert!(i.skipped.is_empty(), "{:?}", skipped(&i));
    let formats: Vec<(&str, &str)> = c
        .notify
        .destinations
        .iter()
        .map(|d| match &d.channel {
            downbeat_config::notify::Channel::Http { format, .. } => {
                (d.id.as_str(), format.as_str())
            }
            _ => (d.id.as_str(), "email"),
        })
        .collect();
    assert_eq!(formats, [("discord", "discord"), ("slack", "slack")]);
    assert!(c.notify.destinations[0].wants("monitor.down", "gatus", &[] as &[&str]));
    assert!(!c.notify.destinations[0].wants("incident.created", "gatus", &[] as &[&str]));

    let (i, c) = imported(Kind::Gatus, "gatus/examples-tcp.yaml");
    assert!(i.skipped.is_empty());
    assert_eq!(ids(&c), ["redis", "postgres"]);
    assert_eq!(c.monitors[0].probe.target(), "127.0.0.1:6379");
    assert_eq!(c.monitors[0].interval.as_secs(), 30);

    let (i, _) = imported(Kind::Gatus, "gatus/examples-mattermost.yaml");
    assert_eq!(
        skipped(&i),
        ["alerting.mattermost.insecure: not carried over: Downbeat always verifies certificates"]
    );
}

#[test]
fn gatus_readme_email_alerts_become_a_relay_and_a_mail_destination() {
    let (i, c) = imported(Kind::Gatus, "gatus/readme-email.yaml");
    assert_eq!(
        skipped(&i),
        [
            "alerting.email.overrides: not carried over: Downbeat has no per-group overrides of a destination"
        ]
    );
    let smtp = c.notify.smtp.as_ref().expect("relay");
    assert_eq!((smtp.host.as_str(), smtp.port), ("mail.example.com", 587));
    assert_eq!(smtp.username.as_deref(), Some("from@example.com"));
    match &c.notify.destination("email").unwrap().channel {
        downbeat_config::notify::Channel::Email { to } => {
            assert_eq!(to, &["recipient1@example.com", "recipient2@example.com"])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn gatus_readme_ntfy_maintenance_and_announcements() {
    let (i, c) = imported(
        Kind::Gatus,
        "gatus/readme-ntfy-maintenance-announcements.yaml",
    );
    assert_eq!(
        skipped(&i),
        [
            "announcements[2] (information): not carried over: Downbeat has incidents, not announcements"
        ]
    );
    match &c.notify.destination("ntfy").unwrap().channel {
        downbeat_config::notify::Channel::Http { url, token, .. } => {
            assert_eq!(url, "https://ntfy.sh/gatus-test-topic");
            assert_eq!(token.as_ref().map(|t| t.expose()), Some("faketoken"));
        }
        other => panic!("{other:?}"),
    }
    let h = &i.history;
    let got: Vec<(Impact, Status)> = h.incidents.iter().map(|x| (x.impact, x.status)).collect();
    assert_eq!(
        got,
        [
            (Impact::Major, Status::Investigating),
            (Impact::None, Status::Resolved),
            (Impact::Minor, Status::Resolved),
        ]
    );
    assert_eq!(
        h.maintenance[0].window,
        MaintenanceWindow::Recurring {
            start: "23:00".into(),
            duration: "1h".into(),
            timezone: "UTC".into(),
            days: vec!["Monday".into(), "Thursday".into()],
        }
    );
}

#[test]
fn statuspage_summary_of_github() {
    let (i, c) = imported(Kind::Statuspage, "statuspage/github");
    assert!(i.skipped.is_empty(), "{:?}", skipped(&i));
    let svc = &c.services[0];
    assert_eq!((svc.id.as_str(), svc.name.as_str()), ("github", "GitHub"));
    assert_eq!(svc.components.len(), 11);
    assert_eq!(svc.components[0].id.as_str(), "git-operations");
    assert_eq!(
        svc.components[3].id.as_str(),
        "visit-www-githubstatus-com-for-more-information"
    );
    let inc = &i.history.incidents[0];
    assert_eq!(inc.title, "Incident with Packages and Pages");
    assert_eq!(
        (inc.impact, inc.status),
        (Impact::Major, Status::Investigating)
    );
    assert_eq!(inc.components, ["packages", "pages"]);
    assert_eq!(inc.updates.len(), 7);
    assert_eq!(
        inc.updates[0].body, "We are investigating reports of degraded performance for Packages.",
        "oldest first"
    );
    assert!(
        i.render()
            .contains("# 1 incident with 7 updates and 0 maintenance windows")
    );
}

#[test]
fn statuspage_groups_incidents_and_maintenance_files() {
    let (i, c) = imported(Kind::Statuspage, "statuspage/written-groups");
    assert_eq!(
        skipped(&i),
        [
            r#"components.json components[0] "Europe" (group): Downbeat has no component groups: its 2 components are carried over on their own"#,
            r#"scheduled-maintenances.json scheduled_maintenances[1] "Undated": not carried over: it has no scheduled_for"#,
        ]
    );
    let comps: Vec<&str> = c.services[0]
        .components
        .iter()
        .map(|x| x.id.as_str())
        .collect();
    assert_eq!(comps, ["api", "dashboard", "api-2"], "names clash: -2");
    let inc = &i.history.incidents[0];
    assert_eq!(
        (inc.status, inc.components.clone()),
        (Status::Resolved, vec!["api".to_owned()])
    );
    assert_eq!(inc.updates[1].body, "Fixed.");
    let m = &i.history.maintenance[0];
    assert_eq!(m.components, ["dashboard"]);
    assert!(matches!(
        m.window,
        MaintenanceWindow::Once {
            ends_at: Some(_),
            ..
        }
    ));
}

#[test]
fn the_wrong_kind_of_file_is_refused_naming_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let cases: Vec<(Kind, PathBuf, &[&str])> = vec![
        (
            Kind::UptimeKuma,
            data("gatus/examples-tcp.yaml"),
            &["examples-tcp.yaml is not an Uptime Kuma backup: it is not a JSON object"],
        ),
        (
            Kind::UptimeKuma,
            write(
                "BACKUP.json",
                r#"{"version": "1.23.0", "notificationList": []}"#,
            ),
            &[
                "BACKUP.json is not an Uptime Kuma backup: no monitorList",
                "version 1.x",
            ],
        ),
        (
            Kind::UptimeKuma,
            write("v2.json", r#"{"version": "2.0.0", "monitorList": []}"#),
            &["v2.json", "version \"2.0.0\"", "version 1.x"],
        ),
        (
            Kind::UptimeKuma,
            write("cut.json", "{\"monitorList\": [\n{\"id\": 1,\n"),
            &["cut.json line 3", "Syntax"],
        ),
        (
            Kind::UptimeKuma,
            write("list.json", r#"{"monitorList": {"a": 1}}"#),
            &["list.json", "monitorList", "must be a list"],
        ),
        (
            Kind::Gatus,
            data("uptime-kuma/uptime-mon-importer-test.json"),
            &["uptime-mon-importer-test.json is not a Gatus config: no endpoints"],
        ),
        (
            Kind::Gatus,
            write("broken.yaml", "endpoints:\n  - name: a\n   url: x\n"),
            &["broken.yaml line 3"],
        ),
        (
            Kind::Statuspage,
            dir.path().to_owned(),
            &["is not a Statuspage export: none of summary.json, components.json"],
        ),
        (
            Kind::Statuspage,
            data("gatus/config.yaml"),
            &["config.yaml is not a Statuspage export: not a directory"],
        ),
        (
            Kind::Gatus,
            dir.path().join("missing.yaml"),
            &["cannot read", "missing.yaml"],
        ),
    ];
    for (kind, path, words) in cases {
        let err = match import(kind, &path) {
            Ok(_) => panic!("{} imported as {kind}", path.display()),
            Err(e) => e,
        };
        let text = format!(
            "{err}{}",
            if matches!(err, ImportError::Syntax { .. }) {
                " Syntax"
            } else {
                ""
            }
        );
        for w in words {
            assert!(
                text.contains(w),
                "{kind} {}: {text:?} lacks {w:?}",
                path.display()
            );
        }
    }
    // A Statuspage directory with only incidents has no components to build on.
    let only = tempfile::tempdir().unwrap();
    std::fs::copy(
        data("statuspage/written-groups/incidents.json"),
        only.path().join("incidents.json"),
    )
    .unwrap();
    let err = import(Kind::Statuspage, only.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("neither summary.json nor components.json"),
        "{err}"
    );
}
