//! Report intake: the first stage of the pipeline. A listener's report comes in, is judged
//! (who sent it, how often, is it valid, does it count), and is committed durably before
//! anyone is told it was taken.
//!
//! [`Intake`] is the stage's handle: the API and the pages hand it a client address and a
//! parsed [`RawReport`]; it answers [`Accepted`] once the report is in the store, or an
//! [`IntakeError`] naming what is wrong.
//!
//! # Layout
//! - [`identity`]: who a client is: address behind trusted proxies, keyed hashes, daily salts.
//! - [`form_token`]: the status page form's token, keyed by the daily salt: no cookie, the
//!   same on every node.
//! - [`limiter`]: per-client token buckets against floods; the configured limit is the
//!   cluster's, shared among the live nodes.
//! - [`dedupe`]: this node's memory of who counted lately (a repeat is answered at once);
//!   whether a report counts is decided with its commit, across every node (see [`ingest`]).
//! - [`report`]: a report as sent ([`RawReport`]), its validation and the answer.
//! - [`ingest`]: the group-commit queue between handlers and the store; its transaction
//!   also decides which reports count.
//! - [`generations`]: per-service change counters that tell caches a service changed.
//! - [`metrics`]: reports received, counted and refused; commit latency and batch size.
//! - [`error`]: why a report was not taken.

pub mod dedupe;
pub mod error;
pub mod form_token;
pub mod generations;
pub mod identity;
pub mod ingest;
pub mod limiter;
pub mod metrics;
pub mod report;

pub use error::IntakeError;
pub use form_token::FormTokenError;
pub use generations::Generations;
pub use identity::client_ip;
pub use metrics::{IntakeMetrics, RejectReason};
pub use report::{Accepted, RawReport, validate};

use dedupe::{Dedupe, Mark};
use downbeat_config::ServiceConfig;
use downbeat_domain::{City, Clock, ScreenText};
use downbeat_store::{NewReport, ReportStore, StoreError};
use identity::Salts;
use ingest::Ingest;
use limiter::Limiter;
use metrics::ReportCounters;
use prometheus_client::registry::Registry;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Deref;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// The intake stage's handle; cheap to clone.
#[derive(Clone)]
pub struct Intake {
    inner: Arc<Inner>,
}

/// What the intake holds: its settings, the store it commits to, and its own state.
pub struct Inner {
    pub config: downbeat_config::Live,
    pub clock: Arc<dyn Clock>,
    pub salts: Salts,
    pub dedupe: Dedupe,
    pub limiter: Limiter,
    pub ingest: Ingest,
    pub metrics: IntakeMetrics,
    /// Per service; grows when services are added at runtime ([`Intake::reconfigured`]).
    report_counters: std::sync::RwLock<HashMap<String, ReportCounters>>,
    /// Moves when a service's counted reports change; validates cached answers.
    pub generations: Arc<Generations>,
}

impl Deref for Intake {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl Intake {
    /// Builds the stage and starts its group-commit writer (returned, to be awaited after
    /// [`Intake::close`]). Restores the dedupe window from the store, so a restart does not
    /// count anyone twice.
    pub async fn start(
        config: downbeat_config::Live,
        store: Arc<dyn ReportStore>,
        clock: Arc<dyn Clock>,
        registry: &mut Registry,
    ) -> Result<(Intake, JoinHandle<()>), StoreError> {
        let metrics = IntakeMetrics::register(registry);
        let cfg = config.get();
        let now_ms = clock.now().as_millisecond();
        let dedupe = Dedupe::new(cfg.reports.dedupe_window.as_millis());
        let since_ms = now_ms - cfg.reports.dedupe_window.as_millis();
        for service in &cfg.services {
            let recent = store
                .recent_counted_clients(service.id.as_str(), since_ms)
                .await?;
            dedupe.restore(recent.iter().map(|r| (r.client_hash, r.last_counted_ms)));
        }
        let salts = Salts::new(store.clone());
        salts.prepare(now_ms).await?;
        let generations = Arc::new(Generations::new(cfg.services.iter().map(|s| s.id.as_str())));
        let (ingest, writer) = ingest::start(
            store,
            metrics.clone(),
            generations.clone(),
            cfg.reports.dedupe_window.as_millis(),
        );
        let report_counters = cfg
            .services
            .iter()
            .map(|s| (s.id.to_string(), metrics.report_counters(s.id.as_str())))
            .collect();
        let intake = Intake {
            inner: Arc::new(Inner {
                limiter: Limiter::new(&cfg.reports),
                config,
                clock,
                salts,
                dedupe,
                ingest,
                metrics,
                report_counters: std::sync::RwLock::new(report_counters),
                generations,
            }),
        };
        Ok((intake, writer))
    }

