//! The config in force. A reload of the file, or a service, monitor or destination changed
//! through the API, replaces it whole and at once ([`Live::replace`]); every stage reads it
//! through [`Live::load`] when it needs it, so no stage keeps a copy that goes stale, and
//! those that keep state per service or monitor follow [`Live::changes`].

use crate::model::{Config, MonitorConfig, ServiceConfig};
use arc_swap::ArcSwap;
use std::sync::Arc;
use tokio::sync::watch;

/// The config in force, shared by every stage; cheap to clone.
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    current: ArcSwap<Config>,
    /// Moves at every replacement.
    generation: watch::Sender<u64>,
}

impl Live {
    pub fn new(config: impl Into<Arc<Config>>) -> Live {
        Live {
            inner: Arc::new(Inner {
                current: ArcSwap::new(config.into()),
                generation: watch::channel(0).0,
            }),
        }
    }

    /// The config in force, for reading now (a cheap guard; hold it no longer than a call).
    pub fn load(&self) -> arc_swap::Guard<Arc<Config>> {
        self.inner.current.load()
    }

    /// The config in force, to keep across awaits or to hand on.
    pub fn get(&self) -> Arc<Config> {
        self.inner.current.load_full()
    }

    /// Puts `config` in force and tells every follower.
    pub fn replace(&self, config: impl Into<Arc<Config>>) {
        self.inner.current.store(config.into());
        self.inner.generation.send_modify(|g| *g += 1);
    }

    /// How many times the config was replaced since the start.
    pub fn generation(&self) -> u64 {
        *self.inner.generation.borrow()
    }

    /// Changes from now on: `changed()` wakes once per replacement (or once for several).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.generation.subscribe()
    }
}

impl From<Config> for Live {
    fn from(config: Config) -> Live {
        Live::new(config)
    }
}

impl From<Arc<Config>> for Live {
    fn from(config: Arc<Config>) -> Live {
        Live::new(config)
    }
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("generation", &*self.inner.generation.borrow())
            .finish()
    }
}

/// One service of the config in force, kept with that config: it stays whole while a
/// replacement comes into force. Reads as a [`ServiceConfig`].
#[derive(Clone)]
pub struct ServiceRef {
    config: Arc<Config>,
    index: usize,
}

impl ServiceRef {
    /// The config this service was read from.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }
}

impl std::ops::Deref for ServiceRef {
    type Target = ServiceConfig;
    fn deref(&self) -> &ServiceConfig {
        &self.config.services[self.index]
    }
}

/// One monitor of the config in force, kept with that config. Reads as a
/// [`MonitorConfig`].
#[derive(Clone)]
pub struct MonitorRef {
    config: Arc<Config>,
    index: usize,
}

impl MonitorRef {
    /// The config this monitor was read from.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }
}

impl std::ops::Deref for MonitorRef {
    type Target = MonitorConfig;
    fn deref(&self) -> &MonitorConfig {
        &self.config.monitors[self.index]
    }
}

impl Live {
    /// Service `id` of the config in force.
    pub fn service(&self, id: &str) -> Option<ServiceRef> {
        let config = self.get();
        let index = config.service_position(id)?;
        Some(ServiceRef { config, index })
    }

    /// Monitor `id` of the config in force.
    pub fn monitor(&self, id: &str) -> Option<MonitorRef> {
        let config = self.get();
        let index = config.monitor_position(id)?;
        Some(MonitorRef { config, index })
    }
}
