//! `downbeat import KIND PATH`: another tool's monitors, channels and status pages as
//! Downbeat config on stdout, what was not carried over on stderr.

use std::io::Write;

use downbeat_import::{ImportError, Kind};

use super::UsageError;
use crate::cli::{ImportArgs, ImportKind, ServerArgs};

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let kind = match args.kind {
        ImportKind::UptimeKuma => Kind::UptimeKuma,
        ImportKind::Gatus => Kind::Gatus,
        ImportKind::Statuspage => Kind::Statuspage,
    };
    let imported = downbeat_import::import(kind, &args.path).map_err(|e| match e {
        // The importer's own bug, not the user's input.
        ImportError::Generated(_) => anyhow::Error::new(e),
        e => UsageError(e.to_string()).into(),
    })?;
    // The whole import succeeded: only now is anything printed.
    let mut err = std::io::stderr().lock();
    for s in &imported.skipped {
        writeln!(err, "{s}")?;
    }
    drop(err);
    if args.apply {
        let server = ServerArgs {
            server: args.server.clone().unwrap_or_default(),
            token: args.token.clone().ok_or_else(|| {
                UsageError("--apply needs an admin token: --token or DOWNBEAT_TOKEN".into())
            })?,
            ca_file: args.ca_file.clone(),
            allow_plain_http: args.allow_plain_http,
        };
        let config = toml::to_string(&imported.config)?;
        // Objects already on the server are changed, others kept.
        super::apply::apply_text(&server, &config, false, false)?;
        if !imported.history.is_empty() {
            apply_history(&server, kind, &imported.history)?;
        }
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    out.write_all(imported.render().as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Writes the import's past incidents and maintenance to the server: what is over as
/// history (`POST /api/v1/admin/history`, kept once however often it is sent), maintenance
/// still to come through the maintenance API. Says on stderr what it could not carry.
fn apply_history(
    server: &ServerArgs,
    kind: Kind,
    history: &downbeat_import::History,
) -> anyhow::Result<()> {
    use downbeat_import::MaintenanceWindow;
    use serde_json::{Value, json};
    let now = jiff::Timestamp::now();
    let origin = |service: &str, title: &str, at: Option<jiff::Timestamp>| {
        let at = at.map(|t| t.to_string()).unwrap_or_default();
        format!("{kind}:{service}:{at}:{title}")
    };
    let updates = |list: &[downbeat_import::IncidentUpdate],
                   fallback: jiff::Timestamp|
     -> Vec<Value> {
        list.iter()
            .filter(|u| !u.body.trim().is_empty())
            .map(|u| json!({"at": u.at.unwrap_or(fallback).to_string(), "status": u.status.as_str(), "message": u.body}))
            .collect()
    };
    let mut incidents = Vec::new();
    let mut past_maintenance = Vec::new();
    let mut upcoming = Vec::new();
    let mut err = std::io::stderr().lock();
    for i in &history.incidents {
        let Some(start) = i
            .started_at
            .or_else(|| i.updates.iter().filter_map(|u| u.at).min())
        else {
            writeln!(err, "not applied: incident {:?}: it has no time", i.title)?;
            continue;
        };
        if !i.status.is_final() {
            writeln!(
                err,
                "not applied: incident {:?} is still {}: open it on Downbeat (POST /api/v1/services/{}/incidents)",
                i.title,
                i.status.as_str(),
                i.service
            )?;
            continue;
        }
        incidents.push(json!({
            "origin": origin(&i.service, &i.title, Some(start)),
            "service": i.service, "components": i.components, "title": i.title,
            "status": i.status.as_str(), "impact": i.impact.as_str(),
            "starts_at": start.to_string(),
            "ends_at": i.resolved_at.map(|t| t.to_string()),
            "updates": updates(&i.updates, start),
        }));
    }
    for m in &history.maintenance {
        match &m.window {
            MaintenanceWindow::Once { starts_at, ends_at } if ends_at.is_some_and(|e| e <= now) => {
                past_maintenance.push(json!({
                    "origin": origin(&m.service, &m.title, Some(*starts_at)),
                    "service": m.service, "components": m.components, "title": m.title,
                    "status": "completed", "starts_at": starts_at.to_string(),
                    "ends_at": ends_at.map(|t| t.to_string()),
                    "updates": updates(&m.updates, *starts_at),
                }));
            }
            MaintenanceWindow::Once {
                starts_at,
                ends_at: Some(ends_at),
            } => upcoming.push((m, *starts_at, *ends_at)),
            MaintenanceWindow::Once { ends_at: None, .. } => {
                writeln!(err, "not applied: maintenance {:?}: it has no end", m.title)?;
            }
            MaintenanceWindow::Recurring { .. } => {
                writeln!(
                    err,
                    "not applied: maintenance {:?} repeats: Downbeat has no recurring maintenance yet",
                    m.title
                )?;
            }
        }
    }
    drop(err);
    let client = super::change::client(server)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let post = |path: &str, body: Value, what: &str| -> anyhow::Result<Value> {
        let answer = rt
            .block_on(client.post_json(path, body.to_string().into_bytes()))
            .map_err(|e| anyhow::anyhow!("{what} on {}: {e}", server.server))?;
        let said = String::from_utf8_lossy(&answer.body).into_owned();
        if !answer.status.is_success() {
            return Err(super::change::refused(answer.status.as_u16(), &said, what));
        }
        Ok(serde_json::from_str(&said).unwrap_or(Value::Null))
    };
    if !incidents.is_empty() || !past_maintenance.is_empty() {
        let a = post(
            "/api/v1/admin/history",
            json!({"incidents": incidents, "maintenance": past_maintenance}),
            "the past incidents and maintenance",
        )?;
        println!(
            "history: {} added, {} there already",
            a["added"], a["known"]
        );
    }
    for (m, start, end) in upcoming {
        let message = m.description.clone().unwrap_or_else(|| m.title.clone());
        let path = format!("/api/v1/services/{}/maintenance", m.service);
        post(
            &path,
            json!({"title": m.title, "message": message, "scheduled_for": start.to_string(),
                           "scheduled_until": end.to_string(), "components": m.components}),
            "a maintenance window",
        )?;
        println!("maintenance scheduled: {:?}", m.title);
    }
    Ok(())
}
