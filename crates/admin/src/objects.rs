//! The Configuration section, `/admin/config`: services with their components, monitors
//! and (for admins) notification destinations, each marked as the config file's — shown
//! read-only with the file and key: change it in the file — or managed here, with the forms
//! that create, change and remove those managed here. Like the JSON API, reading it takes
//! the editor role and destinations the admin role.
//!
//! A form has a field per common key plus an "advanced" textarea holding the object's whole
//! table in TOML, so every key the file accepts can be set; once that text is changed it
//! wins over the fields. Changes go through the JSON API's own functions
//! (`downbeat_api::objects`, and so `manage::apply`): a refusal comes back next to the form
//! in the config check's words with the API's status (422: the key and reason; 409: the
//! file and key, or what depends on the object), with what was typed kept. Secrets are
//! write-only: never shown, password inputs never filled in, and one left out keeps the
//! stored value.

use crate::Admin;
use crate::error::AdminError;
use crate::guard::{Ctx, Fields};
use crate::pages::{form_error, home_page};
use crate::session::Session;
use crate::views::{Layout, Opt, html};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use downbeat_api::auth::Role;
use downbeat_api::manage::{self, ManageError};
use downbeat_api::{ApiError, App, objects};
use downbeat_config::layers::{DESTINATION, MONITOR, Origin, SERVICE};
use downbeat_config::notify::{ChatFormat, Destination};
use downbeat_domain::CommentMode;
use downbeat_probe::ProbeKind;
use std::sync::Arc;

/// What a form manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Service,
    /// A `[[service.component]]`, changed within its (stored) service.
    Component,
    Monitor,
    Destination,
}

impl Section {
    /// The sections with addresses of their own: `/admin/config/{section}`.
    fn from_path(s: &str) -> Result<Section, AdminError> {
        match s {
            "services" => Ok(Section::Service),
            "monitors" => Ok(Section::Monitor),
            "destinations" => Ok(Section::Destination),
            _ => Err(AdminError::NotFound(
                "There is no such page in the admin area.".into(),
            )),
        }
    }

    fn path(self) -> &'static str {
        match self {
            Section::Service => "services",
            Section::Component => "components",
            Section::Monitor => "monitors",
            Section::Destination => "destinations",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Section::Service => "service",
            Section::Component => "component",
            Section::Monitor => "monitor",
            Section::Destination => "destination",
        }
    }

    /// The role that reads and changes it (the API's).
    fn role(self) -> Role {
        match self {
            Section::Destination => Role::Admin,
            _ => Role::Editor,
        }
    }

    /// Keys never shown, kept as stored when a change leaves them out: a destination's
    /// secrets, and an HTTP monitor's headers (an `Authorization` lives there).
    fn write_only(self) -> &'static [&'static str] {
        match self {
            Section::Destination => objects::SECRET_KEYS,
            Section::Monitor => &["headers"],
            Section::Service | Section::Component => &[],
        }
    }

    /// What removing it does, for the confirmation.
    fn removal_words(self) -> &'static str {
        match self {
            Section::Service => {
                "Its public page goes at once; its reports and incidents stay in the store. \
                 Monitors and destinations that name it must be removed first."
            }
            Section::Component => {
                "It goes from the service's page; monitors and destinations that name it must \
                 be changed first."
            }
            Section::Monitor => "Its probes stop; its results stay in the store.",
            Section::Destination => "Nothing more is sent to it.",
        }
    }

    fn fields(self) -> &'static [Field] {
        match self {
            Section::Service => SERVICE_FIELDS,
            Section::Component => COMPONENT_FIELDS,
            Section::Monitor => MONITOR_FIELDS,
            Section::Destination => DESTINATION_FIELDS,
        }
    }

    /// Whether an object of `kind` (as `objects::tables` names kinds) is of this section.
    fn holds(self, kind: &str) -> bool {
        match self {
            Section::Service => kind == SERVICE,
            Section::Monitor => kind == MONITOR,
            Section::Destination => kind.starts_with(DESTINATION),
            Section::Component => false,
        }
    }
}

/// A form field: one key of the object's table.
#[derive(Debug)]
struct Field {
    key: &'static str,
    label: &'static str,
    input: Input,
    hint: &'static str,
    required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Text,
    /// A checkbox: `true`, or the key left out.
    Check,
    /// Words separated by commas: an array of strings.
    List,
    /// A password input, never filled in: empty keeps the stored value.
    Secret,
    Choice(Choices),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choices {
    Comments,
    ProbeKind,
    /// The services of the config in force.
    Service,
    Channel,
    Format,
}

impl Field {
    const fn new(
        key: &'static str,
        label: &'static str,
        input: Input,
        hint: &'static str,
    ) -> Field {
        Field {
            key,
            label,
            input,
            hint,
            required: false,
        }
    }

