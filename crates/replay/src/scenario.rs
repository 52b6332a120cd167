//! The scenario model: a validated scenario, and parsing it from TOML with errors that name
//! the key.
//!
//! # The scenario format
//!
//! A scenario is a TOML file. Times are RFC 3339 in UTC (`2026-11-24T08:10:00Z`) or, for
//! events, an offset from `start` (`90m`, `1d 2h`). Durations are written like `90s`, `15m`,
//! `2h`, `30d`. Weights are relative numbers (they need not sum to 100). Unknown keys are
//! refused. `scenarios/design-outage.toml` is a commented example.
//!
//! | key | meaning |
//! |---|---|
//! | `name`, `description` | shown by `downbeat replay --list` |
//! | `seed` | the same seed gives the same traffic, byte for byte |
//! | `start`, `duration` | the first minute (whole minute, UTC) and the length |
//! | `utc_offset` | the audience's local time (`+01:00`) for the daily and weekly shape and holidays; default `+00:00` |
//! | `service` | the service id reports are sent to by default |
//! | `[baseline]` `per_minute` | normal reports per minute at the daily mean |
//! | `daily_amplitude`, `peak_hour`, `trough_hour` | the time-of-day curve: 1 ± amplitude, lowest at `trough_hour` (default 4), highest at `peak_hour` (default 20); its daily mean is 1; amplitude defaults to 0 (flat) |
//! | `hourly` | instead of the curve: 24 relative factors, hour 0 first, interpolated, normalised to mean 1 |
//! | `weekly` | `{ mon = 0.95, sat = 1.1, … }` factors per local weekday (missing ones are 1) |
//! | `growth_per_week` | compounding growth, e.g. `0.01` for 1% a week |
//! | `[[baseline.holiday]]` | `date = "2026-12-25"`, `factor = 0.6` (local date), optional `name` |
//! | `[noise]` `overdispersion` | 0 (default) is Poisson noise; k > 0 draws each minute's rate from a gamma with variance k·mean² first (negative binomial counts) |
//! | `[mix]` | the normal mix: `problem`, `platform`, `country` weight tables (required); `city.GB = { London = 5, … }` cities per country; `city_share` the share of reports that name a city (default 1 where cities are listed); `message = { "Something went wrong" = 5, … }` what listeners' screens say, and `message_share` the share of reports that say it (default 1 where messages are listed; an outage's mix inherits neither unless it lists none) |
//! | `[[outage]]` | `onset`, `ramp` (to full strength), `ramp_shape` (`linear`, `fast-start`, `slow-start`), `peak_per_minute` (extra reports a minute at full strength) or `peak_multiplier` (total / baseline at full strength, following the time of day), `plateau`, then `recovery` (a duration, linear to zero) or `[[outage.recovery_phase]]` tables (`level` as a share of full strength, reached linearly `over` a duration, then held for `hold`; the last level must be 0); `[outage.mix]` overrides any part of the normal mix |
//! | `[social]` | social chatter about the service: `source` (the signal source its counts are posted as, default `social`), `per_report` (posts per everyday report, default 0.2) and `per_outage_report` (per outage report, default 1.5); flood reports make none: a flood is fake, and chatter does not echo it |
//! | `[[change]]` | a change the service's pipeline records when the replay reaches `at`: `kind` (deploy, config, feature_flag, infrastructure, rollback), optional `component`, `version`, `title`; sent to `…/changes` with `--deployer-token` |
//! | `[[flood]]` | `start`, `duration`, `per_minute`, `networks` (distinct /24s, ≤ 4096), `clients_per_network` (≤ 254), optional `[flood.mix]`: traffic a correct server must not count as an outage |

use crate::raw::*;
use crate::rng::Weighted;
use downbeat_domain::{CountryCode, Platform, ProblemKind, ServiceId, Span};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Longest scenario accepted: a year and a bit, so minute indexes fit easily everywhere.
pub const MAX_MINUTES: u32 = 400 * 1440;
/// Flood networks are /24s inside 172.16.0.0/12: at most this many.
pub const MAX_FLOOD_NETWORKS: u32 = 4096;
/// Clients of one flood network are hosts .1 to .254.
pub const MAX_CLIENTS_PER_NETWORK: u32 = 254;

