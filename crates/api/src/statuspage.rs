//! Atlassian Statuspage's public API v2, the shapes: its eight documents, their fields and
//! status words, and their OpenAPI description.
//!
//! The web crate serves them from its in-memory pages, site-wide under `/api/v2/` (each
//! service a component group) and per service under `/s/{service}/api/v2/`; this module
//! holds what both the serving and the OpenAPI document need, so the document is generated
//! from the types that serialize. Aggregators and widgets that read Statuspage read these.

use downbeat_domain::ComponentState;
use downbeat_domain::incident::{Impact, Status as Word};
use jiff::Timestamp;
use serde::Serialize;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder, Schema};
use utoipa::{Modify, ToSchema};

/// One of the eight documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// Everything below at once: components, unresolved incidents, upcoming and active
    /// maintenance, the status.
    Summary,
    Status,
    Components,
    /// The 50 most recent incidents, resolved ones too.
    Incidents,
    UnresolvedIncidents,
    /// The 50 most recent maintenance windows, completed ones too.
    ScheduledMaintenances,
    UpcomingMaintenances,
    ActiveMaintenances,
}

/// A top-level list or object of a document (besides `page`, which every one has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Components,
    Incidents,
    ScheduledMaintenances,
    Status,
}

/// How many incidents (and maintenance windows) the full lists hold, as in Statuspage.
pub const RECENT: usize = 50;

impl Endpoint {
    pub const ALL: [Endpoint; 8] = [
        Endpoint::Summary,
        Endpoint::Status,
        Endpoint::Components,
        Endpoint::Incidents,
        Endpoint::UnresolvedIncidents,
        Endpoint::ScheduledMaintenances,
        Endpoint::UpcomingMaintenances,
        Endpoint::ActiveMaintenances,
    ];

    /// The path under `/api/v2/`, as Statuspage names it.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Summary => "summary.json",
            Endpoint::Status => "status.json",
            Endpoint::Components => "components.json",
            Endpoint::Incidents => "incidents.json",
            Endpoint::UnresolvedIncidents => "incidents/unresolved.json",
            Endpoint::ScheduledMaintenances => "scheduled-maintenances.json",
            Endpoint::UpcomingMaintenances => "scheduled-maintenances/upcoming.json",
            Endpoint::ActiveMaintenances => "scheduled-maintenances/active.json",
        }
    }

    /// What the document holds besides `page`, in the order it is written.
    pub fn parts(self) -> &'static [Part] {
        match self {
            Endpoint::Summary => &[
                Part::Components,
                Part::Incidents,
                Part::ScheduledMaintenances,
                Part::Status,
            ],
            Endpoint::Status => &[Part::Status],
            Endpoint::Components => &[Part::Components],
            Endpoint::Incidents | Endpoint::UnresolvedIncidents => &[Part::Incidents],
            Endpoint::ScheduledMaintenances
            | Endpoint::UpcomingMaintenances
            | Endpoint::ActiveMaintenances => &[Part::ScheduledMaintenances],
        }
    }

    /// Whether an incident in Statuspage's `status` belongs in this document's list.
    pub fn lists_incident(self, status: IncidentStatus) -> bool {
        match self {
            Endpoint::Incidents => true,
            Endpoint::Summary | Endpoint::UnresolvedIncidents => status.is_unresolved(),
            _ => false,
        }
    }

    /// Whether a maintenance window in `status` belongs in this document's list.
    pub fn lists_maintenance(self, status: MaintenanceStatus) -> bool {
        match self {
            Endpoint::ScheduledMaintenances => true,
            Endpoint::Summary => status != MaintenanceStatus::Completed,
            Endpoint::UpcomingMaintenances => status == MaintenanceStatus::Scheduled,
            Endpoint::ActiveMaintenances => status.is_active(),
            _ => false,
        }
    }

    fn operation_id(self) -> &'static str {
        match self {
            Endpoint::Summary => "summary",
            Endpoint::Status => "status",
            Endpoint::Components => "components",
            Endpoint::Incidents => "incidents",
            Endpoint::UnresolvedIncidents => "unresolved_incidents",
            Endpoint::ScheduledMaintenances => "scheduled_maintenances",
            Endpoint::UpcomingMaintenances => "upcoming_maintenances",
            Endpoint::ActiveMaintenances => "active_maintenances",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Endpoint::Summary => {
                "Summary: the status, components, unresolved incidents and upcoming or active maintenance"
            }
            Endpoint::Status => "The status indicator and its description",
            Endpoint::Components => "Components with their current status",
            Endpoint::Incidents => "The 50 most recent published incidents, resolved ones too",
            Endpoint::UnresolvedIncidents => {
                "Published incidents still investigating, identified or monitoring"
            }
            Endpoint::ScheduledMaintenances => {
                "Maintenance windows: upcoming, active and recently completed (at most 50)"
            }
            Endpoint::UpcomingMaintenances => "Maintenance windows scheduled and not begun",
            Endpoint::ActiveMaintenances => "Maintenance windows in progress or verifying",
        }
    }
}

