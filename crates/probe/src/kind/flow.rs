//! `flow` probes: HTTP steps run in order (`[[monitor.step]]`), each with its own request,
//! expectations and timings; a step may capture values from its answer (a JSON pointer, or
//! a regex's first group) that later steps use as `${name}` in their URL, headers and body.
//! A failure names its step: "step 2 of 3, 'fetch playlist': HTTP 401, expected 200-399".

use std::collections::{BTreeMap, BTreeSet};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use regex::Regex;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::connect;
use crate::endpoint::Endpoint;
use crate::kind::http::{self, HttpUrl};
use crate::kind::tls::{self, TlsOptions};
use crate::kind::{Keys, ProbeDef, ProbeKind};
use crate::outcome::{Cause, Detail};
use crate::result::{ProbeResult, StepResult};
use crate::run::{Failure, Pass, Run};
use crate::spec::SpecError;
use crate::status_ranges::StatusRanges;

/// Most steps in a flow.
pub const MAX_STEPS: usize = 20;

/// The `flow` keys of a [`ProbeDef`]: its steps (`[[monitor.step]]` in TOML).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowDef {
    /// The steps, run in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step: Vec<StepDef>,
}

impl Keys for FlowDef {
    const KINDS: &'static [ProbeKind] = &[ProbeKind::Flow];
    fn first_given(&self) -> Option<&'static str> {
        (!self.step.is_empty()).then_some("step")
    }
}

/// One step of a flow, as written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    /// What the step does, for messages (default "step N").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The request method (default GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// An absolute http(s) URL, or a path on the flow's `target` (`/login`).
    pub url: String,
    /// Request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A request body, sent as written (after `${name}` substitution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Expected statuses (default `200-399`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<String>,
    /// The body must contain this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// Values to capture from the JSON body: `{ name = "/json/pointer" }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capture: BTreeMap<String, String>,
    /// Values to capture with a regex's first group (or the whole match without one):
    /// `{ name = "id=(\\d+)" }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capture_regex: BTreeMap<String, String>,
}

/// A flow check.
#[derive(Clone, Debug)]
pub struct FlowCheck {
    /// The base the steps' paths are relative to.
    pub(crate) base: HttpUrl,
    pub(crate) steps: Vec<Step>,
    pub(crate) tls: TlsOptions,
}

impl FlowCheck {
    /// The base URL's host and port (steps may go elsewhere).
    pub fn endpoint(&self) -> &Endpoint {
        &self.base.endpoint
    }
}

/// A validated step.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    name: String,
    method: Method,
    url: String,
    headers: Vec<(HeaderName, String)>,
    body: Option<String>,
    expect_status: StatusRanges,
    body_contains: Option<String>,
    capture: Vec<(String, String)>,
    capture_regex: Vec<(String, Regex)>,
}

