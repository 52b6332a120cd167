//! The canary gate: "is anything worse since this change?", for a rollout to ask before it
//! goes on.
//!
//! `GET /api/v1/services/{service}/gate?since=<change id or time>&components=a,b&window=10m`
//! with a deployer (or operator) token answers `{"verdict": "pass" | "fail" |
//! "inconclusive", "reasons": [...], "signals": [...]}` — always 200, so it works unchanged
//! as an Argo Rollouts `web` metric (`successCondition: result == "pass"` on `$.verdict`).
//!
//! The window after the change is compared with the same window before it and with the
//! same time in each of the four weeks before (where the service had data then):
//!
//! - crowd reports, all and per problem kind: Poisson rates ([`rate_increase_p`]);
//! - each monitor's probes per region (of the given components, else the change's, else
//!   all): the failure ratio (Fisher's exact test) against the half hour before, and the
//!   latency of its answers (a rank test; medians and p95 reported);
//! - each external signal source's posts, like reports.
//!
//! A signal fails when it is both significant (p < 0.001: many signals are tested at once)
//! and large enough to matter; a signal with too little volume to tell is inconclusive, and
//! a quiet service answers `inconclusive` rather than guessing. The verdict fails as soon as
//! one signal fails (even before the window is over); it passes only once the window is over
//! with at least one signal that had enough volume to tell.

use super::ApiError;
use super::query::parse_query;
use super::reports::service_of;
use crate::app::App;
use crate::auth::{Principal, Role};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use downbeat_config::ServiceConfig;
use downbeat_detect::compare::{failure_increase_p, quantile, rate_increase_p, shift_up_p};
use downbeat_domain::Span;
use downbeat_domain::probe::Outcome;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Significance each signal must reach to fail the gate.
pub const ALPHA: f64 = 1e-3;
/// A count must rise at least this much over its usual to fail.
const MIN_RATE_RATIO: f64 = 1.5;
/// ... and hold at least this many after the change.
const MIN_COUNT: u64 = 5;
/// Failed probes must be at least this share after the change, and twice the share before.
const MIN_FAILURE_SHARE: f64 = 0.2;
/// Latency must rise by this factor and this many milliseconds at the median.
const MIN_LATENCY_RATIO: f64 = 1.25;
const MIN_LATENCY_RISE_MS: f64 = 20.0;
/// Answers on each side for a latency comparison.
const MIN_LATENCIES: usize = 5;
/// Probes after the change for a failure comparison.
const MIN_PROBES: usize = 3;
/// How far back the probes compared with reach (at least the window).
const PROBES_BEFORE_MS: i64 = 30 * 60_000;
/// Weeks compared at the same time of day.
const WEEKS: i64 = 4;
const WEEK_MS: i64 = 7 * 86_400_000;
/// How long after a change it may be asked about.
const MAX_SINCE: Span = Span::from_secs(7 * 86_400);

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GateQuery {
    /// A recorded change's id, or the time of the change (RFC 3339).
    since: Option<String>,
    /// Component ids whose monitors to compare, comma-separated [default: the change's
    /// component, else every monitor of the service].
    components: Option<String>,
    /// How long after the change to look: 1m to 6h [default 10m].
    window: Option<String>,
}

/// One signal's comparison.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GateSignal {
    /// reports, probe_failures, latency or posts.
    pub signal: &'static str,
    /// What it covers: `all`, a problem kind, `monitor region`, a source.
    pub scope: String,
    /// pass, fail or inconclusive (too little volume to tell).
    pub verdict: &'static str,
    /// Counts: after the change, and what was usual for as long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usual: Option<f64>,
    /// Probes: failed and run, after and before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_before: Option<String>,
    /// Latency: milliseconds at the median and the 95th percentile, before and after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_ms: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<[f64; 2]>,
    /// How likely a difference this large is by chance (one-sided).
    pub p_value: f64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GateAnswer {
    /// pass, fail or inconclusive.
    pub verdict: &'static str,
    pub service: String,
    /// The change's time.
    #[schema(value_type = String)]
    pub since: Timestamp,
    /// The window compared, and whether it is over.
    pub window: String,
    pub complete: bool,
    /// Why, in sentences: every failing signal, or what passed, or what is missing.
    pub reasons: Vec<String>,
    pub signals: Vec<GateSignal>,
}

