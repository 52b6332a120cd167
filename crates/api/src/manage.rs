//! Managing services, monitors and destinations at runtime: each change is checked against
//! the whole config (the file's and the store's objects, by the file's own validator),
//! written to the store, and the config composed again is put in force at once — on this
//! node here, on the others through the change feed (`config`). The config file is read
//! again by [`reload`] (SIGHUP, `POST /api/v1/admin/reload`).
//!
//! Objects the file declares belong to the file: the API refuses to change them (409,
//! naming the file and key). Changes are made one at a time on a node; two nodes changing
//! at the same moment may each accept a change the other makes invalid — the next
//! composition then leaves the later one out and says so (the admin dashboard, the log).

use crate::App;
use downbeat_config::layers::{self, Object, ObjectError, Origin};
use downbeat_config::{Config, ConfigError};
use downbeat_store::{ObjectRow, StoreError};
use std::sync::Mutex;

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// The file declares it: change it there.
    #[error("{object} is declared in the config file {file} (key `{key}`): change it there")]
    FromFile {
        object: String,
        file: String,
        key: String,
    },
    #[error("{0} exists already")]
    Exists(String),
    #[error("no {0}")]
    NotFound(String),
    /// The object itself does not pass the config check.
    #[error("{0}")]
    Invalid(ObjectError),
    /// The change would make another object invalid.
    #[error("{what}: {because}")]
    Breaks { what: String, because: ObjectError },
    /// A reload found the file invalid; the config in force stays.
    #[error("{0}")]
    File(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the admin dashboard shows of the config: the last reload's refusal, stored objects
/// left out.
#[derive(Debug, Default, Clone)]
pub struct ConfigStatus {
    /// The last reload's error, while the file stays invalid.
    pub reload_error: Option<String>,
    /// Stored objects left out of the config in force, with why.
    pub refused: Vec<String>,
}

/// The state of the config's management on this node.
#[derive(Default)]
pub struct Management {
    /// One change at a time on this node.
    lock: tokio::sync::Mutex<()>,
    status: Mutex<ConfigStatus>,
}

impl Management {
    pub fn status(&self) -> ConfigStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_refused(&self, refused: Vec<String>) {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .refused = refused;
    }

    fn set_reload_error(&self, e: Option<String>) {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reload_error = e;
    }
}

/// The stored objects, oldest first. A row whose body no longer parses is skipped (and
/// logged): it cannot be put in force.
pub async fn stored(app: &App) -> Result<Vec<(Object, ObjectRow)>, StoreError> {
    stored_in(app.store.as_ref()).await
}

/// [`stored`], from a store.
pub async fn stored_in(
    store: &dyn downbeat_store::ObjectStore,
) -> Result<Vec<(Object, ObjectRow)>, StoreError> {
    let rows = store.config_objects().await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        match row.body.parse::<toml::Table>() {
            Ok(table) => out.push((
                Object {
                    kind: row.kind.clone(),
                    id: row.id.clone(),
                    table,
                },
                row,
            )),
            Err(e) => tracing::error!(kind = %row.kind, id = %row.id, error = %e,
                "a stored config object does not parse; left out"),
        }
    }
    Ok(out)
}

/// The config `file` composed with the objects stored in `store`, for the start: objects
/// that do not fit are left out (and logged); `refused` names them for the dashboard.
pub async fn compose_stored(
    store: &dyn downbeat_store::ObjectStore,
    file: &Config,
) -> Result<(Config, Vec<String>), ManageError> {
    let objects: Vec<Object> = stored_in(store)
        .await?
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    if objects.is_empty() {
        return Ok((file.clone(), Vec::new()));
    }
    let composed = layers::compose(&file.source, &objects)?;
    Ok((composed.config, said(&composed.refused)))
}

fn said(refused: &[(Object, ConfigError)]) -> Vec<String> {
    refused
        .iter()
        .map(|(o, e)| {
            tracing::warn!(object = %o.name(), error = %e, "a stored config object does not fit the config; left out");
            format!("{} (stored): {e}", o.name())
        })
        .collect()
}

/// Composes the file (as last read) with the stored objects and puts the result in force;
/// objects that do not fit are left out, logged and shown on the admin dashboard.
pub async fn refresh(app: &App) -> Result<(), ManageError> {
    let objects: Vec<Object> = stored(app).await?.into_iter().map(|(o, _)| o).collect();
    let source = app.config.load().source.clone();
    put_in_force(app, &source, &objects)
}

