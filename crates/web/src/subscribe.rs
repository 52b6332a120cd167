//! Subscribing by mail from the service page, and managing a subscription from the link in
//! a mail — plain forms, no JavaScript, no account, no cookie.
//!
//! - `POST /s/{service}/subscribe` — the form (email, optional components); answers "check
//!   your mail", or the form again with the error and the API's 4xx status.
//! - `GET /subscriptions/{token}` — what the subscription covers, with Confirm (while
//!   pending), the components, and Unsubscribe. A GET never changes anything (mail
//!   scanners open links).
//! - `POST /subscriptions/{token}/confirm`, `.../components`, `.../unsubscribe` — the
//!   changes. `unsubscribe` is also the RFC 8058 one-click target (`List-Unsubscribe-Post:
//!   List-Unsubscribe=One-Click`): it needs no cookie and no CSRF token, since the
//!   unguessable token in the path is the authority.
//!
//! Every answer is personal: `Cache-Control: no-store`, and `Referrer-Policy: no-referrer`
//! so the token in the address never leaves in a Referer header.

use crate::handlers::not_found;
use crate::state::Web;
use crate::views::Layout;
use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::response::IntoResponse;
use downbeat_api::ApiError;
use downbeat_config::ServiceConfig;
use downbeat_intake::client_ip;
use downbeat_notify::subscribers;
use downbeat_store::{SubscriberKind, SubscriberRow};
use std::net::SocketAddr;
use std::sync::Arc;

const FORM_LIMIT: usize = 8 * 1024;

/// A component to tick.
pub struct ComponentChoice {
    pub id: String,
    pub name: String,
    pub checked: bool,
}

fn choices(service: &ServiceConfig, chosen: &[String]) -> Vec<ComponentChoice> {
    service
        .components
        .iter()
        .map(|c| ComponentChoice {
            id: c.id.to_string(),
            name: c.name.clone(),
            checked: chosen.iter().any(|x| x == c.id.as_str()),
        })
        .collect()
}

/// The subscribe form's view data.
pub struct SubscribeForm {
    pub action: String,
    pub name: String,
    pub email: String,
    pub components: Vec<ComponentChoice>,
    pub error: Option<String>,
}

impl SubscribeForm {
    pub fn new(service: &ServiceConfig) -> Self {
        SubscribeForm {
            action: format!("/s/{}/subscribe", service.id),
            name: service.name.clone(),
            email: String::new(),
            components: choices(service, &[]),
            error: None,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "subscribe.html")]
struct SubscribePage<'a> {
    layout: Layout<'a>,
    heading: String,
    id: &'a str,
    sub: SubscribeForm,
    done: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "subscription.html")]
struct SubscriptionPage<'a> {
    layout: Layout<'a>,
    heading: String,
    id: String,
    name: String,
    address: String,
    scope: String,
    confirmed: bool,
    base: String,
    components: Vec<ComponentChoice>,
    notice: Option<String>,
    error: Option<String>,
    gone: bool,
}

fn personal(status: StatusCode, page: impl IntoResponse) -> Response<Body> {
    let mut res = (status, page).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    res
}

/// The status an error gets on a page: the API's, but never a 500.
fn page_status(e: &ApiError) -> StatusCode {
    match e.status() {
        s if s.is_server_error() => StatusCode::SERVICE_UNAVAILABLE,
        s => s,
    }
}

fn words(e: &ApiError) -> String {
    match e {
        ApiError::RateLimited { retry_after_s } => format!(
            "You have asked many times in a short while. Please try again in {} minutes.",
            retry_after_s.div_ceil(60)
        ),
        ApiError::Unavailable(_) => {
            "This cannot be saved right now. Please try again in a minute.".into()
        }
        ApiError::InvalidField { field, message } => {
            let what = match *field {
                "email" => "Mail address",
                "components" => "Parts",
                other => other,
            };
            format!("{what}: {message}")
        }
        other => other.to_string(),
    }
}

