//! From signals to incidents: when the trouble began and was detected (for time to detect),
//! the evidence behind a draft, and the job that drafts incidents and marks them for
//! resolution when the signals recover.

use super::model::*;
use super::ops;
use crate::Incidents;
use downbeat_config::ServiceConfig;
use downbeat_domain::probe::{Cause, Outcome};
use downbeat_domain::{ComponentState, Verdict};
use downbeat_store::{Fence, IncidentFilter, MINUTE_MS, StoreError};
use jiff::Timestamp;
use serde_json::json;

/// How far back an episode's signals are looked for.
const LOOKBACK_MS: i64 = 24 * 3_600_000;
/// How far back from detection the onset is looked for.
const ONSET_LOOKBACK_MS: i64 = 60 * MINUTE_MS;
/// The lease that makes one node draft incidents.
const LEASE: &str = "incidents";
const LEASE_TTL_MS: i64 = 30_000;

/// The current trouble of a service as the recorded signals tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Episode {
    /// The first abnormal minute (crowd) or failing probe, when it can be told.
    pub onset_ms: Option<i64>,
    /// The first *possible problems* verdict or quorum probe failure.
    pub detected_ms: i64,
}

/// The service's current episode: the crowd's (since its last calm verdict) and the open
/// monitors', whichever began first. None when all is calm.
pub async fn episode(
    incidents: &Incidents,
    service: &ServiceConfig,
    now_ms: i64,
) -> Result<Option<Episode>, StoreError> {
    let mut found: Vec<Episode> = Vec::new();
    found.extend(crowd_episode(incidents, service, now_ms).await?);
    found.extend(probe_episode(incidents, service, now_ms).await?);
    let Some(detected_ms) = found.iter().map(|e| e.detected_ms).min() else {
        return Ok(None);
    };
    Ok(Some(Episode {
        onset_ms: found.iter().filter_map(|e| e.onset_ms).min(),
        detected_ms,
    }))
}

/// The crowd's episode: the verdict changes of the whole service since its last return to
/// "no problems". The onset is the start of the run of minutes above the usual band that
/// ends at detection.
async fn crowd_episode(
    incidents: &Incidents,
    service: &ServiceConfig,
    now_ms: i64,
) -> Result<Option<Episode>, StoreError> {
    let events = incidents
        .detection
        .verdict_events(service.id.as_str(), now_ms - LOOKBACK_MS, 1000)
        .await?;
    // Newest first: the episode is every change before the newest calm one.
    let episode: Vec<_> = events
        .iter()
        .filter(|e| e.series == "all")
        .take_while(|e| e.verdict != Verdict::NoProblems)
        .collect();
    let Some(first) = episode.last() else {
        return Ok(None);
    };
    let upper = first
        .evidence
        .get("upper")
        .and_then(serde_json::Value::as_f64);
    let mut onset = None;
    if let Some(upper) = upper {
        let counts = incidents
            .reports
            .report_counts(
                service.id.as_str(),
                first.at_ms - ONSET_LOOKBACK_MS,
                first.at_ms + MINUTE_MS,
                MINUTE_MS,
            )
            .await?;
        let mut minute = first.at_ms;
        loop {
            let count = counts
                .iter()
                .find(|b| b.start_ms == minute)
                .map_or(0, |b| b.count);
            if (count as f64) <= upper || minute < first.at_ms - ONSET_LOOKBACK_MS {
                break;
            }
            onset = Some(minute);
            minute -= MINUTE_MS;
        }
    }
    Ok(Some(Episode {
        onset_ms: onset.or(Some(first.at_ms)),
        detected_ms: first.at_ms,
    }))
}

