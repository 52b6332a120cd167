//! Template structs and the view data they print. Every string an operator, a user or a
//! client wrote (titles, messages, names, evidence labels, form input) reaches the page
//! through askama's auto-escaping; the few strings formatted here are numbers, times and
//! fixed words.

use crate::assets::css_path;
use crate::evidence::EvidenceView;
use crate::session::Session;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use downbeat_api::auth::Role;
use downbeat_config::ServiceConfig;
use downbeat_domain::ComponentState;
use downbeat_incidents::{Impact, Incident, Kind, Source, Status};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// No scripts at all, styles only from here, forms only to here, never in a frame.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A rendered page with the admin area's headers: never cached, never framed.
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut resp = (status, body).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "admin template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered.",
            )
                .into_response()
        }
    }
}

/// "2026-11-22 08:12 UTC".
pub fn when(t: Timestamp) -> String {
    t.to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%M UTC")
        .to_string()
}

pub use downbeat_domain::duration::words as duration;

/// What every page's frame needs.
pub struct Layout {
    pub title: String,
    pub css: &'static str,
    pub user: Option<UserBar>,
}

/// The signed-in user in the header, with the sign-out form.
pub struct UserBar {
    pub name: String,
    pub role: &'static str,
    pub csrf: String,
    pub admin: bool,
    /// Editors and admins: the Configuration section.
    pub editor: bool,
}

impl Layout {
    /// Without a signed-in user (sign-in and error pages).
    pub fn bare(title: &str) -> Layout {
        Layout {
            title: title.to_owned(),
            css: css_path(),
            user: None,
        }
    }

    pub fn of(title: impl Into<String>, s: &Session) -> Layout {
        Layout {
            title: title.into(),
            css: css_path(),
            user: Some(UserBar {
                name: s.user.clone(),
                role: s.role.as_str(),
                csrf: s.csrf.clone(),
                admin: s.role.allows(Role::Admin),
                editor: s.role.allows(Role::Editor),
            }),
        }
    }
}

/// An `<option>`.
#[derive(Debug, Clone)]
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Opt {
    pub fn new(value: &str, label: &str, selected: bool) -> Opt {
        Opt {
            value: value.to_owned(),
            label: label.to_owned(),
            selected,
        }
    }
}

pub const COMPONENT_STATES: [ComponentState; 5] = [
    ComponentState::Operational,
    ComponentState::DegradedPerformance,
    ComponentState::PartialOutage,
    ComponentState::MajorOutage,
    ComponentState::UnderMaintenance,
];

pub fn parse_component_state(s: &str) -> Option<ComponentState> {
    COMPONENT_STATES.into_iter().find(|c| c.as_str() == s)
}

/// A component's state chooser: "" (leave as is / not affected) or a state.
#[derive(Debug, Clone)]
pub struct ComponentRow {
    pub id: String,
    pub name: String,
    pub options: Vec<Opt>,
}

/// One row per component of `service`; `blank` is the label of "no change".
pub fn component_rows(
    service: &ServiceConfig,
    blank: &str,
    chosen: impl Fn(&str) -> Option<String>,
) -> Vec<ComponentRow> {
    service
        .components
        .iter()
        .map(|c| {
            let pick = chosen(c.id.as_str()).unwrap_or_default();
            let mut options = vec![Opt::new("", blank, pick.is_empty())];
            options.extend(
                COMPONENT_STATES
                    .iter()
                    .map(|s| Opt::new(s.as_str(), s.label(), pick == s.as_str())),
            );
            ComponentRow {
                id: c.id.to_string(),
                name: c.name.clone(),
                options,
            }
        })
        .collect()
}

pub fn status_options(kind: Kind, current: &str, include_final: bool) -> Vec<Opt> {
    Status::ALL
        .into_iter()
        .filter(|s| s.kind() == kind && (include_final || !s.is_final()))
        .map(|s| Opt::new(s.as_str(), s.label(), s.as_str() == current))
        .collect()
}

pub fn impact_options(current: &str, blank: Option<&str>) -> Vec<Opt> {
    let mut out: Vec<Opt> = blank
        .map(|b| Opt::new("", b, current.is_empty()))
        .into_iter()
        .collect();
    out.extend(
        [Impact::None, Impact::Minor, Impact::Major, Impact::Critical]
            .into_iter()
            .map(|i| Opt::new(i.as_str(), i.label(), i.as_str() == current)),
    );
    out
}

fn source_words(s: Source) -> &'static str {
    match s {
        Source::Operator => "written by an operator",
        Source::Crowd => "drafted from crowd reports",
        Source::Probes => "drafted from failing probes",
        Source::Integration => "drafted from monitoring alerts",
    }
}

