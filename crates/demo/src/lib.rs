//! `downbeat demo`: the outage of DESIGN.md, live, in one process.
//!
//! It starts, on loopback and on one fast clock ([`ScaledClock`]):
//! - the Downbeat server (API, pages, admin area) on an embedded SQLite store in a
//!   temporary directory, with a config written like an operator's ([`config`]);
//! - Melodia, a fake music-streaming service over real TLS with its own DNS ([`melodia`],
//!   [`dns`]), whose faults a story switches on and off ([`faults`], [`scenario`]);
//! - probes from three regions through the real probe code: the server's own (eu-west)
//!   and two `downbeat agent`s in the same process (us-east, ap-southeast), each asking its
//!   own Melodia DNS server;
//! - simulated listeners posting reports through the HTTP API (`downbeat replay`'s sender),
//!   on a crowd baseline seeded with a week of history;
//! - the on-call operator, who works through the HTTP API with a token ([`operator`]).
//!
//! Verdicts, probe results, the probable cause, drafts and incidents all come from the
//! server's own code paths; the demo only breaks Melodia and tells the story ([`narrate`]).

pub mod certs;
pub mod config;
pub mod dns;
pub mod faults;
pub mod melodia;
pub mod narrate;
pub mod oncall;
pub mod operator;
pub mod scenario;

use anyhow::Context;
use downbeat_api::auth::{self, Role};
use downbeat_domain::{Clock, ScaledClock};
use downbeat_replay::send::{SendOptions, SignalSending, Speed};
use downbeat_replay::{Window, csv as crowd_csv};
use faults::{Faults, REGIONS};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The default pace: a simulated minute every second.
pub const DEFAULT_SPEED: f64 = 60.0;
/// The default story.
pub const DEFAULT_SCENARIO: &str = "morning-outage";
/// The admin area's user.
pub const USER: &str = "demo";

/// What `downbeat demo` was asked for.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub listen: SocketAddr,
    /// Simulated seconds per real second (1 to 3600).
    pub speed: f64,
    pub scenario: String,
}

