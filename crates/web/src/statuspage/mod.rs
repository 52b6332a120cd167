//! Atlassian Statuspage's public API v2 from the page models, so aggregators and widgets that
//! read Statuspage can read Downbeat: the eight documents of
//! [`Endpoint`] (summary, status, components, incidents, unresolved incidents, maintenance,
//! upcoming and active maintenance), all made by [`document`].
//!
//! Two views: `/s/{service}/api/v2/…` is one service as one page (its components as
//! components); `/api/v2/…` is the whole site as one page, each service a component group
//! whose components are `{service}.{component}`. `status` is the official side only
//! (components, incidents), as in Statuspage; the summary adds the crowd verdict under a
//! `crowd` key that Statuspage clients ignore. Only what the pages show gets here: published
//! incidents and maintenance (drafts and evidence stay in the admin area), component states
//! and public words.
//!
//! - [`events`]: incidents and maintenance windows with their updates.

mod events;

use crate::model::{ComponentModel, PageModel, severity};
use crate::state::Web;
use downbeat_api::statuspage::{
    Component, Crowd, CrowdView, Document, Endpoint, Page, Part, Status,
};
use downbeat_domain::ComponentState;
use downbeat_incidents::Impact;
use jiff::Timestamp;
use std::sync::Arc;

/// The site-wide page's id.
const SITE: &str = "downbeat";

/// Whose page a document describes.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// Every service, each a component group.
    Site(&'a [Arc<PageModel>]),
    Service(&'a Arc<PageModel>),
}

/// What every part of a document is built with.
struct View<'a> {
    scope: Scope<'a>,
    /// `[notify] public_url`, so links are absolute when the operator said where the pages
    /// live; empty otherwise (links relative to this host).
    base: &'a str,
    /// When the data was read: the page's `updated_at`, and the components' times.
    at: Timestamp,
}

/// The document `endpoint` names, site-wide (`service` None) or of one service, as JSON.
pub fn render(web: &Web, service: Option<usize>, endpoint: Endpoint, now: Timestamp) -> String {
    let config = web.app.config.load();
    let base = config.notify.public_url.as_str();
    let doc = match service {
        Some(i) => {
            let m = web.model(i);
            document(Scope::Service(&m), base, endpoint, now)
        }
        None => document(Scope::Site(&web.models()), base, endpoint, now),
    };
    // Plain structs of strings, numbers and times: serializing cannot fail.
    serde_json::to_string(&doc).unwrap_or_else(|e| {
        tracing::error!(error = %e, ?endpoint, "cannot serialize a Statuspage document");
        "{}".into()
    })
}

/// The one builder: `page`, and the parts `endpoint` holds.
fn document(scope: Scope, base: &str, endpoint: Endpoint, now: Timestamp) -> Document {
    let at = match scope {
        Scope::Service(m) => m.built_at,
        Scope::Site(models) => models.iter().map(|m| m.built_at).max().unwrap_or(now),
    };
    let view = View { scope, base, at };
    let parts = endpoint.parts();
    let has = |p: Part| parts.contains(&p);
    Document {
        page: view.page(),
        components: has(Part::Components).then(|| view.components()),
        incidents: has(Part::Incidents).then(|| view.incidents(endpoint)),
        scheduled_maintenances: has(Part::ScheduledMaintenances)
            .then(|| view.maintenances(endpoint)),
        status: has(Part::Status).then(|| view.status()),
        crowd: (endpoint == Endpoint::Summary).then(|| view.crowd()),
    }
}

