//! `ping` probes: ICMP echo requests, one after another, each waiting for its reply. The
//! socket is an unprivileged ICMP datagram socket where the kernel allows one (Linux, when
//! the process's group is within `net.ipv4.ping_group_range`), a raw socket otherwise (root
//! or `CAP_NET_RAW`). The result carries the loss and the round trips ([`PingStats`]); the
//! total timing is the average round trip.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout_at};

use crate::connect;
use crate::endpoint::Endpoint;
use crate::kind::{Keys, ProbeDef, ProbeKind};
use crate::outcome::{Cause, Detail};
use crate::result::{PingStats, ProbeResult, human_duration};
use crate::run::{Failure, Pass, Run};
use crate::spec::SpecError;

/// Echo requests per probe unless `count` says otherwise.
pub const DEFAULT_COUNT: u16 = 3;
/// Most echo requests per probe.
pub const MAX_COUNT: u16 = 20;
/// Loss, in percent, above which a probe is down unless `max_loss` says otherwise: one lost
/// request of three is degraded, two are down.
pub const DEFAULT_MAX_LOSS: u8 = 50;

/// The `ping` keys of a [`ProbeDef`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PingDef {
    /// Echo requests per probe (default 3, at most 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u16>,
    /// Loss above this percentage is down (default 50); any loss at or under it is degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_loss: Option<u8>,
}

impl Keys for PingDef {
    const KINDS: &'static [ProbeKind] = &[ProbeKind::Ping];
    fn first_given(&self) -> Option<&'static str> {
        [
            ("count", self.count.is_some()),
            ("max_loss", self.max_loss.is_some()),
        ]
        .into_iter()
        .find_map(|(key, given)| given.then_some(key))
    }
}

/// An ICMP echo check of a host.
#[derive(Clone, Debug)]
pub struct PingCheck {
    /// The host (port 0: ICMP has none).
    pub(crate) host: Endpoint,
    pub(crate) count: u16,
    pub(crate) max_loss: u8,
}

/// The target is a host name or an IP address.
pub(crate) fn parse(def: &ProbeDef) -> Result<PingCheck, SpecError> {
    let target = def.target.trim();
    let bare = target.trim_start_matches('[').trim_end_matches(']');
    if target.contains('/') || (bare.contains(':') && bare.parse::<IpAddr>().is_err()) {
        return Err(SpecError::invalid(
            "target",
            format!("`{target}` is not a host name or IP address (no port, no URL)"),
        ));
    }
    let host = Endpoint::new(bare, 0).map_err(|e| SpecError::invalid("target", e))?;
    let count = def.ping.count.unwrap_or(DEFAULT_COUNT);
    if !(1..=MAX_COUNT).contains(&count) {
        return Err(SpecError::invalid(
            "count",
            format!("must be 1 to {MAX_COUNT}"),
        ));
    }
    let max_loss = def.ping.max_loss.unwrap_or(DEFAULT_MAX_LOSS);
    if max_loss > 100 {
        return Err(SpecError::invalid("max_loss", "a percentage: 0 to 100"));
    }
    Ok(PingCheck {
        host,
        count,
        max_loss,
    })
}

pub(crate) fn up_words(result: &ProbeResult) -> String {
    match &result.ping {
        Some(p) => format!(": {} of {} echo replies", p.received, p.sent),
        None => String::new(),
    }
}

pub(crate) async fn run(run: &mut Run<'_>, check: &PingCheck) -> Result<Pass, Failure> {
    let ip = connect::resolve(run, &check.host).await?;
    let to = SocketAddr::new(ip, 0);
    run.result.address = Some(to);
    let pinger = Pinger::open(ip).map_err(|e| {
        Failure::new(
            Cause::Connect,
            Detail::Unreachable,
            format!(
                "cannot open an ICMP socket ({e}): allow the group in net.ipv4.ping_group_range or give CAP_NET_RAW"
            ),
        )
    })?;
    // Each request may wait its share of the timeout; a reply that comes later is lost.
    let share = run.timeout / u32::from(check.count);
    let token = token();
    let mut rtts: Vec<Duration> = Vec::with_capacity(usize::from(check.count));
    for seq in 0..check.count {
        let wait_until = (Instant::now() + share).min(run.deadline);
        let request = pinger.echo_request(seq, token);
        let sent = Instant::now();
        if let Err(e) = pinger.socket.send_to(&request, to).await {
            return Err(send_failure(&e, ip));
        }
        if let Ok(Ok(())) = timeout_at(wait_until, pinger.reply(seq, token)).await {
            rtts.push(sent.elapsed());
        }
        if Instant::now() >= run.deadline {
            break;
        }
    }
    let stats = stats(check.count, &rtts);
    run.result.ping = Some(stats);
    run.result.timings.total = stats.rtt_avg;
    judge(run, check, &stats)
}

