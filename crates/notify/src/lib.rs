//! Notifications: events go into the store's outbox (one delivery per destination or
//! subscriber), and workers send them, retrying with backoff, until delivered or given up.
//!
//! Enqueueing is idempotent (events have stable ids), so code that reports an event can do
//! so again after a restart or on another node without anyone hearing of it twice. Events
//! are enqueued right after the change they report is committed, not in its transaction:
//! a crash between the two loses that event. Where the change can be seen again on start
//! (monitor transitions, crowd verdicts of the current minute, certificate warnings, the
//! latest change of a recent incident — see `downbeat_incidents::reconcile`) it is enqueued
//! again then, and the stable id keeps that from sending anything twice.
//!
//! [`Notifier`] is the stage's handle: other stages [`Notifier::enqueue`] their events (a
//! [`Notice`] of a typed [`downbeat_domain::event::Event`]), the workers deliver them.
//!
//! # Layout
//!
//! - [`message`]: a stored event in plain words (title, text, link, severity); the words
//!   of each kind live beside its payload in `downbeat_domain::event`.
//! - [`transport`]: the [`transport::Transport`] trait and one transport per channel
//!   family — [`transport::webhook`] (signed Downbeat JSON), [`transport::chat`] (Slack,
//!   Discord, Mattermost, Teams), [`transport::ntfy`], [`transport::email`] — the
//!   [`transport::verify`] challenge of a new webhook subscriber, and
//!   [`transport::SendError`], which decides whether a failed attempt is retried.
//! - [`mail`]: the SMTP relay, with lettre.
//! - [`http`]: a small HTTP/1 client on hyper and rustls (the probes' stack).
//! - [`flap`]: flap suppression for monitor transitions.
//! - [`subscribers`]: public subscriptions: double opt-in, verified webhook endpoints,
//!   tokens, one-click unsubscribe, and the route of a delivery to a subscriber.
//! - [`error`]: the subscription error type.
//! - [`metrics`]: delivery attempts and outcomes.
//! - [`worker`]: claiming, sending (one send path for destinations and subscribers) and
//!   settling deliveries, one loop per destination and one per kind of subscriber (email,
//!   webhook), and the housekeeping loop (flap summaries, pruning).
//!
//! # Adding a channel
//!
//! A chat format touches four files: its `ChatFormat` variant in
//! `crates/config/src/notify.rs` (name in `as_str` and `ALL`), its message in
//! [`transport::chat`] (`Chat::body`, escaping for its markup) with a unit test there fed
//! hostile text, and its name in `downbeat.example.toml` and README.md. Another channel
//! family is a new transport: see CONTRIBUTING.md.

pub mod error;
pub mod flap;
pub mod http;
pub mod mail;
pub mod message;
pub mod metrics;
pub mod subscribers;
pub mod transport;
pub mod worker;

pub use error::SubscriptionError;
pub use metrics::NotifyMetrics;
pub use transport::webhook;

use downbeat_config::MonitorConfig;
use downbeat_domain::Clock;
use downbeat_domain::event::{CheckState, Event, MonitorChange, Notice};
use downbeat_store::{
    NotifyEventRow, NotifyStore, OutboxKind, StoreError, SubscriberKind, subscriber_destination,
};
use prometheus_client::registry::Registry;
use std::ops::Deref;
use std::sync::Arc;
use tokio::sync::Notify;

/// The notification stage's handle; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

/// The notifier's settings and shared state: the HTTP client, the mail relay, the workers'
/// wake-up call, flap state and the subscription rate limiter.
pub struct Inner {
    pub config: downbeat_config::Live,
    pub store: Arc<dyn NotifyStore>,
    pub clock: Arc<dyn Clock>,
    /// This process's name in delivery claims.
    pub node_id: Arc<str>,
    pub metrics: NotifyMetrics,
    pub http: http::HttpClient,
    /// The relay, when `[notify.smtp]` is set; `Err` says why it could not be set up (each
    /// mail attempt then fails with that reason, visible in the admin area).
    pub mailer: Option<Result<mail::Mailer, Arc<mail::MailerError>>>,
    pub wake: Arc<Notify>,
    pub flaps: Arc<flap::Flaps>,
    pub subscribe_limiter: Arc<subscribers::RequestLimiter>,
}

impl Deref for Notifier {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl Notifier {
    pub fn new(
        config: downbeat_config::Live,
        store: Arc<dyn NotifyStore>,
        clock: Arc<dyn Clock>,
        node_id: Arc<str>,
        registry: &mut Registry,
    ) -> Self {
        let n = &config.load().notify;
        let mailer = n.smtp.as_ref().map(|smtp| {
            let m = mail::Mailer::new(smtp, n.timeout.as_duration());
            if let Err(e) = &m {
                tracing::error!(error = %e, "the SMTP relay cannot be used; mails will fail");
            }
            m.map_err(Arc::new)
        });
        let subscribe_limiter = Arc::new(subscribers::RequestLimiter::new(
            n.subscribers.per_client_per_hour,
        ));
        Notifier {
            inner: Arc::new(Inner {
                http: http::HttpClient::new(),
                mailer,
                wake: Arc::new(Notify::new()),
                flaps: Arc::new(flap::Flaps::default()),
                subscribe_limiter,
                metrics: NotifyMetrics::register(registry),
                config,
                store,
                clock,
                node_id,
            }),
        }
    }