fn put_in_force(app: &App, source: &layers::Source, objects: &[Object]) -> Result<(), ManageError> {
    let composed =
        layers::compose(source, objects).map_err(|e| ManageError::File(e.to_string()))?;
    app.management.set_refused(said(&composed.refused));
    app.config.replace(composed.config);
    Ok(())
}

/// Reads the config file again and puts it in force with the stored objects. A file that
/// does not validate changes nothing: the config in force stays, and the error (file, key,
/// reason) is returned, logged and shown on the admin dashboard. Says which settings wait
/// for a restart.
pub async fn reload(app: &App) -> Result<Vec<String>, ManageError> {
    let _one = app.management.lock.lock().await;
    let old = app.config.get();
    let Some(path) = old.source.path.clone() else {
        return Err(ManageError::File(
            "this server's config was not read from a file: nothing to reload".into(),
        ));
    };
    let fresh = match downbeat_config::load_file(&path) {
        Ok(c) => c,
        Err(e) => {
            let said = e.to_string();
            tracing::error!(error = %said, "reload refused: the config file does not validate; the config in force stays");
            app.management.set_reload_error(Some(said.clone()));
            return Err(ManageError::File(said));
        }
    };
    let objects: Vec<Object> = stored(app).await?.into_iter().map(|(o, _)| o).collect();
    put_in_force(app, &fresh.source, &objects)?;
    app.management.set_reload_error(None);
    let waiting = needs_restart(&old, &fresh);
    for key in &waiting {
        tracing::warn!(%key, "changed in the config file: takes effect at the next restart");
    }
    tracing::info!(file = %path.display(), "config reloaded");
    Ok(waiting)
}

/// Settings read once at start: a reload cannot change them.
fn needs_restart(old: &Config, new: &Config) -> Vec<String> {
    let (a, b) = (&old.server, &new.server);
    let mut out = Vec::new();
    let mut check = |key: &str, same: bool| {
        if !same {
            out.push(format!("server.{key}"));
        }
    };
    check("listen", a.listen == b.listen);
    check("data_dir", a.data_dir == b.data_dir);
    check("database_url", a.database_url == b.database_url);
    check("region", a.region == b.region);
    check("geoip", a.geoip == b.geoip);
    check("max_connections", a.max_connections == b.max_connections);
    let users = |c: &Config| {
        c.users
            .iter()
            .map(|u| (u.name.clone(), u.role, u.password_hash.clone()))
            .collect::<Vec<_>>()
    };
    if users(old) != users(new) {
        out.push("user".into());
    }
    out
}

/// The objects the config in force takes from the store, and those left out.
fn current_objects(
    app: &App,
    source: &layers::Source,
    all: &[Object],
) -> Result<Vec<Object>, ManageError> {
    // Usually every stored object is in force: no need to compose to find out.
    if app.management.status().refused.is_empty() {
        return Ok(all.to_vec());
    }
    let composed = layers::compose(source, all).map_err(|e| ManageError::File(e.to_string()))?;
    let out: Vec<Object> = all
        .iter()
        .filter(|o| {
            !composed
                .refused
                .iter()
                .any(|(r, _)| r.kind == o.kind && r.id == o.id)
        })
        .cloned()
        .collect();
    Ok(out)
}

/// Refuses a change to an object the file declares.
fn not_from_file(config: &Config, kind: &str, id: &str) -> Result<(), ManageError> {
    let origin = if kind.starts_with(layers::DESTINATION) {
        config.destination_origin(id).map(|(_, o)| o)
    } else {
        config.origin(kind, id)
    };
    match origin {
        Some(Origin::File { file, key }) => Err(ManageError::FromFile {
            object: layers::name(kind, id),
            file,
            key,
        }),
        _ => Ok(()),
    }
}

/// Whether `o` is object `id` of `kind` (destinations share their ids across channels).
fn same(o: &Object, kind: &str, id: &str) -> bool {
    o.id == id
        && (o.kind == kind
            || (o.kind.starts_with(layers::DESTINATION) && kind.starts_with(layers::DESTINATION)))
}

/// The store's row for `o`, written at `now_ms` by `by` (an object replaced keeps its
/// creation time: the store leaves it).
fn row_of(o: &Object, now_ms: i64, by: &str) -> ObjectRow {
    ObjectRow {
        kind: o.kind.clone(),
        id: o.id.clone(),
        body: toml::to_string(&o.table).unwrap_or_default(),
        created_ms: now_ms,
        updated_ms: now_ms,
        updated_by: by.to_owned(),
    }
}

/// What a change does.
pub enum Change {
    Create(Object),
    Replace(Object),
    Delete { kind: String, id: String },
}

impl Change {
    fn target(&self) -> (&str, &str) {
        match self {
            Change::Create(o) | Change::Replace(o) => (&o.kind, &o.id),
            Change::Delete { kind, id } => (kind, id),
        }
    }
}

