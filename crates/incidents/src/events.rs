//! What a change to an incident means to the people who hear of it: its event (public or
//! for the operators) and the data the event carries.

use crate::Incidents;
use crate::model::{Incident, Kind, Source, Status};
use downbeat_domain::event::{Event, IncidentChange, IncidentDraft, IncidentNews, Notice};
use downbeat_store::StoreError;
use serde_json::Value;

/// The event a change to an incident or maintenance window means to the public, if any:
/// none for drafts. `created` is true when the public first sees it (created published, or
/// a draft just published). A maintenance window's updates are events only when they move
/// it to a new status (started, completed).
pub fn for_incident(
    rec: &downbeat_store::IncidentRecord,
    incident: &Incident,
    created: bool,
) -> Option<Notice> {
    let row = &rec.incident;
    if row.draft {
        return None;
    }
    let last = rec.updates.last();
    let status = last.map_or(row.status, |u| u.status);
    let moved = match rec.updates.len() {
        0 | 1 => true,
        n => rec.updates[n - 2].status != status,
    };
    let change = IncidentChange {
        incident: row.id,
        seq: rec.updates.len(),
        news: incident_data(incident, last),
    };
    let event = match (row.kind, status) {
        (Kind::Incident, _) if created => Event::IncidentCreated(change),
        (Kind::Incident, Status::Resolved) => Event::IncidentResolved(change),
        (Kind::Incident, _) => Event::IncidentUpdated(change),
        (Kind::Maintenance, Status::Scheduled) if created => Event::MaintenanceScheduled(change),
        (Kind::Maintenance, Status::InProgress) if created || moved => {
            Event::MaintenanceStarted(change)
        }
        (Kind::Maintenance, Status::Completed) if moved => Event::MaintenanceCompleted(change),
        (Kind::Maintenance, _) => return None,
    };
    Some(
        Notice::new(&row.service, row.updated_ms, event).about(incident.components.keys().cloned()),
    )
}

/// An incident as events carry it (the payload of every incident and maintenance event,
/// kept as the JSON object of the [`Incident`] view): without the operators' evidence, with
/// its latest message.
pub fn incident_data(
    incident: &Incident,
    last: Option<&downbeat_store::IncidentUpdateRow>,
) -> IncidentNews {
    let mut news = IncidentNews::from(serde_json::to_value(incident).unwrap_or(Value::Null));
    news.0.remove("evidence");
    if let Some(u) = last {
        news.0
            .insert("message".into(), Value::String(u.message.clone()));
    }
    news
}

/// Tells the operators' channels of an incident Downbeat drafted from its signals, before
/// the public hears anything; when the service publishes drafts at once, the public
/// announcement (`incident.created`) follows.
pub async fn incident_drafted(incidents: &Incidents, id: i64) {
    let rec = match incidents.records.incident(id).await {
        Ok(Some(rec)) => rec,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, incident = id, "could not load a drafted incident to announce it");
            return;
        }
    };
    let incident = Incident::from_record(&rec);
    let mut news = incident_data(&incident, rec.updates.last());
    news.0
        .insert("published".into(), Value::Bool(!rec.incident.draft));
    let draft = Event::IncidentDraft(IncidentDraft { incident: id, news });
    let alert = Notice::new(&rec.incident.service, rec.incident.created_ms, draft)
        .about(incident.components.keys().cloned());
    incidents.notifier.enqueue_or_log(alert).await;
    if let Some(public) = for_incident(&rec, &incident, true) {
        incidents.notifier.enqueue_or_log(public).await;
    }
}

