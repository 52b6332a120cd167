//! The on-call operator and the storyteller: flips Melodia's faults on the story's schedule,
//! and runs the incident through Downbeat's HTTP API with an editor's token — publishes the
//! draft (the acknowledgement), posts the story's updates, and resolves once Downbeat itself
//! says the signals have recovered.

use crate::faults::Faults;
use crate::narrate::{Narrator, Seen};
use crate::scenario::Story;
use downbeat_domain::Clock;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The operator waits this long after Downbeat says "recovered" before resolving.
const RESOLVE_AFTER_RECOVERY_MIN: i64 = 15;

/// Why a call to Downbeat's API did not do what the operator asked.
#[derive(Debug, thiserror::Error)]
pub enum ApiCallError {
    #[error("{method} {path}: {source}")]
    Transport {
        method: reqwest::Method,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{method} {path}: HTTP {status}: {body}")]
    Refused {
        method: reqwest::Method,
        path: String,
        status: reqwest::StatusCode,
        body: Value,
    },
    #[error("{0}: the answer has no incident id")]
    NoId(Value),
}

/// A client of Downbeat's API with the operator's token.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Api {
    async fn get(&self, path: &str) -> Result<Value, ApiCallError> {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, ApiCallError> {
        self.call(method, path, Some(body)).await
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiCallError> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = &body {
            req = req.json(body);
        }
        let transport = |source| ApiCallError::Transport {
            method: method.clone(),
            path: path.to_owned(),
            source,
        };
        let r = req.send().await.map_err(transport)?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            Err(ApiCallError::Refused {
                method,
                path: path.to_owned(),
                status,
                body,
            })
        }
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, ApiCallError> {
        self.send(reqwest::Method::POST, path, body).await
    }
}

/// Everything the story needs.
pub struct Script {
    pub story: &'static Story,
    pub clock: Arc<dyn Clock>,
    pub onset: Timestamp,
    pub faults: Arc<Faults>,
    pub api: Api,
    /// The deployment pipeline's client (a deployer token).
    pub pipeline: Api,
    pub narrator: Narrator,
}

impl Script {
    /// The pipeline records a change, with the time it took effect, as a real one would when
    /// it finishes a rollout.
    async fn record(&self, d: &crate::scenario::Deploy) {
        // When it took effect, on the story's clock: a loop that runs late on a busy machine
        // must not move the deploy.
        let at = self.onset + jiff::SignedDuration::from_mins(i64::from(d.at));
        let body = json!({
            "kind": d.kind, "component": d.component, "version": d.version, "title": d.title,
            "at": at.to_string(),
        });
        match self
            .pipeline
            .post("/api/v1/services/melodia/changes", body)
            .await
        {
            Ok(_) => self.narrator.say(
                "PIPELINE",
                &format!("{} {} recorded: {}", d.kind, d.version, d.title),
            ),
            Err(e) => self
                .narrator
                .say("PIPELINE", &format!("could not record a change: {e}")),
        }
    }

    fn minutes_after_onset(&self) -> f64 {
        (self.clock.now().as_millisecond() - self.onset.as_millisecond()) as f64 / 60_000.0
    }

    /// Runs the story to its end (the incident resolved), narrating; then keeps narrating
    /// until the caller drops it.
    pub async fn run(self) {
        let tick = self
            .clock
            .real(Duration::from_secs(20), Duration::from_millis(25));
        let mut seen = Seen::default();
        let mut step = 0;
        let mut change = 0;
        let mut say = 0;
        let mut incident: Option<i64> = None;
        let mut acknowledged = false;
        let mut resolved = false;
        loop {
            let t = self.minutes_after_onset();
            let changes = self.story.changes;
            while change < changes.len() && t >= f64::from(changes[change].at) {
                self.record(&changes[change]).await;
                change += 1;
            }
            let steps = self.story.steps;
            while step < steps.len() && t >= f64::from(steps[step].at) {
                let s = &steps[step];
                self.faults.set(s.fault, s.on);
                self.narrator.say(
                    if step == 0 { "ONSET" } else { "MELODIA" },
                    &format!(
                        "{} (injected fault: {} {})",
                        s.what,
                        s.fault,
                        if s.on { "on" } else { "off" }
                    ),
                );
                step += 1;
            }
            self.watch(&mut seen).await;
            if incident.is_none() {
                incident = self.open_incident().await;
            }
            if !acknowledged && t >= f64::from(self.story.acknowledge_at) {
                match self.acknowledge(incident).await {
                    Ok(id) => {
                        incident = Some(id);
                        acknowledged = true;
                    }
                    Err(e) => self
                        .narrator
                        .say("OPERATOR", &format!("could not acknowledge: {e}")),
                }
            }
            if let (true, Some(id)) = (acknowledged, incident) {
                let updates = self.story.updates;
                while say < updates.len() && t >= f64::from(updates[say].at) && !resolved {
                    let u = &updates[say];
                    if let Err(e) = self
                        .api
                        .post(
                            &format!("/api/v1/incidents/{id}/updates"),
                            json!({"status": u.status, "message": u.message}),
                        )
                        .await
                    {
                        self.narrator
                            .say("OPERATOR", &format!("could not post an update: {e}"));
                    }
                    say += 1;
                }
                if !resolved && step == steps.len() && self.ready_to_resolve(id).await {
                    match self.resolve(id).await {
                        Ok(()) => resolved = true,
                        Err(e) => self
                            .narrator
                            .say("OPERATOR", &format!("could not resolve: {e}")),
                    }
                }
            }
            if resolved {
                // One more look so the resolution is told, then the epilogue.
                self.watch(&mut seen).await;
                self.narrator.say(
                    "END",
                    "Melodia has recovered and the incident is resolved. The status page, its \
                     history and the post-mortem stay up; ordinary traffic goes on. Ctrl-C to stop.",
                );
                break;
            }
            tokio::time::sleep(tick).await;
        }
        // The story is over: keep telling changes (a quiet day) at a calmer pace.
        loop {
            tokio::time::sleep(tick * 5).await;
            self.watch(&mut seen).await;
        }
    }

