//! [`Prober`]: what thousands of probes share — the resolver and the TLS configurations —
//! built once, cloned by reference count.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hyper::header::HeaderValue;
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

use crate::certificate::RecordingVerifier;
use crate::kind::tls::{CaBundle, TlsOptions};
use crate::stall::{Reading, StallMeter};

/// Why a [`Prober`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProberError {
    /// The system resolver configuration (`/etc/resolv.conf`) could not be read.
    #[error("cannot read the system resolver configuration: {0}")]
    SystemResolver(String),
    /// The resolver could not be built.
    #[error("cannot build the DNS resolver: {0}")]
    Resolver(String),
    /// The TLS configuration could not be built (e.g. an extra root is not a CA certificate).
    #[error("cannot build the TLS configuration: {0}")]
    Tls(String),
}

/// Shared probing machinery. Cloning is cheap (one reference count); build one per process and
/// hand clones to every task.
///
/// Nothing is rebuilt per probe: the resolver and the verifier with its root store live here;
/// a TLS probe only clones the small `ClientConfig` to attach a per-connection
/// recording verifier (which keeps the rejected certificate for diagnosis).
#[derive(Clone)]
pub struct Prober {
    inner: Arc<Inner>,
}

struct Inner {
    resolver: TokioResolver,
    /// Resolver options for the per-address resolvers of DNS probes.
    resolver_opts: ResolverOpts,
    provider: Arc<CryptoProvider>,
    public_roots: bool,
    /// Roots given to the builder, kept to combine with per-probe CAs.
    extra_roots: Vec<CertificateDer<'static>>,
    default_tls: TlsBase,
    /// TLS bases for probes that bring their own CA, keyed by the PEM text.
    extra_tls: Mutex<HashMap<Arc<str>, TlsBase>>,
    /// Resolvers for DNS probes that name their own server.
    dns_resolvers: Mutex<HashMap<SocketAddr, TokioResolver>>,
    user_agent: HeaderValue,
    /// The time this runtime could not run (absent when built outside a runtime).
    stall: Option<StallMeter>,
}

/// A client config without session resumption plus the webpki verifier it delegates to.
#[derive(Clone)]
pub(crate) struct TlsBase {
    config: Arc<ClientConfig>,
    webpki: Arc<WebPkiServerVerifier>,
}

impl TlsBase {
    /// A config for one connection whose verifier records the certificate and the verdict.
    pub(crate) fn for_connection(
        &self,
        alpn: &[&[u8]],
    ) -> (Arc<ClientConfig>, Arc<RecordingVerifier>) {
        let recorder = Arc::new(RecordingVerifier::new(self.webpki.clone()));
        let mut config = ClientConfig::clone(&self.config);
        config
            .dangerous()
            .set_certificate_verifier(recorder.clone());
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        (Arc::new(config), recorder)
    }
}

/// Builds a [`Prober`].
pub struct ProberBuilder {
    nameservers: Option<Vec<SocketAddr>>,
    public_roots: bool,
    extra_roots: Vec<CertificateDer<'static>>,
    user_agent: String,
    dns_timeout: Duration,
}

impl Default for ProberBuilder {
    fn default() -> Self {
        ProberBuilder {
            nameservers: None,
            public_roots: true,
            extra_roots: Vec::new(),
            user_agent: concat!("downbeat-probe/", env!("CARGO_PKG_VERSION")).to_string(),
            dns_timeout: Duration::from_secs(3),
        }
    }
}

impl ProberBuilder {
    /// Resolve through these servers instead of the system's (`/etc/resolv.conf`). Tests must
    /// use this with a loopback server so that they never touch the network.
    pub fn nameservers(mut self, servers: Vec<SocketAddr>) -> Self {
        self.nameservers = Some(servers);
        self
    }

    /// Trust only [`ProberBuilder::extra_roots_pem`] and per-probe CAs, not the public webpki
    /// roots (for closed networks).
    pub fn without_public_roots(mut self) -> Self {
        self.public_roots = false;
        self
    }

    /// CA certificates (PEM) trusted by every TLS probe, on top of the public roots.
    pub fn extra_roots_pem(mut self, pem: &str) -> Result<Self, ProberError> {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            self.extra_roots
                .push(cert.map_err(|e| ProberError::Tls(format!("extra roots: {e}")))?);
        }
        Ok(self)
    }

    /// The `User-Agent` of HTTP probes.
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    /// How long the resolver waits for one answer before it retries (the probe's own timeout
    /// still bounds the whole lookup).
    pub fn dns_timeout(mut self, timeout: Duration) -> Self {
        self.dns_timeout = timeout;
        self
    }

    /// Builds the prober. Needs a tokio runtime (the resolver's I/O runs on it).
    pub fn build(self) -> Result<Prober, ProberError> {
        let (config, mut opts) = match &self.nameservers {
            None => hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| ProberError::SystemResolver(e.to_string()))?,
            Some(servers) => (
                ResolverConfig::from_name_servers(
                    servers.iter().map(|&a| name_server(a)).collect(),
                ),
                ResolverOpts::default(),
            ),
        };
        // A probe must see the DNS as it is now: no answer cache hiding a broken zone.
        opts.cache_size = 0;
        opts.timeout = self.dns_timeout;
        opts.attempts = 1;
        opts.ip_strategy = LookupIpStrategy::Ipv4thenIpv6;
        if self.nameservers.is_some() {
            opts.use_hosts_file = ResolveHosts::Never;
        }
        let resolver = build_resolver(config, opts.clone())?;
        let mut dns_opts = opts;
        dns_opts.use_hosts_file = ResolveHosts::Never;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| ProberError::Tls("the user agent is not a valid header value".into()))?;
        let default_tls = tls_base(&provider, self.public_roots, &self.extra_roots, &[])?;
        Ok(Prober {
            inner: Arc::new(Inner {
                resolver,
                resolver_opts: dns_opts,
                provider,
                public_roots: self.public_roots,
                extra_roots: self.extra_roots,
                default_tls,
                extra_tls: Mutex::new(HashMap::new()),
                dns_resolvers: Mutex::new(HashMap::new()),
                user_agent,
                stall: StallMeter::start(),
            }),
        })
    }
}

