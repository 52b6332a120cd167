//! Certificate diagnosis: a verifier that keeps what it rejected, and the reading of a leaf
//! certificate into [`CertInfo`] and a [`Detail`].
//!
//! rustls reports a rejected chain as an opaque handshake error and drops the certificate. To
//! say "expired 2 h ago" we wrap the webpki verifier: it decides exactly as before, and we keep
//! its verdict and the leaf so the probe can parse the dates and names afterwards.

use std::sync::{Arc, Mutex, PoisonError};

use jiff::Timestamp;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error as TlsError, SignatureScheme};

use crate::outcome::Detail;
use crate::result::CertInfo;

/// What the verifier saw on one connection.
#[derive(Debug)]
pub(crate) struct Seen {
    pub(crate) leaf: CertificateDer<'static>,
    pub(crate) verdict: Result<(), TlsError>,
}

/// Delegates every decision to webpki and records the leaf and the verdict.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    seen: Mutex<Option<Seen>>,
}

impl RecordingVerifier {
    pub(crate) fn new(inner: Arc<WebPkiServerVerifier>) -> Self {
        RecordingVerifier {
            inner,
            seen: Mutex::new(None),
        }
    }

    pub(crate) fn take(&self) -> Option<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let verdict = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(Seen {
            leaf: end_entity.clone().into_owned(),
            verdict: verdict.as_ref().map(|_| ()).map_err(Clone::clone),
        });
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Reads the dates and names of a DER certificate; `None` if it does not parse (webpki will
/// have rejected it anyway).
pub(crate) fn cert_info(der: &[u8], now: Timestamp) -> Option<CertInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let validity = cert.validity();
    let not_before = Timestamp::from_second(validity.not_before.timestamp()).ok()?;
    let not_after = Timestamp::from_second(validity.not_after.timestamp()).ok()?;
    Some(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before,
        not_after,
        days_until_expiry: (not_after.as_second() - now.as_second()).div_euclid(86_400),
    })
}

/// Names what is wrong with a rejected certificate. The dates are checked first on purpose:
/// an expired self-signed certificate is reported as expired (what an operator must fix
/// first), although webpki may have complained about the issuer.
pub(crate) fn classify(error: &TlsError, info: Option<&CertInfo>, now: Timestamp) -> Detail {
    if let Some(info) = info {
        if info.not_after < now {
            return Detail::Expired;
        }
        if info.not_before > now {
            return Detail::NotYetValid;
        }
    }
    match error {
        TlsError::InvalidCertificate(e) => match e {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => Detail::Expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                Detail::NotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Detail::WrongHost
            }
            CertificateError::UnknownIssuer => Detail::Untrusted,
            CertificateError::Revoked => Detail::Revoked,
            _ => Detail::BadCertificate,
        },
        _ => Detail::BadCertificate,
    }
}
