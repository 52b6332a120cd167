//! A minimal HTTP/1 POST client for webhooks, on the same hyper + rustls (ring) stack as the
//! probes: no second TLS library, no OpenSSL. One connection per request; webhooks are
//! rare enough that pooling is not worth its state. Answers are read for their status, and
//! the start of their body for a subscriber's verification echo.

use crate::transport::{HttpRequest, SendError};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{InvalidDnsNameError, ServerName};
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// Response bytes read at most (drained so the receiver is not cut off mid-answer); the
/// first [`KEPT_BODY`] of them are kept for [`HttpClient::post_answer`].
const MAX_RESPONSE_BODY: usize = 64 * 1024;
/// Response bytes kept: enough for a verification challenge's echo.
pub const KEPT_BODY: usize = 4 * 1024;

/// A receiver's answer: its status, the start of its body (at most [`KEPT_BODY`]), and its
/// `Retry-After` when it gave one in seconds (a 429 or 503 saying when to come back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub retry_after: Option<Duration>,
}

/// Why a request got no answer (a timeout aside): each keeps its cause, and reads as the
/// attempt's error in the admin area.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("bad URL: {0}")]
    Url(#[source] hyper::http::uri::InvalidUri),
    #[error("URL must be http or https")]
    Scheme,
    #[error("URL has no host")]
    NoHost,
    #[error("resolve {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: io::Error,
    },
    /// A visitor's URL that leads into the server's own network.
    #[error("refused: {host} resolves to {ip}, which is not a public address")]
    NotPublic { host: String, ip: IpAddr },
    #[error("connect: {0}")]
    Connect(#[source] io::Error),
    #[error("request: {0}")]
    Request(#[source] hyper::http::Error),
    #[error("bad header value for {name}")]
    Header {
        name: String,
        #[source]
        source: hyper::header::InvalidHeaderValue,
    },
    #[error("bad header name {0:?}")]
    HeaderName(String),
    #[error("bad TLS name: {0}")]
    TlsName(#[source] InvalidDnsNameError),
    #[error("TLS: {0}")]
    Tls(#[source] io::Error),
    #[error("HTTP: {0}")]
    Protocol(#[source] hyper::Error),
}

#[derive(Clone)]
pub struct HttpClient {
    tls: tokio_rustls::TlsConnector,
}

impl HttpClient {
    /// A client trusting the public web PKI (webpki roots).
    pub fn new() -> Self {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        HttpClient {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
    }

    /// Sends `req` (a POST or PUT with a body) to its URL; the answer (its status, the
    /// first [`KEPT_BODY`] bytes of its body, its `Retry-After`), or why there is none
    /// ([`SendError::Timeout`] or [`SendError::Unreachable`]). Everything (connect, TLS,
    /// request, response) must finish within `timeout`. With `public_only`, a host that
    /// resolves to a private, loopback or link-local address is refused before connecting
    /// (URLs typed by visitors must not reach into the server's own network).
    pub async fn send(
        &self,
        req: HttpRequest,
        timeout: Duration,
        public_only: bool,
    ) -> Result<Answer, SendError> {
        match tokio::time::timeout(timeout, self.exchange(req, public_only)).await {
            Ok(answer) => Ok(answer?),
            Err(_) => Err(SendError::Timeout(timeout)),
        }
    }

    async fn exchange(&self, r: HttpRequest, public_only: bool) -> Result<Answer, HttpError> {
        let HttpRequest {
            method,
            url,
            content_type,
            body,
            headers,
        } = r;
        let (mut sender, conn, authority, path) = self.open(&url, public_only).await?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, content_type)
            .header(hyper::header::USER_AGENT, "Downbeat-Webhook/1")
            .body(Full::new(Bytes::from(body)))
            .map_err(HttpError::Request)?;
        add_headers(&mut req, &headers)?;
        let result = async {
            let resp = sender
                .send_request(req)
                .await
                .map_err(HttpError::Protocol)?;
            let status = resp.status().as_u16();
            let retry_after = retry_after(resp.headers());
            // Drain a little so the receiver is not cut off mid-answer; keep the start.
            let mut body = resp.into_body();
            let (mut read, mut kept) = (0, Vec::new());
            while read < MAX_RESPONSE_BODY {
                match body.frame().await {
                    Some(Ok(f)) => {
                        let data = f.data_ref().map_or(&[][..], |d| &d[..]);
                        read += data.len();
                        let room = KEPT_BODY.saturating_sub(kept.len());
                        kept.extend_from_slice(&data[..data.len().min(room)]);
                    }
                    _ => break,
                }
            }
            Ok(Answer {
                status,
                body: kept,
                retry_after,
            })
        }
        .await;
        conn.abort();
        result
    }

    /// Sends `method` to `url` (an operator's URL: any address) with `headers` and, when
    /// given, a body of its content type; the whole answer — status, headers and a body of
    /// at most `max_body` bytes — within `timeout`. For readers of other services' APIs
    /// (the signal pollers): a body over the limit is an error, not a cut answer.
    pub async fn fetch(
        &self,
        method: hyper::Method,
        url: &str,
        headers: &[(&'static str, String)],
        body: Option<(&str, Vec<u8>)>,
        timeout: Duration,
        max_body: usize,
    ) -> Result<Fetched, FetchError> {
        let exchange = async {
            let (mut sender, conn, authority, path) = self.open(url, false).await?;
            let mut req = Request::builder()
                .method(method)
                .uri(path)
                .header(hyper::header::HOST, authority)
                .header(hyper::header::USER_AGENT, "Downbeat/1");
            let body = match body {
                Some((content_type, bytes)) => {
                    req = req.header(hyper::header::CONTENT_TYPE, content_type);
                    Full::new(Bytes::from(bytes))
                }
                None => Full::new(Bytes::new()),
            };
            let mut req = req.body(body).map_err(HttpError::Request)?;
            add_headers(&mut req, headers)?;
            let result = async {
                let resp = sender
                    .send_request(req)
                    .await
                    .map_err(HttpError::Protocol)?;
                let (parts, mut incoming) = resp.into_parts();
                let mut body = Vec::new();
                while let Some(frame) = incoming.frame().await {
                    let frame = frame.map_err(HttpError::Protocol)?;
                    if let Some(d) = frame.data_ref() {
                        if body.len() + d.len() > max_body {
                            return Err(FetchError::TooLarge(max_body));
                        }
                        body.extend_from_slice(d);
                    }
                }
                Ok(Fetched {
                    status: parts.status.as_u16(),
                    headers: parts.headers,
                    body,
                })
            }
            .await;
            conn.abort();
            result
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(fetched) => fetched,
            Err(_) => Err(FetchError::Timeout(timeout)),
        }
    }

    /// Resolves `url`'s host, connects (over TLS for https) and shakes hands: a sender for
    /// one request, the connection's task (abort it when done), the `Host` value and the
    /// path with its query.
    async fn open(
        &self,
        url: &str,
        public_only: bool,
    ) -> Result<(Sender, tokio::task::JoinHandle<()>, String, String), HttpError> {
        let uri: Uri = url.parse().map_err(HttpError::Url)?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(HttpError::Scheme),
        };
        let host = uri.host().ok_or(HttpError::NoHost)?.to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = uri
            .authority()
            .map_or_else(|| host.clone(), |a| a.as_str().to_owned());
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((bare_host, port))
            .await
            .map_err(|source| HttpError::Resolve {
                host: bare_host.to_owned(),
                source,
            })?
            .collect();
        if public_only && let Some(a) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(HttpError::NotPublic {
                host: bare_host.to_owned(),
                ip: a.ip(),
            });
        }
        // Connect to an address just checked (not a second lookup that could answer
        // differently).
        let tcp = TcpStream::connect(&addrs[..])
            .await
            .map_err(HttpError::Connect)?;
        let _ = tcp.set_nodelay(true);
        let (sender, conn) = if https {
            let name = ServerName::try_from(bare_host.to_owned()).map_err(HttpError::TlsName)?;
            let tls = self.tls.connect(name, tcp).await.map_err(HttpError::Tls)?;
            handshake(TokioIo::new(tls)).await?
        } else {
            handshake(TokioIo::new(tcp)).await?
        };
        Ok((sender, conn, authority, path))
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn handshake<T>(io: T) -> Result<(Sender, tokio::task::JoinHandle<()>), HttpError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(HttpError::Protocol)?;
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok((sender, conn))
}

fn add_headers<N: AsRef<str>>(
    req: &mut Request<Full<Bytes>>,
    headers: &[(N, String)],
) -> Result<(), HttpError> {
    for (name, value) in headers {
        let name = name.as_ref();
        let header = hyper::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HttpError::HeaderName(name.to_owned()))?;
        let value = value.parse().map_err(|source| HttpError::Header {
            name: name.to_owned(),
            source,
        })?;
        req.headers_mut().insert(header, value);
    }
    Ok(())
}

/// A `Retry-After` in seconds (the form rate limiters send); an HTTP date is ignored and
/// the usual backoff applies.
fn retry_after(headers: &hyper::HeaderMap) -> Option<Duration> {
    let v = headers.get(hyper::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A whole answer ([`HttpClient::fetch`]).
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

/// Why [`HttpClient::fetch`] has no whole answer.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// Whether `ip` is reachable on the public internet: not loopback, private, link-local,
/// shared (CGNAT), benchmarking (198.18.0.0/15), IETF protocol assignments (192.0.0.0/24),
/// unspecified, multicast, broadcast or documentation space. An IPv6 address that carries
/// an IPv4 one — mapped (`::ffff:0:0/96`), NAT64 (`64:ff9b::/96`, and the local-use
/// `64:ff9b:1::/48` in its /96 form) or 6to4 (`2002::/16`) — is judged by that IPv4
/// address, since a translator or relay delivers it there.
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::{IpAddr, Ipv4Addr};
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || (o[0], o[1], o[2]) == (192, 0, 0)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            let o = v6.octets();
            let nat64 = (s[0], s[1]) == (0x64, 0xff9b) && s[2..6] == [0; 4];
            let nat64_local = (s[0], s[1], s[2]) == (0x64, 0xff9b, 1);
            if nat64 || nat64_local {
                return is_public(IpAddr::V4(Ipv4Addr::new(o[12], o[13], o[14], o[15])));
            }
            if s[0] == 0x2002 {
                return is_public(IpAddr::V4(Ipv4Addr::new(o[2], o[3], o[4], o[5])));
            }
            let first = s[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && s[1] == 0x0db8)
        }
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_public_addresses_are_public() {
        for (ip, public) in [
            ("93.184.215.14", true),
            ("2606:4700::1111", true),
            ("127.0.0.1", false),
            ("10.1.2.3", false),
            ("192.168.0.1", false),
            ("172.16.0.1", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("0.0.0.0", false),
            ("::1", false),
            ("fd00::1", false),
            ("fe80::1", false),
            ("::ffff:127.0.0.1", false),
            // benchmarking and IETF protocol assignments
            ("198.18.0.1", false),
            ("198.19.255.254", false),
            ("198.20.0.1", true),
            ("198.17.255.255", true),
            ("192.0.0.8", false),
            ("192.0.1.1", true),
            // NAT64, judged by the IPv4 address inside
            ("64:ff9b::7f00:1", false),
            ("64:ff9b::a01:203", false),
            ("64:ff9b::a9fe:a9fe", false),
            ("64:ff9b::c0a8:1", false),
            ("64:ff9b::5db8:d70e", true),
            ("64:ff9b:1::7f00:1", false),
            ("64:ff9b:1:abcd::a01:203", false),
            ("64:ff9b:1::5db8:d70e", true),
            // 6to4, judged by the IPv4 address inside
            ("2002:7f00:1::", false),
            ("2002:a9fe:a9fe::1", false),
            ("2002:c0a8:101::1", false),
            ("2002:5db8:d70e::1", true),
        ] {
            assert_eq!(super::is_public(ip.parse().unwrap()), public, "{ip}");
        }
    }
}