    /// `Ok` if `ip` may report now; checked before the body is read, so a flood costs
    /// little.
    pub fn check_rate(&self, ip: IpAddr) -> Result<(), IntakeError> {
        self.limiter
            .check_report(ip)
            .map_err(|wait| IntakeError::RateLimited {
                retry_after_s: wait.as_secs().max(1),
            })
    }

    /// Accepts one report from `ip` (already past [`Intake::check_rate`]): validates it,
    /// decides whether it counts, and waits until it is committed.
    pub async fn accept(
        &self,
        service: &ServiceConfig,
        ip: IpAddr,
        raw: RawReport<'_>,
    ) -> Result<Accepted, IntakeError> {
        let now = self.clock.now();
        let report = validate(service, raw, now)?;

        let now_ms = now.as_millisecond();
        let window_ms = self.dedupe.window_ms();
        let hashes = self
            .salts
            .hashes(service.id.as_str(), ip, now_ms, window_ms)
            .await?;
        // This node's marks answer a repeat at once; whether a report that may count does
        // is decided with the commit, across every node (see `ingest`).
        let may_count = self
            .dedupe
            .check_and_mark(hashes.client, hashes.client_yesterday, now_ms)
            == Mark::Counted;
        let row = NewReport {
            service: report.service.as_arc(),
            received_at_ms: now_ms,
            problem: report.problem.as_arc(),
            platform: report.platform,
            country: report.country,
            city: report.city.map(City::into_string),
            message: report.message.map(ScreenText::into_string),
            client_hash: hashes.client,
            network_hash: hashes.network,
            counted: may_count,
        };
        let counted = match self.ingest.submit(row, hashes.client_yesterday).await {
            Ok(counted) => counted,
            Err(e) => {
                if may_count {
                    self.dedupe.forget(hashes.client, now_ms);
                }
                return Err(e.into());
            }
        };
        if may_count && !counted {
            // Another node counted this client first; its mark is in the store, which
            // answers this client's next report on this node too.
            self.dedupe.forget(hashes.client, now_ms);
        }

        if let Some(c) = self
            .report_counters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(service.id.as_str())
        {
            c.received.inc();
            if counted {
                c.counted.inc();
            }
        }
        Ok(Accepted {
            status: "accepted",
            counted,
            service: service.id.as_arc(),
            problem: report.problem.as_arc(),
            message: if counted {
                Cow::Borrowed("Thanks: your report counts.")
            } else {
                Cow::Owned(format!(
                    "Thanks: you already reported a problem with {} in the last {}, so this one is not counted again.",
                    service.name,
                    self.config.load().reports.dedupe_window
                ))
            },
        })
    }

    /// Housekeeping: forgets clients whose bucket has refilled and updates the gauge.
    pub fn sweep(&self) {
        self.limiter.sweep();
        self.metrics
            .rate_limited_clients
            .set(self.limiter.tracked_clients() as i64);
        self.metrics
            .ingest_queue_depth
            .set(self.ingest.depth() as i64);
    }

    /// Refuses new reports; the writer drains what is queued, then stops.
    /// Takes in services added at runtime: their change counters and report metrics.
    pub fn reconfigured(&self) {
        let config = self.config.load();
        self.generations
            .ensure(config.services.iter().map(|s| s.id.as_str()));
        let mut counters = self
            .report_counters
            .write()
            .unwrap_or_else(|e| e.into_inner());
        for s in &config.services {
            counters
                .entry(s.id.to_string())
                .or_insert_with(|| self.metrics.report_counters(s.id.as_str()));
        }
    }

    pub fn close(&self) {
        self.ingest.close();
    }
}
