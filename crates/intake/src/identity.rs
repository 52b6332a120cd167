//! Who a client is, without keeping who they are.
//!
//! The address comes from the TCP peer, or from `X-Forwarded-For` when the peer is a trusted
//! proxy. It is never stored: reports carry a keyed hash of (service, address) and a keyed
//! hash of its /24 (IPv4) or /48 (IPv6) network. The key is a random salt per UTC day, kept in
//! the store so every node agrees, and pruned after two days so old hashes can no longer be
//! linked to addresses by trying all of them.

use downbeat_store::{Hash16, ReportStore, StoreError};
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use ipnet::IpNet;
use sha2::Sha256;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

pub(crate) type HmacSha256 = Hmac<Sha256>;

pub const DAY_MS: i64 = 86_400_000;

/// The client's address: the peer's, or the nearest untrusted hop of `X-Forwarded-For` when
/// the peer is a trusted proxy. Walking from the right stops at the first address a trusted
/// proxy did not add, so a client cannot choose its identity by sending the header itself.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops: Vec<&str> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        let Ok(s) = v.to_str() else { return peer };
        hops.extend(s.split(',').map(str::trim));
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip.to_canonical();
                if !is_trusted(&client) {
                    break;
                }
            }
            // Garbage in the chain: believe no further than the last good hop.
            None => break,
        }
    }
    client
}

