//! Validated identifiers: lowercase slugs for services, components and problem kinds.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::sync::Arc;

/// Longest accepted slug, in bytes (all slug characters are ASCII).
pub const MAX_SLUG_LEN: usize = 64;

/// Why a string is not a valid slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_SLUG_LEN} characters")]
    TooLong,
    #[error(
        "may contain only lowercase letters a-z, digits and '-', and must start with a letter or digit (got {0:?})"
    )]
    BadChar(String),
}

/// A lowercase identifier safe in URLs, file names and SQL: `[a-z0-9][a-z0-9-]*`, 1–64 bytes.
/// Shared, not copied: cloning one (once per report on the hot path) allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Slug(Arc<str>);

impl Slug {
    pub fn parse(s: &str) -> Result<Self, SlugError> {
        if s.is_empty() {
            return Err(SlugError::Empty);
        }
        if s.len() > MAX_SLUG_LEN {
            return Err(SlugError::TooLong);
        }
        let mut bytes = s.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !(first_ok && rest_ok) {
            return Err(SlugError::BadChar(s.chars().take(MAX_SLUG_LEN).collect()));
        }
        Ok(Slug(Arc::from(s)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared string, for rows that carry it without copying.
    pub fn as_arc(&self) -> Arc<str> {
        self.0.clone()
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Slug::parse(&s).map_err(serde::de::Error::custom)
    }
}

macro_rules! slug_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Slug);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, SlugError> {
                Slug::parse(s).map($name)
            }
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
            pub fn as_arc(&self) -> Arc<str> {
                self.0.as_arc()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

slug_newtype!(
    /// The id of a service (`melodia`): its URL segment and its key in the store.
    ServiceId
);
slug_newtype!(
    /// The id of a component of a service (`login`, `playback`).
    ComponentId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_slugs() {
        for ok in ["melodia", "a", "web-player", "0day", &"a".repeat(64)] {
            assert!(Slug::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_non_slugs() {
        let cases = [
            ("", SlugError::Empty),
            (&"a".repeat(65), SlugError::TooLong),
            ("Melodia", SlugError::BadChar("Melodia".into())),
            ("-x", SlugError::BadChar("-x".into())),
            ("a b", SlugError::BadChar("a b".into())),
            ("a/b", SlugError::BadChar("a/b".into())),
            ("é", SlugError::BadChar("é".into())),
        ];
        for (input, want) in cases {
            assert_eq!(Slug::parse(input), Err(want), "{input:?}");
        }
    }
}
