//! The config in force is two layers: the file, and the objects managed at runtime (through
//! the API or the admin area) — services, monitors and notification destinations, each kept
//! in the store as the TOML table the file would hold. [`compose`] puts the objects after
//! the file's own and validates the whole with the file's validator, so an object is held
//! to exactly the rules of the file and refused in the same words.
//!
//! An object belongs to one layer: one the file declares cannot be changed through the API
//! ([`Config::origin`] says where each comes from). A stored object that no longer fits
//! (the file it leaned on changed) is left out of the config in force and reported
//! ([`Composed::refused`]), so a reload never fails because of the store.

use crate::load::{ConfigError, Validator};
use crate::model::Config;
use crate::raw::RawConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The kinds of managed objects, as their tables in the file: `service`, `monitor`, and
/// `notify.<channel>` for destinations (`notify.webhook`, `notify.email`…).
pub const SERVICE: &str = "service";
pub const MONITOR: &str = "monitor";
/// The prefix of a destination's kind.
pub const DESTINATION: &str = "notify.";

/// An object managed at runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Its table: [`SERVICE`], [`MONITOR`] or `notify.<channel>`.
    pub kind: String,
    pub id: String,
    pub table: toml::Table,
}

impl Object {
    /// The object as an error names it: `monitor "api"`.
    pub fn name(&self) -> String {
        name(&self.kind, &self.id)
    }
}

/// How errors name an object: `monitor "api"`, `destination "ops"`.
pub fn name(kind: &str, id: &str) -> String {
    let what = if kind.starts_with(DESTINATION) {
        "destination"
    } else {
        kind
    };
    format!("{what} {id:?}")
}

/// Where an object of the config in force comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The config file, at `key` (`monitor[2]`).
    File { file: String, key: String },
    /// The store (the API, the admin area, `downbeat apply`).
    Store,
}

/// The file a config was read from, kept so the store's objects can be composed with it
/// again, and a reload can read it again. Its text holds secrets: `Debug` leaves it out.
#[derive(Clone, Default)]
pub struct Source {
    /// How errors name it (its path, or "test.toml").
    pub name: String,
    /// Its path, when it was read from one (a reload reads it again).
    pub path: Option<std::path::PathBuf>,
    /// Its text as read.
    pub text: Arc<str>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .finish()
    }
}

/// The origin of each object the config in force holds.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// `(kind, id)` of the file's objects, with their keys.
    file: BTreeMap<(String, String), String>,
    /// `(kind, id)` of the store's objects.
    stored: BTreeSet<(String, String)>,
}

impl Config {
    /// Where object `id` of `kind` comes from; `None` when the config has no such object.
    pub fn origin(&self, kind: &str, id: &str) -> Option<Origin> {
        let k = (kind.to_owned(), id.to_owned());
        if let Some(key) = self.origins.file.get(&k) {
            return Some(Origin::File {
                file: self.source.name.clone(),
                key: key.clone(),
            });
        }
        self.origins.stored.contains(&k).then_some(Origin::Store)
    }

    /// Whether an object with `id` is declared by the file among destinations of any
    /// channel (their ids are shared by every channel).
    pub fn destination_origin(&self, id: &str) -> Option<(String, Origin)> {
        let kind = self
            .notify
            .destinations
            .iter()
            .find(|d| d.id.as_str() == id)
            .map(|d| format!("{DESTINATION}{}", d.kind()))?;
        let origin = self.origin(&kind, id)?;
        Some((kind, origin))
    }
}

/// A config composed from a file and stored objects.
#[derive(Debug)]
pub struct Composed {
    pub config: Config,
    /// Stored objects left out, each with why.
    pub refused: Vec<(Object, ConfigError)>,
}

/// Why an object was refused: the error, said of the object (`key `interval`` rather
/// than `key `monitor[7].interval``).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object}: key `{key}`: {message}")]
pub struct ObjectError {
    /// `monitor "api"`.
    pub object: String,
    /// The key within the object; empty when the whole object is at fault.
    pub key: String,
    pub message: String,
}

/// The file's config with `objects` after its own, each object checked by the file's
/// validator; an object that does not fit is left out and listed in
/// [`Composed::refused`]. Fails only when the file itself does not validate.
pub fn compose(source: &Source, objects: &[Object]) -> Result<Composed, ConfigError> {
    let file = parse_table(source)?;
    let mut kept: Vec<Object> = objects.to_vec();
    let mut refused = Vec::new();
    loop {
        match build(source, &file, &kept) {
            Ok(config) => return Ok(Composed { config, refused }),
            Err(e) => match blame(&file, &kept, &e) {
                Some(i) => refused.push((kept.remove(i), e)),
                // The file and the objects clash where no object is to blame (a file's
                // destination names a service only the store declared, say): the file
                // wins, every object waits.
                None if !kept.is_empty() => {
                    refused.extend(kept.drain(..).map(|o| (o, copy(&e))));
                }
                None => return Err(e),
            },
        }
    }
}

/// The same error again (an I/O error is kept as its words).
fn copy(e: &ConfigError) -> ConfigError {
    match e {
        ConfigError::Invalid { file, key, message } => ConfigError::Invalid {
            file: file.clone(),
            key: key.clone(),
            message: message.clone(),
        },
        ConfigError::Syntax { file, message } => ConfigError::Syntax {
            file: file.clone(),
            message: message.clone(),
        },
        ConfigError::Read { path, source } => ConfigError::Syntax {
            file: path.display().to_string(),
            message: source.to_string(),
        },
    }
}

