//! Past incidents and maintenance windows: data for the incident store, not config. Each
//! names the service (and components) by the ids the imported config gives them.

use downbeat_domain::incident::{Impact, Status};
use jiff::Timestamp;

/// Everything of the past an import found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    pub incidents: Vec<PastIncident>,
    pub maintenance: Vec<Maintenance>,
}

/// An incident with its updates, oldest update first.
#[derive(Clone, Debug, PartialEq)]
pub struct PastIncident {
    /// The service's id in the imported config.
    pub service: String,
    /// Component ids in the imported config.
    pub components: Vec<String>,
    pub title: String,
    pub status: Status,
    pub impact: Impact,
    pub started_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub updates: Vec<IncidentUpdate>,
}

/// One update of an incident or a maintenance window.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentUpdate {
    pub at: Option<Timestamp>,
    pub status: Status,
    pub body: String,
}

/// A maintenance window.
#[derive(Clone, Debug, PartialEq)]
pub struct Maintenance {
    pub service: String,
    pub components: Vec<String>,
    pub title: String,
    pub description: Option<String>,
    pub window: MaintenanceWindow,
    pub updates: Vec<IncidentUpdate>,
}

/// When a maintenance window is.
#[derive(Clone, Debug, PartialEq)]
pub enum MaintenanceWindow {
    /// Once, between two instants (the end may be unknown).
    Once {
        starts_at: Timestamp,
        ends_at: Option<Timestamp>,
    },
    /// Every given day (every day when empty) at `start` (`hh:mm`) in `timezone`, for
    /// `duration` (as the source wrote it, e.g. `1h`).
    Recurring {
        start: String,
        duration: String,
        timezone: String,
        days: Vec<String>,
    },
}

impl History {
    pub fn is_empty(&self) -> bool {
        self.incidents.is_empty() && self.maintenance.is_empty()
    }

    /// Comment lines for the end of the printed config: how much history there is and how
    /// to write it into the store. Empty when there is none.
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let updates: usize = self.incidents.iter().map(|i| i.updates.len()).sum();
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut out = format!(
            "# {} with {} and {}: add --apply to write them into the store\n",
            plural(self.incidents.len(), "incident", "incidents"),
            plural(updates, "update", "updates"),
            plural(
                self.maintenance.len(),
                "maintenance window",
                "maintenance windows"
            ),
        );
        for i in &self.incidents {
            let when = i
                .started_at
                .map(|t| t.to_string())
                .unwrap_or_else(|| "undated".into());
            out.push_str(&format!(
                "#   incident {}: {} ({}, {}, {})\n",
                i.service,
                one_line(&i.title),
                when,
                i.status.as_str(),
                plural(i.updates.len(), "update", "updates")
            ));
        }
        for m in &self.maintenance {
            let when = match &m.window {
                MaintenanceWindow::Once { starts_at, ends_at } => match ends_at {
                    Some(end) => format!("{starts_at} to {end}"),
                    None => format!("from {starts_at}"),
                },
                MaintenanceWindow::Recurring {
                    start,
                    duration,
                    timezone,
                    days,
                } => {
                    let days = if days.is_empty() {
                        "every day".to_owned()
                    } else {
                        days.join(", ")
                    };
                    format!("{days} at {start} {timezone} for {duration}")
                }
            };
            out.push_str(&format!(
                "#   maintenance {}: {} ({when})\n",
                m.service,
                one_line(&m.title)
            ));
        }
        out
    }
}

/// Text on one comment line: no line breaks, at most 100 characters.
fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut t: String = flat.trim().chars().take(100).collect();
    if flat.trim().chars().count() > 100 {
        t.push('…');
    }
    t
}