/// The open monitors' episode: detection when the first opened (quorum and hysteresis),
/// onset at the first failing result of the run that led there.
async fn probe_episode(
    incidents: &Incidents,
    service: &ServiceConfig,
    _now_ms: i64,
) -> Result<Option<Episode>, StoreError> {
    let mut best: Option<Episode> = None;
    for m in &incidents.config.get().monitors {
        if m.service != service.id {
            continue;
        }
        let (down, since_ms, _) = incidents.monitors.state(m.id.as_str());
        let (true, Some(detected_ms)) = (down, since_ms) else {
            continue;
        };
        let results = incidents
            .probes
            .probe_results(m.id.as_str(), detected_ms - ONSET_LOOKBACK_MS, 10_000)
            .await?;
        let onset = results
            .iter()
            .rev()
            .filter(|r| r.at_ms <= detected_ms && r.reliable)
            .take_while(|r| r.outcome == Outcome::Down)
            .last()
            .map(|r| r.at_ms);
        let e = Episode {
            onset_ms: onset.or(Some(detected_ms)),
            detected_ms,
        };
        if best.is_none_or(|b| e.detected_ms < b.detected_ms) {
            best = Some(e);
        }
    }
    Ok(best)
}

/// What a draft is based on: the crowd picture, the open monitors per region, the
/// operators' diagnosis. Operators only (the admin area, the API with a token): it names
/// targets, addresses and raw errors, so `Incident::public` drops it.
pub fn evidence(incidents: &Incidents, service: &ServiceConfig, now_ms: i64) -> serde_json::Value {
    let crowd = incidents.crowd.status(service);
    let monitors: Vec<serde_json::Value> = incidents
        .config
        .get()
        .monitors
        .iter()
        .filter(|m| m.service == service.id)
        .map(|m| {
            let (down, since_ms, cause) = incidents.monitors.state(m.id.as_str());
            let regions: serde_json::Map<String, serde_json::Value> = incidents
                .monitors
                .latest(m.id.as_str())
                .into_iter()
                .map(|(region, r)| {
                    (
                        region.to_string(),
                        json!({
                            "at": r.at, "outcome": r.result.outcome.as_str(),
                            "cause": r.result.cause.map(|c| c.as_str()),
                            "reliable": r.reliable, "explanation": r.explanation,
                        }),
                    )
                })
                .collect();
            json!({
                "monitor": m.id.as_str(),
                "component": m.component.as_ref().map(|c| c.as_str()),
                "state": if down { "down" } else { "up" },
                "since": since_ms.and_then(|ms| Timestamp::from_millisecond(ms).ok()),
                "probable_cause": cause,
                "regions": regions,
            })
        })
        .collect();
    json!({
        "at": Timestamp::from_millisecond(now_ms).ok(),
        "crowd": &*crowd,
        "monitors": monitors,
        "diagnosis": downbeat_monitors::diagnose(&incidents.monitors, service.id.as_str(), now_ms),
    })
}

