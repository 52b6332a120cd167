//! `[notify]`: where events go (webhooks, chat and push formats, email), how hard delivery
//! tries, the SMTP relay, public subscribers, certificate warnings and flap suppression —
//! the validated types, their TOML shape, and the validation.

use crate::load::{ConfigError, Validator};
use crate::model::ServiceConfig;
use crate::template::BodyTemplate;
use downbeat_domain::event::EventKind;
use downbeat_domain::{ComponentId, ServiceId, Slug, Span};
use serde::Deserialize;
use std::sync::Arc;

/// The event types a destination can ask for, by machine name: every
/// [`EventKind`]'s. A destination's `events` filter names these, or a family (the part
/// before the dot, e.g. `incident`).
pub const EVENT_KINDS: &[&str] = &KIND_NAMES;

const KIND_NAMES: [&str; EventKind::ALL.len()] = {
    let mut names = [""; EventKind::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = EventKind::ALL[i].as_str();
        i += 1;
    }
    names
};

/// `[notify]`: where events are sent and how hard delivery tries.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// The status page's public address, prefixed to links in events (`https://…`, no
    /// trailing slash); empty means links are paths.
    pub public_url: String,
    /// Attempts before a delivery is given up (default 8).
    pub max_attempts: u32,
    /// A delivery still undelivered this long after it was enqueued is given up (default 1 day).
    pub give_up_after: Span,
    /// Longest wait for a destination's answer (default 10 s).
    pub timeout: Span,
    /// The first retry waits about this long, each further one twice as long (default 10 s).
    pub retry_after: Span,
    /// Settled deliveries (and their events) are kept this long for the admin area, then
    /// pruned (default 30 days).
    pub keep: Span,
    /// Warn when a monitored TLS certificate has fewer than this many days left: one event
    /// per certificate per threshold (default 30, 7 and 1), largest first.
    pub cert_expiry_days: Vec<u32>,
    pub flap: FlapSettings,
    pub smtp: Option<SmtpConfig>,
    pub subscribers: SubscriberSettings,
    /// Webhook and email destinations, in file order.
    pub destinations: Vec<Destination>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            public_url: String::new(),
            max_attempts: 8,
            give_up_after: Span::from_secs(86_400),
            timeout: Span::from_secs(10),
            retry_after: Span::from_secs(10),
            keep: Span::from_secs(30 * 86_400),
            cert_expiry_days: vec![30, 7, 1],
            flap: FlapSettings::default(),
            smtp: None,
            subscribers: SubscriberSettings::default(),
            destinations: Vec::new(),
        }
    }
}

impl NotifySettings {
    pub fn destination(&self, id: &str) -> Option<&Destination> {
        self.destinations.iter().find(|d| d.id.as_str() == id)
    }
}

/// Flap suppression: a monitor that changes state `changes` times within `window` is
/// flapping; one message says so, the changes after it are held, and one summary follows
/// once it has kept one state for `settle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlapSettings {
    pub changes: u32,
    pub window: Span,
    pub settle: Span,
}

impl Default for FlapSettings {
    fn default() -> Self {
        FlapSettings {
            changes: 4,
            window: Span::from_secs(30 * 60),
            settle: Span::from_secs(15 * 60),
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587); refused if the server cannot.
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS: only for a relay on this machine (loopback), e.g. a local MTA or tests.
    None,
}

impl SmtpTls {
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::Starttls => "starttls",
            SmtpTls::Implicit => "implicit",
            SmtpTls::None => "none",
        }
    }
}

/// `[notify.smtp]`: the relay that sends every mail (email destinations and subscribers).
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The `From` of every mail, e.g. `Melodia status <status@melodia.example>`.
    pub from: String,
    /// A PEM file of extra CA certificates to trust (a relay with a private CA).
    pub ca_file: Option<std::path::PathBuf>,
}

/// `[notify.subscribers]`: visitors subscribing to a service's incidents and maintenance.
#[derive(Debug, Clone)]
pub struct SubscriberSettings {
    /// Email subscriptions with double opt-in (default: on when `[notify.smtp]` is set).
    pub email: bool,
    /// Webhook subscriptions registered through the API (default off).
    pub webhook: bool,
    /// Subscription requests per client address per hour (default 10).
    pub per_client_per_hour: u32,
    /// An unconfirmed email subscription is forgotten after this (default 2 days).
    pub confirm_within: Span,
    /// Let webhook subscribers register private, loopback or link-local addresses (default
    /// false: a visitor could otherwise make the server call into its own network).
    pub allow_private_targets: bool,
    /// Subscriber deliveries in flight at once, for email subscribers and (separately) for
    /// webhook subscribers (default 8 each).
    pub concurrency: usize,
    /// Subscriber messages sent per minute at most, for email subscribers and (separately)
    /// for webhook subscribers (default 600 each).
    pub per_minute: u32,
    /// How long one webhook subscriber's endpoint may take to answer one request (default
    /// 5 s, at most `notify.timeout`). Each endpoint gets one request at a time, so a slow
    /// one holds at most one of the webhook loop's `concurrency` for this long.
    pub webhook_timeout: Span,
}

impl Default for SubscriberSettings {
    fn default() -> Self {
        SubscriberSettings {
            email: false,
            webhook: false,
            per_client_per_hour: 10,
            confirm_within: Span::from_secs(2 * 86_400),
            allow_private_targets: false,
            concurrency: 8,
            per_minute: 600,
            webhook_timeout: Span::from_secs(5),
        }
    }
}

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

impl Secret {
    /// Whether it could be sent in a URL path or header as it is: not empty, no spaces,
    /// control characters, or characters that end a path segment.
    fn is_token(&self) -> bool {
        !self.0.is_empty()
            && self.0.len() <= 512
            && !self
                .0
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "/?#%".contains(c))
    }
}

/// The body an HTTP destination gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// Downbeat's signed JSON event.
    Downbeat,
    /// The same JSON event signed per the Standard Webhooks specification (`webhook-id`,
    /// `webhook-timestamp`, `webhook-signature: v1,…` under a `whsec_…` secret).
    StandardWebhooks,
    /// A chat's incoming-webhook message.
    Chat(ChatFormat),
    /// ntfy-style push: the message as the body, title, priority, tags and link as headers.
    Ntfy,
    /// The operator's own body, rendered from a template, with their headers.
    Template(Arc<WebhookTemplate>),
}