/// Checks `change` against the whole config, stores it and puts the new config in force.
pub async fn apply(app: &App, change: Change, by: &str) -> Result<(), ManageError> {
    let _one = app.management.lock.lock().await;
    let config = app.config.get();
    let (kind, id) = change.target();
    let (kind, id) = (kind.to_owned(), id.to_owned());
    not_from_file(&config, &kind, &id)?;
    let all: Vec<Object> = stored(app).await?.into_iter().map(|(o, _)| o).collect();
    let existing = all.iter().position(|o| same(o, &kind, &id));
    let mut after = current_objects(app, &config.source, &all)?;
    let at = after.iter().position(|o| same(o, &kind, &id));
    match (&change, existing) {
        (Change::Create(_), Some(_)) => return Err(ManageError::Exists(layers::name(&kind, &id))),
        (Change::Replace(_) | Change::Delete { .. }, None) => {
            return Err(ManageError::NotFound(layers::name(&kind, &id)));
        }
        _ => {}
    }
    match &change {
        Change::Create(o) | Change::Replace(o) => match at {
            Some(i) => after[i] = o.clone(),
            None => after.push(o.clone()),
        },
        Change::Delete { .. } => {
            if let Some(i) = at {
                after.remove(i);
            }
        }
    }
    let composed = match layers::compose_all(&config.source, &after) {
        Ok(c) => c,
        Err(e) => {
            let name = layers::name(&kind, &id);
            return Err(match &change {
                Change::Delete { .. } => ManageError::Breaks {
                    what: format!("{name} cannot be removed"),
                    because: e,
                },
                _ if e.object == name => ManageError::Invalid(e),
                _ => ManageError::Breaks {
                    what: format!("{name} cannot be changed so"),
                    because: e,
                },
            });
        }
    };
    let now_ms = app.clock.now().as_millisecond();
    let row = |o: &Object| row_of(o, now_ms, by);
    match &change {
        Change::Create(o) => {
            if !app.store.insert_config_object(&row(o)).await? {
                return Err(ManageError::Exists(layers::name(&kind, &id)));
            }
        }
        Change::Replace(o) => {
            // A destination may move to another channel: its row is replaced whole.
            let old = &all[existing.unwrap_or_default()];
            if old.kind != o.kind {
                app.store.delete_config_object(&old.kind, &old.id).await?;
                app.store.insert_config_object(&row(o)).await?;
            } else if !app.store.update_config_object(&row(o)).await? {
                return Err(ManageError::NotFound(layers::name(&kind, &id)));
            }
        }
        Change::Delete { .. } => {
            let old = &all[existing.unwrap_or_default()];
            if !app.store.delete_config_object(&old.kind, &old.id).await? {
                return Err(ManageError::NotFound(layers::name(&kind, &id)));
            }
        }
    }
    tracing::info!(object = %layers::name(&kind, &id), %by, change = match change {
        Change::Create(_) => "created", Change::Replace(_) => "changed", Change::Delete { .. } => "removed",
    }, "config object");
    if app.management.status().refused.is_empty() {
        // What was checked is what is stored now: in force as it is (a change another node
        // made meanwhile arrives through the change feed).
        app.config.replace(composed);
        return Ok(());
    }
    let objects: Vec<Object> = stored(app).await?.into_iter().map(|(o, _)| o).collect();
    put_in_force(app, &config.source, &objects)
}

/// Keeps an error's words when the composition of the file alone fails (it validated at
/// start; only a file changed on disk and not reloaded could, and it is not read here).
impl From<ConfigError> for ManageError {
    fn from(e: ConfigError) -> Self {
        ManageError::File(e.to_string())
    }
}

/// What [`apply_file`] does (or would do): objects by name.
#[derive(Debug, Default, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Plan {
    pub create: Vec<String>,
    pub change: Vec<String>,
    pub remove: Vec<String>,
    /// Objects the file holds as they are stored.
    pub unchanged: usize,
}

/// The tables a file given to `apply` may hold.
const APPLIED: &str = "apply manages [[service]], [[monitor]] and [[notify.<channel>]] tables; the rest belongs to the config file";