/// Adds to a draft's evidence the service's changes before the onset and, when one of them
/// most likely began it ([`crate::changes::suspect`]), names it first in the diagnosis.
async fn with_changes(
    incidents: &Incidents,
    service: &ServiceConfig,
    crowd_bad: bool,
    failing: &[(String, Option<String>, Option<Cause>)],
    onset_ms: i64,
    region: Option<&str>,
    evidence: &mut serde_json::Value,
) -> Result<(), StoreError> {
    let id = service.id.as_str();
    let recent = incidents
        .changes
        .service_changes(
            id,
            onset_ms - crate::changes::SUSPECT_WINDOW_MS,
            onset_ms + 120_001,
            20,
        )
        .await?;
    if recent.is_empty() {
        return Ok(());
    }
    // The parts that fail: failing monitors' components, and the crowd's top problem (a
    // kind and a component often share an id: `login`).
    let mut involved: Vec<String> = failing.iter().filter_map(|f| f.1.clone()).collect();
    if crowd_bad && let Some(p) = incidents.crowd.status(service).breakdown.problems.first() {
        involved.push(p.id.clone());
    }
    let suspect =
        crate::changes::suspect(&*incidents.changes, id, onset_ms, &involved, region).await?;
    let at = |ms: i64| Timestamp::from_millisecond(ms).ok();
    evidence["changes"] = json!(
        recent
            .iter()
            .map(|c| json!({
                "id": c.id, "kind": c.kind.as_str(), "component": c.component,
                "version": c.version, "title": c.title, "link": c.link, "region": c.region,
                "at": at(c.at_ms), "recorded_by": c.recorded_by,
            }))
            .collect::<Vec<_>>()
    );
    if let Some(s) = suspect {
        let sentence = crate::changes::sentence(&s);
        evidence["probable_change"] = json!({
            "id": s.change.id,
            "minutes_before_onset": s.before_onset_ms / 60_000,
            "sentence": sentence,
        });
        let before = evidence["diagnosis"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        evidence["diagnosis"] = json!(format!("{sentence} {before}").trim_end().to_owned());
    }
    Ok(())
}

/// When the signals of an incident recover after a rollback recorded since it began, its
/// evidence says so (the operators' timeline): "login rolled back (2.2.9) at 09:20 UTC; the
/// signals recovered 4 min later."
async fn note_rollback(
    incidents: &Incidents,
    service: &ServiceConfig,
    row: &mut downbeat_store::IncidentRow,
    now_ms: i64,
) -> Result<(), StoreError> {
    let since = row.onset_ms.unwrap_or(row.created_ms);
    let rollbacks = incidents
        .changes
        .service_changes(service.id.as_str(), since, now_ms + 1, 20)
        .await?;
    let Some(r) = rollbacks
        .iter()
        .find(|c| c.kind == downbeat_domain::change::ChangeKind::Rollback)
    else {
        return Ok(());
    };
    let note = crate::changes::recovery_sentence(r, now_ms);
    let evidence = row.evidence.get_or_insert_with(|| json!({}));
    if evidence.is_object() {
        evidence["recovery"] = json!(note);
    }
    Ok(())
}

/// Components under maintenance in progress right now, and whether the whole service is.
fn under_maintenance(
    snapshot: &super::ServiceIncidents,
    service: &ServiceConfig,
) -> (Vec<String>, bool) {
    let ids: Vec<String> = snapshot
        .maintenance
        .iter()
        .filter(|m| m.status == Status::InProgress)
        .flat_map(|m| m.components.keys().cloned())
        .collect();
    let any_in_progress = snapshot
        .maintenance
        .iter()
        .any(|m| m.status == Status::InProgress);
    let whole = if service.components.is_empty() {
        any_in_progress
    } else {
        service
            .components
            .iter()
            .all(|c| ids.iter().any(|i| i == c.id.as_str()))
    };
    (ids, whole)
}

/// One round: drafts an incident for each service whose crowd verdict is *problems* or
/// whose monitors fail by quorum, unless an incident is already open or maintenance covers
/// it; marks open incidents for resolution when their signals have recovered. Only the
/// holder of the `incidents` lease acts, so several nodes draft once. The caller
/// (the assembly's incidents job) reloads every snapshot afterwards.
pub async fn run_once(incidents: &Incidents, now_ms: i64) -> Result<(), StoreError> {
    ops::advance_maintenance(incidents, now_ms).await?;
    // Every write below carries the lease's fencing token: a node paused past its lease
    // cannot draft once another has taken over.
    let Some(fence) = incidents
        .detection
        .try_lease(LEASE, &incidents.node_id, now_ms, LEASE_TTL_MS)
        .await?
    else {
        return Ok(());
    };
    for service in &incidents.config.get().services {
        let snapshot = super::snapshot(incidents, service.id.as_str());
        let (maintained, whole_service) = under_maintenance(&snapshot, service);
        let crowd = incidents.crowd.status(service);
        let crowd_bad = crowd.verdict == Verdict::Problems && !whole_service;
        let failing: Vec<(String, Option<String>, Option<Cause>)> = incidents
            .config
            .load()
            .monitors
            .iter()
            .enumerate()
            .filter(|(_, m)| m.service == service.id)
            .filter(|(_, m)| {
                m.component
                    .as_ref()
                    .is_none_or(|c| !maintained.iter().any(|x| x == c.as_str()))
            })
            .filter_map(|(_, m)| {
                let (down, _, cause) = incidents.monitors.state(m.id.as_str());
                down.then(|| {
                    (
                        m.id.to_string(),
                        m.component.as_ref().map(|c| c.to_string()),
                        cause,
                    )
                })
            })
            .collect();
        let signal = crowd_bad || !failing.is_empty();
        let open = incidents
            .records
            .incidents(IncidentFilter {
                service: Some(service.id.to_string()),
                kind: Some(Kind::Incident),
                include_drafts: true,
                open_only: true,
                limit: 50,
                ..Default::default()
            })
            .await?;
        if open.is_empty() {
            if signal {
                draft(incidents, service, crowd_bad, &failing, now_ms, &fence).await?;
            }
            continue;
        }
        for rec in open {
            let mut row = rec.incident;
            let awaiting = row.recovered_ms.is_some();
            if row.detected_ms.is_none() && row.source == Source::Operator {
                continue; // no signal ever backed it: nothing to recover from
            }
            if row.source == Source::Integration {
                continue; // its alerts say when it recovers (crate::integrations)
            }
            if signal
                && !awaiting
                && row.draft
                && suspect_found_now(incidents, service, crowd_bad, &failing, &mut row).await?
            {
                row.updated_ms = now_ms;
                match incidents
                    .records
                    .update_incident(row, Vec::new(), Some(&fence))
                    .await
                {
                    Ok(()) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
            if signal == awaiting {
                row.recovered_ms = if signal { None } else { Some(now_ms) };
                row.updated_ms = now_ms;
                if !signal {
                    note_rollback(incidents, service, &mut row, now_ms).await?;
                }
                let id = row.id;
                match incidents
                    .records
                    .update_incident(row, Vec::new(), Some(&fence))
                    .await
                {
                    Ok(()) if !signal => tracing::warn!(
                        service = %service.id, incident = id,
                        "signals recovered: the incident awaits resolution by an operator"
                    ),
                    Ok(()) => {}
                    Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

/// A draft whose evidence names no probable change yet looks again as more parts fail
/// (another monitor, the crowd's top problem): a deploy to the login front end is no
/// suspect while only the playlists monitor fails, and is one once login fails too. True
/// when the evidence now names one.
async fn suspect_found_now(
    incidents: &Incidents,
    service: &ServiceConfig,
    crowd_bad: bool,
    failing: &[(String, Option<String>, Option<Cause>)],
    row: &mut downbeat_store::IncidentRow,
) -> Result<bool, StoreError> {
    let Some(ev) = row.evidence.as_ref() else {
        return Ok(false);
    };
    if ev.get("probable_change").is_some() {
        return Ok(false);
    }
    let region = ev["region"]["region"].as_str().map(str::to_owned);
    let onset_ms = row.onset_ms.or(row.detected_ms).unwrap_or(row.created_ms);
    let mut fresh = ev.clone();
    with_changes(
        incidents,
        service,
        crowd_bad,
        failing,
        onset_ms,
        region.as_deref(),
        &mut fresh,
    )
    .await?;
    if fresh.get("probable_change").is_none() {
        return Ok(false);
    }
    row.evidence = Some(fresh);
    Ok(true)
}

/// The first failing monitor's cause in public words.
fn cause_words(failing: &[(String, Option<String>, Option<Cause>)]) -> &'static str {
    failing
        .iter()
        .find_map(|f| f.2)
        .map_or("failure", Cause::public_words)
}

async fn draft(
    incidents: &Incidents,
    service: &ServiceConfig,
    crowd_bad: bool,
    failing: &[(String, Option<String>, Option<Cause>)],
    now_ms: i64,
    fence: &Fence,
) -> Result<(), StoreError> {
    let crowd = incidents.crowd.status(service);
    let episode = episode(incidents, service, now_ms).await?;
    let tie = if crowd_bad {
        crate::regions::tie(incidents, service, &crowd)
    } else {
        None
    };
    let (source, title) = if !failing.is_empty() {
        // A draft's title can become public: the cause in public words.
        (
            Source::Probes,
            format!(
                "{}: checks failing ({})",
                service.name,
                cause_words(failing)
            ),
        )
    } else if let Some(t) = &tie {
        // The crowd and a region's probes tell one story: say where.
        let what = crowd
            .breakdown
            .problems
            .first()
            .map_or_else(|| "the service".to_owned(), |p| p.label.to_lowercase());
        (
            Source::Crowd,
            format!("{}: {what} fails in {}", service.name, t.area.name),
        )
    } else {
        let top = crowd
            .breakdown
            .problems
            .first()
            .map(|s| format!(" ({}, {:.0}%)", s.label.to_lowercase(), s.share * 100.0))
            .unwrap_or_default();
        (
            Source::Crowd,
            format!("{}: users report problems{top}", service.name),
        )
    };
    let mut components = Components::new();
    for (_, component, _) in failing {
        if let Some(c) = component {
            components.insert(c.clone(), ComponentState::MajorOutage);
        }
    }
    let mut message = String::from("Downbeat drafted this incident from its signals: ");
    let mut parts = Vec::new();
    if let Some(t) = &tie {
        let what = crowd
            .breakdown
            .problems
            .first()
            .map_or_else(|| service.name.clone(), |p| p.label.clone());
        parts.push(t.public_sentence(&what));
    }
    if crowd_bad {
        parts.push(crowd.explanation.trim_end_matches('.').to_owned());
    }
    if !failing.is_empty() {
        // The first update becomes public (at once with `auto_publish`, else when an
        // operator publishes): public words only — regions and causes, never a target, an
        // address or an error text. The operators' diagnosis stays in the evidence.
        let words = downbeat_monitors::diagnosis::diagnose_public(
            &incidents.monitors,
            service.id.as_str(),
            now_ms,
        );
        parts.push(match words {
            Some(w) => w.trim_end_matches('.').to_owned(),
            None => format!("checks fail ({})", cause_words(failing)),
        });
    }
    message.push_str(&parts.join("; "));
    message.push('.');
    let mut row = new_row(
        service.id.as_str(),
        Kind::Incident,
        ops::check_title(&title).unwrap_or_else(|_| format!("{}: problems", service.name)),
        Status::Investigating,
        now_ms,
    );
    row.impact = Impact::Major;
    row.components = components.clone();
    row.source = source;
    let mut ev = evidence(incidents, service, now_ms);
    let onset_ms = episode
        .as_ref()
        .map_or(now_ms, |e| e.onset_ms.unwrap_or(e.detected_ms));
    if let Some(t) = &tie {
        let before = ev["diagnosis"].as_str().unwrap_or_default().to_owned();
        ev["diagnosis"] = json!(format!("{} {before}", t.diagnosis()).trim_end().to_owned());
        ev["region"] = json!({"region": t.area.region, "name": t.area.name, "share": t.share});
    }
    let region = tie.as_ref().map(|t| t.area.region.as_str());
    with_changes(
        incidents, service, crowd_bad, failing, onset_ms, region, &mut ev,
    )
    .await?;
    row.evidence = Some(ev);
    row.draft = !service.auto_publish;
    if service.auto_publish {
        row.published_ms = Some(now_ms);
        row.acknowledged_ms = Some(now_ms);
    }
    if let Some(e) = episode {
        row.onset_ms = e.onset_ms;
        row.detected_ms = Some(e.detected_ms);
    }
    let update = downbeat_store::IncidentUpdateRow {
        id: 0,
        incident: 0,
        at_ms: now_ms,
        status: Status::Investigating,
        message: message.chars().take(ops::MAX_MESSAGE_CHARS).collect(),
        components,
        author: "downbeat".into(),
    };
    let id = incidents
        .records
        .insert_incident(row, vec![update], Some(fence))
        .await?;
    tracing::warn!(
        service = %service.id, incident = id, source = source.as_str(),
        published = service.auto_publish, "incident drafted from signals"
    );
    // Operators first (the draft alert), then, when drafts publish themselves, the public.
    crate::events::incident_drafted(incidents, id).await;
    Ok(())
}
