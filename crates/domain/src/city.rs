//! A city name typed by a listener: free text, so bounded and cleaned.

use serde::Serialize;
use std::fmt;

/// Longest accepted city name, in characters.
pub const MAX_CITY_CHARS: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CityError {
    #[error("must be at most {MAX_CITY_CHARS} characters (got {0})")]
    TooLong(usize),
    #[error("must not contain control characters")]
    ControlChar,
    #[error("a city name must not be empty")]
    Empty,
}

/// A trimmed, non-empty city name of at most [`MAX_CITY_CHARS`] characters, without control
/// characters. It is still untrusted text: pages must escape it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct City(String);

impl City {
    /// Parses a city; an empty or all-blank input means "not given" and yields `Ok(None)`.
    pub fn parse(s: &str) -> Result<Option<Self>, CityError> {
        let n = s.chars().count();
        if n > MAX_CITY_CHARS {
            return Err(CityError::TooLong(n));
        }
        if s.chars().any(char::is_control) {
            return Err(CityError::ControlChar);
        }
        let t = s.trim();
        Ok((!t.is_empty()).then(|| City(t.to_owned())))
    }

    /// Parses a city that must be given: empty or blank input is [`CityError::Empty`].
    pub fn parse_required(s: &str) -> Result<Self, CityError> {
        City::parse(s)?.ok_or(CityError::Empty)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for City {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_and_bounds_cities() {
        assert_eq!(
            City::parse("  London ").unwrap().unwrap().as_str(),
            "London"
        );
        assert_eq!(City::parse("   ").unwrap(), None);
        assert_eq!(
            City::parse("São Paulo").unwrap().unwrap().as_str(),
            "São Paulo"
        );
        assert_eq!(City::parse(&"a".repeat(81)), Err(CityError::TooLong(81)));
        assert_eq!(City::parse("Lon\u{0}don"), Err(CityError::ControlChar));
        assert_eq!(City::parse("Lon\ndon"), Err(CityError::ControlChar));
        assert_eq!(City::parse_required("  "), Err(CityError::Empty));
        assert_eq!(
            City::parse_required(" Leeds ").map(City::into_string),
            Ok("Leeds".into())
        );
        assert_eq!(City::parse("\u{7f}"), Err(CityError::ControlChar));
    }
}
