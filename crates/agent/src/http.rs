//! The agent's HTTP client for its server: HTTP/1.1 on hyper over tokio-rustls with ring —
//! the probes' TLS stack, not a second one. Over HTTPS it trusts the public web PKI
//! (webpki roots) or, given a CA file, only the certificates in it (a private CA). Plain
//! HTTP is refused unless the server is this machine (`localhost` or a loopback address)
//! or the operator allows it explicitly: the token and every monitor's probe definition
//! (headers included) cross that connection. One connection per request, like the
//! notifier's webhooks: an agent sends about one request a second.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, InvalidDnsNameError, ServerName};
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// The most of an answer read (assignments of many monitors are the largest).
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Why the server's URL or CA cannot be used: the agent does not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("server URL `{0}` must be https://host[:port] (or http:// to this machine)")]
    Url(String),
    #[error(
        "server URL `{0}` is plain HTTP to another machine: the token and the monitors' \
         headers would cross the network in clear; use https:// (with --ca-file for a \
         private CA), or pass --allow-plain-http on a network you trust"
    )]
    PlainHttp(String),
    #[error("CA file {path}: {why}")]
    CaFile { path: PathBuf, why: String },
}

/// Why one request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("resolve {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: io::Error,
    },
    #[error("connect: {0}")]
    Connect(#[source] io::Error),
    #[error("bad TLS name: {0}")]
    TlsName(#[source] InvalidDnsNameError),
    #[error("TLS: {0}")]
    Tls(#[source] io::Error),
    #[error("request: {0}")]
    Request(#[source] hyper::http::Error),
    #[error("HTTP: {0}")]
    Protocol(#[source] hyper::Error),
    #[error("reading the answer: {0}")]
    Body(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// An answer: its status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// A client for one server.
pub struct Client {
    https: bool,
    /// The host as connected to and named in TLS (no brackets around IPv6).
    host: String,
    port: u16,
    /// `host[:port]` as written, for the Host header.
    authority: String,
    /// The URL's path without a trailing slash, prefixed to every request's path.
    prefix: String,
    tls: tokio_rustls::TlsConnector,
    bearer: String,
    user_agent: String,
    timeout: Duration,
}

/// Whether `host` is this machine: `localhost` or a loopback address.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Client {
    /// A client for `server` (`https://host[:port][/path]`, or `http://` to a loopback host
    /// or with `allow_plain_http`), trusting `ca_file`'s certificates instead of the public
    /// roots when given, sending `token` as its bearer.
    pub fn new(
        server: &str,
        ca_file: Option<&Path>,
        allow_plain_http: bool,
        token: &str,
        user_agent: &str,
        timeout: Duration,
    ) -> Result<Client, ServerError> {
        let bad = || ServerError::Url(server.to_owned());
        let uri: Uri = server.parse().map_err(|_| bad())?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad()),
        };
        let authority = uri.authority().ok_or_else(bad)?;
        if authority.as_str().contains('@') || uri.query().is_some() {
            return Err(bad());
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(bad());
        }
        if !https && !allow_plain_http && !is_loopback(&host) {
            return Err(ServerError::PlainHttp(server.to_owned()));
        }
        let roots = match ca_file {
            Some(path) => private_roots(path)?,
            None => rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
        };
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Client {
            https,
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
            authority: authority.as_str().to_owned(),
            prefix: uri.path().trim_end_matches('/').to_owned(),
            host,
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            bearer: format!("Bearer {token}"),
            user_agent: user_agent.to_owned(),
            timeout,
        })
    }

    /// `GET path` (with its query).
    pub async fn get(&self, path: &str) -> Result<Answer, HttpError> {
        self.exchange(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: Vec<u8>) -> Result<Answer, HttpError> {
        self.exchange(Method::POST, path, Some(body)).await
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, HttpError> {
        tokio::time::timeout(self.timeout, self.exchange_now(method, path, body))
            .await
            .map_err(|_| HttpError::Timeout(self.timeout))?
    }

    async fn exchange_now(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, HttpError> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::AUTHORIZATION, &self.bearer)
            .header(hyper::header::USER_AGENT, &self.user_agent)
            .header(hyper::header::ACCEPT, "application/json");
        if body.is_some() {
            req = req.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(HttpError::Request)?;
        let addrs: Vec<std::net::SocketAddr> =
            tokio::net::lookup_host((self.host.as_str(), self.port))
                .await
                .map_err(|source| HttpError::Resolve {
                    host: self.host.clone(),
                    source,
                })?
                .collect();
        let tcp = TcpStream::connect(&addrs[..])
            .await
            .map_err(HttpError::Connect)?;
        let _ = tcp.set_nodelay(true);
        if self.https {
            let name = ServerName::try_from(self.host.clone()).map_err(HttpError::TlsName)?;
            let tls = self.tls.connect(name, tcp).await.map_err(HttpError::Tls)?;
            send(TokioIo::new(tls), req).await
        } else {
            send(TokioIo::new(tcp), req).await
        }
    }
}

/// The certificates of a PEM file, as the only roots trusted.
fn private_roots(path: &Path) -> Result<rustls::RootCertStore, ServerError> {
    let err = |why: String| ServerError::CaFile {
        path: path.to_owned(),
        why,
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| err(format!("not PEM certificates: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| err(format!("not a CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(err("holds no certificate".into()));
    }
    Ok(roots)
}

async fn send<T>(io: T, req: Request<Full<Bytes>>) -> Result<Answer, HttpError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(HttpError::Protocol)?;
    let conn = tokio::spawn(conn);
    let result = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(HttpError::Protocol)?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| HttpError::Body(e.to_string()))?
            .to_bytes();
        Ok(Answer { status, body })
    }
    .await;
    conn.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(url: &str, allow: bool) -> Result<Client, ServerError> {
        Client::new(url, None, allow, "t", "test", Duration::from_secs(1))
    }

    #[test]
    fn plain_http_only_to_this_machine_unless_allowed() {
        for ok in [
            "https://downbeat.example",
            "https://downbeat.example:8443/base/",
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            assert!(client(ok, false).is_ok(), "{ok}");
        }
        for plain in ["http://downbeat.internal:8080", "http://10.0.0.5"] {
            let e = client(plain, false).err().expect(plain).to_string();
            assert!(e.contains("--allow-plain-http"), "{e}");
            assert!(client(plain, true).is_ok(), "{plain}");
        }
        for bad in [
            "ftp://x",
            "downbeat.example",
            "https://",
            "https://u:p@h",
            "https://h/?q=1",
        ] {
            assert!(
                matches!(client(bad, true), Err(ServerError::Url(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let e = Client::new(
            "https://h",
            Some(&path),
            false,
            "t",
            "test",
            Duration::from_secs(1),
        )
        .err()
        .expect("refused")
        .to_string();
        assert!(e.contains("ca.pem") && e.contains("no certificate"), "{e}");
        let missing = dir.path().join("missing.pem");
        assert!(
            Client::new(
                "https://h",
                Some(&missing),
                false,
                "t",
                "test",
                Duration::from_secs(1)
            )
            .is_err()
        );
    }
}
