//! The switches a scenario flips on Melodia: each is read by the fake service's servers on
//! every connection or request, so a change shows in the very next probe.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The vantage regions of the demo: this server's own, then the two agents'. Index `i` is
/// also the CDN edge that region is sent to by Melodia's DNS.
pub const REGIONS: [&str; 3] = ["eu-west", "us-east", "ap-southeast"];

/// One thing that can break at Melodia.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The API host refuses TLS handshakes (a bad deployment of the login front end).
    Handshake,
    /// The API host presents a certificate that expired two days ago.
    ExpiredCertificate,
    /// Melodia's DNS answers SERVFAIL for every name.
    Dns,
    /// The API answers 503 to most requests and slowly to the rest.
    Overload,
    /// The CDN edge serving one region (an index into [`REGIONS`]) answers 502.
    Cdn(usize),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Handshake => f.write_str("the login API refuses TLS handshakes"),
            Fault::ExpiredCertificate => {
                f.write_str("the API presents a certificate that expired two days ago")
            }
            Fault::Dns => f.write_str("Melodia's DNS servers answer SERVFAIL"),
            Fault::Overload => f.write_str("the API is overloaded (503s and slow answers)"),
            Fault::Cdn(i) => write!(
                f,
                "the CDN edge serving {} answers 502",
                REGIONS.get(*i).copied().unwrap_or("?")
            ),
        }
    }
}

/// What is broken right now.
#[derive(Debug, Default)]
pub struct Faults {
    handshake: AtomicBool,
    expired_certificate: AtomicBool,
    dns: AtomicBool,
    overload: AtomicBool,
    /// Bit `i`: the edge of region `i` fails.
    cdn: AtomicUsize,
    /// Requests answered so far, for the slow share of an overload.
    requests: AtomicUsize,
}

impl Faults {
    pub fn set(&self, fault: Fault, on: bool) {
        let flag = match fault {
            Fault::Handshake => &self.handshake,
            Fault::ExpiredCertificate => &self.expired_certificate,
            Fault::Dns => &self.dns,
            Fault::Overload => &self.overload,
            Fault::Cdn(i) => {
                let bit = 1usize << i;
                if on {
                    self.cdn.fetch_or(bit, Ordering::Relaxed);
                } else {
                    self.cdn.fetch_and(!bit, Ordering::Relaxed);
                }
                return;
            }
        };
        flag.store(on, Ordering::Relaxed);
    }

    pub fn is_on(&self, fault: Fault) -> bool {
        match fault {
            Fault::Handshake => self.handshake.load(Ordering::Relaxed),
            Fault::ExpiredCertificate => self.expired_certificate.load(Ordering::Relaxed),
            Fault::Dns => self.dns.load(Ordering::Relaxed),
            Fault::Overload => self.overload.load(Ordering::Relaxed),
            Fault::Cdn(i) => self.cdn.load(Ordering::Relaxed) & (1 << i) != 0,
        }
    }

    /// Under overload, how this request is answered: three in five get 503 at once, the
    /// others wait. Deterministic, so every region sees both.
    pub(crate) fn overload_answer(&self) -> Option<OverloadAnswer> {
        if !self.is_on(Fault::Overload) {
            return None;
        }
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        Some(if n % 5 < 3 {
            OverloadAnswer::Unavailable
        } else {
            OverloadAnswer::Slow
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OverloadAnswer {
    Unavailable,
    Slow,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_are_independent() {
        let f = Faults::default();
        f.set(Fault::Cdn(2), true);
        f.set(Fault::Dns, true);
        assert!(f.is_on(Fault::Cdn(2)) && f.is_on(Fault::Dns));
        assert!(!f.is_on(Fault::Cdn(0)) && !f.is_on(Fault::Handshake));
        f.set(Fault::Cdn(2), false);
        assert!(!f.is_on(Fault::Cdn(2)) && f.is_on(Fault::Dns));
        assert_eq!(f.overload_answer(), None);
        f.set(Fault::Overload, true);
        let answers: Vec<_> = (0..5).filter_map(|_| f.overload_answer()).collect();
        assert_eq!(
            answers
                .iter()
                .filter(|a| **a == OverloadAnswer::Unavailable)
                .count(),
            3
        );
    }
}
