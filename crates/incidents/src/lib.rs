//! Incidents, maintenance windows and post-mortems: the operator's side of the status page.
//!
//! [`Incidents`] is the stage's handle. It reads the crowd's verdicts and the monitors'
//! states to time and draft incidents, and tells the notifier of every change people
//! should hear of.
//!
//! # Layout
//! - [`model`]: an incident as the API and the pages show it (the vocabulary lives in
//!   `downbeat_domain::incident`).
//! - [`ops`]: what operators do, with every transition checked.
//! - [`signals`]: time to detect from recorded signals, evidence, and automatic drafts.
//! - [`integrations`]: other monitors' alerts (Alertmanager, inbound webhooks) mapped to
//!   component states, drafting and moving incidents.
//! - [`events`]: what a change means to the people who hear of it (public or operators).
//! - [`error`]: why an operation was refused.
//!
//! The pages never wait for the store: every write refreshes an in-memory snapshot per
//! service at once, and a job refreshes all of them every few seconds, so changes made
//! through another node appear within seconds too.

pub mod changes;
pub mod error;
pub mod events;
pub mod integrations;
pub mod model;
pub mod ops;
pub mod regions;
pub mod signals;

pub use error::IncidentError;
pub use events::reconcile;

use downbeat_crowd::Crowd;
use downbeat_domain::{Clock, ComponentState};
use downbeat_monitors::Monitors;
use downbeat_notify::Notifier;
use downbeat_store::{ChangeStore, DetectionStore, IncidentStore, ProbeStore, ReportStore};
use downbeat_store::{IncidentFilter, StoreError};
pub use model::{Impact, Incident, Kind, Source, Status};
use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// How many past incidents a service's snapshot keeps (the history page shows these).
pub const HISTORY: u32 = 200;
/// Completed maintenance stays listed this long.
const MAINTENANCE_AFTER_MS: i64 = 7 * 86_400_000;

/// A service's published incidents and maintenance, as the pages show them.
#[derive(Debug, Default, PartialEq)]
pub struct ServiceIncidents {
    /// Bumped whenever the content changes: part of the pages' cache key.
    pub generation: u64,
    /// Published incidents, newest first (open and past).
    pub incidents: Vec<Incident>,
    /// Published maintenance windows: upcoming, in progress, and recently completed.
    pub maintenance: Vec<Incident>,
    /// Drafts awaiting an operator (never shown publicly).
    pub drafts: Vec<Incident>,
}

impl ServiceIncidents {
    pub fn open_incidents(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.iter().filter(|i| i.is_open())
    }

    /// The official state of each component the open incidents and in-progress maintenance
    /// name (the worst wins); components not named are operational.
    pub fn component_states(&self) -> BTreeMap<String, ComponentState> {
        let mut out: BTreeMap<String, ComponentState> = BTreeMap::new();
        let active = self.open_incidents().chain(
            self.maintenance
                .iter()
                .filter(|m| m.status == Status::InProgress),
        );
        for i in active {
            for (id, state) in &i.components {
                let e = out.entry(id.clone()).or_insert(*state);
                if severity(*state) > severity(*e) {
                    *e = *state;
                }
            }
        }
        out
    }
}

/// How bad a component state is (maintenance is planned, so it ranks below any
/// unplanned degradation).
pub fn severity(s: ComponentState) -> u8 {
    match s {
        ComponentState::Operational => 0,
        ComponentState::UnderMaintenance => 1,
        ComponentState::DegradedPerformance => 2,
        ComponentState::PartialOutage => 3,
        ComponentState::MajorOutage => 4,
    }
}

/// The incidents stage's handle: every service's snapshot, and what the operations and the
/// drafting job need. Cheap to clone.
#[derive(Clone)]
pub struct Incidents {
    inner: Arc<Inner>,
}

