//! Services, components, monitors and notification destinations managed at runtime.
//!
//! Every body is the object's table as the config file writes it, in JSON: the same keys
//! (`[[service]]`'s `id`, `name`, `component`…; `[[monitor]]`'s `id`, `service`, `kind`,
//! `target`…; a destination's `[[notify.webhook]]` or `[[notify.email]]` keys plus
//! `"channel": "webhook"`), checked by the same validator, refused in the same words (422,
//! naming the key). Editors manage services, components and monitors; admins manage
//! destinations, whose secrets are write-only: they are never shown, and a change that
//! leaves one out keeps the one stored. Objects the config file declares are shown with
//! their origin and cannot be changed here (409 naming the file and key).

use super::ApiError;
use super::body::json_request;
use crate::app::App;
use crate::auth::{Principal, Role};
use crate::manage::{self, Change, ManageError};
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use downbeat_config::layers::{self, DESTINATION, MONITOR, Object, Origin, SERVICE};
use serde::Serialize;
use serde_json::Value;

/// The largest object body read.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Keys of a destination that are never shown: every key the channels read as a secret
/// (`headers`: a templated webhook's header values may carry credentials; `user`:
/// Pushover's user key).
pub const SECRET_KEYS: &[&str] = &[
    "secret",
    "token",
    "password",
    "routing_key",
    "api_key",
    "bot_token",
    "access_token",
    "user",
    "headers",
];

/// An object as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ObjectBody {
    /// `service`, `monitor` or `destination`.
    kind: &'static str,
    id: String,
    /// `file` (declared in the config file: change it there) or `store` (managed here).
    origin: &'static str,
    /// For objects of the file: the file and the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    declared_at: Option<String>,
    /// The object's table as the config file writes it (a destination's secrets left out,
    /// its URL's path hidden).
    #[schema(value_type = Object)]
    config: Value,
    /// A destination's secrets that are set (their values are never shown).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets_set: Vec<String>,
}

/// Every object of the config in force, and where it comes from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ObjectsBody {
    objects: Vec<ObjectBody>,
    /// Stored objects left out of the config in force (they do not fit the file any more),
    /// and the last reload's refusal.
    problems: Vec<String>,
}

fn kind_word(kind: &str) -> &'static str {
    match kind {
        SERVICE => "service",
        MONITOR => "monitor",
        _ => "destination",
    }
}

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::NotFound(_) => ApiError::NotFound(e.to_string()),
            ManageError::Invalid(o) => ApiError::Invalid {
                field: o.key.clone(),
                message: o.to_string(),
            },
            ManageError::Store(s) => s.into(),
            ManageError::FromFile { .. }
            | ManageError::Exists(_)
            | ManageError::Breaks { .. }
            | ManageError::File(_) => ApiError::Conflict(e.to_string()),
        }
    }
}

/// A JSON body as a TOML table: `null` is left out (TOML has none).
pub fn table_of(v: Value, example: &str) -> Result<toml::Table, ApiError> {
    fn strip(v: Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k, strip(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.into_iter().map(strip).collect()),
            other => other,
        }
    }
    match strip(v) {
        Value::Object(m) => toml::Table::try_from(m)
            .map_err(|e| ApiError::BadRequest(format!("the body is not a config table: {e}"))),
        _ => Err(ApiError::BadRequest(format!(
            "the body must be a JSON object, e.g. {example}"
        ))),
    }
}

/// The object's id: the path's, which the body may repeat but not contradict.
pub fn with_id(mut t: toml::Table, id: Option<&str>) -> Result<(String, toml::Table), ApiError> {
    let given = t.get("id").map(|v| v.as_str().map(str::to_owned));
    let id = match (id, given) {
        (Some(path), None) => path.to_owned(),
        (Some(path), Some(Some(body))) if body == path => path.to_owned(),
        (Some(path), Some(_)) => {
            return Err(ApiError::Invalid {
                field: "id".into(),
                message: format!(
                    "id: must be {path:?}, as in the path (an id cannot be changed: create another)"
                ),
            });
        }
        (None, Some(Some(body))) => body,
        (None, Some(None)) => {
            return Err(ApiError::Invalid {
                field: "id".into(),
                message: "id: must be a string".into(),
            });
        }
        (None, None) => {
            return Err(ApiError::Invalid {
                field: "id".into(),
                message: "id: is required".into(),
            });
        }
    };
    t.insert("id".into(), toml::Value::String(id.clone()));
    Ok((id, t))
}

fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(id)| id)
        .map_err(|_| ApiError::NotFound("unknown object".into()))
}

/// The shown form of an object's table: a destination's secrets left out (the second
/// value names those that are set), its URL's path hidden, its channel as `channel`.
pub fn shown_table(kind: &str, table: &toml::Table) -> (toml::Table, Vec<String>) {
    let mut table = table.clone();
    let mut secrets_set = Vec::new();
    if kind.starts_with(DESTINATION) {
        for k in SECRET_KEYS {
            if table.remove(*k).is_some() {
                secrets_set.push((*k).to_owned());
            }
        }
        if let Some(toml::Value::String(url)) = table.get_mut("url") {
            *url = hide_path(url);
        }
        table.insert(
            "channel".into(),
            toml::Value::String(kind.trim_start_matches(DESTINATION).to_owned()),
        );
    }
    (table, secrets_set)
}

/// The shown form of an object.
fn body_of(kind: &str, id: &str, table: &toml::Table, origin: Option<Origin>) -> ObjectBody {
    let (table, secrets_set) = shown_table(kind, table);
    let (origin, declared_at) = match origin {
        Some(Origin::File { file, key }) => ("file", Some(format!("{file}: {key}"))),
        _ => ("store", None),
    };
    ObjectBody {
        kind: kind_word(kind),
        id: id.to_owned(),
        origin,
        declared_at,
        config: serde_json::to_value(&table).unwrap_or(Value::Null),
        secrets_set,
    }
}

/// `https://hooks.example.com/services/T0/B0/XXXX` → `https://hooks.example.com/…`: chat
/// webhook URLs carry their secret in the path.
pub fn hide_path(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
            if host.len() == rest.len() {
                url.to_owned()
            } else {
                format!("{scheme}://{host}/…")
            }
        }
        None => "…".into(),
    }
}

/// The table of every object of the config in force, from the file's text or the store:
/// `(kind, id, table, origin)`, the file's first.
pub async fn tables(
    app: &App,
) -> Result<Vec<(String, String, toml::Table, Option<Origin>)>, ApiError> {
    let config = app.config.get();
    let file = layers::parse_table(&config.source).unwrap_or_default();
    let mut out = Vec::new();
    let mut kinds = vec![SERVICE.to_owned(), MONITOR.to_owned()];
    if let Some(n) = file.get("notify").and_then(toml::Value::as_table) {
        kinds.extend(
            n.iter()
                .filter(|(_, v)| v.is_array())
                .map(|(k, _)| format!("{DESTINATION}{k}")),
        );
    }
    for kind in &kinds {
        let list = match kind.split_once('.') {
            Some((a, b)) => file.get(a).and_then(|t| t.get(b)),
            None => file.get(kind.as_str()),
        };
        for t in list.and_then(toml::Value::as_array).into_iter().flatten() {
            if let (Some(t), Some(id)) = (t.as_table(), t.get("id").and_then(toml::Value::as_str)) {
                out.push((
                    kind.clone(),
                    id.to_owned(),
                    t.clone(),
                    config.origin(kind, id),
                ));
            }
        }
    }
    for (o, _) in manage::stored(app).await? {
        let origin = config.origin(&o.kind, &o.id);
        out.push((o.kind, o.id, o.table, origin));
    }
    Ok(out)
}

async fn one(app: &App, kind: &str, id: &str) -> Result<ObjectBody, ApiError> {
    tables(app)
        .await?
        .into_iter()
        .find(|(k, i, _, _)| {
            i == id && (k == kind || (k.starts_with(DESTINATION) && kind.starts_with(DESTINATION)))
        })
        .map(|(k, i, t, o)| body_of(&k, &i, &t, o))
        .ok_or_else(|| ApiError::NotFound(format!("no {}", layers::name(kind, id))))
}

/// `GET /api/v1/config/objects`
#[utoipa::path(get, path = "/api/v1/config/objects", tag = "config", operation_id = "list_config_objects",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Services and monitors (and, for an admin, destinations) with their origin", body = ObjectsBody),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not editor or admin"),
    ))]
