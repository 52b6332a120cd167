//! The admin pages and their forms. Reading needs any signed-in user; every change needs an
//! editor and goes through `incidents::ops`, whose error messages come back in the form
//! that failed (with what was typed), with the status code the API would give.

use crate::Admin;
use crate::error::AdminError;
use crate::guard::{Ctx, Fields};
use crate::session::Session;
use crate::views::*;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use downbeat_api::ApiError;
use downbeat_api::auth::Role;
use downbeat_config::{ServiceConfig, ServiceRef};
use downbeat_incidents::model::Components;
use downbeat_incidents::ops::{
    self, MaintenanceComponents, NewIncident, NewMaintenance, NewUpdate,
};
use downbeat_incidents::{Impact, Incident, Kind, Status};
use downbeat_store::IncidentFilter;
use std::sync::Arc;

/// Past incidents shown on a service's dashboard.
const HISTORY: usize = 20;

fn service_of(admin: &Admin, id: &str) -> Result<ServiceRef, AdminError> {
    admin.app.config.service(id).ok_or_else(|| {
        let shown: String = id.chars().take(64).collect();
        AdminError::NotFound(format!("There is no service {shown:?}."))
    })
}

fn incident_id(raw: &str) -> Result<i64, AdminError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AdminError::NotFound("There is no such incident.".into()))
}

fn editor(s: &Session) -> Result<(), AdminError> {
    if s.role.allows(Role::Editor) {
        Ok(())
    } else {
        Err(AdminError::Forbidden(format!(
            "Your role ({}) lets you look but not change anything; this page needs the editor role.",
            s.role
        )))
    }
}

/// A service's incidents and maintenance, newest first, drafts included.
async fn records(admin: &Admin, service: &str) -> Result<Vec<Incident>, AdminError> {
    let rows = admin
        .app
        .store
        .incidents(IncidentFilter {
            service: Some(service.to_owned()),
            include_drafts: true,
            limit: 200,
            ..Default::default()
        })
        .await?;
    Ok(rows.iter().map(Incident::from_record).collect())
}

/// `GET /admin`: every service with what awaits an operator.
pub async fn home(State(admin): State<Arc<Admin>>, ctx: Ctx) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    home_page(&admin, s, None, None, StatusCode::OK).await
}