fn judge(run: &Run<'_>, check: &PingCheck, stats: &PingStats) -> Result<Pass, Failure> {
    let ip = run.result.address.map(|a| a.ip());
    let ip = ip.map_or_else(String::new, |ip| ip.to_string());
    if stats.received == 0 {
        return Err(Failure::new(
            Cause::Connect,
            Detail::Unreachable,
            format!(
                "no echo reply from {ip} to {} requests within {} (100% lost)",
                stats.sent,
                human_duration(run.timeout)
            ),
        ));
    }
    let lost = format!(
        "{}% lost ({} of {} echo requests unanswered)",
        stats.loss_percent,
        stats.sent - stats.received,
        stats.sent
    );
    if stats.loss_percent > check.max_loss {
        return Err(Failure::new(
            Cause::Connect,
            Detail::PacketLoss,
            format!("{ip}: {lost}, more than max_loss {}%", check.max_loss),
        ));
    }
    if stats.loss_percent > 0 {
        return Ok(Pass::Degraded(Detail::PacketLoss, Some(lost)));
    }
    Ok(Pass::Up)
}

fn stats(sent: u16, rtts: &[Duration]) -> PingStats {
    let received = u16::try_from(rtts.len()).unwrap_or(sent).min(sent);
    let lost = u32::from(sent - received);
    let loss_percent = u8::try_from((lost * 100).div_ceil(u32::from(sent.max(1)))).unwrap_or(100);
    let avg = (received > 0).then(|| rtts.iter().sum::<Duration>() / u32::from(received));
    PingStats {
        sent,
        received,
        loss_percent,
        rtt_min: rtts.iter().min().copied(),
        rtt_avg: avg,
        rtt_max: rtts.iter().max().copied(),
    }
}

fn send_failure(e: &io::Error, ip: IpAddr) -> Failure {
    let detail = match e.kind() {
        io::ErrorKind::PermissionDenied => Detail::Refused,
        _ => Detail::Unreachable,
    };
    Failure::new(Cause::Connect, detail, format!("{ip}: {e}"))
}

/// 8 bytes no other probe in this process (nor, very likely, another process) puts in its
/// echo requests: replies are matched on it, since a datagram socket's identifier is the
/// kernel's and a raw socket sees every echo reply on the host.
fn token() -> [u8; 8] {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ (u64::from(std::process::id()) << 32) ^ n.rotate_left(17)).to_be_bytes()
}

const ECHO_PAYLOAD: usize = 16;

/// An ICMP socket and how to read what it receives.
struct Pinger {
    // tokio's UdpSocket only calls sendto/recvfrom on its descriptor, which is all an ICMP
    // datagram or raw socket needs; it saves hand-written readiness code around `AsyncFd`.
    socket: UdpSocket,
    v6: bool,
    /// Raw IPv4 sockets receive the IP header before the ICMP message.
    ip_header: bool,
    id: u16,
}

