//! Template structs and the view data they print, built from a [`PageModel`]. Everything a
//! visitor or operator wrote (names, tips, labels, cities) reaches the page through askama's
//! auto-escaping; the few preformatted strings here are numbers and fixed words.

use crate::chart::{self, ChartView};
use crate::map::{self, MapView};
use crate::model::{DayStatus, PageModel, Regional, TOP_CITIES, UPTIME_DAYS, UptimeDay};
use crate::time;
use askama::Template;
use askama_web::WebTemplate;
use downbeat_domain::city::PublicCities;
use downbeat_domain::comment::MAX_COMMENT_CHARS;
use downbeat_domain::{CommentMode, ComponentState, CountryCode, Platform, Verdict};
use downbeat_monitors::diagnosis::RegionState;
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
    /// The form token (see [`downbeat_intake::form_token`]): the same for every visitor
    /// within the hour, so the page stays one cached page.
    pub token: String,
    pub problems: Vec<(String, String)>,
    pub platforms: Vec<Choice>,
    /// The chosen values, when the form is shown again after an error.
    pub platform: String,
    pub country: String,
    pub city: String,
    pub message: String,
    pub error: Option<String>,
}

impl FormView {
    pub fn new(m: &PageModel) -> FormView {
        FormView {
            action: format!("/s/{}/report", m.service.id),
            token: m.form_token.clone(),
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
            message: String::new(),
            error: None,
        }
    }
}

/// The comment section of the service page: the shown comments and a form to add one.
/// Comments are never reports; the form posts to `/s/{service}/comments` with the same
/// form token as the report form.
#[derive(Debug, Clone)]
pub struct CommentsView {
    pub action: String,
    pub token: String,
    pub max_chars: usize,
    /// Comments wait for a moderator: the form says so.
    pub premoderated: bool,
    pub rows: Vec<CommentLine>,
    /// The thank-you line after posting (the page's `?comment=sent` variant).
    pub notice: Option<&'static str>,
    /// The form again after an error: what went wrong, and what was typed.
    pub error: Option<String>,
    pub text: String,
}

/// A shown comment: its text (escaped by the template; a link stays text) and when.
#[derive(Debug, Clone)]
pub struct CommentLine {
    pub text: String,
    /// "5 minutes ago".
    pub ago: String,
    /// RFC 3339, for `<time datetime>`.
    pub at: String,
    /// "08:12 UTC", for the tooltip.
    pub when: String,
}

impl CommentsView {
    /// The section for a service that takes comments; `None` when it does not.
    pub fn new(m: &PageModel, now: Timestamp) -> Option<CommentsView> {
        let mode = m.service.comments;
        mode.is_on().then(|| CommentsView {
            action: format!("/s/{}/comments", m.service.id),
            token: m.form_token.clone(),
            max_chars: MAX_COMMENT_CHARS,
            premoderated: mode == CommentMode::Premoderated,
            rows: m
                .comments
                .iter()
                .map(|c| CommentLine {
                    text: c.text.clone(),
                    ago: time::ago(c.created_ms, now),
                    at: time::rfc3339_ms(c.created_ms),
                    when: Timestamp::from_millisecond(c.created_ms)
                        .map(|t| time::since(t, now))
                        .unwrap_or_default(),
                })
                .collect(),
            notice: None,
            error: None,
            text: String::new(),
        })
    }