/// [`compose`], but every object must fit: the first that does not is the error, said of
/// the object.
pub fn compose_all(source: &Source, objects: &[Object]) -> Result<Config, ObjectError> {
    let file = parse_table(source).map_err(|e| ObjectError {
        object: format!("config file {}", source.name),
        key: String::new(),
        message: e.to_string(),
    })?;
    build(source, &file, objects).map_err(|e| said_of(&file, objects, &e))
}

/// The error `e` (from composing `file` with `objects`) said of the object it blames.
pub fn said_of(file: &toml::Table, objects: &[Object], e: &ConfigError) -> ObjectError {
    let (key, message) = match e {
        ConfigError::Invalid { key, message, .. } => (key.as_str(), message.clone()),
        other => ("", other.to_string()),
    };
    match blame(file, objects, e) {
        Some(i) => ObjectError {
            object: objects[i].name(),
            key: within(file, objects, i, key),
            message,
        },
        None => ObjectError {
            object: "the config file".into(),
            key: key.to_owned(),
            message,
        },
    }
}

/// The file's text as a table (syntax only).
pub fn parse_table(source: &Source) -> Result<toml::Table, ConfigError> {
    source
        .text
        .parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            file: source.name.clone(),
            message: e.to_string(),
        })
}

/// Where in the composed arrays object `i` of `objects` sits: `monitor[7]`.
fn position(file: &toml::Table, objects: &[Object], i: usize) -> String {
    let kind = &objects[i].kind;
    let before_in_file = array(file, kind).map_or(0, Vec::len);
    let before_stored = objects[..i].iter().filter(|o| &o.kind == kind).count();
    format!("{kind}[{}]", before_in_file + before_stored)
}

/// The index of the object a validation error's key points into, if any.
fn blame(file: &toml::Table, objects: &[Object], e: &ConfigError) -> Option<usize> {
    let key = match e {
        ConfigError::Invalid { key, .. } => key,
        _ => return None,
    };
    (0..objects.len()).find(|&i| {
        let at = position(file, objects, i);
        key == &at || key.starts_with(&format!("{at}.")) || key.starts_with(&format!("{at}["))
    })
}

/// `key` with object `i`'s position taken off: `monitor[7].interval` → `interval`.
fn within(file: &toml::Table, objects: &[Object], i: usize, key: &str) -> String {
    let at = position(file, objects, i);
    key.strip_prefix(&at)
        .map(|rest| rest.trim_start_matches('.').to_owned())
        .unwrap_or_else(|| key.to_owned())
}

/// The array of tables `kind` names in `t` (`notify.webhook` is `[notify] webhook`).
fn array<'a>(t: &'a toml::Table, kind: &str) -> Option<&'a Vec<toml::Value>> {
    match kind.split_once('.') {
        Some((outer, inner)) => t.get(outer)?.as_table()?.get(inner)?.as_array(),
        None => t.get(kind)?.as_array(),
    }
}

fn array_mut<'a>(t: &'a mut toml::Table, kind: &str) -> Option<&'a mut Vec<toml::Value>> {
    let (outer, inner) = match kind.split_once('.') {
        Some((outer, inner)) => (Some(outer), inner),
        None => (None, kind),
    };
    let t = match outer {
        Some(o) => t
            .entry(o)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()?,
        None => t,
    };
    t.entry(inner)
        .or_insert_with(|| toml::Value::Array(Vec::new()))
        .as_array_mut()
}

/// Validates the file's table with `objects` appended, and records origins.
fn build(source: &Source, file: &toml::Table, objects: &[Object]) -> Result<Config, ConfigError> {
    let mut t = file.clone();
    for (i, o) in objects.iter().enumerate() {
        let Some(list) = array_mut(&mut t, &o.kind) else {
            return Err(ConfigError::Invalid {
                file: source.name.clone(),
                key: position(file, objects, i),
                message: format!("{:?} is not a kind of object", o.kind),
            });
        };
        list.push(toml::Value::Table(o.table.clone()));
    }
    let raw: RawConfig = serde_path_to_error::deserialize(toml::Value::Table(t)).map_err(|e| {
        let key = e.path().to_string();
        ConfigError::Invalid {
            file: source.name.clone(),
            key,
            message: e.into_inner().to_string().trim().to_owned(),
        }
    })?;
    let mut config = Validator::new(&source.name).config(raw)?;
    config.source = source.clone();
    config.origins = origins(file, objects);
    Ok(config)
}

/// Every object's origin: the file's by their key, then the store's.
pub(crate) fn origins(file: &toml::Table, objects: &[Object]) -> Origins {
    let mut out = Origins::default();
    let mut kinds: Vec<String> = vec![SERVICE.into(), MONITOR.into()];
    if let Some(notify) = file.get("notify").and_then(toml::Value::as_table) {
        kinds.extend(
            notify
                .iter()
                .filter(|(_, v)| v.is_array())
                .map(|(k, _)| format!("{DESTINATION}{k}")),
        );
    }
    for kind in kinds {
        for (i, v) in array(file, &kind).into_iter().flatten().enumerate() {
            if let Some(id) = v.get("id").and_then(toml::Value::as_str) {
                out.file
                    .insert((kind.clone(), id.to_owned()), format!("{kind}[{i}]"));
            }
        }
    }
    for o in objects {
        out.stored.insert((o.kind.clone(), o.id.clone()));
    }
    out
}
