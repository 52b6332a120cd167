//! A Statuspage page as saved from its public API (`/api/v2/…`): a directory holding
//! `summary.json`, `components.json`, `incidents.json` and `scheduled-maintenances.json`,
//! whichever were saved (at least `summary.json` or `components.json`).
//!
//! The page becomes one service; its components become components (groups are flattened:
//! Downbeat has none); incidents and scheduled maintenance become history.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use downbeat_domain::incident::{Impact, Status};
use jiff::Timestamp;
use serde_json::Value;

use crate::builder::Builder;
use crate::history::{History, IncidentUpdate, Maintenance, MaintenanceWindow, PastIncident};
use crate::{ImportError, Imported, read, shown};

const FILES: [&str; 4] = [
    "summary.json",
    "components.json",
    "incidents.json",
    "scheduled-maintenances.json",
];
const EXPECTED: &str = "the JSON of a page's /api/v2/summary.json or components.json, with incidents.json and scheduled-maintenances.json if wanted, saved in one directory";

/// Reads the saved files of one page.
pub fn import(dir: &Path) -> Result<Imported, ImportError> {
    let shown_dir = shown(dir);
    let wrong = |reason: String| ImportError::WrongKind {
        file: shown_dir.clone(),
        what: "a Statuspage export",
        reason,
        expected: EXPECTED,
    };
    if !dir.is_dir() {
        return Err(wrong("not a directory".into()));
    }
    let mut docs: HashMap<&str, (String, Value)> = HashMap::new();
    for name in FILES {
        let path = dir.join(name);
        if !path.exists() {
            continue;
        }
        let file = shown(&path);
        let text = read(&path)?;
        let v: Value = serde_json::from_str(&text).map_err(|e| ImportError::Syntax {
            file: file.clone(),
            line: Some(e.line()),
            message: e.to_string(),
        })?;
        if !v.is_object() {
            return Err(ImportError::WrongKind {
                file,
                what: "a Statuspage API answer",
                reason: "not a JSON object".into(),
                expected: EXPECTED,
            });
        }
        docs.insert(name, (file, v));
    }
    if docs.is_empty() {
        return Err(wrong(format!("none of {}", FILES.join(", "))));
    }
    let Some((component_file, component_doc)) = docs
        .get("components.json")
        .or_else(|| docs.get("summary.json"))
    else {
        return Err(wrong(
            "neither summary.json nor components.json, which hold the components".into(),
        ));
    };
    let components = array(component_doc, "components", component_file)?;

    let mut b = Builder::default();
    let page_name = docs
        .values()
        .find_map(|(_, v)| v.pointer("/page/name").and_then(Value::as_str))
        .unwrap_or("Status");
    let service = b.service(page_name);

    // Components, groups flattened; Statuspage id → ours.
    let file_key = component_file.rsplit('/').next().unwrap_or(component_file);
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut sorted: Vec<(usize, &Value)> = components.iter().enumerate().collect();
    sorted.sort_by_key(|(i, c)| (c.get("position").and_then(Value::as_i64).unwrap_or(0), *i));
    for (i, c) in sorted {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("Component");
        if c.get("group").and_then(Value::as_bool) == Some(true) {
            let members = c
                .get("components")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            b.skip(
                format!("{file_key} components[{i}] {name:?} (group)"),
                format!(
                    "Downbeat has no component groups: its {members} components are carried over on their own"
                ),
            );
            continue;
        }
        let description = c.get("description").and_then(Value::as_str);
        let id = b.component(&service, name, description);
        if let Some(sp) = c.get("id").and_then(Value::as_str) {
            ids.insert(sp.to_owned(), id);
        }
    }

    let mut history = History::default();
    let mut seen = HashSet::new();
    for name in ["incidents.json", "summary.json"] {
        let Some((file, doc)) = docs.get(name) else {
            continue;
        };
        for inc in array(doc, "incidents", file)? {
            if let Some(id) = inc.get("id").and_then(Value::as_str)
                && !seen.insert(id.to_owned())
            {
                continue;
            }
            history.incidents.push(PastIncident {
                service: service.clone(),
                components: affected(inc, &ids),
                title: text(inc, "name").unwrap_or("Incident").to_owned(),
                status: status(inc).unwrap_or(Status::Investigating),
                impact: text(inc, "impact")
                    .and_then(Impact::parse)
                    .unwrap_or(Impact::None),
                started_at: time(inc, "started_at").or_else(|| time(inc, "created_at")),
                resolved_at: time(inc, "resolved_at"),
                updates: updates(inc),
            });
        }
    }
    for name in ["scheduled-maintenances.json", "summary.json"] {
        let Some((file, doc)) = docs.get(name) else {
            continue;
        };
        for (i, m) in array(doc, "scheduled_maintenances", file)?
            .iter()
            .enumerate()
        {
            if let Some(id) = m.get("id").and_then(Value::as_str)
                && !seen.insert(id.to_owned())
            {
                continue;
            }
            let title = text(m, "name").unwrap_or("Maintenance").to_owned();
            let Some(starts_at) = time(m, "scheduled_for") else {
                b.skip(
                    format!("{name} scheduled_maintenances[{i}] {title:?}"),
                    "not carried over: it has no scheduled_for",
                );
                continue;
            };
            history.maintenance.push(Maintenance {
                service: service.clone(),
                components: affected(m, &ids),
                title,
                description: None,
                window: MaintenanceWindow::Once {
                    starts_at,
                    ends_at: time(m, "scheduled_until"),
                },
                updates: updates(m),
            });
        }
    }
    let (config, skipped) = b.finish();
    Ok(Imported {
        config,
        history,
        skipped,
    })
}

/// The list under `key` (absent: empty), or an error naming file and key.
fn array<'a>(doc: &'a Value, key: &str, file: &str) -> Result<&'a [Value], ImportError> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(ImportError::Invalid {
            file: file.to_owned(),
            key: key.to_owned(),
            message: "must be a list".into(),
        }),
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn time(v: &Value, key: &str) -> Option<Timestamp> {
    text(v, key).and_then(|s| s.parse().ok())
}

fn status(v: &Value) -> Option<Status> {
    text(v, "status").and_then(|s| match s {
        // Statuspage's maintenance step between in progress and completed.
        "verifying" => Some(Status::InProgress),
        s => Status::parse(s),
    })
}

/// Our ids of the components an incident names (those we carried over).
fn affected(v: &Value, ids: &HashMap<String, String>) -> Vec<String> {
    v.get("components")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("id").and_then(Value::as_str))
                .filter_map(|id| ids.get(id).cloned())
                .collect()
        })
        .unwrap_or_default()
}

/// The updates, oldest first (Statuspage lists the newest first).
fn updates(v: &Value) -> Vec<IncidentUpdate> {
    let mut out: Vec<IncidentUpdate> = v
        .get("incident_updates")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|u| IncidentUpdate {
            at: time(u, "display_at").or_else(|| time(u, "created_at")),
            status: status(u).unwrap_or(Status::Investigating),
            body: text(u, "body").unwrap_or_default().to_owned(),
        })
        .collect();
    out.sort_by_key(|u| u.at);
    out
}
