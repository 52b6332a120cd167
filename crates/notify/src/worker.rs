//! Delivering the outbox: one loop per configured destination, one for email subscribers
//! and one for webhook subscribers, so a slow or dead destination only ever holds up its
//! own deliveries, and unresponsive subscriber endpoints never hold up confirmation mails.
//! Webhook subscribers also get a budget per endpoint: one request at a time (see
//! `downbeat_store::Claim::due`), each within `[notify.subscribers] webhook_timeout`. Each round claims at most the destination's free concurrency (and what its
//! rate limit allows) of due deliveries, sends them at once, and settles each: delivered on
//! a 2xx answer (250 from an SMTP relay), else retried after an exponential backoff with
//! jitter, until the attempts or the age run out, or at once given up when retrying cannot
//! help (the subscriber is gone, the relay refused the address for good).
//!
//! Beside them, a housekeeping loop sends flap summaries and prunes the outbox past
//! `[notify] keep`.

use crate::Notifier;
use crate::message::message;
use crate::metrics::{DeliveryOutcomeLabels, DestinationLabel};
use crate::subscribers;
use crate::transport::Clients;
use crate::transport::{Parcel, Route, SendError, Transport};
use downbeat_config::Destination;
use downbeat_store::{
    Attempt, Claim, ClaimedDelivery, DeliveryState, NotifyPrune, NotifyPruned, StoreError,
    SubscriberKind,
};
use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument;

/// How often each destination looks for due deliveries when nothing wakes it sooner.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// Retries wait at most this long.
pub const BACKOFF_MAX_MS: i64 = 3_600_000;
/// A claim outlives the request timeout by this much, so it never lapses mid-request.
const CLAIM_MARGIN_MS: i64 = 30_000;
/// How often flap summaries are looked for.
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(5);
/// How often the outbox is pruned.
const PRUNE_EVERY_MS: i64 = 3_600_000;

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub attempted: u32,
    pub delivered: u32,
    pub failed: u32,
}

/// What a delivery loop delivers to.
#[derive(Debug, Clone)]
pub enum Target {
    /// A `[[notify.webhook]]` or `[[notify.email]]` destination.
    Destination(Destination),
    /// The public subscribers of one kind, under `[notify.subscribers]` limits (each kind
    /// has them in full).
    Subscribers(SubscriberKind),
}

impl Target {
    fn claim(&self) -> Claim<'_> {
        match self {
            Target::Destination(d) => Claim::Destination(d.id.as_str()),
            Target::Subscribers(k) => Claim::Subscribers(*k),
        }
    }

    fn concurrency(&self, notifier: &Notifier) -> usize {
        match self {
            Target::Destination(d) => d.concurrency,
            Target::Subscribers(_) => notifier.config.load().notify.subscribers.concurrency,
        }
    }

    fn per_minute(&self, notifier: &Notifier) -> Option<u32> {
        match self {
            Target::Destination(d) => d.per_minute,
            Target::Subscribers(_) => Some(notifier.config.load().notify.subscribers.per_minute),
        }
    }

    /// The longest wait for one answer: a webhook subscriber's endpoint gets
    /// `webhook_timeout`, everyone else `notify.timeout`.
    fn timeout(&self, notifier: &Notifier) -> Duration {
        let n = &notifier.config.load().notify;
        match self {
            Target::Subscribers(SubscriberKind::Webhook) => n.subscribers.webhook_timeout,
            Target::Destination(_) | Target::Subscribers(SubscriberKind::Email) => n.timeout,
        }
        .as_duration()
    }

    /// Its name in metrics and logs (subscribers of a kind share one, to keep metrics
    /// small).
    pub fn label(&self) -> &str {
        match self {
            Target::Destination(d) => d.id.as_str(),
            Target::Subscribers(SubscriberKind::Email) => "subscribers-email",
            Target::Subscribers(SubscriberKind::Webhook) => "subscribers-webhook",
        }
    }
}

/// Every delivery loop the config asks for.
pub fn targets(notifier: &Notifier) -> Vec<Target> {
    let n = &notifier.config.load().notify;
    let mut out: Vec<Target> = n
        .destinations
        .iter()
        .cloned()
        .map(Target::Destination)
        .collect();
    // The email loop also settles deliveries whose subscriber is gone, so it runs while
    // either kind is offered.
    if n.subscribers.email || n.subscribers.webhook {
        out.push(Target::Subscribers(SubscriberKind::Email));
    }
    if n.subscribers.webhook {
        out.push(Target::Subscribers(SubscriberKind::Webhook));
    }
    out
}

