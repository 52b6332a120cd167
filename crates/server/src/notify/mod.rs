//! Notifications: events go into the store's outbox (one delivery per destination), and a
//! worker per destination sends them, retrying with backoff, until delivered or given up.
//!
//! Enqueueing is idempotent (events have stable ids), so code that reports an event can do
//! so again after a restart or on another node without anyone hearing of it twice.
//!
//! - [`event`]: [`Event`] and the ids and links of each kind of event.
//! - [`webhook`]: the signed JSON payload.
//! - [`http`]: a small HTTP/1 client on hyper and rustls (the probes' stack).
//! - [`worker`]: claiming, sending and settling deliveries, one loop per destination.

pub mod event;
pub mod http;
pub mod webhook;
pub mod worker;

pub use event::Event;

use crate::app::App;
use downbeat_store::{NotifyEventRow, StoreError};
use std::sync::Arc;
use tokio::sync::Notify;

/// The notifier's shared state: the HTTP client and the workers' wake-up call.
#[derive(Clone)]
pub struct Notifier {
    pub http: http::HttpClient,
    pub wake: Arc<Notify>,
}

impl Notifier {
    pub fn new() -> Self {
        Notifier {
            http: http::HttpClient::new(),
            wake: Arc::new(Notify::new()),
        }
    }
}

impl Default for Notifier {
    fn default() -> Self {
        Self::new()
    }
}

/// Puts `event` in the outbox for every destination that wants it, and wakes the workers.
/// Returns how many deliveries are new (none when it was enqueued before).
pub async fn enqueue(app: &App, event: Event) -> Result<u32, StoreError> {
    let notify = &app.config.notify;
    let destinations: Vec<String> = notify
        .webhooks
        .iter()
        .filter(|w| w.wants(event.kind, &event.service))
        .map(|w| w.id.to_string())
        .collect();
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

/// Queues the notification of a monitor's hysteresis transition (down or up).
pub async fn monitor_changed(app: &App, state: &downbeat_store::MonitorState) {
    let Some(m) = app.config.monitor(&state.monitor) else {
        return;
    };
    let mut event = Event::monitor(
        m.service.as_str(),
        &state.monitor,
        state.state == "down",
        state.since_ms,
    );
    if let (Some(obj), Some(cause)) = (event.data.as_object_mut(), &state.cause) {
        obj.insert("cause".into(), serde_json::Value::String(cause.clone()));
    }
    enqueue_or_log(app, event).await;
}