/// The objects of a TOML text of `[[service]]`, `[[monitor]]` and `[[notify.<channel>]]`
/// tables (as `downbeat config export` writes).
pub fn objects_of(text: &str, name: &str) -> Result<Vec<Object>, ObjectError> {
    let refuse = |key: &str, message: String| ObjectError {
        object: name.to_owned(),
        key: key.to_owned(),
        message,
    };
    let t: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| refuse("", e.to_string()))?;
    let mut out = Vec::new();
    let mut take = |kind: String, v: &toml::Value, key: String| -> Result<(), ObjectError> {
        let list = v
            .as_array()
            .ok_or_else(|| refuse(&key, "must be an array of tables".into()))?;
        for (i, item) in list.iter().enumerate() {
            let key = format!("{key}[{i}]");
            let table = item
                .as_table()
                .ok_or_else(|| refuse(&key, "must be a table".into()))?;
            let id = table
                .get("id")
                .and_then(toml::Value::as_str)
                .ok_or_else(|| refuse(&format!("{key}.id"), "is required".into()))?;
            if out.iter().any(|o: &Object| o.kind == kind && o.id == id) {
                return Err(refuse(&format!("{key}.id"), format!("duplicate id {id:?}")));
            }
            out.push(Object {
                kind: kind.clone(),
                id: id.to_owned(),
                table: table.clone(),
            });
        }
        Ok(())
    };
    // Services first: monitors and destinations name them.
    let order = |k: &str| match k {
        "service" => 0,
        "monitor" => 1,
        "notify" => 2,
        _ => 3,
    };
    let mut keys: Vec<&String> = t.keys().collect();
    keys.sort_by_key(|k| order(k));
    for k in keys {
        let v = &t[k.as_str()];
        match k.as_str() {
            "service" | "monitor" => take(k.clone(), v, k.clone())?,
            "notify" => {
                let n = v
                    .as_table()
                    .ok_or_else(|| refuse("notify", "must be a table".into()))?;
                for (c, v) in n {
                    if !v.is_array() {
                        return Err(refuse(&format!("notify.{c}"), APPLIED.into()));
                    }
                    take(
                        format!("{}{c}", layers::DESTINATION),
                        v,
                        format!("notify.{c}"),
                    )?;
                }
            }
            other => return Err(refuse(other, APPLIED.into())),
        }
    }
    Ok(out)
}

/// Makes the store's objects match `objects`: creates and changes them, and with `prune`
/// removes stored objects they do not name. The whole result is checked first, and written
/// in one transaction: all or nothing. With `dry_run`, only says what it would do.
pub async fn apply_objects(
    app: &App,
    objects: Vec<Object>,
    prune: bool,
    dry_run: bool,
    by: &str,
) -> Result<Plan, ManageError> {
    let _one = app.management.lock.lock().await;
    let config = app.config.get();
    for o in &objects {
        not_from_file(&config, &o.kind, &o.id)?;
    }
    let all: Vec<(Object, ObjectRow)> = stored(app).await?;
    let mut after: Vec<Object> = if prune {
        Vec::new()
    } else {
        current_objects(
            app,
            &config.source,
            &all.iter().map(|(o, _)| o.clone()).collect::<Vec<_>>(),
        )?
    };
    let mut plan = Plan::default();
    let mut put = Vec::new();
    let now_ms = app.clock.now().as_millisecond();
    for o in &objects {
        match all.iter().find(|(s, _)| same(s, &o.kind, &o.id)) {
            Some((s, _)) if s.kind == o.kind && s.table == o.table => plan.unchanged += 1,
            Some(_) => {
                plan.change.push(o.name());
                put.push(o.clone());
            }
            None => {
                plan.create.push(o.name());
                put.push(o.clone());
            }
        }
        match after.iter().position(|s| same(s, &o.kind, &o.id)) {
            Some(i) => after[i] = o.clone(),
            None => after.push(o.clone()),
        }
    }
    let mut delete: Vec<(String, String)> = Vec::new();
    for (s, _) in &all {
        let named = objects.iter().any(|o| same(o, &s.kind, &s.id));
        // A destination moving to another channel: its old row goes.
        let moved = objects
            .iter()
            .any(|o| same(o, &s.kind, &s.id) && o.kind != s.kind);
        if (prune && !named) || moved {
            if !named {
                plan.remove.push(s.name());
            }
            delete.push((s.kind.clone(), s.id.clone()));
        }
    }
    layers::compose_all(&config.source, &after).map_err(ManageError::Invalid)?;
    if dry_run {
        return Ok(plan);
    }
    let rows = put.iter().map(|o| row_of(o, now_ms, by)).collect();
    app.store.apply_config_objects(rows, delete).await?;
    tracing::info!(created = plan.create.len(), changed = plan.change.len(), removed = plan.remove.len(), %by, "config objects applied");
    let objects: Vec<Object> = stored(app).await?.into_iter().map(|(o, _)| o).collect();
    put_in_force(app, &config.source, &objects)?;
    Ok(plan)
}
