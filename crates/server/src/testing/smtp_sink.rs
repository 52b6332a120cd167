//! A small SMTP server for tests: listens on 127.0.0.1:0, speaks enough SMTP for a real
//! client (EHLO/HELO, STARTTLS or implicit TLS, optional AUTH PLAIN and LOGIN, MAIL, RCPT,
//! DATA, RSET, NOOP, QUIT), and records every message it accepts. With TLS, it offers
//! nothing but STARTTLS on a plain connection, as real relays do. It can refuse recipients,
//! to test give-ups.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-stuffing removed, CRLF line ends.
    pub data: String,
    /// The user that authenticated on this connection, if any.
    pub user: Option<String>,
    /// Whether it came over TLS.
    pub tls: bool,
}

impl Received {
    /// The (unfolded) value of the first header `name`, case-insensitively.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// The body, decoded from quoted-printable or base64 when the headers say so.
    pub fn body(&self) -> String {
        let raw = self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        match self
            .header("content-transfer-encoding")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            Some("quoted-printable") => decode_qp(raw),
            Some("base64") => {
                String::from_utf8_lossy(&decode_b64(&raw.replace("\r\n", ""))).into_owned()
            }
            _ => raw.to_owned(),
        }
        .replace("\r\n", "\n")
    }

    /// The first `https?://…` link in the body that contains `part`.
    pub fn link(&self, part: &str) -> Option<String> {
        self.body()
            .split_whitespace()
            .find(|w| (w.starts_with("http://") || w.starts_with("https://")) && w.contains(part))
            .map(str::to_owned)
    }
}

