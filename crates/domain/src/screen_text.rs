//! The words on a listener's screen: the optional `message` of a report ("Something went
//! wrong"). Free text from anyone, so bounded and cleaned here, and shown only in clusters
//! that enough networks typed (the crowd stage's `messages`).

use serde::Serialize;
use std::fmt;

/// Longest accepted message, in characters.
pub const MAX_SCREEN_TEXT_CHARS: usize = 140;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScreenTextError {
    #[error("must be at most {MAX_SCREEN_TEXT_CHARS} characters (got {0})")]
    TooLong(usize),
    #[error("must not contain control characters")]
    ControlChar,
}

/// Why a listener's free text (a message, a city) is refused; each type names it in its
/// own error.
#[derive(Debug)]
pub(crate) enum FreeText {
    TooLong(usize),
    ControlChar,
}

/// A listener's free text, trimmed: `None` when blank; refused when longer than `max`
/// characters or holding control characters.
pub(crate) fn free_text(s: &str, max: usize) -> Result<Option<&str>, FreeText> {
    let n = s.chars().count();
    if n > max {
        return Err(FreeText::TooLong(n));
    }
    if s.chars().any(char::is_control) {
        return Err(FreeText::ControlChar);
    }
    let t = s.trim();
    Ok((!t.is_empty()).then_some(t))
}

/// A trimmed, non-empty message of at most [`MAX_SCREEN_TEXT_CHARS`] characters, without
/// control characters. Still untrusted text: pages must escape it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ScreenText(String);

impl ScreenText {
    /// Parses a message; an empty or all-blank input means "not given" and yields `Ok(None)`.
    pub fn parse(s: &str) -> Result<Option<Self>, ScreenTextError> {
        match free_text(s, MAX_SCREEN_TEXT_CHARS) {
            Ok(t) => Ok(t.map(|t| ScreenText(t.to_owned()))),
            Err(FreeText::TooLong(n)) => Err(ScreenTextError::TooLong(n)),
            Err(FreeText::ControlChar) => Err(ScreenTextError::ControlChar),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ScreenText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_bounded_clean_and_trimmed() {
        assert_eq!(
            ScreenText::parse("  Something went wrong  ")
                .unwrap()
                .unwrap()
                .as_str(),
            "Something went wrong"
        );
        assert_eq!(ScreenText::parse("   ").unwrap(), None);
        let long = "é".repeat(MAX_SCREEN_TEXT_CHARS + 1);
        assert_eq!(
            ScreenText::parse(&long),
            Err(ScreenTextError::TooLong(MAX_SCREEN_TEXT_CHARS + 1))
        );
        assert!(ScreenText::parse(&"é".repeat(MAX_SCREEN_TEXT_CHARS)).is_ok());
        assert_eq!(
            ScreenText::parse("bad\u{7}bell"),
            Err(ScreenTextError::ControlChar)
        );
    }
}