    /// The clients transports send with.
    pub fn clients(&self) -> transport::Clients<'_> {
        transport::Clients {
            http: &self.http,
            mailer: self.mailer.as_ref(),
            timeout: self.config.load().notify.timeout.as_duration(),
        }
    }

    /// Puts `event` in the outbox for every destination and subscriber that wants it, and
    /// wakes the workers. Returns how many deliveries are new (none when it was enqueued
    /// before).
    #[tracing::instrument(name = "enqueue", skip_all, fields(event = %event.id()))]
    pub async fn enqueue(&self, event: Notice) -> Result<u32, StoreError> {
        let notify = &self.config.load().notify;
        let kind = event.event.kind();
        let mut destinations: Vec<String> = notify
            .destinations
            .iter()
            .filter(|d| d.wants(kind.as_str(), &event.service, &event.components))
            .map(|d| d.id.to_string())
            .collect();
        let subs = &notify.subscribers;
        if (subs.email || subs.webhook) && kind.for_subscribers() {
            for s in self.store.confirmed_subscribers(&event.service).await? {
                let offered = match s.kind {
                    SubscriberKind::Email => subs.email,
                    SubscriberKind::Webhook => subs.webhook,
                };
                if offered && subscribers::wants(&s, &event.components) {
                    destinations.push(subscriber_destination(s.id));
                }
            }
        }
        if destinations.is_empty() {
            return Ok(0);
        }
        let row = NotifyEventRow {
            link: format!("{}{}", notify.public_url, event.path()),
            id: event.id(),
            kind: OutboxKind::Event(kind),
            data: event.event.data().to_string(),
            service: event.service,
            occurred_ms: event.occurred_ms,
        };
        let now_ms = self.clock.now().as_millisecond();
        let new = self
            .store
            .enqueue_notification(row, destinations, now_ms)
            .await?;
        if new > 0 {
            self.wake.notify_waiters();
        }
        Ok(new)
    }

    /// [`Notifier::enqueue`], logging a failure instead of returning it: for callers whose own work has
    /// succeeded and must not fail because a notification could not be queued.
    pub async fn enqueue_or_log(&self, event: Notice) {
        let id = event.id();
        if let Err(e) = self.enqueue(event).await {
            tracing::warn!(error = %e, event = %id, "could not queue a notification");
        }
    }

    /// The notice of a monitor's hysteresis transition (down or up): keyed by the monitor
    /// and the time its new state began, so queuing it again sends nothing twice.
    pub fn monitor_event(m: &MonitorConfig, state: &downbeat_store::MonitorState) -> Notice {
        let change = MonitorChange {
            monitor: state.monitor.clone(),
            cause: state.cause,
        };
        Notice::new(
            m.service.as_str(),
            state.since_ms,
            Event::monitor(state.state == CheckState::Down, change),
        )
        .about(m.component.as_ref().map(|c| c.as_str()))
    }

    /// Judges a monitor's transition against flap suppression — once per transition — and
    /// returns what to queue: the change itself ([`Notifier::monitor_event`]), or
    /// `monitor.flapping` when this change made the monitor flapping, or nothing while it
    /// flaps ([`flap`] holds the change, and a summary follows when it settles). The caller
    /// queues it with [`Notifier::enqueue`] and keeps it to queue again if that fails.
    pub async fn monitor_notice(
        &self,
        m: &MonitorConfig,
        state: &downbeat_store::MonitorState,
    ) -> Option<Notice> {
        let down = state.state == CheckState::Down;
        let event = Self::monitor_event(m, state);
        let flaps = &self.flaps;
        // Once per start; on several nodes before every change (another node may have
        // judged the last one).
        let loaded = match flaps.load(self.store.as_ref()).await {
            Ok(()) if self.store.shared() => flaps.reload(self.store.as_ref()).await,
            other => other,
        };
        if let Err(e) = loaded {
            // Without the saved state the change is told: better once too often than never.
            tracing::warn!(error = %e, "could not load flap states");
            return Some(event);
        }
        match flaps
            .transition(
                self.store.as_ref(),
                &self.config.load().notify.flap,
                m,
                down,
                state.since_ms,
            )
            .await
        {
            flap::Verdict::Send => Some(event),
            flap::Verdict::Flapping(e) => Some(e),
            flap::Verdict::Hold => {
                self.metrics.notify_held.inc();
                tracing::info!(monitor = %state.monitor, state = %state.state,
                "monitor is flapping; change held for the summary");
                None
            }
        }
    }
}
