//! `[[notify.webhook]] format = "template"`: a body the operator writes as a MiniJinja
//! template, compiled (and tried on a sample event) when the config is loaded, so a
//! template that cannot render is refused at start rather than at the first outage.
//!
//! Values are escaped for the body's content type: JSON (`…json`) prints each value as a
//! JSON value — a string with its quotes, so `{"text": {{ title }}}` — form bodies
//! (`application/x-www-form-urlencoded`) percent-encode them, HTML and XML escape them,
//! and other types (plain text) print them as they are. Printing an undefined variable is
//! an error (test it with `is defined`, or give it a `default`).

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::Value;

/// The variables a template sees: one event, its words, and its alert (see `README.md`).
#[derive(Debug, Clone, Serialize)]
pub struct TemplateVars {
    /// The event's stable id (receivers deduplicate on it).
    pub id: String,
    /// Its type, e.g. `monitor.down`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The service's id.
    pub service: String,
    /// When it happened: RFC 3339, and unix milliseconds.
    pub occurred_at: String,
    pub occurred_ms: i64,
    /// The page that shows it.
    pub link: String,
    /// Its words: one line, a few lines, and `critical`, `warning`, `good` or `info`.
    pub title: String,
    pub text: String,
    pub severity: String,
    /// The event's payload, as the `downbeat` format's `data`.
    pub data: Value,
    /// What it is about, stable from the alert to its end (`melodia/monitor/login-api`),
    /// and whether it opens (`trigger`) or closes (`resolve`) it.
    pub alert_key: String,
    pub alert_action: String,
}

impl TemplateVars {
    /// A monitor going down, to try a template on.
    pub fn sample() -> TemplateVars {
        TemplateVars {
            id: "monitor-login-api-down-1700000000000".into(),
            kind: "monitor.down".into(),
            service: "melodia".into(),
            occurred_at: "2023-11-14T22:13:20Z".into(),
            occurred_ms: 1_700_000_000_000,
            link: "https://status.example/s/melodia".into(),
            title: "Melodia: check login-api is down".into(),
            text: "It fails from enough regions to count.".into(),
            severity: "critical".into(),
            data: serde_json::json!({"monitor": "login-api", "state": "down"}),
            alert_key: "melodia/monitor/login-api".into(),
            alert_action: "trigger".into(),
        }
    }
}

/// How printed values are escaped, from the body's content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    Json,
    Form,
    Html,
    Text,
}

impl Escape {
    pub fn of(content_type: &str) -> Escape {
        let ct = content_type.to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if essence.ends_with("json") {
            Escape::Json
        } else if essence == "application/x-www-form-urlencoded" {
            Escape::Form
        } else if essence.ends_with("html") || essence.ends_with("xml") {
            Escape::Html
        } else {
            Escape::Text
        }
    }

    fn auto(self) -> AutoEscape {
        match self {
            Escape::Json => AutoEscape::Json,
            Escape::Form => AutoEscape::Custom("form"),
            Escape::Html => AutoEscape::Html,
            Escape::Text => AutoEscape::None,
        }
    }
}

/// A template that compiled and rendered the sample event (valid JSON, for a JSON body).
#[derive(Debug, Clone)]
pub struct BodyTemplate {
    source: String,
    content_type: String,
    escape: Escape,
}

impl PartialEq for BodyTemplate {
    fn eq(&self, other: &Self) -> bool {
        (&self.source, &self.content_type) == (&other.source, &other.content_type)
    }
}

impl Eq for BodyTemplate {}

/// Why a template does not compile or render (MiniJinja's words, with the line).
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{}", describe(.0))]
    Jinja(#[from] minijinja::Error),
    #[error("{} on a sample monitor.down event (give what some events lack a default: {{{{ data.status | default(\"\") }}}})", describe(.0))]
    Sample(#[source] minijinja::Error),
    #[error(
        "the sample event renders as invalid JSON ({0}); print values bare, as {{{{ title }}}}: they come out as JSON strings with their quotes"
    )]
    NotJson(#[source] serde_json::Error),
}

fn describe(e: &minijinja::Error) -> String {
    let mut s = e.kind().to_string();
    if let Some(detail) = e.detail() {
        s.push_str(": ");
        s.push_str(detail);
    }
    if let Some(line) = e.line() {
        s.push_str(&format!(" (line {line})"));
    }
    s
}

