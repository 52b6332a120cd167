//! Public subscribers: visitors who want a service's incidents and maintenance by mail or at
//! a webhook endpoint, without an account.
//!
//! - **Email, double opt-in.** Subscribing stores the address unconfirmed and queues one
//!   confirmation mail (at most one an hour per address); nothing else is sent to it until
//!   its link is used. Whether an address was already subscribed is never revealed.
//! - **Webhooks, verified** (turned on with `[notify.subscribers] webhook = true`): the
//!   registration answer carries the secret that signs every body, and a manage token; the
//!   endpoint then gets a signed challenge ([`crate::transport::verify`]) and nothing else
//!   until it echoes one. One that has not when the delivery's attempts run out
//!   (`notify.max_attempts`, `give_up_after`) is dropped, as is one still unverified after
//!   `confirm_within`. Private and loopback targets are refused unless
//!   `allow_private_targets` is set.
//! - **Apart.** Email and webhook subscribers have a delivery loop each, and each endpoint
//!   gets one request at a time within `webhook_timeout`, so unresponsive endpoints hold
//!   up neither confirmation mails nor each other much (see `crate::worker`).
//! - **Tokens.** Every mail carries a fresh random token in its links (manage, and RFC 8058
//!   one-click unsubscribe); the store keeps only their SHA-256. A token works for
//!   [`TOKEN_LIFETIME_MS`].
//! - **Limits.** Requests per client address per hour (`per_client_per_hour`); every
//!   field checked, every refusal a 4xx naming the field.

use crate::Notifier;
use crate::error::SubscriptionError;
use crate::mail::Mail;
use crate::transport::{
    Clients, Email, HttpTarget, Parcel, Route, SendError, Signing, Transport, Verification,
    Webhook, email,
};
use downbeat_config::{Secret, ServiceConfig};
use downbeat_store::{
    ClaimedDelivery, NotifyEventRow, OutboxKind, SubscriberKind, SubscriberRow,
    destination_subscriber, subscriber_destination,
};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// How long a manage or unsubscribe link works.
pub const TOKEN_LIFETIME_MS: i64 = 400 * 86_400_000;
/// At most one confirmation mail per address this often.
pub const CONFIRM_RESEND_MS: i64 = 3_600_000;
/// The most components one subscription names.
pub const MAX_COMPONENTS: usize = 50;
const TOKEN_PREFIX: &str = "dbs_";
/// Subscription requests per client address.
pub struct RequestLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl RequestLimiter {
    pub fn new(per_hour: u32) -> Self {
        let n = NonZeroU32::new(per_hour).unwrap_or(NonZeroU32::MIN);
        RequestLimiter {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_hour(n).allow_burst(n)),
            clock: DefaultClock::default(),
        }
    }

    /// `Ok` if `ip` may ask now, else a 429.
    pub fn check(&self, ip: IpAddr) -> Result<(), SubscriptionError> {
        self.limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            SubscriptionError::RateLimited {
                retry_after_s: wait.as_secs().max(1),
            }
        })
    }

    pub fn sweep(&self) {
        self.limiter.retain_recent();
    }
}

/// A new random token (`dbs_` and 64 hex digits).
pub fn new_token() -> String {
    format!(
        "{TOKEN_PREFIX}{}",
        downbeat_domain::hex::hex(&rand::random::<[u8; 32]>())
    )
}

/// The SHA-256 (hex) the store keeps of a token.
pub fn hash_token(token: &str) -> String {
    downbeat_domain::hex::hex(&Sha256::digest(token.as_bytes()))
}

