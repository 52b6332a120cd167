//! Melodia's certificates, made at start: a private CA (which the demo's monitors trust
//! through `ca_pem`, as an operator would for an internal CA), a valid certificate for
//! Melodia's hosts, and one that expired two days ago for the expired-certificate fault.
//!
//! Validity is judged on the real calendar (that is what TLS does), so the dates are real
//! ones, whatever the demo's clock says.

use jiff::{Timestamp, ToSpan, tz::TimeZone};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use std::sync::Arc;

/// Melodia's host names, all under the demo's own zone.
pub const HOSTS: [&str; 2] = ["api.melodia.test", "cdn.melodia.test"];

pub struct Certs {
    /// The CA, PEM: what the monitors trust.
    pub ca_pem: String,
    pub valid: Arc<CertifiedKey>,
    pub expired: Arc<CertifiedKey>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot make the demo's certificates: {0}")]
pub struct CertError(String);

fn err(e: impl std::fmt::Display) -> CertError {
    CertError(e.to_string())
}

/// (year, month, day) `days` from today (UTC).
fn day(days: i64) -> (i32, u8, u8) {
    let d = (Timestamp::now() + (days * 24).hours())
        .to_zoned(TimeZone::UTC)
        .date();
    (i32::from(d.year()), d.month() as u8, d.day() as u8)
}

impl Certs {
    pub fn generate() -> Result<Certs, CertError> {
        let ca_key = KeyPair::generate().map_err(err)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "Melodia demo CA");
        let (y, m, d) = day(-800);
        ca.not_before = rcgen::date_time_ymd(y, m, d);
        let (y, m, d) = day(800);
        ca.not_after = rcgen::date_time_ymd(y, m, d);
        let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
        let issuer = Issuer::new(ca, ca_key);
        Ok(Certs {
            ca_pem: ca_cert.pem(),
            valid: leaf(&issuer, -30, 60)?,
            expired: leaf(&issuer, -400, -2)?,
        })
    }
}

/// A certificate for [`HOSTS`] valid from `from` to `until` days from today.
fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    from: i64,
    until: i64,
) -> Result<Arc<CertifiedKey>, CertError> {
    let key = KeyPair::generate().map_err(err)?;
    let mut params = CertificateParams::new(HOSTS.map(String::from).to_vec()).map_err(err)?;
    params.distinguished_name.push(DnType::CommonName, HOSTS[0]);
    let (y, m, d) = day(from);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = day(until);
    params.not_after = rcgen::date_time_ymd(y, m, d);
    let cert = params.signed_by(&key, issuer).map_err(err)?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing = rustls::crypto::ring::sign::any_supported_type(&der).map_err(err)?;
    Ok(Arc::new(CertifiedKey::new(
        vec![CertificateDer::from(cert.der().to_vec())],
        signing,
    )))
}
