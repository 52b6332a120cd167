//! Delivering the outbox: one loop per destination, so a slow or dead destination only ever
//! holds up its own deliveries. Each round claims at most the destination's concurrency of
//! due deliveries, sends them at once, and settles each: delivered on a 2xx answer, else
//! retried after an exponential backoff with jitter, until the attempts or the age run out.

use crate::app::App;
use crate::metrics::DestinationLabel;
use crate::notify::webhook;
use downbeat_config::WebhookConfig;
use downbeat_store::{Attempt, ClaimedDelivery, DeliveryState, StoreError};
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// How often each destination looks for due deliveries when nothing wakes it sooner.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// The first retry waits about this long; each further one twice as long...
pub const BACKOFF_BASE_MS: i64 = 10_000;
/// ...up to this.
pub const BACKOFF_MAX_MS: i64 = 3_600_000;
/// A claim outlives the request timeout by this much, so it never lapses mid-request.
const CLAIM_MARGIN_MS: i64 = 30_000;

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub attempted: u32,
    pub delivered: u32,
    pub failed: u32,
}

/// The delay before retry number `attempts` (1 after the first failure): doubling from
/// [`BACKOFF_BASE_MS`], capped at [`BACKOFF_MAX_MS`], then scaled by `jitter` in [0.5, 1]
/// so destinations that failed together do not retry in lockstep.
pub fn backoff_ms(attempts: i64, jitter: f64) -> i64 {
    let doublings = (attempts - 1).clamp(0, 30) as u32;
    let full = BACKOFF_BASE_MS
        .saturating_mul(1i64 << doublings)
        .min(BACKOFF_MAX_MS);
    (full as f64 * jitter.clamp(0.5, 1.0)) as i64
}

/// One round for `dest`: claims due deliveries as of `now_ms`, sends them concurrently and
/// settles each. (The loop in [`start`] does the same continuously, claiming more as
/// requests finish; tests call this to step delivery by hand.)
pub async fn run_once(app: &App, dest: &WebhookConfig, now_ms: i64) -> Result<Round, StoreError> {
    let mut sends = JoinSet::new();
    for c in claim(app, dest, now_ms, dest.concurrency).await? {
        sends.spawn(send(app, dest, c));
    }
    let mut round = Round::default();
    while let Some(joined) = sends.join_next().await {
        let Ok((c, result)) = joined else { continue };
        round.attempted += 1;
        match settle(app, dest, &c, result).await? {
            DeliveryState::Delivered => round.delivered += 1,
            DeliveryState::Failed => round.failed += 1,
            DeliveryState::Pending => {}
        }
    }
    Ok(round)
}

/// Claims at most `limit` due deliveries to `dest` for this node.
async fn claim(
    app: &App,
    dest: &WebhookConfig,
    now_ms: i64,
    limit: usize,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let settings = &app.config.notify;
    app.store
        .claim_deliveries(
            dest.id.as_str(),
            &app.node_id,
            now_ms,
            settings.timeout.as_millis() + CLAIM_MARGIN_MS,
            limit as u32,
        )
        .await
}

/// Sends one claimed delivery; the delivery comes back with the answer.
fn send(
    app: &App,
    dest: &WebhookConfig,
    c: ClaimedDelivery,
) -> impl Future<Output = (ClaimedDelivery, Result<u16, String>)> + Send + 'static {
    let timeout = Duration::from_millis(app.config.notify.timeout.as_millis() as u64);
    let (client, dest, clock) = (app.notifier.http.clone(), dest.clone(), app.clock.clone());
    async move {
        let ts = clock.now().as_second();
        let body = webhook::body(&c.event);
        let headers = [
            ("x-downbeat-event-id", c.event.id.clone()),
            ("x-downbeat-timestamp", ts.to_string()),
            (
                "x-downbeat-signature",
                webhook::signature(dest.secret.expose(), ts, &body),
            ),
        ];
        let result = client.post(&dest.url, &headers, body, timeout).await;
        (c, result)
    }
}

