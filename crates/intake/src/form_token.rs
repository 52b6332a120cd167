//! The status page form's token: proof that a report was sent from a form this site
//! rendered recently, with no cookie and no JavaScript.
//!
//! The page is cached and shared by every visitor (and by every node on one store), so the
//! token cannot be personal: it is a keyed hash of (service, hour), `HOUR.MAC`, keyed by the
//! daily salt the intake already keeps in the store ([`crate::identity::Salts`]). Every node
//! therefore makes and accepts the same tokens, and a restart changes nothing. The salt is
//! only ever an HMAC key here, under its own label, so the token says nothing about it or
//! about any client hash.
//!
//! A token is good for the hour it was made in and the [`TOKEN_HOURS_BACK`] hours before
//! (and one hour ahead, for nodes whose clocks differ a little): a page left open for two
//! hours can still be sent. Because anyone can read the public page, the token alone does
//! not stop a forger who fetches it first; what refuses another site's page is the browser's
//! `Origin` and `Sec-Fetch-Site`, checked by the page. The token makes blind, replayed or
//! scripted-from-elsewhere posts fail, and expires.

use crate::identity::{DAY_MS, Salts, tag};
use downbeat_domain::hex::hex;
use downbeat_store::StoreError;

/// One token per service per this long.
pub const TOKEN_BUCKET_MS: i64 = 3_600_000;
/// A token stays good this many buckets after its own.
pub const TOKEN_HOURS_BACK: i64 = 2;

/// Why a form's token was refused.
#[derive(Debug, thiserror::Error)]
pub enum FormTokenError {
    /// The post carried no token: it did not come from this site's form.
    #[error("the form carried no form token")]
    Missing,
    /// A token of this site, but made too long ago (or too far ahead).
    #[error("the form's token has expired")]
    Expired,
    /// Not a token this site made for this service.
    #[error("the form's token is not one this site made for this service")]
    Invalid,
    /// The day's key could not be read from the store.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

fn bucket_of(ms: i64) -> i64 {
    ms.div_euclid(TOKEN_BUCKET_MS)
}

fn mac_hex(salts: &Salts, service: &str, bucket: i64, today: i64) -> Option<String> {
    let day = (bucket * TOKEN_BUCKET_MS).div_euclid(DAY_MS);
    let key = salts.key_of_day(today, day)?;
    Some(hex(&tag(
        key,
        &[b"report-form", service.as_bytes(), &bucket.to_be_bytes()],
    )))
}

impl Salts {
    /// The form token for `service` at `now_ms`, or None when the day's salt is not loaded
    /// yet ([`Salts::prepare`] loads it; the intake does at start).
    pub fn form_token(&self, service: &str, now_ms: i64) -> Option<String> {
        let bucket = bucket_of(now_ms);
        let today = now_ms.div_euclid(DAY_MS);
        mac_hex(self, service, bucket, today).map(|mac| format!("{bucket}.{mac}"))
    }

    /// Checks a form's token for `service` at `now_ms`.
    pub async fn check_form_token(
        &self,
        service: &str,
        token: Option<&str>,
        now_ms: i64,
    ) -> Result<(), FormTokenError> {
        let token = token.map(str::trim).unwrap_or("");
        if token.is_empty() {
            return Err(FormTokenError::Missing);
        }
        let Some((bucket, mac)) = token
            .split_once('.')
            .and_then(|(b, m)| Some((b.parse::<i64>().ok()?, m)))
        else {
            return Err(FormTokenError::Invalid);
        };
        let now = bucket_of(now_ms);
        if bucket < now - TOKEN_HOURS_BACK || bucket > now + 1 {
            return Err(FormTokenError::Expired);
        }
        self.prepare(now_ms).await?;
        let today = now_ms.div_euclid(DAY_MS);
        // A bucket whose day has no key here (tomorrow's, on a clock ahead) is not ours.
        let expected = mac_hex(self, service, bucket, today).ok_or(FormTokenError::Expired)?;
        if same(&expected, mac) {
            Ok(())
        } else {
            Err(FormTokenError::Invalid)
        }
    }
}

/// Equality that takes the same time wherever the first difference is.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use downbeat_store::testing::{all, each_backend};

    const HOUR: i64 = TOKEN_BUCKET_MS;

    #[tokio::test]
    async fn tokens_last_two_hours_back_and_name_their_service() {
        each_backend(|store, name| async move {
            let salts = Salts::new(store);
            // 01:30 UTC on some day: two hours back is yesterday, under yesterday's salt.
            let now = 20_000 * DAY_MS + HOUR + HOUR / 2;
            salts.prepare(now).await.unwrap();
            let token = salts.form_token("melodia", now).unwrap();
            for later in [0, HOUR, 2 * HOUR] {
                salts
                    .check_form_token("melodia", Some(&token), now + later)
                    .await
                    .unwrap_or_else(|e| panic!("{name}: +{later} ms: {e}"));
            }
            let late = salts
                .check_form_token("melodia", Some(&token), now + 3 * HOUR)
                .await;
            assert!(matches!(late, Err(FormTokenError::Expired)), "{name}");
            // Made at 23:30 yesterday, sent at 01:10 today: across the salt change.
            let before_midnight = 20_000 * DAY_MS - HOUR / 2;
            salts.prepare(before_midnight).await.unwrap();
            let old = salts.form_token("melodia", before_midnight).unwrap();
            salts
                .check_form_token("melodia", Some(&old), 20_000 * DAY_MS + HOUR + 600_000)
                .await
                .unwrap_or_else(|e| panic!("{name}: across midnight: {e}"));
            for (bad, want) in [
                (None, "no form token"),
                (Some(""), "no form token"),
                (Some("nonsense"), "not one this site made"),
                (Some(&token[..token.len() - 1]), "not one this site made"),
            ] {
                let e = salts
                    .check_form_token("melodia", bad, now)
                    .await
                    .unwrap_err();
                assert!(e.to_string().contains(want), "{name}: {bad:?}: {e}");
            }
            let e = salts
                .check_form_token("other", Some(&token), now)
                .await
                .unwrap_err();
            assert!(matches!(e, FormTokenError::Invalid), "{name}: {e}");
            // The hour is part of what is signed.
            let (bucket, mac) = token.split_once('.').unwrap();
            let moved = format!("{}.{mac}", bucket.parse::<i64>().unwrap() - 1);
            let e = salts
                .check_form_token("melodia", Some(&moved), now)
                .await
                .unwrap_err();
            assert!(matches!(e, FormTokenError::Invalid), "{name}: {e}");
        })
        .await;
    }

    #[tokio::test]
    async fn nodes_on_one_store_agree() {
        for t in all().await {
            let a = Salts::new(downbeat_store::open(&t.target).await.unwrap());
            let b = Salts::new(downbeat_store::open(&t.target).await.unwrap());
            let now = 20_000 * DAY_MS + 5 * HOUR;
            a.prepare(now).await.unwrap();
            b.prepare(now).await.unwrap();
            let token = a.form_token("melodia", now).unwrap();
            assert_eq!(
                b.form_token("melodia", now).as_deref(),
                Some(token.as_str()),
                "{}",
                t.name
            );
            b.check_form_token("melodia", Some(&token), now + 60_000)
                .await
                .unwrap();
        }
    }
}
