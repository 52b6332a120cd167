//! Notifications: events go into the store's outbox (one delivery per destination or
//! subscriber), and workers send them, retrying with backoff, until delivered or given up.
//!
//! Enqueueing is idempotent (events have stable ids), so code that reports an event can do
//! so again after a restart or on another node without anyone hearing of it twice. Events
//! are enqueued right after the change they report is committed, not in its transaction:
//! a crash between the two loses that event. Where the change can be seen again on start
//! (monitor transitions, crowd verdicts of the current minute, certificate warnings, the
//! latest change of a recent incident — see [`reconcile`]) it is enqueued again then, and
//! the stable id keeps that from sending anything twice.
//!
//! - [`event`]: [`Event`] and the ids and links of each kind of event.
//! - [`message`]: an event in plain words (title, text, link, severity).
//! - [`format`]: the request each HTTP format gets (Downbeat JSON, Slack, Discord,
//!   Mattermost, Teams, ntfy).
//! - [`webhook`]: the signed JSON payload.
//! - [`mail`]: mail over SMTP with lettre.
//! - [`http`]: a small HTTP/1 client on hyper and rustls (the probes' stack).
//! - [`subscribers`]: public subscriptions: double opt-in, tokens, one-click unsubscribe.
//! - [`flap`]: flap suppression for monitor transitions.
//! - [`certs`]: certificate expiry warnings from TLS probe results.
//! - [`worker`]: claiming, sending and settling deliveries, one loop per destination, and
//!   the housekeeping loop (flap summaries, certificate checks, pruning).

pub mod certs;
pub mod event;
pub mod flap;
pub mod format;
pub mod http;
pub mod mail;
pub mod message;
pub mod subscribers;
pub mod webhook;
pub mod worker;

pub use event::Event;

use crate::app::App;
use downbeat_config::{Config, OPERATOR_KINDS, SUBSCRIBER_FAMILIES};
use downbeat_store::{NotifyEventRow, StoreError, SubscriberKind, subscriber_destination};
use std::sync::Arc;
use tokio::sync::Notify;

/// The notifier's shared state: the HTTP client, the mail relay, the workers' wake-up
/// call, flap state and the subscription rate limiter.
#[derive(Clone)]
pub struct Notifier {
    pub http: http::HttpClient,
    /// The relay, when `[notify.smtp]` is set; `Err` says why it could not be set up (each
    /// mail attempt then fails with that reason, visible in the admin area).
    pub mailer: Option<Result<mail::Mailer, String>>,
    pub wake: Arc<Notify>,
    pub flaps: Arc<flap::Flaps>,
    pub subscribe_limiter: Arc<subscribers::RequestLimiter>,
}

impl Notifier {
    pub fn new(config: &Config) -> Self {
        let n = &config.notify;
        let mailer = n.smtp.as_ref().map(|smtp| {
            let m = mail::Mailer::new(smtp, n.timeout.as_duration());
            if let Err(e) = &m {
                tracing::error!(error = %e, "the SMTP relay cannot be used; mails will fail");
            }
            m
        });
        Notifier {
            http: http::HttpClient::new(),
            mailer,
            wake: Arc::new(Notify::new()),
            flaps: Arc::new(flap::Flaps::default()),
            subscribe_limiter: Arc::new(subscribers::RequestLimiter::new(
                n.subscribers.per_client_per_hour,
            )),
        }
    }
}

