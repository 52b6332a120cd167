//! `websocket` probes: connect (and TLS for `wss://`), the HTTP/1.1 upgrade of RFC 6455 with
//! its `Sec-WebSocket-Accept` check, then optionally one text message out and the first
//! message back. The handshake and the few frames are written here (they are small); SHA-1
//! and randomness come from ring, already the TLS stack's crypto.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::time::{Instant, timeout_at};

use crate::connect;
use crate::endpoint::Endpoint;
use crate::kind::http::{self, HttpUrl, timed_out};
use crate::kind::tls::{self, TlsOptions};
use crate::kind::{Keys, ProbeDef, ProbeKind};
use crate::outcome::{Cause, Detail};
use crate::result::ProbeResult;
use crate::run::{Failure, Pass, Run};
use crate::spec::SpecError;

/// The longest message read back; a longer reply is checked on its start.
const MAX_MESSAGE: usize = 1 << 20;
/// The longest upgrade response head read.
const MAX_HEAD: usize = 16 << 10;
/// RFC 6455 section 1.3.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `websocket` keys of a [`ProbeDef`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WebSocketDef {
    /// A text message to send once the connection is upgraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<String>,
    /// The first message back must contain this text (with `send`, the reply to it; without,
    /// the server's greeting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}

impl Keys for WebSocketDef {
    const KINDS: &'static [ProbeKind] = &[ProbeKind::WebSocket];
    fn first_given(&self) -> Option<&'static str> {
        [
            ("send", self.send.is_some()),
            ("expect", self.expect.is_some()),
        ]
        .into_iter()
        .find_map(|(key, given)| given.then_some(key))
    }
}

/// A WebSocket check.
#[derive(Clone, Debug)]
pub struct WebSocketCheck {
    /// The target as an http(s) URL: the upgrade is an HTTP/1.1 request.
    pub(crate) url: HttpUrl,
    pub(crate) send: Option<String>,
    pub(crate) expect: Option<String>,
    pub(crate) tls: TlsOptions,
}

impl WebSocketCheck {
    /// The host and port connected to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.url.endpoint
    }
}

/// The target is a `ws://` or `wss://` URL.
pub(crate) fn parse(def: &ProbeDef) -> Result<WebSocketCheck, SpecError> {
    let target = def.target.trim();
    let as_http = if let Some(rest) = target.strip_prefix("ws://") {
        format!("http://{rest}")
    } else if let Some(rest) = target.strip_prefix("wss://") {
        format!("https://{rest}")
    } else {
        return Err(SpecError::invalid(
            "target",
            format!("`{target}` is not a ws:// or wss:// URL"),
        ));
    };
    let url = HttpUrl::parse(&as_http).map_err(|e| SpecError::invalid("target", e))?;
    for (key, value) in [
        ("send", &def.websocket.send),
        ("expect", &def.websocket.expect),
    ] {
        if value.as_deref() == Some("") {
            return Err(SpecError::invalid(key, "is empty"));
        }
    }
    Ok(WebSocketCheck {
        url,
        send: def.websocket.send.clone(),
        expect: def.websocket.expect.clone(),
        tls: tls::parse_options(&Default::default())?,
    })
}

pub(crate) fn up_words(result: &ProbeResult) -> String {
    match result.timings.reply {
        Some(_) => ": upgraded, answered".into(),
        None => ": upgraded".into(),
    }
}

pub(crate) async fn run(run: &mut Run<'_>, check: &WebSocketCheck) -> Result<Pass, Failure> {
    let tcp = connect::open(run, &check.url.endpoint).await?;
    if check.url.https {
        let stream =
            tls::handshake(run, tcp, &check.url.endpoint, &check.tls, tls::ALPN_HTTP1).await?;
        converse(run, check, stream).await
    } else {
        converse(run, check, tcp).await
    }
}

