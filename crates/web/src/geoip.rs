//! The optional GeoIP database: an operator-provided MaxMind DB file (GeoLite2 or GeoIP2,
//! Country or City) that guesses a reporter's country from their address, better than the
//! browser language does. Used only for the report form's "detect automatically" country,
//! which is resolved when the form is posted: the cached page itself stays the same for
//! everyone (a CDN cannot vary on the client address).

use downbeat_config::load::{GeoIpFileError, open_geoip};
use downbeat_domain::CountryCode;
use maxminddb::{Reader, geoip2};
use std::net::IpAddr;
use std::path::Path;

/// An opened database, read into memory once.
pub struct GeoIp {
    reader: Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp")
            .field("database_type", &self.reader.metadata().database_type)
            .finish()
    }
}

impl GeoIp {
    pub fn open(path: &Path) -> Result<GeoIp, GeoIpFileError> {
        open_geoip(path).map(|reader| GeoIp { reader })
    }

    /// The country of `ip`, if the database knows it: where MaxMind places the address,
    /// else where its block is registered. Addresses it does not cover (private ranges, IPv6
    /// in an IPv4-only file) give `None`.
    pub fn country(&self, ip: IpAddr) -> Option<CountryCode> {
        // An IPv4 client seen through an IPv6 socket.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let found = self.reader.lookup(ip).ok()?;
        let record: geoip2::Country = found.decode().ok()??;
        record
            .country
            .iso_code
            .or(record.registered_country.iso_code)
            .and_then(|c| CountryCode::parse(c).ok())
    }
}
