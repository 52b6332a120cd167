//! `POST /s/{service}/report`: the "I have a problem" form, and the thank-you view.
//!
//! The form posts plain `application/x-www-form-urlencoded` fields (problem, platform,
//! country, city) and its form token. Platform may say [`AUTO`] and country may be empty:
//! the cached page is the same for everyone, so the guess from this request's User-Agent,
//! address (with the operator's GeoIP database) and Accept-Language is made here. A typed
//! country name is turned into its code.
//!
//! Before anything is read, a post that another site's page made a visitor's browser send
//! is refused ([`crate::origin`]), then the rate limit is checked; then the form must carry
//! a current form token of this service ([`downbeat_intake::form_token`]: in the cached
//! page, no cookie, no JavaScript). Both refusals are 403 with the form again and why.
//! The report then takes the JSON API's path (validation, dedupe, durable commit). A bad
//! form comes back with the error and the visitor's choices, with the API's 4xx status; the
//! answer is never a 500.

use crate::handlers::not_found;
use crate::state::Web;
use crate::views::{FormPage, FormView, Layout, ThanksPage};
use crate::{origin, visitor};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use axum::response::IntoResponse;
use downbeat_api::ApiError;
use downbeat_api::reports::accept_form;
use downbeat_domain::{CountryCode, Platform};
use downbeat_intake::{FormTokenError, client_ip};
use std::net::SocketAddr;
use std::sync::Arc;

/// The form value meaning "guess from my browser".
pub const AUTO: &str = "auto";
/// The form's field holding its token.
pub const TOKEN_FIELD: &str = "form_token";
const HOUR_MS: i64 = 3_600_000;

pub async fn submit(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let Some(i) = web.service_in(parts.uri.path()) else {
        return not_found(&web, "There is no such service.");
    };
    let model = web.model(i);
    let model_i = web.model(i);
    let service = &model_i.service;
    let mut form = FormView::new(&model);
    let config = web.app.config.get();
    let trusted = &config.server.trusted_proxies;
    if let Err(foreign) = origin::check(peer.ip(), &parts.headers, trusted) {
        tracing::info!(service = %service.id, refused = ?foreign, "a report form posted from another site");
        return form_error(&web, i, form, &ApiError::Forbidden(foreign.to_string()));
    }
    let ip = client_ip(peer.ip(), &parts.headers, trusted);
    if let Err(e) = web.app.intake.check_rate(ip) {
        return form_error(&web, i, form, &ApiError::from(e));
    }
    let limit = web.app.config.load().reports.max_body_bytes;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        let e = ApiError::TooLarge { limit };
        return form_error(&web, i, form, &e);
    };
    let pairs = match form_pairs(
        &bytes,
        &["problem", "platform", "country", "city", "message"],
    ) {
        Ok(pairs) => pairs,
        Err(field) => {
            let e = ApiError::InvalidField {
                field,
                message: "is not valid UTF-8 text".into(),
            };
            return form_error(&web, i, form, &e);
        }
    };
    // Keep what the visitor chose, to show it again if something is wrong; resolve "auto".
    let mut fields: Vec<(&str, String)> = Vec::with_capacity(4);
    let mut token = None;
    for (k, v) in &pairs {
        match k.as_str() {
            TOKEN_FIELD => token = Some(v.as_str()),
            "problem" => fields.push(("problem", v.clone())),
            "platform" => {
                form.platform = v.clone();
                let v = if v == AUTO {
                    visitor::platform(&parts.headers)
                        .map_or("", Platform::as_str)
                        .to_owned()
                } else {
                    v.clone()
                };
                fields.push(("platform", v));
            }
            "country" => {
                form.country = v.chars().take(60).collect();
                let geo = || {
                    let ip = client_ip(peer.ip(), &parts.headers, trusted);
                    web.geoip.as_ref().and_then(|g| g.country(ip))
                };
                match country_field(v, &parts.headers, geo) {
                    Ok(code) => fields.push(("country", code.to_owned())),
                    Err(e) => return form_error(&web, i, form, &e),
                }
            }
            "city" => {
                form.city = v.chars().take(200).collect();
                fields.push(("city", v.clone()));
            }
            "message" => {
                form.message = v.chars().take(300).collect();
                fields.push(("message", v.clone()));
            }
            // Nothing else is on the form; the API would refuse unknown fields.
            _ => {}
        }
    }
    let now_ms = web.app.clock.now().as_millisecond();
    if let Err(e) = web
        .app
        .intake
        .salts
        .check_form_token(service.id.as_str(), token, now_ms)
        .await
    {
        return form_error(&web, i, form, &token_refused(e));
    }
    let Ok(encoded) = serde_urlencoded::to_string(&fields) else {
        let e = ApiError::BadRequest("The form could not be read; please try again.".into());
        return form_error(&web, i, form, &e);
    };
    let accepted = match accept_form(&web.app, service, ip, encoded.as_bytes()).await {
        Ok(a) => a,
        Err(e) => return form_error(&web, i, form, &e),
    };

    // The count comes from the store, after the commit: it includes this report if counted.
    let now_ms = web.app.clock.now().as_millisecond();
    let same = web
        .app
        .store
        .summary(service.id.as_str(), now_ms - HOUR_MS)
        .await
        .ok()
        .map(|s| s.by_problem.get(&*accepted.problem).copied().unwrap_or(0));
    let value = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| *f == k)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let problem_label: String = service
        .offers(&accepted.problem)
        .map_or_else(|| accepted.problem.to_string(), |p| p.label.clone());
    let not_given = || "not given".to_owned();
    let recorded: Vec<(&'static str, String)> = vec![
        ("Problem", problem_label.clone()),
        (
            "Device",
            value("platform")
                .and_then(|p| p.to_ascii_lowercase().parse::<Platform>().ok())
                .map_or_else(not_given, |p| p.label().to_owned()),
        ),
        (
            "Country",
            value("country")
                .and_then(|c| CountryCode::parse(c).ok())
                .map_or_else(not_given, |c| c.name().to_owned()),
        ),
        ("City", value("city").map_or_else(not_given, str::to_owned)),
        (
            "What the error says",
            value("message").map_or_else(not_given, str::to_owned),
        ),
    ];
    let page = ThanksPage {
        layout: Layout {
            title: format!("Thank you · {}", service.name),
            description: format!("Your report of a problem with {}.", service.name),
            css: &web.css_path,
        },
        id: service.id.as_str(),
        name: &service.name,
        message: accepted.message.to_string(),
        problem: problem_label,
        same,
        counted: accepted.counted,
        recorded,
    };
    let mut res = page.into_response();
    // A personal answer: never stored by a shared cache.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The country as typed: empty or [`AUTO`] is the guess from the client address (`geo`,
