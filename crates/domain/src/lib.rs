//! Downbeat's domain: pure types with no I/O.
//!
//! Values are parsed once at the boundary (config, HTTP, store) into types whose constructors
//! reject anything invalid, so the rest of the program never sees a malformed service id, an
//! unknown country or an over-long city.
//!
//! # Layout
//! - [`slug`]: the validated identifier shared by services, components and problem kinds.
//! - [`problem`]: problem kinds offered to reporters, with the default list.
//! - [`problem_words`]: the phrases a post's problem kind is found by, and the classifier.
//! - [`platform`]: the client platform a report comes from.
//! - [`country`]: ISO 3166-1 alpha-2 codes with display names.
//! - [`city`]: a free-text city name, bounded and free of control characters.
//! - [`screen_text`]: the words on a listener's screen, bounded and free of control characters.
//! - [`comment`]: community comments: their text, the service's mode, a comment's moderation state.
//! - [`signal`]: external signals (counts or posts per source), checked a batch at a time.
//! - [`report`]: a validated crowd report.
//! - [`status`]: crowd verdicts and component states.
//! - [`span`]: human-written durations (`15m`, `30d`) with bounds.
//! - [`clock`]: the injectable source of "now".
//! - [`incident`]: incident and maintenance kind, status, impact and source.
//! - [`event`]: notification events, one variant per kind with its typed payload, id and words.
//! - [`role`]: what a person or API token may do.
//! - [`hex`]: lower-case hex for tokens, hashes and signatures.
//! - [`text`]: characters every output (pages, Atom, mail) can carry.
//! - [`duration`]: durations in words, the same on every page, message and narration.
//! - [`probe`]: a probe's outcome, cause and detail, with their public and operator words.

pub mod change;
pub mod city;
pub mod clock;
pub mod comment;
pub mod country;
pub mod duration;
pub mod event;
pub mod hex;
pub mod incident;
pub mod platform;
pub mod probe;
pub mod problem;
pub mod problem_words;
pub mod region;
pub mod report;
pub mod role;
pub mod screen_text;
pub mod signal;
pub mod slug;
pub mod span;
pub mod status;
pub mod text;

pub use city::City;
pub use clock::{Clock, ManualClock, ScaledClock, SystemClock};
pub use comment::{CommentMode, CommentState, CommentText};
pub use country::CountryCode;
pub use platform::Platform;
pub use problem::{ProblemKind, ProblemOption};
pub use report::Report;
pub use role::Role;
pub use screen_text::ScreenText;
pub use slug::{ComponentId, ServiceId, Slug};
pub use span::Span;
pub use status::{ComponentState, Verdict};
