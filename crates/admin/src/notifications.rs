//! `GET /admin/notifications`: the outbox as operators need it during an incident — every
//! destination with its counts, and the latest deliveries with their state, attempts, last
//! answer and error, newest first; `?state=failed` (or `pending`, `delivered`) narrows it.
//! Subscribers appear by number, never by address.

use crate::Admin;
use crate::error::AdminError;
use crate::guard::Ctx;
use crate::views::{Layout, html, when};
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use downbeat_store::{DeliveryRow, DeliveryState, destination_subscriber};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Deliveries read for the page.
const LIMIT: u32 = 500;
/// Deliveries listed.
const SHOWN: usize = 200;

pub struct DestinationLine {
    pub name: String,
    pub kind: String,
    pub pending: usize,
    pub delivered: usize,
    pub failed: usize,
}

pub struct DeliveryLine {
    pub event: String,
    pub destination: String,
    pub state: &'static str,
    pub attempts: i64,
    pub last: String,
    pub answer: String,
    pub error: String,
    pub created: String,
    pub next: String,
}

#[derive(Template)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    pub layout: Layout,
    pub destinations: Vec<DestinationLine>,
    pub deliveries: Vec<DeliveryLine>,
    pub filter: &'static str,
}

fn at(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(when)
        .unwrap_or_default()
}

fn destination_name(d: &str) -> String {
    match destination_subscriber(d) {
        Some(id) => format!("subscriber #{id}"),
        None => d.to_owned(),
    }
}

pub async fn page(
    State(admin): State<Arc<Admin>>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, AdminError> {
    let s = ctx.user()?;
    let filter = match query.as_deref().unwrap_or("") {
        "" => None,
        q => {
            let state = q.strip_prefix("state=").and_then(DeliveryState::parse);
            Some(state.ok_or_else(|| {
                AdminError::BadRequest(
                    "Filter by ?state=pending, ?state=delivered or ?state=failed.".into(),
                )
            })?)
        }
    };
    let rows: Vec<DeliveryRow> = admin.app.store.deliveries(None, LIMIT).await?;
    let notify = &admin.app.config.load().notify;
    let mut counts: BTreeMap<String, (usize, usize, usize)> = notify
        .destinations
        .iter()
        .map(|d| (d.id.to_string(), (0, 0, 0)))
        .collect();
    for r in &rows {
        let key = if destination_subscriber(&r.destination).is_some() {
            "subscribers".to_owned()
        } else {
            r.destination.clone()
        };
        let c = counts.entry(key).or_default();
        match r.state {
            DeliveryState::Pending => c.0 += 1,
            DeliveryState::Delivered => c.1 += 1,
            DeliveryState::Failed => c.2 += 1,
        }
    }
    let destinations = counts
        .into_iter()
        .map(|(name, (pending, delivered, failed))| DestinationLine {
            kind: match notify.destination(&name) {
                Some(d) => d.kind(),
                None if name == "subscribers" => "public subscribers",
                None => "no longer configured",
            }
            .to_owned(),
            name,
            pending,
            delivered,
            failed,
        })
        .collect();
    let deliveries = rows
        .iter()
        .filter(|r| filter.is_none_or(|f| r.state == f))
        .take(SHOWN)
        .map(|r| DeliveryLine {
            event: r.event_id.clone(),
            destination: destination_name(&r.destination),
            state: r.state.as_str(),
            attempts: r.attempts,
            last: r.last_attempt_ms.map(at).unwrap_or_default(),
            answer: r.last_status.map(|s| s.to_string()).unwrap_or_default(),
            error: r.last_error.clone().unwrap_or_default(),
            created: at(r.created_ms),
            next: if r.state == DeliveryState::Pending {
                at(r.next_attempt_ms)
            } else {
                String::new()
            },
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        &NotificationsPage {
            layout: Layout::of("Notifications", s),
            destinations,
            deliveries,
            filter: filter.map_or("all", DeliveryState::as_str),
        },
    ))
}
