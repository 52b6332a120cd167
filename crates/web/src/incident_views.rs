//! Incidents and maintenance on the public pages: the active ones on the service page, the
//! history, and one incident with its timeline, durations and post-mortem.

use crate::model::PageModel;
use crate::time;
use crate::views::Layout;
use askama::Template;
use downbeat_config::ServiceConfig;
use downbeat_domain::duration;
use downbeat_incidents::{Impact, Incident, Kind, Status};
use jiff::Timestamp;

/// One update as the timeline shows it.
#[derive(Debug, Clone)]
pub struct UpdateView {
    pub at: String,
    pub at_rfc3339: String,
    pub status: &'static str,
    pub message: String,
}

/// An incident or maintenance window as the pages show it. Every string an operator
/// wrote reaches the page through askama's escaping.
#[derive(Debug, Clone)]
pub struct IncidentView {
    pub id: i64,
    pub href: String,
    pub title: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub impact: &'static str,
    pub impact_class: &'static str,
    pub when: String,
    /// "02:00 UTC to 03:00 UTC" for maintenance.
    pub window: Option<String>,
    pub components: Vec<String>,
    /// Newest first, as Statuspage shows them.
    pub updates: Vec<UpdateView>,
    pub durations: Vec<(&'static str, String)>,
    pub latest: String,
    pub postmortem_html: Option<String>,
}

fn component_name(service: &ServiceConfig, id: &str) -> String {
    service
        .components
        .iter()
        .find(|c| c.id.as_str() == id)
        .map_or_else(|| id.to_owned(), |c| c.name.clone())
}

impl IncidentView {
    pub fn new(
        i: &Incident,
        service: &ServiceConfig,
        now: Timestamp,
        with_postmortem: bool,
    ) -> Self {
        let impact_class = match i.impact {
            Impact::None => "operational",
            Impact::Minor => "degraded_performance",
            Impact::Major => "partial_outage",
            Impact::Critical => "major_outage",
            Impact::Maintenance => "under_maintenance",
        };
        let status_class = match i.status {
            Status::Resolved | Status::Completed => "operational",
            _ => impact_class,
        };
        let mut durations = Vec::new();
        if let Some(s) = i.time_to_detect_s {
            durations.push(("Time to detect", duration::words(s)));
        }
        if let Some(s) = i.time_to_acknowledge_s {
            durations.push(("Time to acknowledge", duration::words(s)));
        }
        if let Some(s) = i.time_to_resolve_s {
            durations.push(("Time to resolve", duration::words(s)));
        }
        let window = match (i.kind, i.scheduled_for, i.scheduled_until) {
            (Kind::Maintenance, Some(a), Some(b)) => Some(format!(
                "{} to {}",
                time::since(a, now),
                time::since(b, now)
            )),
            _ => None,
        };
        IncidentView {
            id: i.id,
            href: i.url.clone(),
            title: i.title.clone(),
            status: i.status.label(),
            status_class,
            impact: i.impact.label(),
            impact_class,
            when: time::since(i.published_at.unwrap_or(i.created_at), now),
            window,
            components: i
                .components
                .keys()
                .map(|id| component_name(service, id))
                .collect(),
            updates: i
                .updates
                .iter()
                .rev()
                .map(|u| UpdateView {
                    at: time::since(u.at, now),
                    at_rfc3339: time::rfc3339(u.at),
                    status: u.status.label(),
                    message: u.message.clone(),
                })
                .collect(),
            durations,
            latest: i.latest_message().to_owned(),
            postmortem_html: if with_postmortem {
                i.postmortem.as_deref().map(crate::markdown::to_html)
            } else {
                None
            },
        }
    }
}

/// The open incidents and the current or upcoming maintenance of a service.
pub fn active(m: &PageModel, now: Timestamp) -> (Vec<IncidentView>, Vec<IncidentView>) {
    let incidents = m
        .official
        .open_incidents()
        .map(|i| IncidentView::new(i, &m.service, now, false))
        .collect();
    let maintenance = m
        .official
        .maintenance
        .iter()
        .filter(|i| i.is_open())
        .map(|i| IncidentView::new(i, &m.service, now, false))
        .collect();
    (incidents, maintenance)
}

#[derive(Template)]
#[template(path = "incidents.html")]
pub struct IncidentsPage<'a> {
    pub layout: Layout<'a>,
    pub id: &'a str,
    pub name: &'a str,
    pub incidents: Vec<IncidentView>,
    pub maintenance: Vec<IncidentView>,
}

impl<'a> IncidentsPage<'a> {
    pub fn new(m: &'a PageModel, css: &'a str, now: Timestamp) -> Self {
        IncidentsPage {
            layout: Layout {
                title: format!("{}: incident history", m.service.name),
                description: format!("Incidents and maintenance of {}.", m.service.name),
                css,
            },
            id: m.service.id.as_str(),
            name: &m.service.name,
            incidents: m
                .official
                .incidents
                .iter()
                .map(|i| IncidentView::new(i, &m.service, now, false))
                .collect(),
            maintenance: m
                .official
                .maintenance
                .iter()
                .map(|i| IncidentView::new(i, &m.service, now, false))
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "incident.html")]
pub struct IncidentPage<'a> {
    pub layout: Layout<'a>,
    pub id: &'a str,
    pub name: &'a str,
    pub kind: &'static str,
    pub i: IncidentView,
}

impl<'a> IncidentPage<'a> {
    pub fn new(m: &'a PageModel, incident: &Incident, css: &'a str, now: Timestamp) -> Self {
        let i = IncidentView::new(incident, &m.service, now, true);
        IncidentPage {
            layout: Layout {
                title: format!("{} · {}", i.title, m.service.name),
                description: format!("{}: {}", m.service.name, i.latest),
                css,
            },
            id: m.service.id.as_str(),
            name: &m.service.name,
            kind: match incident.kind {
                Kind::Incident => "Incident",
                Kind::Maintenance => "Maintenance",
            },
            i,
        }
    }
}

/// The published incident or maintenance window `id` of a model, if any.
pub fn find(m: &PageModel, id: i64) -> Option<&Incident> {
    m.official
        .incidents
        .iter()
        .chain(m.official.maintenance.iter())
        .find(|i| i.id == id)
}