/// The delay before retry number `attempts` (1 after the first failure): doubling from
/// `base_ms`, capped at [`BACKOFF_MAX_MS`], then scaled by `jitter` in [0.5, 1] so
/// destinations that failed together do not retry in lockstep.
pub fn backoff_ms(attempts: i64, jitter: f64, base_ms: i64) -> i64 {
    let doublings = (attempts - 1).clamp(0, 30) as u32;
    let full = base_ms
        .saturating_mul(1i64 << doublings)
        .min(BACKOFF_MAX_MS.max(base_ms));
    (full as f64 * jitter.clamp(0.5, 1.0)) as i64
}

/// A token bucket on the app's clock: `per_minute` at once, refilled evenly.
#[derive(Debug, Clone)]
pub struct Bucket {
    per_minute: f64,
    tokens: f64,
    at_ms: i64,
}

impl Bucket {
    pub fn new(per_minute: u32, now_ms: i64) -> Self {
        Bucket {
            per_minute: f64::from(per_minute),
            tokens: f64::from(per_minute),
            at_ms: now_ms,
        }
    }

    /// How many sends may start now.
    pub fn available(&mut self, now_ms: i64) -> usize {
        let elapsed = (now_ms - self.at_ms).max(0) as f64;
        self.tokens = (self.tokens + elapsed * self.per_minute / 60_000.0).min(self.per_minute);
        self.at_ms = now_ms.max(self.at_ms);
        self.tokens.floor() as usize
    }

    pub fn take(&mut self, n: usize) {
        self.tokens = (self.tokens - n as f64).max(0.0);
    }
}

/// One round for `target`: claims due deliveries as of `now_ms`, sends them concurrently
/// and settles each. (The loop in [`start`] does the same continuously, claiming more as
/// requests finish; tests call this to step delivery by hand.)
pub async fn run_once(
    notifier: &Notifier,
    target: &Target,
    now_ms: i64,
) -> Result<Round, StoreError> {
    let mut sends = JoinSet::new();
    for c in claim(notifier, target, now_ms, target.concurrency(notifier)).await? {
        sends.spawn(send(notifier, target, c));
    }
    let mut round = Round::default();
    while let Some(joined) = sends.join_next().await {
        let Ok((c, result)) = joined else { continue };
        round.attempted += 1;
        match settle(notifier, target, &c, result).await? {
            DeliveryState::Delivered => round.delivered += 1,
            DeliveryState::Failed => round.failed += 1,
            DeliveryState::Pending => {}
        }
    }
    Ok(round)
}

/// Claims at most `limit` due deliveries of `target` for this node.
async fn claim(
    notifier: &Notifier,
    target: &Target,
    now_ms: i64,
    limit: usize,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    notifier
        .store
        .claim_deliveries(
            target.claim(),
            &notifier.node_id,
            now_ms,
            claim_ms(notifier, target),
            limit as u32,
        )
        .await
}

/// How long a claim lasts, in the clock's time: the target's request timeout plus a margin,
/// in real time. On a clock faster than real time (the demo) that is more of the clock's
/// time, or a send still in flight would lose its claim and go out twice.
fn claim_ms(notifier: &Notifier, target: &Target) -> i64 {
    let real_ms = target.timeout(notifier).as_millis() as i64 + CLAIM_MARGIN_MS;
    let rate = notifier.clock.rate();
    if rate.is_finite() && rate > 1.0 {
        (real_ms as f64 * rate).ceil() as i64
    } else {
        real_ms
    }
}

/// An attempt's outcome: the status that accepted it, or why not.
type Sent = Result<u16, SendError>;

/// Sends one claimed delivery; the delivery comes back with the outcome.
fn send(
    notifier: &Notifier,
    target: &Target,
    c: ClaimedDelivery,
) -> impl Future<Output = (ClaimedDelivery, Sent)> + Send + 'static {
    let (notifier, target) = (notifier.clone(), target.clone());
    let span = tracing::info_span!("delivery", destination = target.label(), event = %c.event.id, delivery = c.delivery.id);
    async move {
        let result = deliver(&notifier, &target, &c).await;
        (c, result)
    }
    .instrument(span)
}