/// Whether `token` has a token's shape (so junk never reaches the store).
pub fn plausible_token(token: &str) -> bool {
    token.len() == TOKEN_PREFIX.len() + 64
        && token.starts_with(TOKEN_PREFIX)
        && token[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
}

/// Whether subscriber `s` wants an event about `components` (empty: the whole service).
pub fn wants<S: AsRef<str>>(s: &SubscriberRow, components: &[S]) -> bool {
    s.components.is_empty()
        || components.is_empty()
        || components
            .iter()
            .any(|c| s.components.iter().any(|x| x == c.as_ref()))
}

/// Checks chosen components against the service; duplicates are dropped.
pub fn check_components(
    service: &ServiceConfig,
    chosen: &[String],
) -> Result<Vec<String>, SubscriptionError> {
    if chosen.len() > MAX_COMPONENTS {
        return Err(SubscriptionError::Invalid {
            field: "components",
            message: format!("at most {MAX_COMPONENTS} components"),
        });
    }
    let mut out: Vec<String> = Vec::with_capacity(chosen.len());
    for c in chosen {
        if !service.components.iter().any(|x| x.id.as_str() == c) {
            let shown: String = c.chars().take(64).collect();
            return Err(SubscriptionError::Invalid {
                field: "components",
                message: format!("{} has no component {shown:?}", service.name),
            });
        }
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    // Every component is the whole service.
    if !service.components.is_empty() && out.len() == service.components.len() {
        out.clear();
    }
    Ok(out)
}

fn check_email(raw: &str) -> Result<String, SubscriptionError> {
    let addr = raw.trim().to_lowercase();
    let bad = |message: &str| SubscriptionError::Invalid {
        field: "email",
        message: message.into(),
    };
    if addr.is_empty() {
        return Err(bad("enter your mail address"));
    }
    if !downbeat_config::notify::is_email_address(&addr) || addr.parse::<lettre::Address>().is_err()
    {
        return Err(bad("is not a mail address like name@example.com"));
    }
    Ok(addr)
}

fn check_url(notifier: &Notifier, raw: &str) -> Result<String, SubscriptionError> {
    let bad = |message: String| SubscriptionError::Invalid {
        field: "url",
        message,
    };
    let url = raw.trim();
    if url.len() > 2000 {
        return Err(bad("must be at most 2000 characters".into()));
    }
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| bad("is not a URL like https://hooks.example/downbeat".into()))?;
    if !matches!(uri.scheme_str(), Some("https" | "http")) || uri.host().is_none() {
        return Err(bad("must be an http:// or https:// URL with a host".into()));
    }
    if url.contains('@') && uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(bad("must not carry a user name or password".into()));
    }
    if !notifier
        .config
        .load()
        .notify
        .subscribers
        .allow_private_targets
    {
        let host = uri.host().unwrap_or_default();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let literal = bare.parse::<IpAddr>().ok();
        if bare.eq_ignore_ascii_case("localhost")
            || literal.is_some_and(|ip| !super::http::is_public(ip))
        {
            return Err(bad(
                "must be a public address (private, loopback and link-local ones are refused)"
                    .into(),
            ));
        }
    }
    Ok(url.to_owned())
}

fn service_of(notifier: &Notifier, id: &str) -> Result<ServiceConfig, SubscriptionError> {
    notifier
        .config
        .load()
        .service(id)
        .cloned()
        .ok_or_else(|| SubscriptionError::unknown_service(id))
}

/// Subscribes `email` to `service` (optionally only some components) and queues the
/// confirmation mail. The answer is the same whether or not the address was subscribed.
pub async fn subscribe_email(
    notifier: &Notifier,
    service: &str,
    email: &str,
    components: &[String],
) -> Result<(), SubscriptionError> {
    let svc = service_of(notifier, service)?;
    if !notifier.config.load().notify.subscribers.email {
        return Err(SubscriptionError::NotFound(format!(
            "{} offers no email subscriptions",
            svc.name
        )));
    }
    let address = check_email(email)?;
    let components = check_components(&svc, components)?;
    let now_ms = notifier.clock.now().as_millisecond();
    let (row, new) = notifier
        .store
        .add_subscriber(SubscriberRow {
            id: 0,
            service: svc.id.to_string(),
            kind: SubscriberKind::Email,
            address,
            components: components.clone(),
            secret: None,
            created_ms: now_ms,
            confirmed_ms: None,
            confirm_sent_ms: None,
        })
        .await?;
    if row.confirmed_ms.is_some() {
        // Already subscribed: say nothing more (to the visitor or the address).
        return Ok(());
    }
    if !new && row.components != components {
        notifier
            .store
            .set_subscriber_components(row.id, components)
            .await?;
    }
    if notifier
        .store
        .mark_confirmation_sent(row.id, now_ms, now_ms - CONFIRM_RESEND_MS)
        .await?
    {
        let event = NotifyEventRow {
            id: format!("subscription-{}-confirm-{now_ms}", row.id),
            kind: OutboxKind::Confirmation,
            service: svc.id.to_string(),
            occurred_ms: now_ms,
            link: format!("{}/s/{}", notifier.config.load().notify.public_url, svc.id),
            data: "{}".into(),
        };
        notifier
            .store
            .enqueue_notification(event, vec![subscriber_destination(row.id)], now_ms)
            .await?;
        notifier.wake.notify_waiters();
    }
    Ok(())
}

