//! Changes operators make to a service — a deploy, a config change, a feature flag, an
//! infrastructure change, a rollback — recorded by their pipeline (`POST
//! /api/v1/services/{service}/changes`, `downbeat change record`), so an outage that starts
//! right after one names it as the probable cause, and a rollout can ask the canary gate
//! whether the crowd is unhappy since.

use crate::slug::Slug;
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// The longest title.
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest version.
pub const MAX_VERSION_CHARS: usize = 64;
/// The longest link.
pub const MAX_LINK_CHARS: usize = 2048;

/// What kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Deploy,
    Config,
    FeatureFlag,
    Infrastructure,
    Rollback,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 5] = [
        ChangeKind::Deploy,
        ChangeKind::Config,
        ChangeKind::FeatureFlag,
        ChangeKind::Infrastructure,
        ChangeKind::Rollback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Deploy => "deploy",
            ChangeKind::Config => "config",
            ChangeKind::FeatureFlag => "feature_flag",
            ChangeKind::Infrastructure => "infrastructure",
            ChangeKind::Rollback => "rollback",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The verb of a sentence: "login-frontend 2.3.0 was *deployed*".
    pub fn done(self) -> &'static str {
        match self {
            ChangeKind::Deploy => "deployed",
            ChangeKind::Config => "reconfigured",
            ChangeKind::FeatureFlag => "flagged",
            ChangeKind::Infrastructure => "changed",
            ChangeKind::Rollback => "rolled back",
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change as sent, before it is checked.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChange {
    /// deploy, config, feature_flag, infrastructure or rollback.
    pub kind: Option<String>,
    /// The component changed (one of the service's), if the change was limited to one.
    pub component: Option<String>,
    /// The version rolled out, e.g. `2.3.0` (at most 64 characters).
    pub version: Option<String>,
    /// What changed, in a line (at most 200 characters).
    pub title: Option<String>,
    /// Where to read more: the pipeline run, the pull request (http or https).
    pub link: Option<String>,
    /// The region the change was limited to, if any (a slug such as `ap-southeast`).
    pub region: Option<String>,
    /// When it took effect (RFC 3339); default now.
    pub at: Option<String>,
}

/// A checked change (the service's own checks — whether the component exists — are the
/// caller's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub component: Option<Slug>,
    pub version: Option<String>,
    pub title: Option<String>,
    pub link: Option<String>,
    pub region: Option<Slug>,
    pub at_ms: i64,
}

impl Change {
    /// What it was, for a sentence: "login 2.3.0", "a config change to login", "a deploy".
    pub fn subject(&self) -> String {
        match (&self.component, &self.version) {
            (Some(c), Some(v)) => format!("{c} {v}"),
            (Some(c), None) => c.to_string(),
            (None, Some(v)) => format!("version {v}"),
            (None, None) => self.title.clone().unwrap_or_else(|| "a change".into()),
        }
    }
}

/// Why a change was refused: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for ChangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ChangeError {}

/// How far back and ahead of `now_ms` a change's time may be.
#[derive(Debug, Clone, Copy)]
pub struct ChangeTimes {
    pub now_ms: i64,
    pub max_age_ms: i64,
    pub max_skew_ms: i64,
}

/// Checks a change.
pub fn check_change(raw: RawChange, when: ChangeTimes) -> Result<Change, ChangeError> {
    let err = |field: &'static str, message: String| ChangeError { field, message };
    let kind = raw.kind.ok_or_else(|| {
        err(
            "kind",
            "is required: deploy, config, feature_flag, infrastructure or rollback".into(),
        )
    })?;
    let kind = ChangeKind::parse(&kind).ok_or_else(|| {
        let shown: String = kind.chars().take(40).collect();
        err(
            "kind",
            format!(
                "{shown:?} is not one of deploy, config, feature_flag, infrastructure, rollback"
            ),
        )
    })?;
    let slug = |field: &'static str, v: Option<String>| {
        v.map(|s| Slug::parse(&s).map_err(|e| err(field, e.to_string())))
            .transpose()
    };
    let line = |field: &'static str, v: Option<String>, max: usize| -> Result<_, ChangeError> {
        let Some(v) = v else { return Ok(None) };
        let t = v.trim();
        if t.is_empty() {
            return Err(err(field, "must not be empty".into()));
        }
        let n = t.chars().count();
        if n > max {
            return Err(err(field, format!("{n} characters; at most {max}")));
        }
        if t.chars()
            .any(|c| c.is_control() || crate::text::is_noncharacter(c))
        {
            return Err(err(field, "holds control characters".into()));
        }
        Ok(Some(t.to_owned()))
    };
    let link = line("link", raw.link, MAX_LINK_CHARS)?;
    if let Some(l) = &link {
        let rest = l
            .strip_prefix("https://")
            .or_else(|| l.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) || l.contains(' ') {
            return Err(err(
                "link",
                "must be an http:// or https:// URL with a host".into(),
            ));
        }
    }
    let at_ms = match raw.at {
        None => when.now_ms,
        Some(at) => {
            let ms = at
                .parse::<jiff::Timestamp>()
                .map_err(|_| err("at", format!("{at:?} is not an RFC 3339 time")))?
                .as_millisecond();
            if ms > when.now_ms + when.max_skew_ms {
                return Err(err("at", format!("{at} is ahead of this server's clock")));
            }
            if ms < when.now_ms - when.max_age_ms {
                return Err(err("at", format!("{at} is older than this server accepts")));
            }
            ms
        }
    };
    Ok(Change {
        kind,
        component: slug("component", raw.component)?,
        version: line("version", raw.version, MAX_VERSION_CHARS)?,
        title: line("title", raw.title, MAX_TITLE_CHARS)?,
        link,
        region: slug("region", raw.region)?,
        at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_630_400_000; // 2026-12-07T08:00:00Z
    const WHEN: ChangeTimes = ChangeTimes {
        now_ms: NOW,
        max_age_ms: 30 * 86_400_000,
        max_skew_ms: 300_000,
    };

    fn deploy() -> RawChange {
        RawChange {
            kind: Some("deploy".into()),
            ..RawChange::default()
        }
    }

    #[test]
    fn a_change_is_checked_with_now_as_its_default_time() {
        let c = check_change(
            RawChange {
                component: Some("login".into()),
                version: Some(" 2.3.0 ".into()),
                title: Some("login-frontend: new session cookie".into()),
                link: Some("https://ci.example/runs/812".into()),
                region: Some("eu-west".into()),
                at: Some("2026-12-07T07:59:00Z".into()),
                ..deploy()
            },
            WHEN,
        )
        .unwrap();
        assert_eq!(c.kind, ChangeKind::Deploy);
        assert_eq!(c.subject(), "login 2.3.0");
        assert_eq!(c.version.as_deref(), Some("2.3.0"));
        assert_eq!(c.at_ms, NOW - 60_000);
        assert_eq!(check_change(deploy(), WHEN).unwrap().at_ms, NOW);
        assert_eq!(check_change(deploy(), WHEN).unwrap().subject(), "a change");
    }

    #[test]
    fn each_bad_field_is_named() {
        for (raw, says) in [
            (RawChange::default(), "kind: is required"),
            (
                RawChange {
                    kind: Some("hotfix".into()),
                    ..RawChange::default()
                },
                "kind: \"hotfix\" is not one of",
            ),
            (
                RawChange {
                    component: Some("Login Page".into()),
                    ..deploy()
                },
                "component:",
            ),
            (
                RawChange {
                    version: Some("v".repeat(65)),
                    ..deploy()
                },
                "version: 65 characters; at most 64",
            ),
            (
                RawChange {
                    title: Some("a\u{0}b".into()),
                    ..deploy()
                },
                "title: holds control characters",
            ),
            (
                RawChange {
                    link: Some("javascript:alert(1)".into()),
                    ..deploy()
                },
                "link: must be an http",
            ),
            (
                RawChange {
                    at: Some("2027-01-01T00:00:00Z".into()),
                    ..deploy()
                },
                "at: 2027-01-01T00:00:00Z is ahead",
            ),
            (
                RawChange {
                    at: Some("2026-01-01T00:00:00Z".into()),
                    ..deploy()
                },
                "older than",
            ),
            (
                RawChange {
                    at: Some("tomorrow".into()),
                    ..deploy()
                },
                "at: \"tomorrow\" is not an RFC 3339 time",
            ),
            (
                RawChange {
                    region: Some("".into()),
                    ..deploy()
                },
                "region:",
            ),
        ] {
            let e = check_change(raw.clone(), WHEN).unwrap_err().to_string();
            assert!(e.contains(says), "{raw:?}: {e}");
        }
    }
}