/// The one send path, for destinations and subscribers alike: the event's words, the
/// delivery's route, and that route's transport.
async fn deliver(notifier: &Notifier, target: &Target, c: &ClaimedDelivery) -> Sent {
    let name = notifier
        .config
        .load()
        .service(&c.event.service)
        .map_or_else(|| c.event.service.clone(), |s| s.name.clone());
    let message = message(&c.event, &name);
    let parcel = Parcel {
        event: &c.event,
        message: &message,
        now_s: notifier.clock.now().as_second(),
    };
    let clients = Clients {
        timeout: target.timeout(notifier),
        ..notifier.clients()
    };
    match target {
        Target::Destination(dest) => {
            Route::to_destination(dest, &parcel)
                .send(clients, &parcel)
                .await
        }
        Target::Subscribers(_) => subscribers::deliver(notifier, clients, c, &parcel).await,
    }
}

/// Records an attempt's outcome in the store and the metrics.
async fn settle(
    notifier: &Notifier,
    target: &Target,
    c: &ClaimedDelivery,
    result: Sent,
) -> Result<DeliveryState, StoreError> {
    let label = DestinationLabel {
        destination: target.label().to_owned(),
    };
    let attempt = judge(notifier, c, result);
    let outcome = attempt.outcome;
    notifier.metrics.notify_attempts.get_or_create(&label).inc();
    let error = attempt.error.clone().unwrap_or_default();
    let word = match outcome {
        DeliveryState::Delivered => {
            notifier
                .metrics
                .notify_delivered
                .get_or_create(&label)
                .inc();
            "delivered"
        }
        DeliveryState::Failed => {
            notifier.metrics.notify_failed.get_or_create(&label).inc();
            tracing::warn!(destination = %c.delivery.destination, event = %c.event.id, %error,
                "gave up on a notification");
            "failed"
        }
        DeliveryState::Pending => {
            tracing::info!(destination = %c.delivery.destination, event = %c.event.id, %error,
                "notification failed; will retry");
            "retry"
        }
    };
    notifier
        .metrics
        .notify_outcomes
        .get_or_create(&DeliveryOutcomeLabels {
            destination: label.destination,
            outcome: word,
        })
        .inc();
    notifier
        .store
        .record_attempt(c.delivery.id, &notifier.node_id, attempt)
        .await?;
    if outcome == DeliveryState::Failed
        && matches!(target, Target::Subscribers(_))
        && let Err(e) = subscribers::gave_up(notifier, c).await
    {
        tracing::warn!(error = %e, destination = %c.delivery.destination,
            "could not drop an unverified subscriber; pruning will");
    }
    Ok(outcome)
}

/// Settles one attempt: delivered, retry later, or give up.
fn judge(notifier: &Notifier, c: &ClaimedDelivery, result: Sent) -> Attempt {
    let settings = &notifier.config.load().notify;
    let at_ms = notifier.clock.now().as_millisecond();
    let failure = match result {
        Ok(s) => {
            return Attempt {
                at_ms,
                status: Some(i64::from(s)),
                error: None,
                outcome: DeliveryState::Delivered,
                next_attempt_ms: at_ms,
            };
        }
        Err(f) => f,
    };
    let attempts = c.delivery.attempts + 1;
    let backoff = backoff_ms(
        attempts,
        0.5 + rand::random::<f64>() / 2.0,
        settings.retry_after.as_millis(),
    );
    // A receiver that said when to come back (429, 503 with Retry-After) is not asked
    // sooner; one that asks for longer than the delivery may last is given up.
    let asked = failure
        .retry_after()
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let next = at_ms.saturating_add(backoff.max(asked));
    let give_up_at = c.delivery.created_ms + settings.give_up_after.as_millis();
    let outcome = if failure.is_permanent()
        || attempts >= i64::from(settings.max_attempts)
        || next > give_up_at
    {
        DeliveryState::Failed
    } else {
        DeliveryState::Pending
    };
    // The recorded text: the error's own words, as the admin area shows them.
    let mut error = failure.to_string();
    if error.len() > 500 {
        let mut cut = 500;
        while !error.is_char_boundary(cut) {
            cut -= 1;
        }
        error.truncate(cut);
    }
    Attempt {
        at_ms,
        status: failure.status().map(i64::from),
        error: Some(error),
        outcome,
        next_attempt_ms: next,
    }
}

