//! How the pool's connections are made, so that a database that stops answering costs a
//! request a bounded wait (then a 503), never a hang, and so that TLS is real:
//!
//! - **Timeouts** ([`PgTimeouts`]): the whole connection (TCP, TLS, start-up, sign-in) within
//!   `connect`; every statement cancelled by the server after `statement` (its
//!   `statement_timeout`); and a watchdog on each connection ([`Watched`]) that fails it when
//!   the server owes an answer and has sent nothing for `statement + connect` — a stopped
//!   server, a dead network path or a listener that accepts and never speaks, which no server
//!   setting can catch. A failed connection fails its pending statements (the store says
//!   *unavailable*) and leaves the pool.
//! - **TLS** from the URL, as libpq reads it: `sslmode` = `disable`, `prefer` (the default:
//!   TLS when the server offers it, unverified), `require` (TLS, unverified — or verified
//!   against `sslrootcert` when given), `verify-ca` (the chain), `verify-full` (the chain
//!   and the host name); `sslrootcert` names a PEM file of CA certificates, or `system` for
//!   the public roots (also the default of the verifying modes). rustls, the workspace's one
//!   TLS stack. Unix sockets never use TLS (as in libpq).
//!
//! The connection is opened here and handed to tokio-postgres as a ready stream
//! (`connect_raw`), which is what lets the watchdog see every message.

use super::super::StoreError;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, NoTls};

/// How long the store waits for PostgreSQL (`[server] database_connect_timeout` and
/// `database_statement_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgTimeouts {
    /// A new connection: TCP, TLS, start-up and sign-in together (default 5 s). A URL's
    /// own `connect_timeout` wins.
    pub connect: Duration,
    /// One statement, after which the server cancels it (default 30 s). A server silent
    /// for this plus `connect` while it owes an answer loses the connection.
    pub statement: Duration,
}

impl Default for PgTimeouts {
    fn default() -> Self {
        PgTimeouts {
            connect: Duration::from_secs(5),
            statement: Duration::from_secs(30),
        }
    }
}

/// The URL's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(s: &str) -> Result<Mode, StoreError> {
        Ok(match s {
            "disable" => Mode::Disable,
            "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            other => {
                return Err(StoreError::Config(format!(
                    "sslmode `{other}` is not one of disable, prefer, require, verify-ca, verify-full"
                )));
            }
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        }
    }
}

/// A connection's I/O half, as [`Connector::open_driven`] hands it over.
pub(crate) type PgConnection =
    tokio_postgres::Connection<Watched<Socket>, tokio_postgres::tls::NoTlsStream>;

/// Everything needed to open one connection; the pool's [`deadpool_postgres::Connect`].
pub(crate) struct Connector {
    mode: Mode,
    /// None with `disable`.
    tls: Option<tokio_rustls::TlsConnector>,
    timeouts: PgTimeouts,
}

/// Reads `url` into the tokio-postgres config (without the TLS keys it does not know) and
/// the connector that honours them.
pub(crate) fn settings(url: &str, timeouts: PgTimeouts) -> Result<(Config, Connector), StoreError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = Mode::Prefer;
    let mut root: Option<String> = None;
    let mut rest: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = Mode::parse(&percent_decoded(value))?,
            "sslrootcert" => root = Some(percent_decoded(value)),
            "sslnegotiation" if value != "postgres" => {
                return Err(StoreError::Config(
                    "sslnegotiation: only `postgres` (the TLS request) is supported".into(),
                ));
            }
            "sslnegotiation" => {}
            _ => rest.push(pair),
        }
    }
    let plain = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    // The URL may hold a password: errors describe it, never echo it.
    let mut config: Config = plain
        .parse()
        .map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {}", chain(&e))))?;
    // TLS is negotiated here, before tokio-postgres sees the stream.
    config.ssl_mode(SslMode::Disable);
    // This node announces its own writes (see `announce`), so the triggers need not.
    let options = match config.get_options() {
        Some(given) => format!("{given} {}", super::announce::SETTING),
        None => super::announce::SETTING.to_owned(),
    };
    config.options(&options);
    if mode == Mode::Require && root.is_some() {
        mode = Mode::VerifyCa; // libpq: a root certificate makes `require` verify the chain
    }
    let tls = match mode {
        Mode::Disable => None,
        Mode::Prefer | Mode::Require => Some(client_config(Arc::new(Unverified(provider())))),
        Mode::VerifyCa | Mode::VerifyFull => {
            let roots = Arc::new(roots(root.as_deref())?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, Arc::new(provider()))
                .build()
                .map_err(|e| StoreError::Config(format!("sslrootcert: {e}")))?;
            Some(client_config(if mode == Mode::VerifyCa {
                Arc::new(ChainOnly(webpki))
            } else {
                webpki
            }))
        }
    };
    let timeouts = PgTimeouts {
        connect: config
            .get_connect_timeout()
            .copied()
            .unwrap_or(timeouts.connect),
        ..timeouts
    };
    Ok((
        config,
        Connector {
            mode,
            tls: tls.map(|c| tokio_rustls::TlsConnector::from(Arc::new(c))),
            timeouts,
        },
    ))
}