/// Why a scenario was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("scenario {origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error("scenario {origin}: key `{key}`: {message}")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },
    #[error("{0:?} is neither a scenario file nor a shipped scenario (shipped: {1})")]
    NotFound(String, String),
    #[error("{0}")]
    Window(String),
}

/// A validated scenario: everything the generator needs, in minutes from `start`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) seed: u64,
    pub(crate) start: Timestamp,
    pub(crate) minutes: u32,
    pub(crate) utc_offset_minutes: i32,
    pub(crate) service: Option<ServiceId>,
    pub(crate) baseline: Baseline,
    pub(crate) overdispersion: f64,
    pub(crate) mix: Mix,
    pub(crate) outages: Vec<Outage>,
    pub(crate) floods: Vec<Flood>,
    pub(crate) social: Option<Social>,
    pub(crate) changes: Vec<Change>,
}

/// A change the pipeline records at minute `at` (from the start).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub at: f64,
    pub kind: downbeat_domain::change::ChangeKind,
    pub component: Option<String>,
    pub version: Option<String>,
    pub title: Option<String>,
}

/// Social chatter: posts per minute in proportion to the everyday and the outage reports.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Social {
    pub source: downbeat_domain::Slug,
    pub per_report: f64,
    pub per_outage_report: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Baseline {
    pub per_minute: f64,
    pub daily: DailyShape,
    /// Monday first.
    pub weekly: [f64; 7],
    pub growth_per_week: f64,
    pub holidays: Vec<Holiday>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Holiday {
    pub name: String,
    pub date: Date,
    /// Local days since 1970-01-01.
    pub day: i64,
    pub factor: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DailyShape {
    Curve {
        amplitude: f64,
        peak_hour: f64,
        trough_hour: f64,
    },
    /// Normalised to mean 1.
    Hourly([f64; 24]),
}

/// What reports are about and where they come from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mix {
    pub problem: Weighted<ProblemKind>,
    pub platform: Weighted<Platform>,
    pub country: Weighted<CountryCode>,
    pub cities: BTreeMap<CountryCode, Weighted<Arc<str>>>,
    pub city_share: f64,
    /// What listeners' screens say (each a valid report message), when anything.
    pub messages: Option<Weighted<Arc<str>>>,
    pub message_share: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RampShape {
    Linear,
    /// Concave: most of the rise in the first minutes (a hard failure everyone hits at once).
    FastStart,
    /// Convex: slow at first, then accelerating (word of mouth, caches expiring).
    SlowStart,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Peak {
    Multiplier(f64),
    PerMinute(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Phase {
    pub level: f64,
    pub over: f64,
    pub hold: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outage {
    pub name: String,
    /// Minutes from the scenario start (may be negative: already under way).
    pub onset: f64,
    pub ramp: f64,
    pub ramp_shape: RampShape,
    pub peak: Peak,
    pub plateau: f64,
    pub recovery: Vec<Phase>,
    pub mix: Mix,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Flood {
    pub name: String,
    pub start: f64,
    pub minutes: f64,
    pub per_minute: f64,
    pub networks: u32,
    pub clients_per_network: u32,
    pub mix: Mix,
}

/// A point in a scenario, as given on the command line: minutes from its start (`90`,
/// `90m`, `2h`) or an RFC 3339 time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Offset(u32),
    At(Timestamp),
}

/// A position that is neither a number of minutes nor a time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is neither minutes from the start (90, 90m, 2h) nor an RFC 3339 time")]
pub struct BadPosition(String);

impl std::str::FromStr for Position {
    type Err = BadPosition;
    fn from_str(s: &str) -> std::result::Result<Self, BadPosition> {
        let s = s.trim();
        if let Ok(n) = s.parse::<u32>() {
            return Ok(Position::Offset(n));
        }
        if let Ok(t) = s.parse::<Timestamp>() {
            return Ok(Position::At(t));
        }
        match Span::parse(s) {
            Ok(span) => Ok(Position::Offset((span.as_secs() / 60) as u32)),
            Err(_) => Err(BadPosition(s.to_owned())),
        }
    }
}

/// A half-open range of scenario minutes, `from..until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: u32,
    pub until: u32,
}

impl Window {
    pub fn len(&self) -> u32 {
        self.until - self.from
    }

    pub fn is_empty(&self) -> bool {
        self.until <= self.from
    }

    pub fn minutes(&self) -> std::ops::Range<u32> {
        self.from..self.until
    }
}

impl Scenario {
    /// Parses and validates scenario text; `origin` names it in errors (a path or a name).
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let syntax = |message: String| ScenarioError::Syntax {
            origin: origin.to_owned(),
            message: message.trim().to_owned(),
        };
        let de = toml::Deserializer::parse(text).map_err(|e| syntax(e.to_string()))?;
        let raw: RawScenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner().to_string();
            if key == "." || key.is_empty() {
                syntax(inner)
            } else {
                ScenarioError::Invalid {
                    origin: origin.to_owned(),
                    key,
                    message: inner.trim().to_owned(),
                }
            }
        })?;
        Validator { origin }.scenario(raw)
    }

    /// Reads a scenario file.
    pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        Scenario::parse(&text, &path.display().to_string())
    }

    /// A file if one exists at `name_or_path`, else the shipped scenario of that name.
    pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        let path = Path::new(name_or_path);
        if path.is_file() {
            return Scenario::load_file(path);
        }
        match crate::shipped::text(name_or_path) {
            Some(text) => Scenario::parse(text, name_or_path),
            None if name_or_path.ends_with(".toml") || name_or_path.contains('/') => {
                Scenario::load_file(path)
            }
            None => Err(ScenarioError::NotFound(
                name_or_path.to_owned(),
                crate::shipped::names().collect::<Vec<_>>().join(", "),
            )),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// Length in minutes.
    pub fn minutes(&self) -> u32 {
        self.minutes
    }

    /// The service reports go to unless told otherwise.
    pub fn service(&self) -> Option<&str> {
        self.service.as_ref().map(|s| s.as_str())
    }

    /// The start of scenario minute `m`.
    pub fn timestamp_of(&self, minute: u32) -> Timestamp {
        Timestamp::from_second(self.start.as_second() + i64::from(minute) * 60)
            .expect("scenario times are validated to be in range")
    }

    /// Onset of each outage, in minutes from the start (fractional, may be negative).
    pub fn outage_onsets(&self) -> Vec<(String, f64)> {
        self.outages
            .iter()
            .map(|o| (o.name.clone(), o.onset))
            .collect()
    }

    /// One line per outage, flood and holiday, for people.
    pub fn events(&self) -> Vec<String> {
        let at = |minutes: f64| {
            let t =
                Timestamp::from_second(self.start.as_second() + (minutes * 60.0).round() as i64)
                    .map_or_else(|_| "?".to_owned(), |t| t.to_string());
            format!("{t} (minute {minutes:.0})")
        };
        let mut out = Vec::new();
        for o in &self.outages {
            let peak = match o.peak {
                Peak::PerMinute(p) => format!("+{p:.0} reports/min"),
                Peak::Multiplier(m) => format!("{m}× the baseline"),
            };
            out.push(format!(
                "outage {:?}: onset {}, full strength ({peak}) after {:.0} min, over after {:.0} min",
                o.name,
                at(o.onset),
                o.ramp,
                o.length()
            ));
        }
        for f in &self.floods {
            out.push(format!(
                "flood {:?}: from {} for {:.0} min, {:.0} reports/min from {} /24 networks × {} clients",
                f.name,
                at(f.start),
                f.minutes,
                f.per_minute,
                f.networks,
                f.clients_per_network
            ));
        }
        for h in &self.baseline.holidays {
            out.push(format!(
                "holiday {:?}: {} at {}× the usual",
                h.name, h.date, h.factor
            ));
        }
        for c in &self.changes {
            let what = [c.component.as_deref(), c.version.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            out.push(format!("change: {} {what} at {}", c.kind, at(c.at)).replace("  ", " "));
        }
        out
    }

    /// The changes recorded in minute `m`.
    pub fn changes_in(&self, m: u32) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(move |c| c.at.floor() as u32 == m)
    }

    /// The same scenario with another seed.
    pub fn with_seed(mut self, seed: u64) -> Scenario {
        self.seed = seed;
        self
    }

    /// Every rate (baseline, outage peaks, floods) multiplied by `factor`, to send a big
    /// outage to a small test server.
    pub fn scaled(mut self, factor: f64) -> Scenario {
        let factor = factor.max(0.0);
        self.baseline.per_minute *= factor;
        for o in &mut self.outages {
            if let Peak::PerMinute(p) = &mut o.peak {
                *p *= factor;
            }
        }
        for f in &mut self.floods {
            f.per_minute *= factor;
        }
        self
    }

    /// The minutes `from..until` (default: the whole scenario), checked against its length.
    pub fn window(
        &self,
        from: Option<Position>,
        until: Option<Position>,
    ) -> Result<Window, ScenarioError> {
        let resolve = |p: Position, flag: &str| -> Result<u32, ScenarioError> {
            let m = match p {
                Position::Offset(m) => i64::from(m),
                Position::At(t) => (t.as_second() - self.start.as_second()).div_euclid(60),
            };
            if m < 0 || m > i64::from(self.minutes) {
                return Err(ScenarioError::Window(format!(
                    "{flag} is outside the scenario, which runs from {} for {} minutes",
                    self.start, self.minutes
                )));
            }
            Ok(m as u32)
        };
        let from = from.map(|p| resolve(p, "--from")).transpose()?.unwrap_or(0);
        let until = until
            .map(|p| resolve(p, "--until"))
            .transpose()?
            .unwrap_or(self.minutes);
        if until <= from {
            return Err(ScenarioError::Window(format!(
                "--until (minute {until}) must come after --from (minute {from})"
            )));
        }
        Ok(Window { from, until })
    }

    /// Every problem kind, platform and country any mix can produce, in a stable order.
    pub fn categories(&self) -> (Vec<ProblemKind>, Vec<Platform>, Vec<CountryCode>) {
        let mixes = std::iter::once(&self.mix)
            .chain(self.outages.iter().map(|o| &o.mix))
            .chain(self.floods.iter().map(|f| &f.mix));
        let mut problems = BTreeSet::new();
        let mut platforms = BTreeSet::new();
        let mut countries = BTreeSet::new();
        for m in mixes {
            problems.extend(m.problem.items().iter().cloned());
            platforms.extend(m.platform.items().iter().copied());
            countries.extend(m.country.items().iter().copied());
        }
        (
            problems.into_iter().collect(),
            platforms.into_iter().collect(),
            countries.into_iter().collect(),
        )
    }
}

struct Validator<'a> {
    origin: &'a str,
}

type Result<T, E = ScenarioError> = std::result::Result<T, E>;

impl Validator<'_> {
    fn err(&self, key: impl Into<String>, message: impl std::fmt::Display) -> ScenarioError {
        ScenarioError::Invalid {
            origin: self.origin.to_owned(),
            key: key.into(),
            message: message.to_string(),
        }
    }

    fn scenario(&self, raw: RawScenario) -> Result<Scenario> {
        let start: Timestamp = raw
            .start
            .parse()
            .map_err(|e| self.err("start", format!("not an RFC 3339 time: {e}")))?;
        if start.as_second().rem_euclid(60) != 0 || start.subsec_nanosecond() != 0 {
            return Err(self.err("start", "must be a whole minute (seconds = 00)"));
        }
        let duration = self.span("duration", &raw.duration)?;
        let minutes = (duration / 60.0).floor();
        if minutes < 1.0 || minutes > f64::from(MAX_MINUTES) {
            return Err(self.err(
                "duration",
                format!("must be between 1 minute and {} days", MAX_MINUTES / 1440),
            ));
        }
        let minutes = minutes as u32;
        let utc_offset_minutes = match &raw.utc_offset {
            None => 0,
            Some(s) => parse_offset(s).ok_or_else(|| {
                self.err(
                    "utc_offset",
                    format!("{s:?} is not an offset like +01:00 or -05:30"),
                )
            })?,
        };
        let service = raw
            .service
            .as_deref()
            .map(|s| ServiceId::parse(s).map_err(|e| self.err("service", e)))
            .transpose()?;
        let baseline = self.baseline(raw.baseline)?;
        let overdispersion = raw.noise.and_then(|n| n.overdispersion).unwrap_or(0.0);
        if !(0.0..=10.0).contains(&overdispersion) {
            return Err(self.err("noise.overdispersion", "must be between 0 and 10"));
        }
        let mix = self.mix("mix", raw.mix, None)?;
        let when = |key: &str, s: &str| self.when(key, s, start);
        let mut outages = Vec::with_capacity(raw.outage.len());
        for (i, o) in raw.outage.into_iter().enumerate() {
            let key = |k: &str| format!("outage[{i}].{k}");
            let onset = when(&key("onset"), &o.onset)?;
            let ramp = self.span(&key("ramp"), &o.ramp)? / 60.0;
            let ramp_shape = match o.ramp_shape.as_deref() {
                None | Some("linear") => RampShape::Linear,
                Some("fast-start") => RampShape::FastStart,
                Some("slow-start") => RampShape::SlowStart,
                Some(other) => {
                    return Err(self.err(
                        key("ramp_shape"),
                        format!("{other:?}: expected linear, fast-start or slow-start"),
                    ));
                }
            };
            let peak = match (o.peak_multiplier, o.peak_per_minute) {
                (Some(m), None) if m >= 1.0 && m.is_finite() => Peak::Multiplier(m),
                (Some(_), None) => return Err(self.err(key("peak_multiplier"), "must be ≥ 1")),
                (None, Some(p)) if p >= 0.0 && p.is_finite() => Peak::PerMinute(p),
                (None, Some(_)) => return Err(self.err(key("peak_per_minute"), "must be ≥ 0")),
                (Some(_), Some(_)) => {
                    return Err(self.err(
                        key("peak_per_minute"),
                        "give peak_per_minute or peak_multiplier, not both",
                    ));
                }
                (None, None) => {
                    return Err(self.err(
                        key("peak_per_minute"),
                        "missing: give peak_per_minute or peak_multiplier",
                    ));
                }
            };
            let plateau = match &o.plateau {
                Some(s) => self.span(&key("plateau"), s)? / 60.0,
                None => 0.0,
            };
            let recovery = match (&o.recovery, o.recovery_phase.is_empty()) {
                (Some(s), true) => vec![Phase {
                    level: 0.0,
                    over: self.span(&key("recovery"), s)? / 60.0,
                    hold: 0.0,
                }],
                (None, false) => {
                    let mut phases = Vec::with_capacity(o.recovery_phase.len());
                    for (j, p) in o.recovery_phase.iter().enumerate() {
                        let pk = |k: &str| format!("outage[{i}].recovery_phase[{j}].{k}");
                        if !(0.0..=1.0).contains(&p.level) {
                            return Err(self.err(pk("level"), "must be between 0 and 1"));
                        }
                        phases.push(Phase {
                            level: p.level,
                            over: self.span(&pk("over"), &p.over)? / 60.0,
                            hold: match &p.hold {
                                Some(h) => self.span(&pk("hold"), h)? / 60.0,
                                None => 0.0,
                            },
                        });
                    }
                    if phases.last().is_some_and(|p| p.level != 0.0) {
                        return Err(self.err(
                            format!("outage[{i}].recovery_phase[{}].level", phases.len() - 1),
                            "the last recovery phase must end at level 0",
                        ));
                    }
                    phases
                }
                (Some(_), false) => {
                    return Err(self.err(
                        key("recovery"),
                        "give recovery or [[recovery_phase]] tables, not both",
                    ));
                }
                (None, true) => {
                    return Err(self.err(
                        key("recovery"),
                        "missing: give recovery (a duration) or [[recovery_phase]] tables",
                    ));
                }
            };
            outages.push(Outage {
                name: o.name.unwrap_or_else(|| format!("outage {}", i + 1)),
                onset,
                ramp,
                ramp_shape,
                peak,
                plateau,
                recovery,
                mix: self.mix(&format!("outage[{i}].mix"), o.mix, Some(&mix))?,
            });
        }
        let mut floods = Vec::with_capacity(raw.flood.len());
        for (i, f) in raw.flood.into_iter().enumerate() {
            let key = |k: &str| format!("flood[{i}].{k}");
            if !(f.per_minute >= 0.0 && f.per_minute.is_finite()) {
                return Err(self.err(key("per_minute"), "must be ≥ 0"));
            }
            if !(1..=MAX_FLOOD_NETWORKS).contains(&f.networks) {
                return Err(self.err(
                    key("networks"),
                    format!("must be between 1 and {MAX_FLOOD_NETWORKS}"),
                ));
            }
            if !(1..=MAX_CLIENTS_PER_NETWORK).contains(&f.clients_per_network) {
                return Err(self.err(
                    key("clients_per_network"),
                    format!("must be between 1 and {MAX_CLIENTS_PER_NETWORK}"),
                ));
            }
            floods.push(Flood {
                name: f.name.unwrap_or_else(|| format!("flood {}", i + 1)),
                start: when(&key("start"), &f.start)?,
                minutes: self.span(&key("duration"), &f.duration)? / 60.0,
                per_minute: f.per_minute,
                networks: f.networks,
                clients_per_network: f.clients_per_network,
                mix: self.mix(&format!("flood[{i}].mix"), f.mix, Some(&mix))?,
            });
        }
        let social = match raw.social {
            None => None,
            Some(so) => {
                let rate = |key: &str, v: Option<f64>, default: f64| match v {
                    None => Ok(default),
                    Some(v) if (0.0..=100.0).contains(&v) => Ok(v),
                    Some(_) => Err(self.err(format!("social.{key}"), "must be between 0 and 100")),
                };
                Some(Social {
                    source: downbeat_domain::Slug::parse(so.source.as_deref().unwrap_or("social"))
                        .map_err(|e| self.err("social.source", e))?,
                    per_report: rate("per_report", so.per_report, 0.2)?,
                    per_outage_report: rate("per_outage_report", so.per_outage_report, 1.5)?,
                })
            }
        };
        let mut changes = Vec::with_capacity(raw.change.len());
        for (i, c) in raw.change.into_iter().enumerate() {
            let key = |k: &str| format!("change[{i}].{k}");
            let kind = downbeat_domain::change::ChangeKind::parse(&c.kind).ok_or_else(|| {
                self.err(
                    key("kind"),
                    format!(
                        "{:?}: expected deploy, config, feature_flag, infrastructure or rollback",
                        c.kind
                    ),
                )
            })?;
            let at = when(&key("at"), &c.at)?;
            if !(0.0..f64::from(minutes)).contains(&at) {
                return Err(self.err(key("at"), "must fall within the scenario"));
            }
            changes.push(Change {
                at,
                kind,
                component: c.component,
                version: c.version,
                title: c.title,
            });
        }
        changes.sort_by(|a, b| a.at.total_cmp(&b.at));
        Ok(Scenario {
            name: raw.name.unwrap_or_else(|| self.origin.to_owned()),
            description: raw.description.unwrap_or_default(),
            seed: raw.seed,
            start,
            minutes,
            utc_offset_minutes,
            service,
            baseline,
            overdispersion,
            mix,
            outages,
            floods,
            social,
            changes,
        })
    }

    /// Seconds in a duration.
    fn span(&self, key: &str, s: &str) -> Result<f64> {
        Span::parse(s)
            .map(|s| s.as_duration().as_secs_f64())
            .map_err(|e| self.err(key, e))
    }

    /// Minutes from `start` to an RFC 3339 time or an offset (`90m`).
    fn when(&self, key: &str, s: &str, start: Timestamp) -> Result<f64> {
        if let Ok(t) = s.parse::<Timestamp>() {
            let secs = t.as_second() - start.as_second();
            return Ok(secs as f64 / 60.0 + f64::from(t.subsec_nanosecond()) / 60e9);
        }
        Span::parse(s)
            .map(|span| span.as_duration().as_secs_f64() / 60.0)
            .map_err(|_| {
                self.err(
                    key,
                    format!("{s:?} is neither an RFC 3339 time nor an offset from start like 90m"),
                )
            })
    }

    fn factor(&self, key: &str, v: f64) -> Result<f64> {
        if v >= 0.0 && v.is_finite() {
            Ok(v)
        } else {
            Err(self.err(key, "must be a number ≥ 0"))
        }
    }

    fn baseline(&self, raw: RawBaseline) -> Result<Baseline> {
        let per_minute = self.factor("baseline.per_minute", raw.per_minute)?;
        let curve_given =
            raw.daily_amplitude.is_some() || raw.peak_hour.is_some() || raw.trough_hour.is_some();
        let daily = match raw.hourly {
            Some(_) if curve_given => {
                return Err(self.err(
                    "baseline.hourly",
                    "give hourly factors or daily_amplitude/peak_hour/trough_hour, not both",
                ));
            }
            Some(h) => {
                let arr: [f64; 24] = h.try_into().map_err(|v: Vec<f64>| {
                    self.err(
                        "baseline.hourly",
                        format!("needs 24 factors, hour 0 first (got {})", v.len()),
                    )
                })?;
                for (i, v) in arr.iter().enumerate() {
                    self.factor(&format!("baseline.hourly[{i}]"), *v)?;
                }
                let mean = arr.iter().sum::<f64>() / 24.0;
                if mean <= 0.0 {
                    return Err(self.err("baseline.hourly", "needs a positive factor"));
                }
                DailyShape::Hourly(arr.map(|v| v / mean))
            }
            None => {
                let amplitude = raw.daily_amplitude.unwrap_or(0.0);
                if !(0.0..=1.0).contains(&amplitude) {
                    return Err(self.err("baseline.daily_amplitude", "must be between 0 and 1"));
                }
                let peak_hour = raw.peak_hour.unwrap_or(20.0);
                let trough_hour = raw.trough_hour.unwrap_or(4.0);
                for (k, h) in [("peak_hour", peak_hour), ("trough_hour", trough_hour)] {
                    if !(0.0..24.0).contains(&h) {
                        return Err(self.err(format!("baseline.{k}"), "must be in [0, 24)"));
                    }
                }
                if peak_hour == trough_hour {
                    return Err(self.err("baseline.peak_hour", "must differ from trough_hour"));
                }
                DailyShape::Curve {
                    amplitude,
                    peak_hour,
                    trough_hour,
                }
            }
        };
        let w = raw.weekly.unwrap_or_default();
        let mut weekly = [1.0; 7];
        for (i, (k, v)) in [
            ("mon", w.mon),
            ("tue", w.tue),
            ("wed", w.wed),
            ("thu", w.thu),
            ("fri", w.fri),
            ("sat", w.sat),
            ("sun", w.sun),
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(v) = v {
                weekly[i] = self.factor(&format!("baseline.weekly.{k}"), v)?;
            }
        }
        let growth_per_week = raw.growth_per_week.unwrap_or(0.0);
        if !(-0.5..=1.0).contains(&growth_per_week) {
            return Err(self.err("baseline.growth_per_week", "must be between -0.5 and 1"));
        }
        let mut holidays = Vec::with_capacity(raw.holiday.len());
        for (i, h) in raw.holiday.iter().enumerate() {
            let date: Date = h.date.parse().map_err(|e| {
                self.err(
                    format!("baseline.holiday[{i}].date"),
                    format!("not a date like 2026-12-25: {e}"),
                )
            })?;
            let day = date
                .to_zoned(TimeZone::UTC)
                .map_err(|e| self.err(format!("baseline.holiday[{i}].date"), e))?
                .timestamp()
                .as_second()
                .div_euclid(86_400);
            let factor = self.factor(&format!("baseline.holiday[{i}].factor"), h.factor)?;
            holidays.push(Holiday {
                name: h.name.clone().unwrap_or_else(|| "holiday".to_owned()),
                date,
                day,
                factor,
            });
        }
        Ok(Baseline {
            per_minute,
            daily,
            weekly,
            growth_per_week,
            holidays,
        })
    }

    /// A mix; with `inherit`, missing parts come from it.
    fn mix(&self, prefix: &str, raw: RawMix, inherit: Option<&Mix>) -> Result<Mix> {
        let missing = |k: &str| self.err(format!("{prefix}.{k}"), "missing: a table of weights");
        let problem = match raw.problem {
            Some(t) => self.weights(&format!("{prefix}.problem"), t, ProblemKind::parse)?,
            None => inherit.ok_or_else(|| missing("problem"))?.problem.clone(),
        };
        let platform = match raw.platform {
            Some(t) => self.weights(&format!("{prefix}.platform"), t, str::parse::<Platform>)?,
            None => inherit.ok_or_else(|| missing("platform"))?.platform.clone(),
        };
        let country = match raw.country {
            Some(t) => self.weights(&format!("{prefix}.country"), t, CountryCode::parse)?,
            None => inherit.ok_or_else(|| missing("country"))?.country.clone(),
        };
        let cities = match raw.city {
            Some(t) => {
                let mut cities = BTreeMap::new();
                for (c, table) in t {
                    let key = format!("{prefix}.city.{c}");
                    let code = CountryCode::parse(&c).map_err(|e| self.err(&key, e))?;
                    let w = self.weights(&key, table, |s| {
                        downbeat_domain::City::parse_required(s)
                            .map(|city| Arc::<str>::from(city.as_str()))
                    })?;
                    cities.insert(code, w);
                }
                cities
            }
            None => inherit.map(|m| m.cities.clone()).unwrap_or_default(),
        };
        let city_share = match raw.city_share {
            Some(s) if (0.0..=1.0).contains(&s) => s,
            Some(_) => {
                return Err(self.err(format!("{prefix}.city_share"), "must be between 0 and 1"));
            }
            None => inherit.map_or(1.0, |m| m.city_share),
        };
        let messages = match raw.message {
            Some(t) => Some(self.weights(&format!("{prefix}.message"), t, |s| {
                match downbeat_domain::ScreenText::parse(s) {
                    Ok(Some(m)) => Ok(Arc::<str>::from(m.as_str())),
                    Ok(None) => Err("a message must not be empty".to_owned()),
                    Err(e) => Err(e.to_string()),
                }
            })?),
            None => inherit.and_then(|m| m.messages.clone()),
        };
        let message_share = match raw.message_share {
            Some(s) if (0.0..=1.0).contains(&s) => s,
            Some(_) => {
                return Err(self.err(format!("{prefix}.message_share"), "must be between 0 and 1"));
            }
            None => inherit.map_or(1.0, |m| m.message_share),
        };
        Ok(Mix {
            problem,
            platform,
            country,
            cities,
            city_share,
            messages,
            message_share,
        })
    }

    fn weights<T, E: std::fmt::Display>(
        &self,
        key: &str,
        table: BTreeMap<String, f64>,
        parse: impl Fn(&str) -> std::result::Result<T, E>,
    ) -> Result<Weighted<T>> {
        let mut pairs = Vec::with_capacity(table.len());
        for (k, w) in table {
            let item = parse(&k).map_err(|e| self.err(format!("{key}.{k}"), e))?;
            pairs.push((item, self.factor(&format!("{key}.{k}"), w)?));
        }
        Weighted::new(pairs).ok_or_else(|| self.err(key, "needs at least one positive weight"))
    }
}

/// `+01:00`, `-05:30`, `Z` → minutes east of UTC.
fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    if s == "Z" || s == "z" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("+01:00"), Some(60));
        assert_eq!(parse_offset("-05:30"), Some(-330));
        assert_eq!(parse_offset("Z"), Some(0));
        assert_eq!(parse_offset("+9"), Some(540));
        assert_eq!(parse_offset("01:00"), None);
        assert_eq!(parse_offset("+25:00"), None);
    }

    #[test]
    fn positions_parse() {
        assert_eq!("90".parse(), Ok(Position::Offset(90)));
        assert_eq!("2h".parse(), Ok(Position::Offset(120)));
        assert!(matches!(
            "2026-11-24T08:00:00Z".parse::<Position>(),
            Ok(Position::At(_))
        ));
        assert!("soon".parse::<Position>().is_err());
    }
}