/// Starts one delivery loop per target and the housekeeping loop. Each delivery loop keeps
/// up to its concurrency of sends in flight, claiming more as they finish, when woken by a
/// new event, and every [`POLL_EVERY`]. They stop when `stopped` turns true, abandoning
/// sends in flight: their claims lapse and a later round (on any node) retries them.
pub fn start(notifier: &Notifier, stopped: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(deliver_to_every_target(notifier.clone(), stopped.clone())),
        tokio::spawn(housekeeping_until_stopped(notifier.clone(), stopped)),
    ]
}

/// One delivery loop per target, started for every target the config asks for — at start,
/// and whenever a destination is added at runtime. A loop whose destination is removed
/// ends by itself once its sends in flight are recorded. Waits for every loop to end.
async fn deliver_to_every_target(notifier: Notifier, mut stopped: watch::Receiver<bool>) {
    let mut loops: JoinSet<String> = JoinSet::new();
    let mut running: HashSet<String> = HashSet::new();
    let mut changes = notifier.config.changes();
    loop {
        for t in targets(&notifier) {
            if running.insert(t.label().to_owned()) {
                let (n, stop) = (notifier.clone(), stopped.clone());
                loops.spawn(async move {
                    let label = t.label().to_owned();
                    deliver_until_stopped(n, t, stop).await;
                    label
                });
            }
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() { break },
            Some(Ok(label)) = loops.join_next(), if !loops.is_empty() => {
                running.remove(&label);
            }
            _ = stopped.changed() => break,
        }
        if *stopped.borrow() {
            break;
        }
    }
    while loops.join_next().await.is_some() {}
}