/// Why the demo cannot start: the options (exit code 2) or the machine.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("no scenario {0:?}; the scenarios are: {1}")]
    UnknownScenario(String, String),
    #[error("--speed {0}: use a number from 1 to 3600 (simulated seconds per real second)")]
    BadSpeed(f64),
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        let dir = std::env::temp_dir().join(format!(
            "downbeat-demo-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Checks the options before anything starts.
pub fn check(opts: &DemoOptions) -> Result<&'static scenario::Story, DemoError> {
    if !(1.0..=3600.0).contains(&opts.speed) {
        return Err(DemoError::BadSpeed(opts.speed));
    }
    scenario::find(&opts.scenario).ok_or_else(|| {
        DemoError::UnknownScenario(
            opts.scenario.clone(),
            scenario::names().collect::<Vec<_>>().join(", "),
        )
    })
}

/// Runs the demo until `shutdown` completes, then stops everything and removes its data.
pub async fn run(opts: DemoOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let story = check(&opts)?;
    let dir = TempDir::new().context("creating the demo's temporary directory")?;
    let day = scenario::story_day();
    let crowd = story.crowd(day).context("building the crowd scenario")?;
    let live_from = scenario::HISTORY_DAYS * 1440 + scenario::LIVE_FROM_MIN;
    let live_start = crowd.timestamp_of(live_from);
    let onset = crowd.timestamp_of(scenario::HISTORY_DAYS * 1440 + scenario::ONSET_MIN);

    // Melodia and its DNS.
    let certs = certs::Certs::generate()?;
    let faults = Arc::new(Faults::default());
    let addrs = melodia::start(&certs, faults.clone())
        .await
        .context("starting Melodia (it needs 127.0.0.2-4 on loopback)")?;
    let dns = dns::start(faults.clone())
        .await
        .context("starting Melodia's DNS")?;

    // Downbeat's config, store, clock and baseline.
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("listening on {}", opts.listen))?;
    let base = format!("http://{}", listener.local_addr()?);
    let pager = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .await
        .context("starting the on-call pager")?;
    let pager_secret = auth::hex(&rand::random::<[u8; 16]>());
    let password = auth::hex(&rand::random::<[u8; 9]>());
    let hash = auth::hash_password(&password).map_err(anyhow::Error::msg)?;
    let config = config::load(&config::text(&config::Inputs {
        melodia: addrs,
        local_dns: dns[0],
        ca_pem: &certs.ca_pem,
        user: USER,
        password_hash: &hash,
        base: &base,
        pager: pager.local_addr()?,
        pager_secret: &pager_secret,
    }))
    .context("the demo's config")?;
    let store = downbeat_store::open(&downbeat_store::StoreTarget::Sqlite(
        dir.path().join("downbeat.db"),
    ))
    .await
    .context("opening the demo's store")?;
    let traffic = downbeat_replay::Traffic::generate(&crowd);
    let mut history = Vec::new();
    crowd_csv::write_minutes(
        &traffic,
        Window {
            from: 0,
            until: live_from,
        },
        crowd_csv::Value::Counted,
        false,
        &mut history,
    )?;
    downbeat_crowd::seed_from_csv(store.as_ref(), "melodia", &history[..], live_start)
        .await
        .context("seeding the crowd baseline")?;
    // And the week's social chatter, so the posts' series knows its usual too.
    let mut chatter = String::from("timestamp,posts\n");
    for m in 0..live_from {
        if let Some((_, posts)) = traffic.social(m) {
            chatter.push_str(&format!("{},{posts}\n", crowd.timestamp_of(m)));
        }
    }
    downbeat_crowd::seed_series_from_csv(
        store.as_ref(),
        "melodia",
        &downbeat_crowd::signal_series("social"),
        chatter.as_bytes(),
        live_start,
    )
    .await
    .context("seeding the social chatter's baseline")?;
    let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(live_start, opts.speed));

    // The server.
    let downbeat = downbeat_server::build(Arc::new(config), store.clone(), clock.clone())
        .await
        .context("starting the server")?;
    let now_ms = clock.now().as_millisecond();
    // The agents' token names the regions they probe from (the first is this server's).
    let agent_regions = REGIONS[1..]
        .iter()
        .map(|r| downbeat_domain::Slug::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    let agent_token = auth::create_token_for_regions(
        store.as_ref(),
        "demo-agents",
        Role::Agent,
        &agent_regions,
        now_ms,
    )
    .await?;
    let operator_token =
        auth::create_token(store.as_ref(), "demo-operator", Role::Editor, now_ms).await?;
    let social_token =
        auth::create_token(store.as_ref(), "demo-social", Role::Signal, now_ms).await?;
    let pipeline_token =
        auth::create_token(store.as_ref(), "demo-pipeline", Role::Deployer, now_ms).await?;
    let (stop_tx, stop) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let server = tokio::spawn(downbeat.serve(listener, stopped(stop.clone())));

    let narrator = narrate::Narrator::new(clock.clone(), onset);
    oncall::serve(pager, &pager_secret, narrator.clone());
    narrator.plain(&format!(
        "Downbeat demo — {}\n\n  Status page  {base}/s/melodia\n  Admin area   {base}/admin   (user {USER}, password {password})\n  API          {base}/api/openapi.json\n\n  The clock runs {speed}× real time: a simulated hour every {pace}. It is {now} UTC on {date}; \
         the trouble starts at {onset_hm}.\n  Listeners' reports follow a normal morning (the baseline is seeded with {days} days of history); \
         probes check Melodia every minute from {regions}.\n  Ctrl-C to stop (the demo's data is deleted).\n",
        story.title,
        speed = opts.speed,
        pace = narrate::duration((3600.0 / opts.speed).round() as i64),
        now = narrate::hhmm(clock.now()),
        date = clock.now().strftime("%Y-%m-%d"),
        onset_hm = narrate::hhmm(onset),
        days = scenario::HISTORY_DAYS,
        regions = REGIONS.join(", "),
    ));

    // Two agents in other regions, each with its own view of Melodia's DNS.
    let mut agents = Vec::new();
    for (i, region) in REGIONS.iter().enumerate().skip(1) {
        let mut o = downbeat_agent::AgentOptions::new(
            &base,
            &agent_token,
            region,
            dir.path().join(format!("agent-{region}")),
        );
        o.resolvers = vec![dns[i]];
        // They run in this process and talk to its own listener, whatever address it has.
        o.allow_plain_http = true;
        o.clock = clock.clone();
        o.flush = clock.real(Duration::from_secs(5), Duration::from_millis(25));
        o.refresh = Duration::from_secs(30);
        let agent = downbeat_agent::Agent::new(o).context("starting an agent")?;
        agents.push(tokio::spawn(agent.run(stopped(stop.clone()))));
    }

    // The listeners.
    let send_opts = SendOptions {
        base_url: base.clone(),
        service: "melodia".into(),
        speed: Speed::Times(opts.speed),
        window: Window {
            from: live_from,
            until: crowd.minutes(),
        },
        concurrency: 64,
        request_timeout: Duration::from_secs(10),
        // What listeners post about it, on the server's clock.
        signals: Some(SignalSending {
            token: social_token,
            clock: clock.clone(),
        }),
        // The story's own pipeline records its changes (see `operator`).
        changes: None,
    };
    let listeners = {
        let stop = stopped(stop.clone());
        tokio::spawn(
            async move { downbeat_replay::send::send(&crowd, &send_opts, |_| {}, stop).await },
        )
    };

    // The story.
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()?;
    let script = operator::Script {
        story,
        clock: clock.clone(),
        onset,
        faults,
        api: operator::Api {
            base: base.clone(),
            token: operator_token,
            http: http.clone(),
        },
        pipeline: operator::Api {
            base: base.clone(),
            token: pipeline_token,
            http,
        },
        narrator: narrator.clone(),
    };
    let story_task = tokio::spawn(script.run());

    shutdown.await;
    narrator.plain("\nStopping: draining the server and the agents...");
    story_task.abort();
    let _ = stop_tx.send(true);
    if let Ok(Err(e)) = listeners.await {
        tracing::debug!(error = %e, "listeners stopped");
    }
    for a in agents {
        let _ = a.await;
    }
    server.await??;
    drop(store);
    drop(dir);
    Ok(())
}