fn name_server(addr: SocketAddr) -> NameServerConfig {
    let mut ns = NameServerConfig::udp(addr.ip());
    for c in &mut ns.connections {
        c.port = addr.port();
    }
    ns
}

fn build_resolver(
    config: ResolverConfig,
    opts: ResolverOpts,
) -> Result<TokioResolver, ProberError> {
    hickory_resolver::Resolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .map_err(|e| ProberError::Resolver(e.to_string()))
}

fn tls_base(
    provider: &Arc<CryptoProvider>,
    public_roots: bool,
    extra: &[CertificateDer<'static>],
    more: &[CertificateDer<'static>],
) -> Result<TlsBase, ProberError> {
    let mut roots = RootCertStore::empty();
    if public_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for cert in extra.iter().chain(more) {
        roots
            .add(cert.clone())
            .map_err(|e| ProberError::Tls(format!("extra root: {e}")))?;
    }
    if roots.is_empty() {
        return Err(ProberError::Tls("no trusted root at all".into()));
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| ProberError::Tls(e.to_string()))?;
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ProberError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(webpki.clone())
        .with_no_client_auth();
    // A resumed session skips certificate verification, and a probe exists to verify it.
    config.resumption = Resumption::disabled();
    Ok(TlsBase {
        config: Arc::new(config),
        webpki,
    })
}

impl Prober {
    /// A prober using the system resolver and the public webpki roots.
    pub fn new() -> Result<Self, ProberError> {
        Prober::builder().build()
    }

    /// A prober resolving through `resolvers` (`ip:port`), or through the system's
    /// configuration when there are none. A system without a usable `/etc/resolv.conf` gets
    /// the local stub resolver 127.0.0.53 instead of no probes at all (said in a warning).
    pub fn with_resolvers(resolvers: &[SocketAddr]) -> Result<Self, ProberError> {
        if !resolvers.is_empty() {
            return Prober::builder().nameservers(resolvers.to_vec()).build();
        }
        Prober::new().or_else(|e| {
            tracing::warn!(error = %e, "system resolver unavailable; resolving through 127.0.0.53");
            Prober::builder()
                .nameservers(vec![SocketAddr::from(([127, 0, 0, 53], 53))])
                .build()
        })
    }

    /// A builder with the defaults of [`Prober::new`].
    pub fn builder() -> ProberBuilder {
        ProberBuilder::default()
    }

    pub(crate) fn resolver(&self) -> &TokioResolver {
        &self.inner.resolver
    }

    /// Where the stall meter stands (see [`crate::stall`]).
    pub(crate) fn stall_reading(&self) -> Option<Reading> {
        self.inner.stall.as_ref().map(StallMeter::reading)
    }

    /// How long this runtime could not run since `start`.
    pub(crate) fn stalled_since(&self, start: Option<Reading>) -> Duration {
        match (&self.inner.stall, start) {
            (Some(meter), Some(start)) => meter.since(start),
            _ => Duration::ZERO,
        }
    }

    pub(crate) fn user_agent(&self) -> &HeaderValue {
        &self.inner.user_agent
    }

    /// The resolver for a DNS probe that names its server, built on first use.
    pub(crate) fn resolver_at(&self, addr: SocketAddr) -> Result<TokioResolver, ProberError> {
        let mut map = self
            .inner
            .dns_resolvers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = map.get(&addr) {
            return Ok(r.clone());
        }
        let r = build_resolver(
            ResolverConfig::from_name_servers(vec![name_server(addr)]),
            self.inner.resolver_opts.clone(),
        )?;
        map.insert(addr, r.clone());
        Ok(r)
    }

    /// The TLS base for these options: the shared default, or one per extra CA bundle.
    pub(crate) fn tls_base(&self, opts: &TlsOptions) -> Result<TlsBase, ProberError> {
        let Some(CaBundle { pem, certs }) = &opts.extra_roots else {
            return Ok(self.inner.default_tls.clone());
        };
        let mut map = self
            .inner
            .extra_tls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(base) = map.get(pem) {
            return Ok(base.clone());
        }
        let base = tls_base(
            &self.inner.provider,
            self.inner.public_roots,
            &self.inner.extra_roots,
            certs,
        )?;
        map.insert(pem.clone(), base.clone());
        Ok(base)
    }
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober")
            .field("public_roots", &self.inner.public_roots)
            .finish_non_exhaustive()
    }
}
