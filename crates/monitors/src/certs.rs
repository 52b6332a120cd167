//! Certificate expiry warnings. TLS and HTTPS probes read the server certificate; when one
//! has fewer days left than a threshold of `[notify] cert_expiry_days`, one
//! `certificate.expiring` event goes out for that certificate and the tightest threshold
//! crossed. Its id names the monitor, the certificate's end of validity and the threshold,
//! so checking again (every round, after a restart, on another node) sends nothing new,
//! and a renewed certificate starts afresh. On several nodes, each checks the monitors it
//! probes.

use crate::Monitors;
use downbeat_domain::event::{CertificateExpiring, Event, Notice};

/// Looks at every monitor's latest results as of `now_ms` and enqueues the warnings due;
/// returns how many deliveries were new.
pub async fn check(monitors: &Monitors, now_ms: i64) -> u32 {
    let config = monitors.config.get();
    let thresholds = &config.notify.cert_expiry_days;
    let mut new = 0;
    for m in &config.monitors {
        // On several nodes, the node that probes a monitor looks at its certificates.
        if !monitors.owners.mine(m.id.as_str()) {
            continue;
        }
        // The soonest-expiring certificate any region sees (regions may hit different
        // servers behind one name).
        let soonest = monitors
            .latest(m.id.as_str())
            .into_values()
            .filter_map(|r| r.result.certificate)
            .min_by_key(|c| c.not_after);
        let Some(cert) = soonest else { continue };
        let days_left = (cert.not_after.as_millisecond() - now_ms).div_euclid(86_400_000);
        let Some(threshold) = thresholds
            .iter()
            .copied()
            .filter(|t| days_left < i64::from(*t))
            .min()
        else {
            continue;
        };
        let expiring = Event::CertificateExpiring(CertificateExpiring {
            monitor: m.id.to_string(),
            subject: cert.subject,
            issuer: cert.issuer,
            not_after: cert.not_after,
            days_left,
            threshold_days: threshold,
        });
        let event = Notice::new(m.service.as_str(), now_ms, expiring)
            .about(m.component.as_ref().map(|c| c.as_str()));
        match monitors.notifier.enqueue(event).await {
            Ok(n) => new += n,
            Err(e) => {
                tracing::warn!(error = %e, monitor = %m.id, "could not queue a certificate warning")
            }
        }
    }
    new
}