/// The dashboard, with a notice or an error above it (a reload's answer). Editors also see
/// the config's problems: the last reload's refusal and stored objects left out.
pub(crate) async fn home_page(
    admin: &Admin,
    s: &Session,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, AdminError> {
    let mut services = Vec::new();
    for svc in &admin.app.config.get().services {
        let all = records(admin, svc.id.as_str()).await?;
        let open = |i: &&Incident| i.is_open();
        services.push(ServiceLine {
            id: svc.id.to_string(),
            name: svc.name.clone(),
            drafts: all.iter().filter(open).filter(|i| i.draft).count(),
            open: all
                .iter()
                .filter(open)
                .filter(|i| !i.draft && i.kind == Kind::Incident)
                .count(),
            maintenance: all
                .iter()
                .filter(open)
                .filter(|i| i.kind == Kind::Maintenance)
                .count(),
            recovered: all
                .iter()
                .filter(open)
                .filter(|i| i.recovered_at.is_some())
                .count(),
            comments: pending_comments(admin, svc).await?,
        });
    }
    let config = s.role.allows(Role::Editor).then(|| {
        let status = admin.app.management.status();
        ConfigStatusView {
            reload_error: status.reload_error,
            refused: status.refused,
            can_reload: s.role.allows(Role::Admin),
            csrf: s.csrf.clone(),
        }
    });
    Ok(html(
        status,
        &HomePage {
            layout: Layout::of("Dashboard", s),
            services,
            notice,
            error,
            config,
        },
    ))
}

/// How many comments of `svc` await approval, when it takes comments.
async fn pending_comments(admin: &Admin, svc: &ServiceConfig) -> Result<Option<u64>, AdminError> {
    if !svc.comments.is_on() {
        return Ok(None);
    }
    Ok(Some(
        admin
            .app
            .store
            .pending_comment_count(svc.id.as_str())
            .await?,
    ))
}

/// `GET /admin/s/{service}`: drafts with their evidence, open incidents, maintenance and
/// recent history.
pub async fn service(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    let svc = service_of(&admin, &id)?;
    let all = records(&admin, svc.id.as_str()).await?;
    let card = |i: &Incident| Card::of(i, &svc, true);
    let crowd = admin.app.crowd.status(&svc);
    let (crowd_words, crowd_class) = match crowd.verdict {
        downbeat_domain::Verdict::NoProblems => ("No problems", "no_problems"),
        downbeat_domain::Verdict::PossibleProblems => ("Possible problems", "possible_problems"),
        downbeat_domain::Verdict::Problems => ("Problems", "problems"),
    };
    let now_ms = admin.app.clock.now().as_millisecond();
    let (clusters, mut hidden) = downbeat_crowd::message_clusters_for_operators(
        admin.app.store.as_ref(),
        &admin.app.config.get(),
        svc.id.as_str(),
        now_ms - MESSAGES_WINDOW_MS,
    )
    .await?;
    let mut messages: Vec<MessageRow> = clusters
        .into_iter()
        .take(MESSAGE_ROWS)
        .map(|c| MessageRow {
            hidden: hidden.remove(&c.key),
            text: c.text,
            key: c.key,
            count: c.count,
            networks: c.networks,
        })
        .collect();
    // Hidden clusters nobody typed lately stay listed, to be shown again.
    messages.extend(hidden.into_iter().map(|key| MessageRow {
        text: key.clone(),
        key,
        count: 0,
        networks: 0,
        hidden: true,
    }));
    // The public chart, with every recorded change marked in the operators' words.
    let chart = downbeat_web::model::chart_data(
        &admin.app,
        &svc,
        now_ms,
        downbeat_web::model::Markers::Operator,
    )
    .await?;
    let crowd_line = if crowd.explanation.is_empty() {
        format!("Crowd reports: {crowd_words}.")
    } else {
        format!("Crowd reports: {crowd_words}. {}", crowd.explanation)
    };
    Ok(html(
        StatusCode::OK,
        &ServicePage {
            layout: Layout::of(format!("{} — dashboard", svc.name), s),
            service_id: svc.id.to_string(),
            service_name: svc.name.clone(),
            can_edit: s.role.allows(Role::Editor),
            csrf: s.csrf.clone(),
            crowd: crowd_line,
            crowd_class,
            chart: downbeat_web::chart::view(&chart),
            drafts: all
                .iter()
                .filter(|i| i.draft && i.is_open())
                .map(card)
                .collect(),
            open: all
                .iter()
                .filter(|i| !i.draft && i.is_open() && i.kind == Kind::Incident)
                .map(card)
                .collect(),
            maintenance: all
                .iter()
                .filter(|i| i.is_open() && i.kind == Kind::Maintenance)
                .map(card)
                .collect(),
            history: all
                .iter()
                .filter(|i| !i.is_open())
                .take(HISTORY)
                .map(|i| Card::of(i, &svc, false))
                .collect(),
            messages,
            comments: pending_comments(&admin, &svc).await?,
        },
    ))
}

/// The window of the dashboard's message clusters.
const MESSAGES_WINDOW_MS: i64 = 60 * 60_000;
/// Most message clusters the dashboard lists (besides the hidden ones).
const MESSAGE_ROWS: usize = 20;
/// The longest key a hide button may send (keys come from messages of at most 140
/// characters).
const MAX_MESSAGE_KEY_CHARS: usize = 200;

/// `POST /admin/s/{service}/messages`: hides a message cluster (`key`) from every public
/// surface, or shows it again (`action=show`). Editors and admins.
pub async fn hide_message(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, AdminError> {
    let s = ctx.check_post(&form, Role::Editor)?;
    let svc = service_of(&admin, &id)?;
    let key = form.text("key");
    if key.trim().is_empty() || key.chars().count() > MAX_MESSAGE_KEY_CHARS {
        return Err(AdminError::BadRequest(
            "Which message? The form names no cluster.".into(),
        ));
    }
    let hide = form.text("action") != "show";
    let now_ms = admin.app.clock.now().as_millisecond();
    admin
        .app
        .store
        .set_message_hidden(
            svc.id.as_str(),
            &key,
            hide.then_some((s.user.as_str(), now_ms)),
        )
        .await?;
    // The API's cached answers and the pages follow the service's report generation.
    admin.app.intake.generations.bump(svc.id.as_str());
    tracing::info!(service = %svc.id, user = %s.user, hide, "message cluster hidden or shown");
    Ok(done(format!("/admin/s/{}#messages", svc.id)))
}

fn notice(raw: Option<&str>) -> Option<&'static str> {
    let q: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or_default()).ok()?;
    let done = q.iter().find(|(k, _)| k == "done")?.1.as_str();
    Some(match done {
        "created" => "The incident is created.",
        "drafted" => "The draft is saved: it is visible to operators only until published.",
        "scheduled" => "The maintenance window is scheduled and published.",
        "updated" => "The update is posted.",
        "resolved" => "Resolved: the update is posted and the components are operational again.",
        "published" => "Published: the incident is now on the public status page.",
        "postmortem" => "The post-mortem is saved and published with the incident.",
        _ => return None,
    })
}

