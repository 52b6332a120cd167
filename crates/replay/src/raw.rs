//! The scenario file as written: a serde mirror of the TOML, before validation.
//!
//! Every table refuses unknown keys so a typo is named instead of silently ignored.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<String>,
    pub description: Option<String>,
    pub seed: u64,
    pub start: String,
    pub duration: String,
    pub utc_offset: Option<String>,
    pub service: Option<String>,
    pub baseline: RawBaseline,
    pub noise: Option<RawNoise>,
    pub mix: RawMix,
    #[serde(default)]
    pub outage: Vec<RawOutage>,
    #[serde(default)]
    pub flood: Vec<RawFlood>,
    pub social: Option<RawSocial>,
    #[serde(default)]
    pub change: Vec<RawChange>,
}

/// `[[change]]`: a change the service's pipeline records (a deploy, a rollback, ...).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChange {
    pub at: String,
    pub kind: String,
    pub component: Option<String>,
    pub version: Option<String>,
    pub title: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSocial {
    pub source: Option<String>,
    pub per_report: Option<f64>,
    pub per_outage_report: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBaseline {
    pub per_minute: f64,
    pub daily_amplitude: Option<f64>,
    pub peak_hour: Option<f64>,
    pub trough_hour: Option<f64>,
    pub hourly: Option<Vec<f64>>,
    pub weekly: Option<RawWeekly>,
    pub growth_per_week: Option<f64>,
    #[serde(default)]
    pub holiday: Vec<RawHoliday>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeekly {
    pub mon: Option<f64>,
    pub tue: Option<f64>,
    pub wed: Option<f64>,
    pub thu: Option<f64>,
    pub fri: Option<f64>,
    pub sat: Option<f64>,
    pub sun: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHoliday {
    pub date: String,
    pub factor: f64,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNoise {
    pub overdispersion: Option<f64>,
}

/// A mix; at the top level problem, platform and country are required, in an outage or a
/// flood any of them may be left out to inherit the top-level one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMix {
    pub problem: Option<BTreeMap<String, f64>>,
    pub platform: Option<BTreeMap<String, f64>>,
    pub country: Option<BTreeMap<String, f64>>,
    pub city: Option<BTreeMap<String, BTreeMap<String, f64>>>,
    pub city_share: Option<f64>,
    pub message: Option<BTreeMap<String, f64>>,
    pub message_share: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutage {
    pub name: Option<String>,
    pub onset: String,
    pub ramp: String,
    pub ramp_shape: Option<String>,
    pub peak_multiplier: Option<f64>,
    pub peak_per_minute: Option<f64>,
    pub plateau: Option<String>,
    pub recovery: Option<String>,
    #[serde(default)]
    pub recovery_phase: Vec<RawPhase>,
    #[serde(default)]
    pub mix: RawMix,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    pub level: f64,
    pub over: String,
    pub hold: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlood {
    pub name: Option<String>,
    pub start: String,
    pub duration: String,
    pub per_minute: f64,
    pub networks: u32,
    pub clients_per_network: u32,
    #[serde(default)]
    pub mix: RawMix,
}