async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    run: &mut Run<'_>,
    check: &WebSocketCheck,
    stream: S,
) -> Result<Pass, Failure> {
    // Buffered reads: the head is read up to its blank line and frames a few bytes at a time.
    let mut stream = BufReader::new(stream);
    let t = Instant::now();
    let upgraded = timeout_at(run.deadline, upgrade(run, check, &mut stream)).await;
    run.result.timings.add_ttfb(t.elapsed());
    match upgraded {
        Err(_) => return Err(timed_out(run, "for the upgrade")),
        Ok(result) => result?,
    }
    if check.send.is_none() && check.expect.is_none() {
        let _ = timeout_at(run.deadline, close(&mut stream)).await;
        return Ok(Pass::Up);
    }
    let t = Instant::now();
    let replied = timeout_at(run.deadline, async {
        if let Some(text) = &check.send {
            write_frame(&mut stream, 0x1, text.as_bytes()).await?;
        }
        read_message(&mut stream).await
    })
    .await;
    let reply = match replied {
        Err(_) => return Err(timed_out(run, "for a message")),
        Ok(reply) => reply?,
    };
    run.result.timings.reply = Some(t.elapsed());
    let _ = timeout_at(run.deadline, close(&mut stream)).await;
    if let Some(want) = &check.expect {
        let text = String::from_utf8_lossy(&reply);
        if !text.contains(want.as_str()) {
            let shown: String = text.chars().take(120).collect();
            return Err(Failure::new(
                Cause::Content,
                Detail::BodyMismatch,
                format!("the reply does not contain {want:?}: {shown:?}"),
            ));
        }
    }
    Ok(Pass::Up)
}

/// Sends the upgrade request and checks the `101 Switching Protocols` answer.
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    run: &Run<'_>,
    check: &WebSocketCheck,
    stream: &mut S,
) -> Result<(), Failure> {
    let key = BASE64.encode(random::<16>());
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        path = check.url.path,
        host = check.url.host_header.to_str().unwrap_or_default(),
        agent = run.prober.user_agent().to_str().unwrap_or("downbeat"),
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(io_failure)?;
    // Read up to the end of the head, no further: what follows is already frames.
    let mut head = Vec::with_capacity(512);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err(protocol("the upgrade response head is too long"));
        }
        let byte = stream.read_u8().await.map_err(io_failure)?;
        head.push(byte);
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    response
        .parse(&head)
        .map_err(|e| protocol(&format!("malformed upgrade response: {e}")))?;
    let code = response.code.unwrap_or_default();
    if code != 101 {
        let (cause, detail) = http::status_cause(code);
        return Err(Failure::new(
            cause,
            detail,
            format!("HTTP {code}, expected 101 Switching Protocols"),
        ));
    }
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
    };
    if !header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Err(protocol("101 without `Upgrade: websocket`"));
    }
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{key}{ACCEPT_GUID}").as_bytes(),
    );
    let want = BASE64.encode(digest.as_ref());
    if header("sec-websocket-accept").as_deref() != Some(want.as_str()) {
        return Err(protocol("wrong or missing Sec-WebSocket-Accept"));
    }
    Ok(())
}

/// Writes one final, masked frame (clients always mask, RFC 6455 section 5.3).
async fn write_frame<S: AsyncWrite + Unpin>(
    stream: &mut S,
    opcode: u8,
    payload: &[u8],
) -> Result<(), Failure> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    match payload.len() {
        n @ 0..=125 => frame.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mask = random::<4>();
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).await.map_err(io_failure)?;
    stream.flush().await.map_err(io_failure)
}

