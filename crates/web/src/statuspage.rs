//! `/api/v2/summary.json` in Atlassian Statuspage's shape, so aggregators that read
//! Statuspage can read Downbeat.
//!
//! Two views: `/s/{service}/api/v2/summary.json` is one service as one page (its components
//! as components); `/api/v2/summary.json` is the whole site as one page, each service a
//! component group. `status` is the official side only (components, incidents), as in
//! Statuspage; the crowd verdict is added under a `crowd` key that Statuspage clients ignore.

use crate::model::{PageModel, severity};
use crate::time::rfc3339;
use downbeat_domain::ComponentState;
use downbeat_incidents::{Impact, Incident, Kind};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Serialize)]
struct Summary<C: Serialize> {
    page: PageInfo,
    components: Vec<Component>,
    incidents: Vec<serde_json::Value>,
    scheduled_maintenances: Vec<serde_json::Value>,
    status: Status,
    crowd: C,
}

#[derive(Serialize)]
struct PageInfo {
    id: String,
    name: String,
    url: String,
    time_zone: &'static str,
    updated_at: String,
}

#[derive(Serialize)]
struct Component {
    id: String,
    name: String,
    status: &'static str,
    created_at: String,
    updated_at: String,
    position: usize,
    description: Option<String>,
    showcase: bool,
    start_date: Option<String>,
    group_id: Option<String>,
    page_id: String,
    group: bool,
    only_show_if_degraded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    components: Option<Vec<String>>,
}

#[derive(Serialize)]
struct Status {
    indicator: &'static str,
    description: &'static str,
}

#[derive(Serialize)]
struct Crowd {
    service: String,
    verdict: &'static str,
    since: Option<String>,
    explanation: String,
}

fn status_of(worst: ComponentState) -> Status {
    let (indicator, description) = match worst {
        ComponentState::Operational => ("none", "All Systems Operational"),
        ComponentState::UnderMaintenance => ("maintenance", "Service Under Maintenance"),
        ComponentState::DegradedPerformance => ("minor", "Minor Service Outage"),
        ComponentState::PartialOutage => ("major", "Partial System Outage"),
        ComponentState::MajorOutage => ("critical", "Major Service Outage"),
    };
    Status {
        indicator,
        description,
    }
}

fn crowd(m: &PageModel) -> Crowd {
    Crowd {
        service: m.service.id.to_string(),
        verdict: m.crowd.verdict.as_str(),
        since: m.crowd.since.map(rfc3339),
        explanation: m.crowd.explanation.clone(),
    }
}

fn components(m: &PageModel, page_id: &str, group_id: Option<&str>, at: &str) -> Vec<Component> {
    m.components
        .iter()
        .enumerate()
        .map(|(pos, c)| Component {
            id: match group_id {
                Some(g) => format!("{g}.{}", c.id),
                None => c.id.clone(),
            },
            name: c.name.clone(),
            status: c.state.as_str(),
            created_at: at.to_owned(),
            updated_at: at.to_owned(),
            position: pos + 1,
            description: c.description.clone(),
            showcase: true,
            start_date: None,
            group_id: group_id.map(str::to_owned),
            page_id: page_id.to_owned(),
            group: false,
            only_show_if_degraded: false,
            components: None,
        })
        .collect()
}

