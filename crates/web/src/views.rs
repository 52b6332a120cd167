//! Template structs and the view data they print, built from a [`PageModel`]. Everything a
//! visitor or operator wrote (names, tips, labels, cities) reaches the page through askama's
//! auto-escaping; the few preformatted strings here are numbers and fixed words.

use crate::chart::{self, ChartView};
use crate::map::{self, MapView};
use crate::model::{DayStatus, PageModel, Regional, UPTIME_DAYS};
use crate::time;
use askama::Template;
use askama_web::WebTemplate;
use downbeat_domain::{ComponentState, CountryCode, Platform, Verdict};
use downbeat_store::Summary;
use jiff::Timestamp;
use std::collections::BTreeMap;

/// What every page's frame needs.
#[derive(Debug, Clone)]
pub struct Layout<'a> {
    pub title: String,
    pub description: String,
    pub css: &'a str,
}

/// A verdict in words and the CSS class that colours it.
fn verdict_words(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::NoProblems => ("No problems", "no_problems"),
        Verdict::PossibleProblems => ("Possible problems", "possible_problems"),
        Verdict::Problems => ("Problems", "problems"),
    }
}

/// The headline: "User reports indicate problems at Melodia since 08:12 UTC".
pub fn headline(name: &str, verdict: Verdict, since: Option<Timestamp>, now: Timestamp) -> String {
    let since = since.map(|t| format!(" since {}", time::since(t, now)));
    match verdict {
        Verdict::NoProblems => format!("No current problems at {name}"),
        Verdict::PossibleProblems => format!(
            "User reports indicate possible problems at {name}{}",
            since.unwrap_or_default()
        ),
        Verdict::Problems => format!(
            "User reports indicate problems at {name}{}",
            since.unwrap_or_default()
        ),
    }
}

fn regional_line(r: &Regional, now: Timestamp) -> RegionalLine {
    let (words, class) = verdict_words(r.verdict);
    let since = match (r.verdict, r.since) {
        (Verdict::NoProblems, _) | (_, None) => String::new(),
        (_, Some(t)) => format!(" since {}", time::since(t, now)),
    };
    RegionalLine {
        text: format!(
            "In {}: {}{since}",
            r.country.name_in_sentence(),
            words.to_lowercase()
        ),
        class,
    }
}

#[derive(Debug, Clone)]
pub struct RegionalLine {
    pub text: String,
    pub class: &'static str,
}

/// A row of a percentage breakdown.
#[derive(Debug, Clone)]
pub struct ShareRow {
    pub label: String,
    pub pct: u32,
}

fn shares(
    counts: &BTreeMap<String, u64>,
    label: impl Fn(&str) -> String,
    total: u64,
    limit: usize,
) -> Vec<ShareRow> {
    let mut v: Vec<(&String, &u64)> = counts.iter().filter(|(_, n)| **n > 0).collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.into_iter()
        .take(limit)
        .map(|(k, n)| ShareRow {
            label: label(k),
            pct: ((*n as f64 * 100.0 / total.max(1) as f64).round() as u32).min(100),
        })
        .collect()
}

/// A choice in a `<select>`.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
}

fn platform_choices() -> Vec<Choice> {
    Platform::ALL
        .iter()
        .map(|p| Choice {
            value: p.as_str(),
            label: p.label(),
        })
        .collect()
}

/// The "I have a problem" form. Platform defaults to "detect" and an empty country means
/// "detect", both resolved from the request when the form is posted: the page itself is the
/// same for everyone, so a cache (ours or a CDN) can serve it, and the visitor can still
/// choose. The country is typed (a name or a code) rather than picked from a list of 249,
/// which would add a third to the page's weight.
#[derive(Debug, Clone)]
pub struct FormView {
    pub action: String,
    pub problems: Vec<(String, String)>,
    pub platforms: Vec<Choice>,
    /// The chosen values, when the form is shown again after an error.
    pub platform: String,
    pub country: String,
    pub city: String,
    pub error: Option<String>,
}

impl FormView {
    pub fn new(m: &PageModel) -> FormView {
        FormView {
            action: format!("/s/{}/report", m.service.id),
            problems: m
                .service
                .problems
                .iter()
                .map(|p| (p.kind.to_string(), p.label.clone()))
                .collect(),
            platforms: platform_choices(),
            platform: crate::report::AUTO.into(),
            country: String::new(),
            city: String::new(),
            error: None,
        }
    }
}

/// A monitor on the page.
#[derive(Debug, Clone)]
pub struct ProbeRow {
    pub name: String,
    pub state: &'static str,
    pub class: &'static str,
    pub cause: Option<String>,
    pub since: Option<String>,
    pub regions: String,
}

/// A probe's cause word in plain words, the way people discuss outages.
fn cause_words(cause: &str) -> String {
    match cause {
        "dns" => "DNS: the name does not resolve".into(),
        "connect" => "the server cannot be reached".into(),
        "tls_certificate" => "the TLS certificate is not valid".into(),
        "tls_handshake" => "the secure connection fails".into(),
        "timeout" => "no answer in time".into(),
        "http_5xx" => "server errors (5xx)".into(),
        "http_4xx" => "requests refused (4xx)".into(),
        "overload" => "overload (busy or very slow)".into(),
        "content" => "wrong content in the answer".into(),
        other => other.replace('_', " "),
    }
}

