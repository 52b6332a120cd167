//! Downbeat's configuration: a TOML file declaring the services and the server's settings.
//!
//! Config is code (reviewed, versioned, reloadable); data lives in the store. The file is
//! parsed into raw serde structs that reject unknown keys, then validated into the types of
//! [`Config`], so a typo or a bad value is refused at start with the file, the key and the
//! reason.
//!
//! # Layout
//! - [`model`]: the validated configuration types the rest of Downbeat reads.
//! - [`raw`]: the serde shape of the TOML file.
//! - [`notify`]: `[notify]`: destinations, the SMTP relay, subscribers — types, shape and checks.
//! - [`template`]: operator-written webhook bodies (`format = "template"`), compiled at load.
//! - [`poll`]: `[service.signal.poll]`: built-in pollers of public sources.
//! - [`regions`]: `[[region]]`: what each vantage region stands for.
//! - [`integrations`]: `[integrations]`: Alertmanager and inbound webhooks mapped to
//!   component states.
//! - [`layers`]: the file's config composed with the objects managed at runtime.
//! - [`live`]: the config in force, replaced whole by a reload or an API change.
//! - [`load`]: reading, parsing and validating a file, with errors that name the key.
//! - [`EXAMPLE`]: the annotated example config (`downbeat config example`).

pub mod integrations;
pub mod layers;
pub mod live;
pub mod load;
pub mod model;
pub mod notify;
pub mod poll;
pub mod raw;
pub mod regions;
pub mod template;

pub use live::{Live, MonitorRef, ServiceRef};
pub use load::{ConfigError, load_file, parse_str};
pub use model::*;

/// The annotated example configuration shipped with Downbeat.
pub const EXAMPLE: &str = include_str!("../../../downbeat.example.toml");