impl Connector {
    pub(crate) fn timeouts(&self) -> PgTimeouts {
        self.timeouts
    }

    /// A connection, signed in and with its statement timeout set, or why not.
    async fn open(
        &self,
        config: &Config,
    ) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
        self.open_driven(config, |connection| {
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %chain(&e), "PostgreSQL connection lost");
                }
            })
        })
        .await
    }

    /// [`Connector::open`], with the connection's I/O driven by the task `drive` starts
    /// (the change feed reads the server's notifications from it).
    pub(crate) async fn open_driven(
        &self,
        config: &Config,
        drive: impl FnOnce(PgConnection) -> JoinHandle<()>,
    ) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
        let limit = self.timeouts.connect;
        let made = tokio::time::timeout(limit, async {
            let stream = self.stream(config).await.map_err(Failure::Io)?;
            let (client, connection) = config
                .connect_raw(stream, NoTls)
                .await
                .map_err(Failure::Pg)?;
            let task = drive(connection);
            let ms = self.timeouts.statement.as_millis();
            client
                .batch_execute(&format!("SET statement_timeout = {ms}"))
                .await
                .map_err(Failure::Pg)?;
            Ok::<_, Failure>((client, task))
        })
        .await;
        let failure = match made {
            Ok(Ok(connected)) => return Ok(connected),
            Ok(Err(f)) => f,
            Err(_) => Failure::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection within {} (connect timeout)", secs(limit)),
            )),
        };
        Err(match failure {
            Failure::Pg(e) => e,
            Failure::Io(e) => as_pg_error(e).await,
        })
    }

    /// The first host of the URL that takes a connection: TCP (with TLS as `sslmode` says)
    /// or a Unix socket, watched.
    async fn stream(&self, config: &Config) -> io::Result<Watched<Socket>> {
        let hosts = config.get_hosts();
        let addrs = config.get_hostaddrs();
        let ports = config.get_ports();
        let n = hosts.len().max(addrs.len());
        if n == 0 {
            return Err(io::Error::other("the URL names no host"));
        }
        let reply_limit = self.timeouts.statement + self.timeouts.connect;
        let mut last = io::Error::other("no host answered");
        for i in 0..n {
            let port = match ports {
                [one] => *one,
                many => many.get(i).copied().unwrap_or(5432),
            };
            let opened = match (hosts.get(i), addrs.get(i)) {
                #[cfg(unix)]
                (Some(Host::Unix(dir)), _) => {
                    tokio::net::UnixStream::connect(dir.join(format!(".s.PGSQL.{port}")))
                        .await
                        .map(Socket::Unix)
                }
                (Some(Host::Tcp(name)), addr) => self.tcp(name, addr.copied(), port).await,
                (None, Some(addr)) => self.tcp(&addr.to_string(), Some(*addr), port).await,
                (None, None) => continue,
            };
            match opened {
                Ok(socket) => return Ok(Watched::new(socket, reply_limit)),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn tcp(
        &self,
        name: &str,
        addr: Option<std::net::IpAddr>,
        port: u16,
    ) -> io::Result<Socket> {
        let tcp = match addr {
            Some(ip) => TcpStream::connect((ip, port)).await,
            None => TcpStream::connect((name, port)).await,
        }
        .map_err(|e| io::Error::new(e.kind(), format!("connecting to {name}:{port}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        self.negotiate(tcp, name).await
    }

    /// The TLS request of the PostgreSQL protocol, then the handshake, as the mode says.
    async fn negotiate(&self, mut tcp: TcpStream, name: &str) -> io::Result<Socket> {
        let Some(tls) = &self.tls else {
            return Ok(Socket::Plain(tcp));
        };
        let mode = self.mode.as_str();
        // SSLRequest: length 8, code 80877103
        tcp.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]).await?;
        let mut answer = [0u8; 1];
        tcp.read_exact(&mut answer).await?;
        match answer[0] {
            b'S' => {}
            b'N' if self.mode == Mode::Prefer => return Ok(Socket::Plain(tcp)),
            b'N' => {
                return Err(io::Error::other(format!(
                    "the server at {name} does not offer TLS, which sslmode={mode} requires"
                )));
            }
            _ => {
                return Err(io::Error::other(format!(
                    "the server at {name} answered the TLS request with something else"
                )));
            }
        }
        let server = ServerName::try_from(name.to_owned()).map_err(|_| {
            io::Error::other(format!("`{name}` cannot be checked as a TLS server name"))
        })?;
        let stream = tls.connect(server, tcp).await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("TLS with the server at {name} failed (sslmode={mode}): {e}"),
            )
        })?;
        Ok(Socket::Tls(Box::new(stream)))
    }
}