fn probe_rows(m: &PageModel, now: Timestamp) -> Vec<ProbeRow> {
    m.probes
        .iter()
        .map(|p| {
            let (state, class) = match p.down {
                Some(true) => ("Failing", "major_outage"),
                Some(false) => ("Passing", "operational"),
                None => ("No result yet", "unknown"),
            };
            ProbeRow {
                name: match &p.component {
                    Some(c) => format!("{} ({} check, {c})", p.id, p.kind),
                    None => format!("{} ({} check)", p.id, p.kind),
                },
                state,
                class,
                cause: p.cause.as_deref().map(cause_words),
                since: p
                    .since
                    .filter(|_| p.down == Some(true))
                    .map(|t| time::since(t, now)),
                regions: p
                    .regions
                    .iter()
                    .map(|(r, o)| format!("{r}: {o}"))
                    .collect::<Vec<_>>()
                    .join(" · "),
            }
        })
        .collect()
}

/// A component with its state and uptime bar.
#[derive(Debug, Clone)]
pub struct ComponentRow {
    pub name: String,
    pub description: Option<String>,
    pub state_label: &'static str,
    pub state_class: &'static str,
    pub runs: Vec<Run>,
    pub uptime_label: String,
}

/// Consecutive days with the same status: one rectangle in the uptime bar.
#[derive(Debug, Clone)]
pub struct Run {
    pub x: usize,
    pub w: usize,
    pub class: &'static str,
}

fn runs(days: &[DayStatus]) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for (i, d) in days.iter().enumerate() {
        let class = match d {
            DayStatus::NoData => "nodata",
            DayStatus::Operational => "up",
            DayStatus::Degraded => "degraded",
            DayStatus::Outage => "down",
        };
        match out.last_mut() {
            Some(r) if r.class == class => r.w += 1,
            _ => out.push(Run { x: i, w: 1, class }),
        }
    }
    out
}

fn component_rows(m: &PageModel) -> Vec<ComponentRow> {
    m.components
        .iter()
        .map(|c| {
            let measured = c.uptime.iter().filter(|d| **d != DayStatus::NoData).count();
            ComponentRow {
                name: c.name.clone(),
                description: c.description.clone(),
                state_label: c.state.label(),
                state_class: c.state.as_str(),
                runs: runs(&c.uptime),
                uptime_label: if measured == 0 {
                    format!("Uptime, last {UPTIME_DAYS} days: no data yet")
                } else {
                    let up = c
                        .uptime
                        .iter()
                        .filter(|d| **d == DayStatus::Operational)
                        .count();
                    format!(
                        "Uptime, last {UPTIME_DAYS} days: {:.2}% of {measured} measured days",
                        up as f64 * 100.0 / measured as f64
                    )
                },
            }
        })
        .collect()
}

fn official_words(s: ComponentState) -> &'static str {
    match s {
        ComponentState::Operational => "All systems operational",
        ComponentState::UnderMaintenance => "Under maintenance",
        ComponentState::DegradedPerformance => "Degraded performance",
        ComponentState::PartialOutage => "Partial outage",
        ComponentState::MajorOutage => "Major outage",
    }
}

/// The breakdown window: the last hour when it has reports, else the last day.
fn window(m: &PageModel) -> (&Summary, &'static str) {
    if m.last_hour.total > 0 {
        (&m.last_hour, "last hour")
    } else {
        (&m.last_day, "last 24 hours")
    }
}

#[derive(Template)]
#[template(path = "service.html")]
pub struct ServicePage<'a> {
    pub layout: Layout<'a>,
    pub id: &'a str,
    pub name: &'a str,
    pub headline: String,
    pub verdict_class: &'static str,
    pub explanation: &'a str,
    pub reports_hour: u64,
    pub updated: String,
    pub you: Option<RegionalLine>,
    pub regional: Vec<RegionalLine>,
    pub form: FormView,
    pub chart: ChartView,
    pub window: &'static str,
    pub problems: Vec<ShareRow>,
    pub platforms: Vec<ShareRow>,
    pub countries: Vec<ShareRow>,
    pub map: MapView,
    pub official: &'static str,
    pub official_class: &'static str,
    pub components: Vec<ComponentRow>,
    pub probes: Vec<ProbeRow>,
    pub active: Vec<crate::incident_views::IncidentView>,
    pub maintenance: Vec<crate::incident_views::IncidentView>,
    pub tips: &'a [String],
}