pub async fn list(State(app): State<App>, who: Principal) -> Result<Json<ObjectsBody>, ApiError> {
    who.require(Role::Editor)?;
    let admin = who.require(Role::Admin).is_ok();
    let objects = tables(&app)
        .await?
        .into_iter()
        .filter(|(k, ..)| admin || !k.starts_with(DESTINATION))
        .map(|(k, i, t, o)| body_of(&k, &i, &t, o))
        .collect();
    let status = app.management.status();
    let problems = status
        .reload_error
        .into_iter()
        .chain(status.refused)
        .collect();
    Ok(Json(ObjectsBody { objects, problems }))
}

/// Creates object `kind` from `table` (its `id` inside), as `by`.
pub async fn create(
    app: &App,
    by: &str,
    kind: &str,
    table: toml::Table,
) -> Result<(StatusCode, Json<ObjectBody>), ApiError> {
    let (id, table) = with_id(table, None)?;
    manage::apply(
        app,
        Change::Create(Object {
            kind: kind.to_owned(),
            id: id.clone(),
            table,
        }),
        by,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(one(app, kind, &id).await?)))
}

/// Replaces stored object `id` of `kind` with `table` (whose `id`, if any, must be `id`).
pub async fn replace(
    app: &App,
    by: &str,
    kind: &str,
    id: &str,
    table: toml::Table,
) -> Result<Json<ObjectBody>, ApiError> {
    let (id, table) = with_id(table, Some(id))?;
    manage::apply(
        app,
        Change::Replace(Object {
            kind: kind.to_owned(),
            id: id.clone(),
            table,
        }),
        by,
    )
    .await?;
    Ok(Json(one(app, kind, &id).await?))
}

/// Removes stored object `id` of `kind`.
pub async fn remove(app: &App, by: &str, kind: &str, id: &str) -> Result<StatusCode, ApiError> {
    manage::apply(
        app,
        Change::Delete {
            kind: kind.to_owned(),
            id: id.to_owned(),
        },
        by,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

const SERVICE_EXAMPLE: &str =
    r#"{"id": "melodia", "name": "Melodia", "component": [{"id": "login", "name": "Login"}]}"#;
const COMPONENT_EXAMPLE: &str = r#"{"id": "login", "name": "Login", "description": "Signing in"}"#;
const MONITOR_EXAMPLE: &str = r#"{"id": "api", "service": "melodia", "kind": "http", "target": "https://api.example.com/health", "interval": "30s"}"#;
const DESTINATION_EXAMPLE: &str = r#"{"channel": "webhook", "id": "ops", "url": "https://hooks.example.com/downbeat", "format": "slack"}"#;

async fn read_table(
    headers: &HeaderMap,
    body: Body,
    example: &str,
) -> Result<toml::Table, ApiError> {
    let v: Value = json_request(headers, body, BODY_LIMIT, example).await?;
    table_of(v, example)
}

/// `POST /api/v1/services`
#[utoipa::path(post, path = "/api/v1/services", tag = "config", operation_id = "create_service",
    request_body(content((Object = "application/json")), description = "A [[service]] table in JSON"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created and in force", body = ObjectBody),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not editor or admin"),
        (status = 409, description = "A service with this id exists (in the file or the store)"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "The service does not pass the config check: the key and reason"),
    ))]
pub async fn create_service(
    State(app): State<App>,
    who: Principal,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ObjectBody>), ApiError> {
    who.require(Role::Editor)?;
    let table = read_table(&headers, body, SERVICE_EXAMPLE).await?;
    create(&app, &who.name, SERVICE, table).await
}

/// `GET /api/v1/services/{service}/config`
#[utoipa::path(get, path = "/api/v1/services/{service}/config", tag = "config", operation_id = "get_service_config",
    params(("service" = String, Path, description = "Service id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The service's table and origin", body = ObjectBody),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not editor or admin"),
        (status = 404, description = "Unknown service"),
    ))]
pub async fn get_service(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ObjectBody>, ApiError> {
    who.require(Role::Editor)?;
    Ok(Json(one(&app, SERVICE, &path_id(path)?).await?))
}

/// `PUT /api/v1/services/{service}/config`
#[utoipa::path(put, path = "/api/v1/services/{service}/config", tag = "config", operation_id = "replace_service",
    params(("service" = String, Path, description = "Service id")),
    request_body(content((Object = "application/json")), description = "The whole [[service]] table in JSON"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced and in force", body = ObjectBody),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not editor or admin"),
        (status = 404, description = "No such service in the store"),
        (status = 409, description = "Declared in the config file, or the change would break another object"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "The service does not pass the config check"),
    ))]