async fn incident_page(
    admin: &Admin,
    s: &Session,
    id: i64,
    notice: Option<&'static str>,
    form: FormState,
    status: StatusCode,
) -> Result<Response, AdminError> {
    let i = Incident::from_record(&ops::load(&admin.app.incidents, id).await?);
    let svc = service_of(admin, &i.service)?;
    let is_incident = i.kind == Kind::Incident;
    let mut metrics = Vec::new();
    if let Some(t) = i.onset_at {
        metrics.push(("Trouble began", when(t)));
    }
    if let Some(t) = i.detected_at {
        metrics.push(("Detected", when(t)));
    }
    if let Some(d) = i.time_to_detect_s {
        metrics.push(("Time to detect", duration(d)));
    }
    if let Some(d) = i.time_to_acknowledge_s {
        metrics.push(("Time to acknowledge", duration(d)));
    }
    if let Some(d) = i.time_to_resolve_s {
        metrics.push(("Time to resolve", duration(d)));
    }
    let component_name = |id: &str| {
        svc.components
            .iter()
            .find(|c| c.id.as_str() == id)
            .map_or_else(|| id.to_owned(), |c| c.name.clone())
    };
    let timeline = i
        .updates
        .iter()
        .rev()
        .map(|u| UpdateLine {
            at: when(u.at),
            status: u.status.label(),
            message: u.message.clone(),
            author: u.author.clone(),
            components: u
                .components
                .iter()
                .map(|(id, st)| (component_name(id), st.label()))
                .collect(),
        })
        .collect();
    let (resolve_status, resolve_label, resolve_default) = if is_incident {
        (
            Status::Resolved.as_str(),
            "Resolve",
            "This incident has been resolved.",
        )
    } else {
        (
            Status::Completed.as_str(),
            "Complete",
            "The scheduled maintenance has been completed.",
        )
    };
    let page = IncidentPage {
        layout: Layout::of(format!("{} — {}", i.title, svc.name), s),
        service_id: svc.id.to_string(),
        service_name: svc.name.clone(),
        is_incident,
        metrics,
        timeline,
        can_edit: s.role.allows(Role::Editor),
        csrf: s.csrf.clone(),
        notice,
        title_value: i.title.clone(),
        statuses: status_options(i.kind, i.status.as_str(), false),
        impacts: impact_options("", Some("Unchanged")),
        components: component_rows(&svc, "Unchanged", |_| None),
        resolve_status,
        resolve_label,
        resolve_message: if form.failed == "resolve" {
            form.message.clone()
        } else {
            resolve_default.to_owned()
        },
        show_postmortem_form: is_incident && i.status == Status::Resolved,
        postmortem: if form.failed == "postmortem" {
            form.markdown.clone()
        } else {
            i.postmortem.clone().unwrap_or_default()
        },
        postmortem_at: i.postmortem_at.map(when).unwrap_or_default(),
        card: Card::of(&i, &svc, true),
        form,
    };
    Ok(html(status, &page))
}