impl Part {
    /// The field's name in the document.
    pub fn field(self) -> &'static str {
        match self {
            Part::Components => "components",
            Part::Incidents => "incidents",
            Part::ScheduledMaintenances => "scheduled_maintenances",
            Part::Status => "status",
        }
    }

    /// The field's schema: a reference, or a list of references.
    fn schema(self) -> Schema {
        let list = |name: &str| Ref::from_schema_name(name).to_array_builder().into();
        match self {
            Part::Components => list("StatuspageComponent"),
            Part::Incidents => list("StatuspageIncident"),
            Part::ScheduledMaintenances => list("StatuspageMaintenance"),
            Part::Status => ObjectBuilder::new()
                .property("indicator", Ref::from_schema_name("StatuspageIndicator"))
                .property(
                    "description",
                    ObjectBuilder::new().schema_type(Type::String),
                )
                .required("indicator")
                .required("description")
                .into(),
        }
    }
}

/// A document: `page`, then the parts its endpoint holds (the others are left out).
#[derive(Debug, Serialize)]
pub struct Document {
    pub page: Page,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<Component>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incidents: Option<Vec<Incident>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_maintenances: Option<Vec<Maintenance>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Downbeat's own, in the summary only (Statuspage clients ignore it): the crowd verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crowd: Option<CrowdView>,
}

/// The page: the whole site, or one service.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StatuspagePage)]
pub struct Page {
    pub id: String,
    pub name: String,
    pub url: String,
    pub time_zone: &'static str,
    pub updated_at: Timestamp,
}

/// The page's overall status.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StatuspageStatus)]
pub struct Status {
    pub indicator: Indicator,
    pub description: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = StatuspageIndicator)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    None,
    Minor,
    Major,
    Critical,
    Maintenance,
}

impl Status {
    /// The status of a page whose worst state is `worst`, in Statuspage's words.
    pub fn of(worst: ComponentState) -> Status {
        let (indicator, description) = match worst {
            ComponentState::Operational => (Indicator::None, "All Systems Operational"),
            ComponentState::UnderMaintenance => {
                (Indicator::Maintenance, "Service Under Maintenance")
            }
            ComponentState::DegradedPerformance => (Indicator::Minor, "Minor Service Outage"),
            ComponentState::PartialOutage => (Indicator::Major, "Partial System Outage"),
            ComponentState::MajorOutage => (Indicator::Critical, "Major Service Outage"),
        };
        Status {
            indicator,
            description,
        }
    }
}

/// A component, or (site-wide) a service as a component group.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = StatuspageComponent)]
pub struct Component {
    pub id: String,
    pub name: String,
    pub status: ComponentState,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub position: u32,
    pub description: Option<String>,
    pub showcase: bool,
    pub start_date: Option<String>,
    pub group_id: Option<String>,
    pub page_id: String,
    pub group: bool,
    pub only_show_if_degraded: bool,
    /// A group's components' ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
}