/// Reads a small urlencoded form body; junk is a 400 named as such.
async fn form_pairs(body: Body) -> Result<Vec<(String, String)>, ApiError> {
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| ApiError::TooLarge { limit: FORM_LIMIT })?;
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .map_err(|_| ApiError::BadRequest("The form could not be read; please try again.".into()))
}

/// `POST /s/{service}/subscribe`.
pub async fn submit(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let Some(i) = web.service_in(parts.uri.path()) else {
        return not_found(&web, "There is no such service.");
    };
    let model_i = web.model(i);
    let service = &model_i.service;
    if !web.app.config.load().notify.subscribers.email {
        return not_found(&web, "This status page offers no subscriptions by mail.");
    }
    let mut form = SubscribeForm::new(service);
    let page = |form: SubscribeForm, done: Option<String>| SubscribePage {
        layout: Layout {
            title: format!("Subscribe · {}", service.name),
            description: format!("Get {}'s status updates by mail.", service.name),
            css: &web.css_path,
        },
        heading: format!("{} status updates by mail", service.name),
        id: service.id.as_str(),
        sub: form,
        done,
    };
    let pairs = match form_pairs(body).await {
        Ok(p) => p,
        Err(e) => {
            form.error = Some(words(&e));
            return personal(page_status(&e), page(form, None));
        }
    };
    let mut email = String::new();
    let mut chosen = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "email" => email = v,
            "component" => chosen.push(v),
            _ => {}
        }
    }
    form.email = email.chars().take(254).collect();
    form.components = choices(service, &chosen);
    let ip = client_ip(
        peer.ip(),
        &parts.headers,
        &web.app.config.load().server.trusted_proxies,
    );
    let result = match web.app.notifier.subscribe_limiter.check(ip) {
        Ok(()) => {
            subscribers::subscribe_email(&web.app.notifier, service.id.as_str(), &email, &chosen)
                .await
        }
        Err(e) => Err(e),
    }
    .map_err(ApiError::from);
    match result {
        Ok(()) => personal(
            StatusCode::OK,
            page(
                form,
                Some("Check your mail: we sent you a link to confirm.".into()),
            ),
        ),
        Err(e) => {
            form.error = Some(words(&e));
            let mut res = personal(page_status(&e), page(form, None));
            if let ApiError::RateLimited { retry_after_s } = e {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
            }
            res
        }
    }
}