/// `format = "template"`: the body template, and the headers sent with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTemplate {
    pub body: BodyTemplate,
    /// Sent as they are; their values never print (they often hold an API key).
    pub headers: Vec<(String, Secret)>,
}

impl Format {
    pub fn as_str(&self) -> &'static str {
        match self {
            Format::Downbeat => "downbeat",
            Format::StandardWebhooks => "standard-webhooks",
            Format::Chat(chat) => chat.as_str(),
            Format::Ntfy => "ntfy",
            Format::Template(_) => "template",
        }
    }

    /// The format named `s`, but `template`, which is built from its keys.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "downbeat" => Some(Format::Downbeat),
            "standard-webhooks" => Some(Format::StandardWebhooks),
            "ntfy" => Some(Format::Ntfy),
            _ => ChatFormat::ALL
                .into_iter()
                .find(|c| c.as_str() == s)
                .map(Format::Chat),
        }
    }

    /// Every format's name: `downbeat`, `standard-webhooks`, the chats, `ntfy`, `template`.
    pub fn names() -> impl Iterator<Item = &'static str> {
        ["downbeat", "standard-webhooks"]
            .into_iter()
            .chain(ChatFormat::ALL.into_iter().map(ChatFormat::as_str))
            .chain(["ntfy", "template"])
    }
}

/// A chat's incoming webhook: each gets its own message shape (`downbeat_notify`'s chat
/// transport), its text escaped for that chat's markup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatFormat {
    /// Slack incoming webhook (`{"text": …}` with mrkdwn).
    Slack,
    /// Discord webhook (`{"content": …, "embeds": […]}`; mentions disabled).
    Discord,
    /// Mattermost incoming webhook (`{"text": …}` with Markdown).
    Mattermost,
    /// Microsoft Teams through a Workflows webhook ("When a Teams webhook request is
    /// received"): a message with an Adaptive Card 1.4. (The Office 365 connectors'
    /// MessageCard is retired; there is no format for it.)
    Teams,
    /// Google Chat incoming webhook (a `cardsV2` card, its text in the cards' HTML subset).
    GoogleChat,
}

impl ChatFormat {
    pub const ALL: [ChatFormat; 5] = [
        ChatFormat::Slack,
        ChatFormat::Discord,
        ChatFormat::Mattermost,
        ChatFormat::Teams,
        ChatFormat::GoogleChat,
    ];

    /// Its `format = "…"` in `[[notify.webhook]]`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatFormat::Slack => "slack",
            ChatFormat::Discord => "discord",
            ChatFormat::Mattermost => "mattermost",
            ChatFormat::Teams => "teams",
            ChatFormat::GoogleChat => "googlechat",
        }
    }
}

/// How a destination is reached.
#[derive(Debug, Clone)]
pub enum Channel {
    /// An HTTP(S) POST.
    Http {
        url: String,
        format: Format,
        /// Signs each body (HMAC-SHA256) so the receiver can tell it came from us; required
        /// for the `downbeat` format, optional for the others (their URL is their secret).
        secret: Option<Secret>,
        /// Sent as `Authorization: Bearer …` (an ntfy access token, say).
        token: Option<Secret>,
    },
    /// A mail through `[notify.smtp]` to these addresses.
    Email { to: Vec<String> },
    /// PagerDuty Events API v2: `url` is the enqueue endpoint.
    PagerDuty { url: String, routing_key: Secret },
    /// Opsgenie's Alert API: `url` is the API's base (`https://api.opsgenie.com`).
    Opsgenie { url: String, api_key: Secret },
    /// Telegram Bot API `sendMessage`: `url` is the API's base.
    Telegram {
        url: String,
        bot_token: Secret,
        /// A chat's number or `@channelname`.
        chat_id: String,
    },
    /// A Matrix room, through a homeserver's client-server API.
    Matrix {
        homeserver: String,
        /// `!opaque:server`.
        room_id: String,
        access_token: Secret,
    },
    /// Pushover's Messages API: `url` is the API's base.
    Pushover {
        url: String,
        token: Secret,
        /// A user or group key.
        user: Secret,
    },
}

/// Which events a destination wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events of these services; empty means every service.
    pub services: Vec<ServiceId>,
    /// Only events naming one of these components, or naming none (service-wide events:
    /// crowd verdicts, incidents without components); empty means every component.
    pub components: Vec<ComponentId>,
    /// Only these event types or families; empty means every event.
    pub events: Vec<String>,
}

impl EventFilter {
    /// Whether an event of `kind` about `service` and `components` passes.
    pub fn wants<S: AsRef<str>>(&self, kind: &str, service: &str, components: &[S]) -> bool {
        let family = kind.split('.').next().unwrap_or(kind);
        (self.services.is_empty() || self.services.iter().any(|s| s.as_str() == service))
            && (self.events.is_empty() || self.events.iter().any(|e| e == kind || e == family))
            && (self.components.is_empty()
                || components.is_empty()
                || components
                    .iter()
                    .any(|c| self.components.iter().any(|x| x.as_str() == c.as_ref())))
    }
}

/// `[[notify.webhook]]` or `[[notify.email]]`: one destination, with its own delivery loop.
#[derive(Debug, Clone)]
pub struct Destination {
    pub id: Slug,
    pub channel: Channel,
    pub filter: EventFilter,
    /// An operators' channel: also gets operator-only events (drafts).
    pub operators: bool,
    /// Most deliveries in flight to this destination at once (default 4; 1 for email).
    pub concurrency: usize,
    /// Most messages per minute (default: no limit). Extra ones wait, unattempted.
    pub per_minute: Option<u32>,
}

impl Destination {
    /// Whether this destination wants an event of `kind` about `service` and `components`.
    pub fn wants<S: AsRef<str>>(&self, kind: &str, service: &str, components: &[S]) -> bool {
        let operators_only = EventKind::parse(kind).is_some_and(EventKind::operators_only);
        (self.operators || !operators_only) && self.filter.wants(kind, service, components)
    }

    /// Every table's name [`Destination::kind`] gives, in the order forms list them.
    pub const KINDS: [&'static str; 7] = [
        "webhook",
        "email",
        "pagerduty",
        "opsgenie",
        "telegram",
        "matrix",
        "pushover",
    ];