pub struct Inner {
    pub config: downbeat_config::Live,
    /// Where incidents and their updates live.
    pub records: Arc<dyn IncidentStore>,
    /// The signals that time and draft incidents: verdict events and the lease, report
    /// counts, probe results.
    pub detection: Arc<dyn DetectionStore>,
    pub reports: Arc<dyn ReportStore>,
    pub probes: Arc<dyn ProbeStore>,
    /// Deploys and other changes: the first suspects of an outage that follows them.
    pub changes: Arc<dyn ChangeStore>,
    pub clock: Arc<dyn Clock>,
    /// This process's name in leases.
    pub node_id: Arc<str>,
    pub notifier: Notifier,
    pub crowd: Crowd,
    pub monitors: Monitors,
    /// A token bucket per configured integration.
    pub integration_limits: integrations::Limits,
    snapshots: RwLock<HashMap<String, Arc<ServiceIncidents>>>,
    generation: AtomicU64,
}

impl Deref for Incidents {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

/// The store traits the incidents stage reads and writes: its own records, and the signals
/// that time and draft incidents.
pub struct IncidentStores {
    pub records: Arc<dyn IncidentStore>,
    pub detection: Arc<dyn DetectionStore>,
    pub reports: Arc<dyn ReportStore>,
    pub probes: Arc<dyn ProbeStore>,
    pub changes: Arc<dyn ChangeStore>,
}

impl Incidents {
    pub fn new(
        config: downbeat_config::Live,
        stores: IncidentStores,
        clock: Arc<dyn Clock>,
        node_id: Arc<str>,
        notifier: Notifier,
        crowd: Crowd,
        monitors: Monitors,
    ) -> Incidents {
        let IncidentStores {
            records,
            detection,
            reports,
            probes,
            changes,
        } = stores;
        Incidents {
            inner: Arc::new(Inner {
                integration_limits: integrations::Limits::new(&config.load().integrations),
                config,
                records,
                detection,
                reports,
                probes,
                changes,
                clock,
                node_id,
                notifier,
                crowd,
                monitors,
                snapshots: RwLock::new(HashMap::new()),
                generation: AtomicU64::new(0),
            }),
        }
    }
}

/// The snapshot of `service` (empty before the first load).
pub fn snapshot(incidents: &Incidents, service: &str) -> Arc<ServiceIncidents> {
    incidents
        .snapshots
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(service)
        .cloned()
        .unwrap_or_default()
}

/// Reloads `service`'s snapshot from the store; bumps its generation if anything changed.
pub async fn refresh(incidents: &Incidents, service: &str) -> Result<(), StoreError> {
    let now_ms = incidents.clock.now().as_millisecond();
    let records = incidents
        .records
        .incidents(IncidentFilter {
            service: Some(service.to_owned()),
            include_drafts: true,
            limit: HISTORY,
            ..Default::default()
        })
        .await?;
    let mut fresh = ServiceIncidents::default();
    for rec in &records {
        let i = Incident::from_record(rec);
        if i.draft {
            fresh.drafts.push(i);
        } else if i.kind == Kind::Maintenance {
            let done_long_ago = i
                .resolved_at
                .is_some_and(|t| now_ms - t.as_millisecond() > MAINTENANCE_AFTER_MS);
            if !done_long_ago {
                fresh.maintenance.push(i.public());
            }
        } else {
            fresh.incidents.push(i.public());
        }
    }
    // Upcoming maintenance soonest first.
    fresh.maintenance.sort_by_key(|m| m.scheduled_for);
    let mut map = incidents
        .snapshots
        .write()
        .unwrap_or_else(|e| e.into_inner());
    let old = map.get(service);
    let unchanged = old.is_some_and(|o| {
        o.incidents == fresh.incidents
            && o.maintenance == fresh.maintenance
            && o.drafts == fresh.drafts
    });
    if !unchanged {
        fresh.generation = incidents.generation.fetch_add(1, Ordering::Relaxed) + 1;
        map.insert(service.to_owned(), Arc::new(fresh));
    }
    Ok(())
}

/// Reloads every service's snapshot.
pub async fn refresh_all(incidents: &Incidents) -> Result<(), StoreError> {
    for s in &incidents.config.get().services {
        refresh(incidents, s.id.as_str()).await?;
    }
    Ok(())
}