/// One `X-Forwarded-For` hop: an address, with a port as some proxies write it
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`), and IPv6 in brackets without one.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// The network an address belongs to for abuse analysis: its /24 or /48.
pub fn network_of(ip: IpAddr) -> IpNet {
    let prefix = if ip.is_ipv4() { 24 } else { 48 };
    IpNet::new(ip, prefix)
        .map(|n| n.trunc())
        .unwrap_or_else(|_| IpNet::from(ip))
}

/// The keyed hashes of one client for one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHashes {
    /// Under today's salt: what is stored and what dedupe marks.
    pub client: Hash16,
    pub network: Hash16,
    /// Under yesterday's salt, near midnight: so the dedupe window spans the salt change.
    pub client_yesterday: Option<Hash16>,
}

#[derive(Clone)]
struct DayKeys {
    day: i64,
    today: HmacSha256,
    yesterday: Option<HmacSha256>,
}

/// The daily salts, cached; the store is asked once per day.
pub struct Salts {
    store: Arc<dyn ReportStore>,
    keys: RwLock<Option<DayKeys>>,
    refresh: tokio::sync::Mutex<()>,
}

fn mac(salt: &[u8; 32]) -> HmacSha256 {
    HmacSha256::new_from_slice(salt).expect("HMAC accepts any key length")
}

pub(crate) fn tag(mut m: HmacSha256, parts: &[&[u8]]) -> Hash16 {
    for p in parts {
        m.update(&(p.len() as u32).to_be_bytes());
        m.update(p);
    }
    let full = m.finalize().into_bytes();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// The keyed hash of `ip`'s /24 or /48 network.
fn network_tag(key: HmacSha256, ip: IpAddr) -> Hash16 {
    let net = network_of(ip);
    let (mut buf, len) = ip_bytes(net.network());
    buf[len] = net.prefix_len();
    tag(key, &[b"network", &buf[..=len]])
}

/// An address's bytes in a fixed buffer (no allocation on the hot path) and their length.
fn ip_bytes(ip: IpAddr) -> ([u8; 17], usize) {
    let mut b = [0u8; 17];
    match ip {
        IpAddr::V4(v4) => {
            b[..4].copy_from_slice(&v4.octets());
            (b, 4)
        }
        IpAddr::V6(v6) => {
            b[..16].copy_from_slice(&v6.octets());
            (b, 16)
        }
    }
}

impl Salts {
    pub fn new(store: Arc<dyn ReportStore>) -> Self {
        Salts {
            store,
            keys: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// Loads (or creates) the salts for the day of `now_ms`.
    pub async fn prepare(&self, now_ms: i64) -> Result<(), StoreError> {
        let day = now_ms.div_euclid(DAY_MS);
        if self.cached(day).is_some() {
            return Ok(());
        }
        // One request per node fetches the new day's salt; the others wait for it.
        let _guard = self.refresh.lock().await;
        if self.cached(day).is_some() {
            return Ok(());
        }
        let today = self.store.daily_salt(day, random_salt()).await?;
        let yesterday = self.store.daily_salt(day - 1, random_salt()).await?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Some(DayKeys {
            day,
            today: mac(&today),
            yesterday: Some(mac(&yesterday)),
        });
        Ok(())
    }

    fn cached(&self, day: i64) -> Option<DayKeys> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.as_ref().filter(|k| k.day == day).cloned()
    }

    /// The key of `day`, seen from `today`: today's or yesterday's salt, when loaded (see
    /// [`Salts::prepare`]). Other days have none.
    pub(crate) fn key_of_day(&self, today: i64, day: i64) -> Option<HmacSha256> {
        let keys = self.cached(today)?;
        if day == today {
            Some(keys.today)
        } else if day == today - 1 {
            keys.yesterday
        } else {
            None
        }
    }

    /// The hashes of `ip` reporting on `service` at `now_ms`. `window_ms` is the dedupe
    /// window: within it after midnight, yesterday's hash is computed too.
    pub async fn hashes(
        &self,
        service: &str,
        ip: IpAddr,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<ClientHashes, StoreError> {
        let day = now_ms.div_euclid(DAY_MS);
        let keys = self.keys_for(now_ms).await?;
        let (addr_buf, addr_len) = ip_bytes(ip);
        let addr = &addr_buf[..addr_len];
        let near_midnight = now_ms - day * DAY_MS < window_ms;
        Ok(ClientHashes {
            client: tag(keys.today.clone(), &[b"client", service.as_bytes(), addr]),
            network: network_tag(keys.today.clone(), ip),
            client_yesterday: keys
                .yesterday
                .filter(|_| near_midnight)
                .map(|m| tag(m, &[b"client", service.as_bytes(), addr])),
        })
    }

    /// The hashes of `ip`'s network at `now_ms` under today's salt and yesterday's: a hash
    /// stored yesterday (a comment's, which an operator paused) names this network under
    /// the second.
    pub async fn network_hashes(
        &self,
        ip: IpAddr,
        now_ms: i64,
    ) -> Result<(Hash16, Option<Hash16>), StoreError> {
        let keys = self.keys_for(now_ms).await?;
        Ok((
            network_tag(keys.today, ip),
            keys.yesterday.map(|m| network_tag(m, ip)),
        ))
    }

    /// The keys of the day of `now_ms`, loading them when the day is new.
    async fn keys_for(&self, now_ms: i64) -> Result<DayKeys, StoreError> {
        let day = now_ms.div_euclid(DAY_MS);
        match self.cached(day) {
            Some(k) => Ok(k),
            None => {
                self.prepare(now_ms).await?;
                self.cached(day)
                    .ok_or_else(|| StoreError::Internal("salt cache empty".into()))
            }
        }
    }
}

fn random_salt() -> [u8; 32] {
    let mut s = [0u8; 32];
    rand::fill(&mut s[..]);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec![
            "127.0.0.0/8".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let cases = [
            // (peer, headers, expected client)
            ("203.0.113.9", vec!["198.51.100.1"], "203.0.113.9"),
            ("127.0.0.1", vec![], "127.0.0.1"),
            ("127.0.0.1", vec!["198.51.100.1"], "198.51.100.1"),
            ("127.0.0.1", vec!["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
            ("127.0.0.1", vec!["198.51.100.1, 10.1.1.1"], "198.51.100.1"),
            (
                "127.0.0.1",
                vec!["198.51.100.1", "10.1.1.1"],
                "198.51.100.1",
            ),
            ("127.0.0.1", vec!["10.2.2.2, 10.1.1.1"], "10.2.2.2"),
            ("127.0.0.1", vec!["nonsense, 198.51.100.1"], "198.51.100.1"),
            ("127.0.0.1", vec!["198.51.100.1, nonsense"], "127.0.0.1"),
            ("::ffff:127.0.0.1", vec!["2001:db8::1"], "2001:db8::1"),
            // Hops with ports, as some proxies write them.
            ("127.0.0.1", vec!["198.51.100.1:4711"], "198.51.100.1"),
            ("127.0.0.1", vec!["[2001:db8::1]:4711"], "2001:db8::1"),
            ("127.0.0.1", vec!["[2001:db8::2]"], "2001:db8::2"),
            (
                "127.0.0.1",
                vec!["198.51.100.1:4711, 10.1.1.1:80"],
                "198.51.100.1",
            ),
        ];
        for (peer, xff, want) in cases {
            assert_eq!(
                client_ip(ip(peer), &headers(&xff), &trusted),
                ip(want),
                "{peer} {xff:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_network_is_named_under_todays_salt_and_yesterdays() {
        let store = downbeat_store::testing::sqlite();
        let store = downbeat_store::open(&store.target).await.unwrap();
        let salts = Salts::new(store);
        let ip: IpAddr = "192.0.2.77".parse().unwrap();
        let neighbour: IpAddr = "192.0.2.1".parse().unwrap();
        let day = 20_000 * DAY_MS;
        let (today, yesterday) = salts.network_hashes(ip, day + 5).await.unwrap();
        let stored = salts.hashes("m", ip, day + 5, 0).await.unwrap().network;
        assert_eq!(today, stored, "what a report or comment stores today");
        assert_eq!(
            salts.network_hashes(neighbour, day + 5).await.unwrap().0,
            today,
            "the same /24"
        );
        let (tomorrow, then_yesterday) = salts.network_hashes(ip, day + DAY_MS + 5).await.unwrap();
        assert_ne!(tomorrow, today, "a new salt every day");
        assert_eq!(
            then_yesterday,
            Some(today),
            "yesterday's hash is still known"
        );
        assert_ne!(yesterday, Some(today));
    }

    #[test]
    fn networks_are_slash_24_and_slash_48() {
        assert_eq!(
            network_of("192.0.2.77".parse().unwrap()).to_string(),
            "192.0.2.0/24"
        );
        assert_eq!(
            network_of("2001:db8:1:2::9".parse().unwrap()).to_string(),
            "2001:db8:1::/48"
        );
    }
}