    const fn required(mut self) -> Field {
        self.required = true;
        self
    }
}

const ID_HINT: &str =
    "Lowercase letters, digits, dashes and underscores; it cannot be changed later.";

const SERVICE_FIELDS: &[Field] = &[
    Field::new("id", "Id", Input::Text, ID_HINT).required(),
    Field::new("name", "Name", Input::Text, "").required(),
    Field::new(
        "comments",
        "Community comments",
        Input::Choice(Choices::Comments),
        "",
    ),
    Field::new(
        "auto_publish",
        "Publish incidents Downbeat drafts at once, without waiting for an operator",
        Input::Check,
        "",
    ),
    Field::new(
        "public_changes",
        "Show recorded changes on the public chart",
        Input::Check,
        "",
    ),
];

const COMPONENT_FIELDS: &[Field] = &[
    Field::new("id", "Id", Input::Text, ID_HINT).required(),
    Field::new("name", "Name", Input::Text, "").required(),
    Field::new("description", "Description", Input::Text, ""),
];

const MONITOR_FIELDS: &[Field] = &[
    Field::new("id", "Id", Input::Text, ID_HINT).required(),
    Field::new("service", "Service", Input::Choice(Choices::Service), "").required(),
    Field::new(
        "component",
        "Component",
        Input::Text,
        "A component id of that service; empty for the whole service.",
    ),
    Field::new("kind", "Kind", Input::Choice(Choices::ProbeKind), "").required(),
    Field::new(
        "target",
        "Target",
        Input::Text,
        "http: a URL; tcp: host:port; tls: host:port, host or https://host; dns: a host name.",
    )
    .required(),
    Field::new(
        "interval",
        "Interval",
        Input::Text,
        "How often it is probed, e.g. 30s or 1m.",
    ),
    Field::new(
        "timeout",
        "Timeout",
        Input::Text,
        "e.g. 5s; shorter than the interval.",
    ),
    Field::new(
        "expect_status",
        "Expected HTTP status",
        Input::Text,
        "http only: e.g. 200-299,304 or 2xx (default 200-399).",
    ),
    Field::new(
        "body_contains",
        "The body contains",
        Input::Text,
        "http only: text the answer must contain.",
    ),
];

const DESTINATION_FIELDS: &[Field] = &[
    Field::new("channel", "Channel", Input::Choice(Choices::Channel), "").required(),
    Field::new("id", "Id", Input::Text, ID_HINT).required(),
    Field::new(
        "url",
        "URL",
        Input::Text,
        "webhook: where to post; pagerduty, opsgenie, telegram, pushover: the API (default \
         theirs). Shown with its path hidden once saved; left as shown, it stays.",
    ),
    Field::new(
        "to",
        "To",
        Input::List,
        "email: addresses, separated by commas.",
    ),
    Field::new(
        "format",
        "Format",
        Input::Choice(Choices::Format),
        "webhook only.",
    ),
    Field::new(
        "events",
        "Events",
        Input::List,
        "Types or families separated by commas, e.g. incident, monitor.down; empty: every event.",
    ),
    Field::new(
        "services",
        "Services",
        Input::List,
        "Service ids separated by commas; empty: every service.",
    ),
    Field::new(
        "operators",
        "Operators' channel: also drafts Downbeat writes before the public hears",
        Input::Check,
        "",
    ),
    Field::new(
        "chat_id",
        "Chat id",
        Input::Text,
        "telegram: a chat's number or @channel.",
    ),
    Field::new(
        "homeserver",
        "Homeserver",
        Input::Text,
        "matrix: the homeserver's URL.",
    ),
    Field::new("room_id", "Room id", Input::Text, "matrix: !opaque:server."),
    Field::new(
        "secret",
        "Signing secret",
        Input::Secret,
        "webhook: at least 16 characters; required by the downbeat format.",
    ),
    Field::new(
        "token",
        "Token",
        Input::Secret,
        "webhook: sent as a bearer token; pushover: the application's token.",
    ),
    Field::new("routing_key", "Routing key", Input::Secret, "pagerduty."),
    Field::new("api_key", "API key", Input::Secret, "opsgenie."),
    Field::new("bot_token", "Bot token", Input::Secret, "telegram."),
    Field::new("access_token", "Access token", Input::Secret, "matrix."),
    Field::new(
        "user",
        "User key",
        Input::Secret,
        "pushover: a user or group key.",
    ),
];

fn options(choices: Choices, app: &App) -> Vec<(String, String)> {
    let same = |w: &str| (w.to_owned(), w.to_owned());
    match choices {
        Choices::Comments => CommentMode::ALL
            .iter()
            .map(|m| match m {
                CommentMode::Off => (String::new(), "off (the default)".to_owned()),
                m => same(m.as_str()),
            })
            .collect(),
        Choices::ProbeKind => {
            // http first: the usual monitor.
            let mut kinds: Vec<ProbeKind> = ProbeKind::ALL.to_vec();
            kinds.sort_by_key(|k| *k != ProbeKind::Http);
            kinds.into_iter().map(|k| same(k.as_str())).collect()
        }
        Choices::Service => std::iter::once((String::new(), "Choose a service".to_owned()))
            .chain(
                app.config
                    .load()
                    .services
                    .iter()
                    .map(|s| (s.id.to_string(), format!("{} ({})", s.name, s.id))),
            )
            .collect(),
        Choices::Channel => Destination::KINDS.iter().map(|k| same(k)).collect(),
        Choices::Format => {
            let mut out = vec![
                (String::new(), "downbeat (the default)".to_owned()),
                same("standard-webhooks"),
            ];
            out.extend(ChatFormat::ALL.iter().map(|c| same(c.as_str())));
            out.extend([same("ntfy"), same("template")]);
            out
        }
    }
}

/// The object a page is about: `id` None for a new one.
#[derive(Debug, Clone)]
struct Which {
    section: Section,
    /// A component's service.
    service: String,
    id: Option<String>,
}

impl Which {
    fn new(section: Section, id: Option<String>) -> Which {
        Which {
            section,
            service: String::new(),
            id,
        }
    }