fn decode_qp(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            if let Some(h) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(h);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn decode_b64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let Some(v) = A.iter().position(|x| *x == c) else {
            continue;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[derive(Default)]
struct Shared {
    mails: Vec<Received>,
    connections: u32,
    refused_auth: u32,
}

/// The sink; dropping it does not stop it (tests end first).
#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    /// The user and password AUTH must give (None: no AUTH offered or needed).
    creds: Option<(String, String)>,
    /// Recipients refused with 550.
    refuse: Arc<Vec<String>>,
    /// TLS: offered with STARTTLS, or from the first byte when `implicit`.
    tls: Option<TlsAcceptor>,
    implicit: bool,
}

impl SmtpSink {
    pub async fn start(creds: Option<(&str, &str)>) -> SmtpSink {
        Self::start_refusing(creds, &[]).await
    }

    pub async fn start_refusing(creds: Option<(&str, &str)>, refuse: &[&str]) -> SmtpSink {
        Self::launch(creds, refuse, None, false).await
    }

    /// A sink with TLS: STARTTLS on a plain connection, or TLS at once when `implicit`.
    pub async fn start_tls(
        creds: Option<(&str, &str)>,
        acceptor: TlsAcceptor,
        implicit: bool,
    ) -> SmtpSink {
        Self::launch(creds, &[], Some(acceptor), implicit).await
    }

    async fn launch(
        creds: Option<(&str, &str)>,
        refuse: &[&str],
        tls: Option<TlsAcceptor>,
        implicit: bool,
    ) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = SmtpSink {
            addr: listener.local_addr().unwrap(),
            shared: Arc::default(),
            creds: creds.map(|(u, p)| (u.to_owned(), p.to_owned())),
            refuse: Arc::new(refuse.iter().map(|s| s.to_string()).collect()),
            tls,
            implicit,
        };
        let s = sink.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    match (&s.tls, s.implicit) {
                        (Some(acceptor), true) => {
                            if let Ok(tls) = acceptor.clone().accept(stream).await {
                                let _ = s.session(Box::new(tls), true).await;
                            }
                        }
                        _ => {
                            let _ = s.session(Box::new(stream), false).await;
                        }
                    }
                });
            }
        });
        sink
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn mails(&self) -> Vec<Received> {
        self.shared.lock().unwrap().mails.clone()
    }

    /// Mails to `addr`.
    pub fn mails_to(&self, addr: &str) -> Vec<Received> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == addr))
            .collect()
    }

    pub fn refused_auth(&self) -> u32 {
        self.shared.lock().unwrap().refused_auth
    }

    /// Waits (up to 30 s of real time) until `n` mails have reached `addr`; they are returned.
    pub async fn wait_for(&self, addr: &str, n: usize) -> Vec<Received> {
        for _ in 0..1500 {
            let m = self.mails_to(addr);
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "timed out waiting for {n} mails to {addr}; have {:?}",
            self.mails_to(addr)
        );
    }

    /// One connection, `secure` once TLS is up; STARTTLS continues it on the TLS stream.
    fn session(
        &self,
        stream: Box<dyn Io>,
        secure: bool,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<()>> + Send + '_>> {
        Box::pin(async move {
            self.shared.lock().unwrap().connections += 1;
            let mut lines = BufReader::new(stream);
            // Over STARTTLS the greeting was given on the plain connection already.
            if !secure || self.implicit {
                lines.write_all(b"220 sink.test ESMTP ready\r\n").await?;
            }
            let must_upgrade = self.tls.is_some() && !secure;
            let (mut from, mut to, mut user) = (String::new(), Vec::new(), None::<String>);
            let mut line = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                let cmd = line.trim_end().to_owned();
                let upper = cmd.to_ascii_uppercase();
                let reply: String = if upper.starts_with("EHLO") {
                    let offer = if must_upgrade {
                        "250-STARTTLS\r\n"
                    } else if self.creds.is_some() {
                        "250-AUTH PLAIN LOGIN\r\n"
                    } else {
                        ""
                    };
                    format!("250-sink.test\r\n{offer}250-8BITMIME\r\n250 SIZE 1000000\r\n")
                } else if upper == "STARTTLS" && must_upgrade {
                    lines.write_all(b"220 2.0.0 go ahead\r\n").await?;
                    let acceptor = self.tls.clone().unwrap();
                    let tls = acceptor.accept(lines.into_inner()).await?;
                    return self.session(Box::new(tls), true).await;
                } else if upper.starts_with("HELO") {
                    "250 sink.test\r\n".into()
                } else if upper.starts_with("AUTH PLAIN") {
                    let mut arg = cmd[10..].trim().to_owned();
                    if arg.is_empty() {
                        lines.write_all(b"334 \r\n").await?;
                        line.clear();
                        lines.read_line(&mut line).await?;
                        arg = line.trim().to_owned();
                    }
                    let raw = decode_b64(&arg);
                    let parts: Vec<String> = raw
                        .split(|b| *b == 0)
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .collect();
                    self.auth_reply(parts.get(1), parts.get(2), &mut user)
                } else if upper.starts_with("AUTH LOGIN") {
                    lines.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                    line.clear();
                    lines.read_line(&mut line).await?;
                    let u = String::from_utf8_lossy(&decode_b64(line.trim())).into_owned();
                    lines.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                    line.clear();
                    lines.read_line(&mut line).await?;
                    let p = String::from_utf8_lossy(&decode_b64(line.trim())).into_owned();
                    self.auth_reply(Some(&u), Some(&p), &mut user)
                } else if upper.starts_with("MAIL FROM:") {
                    if must_upgrade {
                        "530 5.7.0 must issue a STARTTLS command first\r\n".into()
                    } else if self.creds.is_some() && user.is_none() {
                        "530 5.7.0 authentication required\r\n".into()
                    } else {
                        from = angle(&cmd[10..]);
                        to.clear();
                        "250 2.1.0 ok\r\n".into()
                    }
                } else if upper.starts_with("RCPT TO:") {
                    let rcpt = angle(&cmd[8..]);
                    if self.refuse.contains(&rcpt) {
                        "550 5.1.1 no such mailbox\r\n".into()
                    } else {
                        to.push(rcpt);
                        "250 2.1.5 ok\r\n".into()
                    }
                } else if upper == "DATA" {
                    if to.is_empty() {
                        "554 5.5.1 no valid recipients\r\n".into()
                    } else {
                        lines.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                        let mut data = String::new();
                        loop {
                            line.clear();
                            if lines.read_line(&mut line).await? == 0 {
                                return Ok(());
                            }
                            if line == ".\r\n" || line == ".\n" {
                                break;
                            }
                            let l = line.strip_prefix('.').unwrap_or(&line);
                            data.push_str(l.trim_end_matches(['\r', '\n']));
                            data.push_str("\r\n");
                        }
                        self.shared.lock().unwrap().mails.push(Received {
                            from: from.clone(),
                            to: std::mem::take(&mut to),
                            data,
                            user: user.clone(),
                            tls: secure,
                        });
                        "250 2.0.0 queued\r\n".into()
                    }
                } else if upper == "RSET" {
                    to.clear();
                    "250 2.0.0 ok\r\n".into()
                } else if upper == "NOOP" {
                    "250 2.0.0 ok\r\n".into()
                } else if upper == "QUIT" {
                    lines.write_all(b"221 2.0.0 bye\r\n").await?;
                    return Ok(());
                } else {
                    "502 5.5.2 not implemented\r\n".into()
                };
                lines.write_all(reply.as_bytes()).await?;
            }
        })
    }

    fn auth_reply(
        &self,
        u: Option<&String>,
        p: Option<&String>,
        user: &mut Option<String>,
    ) -> String {
        match &self.creds {
            Some((cu, cp)) if u == Some(cu) && p == Some(cp) => {
                *user = Some(cu.clone());
                "235 2.7.0 authenticated\r\n".into()
            }
            _ => {
                self.shared.lock().unwrap().refused_auth += 1;
                "535 5.7.8 bad credentials\r\n".into()
            }
        }
    }
}

/// A connection, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

fn angle(s: &str) -> String {
    let s = s.trim();
    let s = s.split_whitespace().next().unwrap_or("");
    s.trim_start_matches('<').trim_end_matches('>').to_owned()
}
