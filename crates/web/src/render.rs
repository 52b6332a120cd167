//! Which template or serializer makes each cached page, from the current models.

use crate::cache::{Key, Page};
use crate::encoded::{Encoded, PAGE_CACHE_CONTROL, VARY_ENCODING, VARY_ENCODING_LANGUAGE};
use crate::incident_views::{IncidentPage, IncidentsPage};
use crate::state::Web;
use crate::views::{Badge, CommentsView, IndexPage, Layout, ServicePage, ServiceRow};
use crate::{feed, statuspage};
use askama::Template;

pub const HTML: &str = "text/html; charset=utf-8";
const ATOM: &str = "application/atom+xml; charset=utf-8";
const SVG: &str = "image/svg+xml";
const JSON: &str = "application/json";

/// Renders the page a key names; `previous` is the entry it replaces, if any.
pub fn render(web: &Web, key: Key, previous: Option<&Encoded>) -> Result<Encoded, askama::Error> {
    let now = web.app.clock.now();
    let page = |body: String, ct: &'static str| {
        Encoded::reusing(
            body.into_bytes(),
            ct,
            PAGE_CACHE_CONTROL,
            VARY_ENCODING,
            previous,
        )
    };
    Ok(match key.page {
        Page::Service(i) | Page::CommentSent(i) => {
            let m = web.model(i);
            let mut page = ServicePage::new(&m, &web.css_path, key.country, now);
            page.live_js = Some(&web.js_path);
            if let (Page::CommentSent(_), Some(c)) = (key.page, page.comments.as_mut()) {
                c.notice = Some(CommentsView::thanks(m.service.comments));
            }
            if web.app.config.load().notify.subscribers.email {
                page.subscribe = Some(crate::subscribe::SubscribeForm::new(&m.service));
            }
            let html = page.render()?;
            // While some country's verdict differs, visitors from there get their own line.
            let vary = if m.regional.is_empty() {
                VARY_ENCODING
            } else {
                VARY_ENCODING_LANGUAGE
            };
            Encoded::reusing(html.into_bytes(), HTML, PAGE_CACHE_CONTROL, vary, previous)
        }
        Page::Index => page(index_html(web, "")?, HTML),
        Page::Incidents(i) => {
            let m = web.model(i);
            page(IncidentsPage::new(&m, &web.css_path, now).render()?, HTML)
        }
        Page::Incident(i, id) => {
            let m = web.model(i);
            match crate::incident_views::find(&m, id) {
                Some(incident) => page(
                    IncidentPage::new(&m, incident, &web.css_path, now).render()?,
                    HTML,
                ),
                None => page(
                    crate::views::NotFoundPage {
                        layout: Layout {
                            title: "Not found · Downbeat".into(),
                            description: "This incident does not exist.".into(),
                            css: &web.css_path,
                        },
                        message: "There is no such incident.".into(),
                    }
                    .render()?,
                    HTML,
                ),
            }
        }
        Page::ServiceFeed(i) => page(feed::service(web, &web.model(i)).render()?, ATOM),
        Page::Feed => page(feed::all(web).render()?, ATOM),
        Page::Badge(i) => {
            let m = web.model(i);
            page(Badge::new(&m.service.name, m.crowd.verdict).render()?, SVG)
        }
        Page::Statuspage(service, endpoint) => {
            page(statuspage::render(web, service, endpoint, now), JSON)
        }
    })
}

/// The front page, filtered by `q` (case-insensitive, on name and id).
pub fn index_html(web: &Web, q: &str) -> Result<String, askama::Error> {
    let models = web.models();
    let needle = q.trim().to_lowercase();
    let services: Vec<ServiceRow> = models
        .iter()
        .filter(|m| {
            needle.is_empty()
                || m.service.name.to_lowercase().contains(&needle)
                || m.service.id.as_str().contains(&needle)
        })
        .map(|m| ServiceRow::new(m))
        .collect();
    IndexPage {
        layout: Layout {
            title: "Downbeat: is it down, or is it just me?".into(),
            description: "Live user reports and official status for every service.".into(),
            css: &web.css_path,
        },
        q: q.trim(),
        services,
        total: models.len(),
    }
    .render()
}