    /// What the page says once a comment is taken.
    pub fn thanks(mode: CommentMode) -> &'static str {
        match mode {
            CommentMode::Premoderated => {
                "Thanks — your comment will appear once a moderator approves it."
            }
            CommentMode::Open | CommentMode::Off => "Thanks — your comment is posted.",
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
    pub regions: Vec<RegionRow>,
    /// Its own uptime bar, for checks not behind a component (those count in the
    /// component's bar).
    pub uptime: Option<UptimeBar>,
}

/// A vantage region's latest result: "eu-west: fails to connect (connection refused)".
#[derive(Debug, Clone)]
pub struct RegionRow {
    pub text: String,
    pub class: &'static str,
}

fn probe_rows(m: &PageModel, now: Timestamp) -> Vec<ProbeRow> {
    let components: Vec<&str> = m.components.iter().map(|c| c.id.as_str()).collect();
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
                cause: p.cause.map(|c| c.public_words().to_owned()),
                since: p
                    .since
                    .filter(|_| p.down == Some(true))
                    .map(|t| time::since(t, now)),
                regions: p
                    .regions
                    .iter()
                    .map(|r| RegionRow {
                        text: match (&r.cause, r.state) {
                            (Some(c), RegionState::Unreliable) => format!(
                                "{}: fails {c}, but its own network is unreliable",
                                r.region
                            ),
                            (Some(c), _) => format!("{}: fails {c}", r.region),
                            (None, state) => format!("{}: {}", r.region, state.label()),
                        },
                        class: match r.state {
                            RegionState::Passing => "operational",
                            RegionState::Degraded => "degraded_performance",
                            RegionState::Failing => "major_outage",
                            RegionState::Unreliable | RegionState::Stale => "unknown",
                        },
                    })
                    .collect(),
                uptime: p
                    .component
                    .as_deref()
                    .is_none_or(|c| !components.contains(&c))
                    .then(|| UptimeBar::new(&p.uptime)),
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
    pub uptime: UptimeBar,
}

/// Ninety days as ninety bars, each with its date and uptime in words.
#[derive(Debug, Clone)]
pub struct UptimeBar {
    pub days: Vec<DayBar>,
    pub label: String,
}

/// One day of an uptime bar: "12 Mar 2026: 99.93% uptime" or "12 Mar 2026: no data".
#[derive(Debug, Clone)]
pub struct DayBar {
    pub class: &'static str,
    pub text: String,
}

/// A share of passing probes as people read it: never rounded up to 100% while something
/// failed, nor down to 0% while something passed.
pub fn percent(up: f64) -> String {
    let p = up * 100.0;
    if p >= 100.0 {
        "100%".into()
    } else if p <= 0.0 {
        "0%".into()
    } else {
        let s = format!("{:.2}", (p * 100.0).floor() / 100.0);
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "0" {
            "0.01%".into()
        } else {
            format!("{s}%")
        }
    }
}

impl UptimeBar {
    pub fn new(days: &[UptimeDay]) -> UptimeBar {
        let bars = days
            .iter()
            .map(|d| {
                let date = time::date(d.day_ms);
                let (class, text) = match (d.status(), d.uptime()) {
                    (DayStatus::NoData, _) | (_, None) => ("nodata", format!("{date}: no data")),
                    (s, Some(u)) => (
                        match s {
                            DayStatus::Operational => "up",
                            DayStatus::Degraded => "degraded",
                            _ => "down",
                        },
                        format!("{date}: {} uptime", percent(u)),
                    ),
                };
                DayBar { class, text }
            })
            .collect();
        let measured: Vec<&UptimeDay> = days.iter().filter(|d| d.probes > 0).collect();
        let label = if measured.is_empty() {
            format!("Uptime, last {UPTIME_DAYS} days: no data yet")
        } else {
            let probes: u64 = measured.iter().map(|d| d.probes).sum();
            let failures: u64 = measured.iter().map(|d| d.failures.min(d.probes)).sum();
            format!(
                "Uptime, last {UPTIME_DAYS} days: {} of checks passed, on {} day{} with data",
                percent(1.0 - failures as f64 / probes as f64),
                measured.len(),
                if measured.len() == 1 { "" } else { "s" }
            )
        };
        UptimeBar { days: bars, label }
    }
}

fn component_rows(m: &PageModel) -> Vec<ComponentRow> {
    m.components
        .iter()
        .map(|c| ComponentRow {
            name: c.name.clone(),
            description: c.description.clone(),
            state_label: c.state.label(),
            state_class: c.state.as_str(),
            uptime: UptimeBar::new(&c.uptime),
        })
        .collect()
}

/// The top cities (already folded and only those enough networks typed: see
/// [`PublicCities`]). Shares are of the reports that named a city.
fn city_rows(cities: &PublicCities) -> Vec<ShareRow> {
    cities
        .cities
        .iter()
        .take(TOP_CITIES)
        .map(|c| ShareRow {
            label: match c.country {
                Some(country) => format!("{}, {}", c.city, country.name()),
                None => c.city.clone(),
            },
            pct: ((c.reports as f64 * 100.0 / cities.named.max(1) as f64).round() as u32).min(100),
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
    pub diagnosis: Option<&'a str>,
    pub cities: Vec<ShareRow>,
    /// What listeners' screens say (clustered; escaped by the template).
    pub messages: Vec<ShareRow>,
    /// Posts about the service's problems per external source: "On Mastodon: 340 posts in
    /// the last hour, 12× usual — 45% about Login" (escaped by the template).
    pub signals: Vec<String>,
    pub active: Vec<crate::incident_views::IncidentView>,
    pub maintenance: Vec<crate::incident_views::IncidentView>,
    pub tips: &'a [String],
    /// The live-refresh script's path; the page works without it.
    pub live_js: Option<&'a str>,
    /// The subscribe form, when the operator offers email subscriptions.
    pub subscribe: Option<crate::subscribe::SubscribeForm>,
    /// The comment section, when the service takes comments.
    pub comments: Option<CommentsView>,
}

/// One source's line: "On Mastodon: 340 posts in the last hour, 12× usual — 45% about
/// Login, 15% about Playback" (every kind the crowd stage names).
fn signal_line(s: &downbeat_crowd::SignalStatus) -> String {
    let posts = if s.last_hour == 1 { "post" } else { "posts" };
    let mut line = format!("On {}: {} {posts} in the last hour", s.name, s.last_hour);
    if let Some(r) = s.ratio.filter(|r| *r >= 1.5) {
        line.push_str(&format!(", {r:.0}× usual"));
    }
    if !s.kinds.is_empty() {
        let kinds: Vec<String> = s
            .kinds
            .iter()
            .map(|k| format!("{}% about {}", k.percent, k.label))
            .collect();
        line.push_str(" — ");
        line.push_str(&kinds.join(", "));
    }
    line
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
            chart: chart::view(&m.chart),
            window,
            problems: shares(&summary.by_problem, problem_label, summary.total, 8),
            platforms: shares(&summary.by_platform, platform_label, summary.total, 5),
            countries: shares(&summary.by_country, country_label, summary.total, 8),
            map: map::view(&summary.by_country),
            official: official_words(official),
            official_class: official.as_str(),
            components: component_rows(m),
            probes: probe_rows(m, now),
            diagnosis: m.diagnosis.as_deref(),
            cities: city_rows(&m.cities),
            messages: m
                .messages
                .iter()
                .map(|s| ShareRow {
                    label: s.text.clone(),
                    pct: s.pct,
                })
                .collect(),
            signals: crowd.signals.iter().map(signal_line).collect(),
            active,
            maintenance,
            tips: &m.service.tips,
            live_js: None,
            subscribe: None,
            comments: CommentsView::new(m, now),
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

/// The comment form again, after an error.
#[derive(Template, WebTemplate)]
#[template(path = "comment.html")]
pub struct CommentPage<'a> {
    pub layout: Layout<'a>,
    pub id: &'a str,
    pub name: &'a str,
    pub discussion: CommentsView,
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

impl FeedEntry {
    /// Without the characters XML cannot carry (stored before input refused them): one bad
    /// title must not make the whole feed unreadable for every reader.
    pub fn xml_safe(self) -> FeedEntry {
        let safe = |s: String| match downbeat_domain::text::xml_safe(&s) {
            std::borrow::Cow::Borrowed(_) => s,
            std::borrow::Cow::Owned(clean) => clean,
        };
        FeedEntry {
            id: safe(self.id),
            title: safe(self.title),
            updated: self.updated,
            link: safe(self.link),
            content: safe(self.content),
        }
    }
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