/// Records an attempt's outcome in the store and the metrics.
async fn settle(
    app: &App,
    dest: &WebhookConfig,
    c: &ClaimedDelivery,
    result: Result<u16, String>,
) -> Result<DeliveryState, StoreError> {
    let label = DestinationLabel {
        destination: dest.id.to_string(),
    };
    let attempt = judge(app, c, result);
    let outcome = attempt.outcome;
    app.metrics.notify_attempts.get_or_create(&label).inc();
    let error = attempt.error.clone().unwrap_or_default();
    match outcome {
        DeliveryState::Delivered => {
            app.metrics.notify_delivered.get_or_create(&label).inc();
        }
        DeliveryState::Failed => {
            app.metrics.notify_failed.get_or_create(&label).inc();
            tracing::warn!(destination = %dest.id, event = %c.event.id, %error,
                "gave up on a notification");
        }
        DeliveryState::Pending => {
            tracing::info!(destination = %dest.id, event = %c.event.id, %error,
                "notification failed; will retry");
        }
    }
    app.store
        .record_attempt(c.delivery.id, &app.node_id, attempt)
        .await?;
    Ok(outcome)
}

/// Settles one attempt: delivered, retry later, or give up.
fn judge(app: &App, c: &ClaimedDelivery, result: Result<u16, String>) -> Attempt {
    let settings = &app.config.notify;
    let at_ms = app.clock.now().as_millisecond();
    let (status, error) = match result {
        Ok(s) if (200..300).contains(&s) => {
            return Attempt {
                at_ms,
                status: Some(i64::from(s)),
                error: None,
                outcome: DeliveryState::Delivered,
                next_attempt_ms: at_ms,
            };
        }
        Ok(s) => (Some(i64::from(s)), format!("HTTP {s}")),
        Err(e) => (None, e),
    };
    let attempts = c.delivery.attempts + 1;
    let next = at_ms + backoff_ms(attempts, 0.5 + rand::random::<f64>() / 2.0);
    let give_up_at = c.delivery.created_ms + settings.give_up_after.as_millis();
    let outcome = if attempts >= i64::from(settings.max_attempts) || next > give_up_at {
        DeliveryState::Failed
    } else {
        DeliveryState::Pending
    };
    Attempt {
        at_ms,
        status,
        error: Some(error),
        outcome,
        next_attempt_ms: next,
    }
}

/// Starts one delivery loop per destination. Each keeps up to the destination's concurrency
/// of requests in flight, claiming more as they finish, when woken by a new event, and every
/// [`POLL_EVERY`]. It stops when `stopped` turns true, abandoning requests in flight: their
/// claims lapse and a later round (on any node) retries them.
pub fn start(app: &App, stopped: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    app.config
        .notify
        .webhooks
        .iter()
        .map(|dest| {
            tokio::spawn(deliver_until_stopped(
                app.clone(),
                dest.clone(),
                stopped.clone(),
            ))
        })
        .collect()
}

async fn deliver_until_stopped(app: App, dest: WebhookConfig, mut stopped: watch::Receiver<bool>) {
    let mut in_flight = JoinSet::new();
    loop {
        let wake = app.notifier.wake.notified();
        tokio::pin!(wake);
        // Registered before claiming, so an event enqueued meanwhile is not missed.
        wake.as_mut().enable();
        let free = dest.concurrency.saturating_sub(in_flight.len());
        if free > 0 {
            match claim(&app, &dest, app.clock.now().as_millisecond(), free).await {
                Ok(claimed) => {
                    for c in claimed {
                        in_flight.spawn(send(&app, &dest, c));
                    }
                }
                Err(e) => tracing::warn!(error = %e, destination = %dest.id,
                    "could not claim notifications; will retry"),
            }
        }
        tokio::select! {
            Some(Ok((c, result))) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Err(e) = settle(&app, &dest, &c, result).await {
                    tracing::warn!(error = %e, destination = %dest.id, event = %c.event.id,
                        "could not record a notification attempt; its claim will lapse");
                }
            }
            _ = &mut wake => {}
            _ = tokio::time::sleep(POLL_EVERY) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap_and_jitter_only_shortens() {
        assert_eq!(backoff_ms(1, 1.0), 10_000);
        assert_eq!(backoff_ms(2, 1.0), 20_000);
        assert_eq!(backoff_ms(4, 1.0), 80_000);
        assert_eq!(backoff_ms(40, 1.0), BACKOFF_MAX_MS);
        assert_eq!(backoff_ms(2, 0.5), 10_000);
        assert_eq!(backoff_ms(2, 0.0), 10_000, "jitter is clamped");
    }
}
