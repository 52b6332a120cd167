//! The whole product: the stages, with the JSON API, the public pages and the admin area
//! merged into one router.

use crate::app::{Running, serve_app, start};
use downbeat_api::App;
use downbeat_config::Config;
use downbeat_domain::Clock;
use downbeat_store::{Store, StoreError};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Downbeat, started and ready to serve.
pub struct Downbeat {
    /// The stages' handles (tests step jobs and read state through it).
    pub app: App,
    pub running: Running,
    /// The public pages' handle (tests refresh them instead of waiting for the refresher).
    pub pages: downbeat_web::Pages,
    /// The JSON API, the pages and the admin area.
    pub router: axum::Router,
}

/// Starts every stage (see [`start`]), writes the config file's `[[user]]` tables to the
/// store, and builds the router of the whole product.
pub async fn build(
    config: Arc<Config>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> Result<Downbeat, StoreError> {
    let (app, running) = start(config, store, clock).await?;
    downbeat_admin::sync_config_users(&app).await?;
    // The JSON API, the public pages and the admin area share one listener and one app.
    let pages = downbeat_web::Pages::new(app.clone());
    let router = downbeat_api::router(app.clone())
        .merge(pages.router())
        .merge(downbeat_admin::router(app.clone()));
    Ok(Downbeat {
        app,
        running,
        pages,
        router,
    })
}

impl Downbeat {
    /// Serves on `listener` until `shutdown` completes, then drains and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        serve_app(self.app, self.running, self.router, listener, shutdown).await
    }
}