/// An incident or maintenance window in Statuspage's shape.
fn incident_json(i: &Incident, page_id: &str, names: &dyn Fn(&str) -> String) -> serde_json::Value {
    let ts = |t: Option<Timestamp>| t.map(rfc3339);
    let components: Vec<serde_json::Value> = i
        .components
        .iter()
        .map(|(id, state)| json!({"id": id, "name": names(id), "status": state.as_str(), "page_id": page_id}))
        .collect();
    let updates: Vec<serde_json::Value> = i
        .updates
        .iter()
        .rev()
        .map(|u| {
            let at = rfc3339(u.at);
            json!({
                "id": u.id.to_string(), "status": u.status.as_str(), "body": u.message,
                "incident_id": i.id.to_string(), "created_at": at, "updated_at": at,
                "display_at": at,
                "affected_components": u.components.iter().map(|(id, state)| json!({
                    "code": id, "name": names(id), "new_status": state.as_str(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let monitoring_at = i
        .updates
        .iter()
        .find(|u| u.status == downbeat_domain::incident::Status::Monitoring)
        .map(|u| rfc3339(u.at));
    let mut v = json!({
        "id": i.id.to_string(),
        "name": i.title,
        "status": i.status.as_str(),
        "created_at": rfc3339(i.created_at),
        "updated_at": rfc3339(i.updated_at),
        "monitoring_at": monitoring_at,
        "resolved_at": ts(i.resolved_at),
        "impact": i.impact.as_str(),
        "shortlink": i.url,
        "started_at": rfc3339(i.onset_at.or(i.published_at).unwrap_or(i.created_at)),
        "page_id": page_id,
        "incident_updates": updates,
        "components": components,
    });
    if i.kind == Kind::Maintenance {
        v["scheduled_for"] = json!(ts(i.scheduled_for));
        v["scheduled_until"] = json!(ts(i.scheduled_until));
    }
    v
}

/// The open incidents and the upcoming or running maintenance of a service.
fn official(m: &PageModel, page_id: &str) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let names = |id: &str| {
        m.service
            .components
            .iter()
            .find(|c| c.id.as_str() == id)
            .map_or_else(|| id.to_owned(), |c| c.name.clone())
    };
    let incidents = m
        .official
        .open_incidents()
        .map(|i| incident_json(i, page_id, &names))
        .collect();
    let maintenance = m
        .official
        .maintenance
        .iter()
        .filter(|i| i.is_open())
        .map(|i| incident_json(i, page_id, &names))
        .collect();
    (incidents, maintenance)
}

/// The page's worst state: its components', or an open incident's impact if worse.
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

fn to_json(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

/// One service as one Statuspage page.
pub fn service(m: &PageModel) -> String {
    let at = rfc3339(m.built_at);
    let id = m.service.id.as_str();
    let (incidents, scheduled_maintenances) = official(m, id);
    to_json(&Summary {
        page: PageInfo {
            id: id.to_owned(),
            name: m.service.name.clone(),
            url: format!("/s/{id}"),
            time_zone: "Etc/UTC",
            updated_at: at.clone(),
        },
        components: components(m, id, None, &at),
        incidents,
        scheduled_maintenances,
        status: status_of(worst_state(m)),
        crowd: crowd(m),
    })
}

/// Every service as one page, each service a component group (a service without
/// components is one component).
pub fn all(models: &[Arc<PageModel>], now: Timestamp) -> String {
    let at = rfc3339(models.iter().map(|m| m.built_at).max().unwrap_or(now));
    let mut list = Vec::new();
    let (mut incidents, mut scheduled_maintenances) = (Vec::new(), Vec::new());
    for (pos, m) in models.iter().enumerate() {
        let id = m.service.id.to_string();
        let children = components(m, "downbeat", Some(&id), &at);
        let worst = worst_state(m);
        let (inc, maint) = official(m, "downbeat");
        incidents.extend(inc);
        scheduled_maintenances.extend(maint);
        list.push(Component {
            components: (!children.is_empty())
                .then(|| children.iter().map(|c| c.id.clone()).collect()),
            group: !children.is_empty(),
            id,
            name: m.service.name.clone(),
            status: worst.as_str(),
            created_at: at.clone(),
            updated_at: at.clone(),
            position: pos + 1,
            description: None,
            showcase: true,
            start_date: None,
            group_id: None,
            page_id: "downbeat".into(),
            only_show_if_degraded: false,
        });
        list.extend(children);
    }
    let worst = models
        .iter()
        .map(|m| worst_state(m))
        .max_by_key(|s| severity(*s))
        .unwrap_or(ComponentState::Operational);
    to_json(&Summary {
        page: PageInfo {
            id: "downbeat".into(),
            name: "Downbeat".into(),
            url: "/".into(),
            time_zone: "Etc/UTC",
            updated_at: at,
        },
        components: list,
        incidents,
        scheduled_maintenances,
        status: status_of(worst),
        crowd: models.iter().map(|m| crowd(m)).collect::<Vec<_>>(),
    })
}
