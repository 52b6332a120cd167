//! Community comments on a service's public page: what a listener may write, whether the
//! operator takes comments at all, and where a comment stands in moderation.
//!
//! A comment is free text from anyone, so it is bounded and cleaned here ([`CommentText`])
//! and escaped by every page that shows it. It is never a report: nothing here counts.

use crate::screen_text::{FreeText, free_text};
use serde::Serialize;
use std::fmt;

/// Longest accepted comment, in characters (after line breaks became spaces and the ends
/// were trimmed).
pub const MAX_COMMENT_CHARS: usize = 280;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommentTextError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_COMMENT_CHARS} characters (got {0})")]
    TooLong(usize),
    #[error("must not contain control characters")]
    ControlChar,
    #[error("must not contain the character {}", crate::text::code_point(*.0))]
    Unfit(char),
}

/// A comment's text: trimmed, 1 to [`MAX_COMMENT_CHARS`] characters, on one line (line
/// breaks and tabs, which a `<textarea>` sends, become spaces; a CR LF pair becomes one),
/// with no other control character and no non-character. Still untrusted text: pages must
/// escape it, and a link in it stays text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CommentText(String);

impl CommentText {
    pub fn parse(s: &str) -> Result<Self, CommentTextError> {
        let one_line = s.replace("\r\n", " ").replace(['\r', '\n', '\t'], " ");
        let trimmed = one_line.trim();
        if let Some(c) = trimmed.chars().find(|&c| crate::text::is_noncharacter(c)) {
            return Err(CommentTextError::Unfit(c));
        }
        match free_text(trimmed, MAX_COMMENT_CHARS) {
            Ok(Some(t)) => Ok(CommentText(t.to_owned())),
            Ok(None) => Err(CommentTextError::Empty),
            Err(FreeText::TooLong(n)) => Err(CommentTextError::TooLong(n)),
            Err(FreeText::ControlChar) => Err(CommentTextError::ControlChar),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for CommentText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a service takes comments, and how (`[[service]] comments`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CommentMode {
    /// No comment section, and the form's route answers 404.
    #[default]
    Off,
    /// Comments wait for an operator's approval before anyone sees them.
    Premoderated,
    /// Comments are shown at once; operators may hide them afterwards.
    Open,
}

impl CommentMode {
    pub const ALL: [CommentMode; 3] = [
        CommentMode::Off,
        CommentMode::Premoderated,
        CommentMode::Open,
    ];

    /// The config word.
    pub fn as_str(self) -> &'static str {
        match self {
            CommentMode::Off => "off",
            CommentMode::Premoderated => "premoderated",
            CommentMode::Open => "open",
        }
    }

    pub fn parse(s: &str) -> Option<CommentMode> {
        CommentMode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn is_on(self) -> bool {
        self != CommentMode::Off
    }

    /// Where a new comment starts; `None` when comments are off.
    pub fn first_state(self) -> Option<CommentState> {
        match self {
            CommentMode::Off => None,
            CommentMode::Premoderated => Some(CommentState::Pending),
            CommentMode::Open => Some(CommentState::Shown),
        }
    }
}

impl fmt::Display for CommentMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a comment stands: waiting for a moderator, on the public page, or taken off it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommentState {
    Pending,
    Shown,
    Hidden,
}

impl CommentState {
    pub const ALL: [CommentState; 3] = [
        CommentState::Pending,
        CommentState::Shown,
        CommentState::Hidden,
    ];

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            CommentState::Pending => "pending",
            CommentState::Shown => "shown",
            CommentState::Hidden => "hidden",
        }
    }

    /// For operators.
    pub fn label(self) -> &'static str {
        match self {
            CommentState::Pending => "Awaiting approval",
            CommentState::Shown => "Shown",
            CommentState::Hidden => "Hidden",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_one_trimmed_line_of_bounded_clean_text() {
        let max = "é".repeat(MAX_COMMENT_CHARS);
        let over = "é".repeat(MAX_COMMENT_CHARS + 1);
        let padded = format!("  {max}\r\n");
        // (input, the text kept or the error)
        let cases: [(&str, Result<&str, CommentTextError>); 13] = [
            ("Same here in Leeds", Ok("Same here in Leeds")),
            ("  trimmed\t", Ok("trimmed")),
            ("two\r\nlines", Ok("two lines")),
            ("two\nlines\rand\ta tab", Ok("two lines and a tab")),
            (
                "<a href=\"https://x.example\">x</a>",
                Ok("<a href=\"https://x.example\">x</a>"),
            ),
            (&max, Ok(&max)),
            // Whitespace around the limit does not count against it.
            (&padded, Ok(&max)),
            (&over, Err(CommentTextError::TooLong(MAX_COMMENT_CHARS + 1))),
            ("", Err(CommentTextError::Empty)),
            (" \r\n\t ", Err(CommentTextError::Empty)),
            ("bell\u{7}", Err(CommentTextError::ControlChar)),
            ("esc\u{1b}[31m", Err(CommentTextError::ControlChar)),
            ("not\u{FFFE}text", Err(CommentTextError::Unfit('\u{FFFE}'))),
        ];
        for (input, want) in cases {
            let got = CommentText::parse(input);
            assert_eq!(
                got.as_ref().map(CommentText::as_str).map_err(Clone::clone),
                want,
                "{input:?}"
            );
        }
        assert_eq!(
            CommentText::parse(&over).unwrap_err().to_string(),
            "must be at most 280 characters (got 281)"
        );
        assert_eq!(
            CommentText::parse("a\u{FFFF}").unwrap_err().to_string(),
            "must not contain the character U+FFFF"
        );
    }

    #[test]
    fn modes_read_their_config_words_and_place_new_comments() {
        for m in CommentMode::ALL {
            assert_eq!(CommentMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(CommentMode::parse("Open"), None);
        assert_eq!(CommentMode::default(), CommentMode::Off);
        assert_eq!(CommentMode::Off.first_state(), None);
        assert_eq!(
            CommentMode::Premoderated.first_state(),
            Some(CommentState::Pending)
        );
        assert_eq!(CommentMode::Open.first_state(), Some(CommentState::Shown));
    }
}