/// An incident's status in Statuspage's words: `postmortem` once a resolved incident has
/// its post-mortem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = StatuspageIncidentStatus)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
    Postmortem,
}

impl IncidentStatus {
    /// An incident's status. Maintenance words never reach an incident (the operations
    /// refuse them); were one stored, it reads as the nearest incident word.
    pub fn of(status: Word, postmortem: bool) -> IncidentStatus {
        match status {
            Word::Investigating | Word::Scheduled => IncidentStatus::Investigating,
            Word::Identified | Word::InProgress => IncidentStatus::Identified,
            Word::Monitoring => IncidentStatus::Monitoring,
            Word::Resolved | Word::Completed if postmortem => IncidentStatus::Postmortem,
            Word::Resolved | Word::Completed => IncidentStatus::Resolved,
        }
    }

    pub fn is_unresolved(self) -> bool {
        match self {
            IncidentStatus::Investigating
            | IncidentStatus::Identified
            | IncidentStatus::Monitoring => true,
            IncidentStatus::Resolved | IncidentStatus::Postmortem => false,
        }
    }
}

/// A maintenance window's status in Statuspage's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = StatuspageMaintenanceStatus)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceStatus {
    Scheduled,
    InProgress,
    Verifying,
    Completed,
}

impl MaintenanceStatus {
    /// A maintenance window's status; incident words never reach one, and would read as
    /// the nearest maintenance word (monitoring as verifying).
    pub fn of(status: Word) -> MaintenanceStatus {
        match status {
            Word::Scheduled => MaintenanceStatus::Scheduled,
            Word::InProgress | Word::Investigating | Word::Identified => {
                MaintenanceStatus::InProgress
            }
            Word::Monitoring => MaintenanceStatus::Verifying,
            Word::Completed | Word::Resolved => MaintenanceStatus::Completed,
        }
    }

    pub fn is_active(self) -> bool {
        matches!(
            self,
            MaintenanceStatus::InProgress | MaintenanceStatus::Verifying
        )
    }
}

/// An incident's impact; `maintenance` is for maintenance windows only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = StatuspageIncidentImpact)]
#[serde(rename_all = "snake_case")]
pub enum IncidentImpact {
    None,
    Minor,
    Major,
    Critical,
}

impl From<Impact> for IncidentImpact {
    fn from(impact: Impact) -> IncidentImpact {
        match impact {
            Impact::None | Impact::Maintenance => IncidentImpact::None,
            Impact::Minor => IncidentImpact::Minor,
            Impact::Major => IncidentImpact::Major,
            Impact::Critical => IncidentImpact::Critical,
        }
    }
}

/// An update's status: its incident's or its maintenance window's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = StatuspageUpdateStatus)]
#[serde(rename_all = "snake_case")]
pub enum UpdateStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
    Postmortem,
    Scheduled,
    InProgress,
    Verifying,
    Completed,
}

impl From<IncidentStatus> for UpdateStatus {
    fn from(s: IncidentStatus) -> UpdateStatus {
        match s {
            IncidentStatus::Investigating => UpdateStatus::Investigating,
            IncidentStatus::Identified => UpdateStatus::Identified,
            IncidentStatus::Monitoring => UpdateStatus::Monitoring,
            IncidentStatus::Resolved => UpdateStatus::Resolved,
            IncidentStatus::Postmortem => UpdateStatus::Postmortem,
        }
    }
}

impl From<MaintenanceStatus> for UpdateStatus {
    fn from(s: MaintenanceStatus) -> UpdateStatus {
        match s {
            MaintenanceStatus::Scheduled => UpdateStatus::Scheduled,
            MaintenanceStatus::InProgress => UpdateStatus::InProgress,
            MaintenanceStatus::Verifying => UpdateStatus::Verifying,
            MaintenanceStatus::Completed => UpdateStatus::Completed,
        }
    }
}