    /// Its table's name: `webhook`, `email`, `pagerduty`… (one of [`Destination::KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self.channel {
            Channel::Http { .. } => "webhook",
            Channel::Email { .. } => "email",
            Channel::PagerDuty { .. } => "pagerduty",
            Channel::Opsgenie { .. } => "opsgenie",
            Channel::Telegram { .. } => "telegram",
            Channel::Matrix { .. } => "matrix",
            Channel::Pushover { .. } => "pushover",
        }
    }
}

// ---------------------------------------------------------------------------------------
// The TOML shape.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    pub public_url: Option<String>,
    pub max_attempts: Option<u32>,
    pub give_up_after: Option<String>,
    pub timeout: Option<String>,
    pub retry_after: Option<String>,
    pub keep: Option<String>,
    pub cert_expiry_days: Option<Vec<u32>>,
    pub flap_changes: Option<u32>,
    pub flap_window: Option<String>,
    pub flap_settle: Option<String>,
    pub smtp: Option<RawSmtp>,
    pub subscribers: Option<RawSubscribers>,
    #[serde(default)]
    pub webhook: Vec<RawWebhook>,
    #[serde(default)]
    pub email: Vec<RawEmail>,
    #[serde(default)]
    pub pagerduty: Vec<RawPagerDuty>,
    #[serde(default)]
    pub opsgenie: Vec<RawOpsgenie>,
    #[serde(default)]
    pub telegram: Vec<RawTelegram>,
    #[serde(default)]
    pub matrix: Vec<RawMatrix>,
    #[serde(default)]
    pub pushover: Vec<RawPushover>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: String,
    pub port: Option<u16>,
    pub tls: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
    pub ca_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSubscribers {
    pub email: Option<bool>,
    pub webhook: Option<bool>,
    pub per_client_per_hour: Option<u32>,
    pub confirm_within: Option<String>,
    pub allow_private_targets: Option<bool>,
    pub concurrency: Option<usize>,
    pub per_minute: Option<u32>,
    pub webhook_timeout: Option<String>,
}

/// A destination's table: its own keys, then the keys every destination has (`id`, the
/// filters, `operators`, `concurrency`, `per_minute`). Written out per table, since serde's
/// `flatten` cannot reject unknown keys.
macro_rules! destination_table {
    ($(#[$m:meta])* $name:ident { $($field:ident: $ty:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            pub id: String,
            $(pub $field: $ty,)*
            #[serde(default)]
            pub services: Vec<String>,
            #[serde(default)]
            pub components: Vec<String>,
            #[serde(default)]
            pub events: Vec<String>,
            #[serde(default)]
            pub operators: bool,
            pub concurrency: Option<usize>,
            pub per_minute: Option<u32>,
        }

        impl $name {
            fn common(&self) -> Common<'_> {
                Common {
                    id: &self.id,
                    services: &self.services,
                    components: &self.components,
                    events: &self.events,
                    operators: self.operators,
                    concurrency: self.concurrency,
                    per_minute: self.per_minute,
                }
            }
        }
    };
}

destination_table!(RawWebhook {
    url: String,
    format: Option<String>,
    secret: Option<Secret>,
    token: Option<Secret>,
    template: Option<String>,
    content_type: Option<String>,
    headers: Option<std::collections::BTreeMap<String, Secret>>,
});

destination_table!(RawEmail { to: Vec<String>, });

destination_table!(RawPagerDuty {
    routing_key: Secret,
    url: Option<String>,
});

destination_table!(RawOpsgenie {
    api_key: Secret,
    url: Option<String>,
});

destination_table!(RawTelegram {
    bot_token: Secret,
    chat_id: String,
    url: Option<String>,
});

destination_table!(RawMatrix {
    homeserver: String,
    room_id: String,
    access_token: Secret,
});

destination_table!(RawPushover {
    token: Secret,
    user: Secret,
    url: Option<String>,
});

/// The keys every destination table has.
struct Common<'a> {
    id: &'a str,
    services: &'a [String],
    components: &'a [String],
    events: &'a [String],
    operators: bool,
    concurrency: Option<usize>,
    per_minute: Option<u32>,
}

/// What an on-call service (PagerDuty, Opsgenie) hears of when its `events` are not given:
/// everything but maintenance, which pages nobody.
const ALERTING: [&str; 4] = ["incident", "monitor", "crowd", "certificate"];

// ---------------------------------------------------------------------------------------
// Validation.

/// Whether `addr` looks like a mail address: `local@domain`, at most 254 bytes, no spaces,
/// control characters or angle brackets. (The relay has the last word; this catches typos.)
pub fn is_email_address(addr: &str) -> bool {
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    addr.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !addr
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"".contains(c))
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
}

/// Whether `secret` is a Standard Webhooks secret: `whsec_` and 24 to 64 bytes in base64.
/// The error never shows it.
fn check_whsec(secret: &str) -> Result<(), &'static str> {
    use base64::Engine;
    let key = secret
        .strip_prefix("whsec_")
        .ok_or("must start with \"whsec_\" (a Standard Webhooks secret)")?;
    match base64::engine::general_purpose::STANDARD.decode(key) {
        Ok(bytes) if (24..=64).contains(&bytes.len()) => Ok(()),
        Ok(_) => Err("must hold 24 to 64 bytes after \"whsec_\" (openssl rand -base64 32)"),
        Err(_) => Err("must be \"whsec_\" followed by base64"),
    }
}

/// Whether `host` names this machine (so plain SMTP with a password stays on it).
fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

struct Filters<'a> {
    services: &'a [String],
    components: &'a [String],
    events: &'a [String],
}