impl Pinger {
    fn open(ip: IpAddr) -> io::Result<Pinger> {
        let (domain, protocol, v6) = match ip {
            IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4, false),
            IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6, true),
        };
        let (socket, raw) = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
            Ok(s) => (s, false),
            Err(dgram) => match Socket::new(domain, Type::RAW, Some(protocol)) {
                Ok(s) => (s, true),
                // The datagram socket's error says what an operator can change.
                Err(_) => return Err(dgram),
            },
        };
        socket.set_nonblocking(true)?;
        let socket = UdpSocket::from_std(std::net::UdpSocket::from(socket))?;
        Ok(Pinger {
            socket,
            v6,
            ip_header: raw && !v6,
            id: (std::process::id() as u16) ^ (token()[7] as u16),
        })
    }

    fn echo_request(&self, seq: u16, token: [u8; 8]) -> [u8; 8 + ECHO_PAYLOAD] {
        let mut p = [0u8; 8 + ECHO_PAYLOAD];
        p[0] = if self.v6 { 128 } else { 8 };
        p[4..6].copy_from_slice(&self.id.to_be_bytes());
        p[6..8].copy_from_slice(&seq.to_be_bytes());
        p[8..16].copy_from_slice(&token);
        // The kernel sums ICMPv6 itself (it covers a pseudo-header we do not know).
        if !self.v6 {
            let sum = checksum(&p);
            p[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        p
    }

    /// Waits for the echo reply carrying `seq` and `token`, ignoring anything else.
    async fn reply(&self, seq: u16, token: [u8; 8]) -> io::Result<()> {
        let mut buf = [0u8; 1500];
        let want_type = if self.v6 { 129 } else { 0 };
        loop {
            let (n, _) = self.socket.recv_from(&mut buf).await?;
            let mut msg = &buf[..n];
            if self.ip_header {
                let ihl = usize::from(msg.first().map_or(0, |b| b & 0x0f)) * 4;
                msg = msg.get(ihl..).unwrap_or_default();
            }
            if msg.len() >= 16
                && msg[0] == want_type
                && msg[6..8] == seq.to_be_bytes()
                && msg[8..16] == token
            {
                return Ok(());
            }
        }
    }
}

/// The Internet checksum (RFC 1071).
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Outcome, ProbeSpec, Prober, probe};

    fn def(target: &str, f: impl FnOnce(&mut PingDef)) -> ProbeDef {
        let mut d = ProbeDef::new(ProbeKind::Ping, target);
        f(&mut d.ping);
        d
    }

    /// Whether this host lets the test open an ICMP socket; in CI it must.
    fn icmp_allowed() -> bool {
        match Pinger::open(IpAddr::from([127, 0, 0, 1])) {
            Ok(_) => true,
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!("CI must be able to open an ICMP socket (run as root): {e}")
            }
            Err(e) => {
                eprintln!("SKIPPED: no ICMP socket on this host ({e}); CI runs this as root");
                false
            }
        }
    }

    fn prober() -> Prober {
        Prober::builder()
            .nameservers(vec!["127.0.0.1:9".parse().expect("addr")])
            .build()
            .expect("prober")
    }

    #[tokio::test]
    async fn loopback_answers_every_echo_request() {
        if !icmp_allowed() {
            return;
        }
        let spec = ProbeSpec::parse(def("127.0.0.1", |p| p.count = Some(4))).expect("spec");
        let r = probe(&spec, &prober()).await;
        assert_eq!(r.outcome, Outcome::Up, "{}", r.explanation());
        let p = r.ping.expect("ping stats");
        assert_eq!((p.sent, p.received, p.loss_percent), (4, 4, 0));
        let (min, avg, max) = (
            p.rtt_min.expect("min"),
            p.rtt_avg.expect("avg"),
            p.rtt_max.expect("max"),
        );
        assert!(min <= avg && avg <= max, "{p:?}");
        assert_eq!(
            r.timings.total,
            Some(avg),
            "total is the average round trip"
        );
        assert!(
            r.explanation().starts_with("up: 4 of 4 echo replies in "),
            "{}",
            r.explanation()
        );
        let json = serde_json::to_value(&r).expect("json");
        assert!(json["ping"]["rtt_avg_ms"].is_number(), "{json}");
    }

    /// 198.51.100.0/24 is TEST-NET-2: nothing answers there (or the route is missing, which
    /// fails the send: unreachable either way).
    #[tokio::test]
    async fn silent_host_is_down_with_all_requests_lost() {
        if !icmp_allowed() {
            return;
        }
        let mut d = def("198.51.100.1", |p| p.count = Some(2));
        d.timeout_ms = Some(400);
        let spec = ProbeSpec::parse(d).expect("spec");
        let r = probe(&spec, &prober()).await;
        assert_eq!(r.outcome, Outcome::Down, "{}", r.explanation());
        assert_eq!(r.cause, Some(Cause::Connect));
        assert_eq!(r.detail, Some(Detail::Unreachable), "{}", r.explanation());
        if let Some(p) = r.ping {
            assert_eq!((p.received, p.loss_percent), (0, 100));
        }
    }

    #[test]
    fn loss_is_judged_against_max_loss() {
        let ms = Duration::from_millis;
        let s = stats(3, &[ms(2), ms(4)]);
        assert_eq!((s.received, s.loss_percent), (2, 34));
        assert_eq!(s.rtt_avg, Some(ms(3)));
        assert_eq!((s.rtt_min, s.rtt_max), (Some(ms(2)), Some(ms(4))));
        let none = stats(3, &[]);
        assert_eq!((none.loss_percent, none.rtt_avg), (100, None));
    }

    #[test]
    fn bad_keys_are_refused_by_name() {
        for (d, field) in [
            (def("10.0.0.1", |p| p.count = Some(0)), "count"),
            (def("10.0.0.1", |p| p.count = Some(21)), "count"),
            (def("10.0.0.1", |p| p.max_loss = Some(101)), "max_loss"),
            (def("10.0.0.1:80", |_| ()), "target"),
            (def("http://example.com/", |_| ()), "target"),
            (def("", |_| ()), "target"),
        ] {
            let target = d.target.clone();
            let err = ProbeSpec::parse(d).expect_err(&target);
            assert_eq!(err.field(), field, "{target}: {err}");
        }
        let mut tcp = ProbeDef::new(ProbeKind::Tcp, "h:1");
        tcp.ping.count = Some(3);
        assert_eq!(ProbeSpec::parse(tcp).expect_err("tcp").field(), "count");
        assert!(ProbeSpec::parse(def("::1", |_| ())).is_ok());
        assert!(ProbeSpec::parse(def("[::1]", |_| ())).is_ok());
        assert!(ProbeSpec::parse(def("gateway.example", |_| ())).is_ok());
    }

    #[test]
    fn checksum_of_a_known_packet() {
        // An echo request with id 1, seq 1 and no payload: 0x0800 + 0x0001 + 0x0001.
        let p = [8, 0, 0, 0, 0, 1, 0, 1];
        assert_eq!(checksum(&p), !0x0802);
    }
}
