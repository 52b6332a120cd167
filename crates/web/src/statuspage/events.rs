//! Incidents and maintenance windows in Statuspage's shape: the lists an endpoint holds, each
//! entry with its updates (newest first, each with the components it changed) and its
//! components as they are now.
//!
//! They come from the page models' snapshots, which hold published incidents and maintenance
//! only; drafts and evidence never reach them.

use super::View;
use crate::model::PageModel;
use downbeat_api::statuspage::{
    AffectedComponent, Component, Endpoint, Incident, IncidentStatus, Maintenance,
    MaintenanceStatus, RECENT, Update, UpdateStatus,
};
use downbeat_domain::ComponentState;
use downbeat_domain::incident::{Components, Status};
use downbeat_incidents::{Incident as Record, Kind};
use std::collections::BTreeMap;
use std::sync::Arc;

impl<'a> View<'a> {
    /// The incidents `endpoint` lists, newest first, at most [`RECENT`].
    pub(super) fn incidents(&self, endpoint: Endpoint) -> Vec<Incident> {
        let mut list: Vec<(&PageModel, &Record, IncidentStatus)> = self
            .published(|s| &s.incidents, Kind::Incident)
            .map(|(m, i)| (m, i, IncidentStatus::of(i.status, i.postmortem.is_some())))
            .filter(|(_, _, status)| endpoint.lists_incident(*status))
            .collect();
        list.sort_by_key(|(_, i, _)| std::cmp::Reverse(i.created_at));
        list.truncate(RECENT);
        list.into_iter()
            .map(|(m, i, status)| Incident {
                id: i.id.to_string(),
                name: i.title.clone(),
                status,
                created_at: i.created_at,
                updated_at: i.updated_at,
                monitoring_at: i
                    .updates
                    .iter()
                    .find(|u| u.status == Status::Monitoring)
                    .map(|u| u.at),
                resolved_at: i.resolved_at,
                impact: i.impact.into(),
                shortlink: format!("{}{}", self.base, i.url),
                started_at: i.onset_at.or(i.published_at).unwrap_or(i.created_at),
                page_id: self.page_id().to_owned(),
                incident_updates: self.updates(m, i, |s| IncidentStatus::of(s, false).into()),
                components: self.affected(m, &i.components),
                postmortem_body: i.postmortem.clone(),
                postmortem_published_at: i.postmortem.as_ref().and(i.postmortem_at),
            })
            .collect()
    }

    /// The maintenance windows `endpoint` lists, at most [`RECENT`]: the full list most
    /// recent first, the others soonest first (what comes next on top).
    pub(super) fn maintenances(&self, endpoint: Endpoint) -> Vec<Maintenance> {
        let mut list: Vec<(&PageModel, &Record, MaintenanceStatus)> = self
            .published(|s| &s.maintenance, Kind::Maintenance)
            .map(|(m, i)| (m, i, MaintenanceStatus::of(i.status)))
            .filter(|(_, _, status)| endpoint.lists_maintenance(*status))
            .collect();
        list.sort_by_key(|(_, i, _)| i.scheduled_for.unwrap_or(i.created_at));
        if endpoint == Endpoint::ScheduledMaintenances {
            list.reverse();
        }
        list.truncate(RECENT);
        list.into_iter()
            .map(|(m, i, status)| {
                let scheduled_for = i.scheduled_for.unwrap_or(i.created_at);
                Maintenance {
                    id: i.id.to_string(),
                    name: i.title.clone(),
                    status,
                    created_at: i.created_at,
                    updated_at: i.updated_at,
                    monitoring_at: None,
                    resolved_at: i.resolved_at,
                    impact: i.impact,
                    shortlink: format!("{}{}", self.base, i.url),
                    started_at: scheduled_for,
                    page_id: self.page_id().to_owned(),
                    incident_updates: self.updates(m, i, |s| MaintenanceStatus::of(s).into()),
                    components: self.affected(m, &i.components),
                    scheduled_for,
                    scheduled_until: i.scheduled_until.unwrap_or(scheduled_for),
                }
            })
            .collect()
    }

    /// Every service's published entries of `kind` from the list `of` its snapshot. (The
    /// snapshot keeps drafts apart and each kind in its own list; the filter says so here
    /// too, so a change there cannot make a draft public.)
    fn published(
        &self,
        of: fn(&downbeat_incidents::ServiceIncidents) -> &Vec<Record>,
        kind: Kind,
    ) -> impl Iterator<Item = (&'a PageModel, &'a Record)> + 'a {
        self.models()
            .iter()
            .flat_map(move |m: &Arc<PageModel>| of(&m.official).iter().map(move |i| (&**m, i)))
            .filter(move |(_, i)| !i.draft && i.kind == kind)
    }

    /// The updates, newest first; each lists the components it set, from what they were
    /// before it (operational until an earlier update said otherwise).
    fn updates(
        &self,
        m: &PageModel,
        i: &Record,
        status: impl Fn(Status) -> UpdateStatus,
    ) -> Vec<Update> {
        let mut before: BTreeMap<&str, ComponentState> = BTreeMap::new();
        let mut out: Vec<Update> = i
            .updates
            .iter()
            .map(|u| Update {
                id: u.id.to_string(),
                status: status(u.status),
                body: u.message.clone(),
                incident_id: i.id.to_string(),
                created_at: u.at,
                updated_at: u.at,
                display_at: u.at,
                affected_components: u
                    .components
                    .iter()
                    .map(|(id, state)| AffectedComponent {
                        code: self.component_id(m, id),
                        name: component_name(m, id),
                        old_status: before
                            .insert(id, *state)
                            .unwrap_or(ComponentState::Operational),
                        new_status: *state,
                    })
                    .collect(),
                deliver_notifications: true,
                custom_tweet: None,
                tweet_id: None,
            })
            .collect();
        out.reverse();
        out
    }

    /// The components an incident names, as they are now (a component since removed from
    /// the config keeps the state the incident gave it).
    fn affected(&self, m: &PageModel, components: &Components) -> Vec<Component> {
        components
            .iter()
            .map(
                |(id, state)| match m.components.iter().position(|c| &c.id == id) {
                    Some(index) => self.component(m, &m.components[index], index),
                    None => Component {
                        id: self.component_id(m, id),
                        name: id.clone(),
                        status: *state,
                        created_at: self.at,
                        updated_at: self.at,
                        position: super::position(m.components.len()),
                        description: None,
                        showcase: false,
                        start_date: None,
                        group_id: self.group(m).map(str::to_owned),
                        page_id: self.page_id().to_owned(),
                        group: false,
                        only_show_if_degraded: false,
                        components: None,
                    },
                },
            )
            .collect()
    }
}

/// A component's public name, or its id if the config no longer has it.
fn component_name(m: &PageModel, id: &str) -> String {
    m.components
        .iter()
        .find(|c| c.id == id)
        .map_or_else(|| id.to_owned(), |c| c.name.clone())
}
