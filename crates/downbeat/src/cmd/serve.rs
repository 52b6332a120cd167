//! `downbeat serve`: the server, until SIGTERM or ctrl-c.

use crate::cli::ServeArgs;
use anyhow::Context;
use downbeat_domain::SystemClock;
use std::net::SocketAddr;
use std::sync::Arc;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = super::load_config(args.store.config.as_deref())?;
    let (target, _data_dir) = super::store_target(&args.store, &config)?;
    let listen: SocketAddr = args
        .listen
        .or(config.server.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        tracing::info!(store = ?target, "opening store");
        let store = downbeat_store::open_with(&target, super::pg_timeouts(&config))
            .await
            .context("opening the store")?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let downbeat = downbeat_server::build(Arc::new(config), store, Arc::new(SystemClock))
            .await
            .context("starting the server")?;
        tokio::spawn(reload_on_hangup(downbeat.app.clone()));
        downbeat
            .serve(listener, shutdown_signal())
            .await
            .context("serving")
    })
}

/// Reads the config file again at every SIGHUP. A file that does not validate changes
/// nothing; its error goes to the log and the admin dashboard.
pub(crate) async fn reload_on_hangup(app: downbeat_api::App) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: reload with POST /api/v1/admin/reload");
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reading the config file again");
            // What a reload refuses is logged inside.
            let _ = downbeat_api::manage::reload(&app).await;
        }
    }
    #[cfg(not(unix))]
    let _ = app;
}

/// Completes on ctrl-c or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("ctrl-c: shutting down"),
        () = term => tracing::info!("SIGTERM: shutting down"),
    }
}