impl deadpool_postgres::Connect for Connector {
    fn connect(
        &self,
        config: &Config,
    ) -> Pin<
        Box<
            dyn Future<Output = Result<(Client, JoinHandle<()>), tokio_postgres::Error>>
                + Send
                + '_,
        >,
    > {
        let config = config.clone();
        Box::pin(async move { self.open(&config).await })
    }
}

/// Why a connection could not be made, before it is told as tokio-postgres's error.
enum Failure {
    Io(io::Error),
    Pg(tokio_postgres::Error),
}

/// `e` as tokio-postgres's error (whose constructors are private, and which is the only
/// error the pool takes): a start-up on a stream that fails with `e` at once yields one
/// that carries `e` as its source.
async fn as_pg_error(e: io::Error) -> tokio_postgres::Error {
    let mut config = Config::new();
    config.user("downbeat").ssl_mode(SslMode::Disable);
    match config.connect_raw(Refused(Some(e)), NoTls).await {
        Err(e) => e,
        Ok(_) => unreachable!("a stream that refuses every write cannot sign in"),
    }
}

/// A stream whose every read and write fails with the error it holds.
struct Refused(Option<io::Error>);

impl Refused {
    fn error(&mut self) -> io::Error {
        self.0
            .take()
            .unwrap_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl AsyncRead for Refused {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(self.error()))
    }
}

impl AsyncWrite for Refused {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(self.error()))
    }
    fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Err(self.error()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// An error and its sources, as one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let words = cause.to_string();
        if !s.ends_with(&words) {
            s.push_str(": ");
            s.push_str(&words);
        }
        source = cause.source();
    }
    s
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// `%XX` escapes undone (a path in `sslrootcert` may be written with them).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = || std::str::from_utf8(b.get(i + 1..i + 3)?).ok();
        match (b[i], hex().and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn client_config(verifier: Arc<dyn ServerCertVerifier>) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

/// The CAs a verifying mode trusts: the PEM file `sslrootcert` names, or (absent, or
/// `system`) the public roots.
fn roots(file: Option<&str>) -> Result<RootCertStore, StoreError> {
    let mut roots = RootCertStore::empty();
    match file {
        None | Some("system") => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let bad = |why: String| StoreError::Config(format!("sslrootcert {path}: {why}"));
            let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| bad(format!("not PEM certificates ({e})")))?;
                roots.add(cert).map_err(|e| bad(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(bad("holds no certificate".into()));
            }
        }
    }
    Ok(roots)
}

/// `prefer` and `require` without a root certificate: encrypted, the certificate
/// unchecked (libpq's meaning), the handshake's signatures still verified.
#[derive(Debug)]
struct Unverified(rustls::crypto::CryptoProvider);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the host name is not compared.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain first: a name error means the chain was good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A connection's transport.
pub(crate) enum Socket {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Socket::Plain($s) => {
                let $s = Pin::new($s);
                $e
            }
            Socket::Tls($s) => {
                let $s = Pin::new(&mut **$s);
                $e
            }
            #[cfg(unix)]
            Socket::Unix($s) => {
                let $s = Pin::new($s);
                $e
            }
        }
    };
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => s.poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => s.poll_shutdown(cx))
    }
}

/// A connection whose server must not fall silent while it owes an answer.
///
/// It reads the message framing of both directions (not the contents): each start-up
/// message, simple query (`Q`) and sync (`S`) is owed one ReadyForQuery (`Z`) by the
/// server. While any is owed, `limit` without a byte from the server fails the connection
/// with `TimedOut`; an idle connection may stay silent for ever.
pub(crate) struct Watched<S> {
    inner: S,
    limit: Duration,
    timer: Pin<Box<Sleep>>,
    owed: u32,
    sent: Frames,
    received: Frames,
}

impl<S> Watched<S> {
    fn new(inner: S, limit: Duration) -> Self {
        Watched {
            inner,
            limit,
            timer: Box::pin(tokio::time::sleep(limit)),
            owed: 0,
            sent: Frames::untyped_first(),
            received: Frames::typed(),
        }
    }

