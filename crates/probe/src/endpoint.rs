//! Where to connect: a validated host and port, with the TLS server name precomputed.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use rustls::pki_types::ServerName;

/// A host and port taken from a target string. Built only by the spec parsers, so a probe never
/// meets an empty host or a host name that rustls would refuse as a server name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    host: Box<str>,
    /// Set for IP literals and `localhost`: those skip DNS entirely.
    ip: Option<IpAddr>,
    port: u16,
    server_name: ServerName<'static>,
}

/// A target, an address or a setting that does not parse; its words say what is wrong
/// (they become the message of the config error that names the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

impl From<Malformed> for String {
    fn from(m: Malformed) -> String {
        m.0
    }
}

impl Endpoint {
    /// `host` without brackets (`::1`, `example.com`), `port` explicit.
    pub(crate) fn new(host: &str, port: u16) -> Result<Self, Malformed> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() {
            return Err(Malformed("the host is empty".into()));
        }
        let ip = if host == "localhost" {
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        } else {
            host.parse::<IpAddr>().ok()
        };
        let server_name = match ip {
            Some(ip) if host != "localhost" => ServerName::IpAddress(ip.into()),
            _ => ServerName::try_from(host.clone())
                .map_err(|_| Malformed(format!("`{host}` is not a valid host name")))?,
        };
        Ok(Endpoint {
            host: host.into_boxed_str(),
            ip,
            port,
            server_name,
        })
    }

    /// Parses `host:port`, `[v6]:port`, or — when `default_port` is given — a bare host.
    pub(crate) fn parse_host_port(s: &str, default_port: Option<u16>) -> Result<Self, Malformed> {
        let s = s.trim();
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| Malformed(format!("`{s}`: missing `]` after an IPv6 address")))?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(Malformed(format!("`{s}`: expected `:port` after `]`"))),
            }
        } else {
            match s.rsplit_once(':') {
                // More than one colon without brackets is a bare IPv6 address.
                Some((host, _)) if host.contains(':') => (s, None),
                Some((host, port)) => (host, Some(port)),
                None => (s, None),
            }
        };
        if host.contains(['/', '@', ' ', '?', '#']) {
            return Err(Malformed(format!("`{s}` is not a host:port")));
        }
        let port = match port {
            Some(p) => parse_port(p).map_err(|e| Malformed(format!("`{s}`: {e}")))?,
            None => default_port
                .ok_or_else(|| Malformed(format!("`{s}` has no port (write host:port)")))?,
        };
        Endpoint::new(host, port)
    }

    /// The host as written (lowercase, brackets removed).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address to use without asking DNS: IP literals and `localhost` (127.0.0.1).
    pub fn fixed_ip(&self) -> Option<IpAddr> {
        self.ip
    }

    pub(crate) fn server_name(&self) -> &ServerName<'static> {
        &self.server_name
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

pub(crate) fn parse_port(p: &str) -> Result<u16, Malformed> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(Malformed(format!("`{p}` is not a port (1-65535)"))),
        Ok(port) => Ok(port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        type Want<'a> = Option<(&'a str, u16, bool)>;
        let table: &[(&str, Option<u16>, Want)] = &[
            ("example.com:443", None, Some(("example.com", 443, false))),
            (
                "Example.COM.:8443",
                None,
                Some(("example.com", 8443, false)),
            ),
            ("localhost:1", None, Some(("localhost", 1, true))),
            ("127.0.0.1:80", None, Some(("127.0.0.1", 80, true))),
            ("[::1]:443", None, Some(("::1", 443, true))),
            ("::1", Some(443), Some(("::1", 443, true))),
            ("example.com", Some(443), Some(("example.com", 443, false))),
            ("example.com", None, None),
            ("example.com:0", None, None),
            ("example.com:http", None, None),
            (":80", None, None),
            ("a b:80", None, None),
            ("[::1", None, None),
            ("http://x:80", None, None),
        ];
        for (input, default, want) in table {
            let got = Endpoint::parse_host_port(input, *default);
            match (got, want) {
                (Ok(e), Some((host, port, fixed))) => {
                    assert_eq!(
                        (e.host(), e.port(), e.fixed_ip().is_some()),
                        (*host, *port, *fixed),
                        "{input}"
                    )
                }
                (Err(_), None) => {}
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn localhost_keeps_its_name_for_tls() {
        let e = Endpoint::parse_host_port("localhost:443", None).expect("valid");
        assert!(matches!(e.server_name(), ServerName::DnsName(_)));
        let e = Endpoint::parse_host_port("127.0.0.1:443", None).expect("valid");
        assert!(matches!(e.server_name(), ServerName::IpAddress(_)));
    }
}