/// A published incident.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StatuspageIncident)]
pub struct Incident {
    pub id: String,
    pub name: String,
    pub status: IncidentStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub monitoring_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub impact: IncidentImpact,
    /// The incident's public page.
    pub shortlink: String,
    pub started_at: Timestamp,
    pub page_id: String,
    /// Newest first.
    pub incident_updates: Vec<Update>,
    /// The affected components, with their current status.
    pub components: Vec<Component>,
    /// Markdown.
    pub postmortem_body: Option<String>,
    pub postmortem_published_at: Option<Timestamp>,
}

/// A published maintenance window.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StatuspageMaintenance)]
pub struct Maintenance {
    pub id: String,
    pub name: String,
    pub status: MaintenanceStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub monitoring_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub impact: Impact,
    pub shortlink: String,
    pub started_at: Timestamp,
    pub page_id: String,
    /// Newest first.
    pub incident_updates: Vec<Update>,
    pub components: Vec<Component>,
    pub scheduled_for: Timestamp,
    pub scheduled_until: Timestamp,
}

/// One update of an incident or maintenance window.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StatuspageIncidentUpdate)]
pub struct Update {
    pub id: String,
    pub status: UpdateStatus,
    pub body: String,
    pub incident_id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub display_at: Timestamp,
    pub affected_components: Vec<AffectedComponent>,
    pub deliver_notifications: bool,
    pub custom_tweet: Option<String>,
    pub tweet_id: Option<String>,
}

/// A component an update changed: from what it was before the update to what it said.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StatuspageAffectedComponent)]
pub struct AffectedComponent {
    pub code: String,
    pub name: String,
    pub old_status: ComponentState,
    pub new_status: ComponentState,
}

/// A service's crowd verdict (Downbeat's own).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StatuspageCrowd)]
pub struct Crowd {
    pub service: String,
    pub verdict: &'static str,
    pub since: Option<Timestamp>,
    pub explanation: String,
}

/// One service's verdict, or (site-wide) every service's.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StatuspageCrowdView)]
#[serde(untagged)]
pub enum CrowdView {
    One(Crowd),
    All(Vec<Crowd>),
}

/// Adds the sixteen routes (eight documents, site-wide and per service) to the OpenAPI
/// document: they are served by the web crate, from memory, not by API handlers.
pub struct Described;

impl Modify for Described {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        for endpoint in Endpoint::ALL {
            let mut body = ObjectBuilder::new()
                .property("page", Ref::from_schema_name("StatuspagePage"))
                .required("page");
            for part in endpoint.parts() {
                body = body
                    .property(part.field(), part.schema())
                    .required(part.field());
            }
            if endpoint == Endpoint::Summary {
                body = body.property("crowd", Ref::from_schema_name("StatuspageCrowdView"));
            }
            let body: Schema = body.into();
            for per_service in [false, true] {
                let (path, id) = if per_service {
                    (
                        format!("/s/{{service}}/api/v2/{}", endpoint.path()),
                        format!("statuspage_service_{}", endpoint.operation_id()),
                    )
                } else {
                    (
                        format!("/api/v2/{}", endpoint.path()),
                        format!("statuspage_{}", endpoint.operation_id()),
                    )
                };
                let ok = ResponseBuilder::new()
                    .description(endpoint.words())
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(body.clone())).build(),
                    );
                let mut op = OperationBuilder::new()
                    .tag("statuspage")
                    .operation_id(Some(id))
                    .summary(Some(endpoint.words()))
                    .response("200", ok);
                if per_service {
                    op = op
                        .parameter(
                            ParameterBuilder::new()
                                .name("service")
                                .parameter_in(ParameterIn::Path)
                                .required(Required::True)
                                .description(Some("Service id"))
                                .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
                        )
                        .response("404", ResponseBuilder::new().description("Unknown service"));
                }
                api.paths
                    .add_path_operation(path, vec![HttpMethod::Get], op.build());
            }
        }
    }
}