/// An incident as a card on the dashboard or the head of its page.
pub struct Card {
    pub id: i64,
    pub title: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub status_class: &'static str,
    pub impact: &'static str,
    pub source: &'static str,
    pub draft: bool,
    pub open: bool,
    pub created: String,
    pub updated: String,
    pub latest: String,
    pub components: Vec<(String, &'static str)>,
    pub scheduled: String,
    /// "Signals recovered at ... — ready to resolve".
    pub recovered: Option<String>,
    pub evidence: Option<EvidenceView>,
    pub public_url: Option<String>,
}

impl Card {
    pub fn of(i: &Incident, service: &ServiceConfig, with_evidence: bool) -> Card {
        let component_name = |id: &str| {
            service
                .components
                .iter()
                .find(|c| c.id.as_str() == id)
                .map_or_else(|| id.to_owned(), |c| c.name.clone())
        };
        Card {
            id: i.id,
            title: i.title.clone(),
            kind: i.kind.as_str(),
            status: i.status.label(),
            status_class: i.status.as_str(),
            impact: i.impact.label(),
            source: source_words(i.source),
            draft: i.draft,
            open: i.is_open(),
            created: when(i.created_at),
            updated: when(i.updated_at),
            latest: i.latest_message().to_owned(),
            components: i
                .components
                .iter()
                .map(|(id, s)| (component_name(id), s.label()))
                .collect(),
            scheduled: match (i.scheduled_for, i.scheduled_until) {
                (Some(a), Some(b)) => format!("{} to {}", when(a), when(b)),
                _ => String::new(),
            },
            recovered: i
                .recovered_at
                .filter(|_| i.is_open())
                .map(|t| format!("Signals recovered at {} — ready to resolve", when(t))),
            evidence: i
                .evidence
                .as_ref()
                .filter(|_| with_evidence)
                .map(crate::evidence::view),
            public_url: (!i.draft).then(|| i.url.clone()),
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub csrf: String,
    pub next: String,
    pub user: String,
    pub error: Option<String>,
    pub notice: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub heading: &'static str,
    pub message: String,
}

pub struct ServiceLine {
    pub id: String,
    pub name: String,
    pub drafts: usize,
    pub open: usize,
    pub maintenance: usize,
    pub recovered: usize,
    /// Comments awaiting approval, when the service takes comments.
    pub comments: Option<u64>,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub layout: Layout,
    pub services: Vec<ServiceLine>,
    /// A reload's answer.
    pub notice: Option<String>,
    pub error: Option<String>,
    /// For editors and admins.
    pub config: Option<ConfigStatusView>,
}

/// The config's state on the dashboard (`manage::ConfigStatus`), and the reload button.
pub struct ConfigStatusView {
    /// The last reload's refusal (file, key, reason), while the file stays invalid.
    pub reload_error: Option<String>,
    /// Stored objects left out of the config in force, with why.
    pub refused: Vec<String>,
    pub can_reload: bool,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "service.html")]
pub struct ServicePage {
    pub layout: Layout,
    pub service_id: String,
    pub service_name: String,
    pub can_edit: bool,
    pub csrf: String,
    pub crowd: String,
    pub crowd_class: &'static str,
    /// Reports per 15 minutes over 24 hours, with the recorded changes marked.
    pub chart: downbeat_web::chart::ChartView,
    pub drafts: Vec<Card>,
    pub open: Vec<Card>,
    pub maintenance: Vec<Card>,
    pub history: Vec<Card>,
    /// What listeners' screens said in the last hour, clustered, the hidden ones included.
    pub messages: Vec<MessageRow>,
    /// Comments awaiting approval, when the service takes comments.
    pub comments: Option<u64>,
}

/// A message cluster on the dashboard, with its hide or show button.
pub struct MessageRow {
    /// Untrusted text: the template escapes it.
    pub text: String,
    /// The cluster's key, which the buttons send.
    pub key: String,
    pub count: u64,
    pub networks: usize,
    pub hidden: bool,
}

pub struct UpdateLine {
    pub at: String,
    pub status: &'static str,
    pub message: String,
    pub author: String,
    pub components: Vec<(String, &'static str)>,
}

/// Which form on the incident page failed, with its error and what was typed.
#[derive(Default)]
pub struct FormState {
    pub failed: &'static str,
    pub error: String,
    pub message: String,
    pub markdown: String,
}

#[derive(Template)]
#[template(path = "incident.html")]
pub struct IncidentPage {
    pub layout: Layout,
    pub service_id: String,
    pub service_name: String,
    pub card: Card,
    pub is_incident: bool,
    pub metrics: Vec<(&'static str, String)>,
    pub timeline: Vec<UpdateLine>,
    pub can_edit: bool,
    pub csrf: String,
    pub notice: Option<&'static str>,
    pub title_value: String,
    pub statuses: Vec<Opt>,
    pub impacts: Vec<Opt>,
    pub components: Vec<ComponentRow>,
    pub resolve_status: &'static str,
    pub resolve_label: &'static str,
    pub resolve_message: String,
    pub show_postmortem_form: bool,
    pub postmortem: String,
    pub postmortem_at: String,
    pub form: FormState,
}

#[derive(Template)]
#[template(path = "new_incident.html")]
pub struct NewIncidentPage {
    pub layout: Layout,
    pub service_id: String,
    pub service_name: String,
    pub csrf: String,
    pub title: String,
    pub message: String,
    pub statuses: Vec<Opt>,
    pub impacts: Vec<Opt>,
    pub components: Vec<ComponentRow>,
    pub draft: bool,
    pub error: Option<String>,
}

pub struct Check {
    pub id: String,
    pub name: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "maintenance.html")]
pub struct MaintenancePage {
    pub layout: Layout,
    pub service_id: String,
    pub service_name: String,
    pub csrf: String,
    pub title: String,
    pub message: String,
    pub starts: String,
    pub ends: String,
    pub components: Vec<Check>,
    pub error: Option<String>,
}

pub struct UserLine {
    pub name: String,
    pub role: Role,
    pub created: String,
    pub failed: i64,
    pub locked: String,
}

pub struct TokenLine {
    pub name: String,
    pub role: Role,
    pub created: String,
    pub revoked: String,
}

#[derive(Template)]
#[template(path = "people.html")]
pub struct PeoplePage {
    pub layout: Layout,
    pub users: Vec<UserLine>,
    pub tokens: Vec<TokenLine>,
}
