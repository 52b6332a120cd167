//! Problem kinds a reporter can choose ("I can't log in", "music stops", ...).

use crate::slug::{Slug, SlugError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The id of a problem kind (`login`, `playback`, ...). Services choose which kinds they
/// offer; any slug may be used, so a podcast service can add `podcasts`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProblemKind(Slug);

impl ProblemKind {
    pub fn parse(s: &str) -> Result<Self, SlugError> {
        Slug::parse(s).map(ProblemKind)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn as_arc(&self) -> std::sync::Arc<str> {
        self.0.as_arc()
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem kind as offered on a service's page: its id and the words on the button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemOption {
    pub kind: ProblemKind,
    pub label: String,
}

/// The kinds offered when a service's config names none, with their labels. They follow what
/// listeners say during a streaming outage (see DESIGN.md).
pub const DEFAULT_PROBLEMS: [(&str, &str); 7] = [
    ("login", "Login"),
    ("playback", "Playback"),
    ("playlists", "Playlists and library"),
    ("crash", "App crash or blank screen"),
    ("connection", "Connection"),
    ("search", "Search"),
    ("other", "Something else"),
];

/// The label of a well-known kind, used when a config lists the id without a label.
pub fn default_label(id: &str) -> Option<&'static str> {
    DEFAULT_PROBLEMS
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, l)| *l)
}

/// The default list as options.
pub fn default_problems() -> Vec<ProblemOption> {
    DEFAULT_PROBLEMS
        .iter()
        .map(|(id, label)| ProblemOption {
            kind: ProblemKind::parse(id).expect("default problem ids are slugs"),
            label: (*label).to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_parses_and_has_labels() {
        let all = default_problems();
        assert_eq!(all.len(), 7);
        assert_eq!(default_label("playlists"), Some("Playlists and library"));
        assert_eq!(default_label("teleportation"), None);
    }
}