impl<'a> View<'a> {
    fn models(&self) -> &'a [Arc<PageModel>] {
        match self.scope {
            Scope::Site(models) => models,
            Scope::Service(m) => std::slice::from_ref(m),
        }
    }

    fn page_id(&self) -> &str {
        match self.scope {
            Scope::Site(_) => SITE,
            Scope::Service(m) => m.service.id.as_str(),
        }
    }

    /// The component group a service's components belong to: site-wide, the service.
    fn group<'m>(&self, m: &'m PageModel) -> Option<&'m str> {
        match self.scope {
            Scope::Site(_) => Some(m.service.id.as_str()),
            Scope::Service(_) => None,
        }
    }

    fn page(&self) -> Page {
        let (id, name, path) = match self.scope {
            Scope::Site(_) => (SITE.to_owned(), "Downbeat".to_owned(), "/".to_owned()),
            Scope::Service(m) => (
                m.service.id.to_string(),
                m.service.name.clone(),
                format!("/s/{}", m.service.id),
            ),
        };
        Page {
            id,
            name,
            url: format!("{}{path}", self.base),
            time_zone: "Etc/UTC",
            updated_at: self.at,
        }
    }

    fn status(&self) -> Status {
        let worst = self
            .models()
            .iter()
            .map(|m| worst_state(m))
            .max_by_key(|s| severity(*s))
            .unwrap_or(ComponentState::Operational);
        Status::of(worst)
    }

    fn crowd(&self) -> CrowdView {
        let crowd = |m: &PageModel| Crowd {
            service: m.service.id.to_string(),
            verdict: m.crowd.verdict.as_str(),
            since: m.crowd.since,
            explanation: m.crowd.explanation.clone(),
        };
        match self.scope {
            Scope::Service(m) => CrowdView::One(crowd(m)),
            Scope::Site(models) => CrowdView::All(models.iter().map(|m| crowd(m)).collect()),
        }
    }

    /// One service's components; site-wide, each service first as a group (a service
    /// without components is a component of its own).
    fn components(&self) -> Vec<Component> {
        let mut list = Vec::new();
        for (pos, m) in self.models().iter().enumerate() {
            let children = m
                .components
                .iter()
                .enumerate()
                .map(|(i, c)| self.component(m, c, i));
            let Some(group) = self.group(m) else {
                list.extend(children);
                continue;
            };
            let children: Vec<Component> = children.collect();
            list.push(Component {
                id: group.to_owned(),
                name: m.service.name.clone(),
                status: worst_state(m),
                created_at: self.at,
                updated_at: self.at,
                position: position(pos),
                description: None,
                showcase: true,
                start_date: None,
                group_id: None,
                page_id: SITE.into(),
                group: !children.is_empty(),
                only_show_if_degraded: false,
                components: (!children.is_empty())
                    .then(|| children.iter().map(|c| c.id.clone()).collect()),
            });
            list.extend(children);
        }
        list
    }

    /// The id a service's component has on this page.
    fn component_id(&self, m: &PageModel, id: &str) -> String {
        match self.group(m) {
            Some(g) => format!("{g}.{id}"),
            None => id.to_owned(),
        }
    }

    /// A component with its current state, `index` its place in the service's list.
    fn component(&self, m: &PageModel, c: &ComponentModel, index: usize) -> Component {
        Component {
            id: self.component_id(m, &c.id),
            name: c.name.clone(),
            status: c.state,
            created_at: self.at,
            updated_at: self.at,
            position: position(index),
            description: c.description.clone(),
            showcase: true,
            start_date: None,
            group_id: self.group(m).map(str::to_owned),
            page_id: self.page_id().to_owned(),
            group: false,
            only_show_if_degraded: false,
            components: None,
        }
    }
}

/// Statuspage counts positions from 1.
fn position(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// A service's worst state: its components', or an open incident's impact if worse.
fn worst_state(m: &PageModel) -> ComponentState {
    let from_impact = m
        .official
        .open_incidents()
        .map(|i| match i.impact {
            Impact::Critical => ComponentState::MajorOutage,
            Impact::Major => ComponentState::PartialOutage,
            Impact::Minor => ComponentState::DegradedPerformance,
            Impact::None | Impact::Maintenance => ComponentState::Operational,
        })
        .max_by_key(|s| severity(*s))
        .unwrap_or(ComponentState::Operational);
    let own = m.official_state();
    if severity(from_impact) > severity(own) {
        from_impact
    } else {
        own
    }
}
