//! Durations written by people (`15m`, `30d`, `1h 30m`), with the bounds a setting needs.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    #[error("{0:?} is not a duration: {1} (write e.g. 90s, 15m, 2h, 30d)")]
    Syntax(String, String),
    #[error("{0} is below the minimum of {1}")]
    TooShort(String, String),
    #[error("{0} is above the maximum of {1}")]
    TooLong(String, String),
}

/// A non-negative duration parsed from text like `15m` or `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(Duration);

impl Span {
    pub const fn from_secs(s: u64) -> Self {
        Span(Duration::from_secs(s))
    }

    pub fn parse(s: &str) -> Result<Self, SpanError> {
        humantime::parse_duration(s.trim())
            .map(Span)
            .map_err(|e| SpanError::Syntax(s.chars().take(40).collect(), e.to_string()))
    }

    /// Parses and checks `min <= span <= max`.
    pub fn parse_within(s: &str, min: Span, max: Span) -> Result<Self, SpanError> {
        let span = Span::parse(s)?;
        if span < min {
            return Err(SpanError::TooShort(span.to_string(), min.to_string()));
        }
        if span > max {
            return Err(SpanError::TooLong(span.to_string(), max.to_string()));
        }
        Ok(span)
    }

    pub fn as_duration(self) -> Duration {
        self.0
    }

    pub fn as_millis(self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }

    pub fn as_secs(self) -> u64 {
        self.0.as_secs()
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Span::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_durations() {
        assert_eq!(Span::parse("15m").unwrap().as_secs(), 900);
        assert_eq!(Span::parse("30d").unwrap().as_secs(), 30 * 86400);
        assert_eq!(Span::parse("1h 30m").unwrap().as_secs(), 5400);
        assert!(Span::parse("soon").is_err());
        assert!(Span::parse("-5m").is_err());
    }

    #[test]
    fn enforces_bounds() {
        let min = Span::from_secs(5);
        let max = Span::from_secs(3600);
        assert!(Span::parse_within("4s", min, max).is_err());
        assert!(Span::parse_within("2h", min, max).is_err());
        assert_eq!(Span::parse_within("5s", min, max).unwrap().as_secs(), 5);
    }
}