/// The target is the base URL (`https://api.melodia.example`) the steps' paths join.
pub(crate) fn parse(def: &ProbeDef) -> Result<FlowCheck, SpecError> {
    let base = HttpUrl::parse(&def.target).map_err(|e| SpecError::invalid("target", e))?;
    let defs = &def.flow.step;
    if defs.is_empty() {
        return Err(SpecError::invalid("step", "a flow needs at least one step"));
    }
    if defs.len() > MAX_STEPS {
        return Err(SpecError::invalid(
            "step",
            format!("at most {MAX_STEPS} steps"),
        ));
    }
    let mut captured: BTreeSet<&str> = BTreeSet::new();
    let mut steps = Vec::with_capacity(defs.len());
    for (i, s) in defs.iter().enumerate() {
        let at = |key: &str| format!("step[{i}].{key}");
        let name = match &s.name {
            Some(n) if n.trim().is_empty() => {
                return Err(SpecError::invalid_at(at("name"), "is empty"));
            }
            Some(n) => n.trim().to_owned(),
            None => format!("step {}", i + 1),
        };
        let method = match &s.method {
            None => Method::GET,
            Some(m) => {
                Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes()).map_err(|_| {
                    SpecError::invalid_at(at("method"), format!("`{m}` is not an HTTP method"))
                })?
            }
        };
        // Variables must come from earlier steps; the text around them must be valid now.
        let known = |text: &str, key: &str| -> Result<(), SpecError> {
            for var in variables(text).map_err(|e| SpecError::invalid_at(at(key), e))? {
                if !captured.contains(var) {
                    return Err(SpecError::invalid_at(
                        at(key),
                        format!("${{{var}}} is not captured by an earlier step"),
                    ));
                }
            }
            Ok(())
        };
        known(&s.url, "url")?;
        let example = substitute(&s.url, &|_| Some("x".into()));
        join(&base, &example).map_err(|e| SpecError::invalid_at(at("url"), e))?;
        let mut headers = Vec::with_capacity(s.headers.len());
        for (n, v) in &s.headers {
            let name = HeaderName::from_bytes(n.trim().as_bytes()).map_err(|_| {
                SpecError::invalid_at(at("headers"), format!("`{n}` is not a header name"))
            })?;
            known(v, "headers")?;
            HeaderValue::from_str(&substitute(v, &|_| Some("x".into()))).map_err(|_| {
                SpecError::invalid_at(
                    at("headers"),
                    format!("the value of `{n}` is not a header value"),
                )
            })?;
            headers.push((name, v.clone()));
        }
        if let Some(body) = &s.body {
            known(body, "body")?;
        }
        let expect_status = match &s.expect_status {
            None => StatusRanges::default(),
            Some(r) => {
                StatusRanges::parse(r).map_err(|e| SpecError::invalid_at(at("expect_status"), e))?
            }
        };
        if s.body_contains.as_deref() == Some("") {
            return Err(SpecError::invalid_at(at("body_contains"), "is empty"));
        }
        for (var, pointer) in &s.capture {
            check_name(var).map_err(|e| SpecError::invalid_at(at("capture"), e))?;
            if !(pointer.is_empty() || pointer.starts_with('/')) {
                return Err(SpecError::invalid_at(
                    at("capture"),
                    format!("`{pointer}` must be empty or start with `/` (RFC 6901)"),
                ));
            }
        }
        let mut capture_regex = Vec::with_capacity(s.capture_regex.len());
        for (var, pattern) in &s.capture_regex {
            check_name(var).map_err(|e| SpecError::invalid_at(at("capture_regex"), e))?;
            let re = Regex::new(pattern)
                .map_err(|e| SpecError::invalid_at(at("capture_regex"), e.to_string()))?;
            capture_regex.push((var.clone(), re));
        }
        captured.extend(
            s.capture
                .keys()
                .chain(s.capture_regex.keys())
                .map(String::as_str),
        );
        steps.push(Step {
            name,
            method,
            url: s.url.trim().to_owned(),
            headers,
            body: s.body.clone(),
            expect_status,
            body_contains: s.body_contains.clone(),
            capture: s
                .capture
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            capture_regex,
        });
    }
    let tls = tls::parse_options(&Default::default())?;
    Ok(FlowCheck { base, steps, tls })
}

pub(crate) fn up_words(result: &ProbeResult) -> String {
    format!(": {} steps passed", result.steps.len())
}

pub(crate) async fn run(run: &mut Run<'_>, check: &FlowCheck) -> Result<Pass, Failure> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let count = check.steps.len();
    for (i, step) in check.steps.iter().enumerate() {
        let before = run.result.timings;
        let started = Instant::now();
        run.result.http_status = None;
        let done = run_step(run, check, step, &mut vars).await;
        let mut timings = run.result.timings.since(&before);
        timings.total = Some(started.elapsed());
        run.result.steps.push(StepResult {
            name: step.name.clone(),
            http_status: run.result.http_status,
            timings,
        });
        if let Err(mut f) = done {
            f.error = format!("step {} of {count}, '{}': {}", i + 1, step.name, f.error);
            return Err(f);
        }
    }
    Ok(Pass::Up)
}

async fn run_step(
    run: &mut Run<'_>,
    check: &FlowCheck,
    step: &Step,
    vars: &mut BTreeMap<String, String>,
) -> Result<(), Failure> {
    let lookup = |name: &str| vars.get(name).cloned();
    let url = join(&check.base, &substitute(&step.url, &lookup)).map_err(|e| {
        Failure::new(
            Cause::Content,
            Detail::Protocol,
            format!("the URL is not valid once filled in: {e}"),
        )
    })?;
    let mut req = Request::new(Full::new(Bytes::from(
        step.body
            .as_deref()
            .map(|b| substitute(b, &lookup))
            .unwrap_or_default(),
    )));
    *req.method_mut() = step.method.clone();
    *req.uri_mut() = url.path.clone();
    let h = req.headers_mut();
    h.insert(header::HOST, url.host_header.clone());
    h.insert(header::USER_AGENT, run.prober.user_agent().clone());
    h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    for (name, value) in &step.headers {
        let value = HeaderValue::from_str(&substitute(value, &lookup)).map_err(|_| {
            Failure::new(
                Cause::Content,
                Detail::Protocol,
                format!("the `{name}` header is not valid once filled in"),
            )
        })?;
        h.insert(name.clone(), value);
    }
    let tcp = connect::open(run, &url.endpoint).await?;
    let (response, body) = if url.https {
        let tls = tls::handshake(run, tcp, &url.endpoint, &check.tls, tls::ALPN_HTTP1).await?;
        http::exchange(run, TokioIo::new(tls), req, true).await?
    } else {
        http::exchange(run, TokioIo::new(tcp), req, true).await?
    };
    let code = response.status().as_u16();
    run.result.http_status = Some(code);
    if !step.expect_status.contains(code) {
        let (cause, detail) = http::status_cause(code);
        return Err(Failure::new(
            cause,
            detail,
            format!("HTTP {code}, expected {}", step.expect_status),
        ));
    }
    let text = String::from_utf8_lossy(&body);
    if let Some(needle) = &step.body_contains
        && !text.contains(needle.as_str())
    {
        return Err(Failure::new(
            Cause::Content,
            Detail::BodyMismatch,
            format!("body does not contain {needle:?}"),
        ));
    }
    if !step.capture.is_empty() {
        let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            Failure::new(
                Cause::Content,
                Detail::JsonMismatch,
                format!("body is not JSON: {e}"),
            )
        })?;
        for (var, pointer) in &step.capture {
            let value = match json.pointer(pointer) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => {
                    return Err(Failure::new(
                        Cause::Content,
                        Detail::JsonMismatch,
                        format!("no value at JSON pointer {pointer} to capture as {var}"),
                    ));
                }
            };
            vars.insert(var.clone(), value);
        }
    }
    for (var, re) in &step.capture_regex {
        let caps = re.captures(&text).ok_or_else(|| {
            Failure::new(
                Cause::Content,
                Detail::BodyMismatch,
                format!("body does not match /{re}/ to capture {var}"),
            )
        })?;
        let value = caps
            .get(1)
            .or_else(|| caps.get(0))
            .map_or("", |m| m.as_str());
        vars.insert(var.clone(), value.to_owned());
    }
    Ok(())
}