/// A webhook subscription as registered: shown once, like a token.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookSubscription {
    /// Manages the subscription (`GET`/`DELETE /api/v1/subscriptions/{token}`); keep it.
    pub token: String,
    /// Signs every body: `X-Downbeat-Signature: sha256=HMAC-SHA256(secret, timestamp.body)`.
    pub secret: String,
    pub service: String,
    /// Components it is limited to; empty means the whole service.
    pub components: Vec<String>,
    pub url: String,
    /// False until the endpoint has echoed the verification challenge (a POST of type
    /// `subscription.verify` carrying `data.challenge`); nothing else is sent before.
    pub verified: bool,
}

/// Registers a webhook subscriber and queues its verification challenge; it gets nothing
/// else until it echoes one. Registering the same URL again answers 409: its token was
/// shown once.
pub async fn subscribe_webhook(
    notifier: &Notifier,
    service: &str,
    url: &str,
    components: &[String],
) -> Result<WebhookSubscription, SubscriptionError> {
    let svc = service_of(notifier, service)?;
    if !notifier.config.load().notify.subscribers.webhook {
        return Err(SubscriptionError::NotFound(format!(
            "{} offers no webhook subscriptions",
            svc.name
        )));
    }
    let url = check_url(notifier, url)?;
    let components = check_components(&svc, components)?;
    let now_ms = notifier.clock.now().as_millisecond();
    let secret = downbeat_domain::hex::hex(&rand::random::<[u8; 24]>());
    let (row, new) = notifier
        .store
        .add_subscriber(SubscriberRow {
            id: 0,
            service: svc.id.to_string(),
            kind: SubscriberKind::Webhook,
            address: url.clone(),
            components: components.clone(),
            secret: Some(secret.clone()),
            created_ms: now_ms,
            confirmed_ms: None,
            confirm_sent_ms: None,
        })
        .await?;
    if !new {
        return Err(SubscriptionError::Conflict(
            "this URL is already subscribed to this service; delete that subscription with its token first"
                .into(),
        ));
    }
    let token = new_token();
    notifier
        .store
        .add_subscriber_token(row.id, &hash_token(&token), now_ms)
        .await?;
    let challenge = NotifyEventRow {
        id: format!("subscription-{}-verify", row.id),
        kind: OutboxKind::Confirmation,
        service: svc.id.to_string(),
        occurred_ms: now_ms,
        link: format!("{}/s/{}", notifier.config.load().notify.public_url, svc.id),
        data: "{}".into(),
    };
    notifier
        .store
        .enqueue_notification(challenge, vec![subscriber_destination(row.id)], now_ms)
        .await?;
    notifier.wake.notify_waiters();
    Ok(WebhookSubscription {
        token,
        secret,
        service: svc.id.to_string(),
        components,
        url,
        verified: false,
    })
}

/// The subscriber a token manages, if the token is valid.
pub async fn find(
    notifier: &Notifier,
    token: &str,
) -> Result<Option<SubscriberRow>, SubscriptionError> {
    if !plausible_token(token) {
        return Ok(None);
    }
    let now_ms = notifier.clock.now().as_millisecond();
    Ok(notifier
        .store
        .subscriber_by_token(&hash_token(token), now_ms - TOKEN_LIFETIME_MS)
        .await?)
}