pub async fn replace_service(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ObjectBody>, ApiError> {
    who.require(Role::Editor)?;
    let id = path_id(path)?;
    let table = read_table(&headers, body, SERVICE_EXAMPLE).await?;
    replace(&app, &who.name, SERVICE, &id, table).await
}

/// `DELETE /api/v1/services/{service}/config`
#[utoipa::path(delete, path = "/api/v1/services/{service}/config", tag = "config", operation_id = "delete_service",
    params(("service" = String, Path, description = "Service id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed; its reports and incidents stay in the store"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not editor or admin"),
        (status = 404, description = "No such service in the store"),
        (status = 409, description = "Declared in the config file, or monitors or destinations still name it"),
    ))]
pub async fn delete_service(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    who.require(Role::Editor)?;
    remove(&app, &who.name, SERVICE, &path_id(path)?).await
}

/// A stored service's table, to change its components (409 for the file's services).
pub async fn stored_service(app: &App, id: &str) -> Result<toml::Table, ApiError> {
    let config = app.config.get();
    if let Some(Origin::File { file, key }) = config.origin(SERVICE, id) {
        return Err(ManageError::FromFile {
            object: layers::name(SERVICE, id),
            file,
            key,
        }
        .into());
    }
    manage::stored(app)
        .await?
        .into_iter()
        .find(|(o, _)| o.kind == SERVICE && o.id == id)
        .map(|(o, _)| o.table)
        .ok_or_else(|| ApiError::NotFound(format!("no {}", layers::name(SERVICE, id))))
}

fn components_of(t: &mut toml::Table) -> &mut Vec<toml::Value> {
    let v = t
        .entry("component")
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    if !v.is_array() {
        *v = toml::Value::Array(Vec::new());
    }
    v.as_array_mut().expect("an array")
}

/// `POST /api/v1/services/{service}/components`
#[utoipa::path(post, path = "/api/v1/services/{service}/components", tag = "config", operation_id = "create_component",
    params(("service" = String, Path, description = "Service id")),
    request_body(content((Object = "application/json")), description = "A [[service.component]] table in JSON"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added; the service as it is now", body = ObjectBody),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not editor or admin"),
        (status = 404, description = "No such service in the store"),
        (status = 409, description = "The service is declared in the config file, or has this component"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "The component does not pass the config check"),
    ))]
pub async fn create_component(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ObjectBody>), ApiError> {
    who.require(Role::Editor)?;
    let service = path_id(path)?;
    let component = read_table(&headers, body, COMPONENT_EXAMPLE).await?;
    Ok((
        StatusCode::CREATED,
        add_component(&app, &who.name, &service, component).await?,
    ))
}

/// Adds `component` (its `id` inside) to stored service `service`, as `by`.
pub async fn add_component(
    app: &App,
    by: &str,
    service: &str,
    component: toml::Table,
) -> Result<Json<ObjectBody>, ApiError> {
    let (cid, component) = with_id(component, None)?;
    let mut t = stored_service(app, service).await?;
    let list = components_of(&mut t);
    if list
        .iter()
        .any(|c| c.get("id").and_then(toml::Value::as_str) == Some(cid.as_str()))
    {
        return Err(ApiError::Conflict(format!(
            "service {service:?} has a component {cid:?} already"
        )));
    }
    list.push(toml::Value::Table(component));
    replace(app, by, SERVICE, service, t).await
}

/// `PUT /api/v1/services/{service}/components/{component}`
#[utoipa::path(put, path = "/api/v1/services/{service}/components/{component}", tag = "config", operation_id = "replace_component",
    params(("service" = String, Path, description = "Service id"), ("component" = String, Path, description = "Component id")),
    request_body(content((Object = "application/json")), description = "The whole [[service.component]] table in JSON"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced; the service as it is now", body = ObjectBody),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not editor or admin"),
        (status = 404, description = "No such service in the store, or no such component"),
        (status = 409, description = "The service is declared in the config file"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "The component does not pass the config check"),
    ))]