    /// Reads Downbeat's API and tells what changed.
    async fn watch(&self, seen: &mut Seen) {
        if let Ok(s) = self.api.get("/api/v1/services/melodia/status").await {
            seen.crowd(&self.narrator, &s);
        }
        if let Ok(m) = self.api.get("/api/v1/services/melodia/monitors").await {
            seen.monitors(&self.narrator, &m);
        }
        if let Ok(i) = self
            .api
            .get("/api/v1/services/melodia/incidents?drafts=true&limit=20")
            .await
        {
            seen.incidents(&self.narrator, &i);
        }
    }

    /// The open incident (a draft Downbeat made, most likely), if any.
    async fn open_incident(&self) -> Option<i64> {
        let list = self
            .api
            .get("/api/v1/services/melodia/incidents?drafts=true&open=true&limit=1")
            .await
            .ok()?;
        list["incidents"][0]["id"].as_i64()
    }

    /// Publishes the draft with the acknowledgement; without a draft, opens an incident.
    async fn acknowledge(&self, incident: Option<i64>) -> Result<i64, ApiCallError> {
        let message = self.story.acknowledgement;
        match incident {
            Some(id) => {
                let i = self.api.get(&format!("/api/v1/incidents/{id}")).await?;
                if i["draft"].as_bool() == Some(true) {
                    self.api
                        .post(&format!("/api/v1/incidents/{id}/publish"), json!({}))
                        .await?;
                }
                self.api
                    .post(
                        &format!("/api/v1/incidents/{id}/updates"),
                        json!({"status": "investigating", "message": message}),
                    )
                    .await?;
                Ok(id)
            }
            None => {
                self.narrator.say(
                    "OPERATOR",
                    "no draft yet: the operator opens an incident by hand",
                );
                let i = self
                    .api
                    .post(
                        "/api/v1/services/melodia/incidents",
                        json!({
                            "title": "Problems with Melodia",
                            "status": "investigating",
                            "impact": "major",
                            "message": message,
                        }),
                    )
                    .await?;
                i["id"].as_i64().ok_or(ApiCallError::NoId(i))
            }
        }
    }

    /// Downbeat marked the incident recovered (crowd and probes back to normal) a while ago.
    async fn ready_to_resolve(&self, id: i64) -> bool {
        let Ok(i) = self.api.get(&format!("/api/v1/incidents/{id}")).await else {
            return false;
        };
        let recovered = i["recovered_at"]
            .as_str()
            .and_then(|s| s.parse::<Timestamp>().ok());
        recovered.is_some_and(|r| {
            self.clock.now().as_millisecond() - r.as_millisecond()
                >= RESOLVE_AFTER_RECOVERY_MIN * 60_000
        })
    }

    async fn resolve(&self, id: i64) -> Result<(), ApiCallError> {
        let components: serde_json::Map<String, Value> = ["login", "playback", "library"]
            .iter()
            .map(|c| ((*c).to_owned(), json!("operational")))
            .collect();
        self.api
            .post(
                &format!("/api/v1/incidents/{id}/updates"),
                json!({
                    "status": "resolved",
                    "message": self.story.resolution,
                    "components": components,
                }),
            )
            .await?;
        self.api
            .send(
                reqwest::Method::PUT,
                &format!("/api/v1/incidents/{id}/postmortem"),
                json!({"markdown": self.story.postmortem}),
            )
            .await?;
        Ok(())
    }
}