impl<'a> ServicePage<'a> {
    /// The page for a visitor from `country` (None: the page everyone else gets).
    pub fn new(
        m: &'a PageModel,
        css: &'a str,
        country: Option<CountryCode>,
        now: Timestamp,
    ) -> Self {
        let name = m.service.name.as_str();
        let crowd = &m.crowd;
        let (_, verdict_class) = verdict_words(crowd.verdict);
        let (summary, window) = window(m);
        let (active, maintenance) = crate::incident_views::active(m, now);
        let problem_label = |k: &str| {
            m.service
                .offers(k)
                .map_or_else(|| k.to_owned(), |p| p.label.clone())
        };
        let platform_label = |k: &str| {
            k.parse::<Platform>()
                .map_or_else(|_| k.to_owned(), |p| p.label().to_owned())
        };
        let country_label =
            |k: &str| CountryCode::parse(k).map_or_else(|_| k.to_owned(), |c| c.name().to_owned());
        let official = m.official_state();
        ServicePage {
            layout: Layout {
                title: format!("Is {name} down? Status and problem reports"),
                description: format!(
                    "Live user reports and official status for {name}: is it down, or just you?"
                ),
                css,
            },
            id: m.service.id.as_str(),
            name,
            headline: headline(name, crowd.verdict, crowd.since, now),
            verdict_class,
            explanation: &crowd.explanation,
            reports_hour: m.last_hour.total,
            updated: crowd
                .as_of
                .map(|t| time::since(t, now))
                .unwrap_or_else(|| "not yet".into()),
            you: country
                .and_then(|c| m.regional_for(c))
                .map(|r| regional_line(r, now)),
            regional: m.regional.iter().map(|r| regional_line(r, now)).collect(),
            form: FormView::new(m),
            chart: chart::view(&m.chart, crowd),
            window,
            problems: shares(&summary.by_problem, problem_label, summary.total, 8),
            platforms: shares(&summary.by_platform, platform_label, summary.total, 5),
            countries: shares(&summary.by_country, country_label, summary.total, 8),
            map: map::view(&summary.by_country),
            official: official_words(official),
            official_class: official.as_str(),
            components: component_rows(m),
            probes: probe_rows(m, now),
            active,
            maintenance,
            tips: &m.service.tips,
        }
    }
}

/// A service on the front page.
#[derive(Debug, Clone)]
pub struct ServiceRow {
    pub id: String,
    pub name: String,
    pub verdict: &'static str,
    pub verdict_class: &'static str,
    pub official: &'static str,
    pub official_class: &'static str,
    pub reports_hour: u64,
}

impl ServiceRow {
    pub fn new(m: &PageModel) -> ServiceRow {
        let (verdict, verdict_class) = verdict_words(m.crowd.verdict);
        let official = m.official_state();
        ServiceRow {
            id: m.service.id.to_string(),
            name: m.service.name.clone(),
            verdict,
            verdict_class,
            official: official_words(official),
            official_class: official.as_str(),
            reports_hour: m.last_hour.total,
        }
    }
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage<'a> {
    pub layout: Layout<'a>,
    pub q: &'a str,
    pub services: Vec<ServiceRow>,
    pub total: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "not_found.html")]
pub struct NotFoundPage<'a> {
    pub layout: Layout<'a>,
    pub message: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "thanks.html")]
pub struct ThanksPage<'a> {
    pub layout: Layout<'a>,
    pub id: &'a str,
    pub name: &'a str,
    pub message: String,
    pub problem: String,
    /// How many counted reports of this problem in the last hour, this one included.
    pub same: Option<u64>,
    pub counted: bool,
    pub recorded: Vec<(&'static str, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "form.html")]
pub struct FormPage<'a> {
    pub layout: Layout<'a>,
    pub id: &'a str,
    pub name: &'a str,
    pub form: FormView,
}

/// An Atom entry.
#[derive(Debug, Clone)]
pub struct FeedEntry {
    pub id: String,
    pub title: String,
    pub updated: String,
    pub link: String,
    pub content: String,
}

#[derive(Template)]
#[template(path = "feed.xml")]
pub struct Feed {
    pub title: String,
    pub id: String,
    pub updated: String,
    pub alternate: String,
    pub self_href: String,
    pub entries: Vec<FeedEntry>,
}

#[derive(Template)]
#[template(path = "badge.svg")]
pub struct Badge {
    pub label: String,
    pub value: &'static str,
    pub color: &'static str,
    pub label_w: u32,
    pub value_w: u32,
}

impl Badge {
    /// A shields.io-style badge; widths from a per-character estimate of 11px Verdana.
    pub fn new(label: &str, verdict: Verdict) -> Badge {
        let (value, color) = match verdict {
            Verdict::NoProblems => ("no problems", "#2e7d32"),
            Verdict::PossibleProblems => ("possible problems", "#9a6700"),
            Verdict::Problems => ("problems", "#c62828"),
        };
        let text_w = |s: &str| {
            s.chars()
                .map(|c| {
                    if c.is_ascii_uppercase() || c == 'm' || c == 'w' {
                        9
                    } else {
                        7
                    }
                })
                .sum::<u32>()
        };
        let label: String = label.chars().take(40).collect();
        Badge {
            label_w: text_w(&label) + 12,
            value_w: text_w(value) + 12,
            label,
            value,
            color,
        }
    }

    pub fn width(&self) -> u32 {
        self.label_w + self.value_w
    }
}
