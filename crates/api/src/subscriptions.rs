//! Public subscriptions, without an account: subscribe a mail address (double opt-in) or a
//! webhook endpoint to a service's incidents and maintenance; read or cancel a subscription
//! with its token. The rules live in [`crate::notify::subscribers`], shared with the pages.

use super::ApiError;
use super::body::json_request;
use super::reports::service_of;
use crate::app::App;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use downbeat_intake::client_ip;
use downbeat_notify::subscribers::{self, WebhookSubscription};
use downbeat_store::SubscriberRow;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa::ToSchema;

const BODY_LIMIT: usize = 8 * 1024;

/// A subscription request: exactly one of `email` and `webhook`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// A mail address: a confirmation mail is sent; nothing else until it is confirmed.
    #[serde(default)]
    pub email: Option<String>,
    /// An `https://` endpoint that receives signed JSON events (when the operator allows
    /// webhook subscriptions).
    #[serde(default)]
    pub webhook: Option<String>,
    /// Only incidents and maintenance naming these components (or no component); empty
    /// or absent means the whole service.
    #[serde(default)]
    pub components: Vec<String>,
}

/// The answer to an email subscription: the same whether or not the address was known.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pending {
    /// `pending`: waiting for the confirmation link.
    pub status: &'static str,
    pub message: String,
}

/// A subscription as its token holder sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Subscription {
    pub service: String,
    /// `email` or `webhook`.
    pub kind: &'static str,
    /// The mail address or URL.
    pub address: String,
    /// Empty means the whole service.
    pub components: Vec<String>,
    pub confirmed: bool,
}

impl From<SubscriberRow> for Subscription {
    fn from(s: SubscriberRow) -> Self {
        Subscription {
            service: s.service,
            kind: s.kind.as_str(),
            address: s.address,
            components: s.components,
            confirmed: s.confirmed_ms.is_some(),
        }
    }
}

/// Subscribe to a service's incidents and maintenance.
#[utoipa::path(post, path = "/api/v1/services/{service}/subscriptions", tag = "subscriptions",
    params(("service" = String, Path, description = "Service id")),
    request_body = NewSubscription,
    responses(
        (status = 201, description = "A webhook subscription: its token and signing secret, shown once", body = WebhookSubscription),
        (status = 202, description = "An email subscription: a confirmation mail is on its way", body = Pending),
        (status = 400, description = "Malformed body"),
        (status = 404, description = "Unknown service, or this kind of subscription is not offered"),
        (status = 409, description = "This webhook URL is already subscribed"),
        (status = 413, description = "Body too large"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "A field's value is not acceptable (the field is named)"),
        (status = 429, description = "Too many requests from this address; retry later"),
    ))]
pub async fn subscribe(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let service = service_of(&app, &path)?;
    let (parts, body) = req.into_parts();
    let ip = client_ip(
        peer.ip(),
        &parts.headers,
        &app.config.load().server.trusted_proxies,
    );
    app.notifier.subscribe_limiter.check(ip)?;
    let new: NewSubscription = json_request(
        &parts.headers,
        body,
        BODY_LIMIT,
        r#"{"email": "you@example.com", "components": ["login"]}"#,
    )
    .await?;
    match (new.email, new.webhook) {
        (Some(email), None) => {
            subscribers::subscribe_email(
                &app.notifier,
                service.id.as_str(),
                &email,
                &new.components,
            )
            .await?;
            Ok((
                StatusCode::ACCEPTED,
                Json(Pending {
                    status: "pending",
                    message: "Check your mail: the subscription starts when you confirm it.".into(),
                }),
            )
                .into_response())
        }
        (None, Some(url)) => {
            let sub = subscribers::subscribe_webhook(
                &app.notifier,
                service.id.as_str(),
                &url,
                &new.components,
            )
            .await?;
            Ok((StatusCode::CREATED, Json(sub)).into_response())
        }
        _ => Err(ApiError::InvalidField {
            field: "email",
            message: "give exactly one of email and webhook".into(),
        }),
    }
}

fn token_of(path: &Result<Path<String>, PathRejection>) -> &str {
    match path {
        Ok(Path(t)) => t.as_str(),
        Err(_) => "",
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound(
        "no subscription has this token: it expired, or the subscription was cancelled".into(),
    )
}

/// A subscription, by its token.
#[utoipa::path(get, path = "/api/v1/subscriptions/{token}", tag = "subscriptions", operation_id = "get_subscription",
    params(("token" = String, Path, description = "The subscription's token")),
    responses(
        (status = 200, description = "The subscription", body = Subscription),
        (status = 404, description = "No subscription has this token"),
    ))]
pub async fn get(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Subscription>, ApiError> {
    let s = subscribers::find(&app.notifier, token_of(&path))
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(s.into()))
}

/// Cancel a subscription (its pending messages are dropped).
#[utoipa::path(delete, path = "/api/v1/subscriptions/{token}", tag = "subscriptions",
    params(("token" = String, Path, description = "The subscription's token")),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 404, description = "No subscription has this token"),
    ))]
pub async fn delete(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let token = token_of(&path);
    if !subscribers::plausible_token(token) {
        return Err(not_found());
    }
    subscribers::unsubscribe(&app.notifier, token).await?;
    Ok(StatusCode::NO_CONTENT)
}
