//! Downbeat's own webhook: the event as signed JSON, for receivers that act on it.
//!
//! Body: `{id, type, service, occurred_at, link, data}`. Headers: `X-Downbeat-Event-Id`,
//! `X-Downbeat-Timestamp` (unix seconds of this attempt) and `X-Downbeat-Signature:
//! sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`. The timestamp is signed so a
//! receiver can refuse replays of an old request.

use super::{Clients, HttpRequest, HttpTarget, Parcel, SendError, Transport};
use downbeat_store::NotifyEventRow;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// Posts [`body`] (signed when the target has a secret; config requires one for
/// destinations, and every subscriber has its own).
#[derive(Debug, Clone)]
pub struct Webhook {
    pub target: HttpTarget,
}

impl Webhook {
    pub fn request(&self, parcel: &Parcel<'_>) -> HttpRequest {
        self.target
            .request(parcel, "application/json", body(parcel.event), Vec::new())
    }
}

impl Transport for Webhook {
    async fn send(&self, clients: Clients<'_>, parcel: &Parcel<'_>) -> Result<u16, SendError> {
        self.target.post(clients, self.request(parcel)).await
    }
}

/// The JSON body for an event.
pub fn body(event: &NotifyEventRow) -> Vec<u8> {
    let occurred_at = jiff::Timestamp::from_millisecond(event.occurred_ms)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    let v = json!({
        "id": event.id,
        "type": event.kind.as_str(),
        "service": event.service,
        "occurred_at": occurred_at,
        "link": event.link,
        "data": data,
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

/// `sha256=<hex>` of the HMAC-SHA256 of `timestamp.body` under `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "sha256={}",
        downbeat_domain::hex::hex(&mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"key",b"1700000000.{}",hashlib.sha256).hexdigest())'
        assert_eq!(
            signature("key", 1_700_000_000, b"{}"),
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }
}
