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
    let occurred_at = occurred_at(event);
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

/// When `event` happened, in RFC 3339.
pub fn occurred_at(event: &NotifyEventRow) -> String {
    jiff::Timestamp::from_millisecond(event.occurred_ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
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

/// The Standard Webhooks signature: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under
/// the key a `whsec_<base64>` secret holds (validated at load; were it not base64 after
/// all, its bytes would be the key, and receivers would refuse every request).
pub fn standard_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = b64
        .decode(encoded)
        .unwrap_or_else(|_| encoded.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC accepts any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", b64.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_signature_matches_the_specifications_example() {
        // The example of the Standard Webhooks reference libraries' tests.
        assert_eq!(
            standard_signature(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn signature_matches_a_known_vector() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"key",b"1700000000.{}",hashlib.sha256).hexdigest())'
        assert_eq!(
            signature("key", 1_700_000_000, b"{}"),
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }
}