/// `GET /api/v1/services/{service}/gate`
#[utoipa::path(get, path = "/api/v1/services/{service}/gate", tag = "changes",
    operation_id = "gate",
    params(("service" = String, Path, description = "Service id"), GateQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The verdict (pass, fail or inconclusive), with reasons", body = GateAnswer),
        (status = 400, description = "Bad query"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "A token that may not ask"),
        (status = 404, description = "Unknown service or change"),
        (status = 422, description = "A parameter's value is not acceptable"),
    ))]
pub async fn gate(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Json<GateAnswer>, ApiError> {
    if !who.role.allows(Role::Deployer) {
        who.require(Role::Viewer)?;
    }
    let service = service_of(&app, &path)?;
    let q: GateQuery = parse_query(raw.as_deref())?;
    let now_ms = app.clock.now().as_millisecond();
    let window = super::series::window(
        Some(q.window.as_deref().unwrap_or("10m")),
        Span::from_secs(6 * 3600),
    )?;
    let (since_ms, change_component) = since(&app, &service, q.since.as_deref(), now_ms).await?;
    let components: Vec<String> = match q.components.as_deref() {
        Some(list) => {
            let list: Vec<String> = list
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            if let Some(bad) = list.iter().find(|c| {
                !service
                    .components
                    .iter()
                    .any(|k| k.id.as_str() == c.as_str())
            }) {
                return Err(ApiError::InvalidField {
                    field: "components",
                    message: format!("{bad:?} is not a component of this service"),
                });
            }
            list
        }
        None => change_component.into_iter().collect(),
    };
    let answer = judge(
        &app,
        &service,
        since_ms,
        window.as_millis(),
        &components,
        now_ms,
    )
    .await?;
    Ok(Json(answer))
}

/// The change's time (and component) from `since`: a change id or an RFC 3339 time.
async fn since(
    app: &App,
    service: &ServiceConfig,
    raw: Option<&str>,
    now_ms: i64,
) -> Result<(i64, Option<String>), ApiError> {
    let invalid = |message: String| ApiError::InvalidField {
        field: "since",
        message,
    };
    let raw = raw.ok_or_else(|| invalid("is required: a change id or an RFC 3339 time".into()))?;
    let (at_ms, component) = if let Ok(id) = raw.parse::<i64>() {
        let c = app
            .store
            .service_change(service.id.as_str(), id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no change {id} of this service")))?;
        (c.at_ms, c.component)
    } else {
        let t = raw
            .parse::<Timestamp>()
            .or_else(|_| raw.replace(' ', "+").parse::<Timestamp>())
            .map_err(|_| {
                let shown: String = raw.chars().take(40).collect();
                invalid(format!(
                    "{shown:?} is neither a change id nor an RFC 3339 time"
                ))
            })?;
        (t.as_millisecond(), None)
    };
    if at_ms > now_ms {
        return Err(invalid("is in the future".into()));
    }
    if now_ms - at_ms > MAX_SINCE.as_millis() {
        return Err(invalid(format!("is more than {MAX_SINCE} ago")));
    }
    Ok((at_ms, component))
}

/// The comparison itself.
async fn judge(
    app: &App,
    service: &ServiceConfig,
    since_ms: i64,
    window_ms: i64,
    components: &[String],
    now_ms: i64,
) -> Result<GateAnswer, ApiError> {
    let id = service.id.as_str();
    let elapsed = (now_ms - since_ms).clamp(0, window_ms);
    let complete = elapsed >= window_ms;
    let after = (since_ms, since_ms + elapsed);
    let mut signals = Vec::new();

    // Reports: the window before, and the same window in earlier weeks with any reports
    // around it (a service younger than four weeks compares with what it has).
    let mut baselines = vec![(since_ms - window_ms, since_ms)];
    for k in 1..=WEEKS {
        let from = since_ms - k * WEEK_MS;
        let around = app
            .store
            .network_minutes(id, from - 3_600_000, from + window_ms + 3_600_000)
            .await?;
        if !around.is_empty() {
            baselines.push((from, from + window_ms));
        }
    }
    let per_kind = |rows: &[downbeat_store::NetworkMinute]| {
        let mut by: BTreeMap<String, u64> = BTreeMap::new();
        for r in rows {
            *by.entry(r.problem.clone()).or_default() += r.count;
        }
        by
    };
    let after_rows = app.store.network_minutes(id, after.0, after.1).await?;
    let after_kinds = per_kind(&after_rows);
    let mut before_kinds: BTreeMap<String, u64> = BTreeMap::new();
    for (from, until) in &baselines {
        for (k, n) in per_kind(&app.store.network_minutes(id, *from, *until).await?) {
            *before_kinds.entry(k).or_default() += n;
        }
    }
    let exposure_after = elapsed as f64 / window_ms as f64;
    let windows = baselines.len() as f64;
    let total = |m: &BTreeMap<String, u64>| m.values().sum::<u64>();
    signals.push(rate(
        "reports",
        "all",
        total(&after_kinds),
        exposure_after,
        total(&before_kinds),
        windows,
    ));
    let kinds: std::collections::BTreeSet<&String> =
        after_kinds.keys().chain(before_kinds.keys()).collect();
    for k in kinds {
        let (a, b) = (
            after_kinds.get(k).copied().unwrap_or(0),
            before_kinds.get(k).copied().unwrap_or(0),
        );
        let label = service
            .offers(k)
            .map_or_else(|| k.clone(), |p| p.label.clone());
        signals.push(rate("reports", &label, a, exposure_after, b, windows));
    }

    // Probes: each monitor of the components, per region.
    for m in app.config.get().monitors.iter().filter(|m| {
        m.service == service.id
            && (components.is_empty()
                || m.component
                    .as_ref()
                    .is_some_and(|c| components.iter().any(|x| x == c.as_str())))
    }) {
        let before_from = since_ms - PROBES_BEFORE_MS.max(window_ms);
        let rows = app
            .store
            .probe_results(m.id.as_str(), before_from, 20_000)
            .await?;
        let mut by_region: BTreeMap<&str, (Vec<&downbeat_store::StoredProbeResult>, Vec<_>)> =
            BTreeMap::new();
        for r in rows.iter().filter(|r| r.reliable) {
            let side = by_region.entry(r.region.as_str()).or_default();
            if r.at_ms < since_ms {
                side.0.push(r);
            } else if r.at_ms < after.1 {
                side.1.push(r);
            }
        }
        for (region, (before, after)) in by_region {
            let scope = format!("{} {region}", m.id);
            signals.extend(probes(&scope, &before, &after));
        }
    }

    // External signals, like reports.
    if !service.signals.is_empty() {
        let sum = |rows: Vec<downbeat_store::SignalMinute>| {
            let mut by: BTreeMap<String, u64> = BTreeMap::new();
            for r in rows {
                *by.entry(r.source).or_default() += r.count;
            }
            by
        };
        let a = sum(app.store.signal_minutes(id, after.0, after.1).await?);
        let mut b: BTreeMap<String, u64> = BTreeMap::new();
        for (from, until) in &baselines {
            for (s, n) in sum(app.store.signal_minutes(id, *from, *until).await?) {
                *b.entry(s).or_default() += n;
            }
        }
        for s in &service.signals {
            let src = s.source.as_str();
            signals.push(rate(
                "posts",
                &s.name,
                a.get(src).copied().unwrap_or(0),
                exposure_after,
                b.get(src).copied().unwrap_or(0),
                windows,
            ));
        }
    }

    let (verdict, reasons) = verdict(&signals, complete, elapsed, window_ms);
    Ok(GateAnswer {
        verdict,
        service: id.to_owned(),
        since: Timestamp::from_millisecond(since_ms).unwrap_or(Timestamp::UNIX_EPOCH),
        window: Span::from_secs((window_ms / 1000) as u64).to_string(),
        complete,
        reasons,
        signals,
    })
}

/// A count after the change (over `exposure_after` windows) against `before` over
/// `windows` windows.
fn rate(
    signal: &'static str,
    scope: &str,
    after: u64,
    exposure_after: f64,
    before: u64,
    windows: f64,
) -> GateSignal {
    let usual = before as f64 / windows * exposure_after;
    let p = rate_increase_p(after, exposure_after, before, windows);
    let enough = after >= MIN_COUNT || usual >= MIN_COUNT as f64;
    let verdict = if p < ALPHA && after >= MIN_COUNT && after as f64 >= usual * MIN_RATE_RATIO {
        "fail"
    } else if enough {
        "pass"
    } else {
        "inconclusive"
    };
    GateSignal {
        signal,
        scope: scope.to_owned(),
        verdict,
        after: Some(after),
        usual: Some((usual * 10.0).round() / 10.0),
        failed_after: None,
        failed_before: None,
        median_ms: None,
        p95_ms: None,
        p_value: p,
    }
}

/// A monitor's probes in one region: failures, and latency of the answers.
fn probes(
    scope: &str,
    before: &[&downbeat_store::StoredProbeResult],
    after: &[&downbeat_store::StoredProbeResult],
) -> Vec<GateSignal> {
    let failed = |rs: &[&downbeat_store::StoredProbeResult]| {
        rs.iter().filter(|r| r.outcome != Outcome::Up).count()
    };
    let (fa, fb) = (failed(after), failed(before));
    let p = failure_increase_p(
        fa as u64,
        after.len() as u64,
        fb as u64,
        before.len() as u64,
    );
    let share = |f: usize, n: usize| if n == 0 { 0.0 } else { f as f64 / n as f64 };
    let worse = share(fa, after.len()) >= MIN_FAILURE_SHARE
        && share(fa, after.len()) >= 2.0 * share(fb, before.len());
    let failures = GateSignal {
        signal: "probe_failures",
        scope: scope.to_owned(),
        verdict: if after.len() < MIN_PROBES {
            "inconclusive"
        } else if p < ALPHA && worse {
            "fail"
        } else {
            "pass"
        },
        after: None,
        usual: None,
        failed_after: Some(format!("{fa} of {}", after.len())),
        failed_before: Some(format!("{fb} of {}", before.len())),
        median_ms: None,
        p95_ms: None,
        p_value: p,
    };
    let times = |rs: &[&downbeat_store::StoredProbeResult]| -> Vec<f64> {
        rs.iter()
            .filter(|r| r.outcome == Outcome::Up)
            .filter_map(|r| r.total_ms)
            .collect()
    };
    let (ta, tb) = (times(after), times(before));
    let p = shift_up_p(&ta, &tb);
    let (ma, mb) = (quantile(&ta, 0.5), quantile(&tb, 0.5));
    let slower = match (ma, mb) {
        (Some(a), Some(b)) => a >= b * MIN_LATENCY_RATIO && a - b >= MIN_LATENCY_RISE_MS,
        _ => false,
    };
    let round = |v: Option<f64>| v.map_or(0.0, |v| (v * 10.0).round() / 10.0);
    let latency = GateSignal {
        signal: "latency",
        scope: scope.to_owned(),
        verdict: if ta.len() < MIN_LATENCIES || tb.len() < MIN_LATENCIES {
            "inconclusive"
        } else if p < ALPHA && slower {
            "fail"
        } else {
            "pass"
        },
        after: None,
        usual: None,
        failed_after: None,
        failed_before: None,
        median_ms: Some([round(mb), round(ma)]),
        p95_ms: Some([round(quantile(&tb, 0.95)), round(quantile(&ta, 0.95))]),
        p_value: p,
    };
    vec![failures, latency]
}

/// The gate's verdict and its reasons.
fn verdict(
    signals: &[GateSignal],
    complete: bool,
    elapsed_ms: i64,
    window_ms: i64,
) -> (&'static str, Vec<String>) {
    let failing: Vec<String> = signals
        .iter()
        .filter(|s| s.verdict == "fail")
        .map(|s| format!("{}: {}", words(s), p_words(s.p_value)))
        .collect();
    if !failing.is_empty() {
        return ("fail", failing);
    }
    let told: Vec<&GateSignal> = signals.iter().filter(|s| s.verdict == "pass").collect();
    if !complete {
        return (
            "inconclusive",
            vec![format!(
                "the window is not over: {} of {} minutes since the change, nothing worse so far",
                elapsed_ms / 60_000,
                window_ms / 60_000
            )],
        );
    }
    if told.is_empty() {
        return (
            "inconclusive",
            vec!["too little traffic to tell: no reports, probes or posts in the volume a comparison needs".into()],
        );
    }
    (
        "pass",
        told.iter()
            .map(|s| format!("{}: no worse", words(s)))
            .collect(),
    )
}

/// A signal in a sentence: "reports (Login): 84 against 12 usual (7.0×)".
fn words(s: &GateSignal) -> String {
    match s.signal {
        "probe_failures" => format!(
            "probes of {} failed {} after the change, {} before",
            s.scope,
            s.failed_after.as_deref().unwrap_or("?"),
            s.failed_before.as_deref().unwrap_or("?")
        ),
        "latency" => {
            let [b, a] = s.median_ms.unwrap_or([0.0, 0.0]);
            let [pb, pa] = s.p95_ms.unwrap_or([0.0, 0.0]);
            format!(
                "answers of {} took {a:.0} ms at the median (p95 {pa:.0} ms) after the change, {b:.0} ms (p95 {pb:.0} ms) before",
                s.scope
            )
        }
        _ => {
            let (a, u) = (s.after.unwrap_or(0), s.usual.unwrap_or(0.0));
            let ratio = if u > 0.0 {
                format!(" ({:.1}×)", a as f64 / u)
            } else {
                String::new()
            };
            format!(
                "{} ({}): {a} against {u:.1} usual{ratio}",
                s.signal, s.scope
            )
        }
    }
}

fn p_words(p: f64) -> String {
    if p < 1e-4 {
        "p < 0.0001".into()
    } else {
        format!("p = {p:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_fails_only_when_significant_and_large() {
        // 84 after, 12 a window usual over 5 windows
        assert_eq!(rate("reports", "all", 84, 1.0, 60, 5.0).verdict, "fail");
        // 6 against 1 usual: a 6× rise, but of a few reports — not beyond chance at p < 0.001
        let small = rate("reports", "all", 6, 1.0, 5, 5.0);
        assert!((0.004..0.005).contains(&small.p_value), "{}", small.p_value);
        assert_eq!(small.verdict, "pass");
        // 6 against 0.4 usual is
        let small = rate("reports", "all", 6, 1.0, 2, 5.0);
        assert!(small.p_value < ALPHA, "{}", small.p_value);
        assert_eq!(small.verdict, "fail");
        // no rise
        assert_eq!(rate("reports", "all", 13, 1.0, 60, 5.0).verdict, "pass");
        // a quiet service: nothing to tell
        assert_eq!(
            rate("reports", "all", 1, 1.0, 2, 5.0).verdict,
            "inconclusive"
        );
    }

    #[test]
    fn the_verdict_waits_for_the_window_but_fails_at_once() {
        let pass = rate("reports", "all", 13, 1.0, 60, 5.0);
        let fail = rate("reports", "all", 84, 1.0, 60, 5.0);
        let quiet = rate("reports", "all", 0, 1.0, 0, 5.0);
        assert_eq!(
            verdict(std::slice::from_ref(&pass), true, 600_000, 600_000).0,
            "pass"
        );
        assert_eq!(
            verdict(std::slice::from_ref(&pass), false, 240_000, 600_000).0,
            "inconclusive"
        );
        let (v, reasons) = verdict(&[pass, fail], false, 240_000, 600_000);
        assert_eq!(v, "fail");
        assert!(
            reasons[0].starts_with("reports (all): 84 against 12.0 usual (7.0×): p < 0.0001"),
            "{reasons:?}"
        );
        let (v, reasons) = verdict(&[quiet], true, 600_000, 600_000);
        assert_eq!(v, "inconclusive");
        assert!(reasons[0].starts_with("too little traffic"));
    }
}