    /// Restarts the silence clock and makes sure this task wakes when it runs out.
    fn rearm(&mut self, cx: &mut Context<'_>) {
        self.timer.as_mut().reset(Instant::now() + self.limit);
        let _ = self.timer.as_mut().poll(cx);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let owed = &mut this.owed;
                this.received.feed(&buf.filled()[before..], |kind| {
                    if kind == b'Z' {
                        *owed = owed.saturating_sub(1);
                    }
                });
                if this.owed > 0 && buf.filled().len() > before {
                    this.rearm(cx);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if this.owed > 0 && this.timer.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the server owes an answer and has sent nothing for {} \
                         (statement timeout + connect timeout)",
                        secs(this.limit)
                    ),
                )))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = written {
            let was = this.owed;
            let owed = &mut this.owed;
            this.sent.feed(&data[..n], |kind| {
                if matches!(kind, Frames::UNTYPED | b'Q' | b'S') {
                    *owed += 1;
                }
            });
            if was == 0 && this.owed > 0 {
                this.rearm(cx);
            }
        }
        written
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The message boundaries of one direction of the protocol: a type byte (but for the
/// client's start-up message) and a length that counts itself.
struct Frames {
    typed: bool,
    head: [u8; 5],
    have: usize,
    /// Body bytes of the current message still to come.
    left: usize,
}

impl Frames {
    /// The kind reported for the untyped start-up message.
    const UNTYPED: u8 = 0;

    fn typed() -> Self {
        Frames {
            typed: true,
            head: [0; 5],
            have: 0,
            left: 0,
        }
    }

    fn untyped_first() -> Self {
        Frames {
            typed: false,
            ..Frames::typed()
        }
    }

    /// Reads `bytes`, calling `begun` with the kind of each message whose header is read.
    fn feed(&mut self, mut bytes: &[u8], mut begun: impl FnMut(u8)) {
        while !bytes.is_empty() {
            if self.left > 0 {
                let skip = self.left.min(bytes.len());
                self.left -= skip;
                bytes = &bytes[skip..];
                continue;
            }
            let head_len = if self.typed { 5 } else { 4 };
            let take = (head_len - self.have).min(bytes.len());
            self.head[self.have..self.have + take].copy_from_slice(&bytes[..take]);
            self.have += take;
            bytes = &bytes[take..];
            if self.have == head_len {
                let (kind, len) = if self.typed {
                    (self.head[0], &self.head[1..5])
                } else {
                    (Frames::UNTYPED, &self.head[0..4])
                };
                let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
                self.left = len.saturating_sub(4);
                self.have = 0;
                self.typed = true;
                begun(kind);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_counted_across_any_split() {
        // start-up (untyped, 8 bytes), a query, a sync
        let mut wire = vec![0, 0, 0, 8, 0, 3, 0, 0];
        wire.extend([b'Q', 0, 0, 0, 8, b's', b'e', b'l', 0]);
        wire.extend([b'P', 0, 0, 0, 4]);
        wire.extend([b'S', 0, 0, 0, 4]);
        for chunk in 1..wire.len() {
            let mut f = Frames::untyped_first();
            let mut kinds = Vec::new();
            for piece in wire.chunks(chunk) {
                f.feed(piece, |k| kinds.push(k));
            }
            assert_eq!(
                kinds,
                [Frames::UNTYPED, b'Q', b'P', b'S'],
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn tls_keys_are_read_and_refused_by_name() {
        let t = PgTimeouts::default();
        let (config, c) = settings("postgres://u@h/d?sslmode=verify-full", t).expect("valid");
        assert_eq!(c.mode, Mode::VerifyFull);
        assert_eq!(config.get_ssl_mode(), SslMode::Disable);
        let (_, c) = settings("postgres://u@h/d", t).expect("valid");
        assert_eq!(c.mode, Mode::Prefer);
        let (config, c) =
            settings("postgres://u@h/d?connect_timeout=2&sslmode=disable", t).expect("valid");
        assert_eq!(c.mode, Mode::Disable);
        assert!(c.tls.is_none());
        assert_eq!(
            c.timeouts.connect,
            Duration::from_secs(2),
            "the URL's own wins"
        );
        assert_eq!(config.get_dbname(), Some("d"));
        for (url, words) in [
            ("postgres://u:pw@h/d?sslmode=strict", "sslmode `strict`"),
            (
                "postgres://u:pw@h/d?sslmode=verify-ca&sslrootcert=/nonexistent.pem",
                "sslrootcert /nonexistent.pem",
            ),
            (
                "postgres://u:pw@h/d?sslnegotiation=direct",
                "sslnegotiation",
            ),
        ] {
            let e = settings(url, t).err().expect(url).to_string();
            assert!(e.contains(words), "{url}: {e}");
            assert!(!e.contains("pw"), "{e}");
        }
        assert_eq!(percent_decoded("%2Ftmp%2Fca.pem"), "/tmp/ca.pem");
        assert_eq!(percent_decoded("100%"), "100%");
    }
}