pub async fn replace_component(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ObjectBody>, ApiError> {
    who.require(Role::Editor)?;
    let Ok(Path((service, cid))) = path else {
        return Err(ApiError::NotFound("unknown component".into()));
    };
    let component = read_table(&headers, body, COMPONENT_EXAMPLE).await?;
    change_component(&app, &who.name, &service, &cid, component).await
}

/// Replaces component `cid` of stored service `service` with `component`, as `by`.
pub async fn change_component(
    app: &App,
    by: &str,
    service: &str,
    cid: &str,
    component: toml::Table,
) -> Result<Json<ObjectBody>, ApiError> {
    let (_, component) = with_id(component, Some(cid))?;
    let mut t = stored_service(app, service).await?;
    let list = components_of(&mut t);
    let at = list
        .iter()
        .position(|c| c.get("id").and_then(toml::Value::as_str) == Some(cid))
        .ok_or_else(|| {
            ApiError::NotFound(format!("service {service:?} has no component {cid:?}"))
        })?;
    list[at] = toml::Value::Table(component);
    replace(app, by, SERVICE, service, t).await
}

/// `DELETE /api/v1/services/{service}/components/{component}`
#[utoipa::path(delete, path = "/api/v1/services/{service}/components/{component}", tag = "config", operation_id = "delete_component",
    params(("service" = String, Path, description = "Service id"), ("component" = String, Path, description = "Component id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not editor or admin"),
        (status = 404, description = "No such service in the store, or no such component"),
        (status = 409, description = "The service is declared in the config file, or a monitor or destination names the component"),
    ))]
pub async fn delete_component(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    who.require(Role::Editor)?;
    let Ok(Path((service, cid))) = path else {
        return Err(ApiError::NotFound("unknown component".into()));
    };
    remove_component(&app, &who.name, &service, &cid).await
}