fn no_such() -> SubscriptionError {
    SubscriptionError::NotFound(
        "no subscription has this link: it expired, or the subscription was cancelled".into(),
    )
}

/// Confirms the subscription a token manages. A webhook subscription is confirmed only by
/// its endpoint echoing the challenge, never by its token's holder.
pub async fn confirm(notifier: &Notifier, token: &str) -> Result<SubscriberRow, SubscriptionError> {
    let s = find(notifier, token).await?.ok_or_else(no_such)?;
    if s.kind == SubscriberKind::Webhook && s.confirmed_ms.is_none() {
        return Err(SubscriptionError::Conflict(
            "a webhook subscription starts when its endpoint echoes the verification challenge"
                .into(),
        ));
    }
    let now_ms = notifier.clock.now().as_millisecond();
    notifier.store.confirm_subscriber(s.id, now_ms).await?;
    Ok(SubscriberRow {
        confirmed_ms: s.confirmed_ms.or(Some(now_ms)),
        ..s
    })
}

/// Cancels the subscription a token manages: the row, its tokens and its pending mails go.
pub async fn unsubscribe(
    notifier: &Notifier,
    token: &str,
) -> Result<SubscriberRow, SubscriptionError> {
    let s = find(notifier, token).await?.ok_or_else(no_such)?;
    notifier.store.delete_subscriber(s.id).await?;
    Ok(s)
}

/// Changes which components a subscription covers.
pub async fn set_components(
    notifier: &Notifier,
    token: &str,
    components: &[String],
) -> Result<SubscriberRow, SubscriptionError> {
    let s = find(notifier, token).await?.ok_or_else(no_such)?;
    let svc = service_of(notifier, &s.service)?;
    let components = check_components(&svc, components)?;
    notifier
        .store
        .set_subscriber_components(s.id, components.clone())
        .await?;
    Ok(SubscriberRow { components, ..s })
}

/// Sends a claimed delivery to its subscriber by its [`route`]; a webhook endpoint that
/// echoes its challenge is verified at once (its news may follow).
pub async fn deliver(
    notifier: &Notifier,
    clients: Clients<'_>,
    c: &ClaimedDelivery,
    parcel: &Parcel<'_>,
) -> Result<u16, SendError> {
    let route = route(notifier, c, parcel).await?;
    let status = route.send(clients, parcel).await?;
    if let (Route::Verify(_), Some(id)) = (&route, destination_subscriber(&c.delivery.destination))
    {
        let now_ms = notifier.clock.now().as_millisecond();
        notifier.store.confirm_subscriber(id, now_ms).await?;
        tracing::info!(subscriber = id, "webhook subscriber verified");
    }
    Ok(status)
}

/// After a delivery to a subscriber was given up: a webhook endpoint that never echoed its
/// challenge is dropped (its URL may then be registered again).
pub async fn gave_up(notifier: &Notifier, c: &ClaimedDelivery) -> Result<(), SendError> {
    if c.event.kind != OutboxKind::Confirmation {
        return Ok(());
    }
    let Some(id) = destination_subscriber(&c.delivery.destination) else {
        return Ok(());
    };
    let Some(s) = notifier.store.subscriber(id).await? else {
        return Ok(());
    };
    if s.kind == SubscriberKind::Webhook && s.confirmed_ms.is_none() {
        notifier.store.delete_subscriber(id).await?;
        tracing::info!(
            subscriber = id,
            "webhook subscriber dropped: never verified"
        );
    }
    Ok(())
}