impl BodyTemplate {
    /// Compiles `source` for a body of `content_type` and renders the sample event with it.
    pub fn new(source: String, content_type: String) -> Result<BodyTemplate, TemplateError> {
        let t = BodyTemplate {
            escape: Escape::of(&content_type),
            source,
            content_type,
        };
        let sample = t.render(&TemplateVars::sample()).map_err(|e| match e {
            TemplateError::Jinja(e) if e.kind() == minijinja::ErrorKind::UndefinedError => {
                TemplateError::Sample(e)
            }
            e => e,
        })?;
        if t.escape == Escape::Json {
            serde_json::from_str::<Value>(&sample).map_err(TemplateError::NotJson)?;
        }
        Ok(t)
    }

    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    pub fn escape(&self) -> Escape {
        self.escape
    }

    /// The body for `vars`.
    pub fn render(&self, vars: &TemplateVars) -> Result<String, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        let auto = self.escape.auto();
        env.set_auto_escape_callback(move |_| auto);
        env.set_formatter(|out, state, value| {
            if matches!(state.auto_escape(), AutoEscape::Custom("form")) && !value.is_safe() {
                let text = if value.is_none() {
                    String::new()
                } else {
                    value.to_string()
                };
                let encoded = percent_encoding::utf8_percent_encode(
                    &text,
                    percent_encoding::NON_ALPHANUMERIC,
                );
                write!(out, "{encoded}").map_err(minijinja::Error::from)
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        let tmpl = env.template_from_str(&self.source)?;
        Ok(tmpl.render(vars)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostile() -> TemplateVars {
        TemplateVars {
            title: "\"}, \"admin\": true, {\"x\": \"<b>&".into(),
            ..TemplateVars::sample()
        }
    }

    #[test]
    fn values_are_escaped_for_the_body_they_go_into() {
        let json = BodyTemplate::new(
            r#"{"msg": {{ title }}, "sev": {{ severity }}, "n": {{ occurred_ms }}}"#.into(),
            "application/json".into(),
        )
        .unwrap();
        let body: Value = serde_json::from_str(&json.render(&hostile()).unwrap()).unwrap();
        assert_eq!(body["msg"], hostile().title.as_str());
        assert!(body.get("admin").is_none());
        assert_eq!(body["n"], 1_700_000_000_000_i64);
        let form = BodyTemplate::new(
            "title={{ title }}&to=ops".into(),
            "application/x-www-form-urlencoded".into(),
        )
        .unwrap();
        let body = form.render(&hostile()).unwrap();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
        assert_eq!(pairs[0], ("title".into(), hostile().title));
        assert_eq!(pairs[1].0, "to");
        let html = BodyTemplate::new("<p>{{ title }}</p>".into(), "text/html".into()).unwrap();
        assert!(html.render(&hostile()).unwrap().contains("&lt;b&gt;&amp;"));
        let text = BodyTemplate::new("{{ title }}".into(), "text/plain".into()).unwrap();
        assert_eq!(text.render(&hostile()).unwrap(), hostile().title);
    }

    #[test]
    fn templates_that_cannot_render_are_refused_with_the_reason() {
        for (source, ct, wanted) in [
            ("{{ title ", "application/json", "syntax error"),
            ("{% for x in %}", "text/plain", "line 1"),
            ("{\"t\": {{ titel }}}", "application/json", "undefined"),
            ("{{ data.status }}", "text/plain", "sample monitor.down"),
            (
                "{\"t\": \"{{ title }}\"}",
                "application/json",
                "invalid JSON",
            ),
            ("{{ title | nosuchfilter }}", "text/plain", "unknown filter"),
        ] {
            let e = BodyTemplate::new(source.into(), ct.into())
                .unwrap_err()
                .to_string();
            assert!(e.contains(wanted), "{source:?}: {e}");
        }
        let ok = BodyTemplate::new(
            "{{ data.cause | default(\"unknown\") }}".into(),
            "text/plain".into(),
        )
        .unwrap();
        assert_eq!(ok.render(&TemplateVars::sample()).unwrap(), "unknown");
    }
}