    fn component(service: String, id: Option<String>) -> Which {
        Which {
            section: Section::Component,
            service,
            id,
        }
    }

    /// Where new ones are made: `/admin/config/monitors`, `/admin/config/components/radio`.
    fn collection(&self) -> String {
        match self.section {
            Section::Component => format!("/admin/config/components/{}", self.service),
            s => format!("/admin/config/{}", s.path()),
        }
    }

    fn url(&self) -> String {
        match &self.id {
            Some(id) => format!("{}/{id}", self.collection()),
            None => self.collection(),
        }
    }

    /// How pages name it: `monitor "api"`, `component "stream" of service "radio"`.
    fn name(&self) -> String {
        let id = self.id.as_deref().unwrap_or_default();
        match self.section {
            Section::Component => format!("component {id:?} of service {:?}", self.service),
            s => format!("{} {id:?}", s.word()),
        }
    }
}

/// An object of the config in force, or a stored one left out of it.
struct Found {
    /// `service`, `monitor`, `notify.<channel>`; `component` for components.
    kind: String,
    table: toml::Table,
    /// None: stored, but left out of the config in force.
    origin: Option<Origin>,
}

impl Found {
    /// "test.toml, key monitor[0]" for the file's objects.
    fn declared_at(&self) -> Option<String> {
        match &self.origin {
            Some(Origin::File { file, key }) => Some(format!("{file}, key {key}")),
            _ => None,
        }
    }
}

async fn find(app: &App, which: &Which) -> Result<Found, AdminError> {
    let id = which.id.as_deref().unwrap_or_default();
    let missing = || {
        let shown: String = which.name().chars().take(160).collect();
        AdminError::NotFound(format!("There is no {shown}."))
    };
    let all = objects::tables(app).await?;
    if which.section != Section::Component {
        return all
            .into_iter()
            .find(|(k, i, ..)| i == id && which.section.holds(k))
            .map(|(kind, _, table, origin)| Found {
                kind,
                table,
                origin,
            })
            .ok_or_else(missing);
    }
    let (_, _, service, origin) = all
        .into_iter()
        .find(|(k, i, ..)| k == SERVICE && *i == which.service)
        .ok_or_else(missing)?;
    let list = service
        .get("component")
        .and_then(toml::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let (at, table) = list
        .iter()
        .enumerate()
        .find_map(|(at, c)| {
            let t = c.as_table()?;
            (t.get("id").and_then(toml::Value::as_str) == Some(id)).then(|| (at, t.clone()))
        })
        .ok_or_else(missing)?;
    let origin = origin.map(|o| match o {
        Origin::File { file, key } => Origin::File {
            file,
            key: format!("{key}.component[{at}]"),
        },
        o => o,
    });
    Ok(Found {
        kind: "component".into(),
        table,
        origin,
    })
}

/// The table as pages show it: the API's shown form, write-only keys left out.
fn shown(section: Section, kind: &str, table: &toml::Table) -> toml::Table {
    let (mut t, _) = objects::shown_table(kind, table);
    for k in section.write_only() {
        t.remove(*k);
    }
    t
}

fn toml_text(t: &toml::Table) -> String {
    if t.is_empty() {
        return String::new();
    }
    toml::to_string(t).unwrap_or_default()
}

/// A textarea's text as typed, with the browser's CRLF line ends made LF.
fn typed_text(form: &Fields, name: &str) -> String {
    form.text(name).replace("\r\n", "\n")
}

/// A field's value as `t` holds it, in the form's words.
fn value_of(f: &Field, t: &toml::Table) -> String {
    let word = |v: &toml::Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    match (f.input, t.get(f.key)) {
        (Input::Secret, _) | (_, None) => String::new(),
        (Input::Check, Some(v)) => if v.as_bool() == Some(true) { "on" } else { "" }.to_owned(),
        (Input::List, Some(toml::Value::Array(a))) => {
            a.iter().map(word).collect::<Vec<_>>().join(", ")
        }
        (_, Some(v)) => word(v),
    }
}

/// A field's value as sent.
fn sent(f: &Field, form: &Fields) -> String {
    match f.input {
        Input::Check => if form.get(f.key).is_some() { "on" } else { "" }.to_owned(),
        Input::Secret => form.text(f.key),
        _ => form.text(f.key).trim().to_owned(),
    }
}

/// The table from the fields: `base` (the stored table) with each field that differs from
/// what it showed written over it. A field left as shown keeps the stored value as it is —
/// a URL whose path was hidden, a value of another type than the field's.
fn from_fields(
    section: Section,
    form: &Fields,
    base: &toml::Table,
    shown: &toml::Table,
) -> toml::Table {
    let mut t = base.clone();
    for f in section.fields() {
        let given = sent(f, form);
        if given == value_of(f, shown) {
            continue;
        }
        let key = f.key.to_owned();
        match f.input {
            _ if given.is_empty() => {
                t.remove(f.key);
            }
            Input::Check => {
                t.insert(key, toml::Value::Boolean(true));
            }
            Input::List => {
                let words = given
                    .split(',')
                    .map(str::trim)
                    .filter(|w| !w.is_empty())
                    .map(|w| toml::Value::String(w.to_owned()))
                    .collect();
                t.insert(key, toml::Value::Array(words));
            }
            Input::Text | Input::Secret | Input::Choice(_) => {
                t.insert(key, toml::Value::String(given));
            }
        }
    }
    t
}

/// A form field as the template prints it.
pub struct FieldView {
    pub key: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    /// `text`, `checkbox`, `select`, `password`.
    pub input: &'static str,
    pub value: String,
    pub checked: bool,
    pub options: Vec<Opt>,
    pub required: bool,
    /// The id of an existing object, which cannot change.
    pub readonly: bool,
    /// The field the refusal names.
    pub invalid: bool,
}

/// A create or change form, or the read-only view of an object the file declares.
#[derive(Template)]
#[template(path = "object.html")]
pub struct ObjectPage {
    pub layout: Layout,
    pub csrf: String,
    pub heading: String,
    pub word: &'static str,
    /// "test.toml, key monitor[0]": the file's, shown read-only.
    pub declared: Option<String>,
    /// A stored object the config in force leaves out.
    pub left_out: bool,
    pub action: String,
    pub submit: &'static str,
    pub fields: Vec<FieldView>,
    pub secrets: Vec<FieldView>,
    /// The secrets that are set (their values are never shown).
    pub secrets_set: Vec<String>,
    pub advanced: String,
    pub advanced_open: bool,
    pub error: Option<String>,
    pub remove_url: Option<String>,
    /// For a stored service: where its components are added.
    pub new_component_url: Option<String>,
}

/// What a refused form shows again.
struct Refusal<'a> {
    form: &'a Fields,
    message: String,
    /// The key the config check names, when it is one of the form's.
    field: String,
}

fn allowed(s: &Session, section: Section) -> Result<(), AdminError> {
    if s.role.allows(section.role()) {
        return Ok(());
    }
    Err(AdminError::Forbidden(format!(
        "The configuration's {}s are for the {} role; yours is {}.",
        section.word(),
        section.role(),
        s.role
    )))
}

async fn object_page(
    admin: &Admin,
    s: &Session,
    which: &Which,
    refused: Option<Refusal<'_>>,
    status: StatusCode,
) -> Result<Response, AdminError> {
    let app = &admin.app;
    let section = which.section;
    allowed(s, section)?;
    let found = match &which.id {
        Some(_) => Some(find(app, which).await?),
        None => None,
    };
    // Components are added to services managed here only: the file's say so at once.
    let parent_declared = if section == Section::Component && which.id.is_none() {
        let service = Which::new(Section::Service, Some(which.service.clone()));
        find(app, &service).await?.declared_at()
    } else {
        None
    };
    let (kind, raw) = found
        .as_ref()
        .map(|f| (f.kind.clone(), f.table.clone()))
        .unwrap_or_default();
    let shown_table = shown(section, &kind, &raw);
    let declared = found
        .as_ref()
        .and_then(Found::declared_at)
        .or(parent_declared);
    let left_out = found.as_ref().is_some_and(|f| f.origin.is_none());
    let (_, secrets_set) = objects::shown_table(&kind, &raw);
    let mut fields = Vec::new();
    let mut secrets = Vec::new();
    for f in section.fields() {
        let value = match &refused {
            Some(r) => sent(f, r.form),
            None if found.is_none() => match f.key {
                "kind" => ProbeKind::Http.as_str().to_owned(),
                "channel" => "webhook".to_owned(),
                _ => String::new(),
            },
            None => value_of(f, &shown_table),
        };
        let value = if f.input == Input::Secret {
            String::new()
        } else {
            value
        };
        let (input, opts) = match f.input {
            Input::Text | Input::List => ("text", Vec::new()),
            Input::Check => ("checkbox", Vec::new()),
            Input::Secret => ("password", Vec::new()),
            Input::Choice(c) => {
                let mut all = options(c, app);
                if !value.is_empty() && !all.iter().any(|(v, _)| *v == value) {
                    // Keep what was there (or typed) even when it is not among the choices.
                    all.push((value.clone(), value.clone()));
                }
                let opts = all
                    .iter()
                    .map(|(v, l)| Opt::new(v, l, *v == value))
                    .collect();
                ("select", opts)
            }
        };
        let view = FieldView {
            key: f.key,
            label: f.label,
            hint: f.hint,
            input,
            checked: value == "on",
            value,
            options: opts,
            required: f.required,
            readonly: f.key == "id" && which.id.is_some(),
            invalid: refused
                .as_ref()
                .is_some_and(|r| r.field == f.key || r.field.starts_with(&format!("{}.", f.key))),
        };
        if f.input == Input::Secret {
            secrets.push(view);
        } else {
            fields.push(view);
        }
    }
    let prefilled = toml_text(&shown_table);
    let (advanced, advanced_open) = match &refused {
        Some(r) => {
            let typed = typed_text(r.form, "advanced");
            let open = !typed.trim().is_empty() && typed.trim() != prefilled.trim();
            (typed, open)
        }
        None => (prefilled, false),
    };
    let heading = match (&which.id, section) {
        (None, Section::Component) => format!("New component of service {:?}", which.service),
        (None, s) => format!("New {}", s.word()),
        (Some(_), _) => {
            let mut n = which.name();
            if let Some(c) = n.get_mut(..1) {
                c.make_ascii_uppercase();
            }
            n
        }
    };
    let from_file = declared.is_some();
    let page = ObjectPage {
        layout: Layout::of(heading.clone(), s),
        csrf: s.csrf.clone(),
        heading,
        word: section.word(),
        declared,
        left_out,
        action: which.url(),
        submit: if which.id.is_some() {
            "Save changes"
        } else {
            "Create"
        },
        fields,
        secrets,
        secrets_set,
        advanced,
        advanced_open,
        error: refused.map(|r| r.message),
        remove_url: (which.id.is_some() && !from_file).then(|| format!("{}/remove", which.url())),
        new_component_url: (section == Section::Service && which.id.is_some() && !from_file)
            .then(|| Which::component(which.id.clone().unwrap_or_default(), None).collection()),
    };
    Ok(html(status, &page))
}

/// Stores what a form sent: the advanced text when it was changed, else the fields.
async fn submit(
    admin: &Admin,
    s: &Session,
    which: &Which,
    form: &Fields,
) -> Result<Response, AdminError> {
    let app = &admin.app;
    let section = which.section;
    let found = match &which.id {
        Some(_) => Some(find(app, which).await?),
        None => None,
    };
    let (kind, raw) = found.map(|f| (f.kind, f.table)).unwrap_or_default();
    let shown_table = shown(section, &kind, &raw);
    let typed = typed_text(form, "advanced");
    let use_text = !typed.trim().is_empty() && typed.trim() != toml_text(&shown_table).trim();
    let refuse = |message: String, field: String, status: StatusCode| async move {
        object_page(
            admin,
            s,
            which,
            Some(Refusal {
                form,
                message,
                field,
            }),
            status,
        )
        .await
    };
    let mut table = if use_text {
        match typed.parse::<toml::Table>() {
            Ok(t) => t,
            Err(e) => {
                let line = e
                    .span()
                    .map(|r| typed[..r.start.min(typed.len())].matches('\n').count() + 1);
                let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
                let message = format!(
                    "The advanced table is not valid TOML{at}: {}",
                    e.message().trim()
                );
                return refuse(message, "advanced".into(), StatusCode::UNPROCESSABLE_ENTITY).await;
            }
        }
    } else {
        let mut base = raw.clone();
        if section == Section::Destination {
            // The stored table has no `channel`: its kind says it.
            if let Some(c) = kind.strip_prefix(DESTINATION) {
                base.insert("channel".into(), toml::Value::String(c.to_owned()));
            }
        }
        from_fields(section, form, &base, &shown_table)
    };
    if which.id.is_some() {
        for k in section.write_only() {
            if !table.contains_key(*k)
                && let Some(v) = raw.get(*k)
            {
                table.insert((*k).to_owned(), v.clone());
            }
        }
    }
    match change(app, &s.user, which, table).await {
        Ok(()) => {
            tracing::info!(object = %which.name(), user = %s.user, "config object saved in the admin area");
            let done = if which.id.is_some() {
                "changed"
            } else {
                "created"
            };
            Ok(Redirect::to(&format!("/admin/config?done={done}")).into_response())
        }
        Err(e) => {
            let field = match &e {
                ApiError::Invalid { field, .. } => field.clone(),
                _ => String::new(),
            };
            let (status, message) = form_error(e)?;
            refuse(message, field, status).await
        }
    }
}

/// The change, through the JSON API's functions.
async fn change(app: &App, by: &str, which: &Which, table: toml::Table) -> Result<(), ApiError> {
    match (which.section, which.id.as_deref()) {
        (Section::Service, None) => objects::create(app, by, SERVICE, table).await.map(drop),
        (Section::Service, Some(id)) => objects::replace(app, by, SERVICE, id, table)
            .await
            .map(drop),
        (Section::Monitor, None) => objects::create(app, by, MONITOR, table).await.map(drop),
        (Section::Monitor, Some(id)) => objects::replace(app, by, MONITOR, id, table)
            .await
            .map(drop),
        (Section::Component, None) => objects::add_component(app, by, &which.service, table)
            .await
            .map(drop),
        (Section::Component, Some(id)) => {
            objects::change_component(app, by, &which.service, id, table)
                .await
                .map(drop)
        }
        (Section::Destination, id) => {
            let (kind, mut table) = objects::destination_of(table)?;
            match id {
                None => objects::create(app, by, &kind, table).await.map(drop),
                Some(id) => {
                    objects::keep_stored_secrets(app, id, &mut table).await?;
                    objects::replace(app, by, &kind, id, table).await.map(drop)
                }
            }
        }
    }
}

async fn delete(app: &App, by: &str, which: &Which) -> Result<(), ApiError> {
    let id = which.id.as_deref().unwrap_or_default();
    match which.section {
        Section::Service => objects::remove(app, by, SERVICE, id).await,
        Section::Monitor => objects::remove(app, by, MONITOR, id).await,
        Section::Destination => objects::remove_destination(app, by, id).await,
        Section::Component => objects::remove_component(app, by, &which.service, id).await,
    }
    .map(drop)
}

/// The confirmation before a removal.
#[derive(Template)]
#[template(path = "remove.html")]
pub struct RemovePage {
    pub layout: Layout,
    pub csrf: String,
    pub name: String,
    pub consequence: &'static str,
    pub action: String,
    pub back: String,
    pub declared: Option<String>,
    pub error: Option<String>,
}

async fn remove_page(
    admin: &Admin,
    s: &Session,
    which: &Which,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, AdminError> {
    allowed(s, which.section)?;
    let found = find(&admin.app, which).await?;
    let name = which.name();
    Ok(html(
        status,
        &RemovePage {
            layout: Layout::of(format!("Remove {name}"), s),
            csrf: s.csrf.clone(),
            consequence: which.section.removal_words(),
            action: format!("{}/remove", which.url()),
            back: which.url(),
            declared: found.declared_at(),
            name,
            error,
        },
    ))
}

async fn remove_submit(admin: &Admin, s: &Session, which: &Which) -> Result<Response, AdminError> {
    match delete(&admin.app, &s.user, which).await {
        Ok(()) => {
            tracing::info!(object = %which.name(), user = %s.user, "config object removed in the admin area");
            Ok(Redirect::to("/admin/config?done=removed").into_response())
        }
        Err(e) => {
            let (status, message) = form_error(e)?;
            remove_page(admin, s, which, Some(message), status).await
        }
    }
}

// ----------------------------------------------------------------------------------------
// The list.

/// An object's line in the list.
pub struct ObjectLine {
    pub id: String,
    /// What it is, in a few words: a name, a monitor's kind and target, a channel.
    pub summary: String,
    /// "config file test.toml, key monitor[0]", or None when managed here.
    pub declared: Option<String>,
    pub left_out: bool,
    pub url: String,
}

pub struct ServiceBlock {
    pub line: ObjectLine,
    pub components: Vec<ObjectLine>,
    /// Where a component is added (services managed here).
    pub new_component_url: Option<String>,
}

#[derive(Template)]
#[template(path = "config.html")]
pub struct ConfigPage {
    pub layout: Layout,
    pub notice: Option<&'static str>,
    pub admin: bool,
    pub services: Vec<ServiceBlock>,
    pub monitors: Vec<ObjectLine>,
    pub destinations: Vec<ObjectLine>,
    /// The last reload's refusal and stored objects left out.
    pub problems: Vec<String>,
}

fn text_of(t: &toml::Table, key: &str) -> String {
    t.get(key)
        .and_then(toml::Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn line(which: &Which, found: &Found, summary: String) -> ObjectLine {
    ObjectLine {
        id: which.id.clone().unwrap_or_default(),
        summary,
        declared: found.declared_at(),
        left_out: found.origin.is_none(),
        url: which.url(),
    }
}

fn notice(raw: Option<&str>) -> Option<&'static str> {
    let q: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or_default()).ok()?;
    Some(match q.iter().find(|(k, _)| k == "done")?.1.as_str() {
        "created" => "Created: it is in force now.",
        "changed" => "Saved: the change is in force now.",
        "removed" => "Removed.",
        _ => return None,
    })
}

/// `GET /admin/config`
pub async fn list(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    allowed(s, Section::Service)?;
    let is_admin = s.role.allows(Role::Admin);
    let mut services = Vec::new();
    let mut monitors = Vec::new();
    let mut destinations = Vec::new();
    for (kind, id, table, origin) in objects::tables(&admin.app).await? {
        let found = Found {
            kind: kind.clone(),
            table,
            origin,
        };
        let t = &found.table;
        if kind == SERVICE {
            let which = Which::new(Section::Service, Some(id.clone()));
            let from_file = found.declared_at().is_some();
            let components = t
                .get("component")
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(toml::Value::as_table)
                .enumerate()
                .map(|(at, c)| {
                    let cid = text_of(c, "id");
                    let cw = Which::component(id.clone(), Some(cid));
                    let mut l = line(&cw, &found, text_of(c, "name"));
                    l.declared = l.declared.map(|d| format!("{d}.component[{at}]"));
                    l
                })
                .collect();
            services.push(ServiceBlock {
                line: line(&which, &found, text_of(t, "name")),
                components,
                new_component_url: (!from_file).then(|| Which::component(id, None).collection()),
            });
        } else if kind == MONITOR {
            let which = Which::new(Section::Monitor, Some(id));
            let mut summary = format!(
                "{} {} of {}",
                text_of(t, "kind"),
                text_of(t, "target"),
                text_of(t, "service")
            );
            let component = text_of(t, "component");
            if !component.is_empty() {
                summary.push_str(&format!(" ({component})"));
            }
            monitors.push(line(&which, &found, summary));
        } else if is_admin && kind.starts_with(DESTINATION) {
            let which = Which::new(Section::Destination, Some(id));
            let (shown_t, _) = objects::shown_table(&kind, t);
            let mut summary = kind.trim_start_matches(DESTINATION).to_owned();
            let url = text_of(&shown_t, "url");
            if !url.is_empty() {
                summary.push_str(&format!(" to {url}"));
            }
            destinations.push(line(&which, &found, summary));
        }
    }
    let status = admin.app.management.status();
    let problems = status
        .reload_error
        .into_iter()
        .chain(status.refused)
        .collect();
    Ok(html(
        StatusCode::OK,
        &ConfigPage {
            layout: Layout::of("Configuration", s),
            notice: notice(raw.as_deref()),
            admin: is_admin,
            services,
            monitors,
            destinations,
            problems,
        },
    ))
}

// ----------------------------------------------------------------------------------------
// The handlers.

/// `GET /admin/config/{section}`: the form for a new one.
pub async fn new_form(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(section): Path<String>,
) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    let which = Which::new(Section::from_path(&section)?, None);
    object_page(&admin, s, &which, None, StatusCode::OK).await
}

/// `POST /admin/config/{section}`: creates one.
pub async fn create(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(section): Path<String>,
    form: Fields,
) -> Result<Response, AdminError> {
    let section = Section::from_path(&section)?;
    let s = ctx.check_post(&form, section.role())?;
    submit(&admin, s, &Which::new(section, None), &form).await
}

/// `GET /admin/config/{section}/{id}`: its form, or its table read-only when the file
/// declares it.
pub async fn edit(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path((section, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    let which = Which::new(Section::from_path(&section)?, Some(id));
    object_page(&admin, s, &which, None, StatusCode::OK).await
}

/// `POST /admin/config/{section}/{id}`: changes it.
pub async fn save(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path((section, id)): Path<(String, String)>,
    form: Fields,
) -> Result<Response, AdminError> {
    let section = Section::from_path(&section)?;
    let s = ctx.check_post(&form, section.role())?;
    submit(&admin, s, &Which::new(section, Some(id)), &form).await
}

/// `GET /admin/config/{section}/{id}/remove`: the confirmation.
pub async fn confirm_remove(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path((section, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    let which = Which::new(Section::from_path(&section)?, Some(id));
    remove_page(&admin, s, &which, None, StatusCode::OK).await
}

/// `POST /admin/config/{section}/{id}/remove`
pub async fn remove(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path((section, id)): Path<(String, String)>,
    form: Fields,
) -> Result<Response, AdminError> {
    let section = Section::from_path(&section)?;
    let s = ctx.check_post(&form, section.role())?;
    remove_submit(&admin, s, &Which::new(section, Some(id))).await
}

/// `GET /admin/config/components/{service}`: the form for a new component.
pub async fn new_component(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(service): Path<String>,
) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    object_page(
        &admin,
        s,
        &Which::component(service, None),
        None,
        StatusCode::OK,
    )
    .await
}

/// `POST /admin/config/components/{service}`
pub async fn create_component(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path(service): Path<String>,
    form: Fields,
) -> Result<Response, AdminError> {
    let s = ctx.check_post(&form, Role::Editor)?;
    submit(&admin, s, &Which::component(service, None), &form).await
}

/// `GET /admin/config/components/{service}/{component}`
pub async fn edit_component(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path((service, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    let which = Which::component(service, Some(id));
    object_page(&admin, s, &which, None, StatusCode::OK).await
}

/// `POST /admin/config/components/{service}/{component}`
pub async fn save_component(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path((service, id)): Path<(String, String)>,
    form: Fields,
) -> Result<Response, AdminError> {
    let s = ctx.check_post(&form, Role::Editor)?;
    submit(&admin, s, &Which::component(service, Some(id)), &form).await
}

/// `GET /admin/config/components/{service}/{component}/remove`
pub async fn confirm_remove_component(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path((service, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    let which = Which::component(service, Some(id));
    remove_page(&admin, s, &which, None, StatusCode::OK).await
}

/// `POST /admin/config/components/{service}/{component}/remove`
pub async fn remove_component(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    Path((service, id)): Path<(String, String)>,
    form: Fields,
) -> Result<Response, AdminError> {
    let s = ctx.check_post(&form, Role::Editor)?;
    remove_submit(&admin, s, &Which::component(service, Some(id))).await
}

/// `POST /admin/reload`: reads the config file again (admins). The dashboard says how it
/// went; a file that does not validate changes nothing and its error stays on the
/// dashboard until a reload succeeds.
pub async fn reload(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    form: Fields,
) -> Result<Response, AdminError> {
    let s = ctx.check_post(&form, Role::Admin)?;
    match manage::reload(&admin.app).await {
        Ok(waiting) => {
            tracing::info!(user = %s.user, "config file reloaded from the admin area");
            let mut said = "The config file was read again and is in force.".to_owned();
            if !waiting.is_empty() {
                said.push_str(&format!(
                    " Changed settings that take effect at the next restart: {}.",
                    waiting.join(", ")
                ));
            }
            home_page(&admin, s, Some(said), None, StatusCode::OK).await
        }
        Err(ManageError::Store(e)) => Err(e.into()),
        Err(e) => {
            home_page(
                &admin,
                s,
                None,
                Some(format!("The config file was not reloaded: {e}")),
                StatusCode::CONFLICT,
            )
            .await
        }
    }
}