fn manage_page<'a>(
    web: &'a Web,
    token: &str,
    s: &SubscriberRow,
    notice: Option<String>,
    error: Option<String>,
) -> SubscriptionPage<'a> {
    let svc = web.app.config.service(&s.service);
    let svc = svc.as_deref();
    let name = svc.map_or_else(|| s.service.clone(), |x| x.name.clone());
    let scope = match svc {
        Some(svc) if !s.components.is_empty() => s
            .components
            .iter()
            .map(|c| {
                svc.components
                    .iter()
                    .find(|x| x.id.as_str() == c)
                    .map_or_else(|| c.clone(), |x| x.name.clone())
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => format!("all of {name}"),
    };
    SubscriptionPage {
        layout: Layout {
            title: format!("Your subscription · {name}"),
            description: format!("Manage your {name} status updates."),
            css: &web.css_path,
        },
        heading: format!("{name} status updates"),
        id: s.service.clone(),
        address: s.address.clone(),
        scope,
        confirmed: s.confirmed_ms.is_some(),
        base: format!("/subscriptions/{token}"),
        components: svc.map_or_else(Vec::new, |svc| choices(svc, &s.components)),
        notice,
        error,
        gone: false,
        name,
    }
}

fn gone_page(
    web: &Web,
    status: StatusCode,
    heading: &str,
    message: String,
    service: Option<(&str, &str)>,
) -> Response<Body> {
    personal(
        status,
        SubscriptionPage {
            layout: Layout {
                title: format!("{heading} · Downbeat"),
                description: heading.to_owned(),
                css: &web.css_path,
            },
            heading: heading.to_owned(),
            id: service.map_or_else(String::new, |s| s.0.to_owned()),
            name: service.map_or_else(|| "all services".into(), |s| s.1.to_owned()),
            address: String::new(),
            scope: String::new(),
            confirmed: false,
            base: String::new(),
            components: Vec::new(),
            notice: Some(message),
            error: None,
            gone: true,
        },
    )
}

fn link_expired(web: &Web) -> Response<Body> {
    gone_page(
        web,
        StatusCode::NOT_FOUND,
        "This link no longer works",
        "The subscription was cancelled, or the link expired. To subscribe again, use the form on the service's page.".into(),
        None,
    )
}

fn failed(web: &Web, e: &ApiError) -> Response<Body> {
    match e {
        ApiError::NotFound(_) => link_expired(web),
        other => gone_page(
            web,
            page_status(other),
            "Something went wrong",
            words(other),
            None,
        ),
    }
}

/// `GET /subscriptions/{token}`.
pub async fn manage(State(web): State<Arc<Web>>, Path(token): Path<String>) -> Response<Body> {
    match subscribers::find(&web.app.notifier, &token)
        .await
        .map_err(ApiError::from)
    {
        Ok(Some(s)) => {
            let notice = s.confirmed_ms.is_none().then(|| match s.kind {
                SubscriberKind::Email => "Press Confirm to start receiving updates.".to_owned(),
                SubscriberKind::Webhook => {
                    "Waiting for the endpoint to echo the verification challenge.".to_owned()
                }
            });
            personal(StatusCode::OK, manage_page(&web, &token, &s, notice, None))
        }
        Ok(None) => link_expired(&web),
        Err(e) => failed(&web, &e),
    }
}

/// `POST /subscriptions/{token}/confirm`.
pub async fn confirm(State(web): State<Arc<Web>>, Path(token): Path<String>) -> Response<Body> {
    match subscribers::confirm(&web.app.notifier, &token)
        .await
        .map_err(ApiError::from)
    {
        Ok(s) => {
            let notice = Some("Confirmed: you will hear of incidents and maintenance.".into());
            personal(StatusCode::OK, manage_page(&web, &token, &s, notice, None))
        }
        Err(e) => failed(&web, &e),
    }
}

/// `POST /subscriptions/{token}/components`.
pub async fn components(
    State(web): State<Arc<Web>>,
    Path(token): Path<String>,
    body: Body,
) -> Response<Body> {
    let chosen: Vec<String> = match form_pairs(body).await {
        Ok(p) => p
            .into_iter()
            .filter(|(k, _)| k == "component")
            .map(|(_, v)| v)
            .collect(),
        Err(e) => return failed(&web, &e),
    };
    match subscribers::set_components(&web.app.notifier, &token, &chosen)
        .await
        .map_err(ApiError::from)
    {
        Ok(s) => personal(
            StatusCode::OK,
            manage_page(&web, &token, &s, Some("Saved.".into()), None),
        ),
        Err(e @ ApiError::InvalidField { .. }) => {
            match subscribers::find(&web.app.notifier, &token)
                .await
                .map_err(ApiError::from)
            {
                Ok(Some(s)) => personal(
                    page_status(&e),
                    manage_page(&web, &token, &s, None, Some(words(&e))),
                ),
                _ => link_expired(&web),
            }
        }
        Err(e) => failed(&web, &e),
    }
}

/// `POST /subscriptions/{token}/unsubscribe`: the button, and RFC 8058 one-click.
pub async fn unsubscribe(State(web): State<Arc<Web>>, Path(token): Path<String>) -> Response<Body> {
    match subscribers::unsubscribe(&web.app.notifier, &token)
        .await
        .map_err(ApiError::from)
    {
        Ok(s) => {
            let name = web
                .app
                .config
                .service(&s.service)
                .map_or_else(|| s.service.clone(), |x| x.name.clone());
            gone_page(
                &web,
                StatusCode::OK,
                "Unsubscribed",
                format!("{} will get no more {name} status updates.", s.address),
                Some((&s.service, &name)),
            )
        }
        Err(e) => failed(&web, &e),
    }
}