/// Enqueues again what recent changes should have enqueued, for a crash between a commit
/// and its enqueue: the latest change of every incident and maintenance window updated
/// within `[notify] give_up_after`, and the alert of every open draft. Nothing is sent
/// twice: ids are stable and the outbox keeps one delivery per event and destination.
pub async fn reconcile(incidents: &Incidents) -> Result<(), StoreError> {
    let now_ms = incidents.clock.now().as_millisecond();
    let since_ms = now_ms - incidents.config.load().notify.give_up_after.as_millis();
    let recs = incidents
        .records
        .incidents(downbeat_store::IncidentFilter {
            include_drafts: true,
            since_ms: Some(since_ms),
            limit: 500,
            ..Default::default()
        })
        .await?;
    for rec in recs {
        if rec.incident.updated_ms < since_ms {
            continue;
        }
        let row = &rec.incident;
        if row.draft {
            if row.source != Source::Operator && row.resolved_ms.is_none() {
                incident_drafted(incidents, row.id).await;
            }
            continue;
        }
        let incident = Incident::from_record(&rec);
        // Published with its latest update (or later): that update was its announcement.
        let created = row
            .published_ms
            .is_some_and(|p| rec.updates.last().is_none_or(|u| u.at_ms <= p));
        if let Some(e) = for_incident(&rec, &incident, created) {
            incidents.notifier.enqueue_or_log(e).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use downbeat_store::{IncidentRecord, IncidentRow, IncidentUpdateRow};

    fn record(kind: &str, draft: bool, statuses: &[&str]) -> IncidentRecord {
        let kind = match kind {
            "incident" => Kind::Incident,
            _ => Kind::Maintenance,
        };
        let status = |s: &str| Status::parse(s).expect("a status");
        IncidentRecord {
            incident: IncidentRow {
                id: 7,
                service: "melodia".into(),
                kind,
                title: "t".into(),
                status: status(statuses.last().unwrap()),
                impact: crate::model::Impact::Minor,
                components: Default::default(),
                draft,
                source: Source::Operator,
                evidence: None,
                created_ms: 0,
                updated_ms: 60_000,
                published_ms: (!draft).then_some(0),
                resolved_ms: None,
                onset_ms: None,
                detected_ms: None,
                acknowledged_ms: None,
                scheduled_start_ms: None,
                scheduled_end_ms: None,
                recovered_ms: None,
                postmortem: None,
                postmortem_ms: None,
                version: 1,
                origin: None,
            },
            updates: statuses
                .iter()
                .enumerate()
                .map(|(i, s)| IncidentUpdateRow {
                    id: i as i64,
                    incident: 7,
                    at_ms: 0,
                    status: status(s),
                    message: "m".into(),
                    components: Default::default(),
                    author: "a".into(),
                })
                .collect(),
        }
    }

    fn kind_of(kind: &str, draft: bool, statuses: &[&str], created: bool) -> Option<String> {
        let rec = record(kind, draft, statuses);
        let incident = Incident::from_record(&rec);
        for_incident(&rec, &incident, created).map(|e| format!("{} {}", e.event.kind(), e.id()))
    }

    #[test]
    fn incident_changes_map_to_events_with_stable_ids() {
        type Case<'a> = (&'a str, bool, &'a [&'a str], bool, Option<&'a str>);
        let cases: &[Case] = &[
            ("incident", true, &["investigating"], true, None),
            (
                "incident",
                false,
                &["investigating"],
                true,
                Some("incident.created incident-7-update-1"),
            ),
            (
                "incident",
                false,
                &["investigating", "monitoring"],
                false,
                Some("incident.updated incident-7-update-2"),
            ),
            (
                "incident",
                false,
                &["investigating", "resolved"],
                false,
                Some("incident.resolved incident-7-update-2"),
            ),
            (
                "maintenance",
                false,
                &["scheduled"],
                true,
                Some("maintenance.scheduled incident-7-update-1"),
            ),
            (
                "maintenance",
                false,
                &["in_progress"],
                true,
                Some("maintenance.started incident-7-update-1"),
            ),
            (
                "maintenance",
                false,
                &["scheduled", "scheduled"],
                false,
                None,
            ),
            (
                "maintenance",
                false,
                &["scheduled", "in_progress"],
                false,
                Some("maintenance.started incident-7-update-2"),
            ),
            (
                "maintenance",
                false,
                &["scheduled", "in_progress", "completed"],
                false,
                Some("maintenance.completed incident-7-update-3"),
            ),
        ];
        for (kind, draft, statuses, created, want) in cases {
            assert_eq!(
                kind_of(kind, *draft, statuses, *created).as_deref(),
                *want,
                "{kind} {statuses:?} created={created}"
            );
        }
    }
}