/// Puts `event` in the outbox for every destination and subscriber that wants it, and
/// wakes the workers. Returns how many deliveries are new (none when it was enqueued
/// before).
pub async fn enqueue(app: &App, event: Event) -> Result<u32, StoreError> {
    let notify = &app.config.notify;
    let mut destinations: Vec<String> = notify
        .destinations
        .iter()
        .filter(|d| d.wants(event.kind, &event.service, &event.components))
        .map(|d| d.id.to_string())
        .collect();
    let family = event.kind.split('.').next().unwrap_or_default();
    let subs = &notify.subscribers;
    if (subs.email || subs.webhook)
        && SUBSCRIBER_FAMILIES.contains(&family)
        && !OPERATOR_KINDS.contains(&event.kind)
    {
        for s in app.store.confirmed_subscribers(&event.service).await? {
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
        link: format!("{}{}", notify.public_url, event.path),
        id: event.id,
        kind: event.kind.to_owned(),
        service: event.service,
        occurred_ms: event.occurred_ms,
        data: event.data.to_string(),
    };
    let now_ms = app.clock.now().as_millisecond();
    let new = app
        .store
        .enqueue_notification(row, destinations, now_ms)
        .await?;
    if new > 0 {
        app.notifier.wake.notify_waiters();
    }
    Ok(new)
}

/// [`enqueue`], logging a failure instead of returning it: for callers whose own work has
/// succeeded and must not fail because a notification could not be queued.
pub async fn enqueue_or_log(app: &App, event: Event) {
    let id = event.id.clone();
    if let Err(e) = enqueue(app, event).await {
        tracing::warn!(error = %e, event = %id, "could not queue a notification");
    }
}

/// Queues the notification of a monitor's hysteresis transition (down or up), unless the
/// monitor is flapping: then [`flap`] holds it and a summary follows when it settles.
pub async fn monitor_changed(app: &App, state: &downbeat_store::MonitorState) {
    let Some(m) = app.config.monitor(&state.monitor) else {
        return;
    };
    let component = m.component.as_ref().map(|c| c.as_str());
    let down = state.state == "down";
    let mut event = Event::monitor_of(
        m.service.as_str(),
        component,
        &state.monitor,
        down,
        state.since_ms,
    );
    if let (Some(obj), Some(cause)) = (event.data.as_object_mut(), &state.cause) {
        obj.insert("cause".into(), serde_json::Value::String(cause.clone()));
    }
    let flaps = &app.notifier.flaps;
    if let Err(e) = flaps.load(app.store.as_ref()).await {
        // Without the saved state the change is told: better once too often than never.
        tracing::warn!(error = %e, "could not load flap states");
        enqueue_or_log(app, event).await;
        return;
    }
    match flaps
        .transition(
            app.store.as_ref(),
            &app.config.notify.flap,
            m,
            down,
            state.since_ms,
        )
        .await
    {
        flap::Verdict::Send => enqueue_or_log(app, event).await,
        flap::Verdict::Flapping(e) => enqueue_or_log(app, e).await,
        flap::Verdict::Hold => {
            app.metrics.notify_held.inc();
            tracing::info!(monitor = %state.monitor, state = %state.state,
                "monitor is flapping; change held for the summary");
        }
    }
}

/// Tells the operators' channels of an incident Downbeat drafted from its signals, before
/// the public hears anything; when the service publishes drafts at once, the public
/// announcement (`incident.created`) follows.
pub async fn incident_drafted(app: &App, id: i64) {
    let rec = match app.store.incident(id).await {
        Ok(Some(rec)) => rec,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, incident = id, "could not load a drafted incident to announce it");
            return;
        }
    };
    let incident = crate::incidents::Incident::from_record(&rec);
    let mut data = event::incident_data(&incident, rec.updates.last());
    if let Some(obj) = data.as_object_mut() {
        obj.insert(
            "published".into(),
            serde_json::Value::Bool(!rec.incident.draft),
        );
    }
    let mut alert = Event::draft(&rec.incident.service, id, rec.incident.created_ms, data);
    alert.components = incident.components.keys().cloned().collect();
    enqueue_or_log(app, alert).await;
    if let Some(public) = event::for_incident(&rec, &incident, true) {
        enqueue_or_log(app, public).await;
    }
}

/// Enqueues again what recent changes should have enqueued, for a crash between a commit
/// and its enqueue: the latest change of every incident and maintenance window updated
/// within `[notify] give_up_after`, and the alert of every open draft. Nothing is sent
/// twice: ids are stable and the outbox keeps one delivery per event and destination.
pub async fn reconcile(app: &App) -> Result<(), StoreError> {
    let now_ms = app.clock.now().as_millisecond();
    let since_ms = now_ms - app.config.notify.give_up_after.as_millis();
    let recs = app
        .store
        .incidents(downbeat_store::IncidentFilter {
            include_drafts: true,
            since_ms: Some(since_ms),
            limit: 500,
            ..Default::default()
        })
        .await?;
    for rec in recs {
        if rec.incident.updated_ms < since_ms {
            continue;
        }
        let row = &rec.incident;
        if row.draft {
            if row.source != "operator" && row.resolved_ms.is_none() {
                incident_drafted(app, row.id).await;
            }
            continue;
        }
        let incident = crate::incidents::Incident::from_record(&rec);
        // Published with its latest update (or later): that update was its announcement.
        let created = row
            .published_ms
            .is_some_and(|p| rec.updates.last().is_none_or(|u| u.at_ms <= p));
        if let Some(e) = event::for_incident(&rec, &incident, created) {
            enqueue_or_log(app, e).await;
        }
    }
    Ok(())
}
