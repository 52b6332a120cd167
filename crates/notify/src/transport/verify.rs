//! Verifying a webhook subscriber's endpoint before anything else is sent to it: a signed
//! challenge the endpoint must echo, so a visitor cannot point Downbeat's requests at a URL
//! that does not want them (and a typo does not take a slot of the delivery loop for days).
//!
//! Body: `{id, type: "subscription.verify", service, occurred_at, link, data: {challenge}}`,
//! signed like every subscriber webhook (`X-Downbeat-Timestamp`, `X-Downbeat-Signature`
//! under the subscription's secret). The endpoint proves it is there and wants the events
//! by answering a 2xx whose body is the challenge: as plain text, or as JSON
//! `{"challenge": "..."}`. Each attempt carries a fresh random challenge.

use super::{Clients, HttpTarget, Parcel, SendError, Transport};
use serde_json::{Value, json};

/// The `type` of a verification request.
pub const VERIFY_TYPE: &str = "subscription.verify";

/// Posts a challenge and checks its echo.
#[derive(Debug, Clone)]
pub struct Verification {
    pub target: HttpTarget,
    /// This attempt's challenge: 32 random bytes as hex.
    pub challenge: String,
}

impl Verification {
    pub fn new(target: HttpTarget) -> Self {
        Verification {
            target,
            challenge: downbeat_domain::hex::hex(&rand::random::<[u8; 32]>()),
        }
    }

    /// The JSON body for `parcel`'s verification event.
    pub fn body(&self, parcel: &Parcel<'_>) -> Vec<u8> {
        let event = parcel.event;
        let occurred_at = jiff::Timestamp::from_millisecond(event.occurred_ms)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let v = json!({
            "id": event.id,
            "type": VERIFY_TYPE,
            "service": event.service,
            "occurred_at": occurred_at,
            "link": event.link,
            "data": {"challenge": self.challenge},
        });
        serde_json::to_vec(&v).unwrap_or_default()
    }

    /// Whether an answer's body echoes the challenge (plain, or JSON `{"challenge": …}`).
    pub fn echoed(&self, body: &[u8]) -> bool {
        let Ok(text) = std::str::from_utf8(body) else {
            return false;
        };
        let text = text.trim();
        text == self.challenge
            || serde_json::from_str::<Value>(text)
                .is_ok_and(|v| v.get("challenge").and_then(Value::as_str) == Some(&self.challenge))
    }
}

impl Transport for Verification {
    async fn send(&self, clients: Clients<'_>, parcel: &Parcel<'_>) -> Result<u16, SendError> {
        let req = self
            .target
            .request(parcel, "application/json", self.body(parcel), Vec::new());
        let answer = self.target.answer(clients, req).await?;
        if self.echoed(&answer.body) {
            Ok(answer.status)
        } else {
            Err(SendError::NotEchoed {
                status: answer.status,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tests::{event, msg, plain};

    #[test]
    fn the_challenge_is_fresh_and_only_its_echo_counts() {
        let v = Verification::new(plain());
        assert_eq!(v.challenge.len(), 64);
        assert_ne!(v.challenge, Verification::new(plain()).challenge);
        let c = v.challenge.clone();
        for ok in [
            c.clone(),
            format!("{c}\n"),
            format!(r#"{{"challenge": "{c}"}}"#),
        ] {
            assert!(v.echoed(ok.as_bytes()), "{ok}");
        }
        for bad in [
            String::new(),
            "ok".into(),
            c[..63].to_owned(),
            format!(r#"{{"token": "{c}"}}"#),
            format!("challenge={c}"),
        ] {
            assert!(!v.echoed(bad.as_bytes()), "{bad}");
        }
        let (e, m) = (event(), msg("x"));
        let parcel = Parcel {
            event: &e,
            message: &m,
            now_s: 1_700_000_000,
        };
        let body: Value = serde_json::from_slice(&v.body(&parcel)).unwrap();
        assert_eq!(body["type"], VERIFY_TYPE);
        assert_eq!(body["data"]["challenge"], c.as_str());
        assert_eq!(body["id"], e.id.as_str());
    }
}