impl Validator<'_> {
    pub(crate) fn notify(
        &self,
        raw: RawNotify,
        services: &[ServiceConfig],
    ) -> Result<NotifySettings, ConfigError> {
        let d = NotifySettings::default();
        let public_url = match raw.public_url {
            None => String::new(),
            Some(u) => {
                crate::load::check_http_url(&u).map_err(|e| self.err("notify.public_url", e))?;
                u.trim_end_matches('/').to_owned()
            }
        };
        let max_attempts = match raw.max_attempts {
            Some(0) => return Err(self.err("notify.max_attempts", "must be at least 1")),
            Some(n) => n,
            None => d.max_attempts,
        };
        let give_up_after = self.span(
            "notify.give_up_after",
            raw.give_up_after,
            d.give_up_after,
            Span::from_secs(60),
            Span::from_secs(30 * 86_400),
        )?;
        let timeout = self.span(
            "notify.timeout",
            raw.timeout,
            d.timeout,
            Span::from_secs(1),
            Span::from_secs(120),
        )?;
        let retry_after = self.span(
            "notify.retry_after",
            raw.retry_after,
            d.retry_after,
            Span::from_secs(1),
            Span::from_secs(3600),
        )?;
        let keep = self.span(
            "notify.keep",
            raw.keep,
            d.keep,
            Span::from_secs(86_400),
            Span::from_secs(3650 * 86_400),
        )?;
        let mut cert_expiry_days = raw.cert_expiry_days.unwrap_or(d.cert_expiry_days);
        if cert_expiry_days.iter().any(|n| *n == 0 || *n > 365) {
            return Err(self.err(
                "notify.cert_expiry_days",
                "each threshold must be between 1 and 365 days",
            ));
        }
        cert_expiry_days.sort_unstable_by(|a, b| b.cmp(a));
        cert_expiry_days.dedup();
        let flap = FlapSettings {
            changes: match raw.flap_changes {
                Some(n) if n < 2 => {
                    return Err(self.err("notify.flap_changes", "must be at least 2"));
                }
                Some(n) => n,
                None => d.flap.changes,
            },
            window: self.span(
                "notify.flap_window",
                raw.flap_window,
                d.flap.window,
                Span::from_secs(60),
                Span::from_secs(86_400),
            )?,
            settle: self.span(
                "notify.flap_settle",
                raw.flap_settle,
                d.flap.settle,
                Span::from_secs(10),
                Span::from_secs(86_400),
            )?,
        };
        let smtp = raw.smtp.map(|s| self.smtp(s)).transpose()?;
        let subscribers = self.subscribers(raw.subscribers, smtp.is_some(), timeout)?;
        if subscribers.email && public_url.is_empty() {
            return Err(self.err(
                "notify.public_url",
                "email subscriptions need it for the links in their mails: set it, or turn them off with [notify.subscribers] email = false",
            ));
        }
        let mut destinations: Vec<Destination> = Vec::new();
        let mut add = |at: String, dest: Destination| {
            if destinations.iter().any(|o| o.id == dest.id) {
                return Err(self.err(
                    format!("{at}.id"),
                    format!("duplicate destination id {:?}", dest.id.as_str()),
                ));
            }
            destinations.push(dest);
            Ok(())
        };
        for (i, w) in raw.webhook.into_iter().enumerate() {
            add(
                format!("notify.webhook[{i}]"),
                self.webhook(i, w, services)?,
            )?;
        }
        for (i, e) in raw.email.into_iter().enumerate() {
            if smtp.is_none() {
                return Err(self.err(
                    format!("notify.email[{i}]"),
                    "email destinations need a [notify.smtp] relay",
                ));
            }
            add(format!("notify.email[{i}]"), self.email(i, e, services)?)?;
        }
        for (i, t) in raw.pagerduty.into_iter().enumerate() {
            add(
                format!("notify.pagerduty[{i}]"),
                self.pagerduty(i, t, services)?,
            )?;
        }
        for (i, t) in raw.opsgenie.into_iter().enumerate() {
            add(
                format!("notify.opsgenie[{i}]"),
                self.opsgenie(i, t, services)?,
            )?;
        }
        for (i, t) in raw.telegram.into_iter().enumerate() {
            add(
                format!("notify.telegram[{i}]"),
                self.telegram(i, t, services)?,
            )?;
        }
        for (i, t) in raw.matrix.into_iter().enumerate() {
            add(format!("notify.matrix[{i}]"), self.matrix(i, t, services)?)?;
        }
        for (i, t) in raw.pushover.into_iter().enumerate() {
            add(
                format!("notify.pushover[{i}]"),
                self.pushover(i, t, services)?,
            )?;
        }
        Ok(NotifySettings {
            public_url,
            max_attempts,
            give_up_after,
            timeout,
            retry_after,
            keep,
            cert_expiry_days,
            flap,
            smtp,
            subscribers,
            destinations,
        })
    }

    fn smtp(&self, raw: RawSmtp) -> Result<SmtpConfig, ConfigError> {
        let key = |k: &str| format!("notify.smtp.{k}");
        let host = raw.host.trim().to_owned();
        if host.is_empty()
            || host.len() > 253
            || host
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "/@?#".contains(c))
        {
            return Err(self.err(key("host"), "must be a host name or address"));
        }
        let tls = match raw.tls.as_deref() {
            None | Some("starttls") => SmtpTls::Starttls,
            Some("implicit") => SmtpTls::Implicit,
            Some("none") => SmtpTls::None,
            Some(other) => {
                let shown: String = other.chars().take(40).collect();
                return Err(self.err(
                    key("tls"),
                    format!("{shown:?} is not a TLS mode: use starttls, implicit or none"),
                ));
            }
        };
        if tls == SmtpTls::None && !is_loopback_host(&host) {
            return Err(self.err(
                key("tls"),
                "\"none\" sends mail (and any password) in the clear: only for a relay on this machine (localhost)",
            ));
        }
        let port = match raw.port {
            Some(0) => return Err(self.err(key("port"), "must be between 1 and 65535")),
            Some(p) => p,
            None => match tls {
                SmtpTls::Starttls => 587,
                SmtpTls::Implicit => 465,
                SmtpTls::None => 25,
            },
        };
        if raw.username.is_some() != raw.password.is_some() {
            return Err(self.err(
                key(if raw.username.is_some() {
                    "password"
                } else {
                    "username"
                }),
                "username and password go together",
            ));
        }
        let from = raw.from.trim().to_owned();
        let addr = match (from.rfind('<'), from.ends_with('>')) {
            (Some(i), true) => &from[i + 1..from.len() - 1],
            _ => from.as_str(),
        };
        if !is_email_address(addr) {
            return Err(self.err(
                key("from"),
                "must be a mail address, optionally with a name: Melodia status <status@melodia.example>",
            ));
        }
        let ca_file = raw
            .ca_file
            .map(|p| {
                let path = std::path::PathBuf::from(&p);
                std::fs::metadata(&path)
                    .map_err(|e| self.err(key("ca_file"), format!("cannot read {p}: {e}")))?;
                Ok(path)
            })
            .transpose()?;
        Ok(SmtpConfig {
            host,
            port,
            tls,
            username: raw.username,
            password: raw.password.map(Secret::new),
            from,
            ca_file,
        })
    }

    fn subscribers(
        &self,
        raw: Option<RawSubscribers>,
        have_smtp: bool,
        timeout: Span,
    ) -> Result<SubscriberSettings, ConfigError> {
        let d = SubscriberSettings {
            webhook_timeout: SubscriberSettings::default().webhook_timeout.min(timeout),
            ..SubscriberSettings::default()
        };
        let Some(raw) = raw else {
            return Ok(SubscriberSettings {
                email: have_smtp,
                ..d
            });
        };
        let key = |k: &str| format!("notify.subscribers.{k}");
        let email = raw.email.unwrap_or(have_smtp);
        if email && !have_smtp {
            return Err(self.err(
                key("email"),
                "email subscriptions need a [notify.smtp] relay",
            ));
        }
        let positive = |k: &str, v: Option<u32>, default: u32| match v {
            Some(0) => Err(self.err(key(k), "must be at least 1")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        Ok(SubscriberSettings {
            email,
            webhook: raw.webhook.unwrap_or(d.webhook),
            per_client_per_hour: positive(
                "per_client_per_hour",
                raw.per_client_per_hour,
                d.per_client_per_hour,
            )?,
            confirm_within: self.span(
                &key("confirm_within"),
                raw.confirm_within,
                d.confirm_within,
                Span::from_secs(600),
                Span::from_secs(30 * 86_400),
            )?,
            allow_private_targets: raw.allow_private_targets.unwrap_or(false),
            concurrency: match raw.concurrency {
                Some(0) => return Err(self.err(key("concurrency"), "must be at least 1")),
                Some(n) => n,
                None => d.concurrency,
            },
            per_minute: positive("per_minute", raw.per_minute, d.per_minute)?,
            // At most the notify.timeout, which a claim's length is made of.
            webhook_timeout: self.span(
                &key("webhook_timeout"),
                raw.webhook_timeout,
                d.webhook_timeout,
                Span::from_secs(1),
                timeout,
            )?,
        })
    }

    fn webhook(
        &self,
        i: usize,
        w: RawWebhook,
        services: &[ServiceConfig],
    ) -> Result<Destination, ConfigError> {
        let at = format!("notify.webhook[{i}]");
        let key = |k: &str| format!("{at}.{k}");
        crate::load::check_http_url(&w.url).map_err(|e| self.err(key("url"), e))?;
        let format = match w.format.as_deref() {
            None => Format::Downbeat,
            Some("template") => Format::Template(Arc::new(self.template(&at, &w)?)),
            Some(f) => Format::parse(f).ok_or_else(|| {
                let shown: String = f.chars().take(40).collect();
                let known: Vec<&str> = Format::names().collect();
                self.err(
                    key("format"),
                    format!("unknown format {shown:?}; known: {}", known.join(", ")),
                )
            })?,
        };
        if !matches!(format, Format::Template(_)) {
            for (k, given) in [
                ("template", w.template.is_some()),
                ("content_type", w.content_type.is_some()),
                ("headers", w.headers.is_some()),
            ] {
                if given {
                    return Err(self.err(key(k), "is only for format = \"template\""));
                }
            }
        }
        let secret = match (&w.secret, &format) {
            (Some(s), Format::StandardWebhooks) => {
                check_whsec(s.expose()).map_err(|e| self.err(key("secret"), e))?;
                Some(s.clone())
            }
            (None, Format::StandardWebhooks) => {
                return Err(self.err(
                    key("secret"),
                    "is required for the standard-webhooks format: \"whsec_\" and 24 to 64 random bytes in base64 (openssl rand -base64 32)",
                ));
            }
            (Some(s), _) if s.expose().chars().count() < 16 => {
                return Err(self.err(
                    key("secret"),
                    "must be at least 16 characters (receivers verify signatures with it)",
                ));
            }
            (None, Format::Downbeat) => {
                return Err(self.err(
                    key("secret"),
                    "is required for the downbeat format (receivers verify signatures with it)",
                ));
            }
            (s, _) => s.clone(),
        };
        if w.token.as_ref().is_some_and(|t| !t.is_token()) {
            return Err(self.err(key("token"), "must be non-empty, without spaces"));
        }
        let channel = Channel::Http {
            url: w.url.clone(),
            format,
            secret,
            token: w.token.clone(),
        };
        self.destination(&at, w.common(), channel, services, 4, &[])
    }

    /// `format = "template"`'s keys: the body (compiled, and tried on a sample event),
    /// its content type, the headers.
    fn template(&self, at: &str, w: &RawWebhook) -> Result<WebhookTemplate, ConfigError> {
        let key = |k: &str| format!("{at}.{k}");
        let Some(source) = &w.template else {
            return Err(self.err(
                key("template"),
                "is required for format = \"template\": the body, as a MiniJinja template",
            ));
        };
        let content_type = w
            .content_type
            .clone()
            .unwrap_or_else(|| "application/json".to_owned());
        if content_type.is_empty()
            || !content_type.contains('/')
            || content_type.chars().any(|c| c.is_control())
        {
            return Err(self.err(
                key("content_type"),
                "must be a media type such as application/json",
            ));
        }
        let body = BodyTemplate::new(source.clone(), content_type)
            .map_err(|e| self.err(key("template"), e))?;
        let mut headers = Vec::new();
        for (name, value) in w.headers.iter().flatten() {
            let reserved = [
                "content-type",
                "content-length",
                "host",
                "transfer-encoding",
            ];
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
                || reserved.contains(&name.to_ascii_lowercase().as_str())
            {
                let shown: String = name.chars().take(40).collect();
                return Err(self.err(
                    format!("{at}.headers"),
                    format!("{shown:?} is not a header Downbeat lets a template set"),
                ));
            }
            if value.expose().chars().any(|c| c.is_control()) {
                return Err(self.err(
                    format!("{at}.headers.{name}"),
                    "must be one line without control characters",
                ));
            }
            headers.push((name.clone(), value.clone()));
        }
        Ok(WebhookTemplate { body, headers })
    }

    fn email(
        &self,
        i: usize,
        e: RawEmail,
        services: &[ServiceConfig],
    ) -> Result<Destination, ConfigError> {
        let at = format!("notify.email[{i}]");
        if e.to.is_empty() {
            return Err(self.err(format!("{at}.to"), "must name at least one address"));
        }
        for (j, a) in e.to.iter().enumerate() {
            if !is_email_address(a) {
                let shown: String = a.chars().take(60).collect();
                return Err(self.err(
                    format!("{at}.to[{j}]"),
                    format!("{shown:?} is not a mail address"),
                ));
            }
        }
        let channel = Channel::Email { to: e.to.clone() };
        self.destination(&at, e.common(), channel, services, 1, &[])
    }

    fn pagerduty(
        &self,
        i: usize,
        t: RawPagerDuty,
        services: &[ServiceConfig],
    ) -> Result<Destination, ConfigError> {
        let at = format!("notify.pagerduty[{i}]");
        let channel = Channel::PagerDuty {
            url: self.api_url(
                &at,
                "url",
                &t.url,
                "https://events.pagerduty.com/v2/enqueue",
            )?,
            routing_key: self.token(&at, "routing_key", &t.routing_key)?,
        };
        self.destination(&at, t.common(), channel, services, 4, &ALERTING)
    }

    fn opsgenie(
        &self,
        i: usize,
        t: RawOpsgenie,
        services: &[ServiceConfig],
    ) -> Result<Destination, ConfigError> {
        let at = format!("notify.opsgenie[{i}]");
        let channel = Channel::Opsgenie {
            url: self.api_url(&at, "url", &t.url, "https://api.opsgenie.com")?,
            api_key: self.token(&at, "api_key", &t.api_key)?,
        };
        self.destination(&at, t.common(), channel, services, 4, &ALERTING)
    }

    fn telegram(
        &self,
        i: usize,
        t: RawTelegram,
        services: &[ServiceConfig],
    ) -> Result<Destination, ConfigError> {
        let at = format!("notify.telegram[{i}]");
        let bot_token = self.token(&at, "bot_token", &t.bot_token)?;
        let valid = bot_token
            .expose()
            .split_once(':')
            .is_some_and(|(bot, key)| {
                !bot.is_empty() && bot.bytes().all(|b| b.is_ascii_digit()) && !key.is_empty()
            });
        if !valid {
            return Err(self.err(
                format!("{at}.bot_token"),
                "must be the token @BotFather gave, <digits>:<key>",
            ));
        }
        let chat = t.chat_id.trim();
        let numeric = chat.strip_prefix('-').unwrap_or(chat);
        let channel_name = chat.strip_prefix('@').is_some_and(|n| {
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if !(channel_name || !numeric.is_empty() && numeric.bytes().all(|b| b.is_ascii_digit())) {
            return Err(self.err(
                format!("{at}.chat_id"),
                "must be a chat's number (-100… for groups and channels) or @channelname",
            ));
        }
        let channel = Channel::Telegram {
            url: self.api_url(&at, "url", &t.url, "https://api.telegram.org")?,
            bot_token,
            chat_id: chat.to_owned(),
        };
        self.destination(&at, t.common(), channel, services, 4, &[])
    }

    fn matrix(
        &self,
        i: usize,
        t: RawMatrix,
        services: &[ServiceConfig],
    ) -> Result<Destination, ConfigError> {
        let at = format!("notify.matrix[{i}]");
        let homeserver = self.api_url(&at, "homeserver", &Some(t.homeserver.clone()), "")?;
        let room = t.room_id.trim();
        let valid = room
            .strip_prefix('!')
            .and_then(|r| r.split_once(':'))
            .is_some_and(|(local, server)| {
                !local.is_empty()
                    && !server.is_empty()
                    && !room.chars().any(|c| c.is_whitespace() || c.is_control())
            });
        if !valid {
            return Err(self.err(
                format!("{at}.room_id"),
                "must be a room id, !opaque:server (a room's settings, Advanced), not an #alias",
            ));
        }
        let channel = Channel::Matrix {
            homeserver,
            room_id: room.to_owned(),
            access_token: self.token(&at, "access_token", &t.access_token)?,
        };
        self.destination(&at, t.common(), channel, services, 4, &[])
    }

    fn pushover(
        &self,
        i: usize,
        t: RawPushover,
        services: &[ServiceConfig],
    ) -> Result<Destination, ConfigError> {
        let at = format!("notify.pushover[{i}]");
        let channel = Channel::Pushover {
            url: self.api_url(&at, "url", &t.url, "https://api.pushover.net")?,
            token: self.token(&at, "token", &t.token)?,
            user: self.token(&at, "user", &t.user)?,
        };
        self.destination(&at, t.common(), channel, services, 4, &[])
    }

    /// An API's address, `default` when not given; without a trailing slash.
    fn api_url(
        &self,
        at: &str,
        k: &str,
        url: &Option<String>,
        default: &str,
    ) -> Result<String, ConfigError> {
        let url = url.as_deref().unwrap_or(default);
        crate::load::check_http_url(url).map_err(|e| self.err(format!("{at}.{k}"), e))?;
        Ok(url.trim_end_matches('/').to_owned())
    }

    /// A credential, checked without ever being shown.
    fn token(&self, at: &str, k: &str, secret: &Secret) -> Result<Secret, ConfigError> {
        if secret.is_token() {
            Ok(secret.clone())
        } else {
            Err(self.err(
                format!("{at}.{k}"),
                "must be non-empty, at most 512 characters, without spaces, /, ?, # or %",
            ))
        }
    }

    /// What every destination has: its id, filters, `operators`, `concurrency` (default
    /// `concurrency`) and `per_minute`; `events` default to `default_events`.
    fn destination(
        &self,
        at: &str,
        c: Common<'_>,
        channel: Channel,
        services: &[ServiceConfig],
        concurrency: usize,
        default_events: &[&str],
    ) -> Result<Destination, ConfigError> {
        let id = Slug::parse(c.id).map_err(|e| self.err(format!("{at}.id"), e))?;
        let mut filter = self.filter(
            at,
            Filters {
                services: c.services,
                components: c.components,
                events: c.events,
            },
            services,
        )?;
        if filter.events.is_empty() {
            filter.events = default_events.iter().map(|e| (*e).to_owned()).collect();
        }
        Ok(Destination {
            id,
            channel,
            filter,
            operators: c.operators,
            concurrency: self.concurrency(
                &format!("{at}.concurrency"),
                c.concurrency,
                concurrency,
            )?,
            per_minute: self.per_minute(&format!("{at}.per_minute"), c.per_minute)?,
        })
    }

    fn concurrency(
        &self,
        key: &str,
        v: Option<usize>,
        default: usize,
    ) -> Result<usize, ConfigError> {
        match v {
            Some(0) => Err(self.err(key, "must be at least 1")),
            Some(n) if n > 256 => Err(self.err(key, "must be at most 256")),
            Some(n) => Ok(n),
            None => Ok(default),
        }
    }

    fn per_minute(&self, key: &str, v: Option<u32>) -> Result<Option<u32>, ConfigError> {
        match v {
            Some(0) => Err(self.err(key, "must be at least 1 (leave it out for no limit)")),
            v => Ok(v),
        }
    }

    fn filter(
        &self,
        at: &str,
        raw: Filters<'_>,
        services: &[ServiceConfig],
    ) -> Result<EventFilter, ConfigError> {
        let mut wanted: Vec<&ServiceConfig> = Vec::with_capacity(raw.services.len());
        for (j, s) in raw.services.iter().enumerate() {
            let svc = services
                .iter()
                .find(|x| x.id.as_str() == s)
                .ok_or_else(|| {
                    self.err(
                        format!("{at}.services[{j}]"),
                        format!("no [[service]] has id {s:?}"),
                    )
                })?;
            wanted.push(svc);
        }
        let pool: &[&ServiceConfig] = &wanted;
        let all: Vec<&ServiceConfig> = services.iter().collect();
        let pool = if pool.is_empty() { &all[..] } else { pool };
        let mut components = Vec::with_capacity(raw.components.len());
        for (j, c) in raw.components.iter().enumerate() {
            let found = pool
                .iter()
                .flat_map(|s| s.components.iter())
                .find(|x| x.id.as_str() == c)
                .ok_or_else(|| {
                    self.err(
                        format!("{at}.components[{j}]"),
                        format!("no component {c:?} in the destination's services"),
                    )
                })?;
            components.push(found.id.clone());
        }
        for (j, e) in raw.events.iter().enumerate() {
            let known = EVENT_KINDS
                .iter()
                .any(|k| k == e || k.split('.').next() == Some(e.as_str()));
            if !known {
                return Err(self.err(
                    format!("{at}.events[{j}]"),
                    format!(
                        "unknown event {e:?}; known: {} (or a family such as \"incident\")",
                        EVENT_KINDS.join(", ")
                    ),
                ));
            }
        }
        Ok(EventFilter {
            services: wanted.iter().map(|s| s.id.clone()).collect(),
            components,
            events: raw.events.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::parse_str;

    const SVC: &str = "[[service]]\nid = \"m\"\nname = \"M\"\n[[service.component]]\nid = \"login\"\nname = \"Login\"\n";

    fn err(text: &str) -> String {
        parse_str(text, "test.toml").unwrap_err().to_string()
    }

    #[test]
    fn chat_push_and_email_destinations_are_parsed() {
        let c = parse_str(
            &format!(
                "{SVC}[notify]\npublic_url = \"https://status.m.example\"\nretry_after = \"2s\"\ncert_expiry_days = [7, 30]\n\
                 [notify.smtp]\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\nfrom = \"Status <s@m.example>\"\n\
                 [[notify.webhook]]\nid = \"chat\"\nurl = \"https://hooks.example/x\"\nformat = \"slack\"\ncomponents = [\"login\"]\nper_minute = 20\n\
                 [[notify.webhook]]\nid = \"push\"\nurl = \"https://push.example/topic\"\nformat = \"ntfy\"\ntoken = \"tk_1\"\noperators = true\n\
                 [[notify.email]]\nid = \"oncall\"\nto = [\"oncall@m.example\"]\nevents = [\"incident\"]\noperators = true\n"
            ),
            "t",
        )
        .unwrap();
        let n = &c.notify;
        assert_eq!(n.retry_after.as_secs(), 2);
        assert_eq!(n.cert_expiry_days, [30, 7], "largest first");
        assert!(n.subscribers.email, "on by default with a relay");
        assert!(!n.subscribers.webhook);
        assert_eq!(n.subscribers.webhook_timeout.as_secs(), 5);
        let chat = n.destination("chat").unwrap();
        assert_eq!(chat.per_minute, Some(20));
        assert!(chat.wants("incident.created", "m", &["login"]));
        assert!(
            chat.wants("crowd.verdict", "m", &[] as &[&str]),
            "service-wide"
        );
        assert!(!chat.wants("incident.created", "m", &["search"]));
        assert!(
            !chat.wants("incident.draft", "m", &[] as &[&str]),
            "not an operators' channel"
        );
        let push = n.destination("push").unwrap();
        assert!(push.wants("incident.draft", "m", &[] as &[&str]));
        let mail = n.destination("oncall").unwrap();
        assert_eq!((mail.kind(), mail.concurrency), ("email", 1));
        assert!(mail.wants("incident.draft", "m", &[] as &[&str]));
        assert!(!mail.wants("monitor.down", "m", &[] as &[&str]));
        assert!(!format!("{c:?}").contains("tk_1"), "tokens never print");
    }

    #[test]
    fn bad_destinations_and_relays_name_their_key() {
        let bare_relay =
            "[notify.smtp]\nhost = \"127.0.0.1\"\ntls = \"none\"\nfrom = \"s@m.example\"\n";
        let relay = format!("[notify]\npublic_url = \"https://s.m.example\"\n{bare_relay}");
        let cases: Vec<(String, &[&str])> = vec![
            (
                format!(
                    "{SVC}[[notify.webhook]]\nid = \"x\"\nurl = \"https://h/\"\nformat = \"irc\"\n"
                ),
                &["notify.webhook[0].format", "irc", "slack"],
            ),
            (
                format!("{SVC}[[notify.webhook]]\nid = \"x\"\nurl = \"https://h/\"\n"),
                &["notify.webhook[0].secret", "required"],
            ),
            (
                format!(
                    "{SVC}[[notify.webhook]]\nid = \"x\"\nurl = \"https://h/\"\nformat = \"slack\"\ncomponents = [\"nope\"]\n"
                ),
                &["notify.webhook[0].components[0]", "nope"],
            ),
            (
                format!(
                    "{SVC}[[notify.webhook]]\nid = \"x\"\nurl = \"https://h/\"\nformat = \"slack\"\nper_minute = 0\n"
                ),
                &["notify.webhook[0].per_minute"],
            ),
            (
                format!("{SVC}[[notify.email]]\nid = \"x\"\nto = [\"a@b.example\"]\n"),
                &["notify.email[0]", "[notify.smtp]"],
            ),
            (
                format!("{SVC}{relay}[[notify.email]]\nid = \"x\"\nto = [\"not an address\"]\n"),
                &["notify.email[0].to[0]", "not a mail address"],
            ),
            (
                format!("{SVC}{relay}[[notify.email]]\nid = \"x\"\nto = []\n"),
                &["notify.email[0].to"],
            ),
            (
                format!(
                    "{SVC}[notify.smtp]\nhost = \"mail.example\"\ntls = \"none\"\nfrom = \"s@m.example\"\n"
                ),
                &["notify.smtp.tls", "localhost"],
            ),
            (
                format!(
                    "{SVC}[notify.smtp]\nhost = \"mail.example\"\ntls = \"ssl\"\nfrom = \"s@m.example\"\n"
                ),
                &["notify.smtp.tls", "starttls, implicit or none"],
            ),
            (
                format!("{SVC}[notify.smtp]\nhost = \"mail.example\"\nfrom = \"nobody\"\n"),
                &["notify.smtp.from"],
            ),
            (
                format!(
                    "{SVC}[notify.smtp]\nhost = \"mail.example\"\nfrom = \"s@m.example\"\nusername = \"u\"\n"
                ),
                &["notify.smtp.password", "together"],
            ),
            (
                format!("{SVC}[notify.subscribers]\nemail = true\n"),
                &["notify.subscribers.email", "[notify.smtp]"],
            ),
            (
                format!("{SVC}{bare_relay}"),
                &["notify.public_url", "email = false"],
            ),
            (
                format!(
                    "{SVC}[[notify.webhook]]\nid = \"x\"\nurl = \"https://h/\"\nformat = \"template\"\ntemplate = \"{{{{ nope\"\n"
                ),
                &["notify.webhook[0].template", "syntax error"],
            ),
            (
                format!(
                    "{SVC}[[notify.webhook]]\nid = \"x\"\nurl = \"https://h/\"\nformat = \"slack\"\ntemplate = \"x\"\n"
                ),
                &["notify.webhook[0].template", "only for format"],
            ),
            (
                format!(
                    "{SVC}[[notify.webhook]]\nid = \"x\"\nurl = \"https://h/\"\nformat = \"standard-webhooks\"\nsecret = \"0123456789abcdef0123\"\n"
                ),
                &["notify.webhook[0].secret", "whsec_"],
            ),
            (
                format!("{SVC}[[notify.pagerduty]]\nid = \"pd\"\nrouting_key = \"has space\"\n"),
                &["notify.pagerduty[0].routing_key"],
            ),
            (
                format!(
                    "{SVC}[[notify.telegram]]\nid = \"tg\"\nbot_token = \"nocolon-SECRET\"\nchat_id = \"1\"\n"
                ),
                &["notify.telegram[0].bot_token", "<digits>:<key>"],
            ),
            (
                format!(
                    "{SVC}[[notify.telegram]]\nid = \"tg\"\nbot_token = \"1:k\"\nchat_id = \"me\"\n"
                ),
                &["notify.telegram[0].chat_id"],
            ),
            (
                format!(
                    "{SVC}[[notify.matrix]]\nid = \"mx\"\nhomeserver = \"https://m.example\"\nroom_id = \"#ops:m.example\"\naccess_token = \"t\"\n"
                ),
                &["notify.matrix[0].room_id", "not an #alias"],
            ),
            (
                format!(
                    "{SVC}[[notify.pushover]]\nid = \"po\"\ntoken = \"t\"\nuser = \"u\"\nurl = \"ftp://x\"\n"
                ),
                &["notify.pushover[0].url"],
            ),
            (
                format!(
                    "{SVC}[[notify.webhook]]\nid = \"x\"\nurl = \"https://h/\"\nformat = \"slack\"\n[[notify.opsgenie]]\nid = \"x\"\napi_key = \"k\"\n"
                ),
                &["notify.opsgenie[0].id", "duplicate"],
            ),
            (
                format!("{SVC}[notify]\ncert_expiry_days = [0]\n"),
                &["notify.cert_expiry_days"],
            ),
            (
                format!("{SVC}[notify]\nflap_changes = 1\n"),
                &["notify.flap_changes"],
            ),
            (
                format!("{SVC}[notify]\nretry_after = \"0s\"\n"),
                &["notify.retry_after"],
            ),
            (
                format!(
                    "{SVC}[notify]\ntimeout = \"10s\"\n[notify.subscribers]\nwebhook_timeout = \"11s\"\n"
                ),
                &["notify.subscribers.webhook_timeout", "maximum of 10s"],
            ),
        ];
        for (text, wanted) in &cases {
            let e = err(text);
            for w in *wanted {
                assert!(e.contains(w), "{text:?}: {e:?} lacks {w:?}");
            }
            assert!(!e.contains("SECRET"), "credentials never show: {e}");
        }
    }

    #[test]
    fn mail_addresses_are_checked_for_typos() {
        for ok in [
            "a@b.example",
            "first.last+tag@mail.melodia.example",
            "x@localhost",
        ] {
            assert!(super::is_email_address(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "@b.example",
            "a@",
            "a b@c.example",
            "a@b..example",
            "a@b.example\r\nBcc: x@y",
            "<a@b.example>",
            "a@-b_c.example/",
        ] {
            assert!(!super::is_email_address(bad), "{bad:?}");
        }
    }
}