/// Reads the first data message (text or binary, reassembled from its fragments), answering
/// nothing: pings and pongs on the way are skipped, a close frame is a failure.
async fn read_message<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
) -> Result<Vec<u8>, Failure> {
    let mut message = Vec::new();
    loop {
        let b0 = stream.read_u8().await.map_err(io_failure)?;
        let b1 = stream.read_u8().await.map_err(io_failure)?;
        let (fin, opcode, masked) = (b0 & 0x80 != 0, b0 & 0x0f, b1 & 0x80 != 0);
        let len = match b1 & 0x7f {
            126 => u64::from(stream.read_u16().await.map_err(io_failure)?),
            127 => stream.read_u64().await.map_err(io_failure)?,
            n => u64::from(n),
        };
        let mask = if masked {
            let mut m = [0u8; 4];
            stream.read_exact(&mut m).await.map_err(io_failure)?;
            Some(m)
        } else {
            None
        };
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if opcode >= 0x8 && len > 125 {
            return Err(protocol("a control frame longer than 125 bytes"));
        }
        let keep = len.min(MAX_MESSAGE.saturating_sub(message.len()));
        let mut payload = vec![0u8; keep];
        stream.read_exact(&mut payload).await.map_err(io_failure)?;
        if len > keep {
            // The rest of an oversized message is not looked at.
            return Ok([message, payload].concat());
        }
        if let Some(m) = mask {
            payload
                .iter_mut()
                .enumerate()
                .for_each(|(i, b)| *b ^= m[i % 4]);
        }
        match opcode {
            0x8 => {
                let code = payload
                    .get(..2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]).to_string())
                    .unwrap_or_else(|| "no code".into());
                let why = String::from_utf8_lossy(payload.get(2..).unwrap_or_default());
                return Err(Failure::new(
                    Cause::Connect,
                    Detail::Reset,
                    format!("the server closed the WebSocket ({code}) {why:?}"),
                ));
            }
            0x9 | 0xA => continue,
            0x0..=0x2 => {
                message.extend_from_slice(&payload);
                if fin {
                    return Ok(message);
                }
            }
            other => return Err(protocol(&format!("unknown frame opcode {other:#x}"))),
        }
    }
}

/// Says goodbye (close code 1000) without waiting for the answer.
async fn close<S: AsyncWrite + Unpin>(stream: &mut S) {
    let _ = write_frame(stream, 0x8, &1000u16.to_be_bytes()).await;
    let _ = stream.shutdown().await;
}

fn random<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; N];
    // The key and masks only need to be unpredictable to intermediaries; a failing system
    // RNG leaves them zero, which servers still accept.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    bytes
}

fn protocol(what: &str) -> Failure {
    Failure::new(Cause::Content, Detail::Protocol, what.to_owned())
}