/// A step's URL: absolute, or a path on the base.
fn join(base: &HttpUrl, url: &str) -> Result<HttpUrl, String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        HttpUrl::parse(url).map_err(String::from)
    } else if url.starts_with('/') {
        base.join(url).map_err(String::from)
    } else {
        Err(format!(
            "`{url}` is neither an http(s) URL nor a path starting with `/`"
        ))
    }
}

/// The `${name}`s in `text`, in order.
fn variables(text: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("`${{` without a closing `}}` in `{text}`"))?;
        let name = &after[..end];
        check_name(name)?;
        found.push(name);
        rest = &after[end + 1..];
    }
    Ok(found)
}

/// `text` with each `${name}` replaced by its value (left as is when unknown).
fn substitute(text: &str, value: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match value(name) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[start..start + 3 + end]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn check_name(name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a variable name (letters, digits, `_` and `-`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Outcome, ProbeSpec, Prober, probe};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A loopback API: POST /login answers {"token": "abc"} (and a session id in the text);
    /// GET /playlist/<id> wants `Authorization: Bearer abc`, else 401.
    async fn api_server() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    // Head, then the body its content-length announces.
                    loop {
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        let text = String::from_utf8_lossy(&buf).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let len = text
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            if buf.len() >= end + 4 + len {
                                break;
                            }
                        }
                    }
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let mut words = text.split_whitespace();
                    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                    let authorized = text.lines().any(|l| l == "authorization: Bearer abc");
                    let (status, body) = match (method, path) {
                        ("POST", "/login") if text.ends_with(r#"{"user":"probe"}"#) => {
                            (200, r#"{"token": "abc", "session": {"id": 42}}"#)
                        }
                        ("POST", "/login") => (400, "bad login"),
                        ("GET", "/playlist/42") if authorized => (200, "playlist: Morning Mix"),
                        ("GET", "/playlist/42") => (401, "who are you"),
                        _ => (404, "no route"),
                    };
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(reply.as_bytes()).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        port
    }

    fn step(name: &str, method: &str, url: &str) -> StepDef {
        StepDef {
            name: Some(name.into()),
            method: Some(method.into()),
            url: url.into(),
            ..StepDef::default()
        }
    }

    fn flow(port: u16, token_pointer: &str) -> ProbeDef {
        let mut login = step("log in", "POST", "/login");
        login.body = Some(r#"{"user":"probe"}"#.into());
        login.capture.insert("token".into(), token_pointer.into());
        login.capture.insert("session".into(), "/session/id".into());
        let mut playlist = step("fetch playlist", "GET", "/playlist/${session}");
        playlist
            .headers
            .insert("Authorization".into(), "Bearer ${token}".into());
        playlist.body_contains = Some("Morning Mix".into());
        playlist
            .capture_regex
            .insert("title".into(), "playlist: (\\w+)".into());
        let mut again = step("again", "GET", "/playlist/42");
        again
            .headers
            .insert("authorization".into(), "Bearer ${token}".into());
        again.headers.insert("x-title".into(), "${title}".into());
        again.body_contains = Some("Morning".into());
        let mut d = ProbeDef::new(ProbeKind::Flow, format!("http://127.0.0.1:{port}"));
        d.flow.step = vec![login, playlist, again];
        d
    }

    #[tokio::test]
    async fn steps_capture_and_pass_values_on() {
        let port = api_server().await;
        let prober = Prober::builder()
            .nameservers(vec!["127.0.0.1:9".parse().expect("addr")])
            .build()
            .expect("prober");
        let r = probe(
            &ProbeSpec::parse(flow(port, "/token")).expect("spec"),
            &prober,
        )
        .await;
        assert_eq!(r.outcome, Outcome::Up, "{}", r.explanation());
        assert_eq!(r.steps.len(), 3);
        assert_eq!(r.steps[1].name, "fetch playlist");
        assert_eq!(r.steps[1].http_status, Some(200));
        assert!(
            r.steps
                .iter()
                .all(|s| s.timings.connect.is_some() && s.timings.ttfb.is_some())
        );
        assert_eq!(
            r.explanation().split(" in ").next(),
            Some("up: 3 steps passed")
        );

        // A wrong token (the session id captured in its place) fails step 2, by name.
        let r = probe(
            &ProbeSpec::parse(flow(port, "/session/id")).expect("spec"),
            &prober,
        )
        .await;
        assert_eq!(
            (r.outcome, r.cause, r.detail),
            (Outcome::Down, Some(Cause::Http4xx), Some(Detail::Status))
        );
        assert_eq!(r.http_status, Some(401));
        assert_eq!(r.steps.len(), 2, "the third step never ran");
        let words = r.explanation();
        assert!(
            words.contains("step 2 of 3, 'fetch playlist': HTTP 401"),
            "{words}"
        );

        // A capture that finds nothing fails its own step.
        let r = probe(
            &ProbeSpec::parse(flow(port, "/nope")).expect("spec"),
            &prober,
        )
        .await;
        assert_eq!(r.detail, Some(Detail::JsonMismatch), "{}", r.explanation());
        assert!(
            r.explanation().contains("step 1 of 3, 'log in'"),
            "{}",
            r.explanation()
        );
    }

    #[test]
    fn uncaptured_variables_and_bad_steps_are_refused_naming_the_step() {
        let base = || flow(1, "/token");
        let with = |f: fn(&mut ProbeDef)| {
            let mut d = base();
            f(&mut d);
            d
        };
        let cases: Vec<(ProbeDef, &str, &str)> = vec![
            (
                with(|d| d.flow.step[0].capture.clear()),
                "step[1].url",
                "${session} is not captured by an earlier step",
            ),
            (
                with(|d| {
                    d.flow.step[1].url = "/playlist/42".into();
                    d.flow.step[0].capture.remove("token");
                }),
                "step[1].headers",
                "${token} is not captured",
            ),
            (
                with(|d| d.flow.step.swap(1, 2)),
                "step[1].headers",
                "${title} is not captured",
            ),
            (
                with(|d| d.flow.step[2].body = Some("${later}".into())),
                "step[2].body",
                "${later} is not captured",
            ),
            (
                with(|d| d.flow.step[0].url = "login".into()),
                "step[0].url",
                "path",
            ),
            (
                with(|d| d.flow.step[0].url = "/a/${x".into()),
                "step[0].url",
                "closing",
            ),
            (
                with(|d| d.flow.step[1].method = Some("GE T".into())),
                "step[1].method",
                "",
            ),
            (
                with(|d| d.flow.step[0].expect_status = Some("2x".into())),
                "step[0].expect_status",
                "",
            ),
            (
                with(|d| {
                    d.flow.step[1].capture_regex.insert("t".into(), "(".into());
                }),
                "step[1].capture_regex",
                "",
            ),
            (
                with(|d| {
                    d.flow.step[0]
                        .capture
                        .insert("bad name".into(), "/x".into());
                }),
                "step[0].capture",
                "",
            ),
            (with(|d| d.flow.step.clear()), "step", "at least one"),
            (with(|d| d.target = "ftp://x".into()), "target", ""),
        ];
        for (d, field, words) in cases {
            let err = match ProbeSpec::parse(d) {
                Ok(_) => panic!("{field}: accepted"),
                Err(e) => e,
            };
            assert_eq!(err.field(), field, "{err}");
            assert!(err.to_string().contains(words), "{field}: {err}");
        }
        // Steps are refused on other kinds.
        let mut http = ProbeDef::new(ProbeKind::Http, "http://x/");
        http.flow.step = vec![step("a", "GET", "/")];
        assert_eq!(ProbeSpec::parse(http).expect_err("http").field(), "step");
    }

    #[test]
    fn substitution_fills_known_names_only() {
        let vals = |n: &str| (n == "a").then(|| "1".to_owned());
        assert_eq!(substitute("x${a}y${b}z${", &vals), "x1y${b}z${");
        assert_eq!(variables("${a}/${b_c}").expect("vars"), ["a", "b_c"]);
        assert!(variables("${a b}").is_err());
    }
}
