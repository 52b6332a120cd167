//! A real Alertmanager in front of Downbeat (issue 18, item 4): alerts posted to its API v2
//! are grouped by it and routed to `POST /api/v1/integrations/alertmanager` by its own
//! webhook receiver, with the integration token in `http_config.authorization`. Two alerts
//! of one group draft one incident; the group's repeats change nothing; the alerts posted
//! again with `endsAt` in the past move the component back and leave the incident
//! recovered, awaiting an operator.
//!
//! The binary comes from Debian's `prometheus-alertmanager` package (.ci/run installs it).
//! Without it the test is skipped with a loud message — except under CI (`CI` set), where
//! that is a failure.

use crate::helpers::*;
use crate::integrations::{self, PRIVATE, incidents, public_text};
use crate::peers::{Daemon, tool};
use downbeat_api::auth::Role;
use downbeat_store::testing;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// An Alertmanager on a loopback port, with its own config and storage in a temp dir and
/// no clustering, routing every alert to Downbeat at `target`.
struct Alertmanager {
    daemon: Daemon,
    http: reqwest::Client,
}

impl Alertmanager {
    /// Groups by alert name, notifies a second after a group's first alert and every
    /// second after a change, and repeats an unchanged group every 2 s.
    async fn start(bin: &Path, target: SocketAddr, token: &str) -> Alertmanager {
        let config = format!(
            "route:\n  receiver: downbeat\n  group_by: ['alertname']\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 2s\n\
             receivers:\n  - name: downbeat\n    webhook_configs:\n      - url: http://{target}/api/v1/integrations/alertmanager\n        send_resolved: true\n        http_config:\n          authorization:\n            credentials: {token}\n"
        );
        // No clustering: one Alertmanager of the test's own.
        let daemon = Daemon::start(
            "alertmanager",
            bin,
            &config,
            "--storage.path",
            &["--cluster.listen-address="],
        )
        .await;
        Alertmanager {
            daemon,
            http: reqwest::Client::new(),
        }
    }

    /// `POST /api/v2/alerts`, as Prometheus (or any client) sends alerts.
    async fn post_alerts(&self, alerts: &Value) {
        let r = self
            .http
            .post(format!("{}/api/v2/alerts", self.daemon.url))
            .json(alerts)
            .send()
            .await
            .expect("alertmanager answers");
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }

    /// A counter of its own metrics for the webhook integration.
    async fn webhook_counter(&self, name: &str) -> u64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.daemon.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let prefix = format!("{name}{{integration=\"webhook\"");
        text.lines()
            .filter(|l| l.starts_with(&prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    async fn notifications(&self) -> u64 {
        self.webhook_counter("alertmanager_notifications_total")
            .await
    }
}

/// The two alerts of group LoginErrors, as Prometheus would post them: firing, or with
/// `ends` (in the past: resolved).
fn login_errors(starts: &str, ends: Option<&str>) -> Value {
    let alert = |instance: &str| {
        let mut a = json!({
            "labels": {"alertname": "LoginErrors", "instance": instance, "severity": "critical", "team": "auth"},
            "annotations": {
                "summary": format!("LoginErrors: 12% of sign-ins fail on {instance}"),
                "description": "db-7.internal answers slowly; see https://grafana.internal/d/auth",
                "runbook_url": "https://runbooks.internal/login-errors",
            },
            "startsAt": starts,
            "generatorURL": "http://prometheus.internal:9090/graph?g0.expr=login_errors",
        });
        if let Some(e) = ends {
            a["endsAt"] = json!(e);
        }
        a
    };
    json!([alert("auth-1"), alert("auth-2")])
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[tokio::test]
async fn a_real_alertmanager_groups_repeats_and_resolves_into_one_incident() {
    let Some((bin, version)) = tool(
        &["prometheus-alertmanager", "alertmanager"],
        "a real Alertmanager",
        "prometheus-alertmanager",
    ) else {
        return;
    };
    let app = integrations::spawn(testing::sqlite(), "").await;
    let token = integrations::token(&app, "alertmanager", Role::Integration).await;
    let am = Alertmanager::start(&bin, app.addr, &token).await;

    // Two alerts of one group, posted together: one notification, one draft.
    let starts = jiff::Timestamp::now().to_string();
    let posted = Instant::now();
    am.post_alerts(&login_errors(&starts, None)).await;
    until(
        "Alertmanager's first notification drafted an incident",
        || async { !incidents(&app).await.is_empty() },
    )
    .await;
    let drafted_after = posted.elapsed();
    let all = incidents(&app).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let draft = all[0].clone();
    let id = draft["id"].as_i64().unwrap();
    assert_eq!(
        draft["title"],
        "Melodia: major outage of Login and accounts"
    );
    assert_eq!(draft["source"], "integration");
    assert_eq!(draft["draft"], true);
    assert_eq!(draft["components"], json!({"login": "major_outage"}));
    let ev = &draft["evidence"]["alertmanager"];
    assert_eq!(ev["group_key"], "{}:{alertname=\"LoginErrors\"}", "{ev}");
    let instances: Vec<&str> = ev["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["labels"]["instance"].as_str().unwrap())
        .collect();
    assert_eq!(
        instances,
        ["auth-1", "auth-2"],
        "both alerts of the group: {ev}"
    );
    assert_eq!(
        ev["alerts"][0]["annotations"]["description"],
        "db-7.internal answers slowly; see https://grafana.internal/d/auth"
    );
    let public = public_text(&app).await;
    for word in PRIVATE {
        assert!(!public.contains(word), "{word:?} reached a public page");
    }

    // Alertmanager repeats the unchanged group (repeat_interval): nothing is written.
    let sent = am.notifications().await;
    let repeating = Instant::now();
    until("Alertmanager notified the group twice more", || async {
        am.notifications().await >= sent + 2
    })
    .await;
    let repeats = am.notifications().await - sent;
    let repeated_for = repeating.elapsed();
    let all = incidents(&app).await;
    assert_eq!(all.len(), 1, "a repeat drafts nothing: {all:?}");
    assert_eq!(
        all[0]["version"], draft["version"],
        "a repeat changes nothing"
    );
    assert_eq!(all[0]["updated_at"], draft["updated_at"]);

    // The alerts posted again, ended a second ago: Alertmanager sends them resolved.
    let ended = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1)).to_string();
    let resolving = Instant::now();
    am.post_alerts(&login_errors(&starts, Some(&ended))).await;
    until("the resolved notification moved login back", || async {
        incidents(&app).await[0]["recovered_at"].is_string()
    })
    .await;
    let resolved_after = resolving.elapsed();
    let all = incidents(&app).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let now = &all[0];
    assert_eq!(now["id"], id);
    assert_eq!(now["components"], json!({"login": "operational"}));
    assert_eq!(now["status"], "investigating", "it awaits an operator");
    assert!(
        now["evidence"]["diagnosis"]
            .as_str()
            .unwrap()
            .starts_with("Alertmanager: the group's alerts resolved"),
        "{now}"
    );
    let failed = am
        .webhook_counter("alertmanager_notifications_failed_total")
        .await;
    assert_eq!(failed, 0, "Downbeat took every notification");
    let total = am.notifications().await;

    eprintln!(
        "{version}: 2 alerts of group LoginErrors → 1 draft, incident {id} \"{}\" (login major_outage, evidence: both alerts' annotations), {} after they were posted",
        draft["title"].as_str().unwrap(),
        seconds(drafted_after)
    );
    eprintln!(
        "{repeats} repeats of the unchanged group in {}: incident {id} unchanged (version {}), no new draft",
        seconds(repeated_for),
        draft["version"]
    );
    eprintln!(
        "alerts posted again with endsAt in the past → login operational, incident {id} recovered at {} and awaiting an operator, {} later; {total} notifications, {failed} failed",
        now["recovered_at"].as_str().unwrap(),
        seconds(resolved_after)
    );
    drop(am);
    app.stop().await;
}