/// `GET /admin/incidents/{id}`: the timeline, the evidence, and (for editors) the forms.
pub async fn incident(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    let id = incident_id(&id)?;
    incident_page(
        &admin,
        s,
        id,
        notice(raw.as_deref()),
        FormState::default(),
        StatusCode::OK,
    )
    .await
}

fn done(to: String) -> Response {
    Redirect::to(&to).into_response()
}

/// An ops error from a form: the form again with the message, or a page for a missing
/// incident or an unavailable store.
pub(crate) fn form_error(e: impl Into<ApiError>) -> Result<(StatusCode, String), AdminError> {
    match e.into() {
        e @ (ApiError::NotFound(_) | ApiError::Unavailable(_)) => Err(e.into()),
        other => Ok((other.status(), other.to_string())),
    }
}

/// `POST /admin/incidents/{id}/updates`: an update, or resolving (`form=resolve`).
pub async fn post_update(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, AdminError> {
    let s = ctx.check_post(&form, Role::Editor)?;
    let id = incident_id(&id)?;
    let which: &'static str = if form.get("form") == Some("resolve") {
        "resolve"
    } else {
        "update"
    };
    let fail = |error: String| FormState {
        failed: which,
        error,
        message: form.text("message"),
        markdown: String::new(),
    };
    let req = match update_request(&form) {
        Ok(r) => r,
        Err(e) => {
            let f = fail(e.to_string());
            return incident_page(&admin, s, id, None, f, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let resolving = req.status.is_some_and(Status::is_final);
    match ops::update(&admin.app.incidents, id, req, &s.user).await {
        Ok(_) => Ok(done(format!(
            "/admin/incidents/{id}?done={}",
            if resolving { "resolved" } else { "updated" }
        ))),
        Err(e) => {
            let (status, msg) = form_error(e)?;
            incident_page(&admin, s, id, None, fail(msg), status).await
        }
    }
}

/// A form field whose value cannot be used; its words are shown back in the form.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
struct FieldError {
    field: &'static str,
    message: String,
}

fn field_error(field: &'static str, message: String) -> FieldError {
    FieldError { field, message }
}

/// The update form as the ops request; a bad choice is a message for the form.
fn update_request(form: &Fields) -> Result<NewUpdate, FieldError> {
    let status = match form.get("status").unwrap_or_default() {
        "" => None,
        v => Some(
            Status::parse(v)
                .ok_or_else(|| field_error("status", format!("{v:?} is not a status")))?,
        ),
    };
    let impact = match form.get("impact").unwrap_or_default() {
        "" => None,
        v => Some(
            Impact::parse(v)
                .ok_or_else(|| field_error("impact", format!("{v:?} is not an impact")))?,
        ),
    };
    let mut components = Components::new();
    for (id, v) in form.prefixed("component.") {
        if v.is_empty() {
            continue;
        }
        let state = parse_component_state(v)
            .ok_or_else(|| field_error("components", format!("{v:?} is not a component state")))?;
        components.insert(id.to_owned(), state);
    }
    Ok(NewUpdate {
        status,
        message: form.text("message"),
        components: (!components.is_empty()).then_some(components),
        impact,
        title: form
            .get("title")
            .filter(|t| !t.trim().is_empty())
            .filter(|t| Some(t.trim()) != form.get("current_title").map(str::trim))
            .map(str::to_owned),
    })
}

/// `POST /admin/incidents/{id}/publish`: a draft goes public, in one click.
pub async fn publish(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, AdminError> {
    let s = ctx.check_post(&form, Role::Editor)?;
    let id = incident_id(&id)?;
    match ops::publish(&admin.app.incidents, id).await {
        Ok(_) => {
            tracing::info!(incident = id, user = %s.user, "draft published");
            Ok(done(format!("/admin/incidents/{id}?done=published")))
        }
        Err(e) => {
            let (status, msg) = form_error(e)?;
            let f = FormState {
                failed: "publish",
                error: msg,
                ..Default::default()
            };
            incident_page(&admin, s, id, None, f, status).await
        }
    }
}

/// `POST /admin/incidents/{id}/postmortem`
pub async fn postmortem(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, AdminError> {
    let s = ctx.check_post(&form, Role::Editor)?;
    let id = incident_id(&id)?;
    let markdown = form.text("markdown");
    match ops::set_postmortem(&admin.app.incidents, id, &markdown).await {
        Ok(_) => Ok(done(format!("/admin/incidents/{id}?done=postmortem"))),
        Err(e) => {
            let (status, msg) = form_error(e)?;
            let f = FormState {
                failed: "postmortem",
                error: msg,
                markdown,
                ..Default::default()
            };
            incident_page(&admin, s, id, None, f, status).await
        }
    }
}

fn new_incident_page(
    s: &Session,
    svc: &ServiceConfig,
    form: &Fields,
    error: Option<String>,
) -> NewIncidentPage {
    NewIncidentPage {
        layout: Layout::of(format!("New incident — {}", svc.name), s),
        service_id: svc.id.to_string(),
        service_name: svc.name.clone(),
        csrf: s.csrf.clone(),
        title: form.text("title"),
        message: form.text("message"),
        statuses: status_options(
            Kind::Incident,
            form.get("status").unwrap_or("investigating"),
            false,
        ),
        impacts: impact_options(form.get("impact").unwrap_or("minor"), None),
        components: component_rows(svc, "Not affected", |id| {
            form.get(&format!("component.{id}")).map(str::to_owned)
        }),
        draft: form.get("draft").is_some(),
        error,
    }
}

/// `GET /admin/s/{service}/incidents`: the new-incident form.
pub async fn new_incident(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    editor(s)?;
    let svc = service_of(&admin, &id)?;
    Ok(html(
        StatusCode::OK,
        &new_incident_page(s, &svc, &Fields::default(), None),
    ))
}

/// `POST /admin/s/{service}/incidents`
pub async fn create_incident(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, AdminError> {
    let s = ctx.check_post(&form, Role::Editor)?;
    let svc = service_of(&admin, &id)?;
    let refuse = |status: StatusCode, msg: String| {
        html(status, &new_incident_page(s, &svc, &form, Some(msg)))
    };
    let req = match create_request(&form) {
        Ok(r) => r,
        Err(e) => return Ok(refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())),
    };
    let draft = req.draft;
    match ops::create(&admin.app.incidents, &svc, req, &s.user).await {
        Ok(i) => Ok(done(format!(
            "/admin/incidents/{}?done={}",
            i.id,
            if draft { "drafted" } else { "created" }
        ))),
        Err(e) => {
            let (status, msg) = form_error(e)?;
            Ok(refuse(status, msg))
        }
    }
}

fn create_request(form: &Fields) -> Result<NewIncident, FieldError> {
    let u = update_request(form)?;
    Ok(NewIncident {
        title: form.text("title"),
        status: u.status,
        impact: u.impact,
        message: u.message,
        components: u.components.unwrap_or_default(),
        draft: form.get("draft").is_some(),
    })
}

fn maintenance_page(
    s: &Session,
    svc: &ServiceConfig,
    form: &Fields,
    error: Option<String>,
) -> MaintenancePage {
    let checked = form.all("components");
    MaintenancePage {
        layout: Layout::of(format!("Schedule maintenance — {}", svc.name), s),
        service_id: svc.id.to_string(),
        service_name: svc.name.clone(),
        csrf: s.csrf.clone(),
        title: form.text("title"),
        message: form.text("message"),
        starts: form.text("scheduled_for"),
        ends: form.text("scheduled_until"),
        components: svc
            .components
            .iter()
            .map(|c| Check {
                id: c.id.to_string(),
                name: c.name.clone(),
                checked: checked.contains(&c.id.as_str()),
            })
            .collect(),
        error,
    }
}

/// `GET /admin/s/{service}/maintenance`: the form to schedule a maintenance window.
pub async fn new_maintenance(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    editor(s)?;
    let svc = service_of(&admin, &id)?;
    Ok(html(
        StatusCode::OK,
        &maintenance_page(s, &svc, &Fields::default(), None),
    ))
}

/// A `datetime-local` value ("2026-11-22T08:00", read as UTC) or an RFC 3339 time.
fn utc_time(field: &'static str, v: &str) -> Result<jiff::Timestamp, FieldError> {
    let v = v.trim();
    if let Ok(t) = v.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    v.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| {
            let message = if v.is_empty() {
                "enter a date and time (UTC)".to_owned()
            } else {
                let shown: String = v.chars().take(40).collect();
                format!("{shown:?} is not a date and time like 2026-11-22T08:00 (UTC)")
            };
            field_error(field, message)
        })
}

/// `POST /admin/s/{service}/maintenance`
pub async fn create_maintenance(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: Fields,
) -> Result<Response, AdminError> {
    let s = ctx.check_post(&form, Role::Editor)?;
    let svc = service_of(&admin, &id)?;
    let refuse = |status: StatusCode, msg: String| {
        html(status, &maintenance_page(s, &svc, &form, Some(msg)))
    };
    let times = utc_time("scheduled_for", &form.text("scheduled_for"))
        .and_then(|a| utc_time("scheduled_until", &form.text("scheduled_until")).map(|b| (a, b)));
    let (start, end) = match times {
        Ok(t) => t,
        Err(e) => return Ok(refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())),
    };
    let req = NewMaintenance {
        title: form.text("title"),
        message: form.text("message"),
        scheduled_for: start,
        scheduled_until: end,
        components: MaintenanceComponents::Ids(
            form.all("components")
                .into_iter()
                .map(str::to_owned)
                .collect(),
        ),
    };
    match ops::schedule_maintenance(&admin.app.incidents, &svc, req, &s.user).await {
        Ok(m) => Ok(done(format!("/admin/incidents/{}?done=scheduled", m.id))),
        Err(e) => {
            let (status, msg) = form_error(e)?;
            Ok(refuse(status, msg))
        }
    }
}

/// `GET /admin/people`: users and API tokens (admins only). Both are created with the CLI
/// (`downbeat user add`, `downbeat token create`) or, for users, in the config file.
pub async fn people(State(admin): State<Arc<Admin>>, ctx: Ctx) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    if !s.role.allows(Role::Admin) {
        return Err(AdminError::Forbidden(format!(
            "Users and tokens are for admins; your role is {}.",
            s.role
        )));
    }
    let now_ms = admin.app.clock.now().as_millisecond();
    let at = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(when)
            .unwrap_or_default()
    };
    let mut users = Vec::new();
    for u in admin.app.store.users().await? {
        // Failures and locks are per client address: sum the one, count the other.
        let failures = admin.app.store.login_failures(&u.name).await?;
        let locks: Vec<i64> = failures
            .iter()
            .filter(|f| f.locked_at(now_ms))
            .filter_map(|f| f.locked_until_ms)
            .collect();
        users.push(UserLine {
            locked: match locks.iter().max() {
                Some(until) => format!(
                    "from {} address{} until {}",
                    locks.len(),
                    if locks.len() == 1 { "" } else { "es" },
                    at(*until)
                ),
                None => String::new(),
            },
            created: at(u.created_ms),
            failed: failures.iter().map(|f| f.failures).sum(),
            name: u.name,
            role: u.role,
        });
    }
    let tokens = admin
        .app
        .store
        .tokens()
        .await?
        .into_iter()
        .map(|t| TokenLine {
            created: at(t.created_ms),
            revoked: t.revoked_ms.map(at).unwrap_or_default(),
            name: t.name,
            role: t.role,
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        &PeoplePage {
            layout: Layout::of("Users and tokens", s),
            users,
            tokens,
        },
    ))
}