/// when the operator provides a GeoIP database), else from the browser language; "none"
/// or "-" leaves it out, otherwise a two-letter code or an English name ("United Kingdom",
/// "the Netherlands"; "UK" too). Returns the code, or "" for none.
fn country_field(
    value: &str,
    headers: &HeaderMap,
    geo: impl FnOnce() -> Option<CountryCode>,
) -> Result<&'static str, ApiError> {
    let v = value.trim();
    if v.is_empty() || v.eq_ignore_ascii_case(AUTO) {
        return Ok(geo()
            .or_else(|| visitor::country(headers))
            .map_or("", CountryCode::as_str));
    }
    if v == "-" || v.eq_ignore_ascii_case("none") {
        return Ok("");
    }
    if let Ok(c) = CountryCode::parse(v) {
        return Ok(c.as_str());
    }
    let lower = v.to_lowercase();
    let name = lower.strip_prefix("the ").unwrap_or(&lower);
    let alias = match name {
        "uk" | "britain" | "great britain" | "england" | "scotland" | "wales"
        | "northern ireland" => Some("GB"),
        "usa" | "america" | "united states of america" => Some("US"),
        _ => None,
    };
    alias
        .and_then(|a| CountryCode::parse(a).ok())
        .or_else(|| CountryCode::all().find(|c| c.name().eq_ignore_ascii_case(name)))
        .map(CountryCode::as_str)
        .ok_or_else(|| ApiError::InvalidField {
            field: "country",
            message: format!(
                "no country is called {:?}: type its name (United Kingdom) or its two-letter code (GB), or leave it empty",
                v.chars().take(40).collect::<String>()
            ),
        })
}

/// A refused form token in the visitor's words: the form shown again carries a fresh one.
fn token_refused(e: FormTokenError) -> ApiError {
    match e {
        FormTokenError::Missing | FormTokenError::Invalid => ApiError::Forbidden(
            "This report did not come from this site's form (its form token is missing or \
             wrong), so it was refused. If you meant to report a problem, use the form below."
                .into(),
        ),
        FormTokenError::Expired => ApiError::Forbidden(
            "This form was open too long (its form token has expired), so the report was not \
             saved. Please choose your problem again below."
                .into(),
        ),
        FormTokenError::Store(e) => e.into(),
    }
}

/// The form's fields, names and values decoded strictly: a value that is not UTF-8 once
/// decoded is refused naming its field, one of `fields` (any other is "form"): a lossy
/// decoding would store replacement characters the listener never typed.
pub(crate) fn form_pairs(
    bytes: &[u8],
    fields: &[&'static str],
) -> Result<Vec<(String, String)>, &'static str> {
    let decode = |raw: &[u8]| {
        let plus: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        String::from_utf8(percent_encoding::percent_decode(&plus).collect()).ok()
    };
    let mut out = Vec::new();
    for pair in bytes.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        let k = decode(k).ok_or("form")?;
        let field = fields.iter().find(|f| **f == k).copied().unwrap_or("form");
        out.push((k, decode(v).ok_or(field)?));
    }
    Ok(out)
}

/// The form again, with what went wrong, under the API's status for that error.
fn form_error(web: &Web, i: usize, mut form: FormView, e: &ApiError) -> Response<Body> {
    let model_i = web.model(i);
    let service = &model_i.service;
    form.error = Some(match e {
        ApiError::RateLimited { retry_after_s } => format!(
            "You have sent many reports in a short time. Please try again in {retry_after_s} s."
        ),
        ApiError::Unavailable(_) => {
            "Reports cannot be saved right now. Please try again in a minute.".into()
        }
        other => other.to_string(),
    });
    let page = FormPage {
        layout: Layout {
            title: format!("Report a problem · {}", service.name),
            description: format!("Report a problem with {}.", service.name),
            css: &web.css_path,
        },
        id: service.id.as_str(),
        name: &service.name,
        form,
    };
    let status = match e.status() {
        s if s.is_server_error() && s != StatusCode::SERVICE_UNAVAILABLE => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        s => s,
    };
    let mut res = (status, page).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match e {
        ApiError::RateLimited { retry_after_s } => {
            h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
        }
        // The store is down: as the API says it.
        ApiError::Unavailable(_) => {
            h.insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        _ => {}
    }
    res
}