/// Removes component `cid` from stored service `service`, as `by`.
pub async fn remove_component(
    app: &App,
    by: &str,
    service: &str,
    cid: &str,
) -> Result<StatusCode, ApiError> {
    let mut t = stored_service(app, service).await?;
    let list = components_of(&mut t);
    let before = list.len();
    list.retain(|c| c.get("id").and_then(toml::Value::as_str) != Some(cid));
    if list.len() == before {
        return Err(ApiError::NotFound(format!(
            "service {service:?} has no component {cid:?}"
        )));
    }
    replace(app, by, SERVICE, service, t).await.map(drop)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/monitors`
#[utoipa::path(post, path = "/api/v1/monitors", tag = "config", operation_id = "create_monitor",
    request_body(content((Object = "application/json")), description = "A [[monitor]] table in JSON"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; probed within one interval", body = ObjectBody),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not editor or admin"),
        (status = 409, description = "A monitor with this id exists (in the file or the store)"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "The monitor does not pass the config check: the key and reason"),
    ))]
pub async fn create_monitor(
    State(app): State<App>,
    who: Principal,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ObjectBody>), ApiError> {
    who.require(Role::Editor)?;
    let table = read_table(&headers, body, MONITOR_EXAMPLE).await?;
    create(&app, &who.name, MONITOR, table).await
}

/// `GET /api/v1/monitors/{id}`
#[utoipa::path(get, path = "/api/v1/monitors/{id}", tag = "config", operation_id = "get_monitor",
    params(("id" = String, Path, description = "Monitor id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The monitor's table and origin", body = ObjectBody),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not editor or admin"),
        (status = 404, description = "Unknown monitor"),
    ))]
pub async fn get_monitor(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ObjectBody>, ApiError> {
    who.require(Role::Editor)?;
    Ok(Json(one(&app, MONITOR, &path_id(path)?).await?))
}

/// `PUT /api/v1/monitors/{id}`
#[utoipa::path(put, path = "/api/v1/monitors/{id}", tag = "config", operation_id = "replace_monitor",
    params(("id" = String, Path, description = "Monitor id")),
    request_body(content((Object = "application/json")), description = "The whole [[monitor]] table in JSON"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced; a changed interval reschedules it", body = ObjectBody),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not editor or admin"),
        (status = 404, description = "No such monitor in the store"),
        (status = 409, description = "Declared in the config file"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "The monitor does not pass the config check"),
    ))]
pub async fn replace_monitor(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ObjectBody>, ApiError> {
    who.require(Role::Editor)?;
    let id = path_id(path)?;
    let table = read_table(&headers, body, MONITOR_EXAMPLE).await?;
    replace(&app, &who.name, MONITOR, &id, table).await
}

/// `DELETE /api/v1/monitors/{id}`
#[utoipa::path(delete, path = "/api/v1/monitors/{id}", tag = "config", operation_id = "delete_monitor",
    params(("id" = String, Path, description = "Monitor id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed; probes stop, results stay in the store"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not editor or admin"),
        (status = 404, description = "No such monitor in the store"),
        (status = 409, description = "Declared in the config file"),
    ))]
pub async fn delete_monitor(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    who.require(Role::Editor)?;
    remove(&app, &who.name, MONITOR, &path_id(path)?).await
}

/// A destination's body: its channel taken out as the kind.
pub fn destination_of(mut t: toml::Table) -> Result<(String, toml::Table), ApiError> {
    let channel = match t.remove("channel") {
        Some(toml::Value::String(c)) => c,
        Some(_) => return Err(ApiError::Invalid { field: "channel".into(), message: "channel: must be a string such as \"webhook\" or \"email\"".into() }),
        None => return Err(ApiError::Invalid { field: "channel".into(), message: "channel: is required (\"webhook\", \"email\"…: the [[notify.<channel>]] table it would be in the file)".into() }),
    };
    if channel.is_empty()
        || !channel
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-')
    {
        return Err(ApiError::Invalid {
            field: "channel".into(),
            message: format!(
                "channel: {:?} is not a channel",
                channel.chars().take(40).collect::<String>()
            ),
        });
    }
    Ok((format!("{DESTINATION}{channel}"), t))
}

/// `GET /api/v1/destinations`
#[utoipa::path(get, path = "/api/v1/destinations", tag = "config", operation_id = "list_destinations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every destination, secrets left out", body = ObjectsBody),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not admin"),
    ))]
pub async fn list_destinations(
    State(app): State<App>,
    who: Principal,
) -> Result<Json<ObjectsBody>, ApiError> {
    who.require(Role::Admin)?;
    let objects = tables(&app)
        .await?
        .into_iter()
        .filter(|(k, ..)| k.starts_with(DESTINATION))
        .map(|(k, i, t, o)| body_of(&k, &i, &t, o))
        .collect();
    Ok(Json(ObjectsBody {
        objects,
        problems: Vec::new(),
    }))
}

/// `POST /api/v1/destinations`
#[utoipa::path(post, path = "/api/v1/destinations", tag = "config", operation_id = "create_destination",
    request_body(content((Object = "application/json")), description = "A [[notify.<channel>]] table in JSON, with \"channel\""),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; events from now on reach it", body = ObjectBody),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not admin"),
        (status = 409, description = "A destination with this id exists"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "The destination does not pass the config check"),
    ))]
pub async fn create_destination(
    State(app): State<App>,
    who: Principal,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ObjectBody>), ApiError> {
    who.require(Role::Admin)?;
    let (kind, table) = destination_of(read_table(&headers, body, DESTINATION_EXAMPLE).await?)?;
    create(&app, &who.name, &kind, table).await
}

/// `GET /api/v1/destinations/{id}`
#[utoipa::path(get, path = "/api/v1/destinations/{id}", tag = "config", operation_id = "get_destination",
    params(("id" = String, Path, description = "Destination id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The destination, secrets left out", body = ObjectBody),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not admin"),
        (status = 404, description = "Unknown destination"),
    ))]
pub async fn get_destination(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ObjectBody>, ApiError> {
    who.require(Role::Admin)?;
    Ok(Json(one(&app, "notify.", &path_id(path)?).await?))
}

/// `PUT /api/v1/destinations/{id}`
#[utoipa::path(put, path = "/api/v1/destinations/{id}", tag = "config", operation_id = "replace_destination",
    params(("id" = String, Path, description = "Destination id")),
    request_body(content((Object = "application/json")), description = "The whole table with \"channel\"; a secret or URL left out keeps the stored one"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced", body = ObjectBody),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not admin"),
        (status = 404, description = "No such destination in the store"),
        (status = 409, description = "Declared in the config file"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "The destination does not pass the config check"),
    ))]
pub async fn replace_destination(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ObjectBody>, ApiError> {
    who.require(Role::Admin)?;
    let id = path_id(path)?;
    let (kind, mut table) = destination_of(read_table(&headers, body, DESTINATION_EXAMPLE).await?)?;
    keep_stored_secrets(&app, &id, &mut table).await?;
    replace(&app, &who.name, &kind, &id, table).await
}

/// Secrets are write-only: in the new `table` of destination `id`, a secret left out (or
/// the URL as shown, its path hidden) keeps the stored value.
pub async fn keep_stored_secrets(
    app: &App,
    id: &str,
    table: &mut toml::Table,
) -> Result<(), ApiError> {
    if let Some((old, _)) = manage::stored(app)
        .await?
        .into_iter()
        .find(|(o, _)| o.kind.starts_with(DESTINATION) && o.id == id)
    {
        for k in SECRET_KEYS.iter().chain(["url"].iter()) {
            let shown = old
                .table
                .get(*k)
                .and_then(toml::Value::as_str)
                .map(hide_path);
            let given = table
                .get(*k)
                .and_then(toml::Value::as_str)
                .map(str::to_owned);
            let keep = match (&given, &shown) {
                (None, _) => true,
                (Some(g), Some(s)) => *k == "url" && g == s,
                _ => false,
            };
            if keep && let Some(v) = old.table.get(*k) {
                table.insert((*k).to_owned(), v.clone());
            }
        }
    }
    Ok(())
}

/// `DELETE /api/v1/destinations/{id}`
#[utoipa::path(delete, path = "/api/v1/destinations/{id}", tag = "config", operation_id = "delete_destination",
    params(("id" = String, Path, description = "Destination id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed; nothing more is sent to it"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not admin"),
        (status = 404, description = "No such destination in the store"),
        (status = 409, description = "Declared in the config file"),
    ))]
pub async fn delete_destination(
    State(app): State<App>,
    who: Principal,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    who.require(Role::Admin)?;
    remove_destination(&app, &who.name, &path_id(path)?).await
}

/// Removes stored destination `id` (of whichever channel), as `by`.
pub async fn remove_destination(app: &App, by: &str, id: &str) -> Result<StatusCode, ApiError> {
    let kind = manage::stored(app)
        .await?
        .into_iter()
        .find(|(o, _)| o.kind.starts_with(DESTINATION) && o.id == id)
        .map(|(o, _)| o.kind)
        .unwrap_or_else(|| "notify.webhook".into());
    remove(app, by, &kind, id).await
}

/// What a reload answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReloadBody {
    reloaded: bool,
    /// Settings changed in the file that take effect at the next restart.
    restart_needed_for: Vec<String>,
}

/// `POST /api/v1/admin/reload`
#[utoipa::path(post, path = "/api/v1/admin/reload", tag = "config", operation_id = "reload_config",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The file was read again and is in force", body = ReloadBody),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not admin"),
        (status = 409, description = "The file does not validate (file, key, reason): the config in force stays"),
    ))]
pub async fn reload(State(app): State<App>, who: Principal) -> Result<Json<ReloadBody>, ApiError> {
    who.require(Role::Admin)?;
    let waiting = manage::reload(&app).await?;
    Ok(Json(ReloadBody {
        reloaded: true,
        restart_needed_for: waiting,
    }))
}

/// What `POST /api/v1/admin/apply` takes.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    /// TOML of `[[service]]`, `[[monitor]]` and `[[notify.<channel>]]` tables.
    config: String,
    /// Also remove stored objects the text does not hold (`downbeat apply`); without it,
    /// objects are only created or changed (`downbeat import --apply`).
    #[serde(default)]
    prune: bool,
    /// Only say what would change.
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/v1/admin/apply`
#[utoipa::path(post, path = "/api/v1/admin/apply", tag = "config", operation_id = "apply_config",
    request_body(content((ApplyRequest = "application/json"))),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What was (or, with dry_run, would be) created, changed and removed", body = manage::Plan),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "No or unknown token"),
        (status = 403, description = "The token's role is not admin"),
        (status = 409, description = "An object is declared in the config file"),
        (status = 413, description = "Body over 4 MiB"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "The result would not pass the config check: nothing changed"),
    ))]
pub async fn apply(
    State(app): State<App>,
    who: Principal,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<manage::Plan>, ApiError> {
    who.require(Role::Admin)?;
    let req: ApplyRequest = json_request(
        &headers,
        body,
        4 << 20,
        r#"{"config": "[[monitor]]\nid = \"api\"\n…", "prune": true, "dry_run": true}"#,
    )
    .await?;
    let objects =
        manage::objects_of(&req.config, "the applied config").map_err(ManageError::Invalid)?;
    Ok(Json(
        manage::apply_objects(&app, objects, req.prune, req.dry_run, &who.name).await?,
    ))
}