async fn deliver_until_stopped(
    notifier: Notifier,
    target: Target,
    mut stopped: watch::Receiver<bool>,
) {
    let mut in_flight = JoinSet::new();
    // Deliveries this loop is sending or has sent but not yet recorded. A claim judged on
    // the clock can lapse while its send is still out (a clock that jumps, a slow answer):
    // the delivery must not be claimed and sent a second time meanwhile.
    let mut mine: HashSet<i64> = HashSet::new();
    let mut target = target;
    let mut bucket = target
        .per_minute(&notifier)
        .map(|n| Bucket::new(n, notifier.clock.now().as_millisecond()));
    let mut concurrency = target.concurrency(&notifier);
    let mut generation = notifier.config.generation();
    loop {
        // The config changed: this destination's settings are read again; a destination
        // removed stops here, once its sends in flight are recorded.
        if generation != notifier.config.generation() {
            generation = notifier.config.generation();
            if let Target::Destination(d) = &target {
                let now = notifier
                    .config
                    .load()
                    .notify
                    .destination(d.id.as_str())
                    .cloned();
                match now {
                    Some(d) => {
                        target = Target::Destination(d);
                        concurrency = target.concurrency(&notifier);
                        bucket = target
                            .per_minute(&notifier)
                            .map(|n| Bucket::new(n, notifier.clock.now().as_millisecond()));
                    }
                    None => {
                        while let Some(done) = in_flight.join_next().await {
                            if let Ok((c, result)) = done {
                                settle_logged(&notifier, &target, &c, result).await;
                            }
                        }
                        return;
                    }
                }
            }
        }
        let wake = notifier.wake.notified();
        tokio::pin!(wake);
        // Registered before claiming, so an event enqueued meanwhile is not missed.
        wake.as_mut().enable();
        // Record what has finished before claiming again.
        while let Some(done) = in_flight.try_join_next() {
            if let Ok((c, result)) = done {
                settle_logged(&notifier, &target, &c, result).await;
                mine.remove(&c.delivery.id);
            }
        }
        let now_ms = notifier.clock.now().as_millisecond();
        let mut free = concurrency.saturating_sub(in_flight.len());
        if let Some(b) = &mut bucket {
            free = free.min(b.available(now_ms));
        }
        if free > 0 {
            match claim(&notifier, &target, now_ms, free).await {
                Ok(claimed) => {
                    let fresh: Vec<ClaimedDelivery> = claimed
                        .into_iter()
                        .filter(|c| mine.insert(c.delivery.id))
                        .collect();
                    if let Some(b) = &mut bucket {
                        b.take(fresh.len());
                    }
                    for c in fresh {
                        in_flight.spawn(send(&notifier, &target, c));
                    }
                }
                Err(e) => tracing::warn!(error = %e, destination = target.label(),
                    "could not claim notifications; will retry"),
            }
        }
        tokio::select! {
            Some(Ok((c, result))) = in_flight.join_next(), if !in_flight.is_empty() => {
                settle_logged(&notifier, &target, &c, result).await;
                mine.remove(&c.delivery.id);
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

/// [`settle`], logging a failure: the claim then lapses and a later round retries.
async fn settle_logged(notifier: &Notifier, target: &Target, c: &ClaimedDelivery, result: Sent) {
    if let Err(e) = settle(notifier, target, c, result).await {
        tracing::warn!(error = %e, destination = target.label(), event = %c.event.id,
            "could not record a notification attempt; its claim will lapse");
    }
}

/// Sends the summaries of monitors that stopped flapping as of `now_ms`.
pub async fn settle_flaps(notifier: &Notifier, now_ms: i64) -> usize {
    let flaps = &notifier.flaps;
    if let Err(e) = flaps.load(notifier.store.as_ref()).await {
        tracing::warn!(error = %e, "could not load flap states; will retry");
        return 0;
    }
    let settled = flaps.settle(
        &notifier.config.load().notify.flap,
        &notifier.config.load().monitors,
        now_ms,
    );
    let n = settled.len();
    for (monitor, notice, saved) in settled {
        // Queued before the state is saved: a crash in between repeats the summary (same
        // id, so it is sent once), rather than losing it.
        notifier.enqueue_or_log(notice).await;
        if let Err(err) = notifier
            .store
            .save_flap_state(&monitor, saved, now_ms)
            .await
        {
            tracing::warn!(%monitor, error = %err, "could not save the flap state");
        }
    }
    n
}

/// Deletes settled deliveries past `[notify] keep`, manage tokens past their lifetime and
/// email subscriptions left unconfirmed past `confirm_within`, as of `now_ms`.
pub async fn prune_once(notifier: &Notifier, now_ms: i64) -> Result<NotifyPruned, StoreError> {
    let n = &notifier.config.load().notify;
    notifier
        .store
        .prune_notifications(NotifyPrune {
            settled_before_ms: now_ms - n.keep.as_millis(),
            tokens_before_ms: now_ms - super::subscribers::TOKEN_LIFETIME_MS,
            unconfirmed_before_ms: now_ms - n.subscribers.confirm_within.as_millis(),
        })
        .await
}

async fn housekeeping_until_stopped(notifier: Notifier, mut stopped: watch::Receiver<bool>) {
    let due = |last: Option<i64>, now_ms: i64, every: i64| {
        last.is_none_or(|t| now_ms < t || now_ms - t >= every)
    };
    let mut last_prune = None;
    loop {
        let now_ms = notifier.clock.now().as_millisecond();
        settle_flaps(&notifier, now_ms).await;
        if due(last_prune, now_ms, PRUNE_EVERY_MS) {
            last_prune = Some(now_ms);
            match prune_once(&notifier, now_ms).await {
                Ok(p) if p != NotifyPruned::default() => {
                    tracing::info!(?p, "pruned the notification outbox");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not prune the outbox; will retry"),
            }
            notifier.subscribe_limiter.sweep();
        }
        tokio::select! {
            _ = tokio::time::sleep(HOUSEKEEPING_EVERY) => {}
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
        assert_eq!(backoff_ms(1, 1.0, 10_000), 10_000);
        assert_eq!(backoff_ms(2, 1.0, 10_000), 20_000);
        assert_eq!(backoff_ms(4, 1.0, 10_000), 80_000);
        assert_eq!(backoff_ms(40, 1.0, 10_000), BACKOFF_MAX_MS);
        assert_eq!(backoff_ms(2, 0.5, 10_000), 10_000);
        assert_eq!(backoff_ms(2, 0.0, 10_000), 10_000, "jitter is clamped");
        assert_eq!(backoff_ms(1, 1.0, 1_000), 1_000);
    }

    #[test]
    fn a_bucket_allows_its_rate_and_refills_evenly() {
        let mut b = Bucket::new(6, 0);
        assert_eq!(b.available(0), 6);
        b.take(6);
        assert_eq!(b.available(9_999), 0);
        assert_eq!(b.available(10_000), 1, "one every 10 s");
        assert_eq!(b.available(600_000), 6, "never more than a minute's worth");
    }
}