fn io_failure(e: std::io::Error) -> Failure {
    let what = match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "the server closed the connection".to_owned(),
        _ => e.to_string(),
    };
    Failure::new(Cause::Connect, Detail::Reset, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Outcome, ProbeSpec, Prober, probe};
    use tokio::net::TcpListener;

    /// A WebSocket server on loopback: `/echo` echoes "echo: <text>"; `/greet` greets first;
    /// `/wrong-accept` answers 101 with a bad key; `/silent` upgrades and says nothing; others 404.
    async fn ws_server() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(serve(s));
            }
        });
        port
    }

    async fn serve(mut s: tokio::net::TcpStream) {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            match s.read_u8().await {
                Ok(b) => head.push(b),
                Err(_) => return,
            }
        }
        let text = String::from_utf8_lossy(&head).to_string();
        let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let key = text
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap_or_default()
            .trim()
            .to_owned();
        if !["/echo", "/greet", "/wrong-accept", "/silent"].contains(&path.as_str()) {
            let _ = s
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await;
            return;
        }
        let digest = ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            format!("{key}{ACCEPT_GUID}").as_bytes(),
        );
        let accept = if path == "/wrong-accept" {
            "bm9wZQ==".to_owned()
        } else {
            BASE64.encode(digest.as_ref())
        };
        let reply = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        let _ = s.write_all(reply.as_bytes()).await;
        let send_text = |text: String| {
            let mut f = vec![0x81, text.len() as u8];
            f.extend_from_slice(text.as_bytes());
            f
        };
        match path.as_str() {
            "/greet" => {
                // A ping first, which the client must skip.
                let _ = s.write_all(&[0x89, 0]).await;
                let _ = s.write_all(&send_text("hello, listener".into())).await;
            }
            "/echo" => {
                // The client's frame is masked.
                let mut hdr = [0u8; 2];
                if s.read_exact(&mut hdr).await.is_err() {
                    return;
                }
                let len = usize::from(hdr[1] & 0x7f);
                let mut mask = [0u8; 4];
                let mut payload = vec![0u8; len];
                if s.read_exact(&mut mask).await.is_err()
                    || s.read_exact(&mut payload).await.is_err()
                {
                    return;
                }
                payload
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b ^= mask[i % 4]);
                let msg = format!("echo: {}", String::from_utf8_lossy(&payload));
                let _ = s.write_all(&send_text(msg)).await;
            }
            _ => {}
        }
        // Hold the connection until the client closes.
        let mut sink = [0u8; 256];
        while let Ok(n) = s.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    }

    fn spec(target: String, send: Option<&str>, expect: Option<&str>) -> ProbeSpec {
        let mut d = ProbeDef::new(ProbeKind::WebSocket, target);
        d.websocket.send = send.map(str::to_owned);
        d.websocket.expect = expect.map(str::to_owned);
        d.timeout_ms = Some(1000);
        ProbeSpec::parse(d).expect("spec")
    }

    #[tokio::test]
    async fn upgrade_send_and_expect_against_a_loopback_server() {
        let port = ws_server().await;
        let prober = Prober::builder()
            .nameservers(vec!["127.0.0.1:9".parse().expect("addr")])
            .build()
            .expect("prober");
        let url = |path: &str| format!("ws://127.0.0.1:{port}{path}");
        // (path, send, expect, outcome, cause, detail)
        let table = [
            ("/echo", None, None, Outcome::Up, None, None),
            (
                "/echo",
                Some("ping"),
                Some("echo: ping"),
                Outcome::Up,
                None,
                None,
            ),
            ("/greet", None, Some("hello"), Outcome::Up, None, None),
            (
                "/echo",
                Some("ping"),
                Some("pong"),
                Outcome::Down,
                Some(Cause::Content),
                Some(Detail::BodyMismatch),
            ),
            (
                "/wrong-accept",
                None,
                None,
                Outcome::Down,
                Some(Cause::Content),
                Some(Detail::Protocol),
            ),
            (
                "/missing",
                None,
                None,
                Outcome::Down,
                Some(Cause::Http4xx),
                Some(Detail::Status),
            ),
            (
                "/silent",
                None,
                Some("anything"),
                Outcome::Down,
                Some(Cause::Timeout),
                Some(Detail::TimedOut),
            ),
        ];
        for (path, send, expect, outcome, cause, detail) in table {
            let r = probe(&spec(url(path), send, expect), &prober).await;
            assert_eq!(
                (r.outcome, r.cause, r.detail),
                (outcome, cause, detail),
                "{path} {send:?} {expect:?}: {}",
                r.explanation()
            );
            assert!(r.timings.connect.is_some() && r.timings.ttfb.is_some());
            if outcome == Outcome::Up && expect.is_some() {
                assert!(r.timings.reply.is_some(), "{path}: reply timed");
            }
        }
    }

    #[test]
    fn bad_keys_are_refused_by_name() {
        let with = |t: &str, f: fn(&mut WebSocketDef)| {
            let mut d = ProbeDef::new(ProbeKind::WebSocket, t);
            f(&mut d.websocket);
            d
        };
        for (d, field) in [
            (with("http://x/", |_| ()), "target"),
            (with("ws://", |_| ()), "target"),
            (with("ws://x/", |w| w.send = Some(String::new())), "send"),
            (
                with("ws://x/", |w| w.expect = Some(String::new())),
                "expect",
            ),
        ] {
            let target = d.target.clone();
            let err = ProbeSpec::parse(d).expect_err(&target);
            assert_eq!(err.field(), field, "{target}: {err}");
        }
        let wss = ProbeSpec::parse(with("wss://x.example/live", |_| ())).expect("wss");
        assert_eq!(wss.endpoint().map(Endpoint::port), Some(443));
        let mut tcp = ProbeDef::new(ProbeKind::Tcp, "h:1");
        tcp.websocket.send = Some("x".into());
        assert_eq!(ProbeSpec::parse(tcp).expect_err("tcp").field(), "send");
    }
}