/// How a claimed delivery reaches its subscriber: a signed POST (or, for a webhook not yet
/// verified, its challenge), or a mail with fresh links (its token is minted here, once the
/// relay is known to be usable). Refused at once when the subscriber is gone, or is not (or
/// no longer) in the state the event is for.
pub async fn route(
    notifier: &Notifier,
    c: &ClaimedDelivery,
    parcel: &Parcel<'_>,
) -> Result<Route, SendError> {
    let id = destination_subscriber(&c.delivery.destination).ok_or(SendError::NotASubscriber)?;
    let s = notifier
        .store
        .subscriber(id)
        .await?
        .ok_or(SendError::Unsubscribed)?;
    let confirming = c.event.kind == OutboxKind::Confirmation;
    if confirming == s.confirmed_ms.is_some() {
        return Err(if confirming {
            SendError::AlreadyConfirmed
        } else {
            SendError::NotConfirmed
        });
    }
    match s.kind {
        SubscriberKind::Webhook => {
            let target = HttpTarget {
                signing: s.secret.clone().map(|k| Signing::Downbeat(Secret::new(k))),
                public_only: !notifier
                    .config
                    .load()
                    .notify
                    .subscribers
                    .allow_private_targets,
                ..HttpTarget::to(&s.address)
            };
            Ok(if confirming {
                Route::Verify(Verification::new(target))
            } else {
                Route::Webhook(Webhook { target })
            })
        }
        SubscriberKind::Email => {
            notifier.clients().mailer()?;
            let token = new_token();
            let now_ms = notifier.clock.now().as_millisecond();
            if !notifier
                .store
                .add_subscriber_token(s.id, &hash_token(&token), now_ms)
                .await?
            {
                return Err(SendError::Unsubscribed);
            }
            let mail = subscriber_mail(notifier, &s, parcel, &token);
            Ok(Route::Email(Email { mail }))
        }
    }
}

fn service_name(notifier: &Notifier, id: &str) -> String {
    notifier
        .config
        .load()
        .service(id)
        .map_or_else(|| id.to_owned(), |s| s.name.clone())
}

/// The mail a subscriber gets for the parcel's event, with links carrying `token`.
pub fn subscriber_mail(
    notifier: &Notifier,
    s: &SubscriberRow,
    parcel: &Parcel<'_>,
    token: &str,
) -> Mail {
    let event = parcel.event;
    let config = notifier.config.load();
    let base = &config.notify.public_url;
    let manage = format!("{base}/subscriptions/{token}");
    let unsubscribe = format!("{manage}/unsubscribe");
    let name = service_name(notifier, &s.service);
    let scope = if s.components.is_empty() {
        "all of it".to_owned()
    } else {
        let svc = config.service(&s.service);
        s.components
            .iter()
            .map(|c| {
                svc.and_then(|svc| svc.components.iter().find(|x| x.id.as_str() == c))
                    .map_or_else(|| c.clone(), |x| x.name.clone())
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (subject, text) = if event.kind == OutboxKind::Confirmation {
        (
            format!("Confirm your subscription to {name} status updates"),
            format!(
                "Someone, hopefully you, asked to receive {name}'s incident and maintenance \
                 updates at this address ({scope}).\n\n\
                 To confirm, open this link and press Confirm:\n{manage}\n\n\
                 If it was not you, ignore this mail: nothing more will be sent. \
                 Or cancel the request now: {unsubscribe}\n"
            ),
        )
    } else {
        let msg = parcel.message;
        let footer = format!(
            "You receive this because you subscribed to {name} status updates ({scope}).\n\
             Manage your subscription: {manage}\nUnsubscribe: {unsubscribe}\n"
        );
        (msg.title.clone(), email::text(msg, &footer))
    };
    Mail {
        to: vec![s.address.clone()],
        subject,
        text,
        event_id: event.id.clone(),
        recipient_key: format!("s{}", s.id),
        unsubscribe: Some(unsubscribe),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let a = new_token();
        assert!(plausible_token(&a), "{a}");
        assert_ne!(a, new_token());
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
        for junk in [
            "",
            "dbs_",
            "dbs_xyz",
            &a[..a.len() - 1],
            &a.replace("dbs_", "dbt_"),
        ] {
            assert!(!plausible_token(junk), "{junk}");
        }
    }
}
