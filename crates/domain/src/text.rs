//! Text that every output can carry. XML 1.0 (Atom feeds) refuses some characters that
//! UTF-8 encodes happily (U+FFFE, U+FFFF), and Unicode's non-characters (U+FDD0–U+FDEF and
//! the last two code points of every plane) are not text at all. Input that reaches a page,
//! a feed or a mail is refused when it holds one; output built from older data strips them.

use std::borrow::Cow;

/// Whether `c` is a non-character: U+FDD0–U+FDEF, or U+xxFFFE / U+xxFFFF in any plane.
pub fn is_noncharacter(c: char) -> bool {
    let u = c as u32;
    (0xFDD0..=0xFDEF).contains(&u) || (u & 0xFFFE) == 0xFFFE
}

/// Whether XML 1.0 can carry `c` and it is a character at all (tab, line feed and carriage
/// return are the only controls XML allows).
pub fn is_xml_char(c: char) -> bool {
    let u = c as u32;
    let xml = matches!(u, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF);
    xml && !is_noncharacter(c)
}

/// The first character of `s` that no output can carry (controls other than tab and line
/// breaks, and non-characters), to name it in an error.
pub fn first_unfit(s: &str) -> Option<char> {
    s.chars().find(|&c| !is_xml_char(c))
}

/// `s` without the characters XML cannot carry: for output built from data stored before
/// input was checked.
pub fn xml_safe(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| is_xml_char(c)).collect())
    }
}

/// "U+FFFE": a character as people look it up.
pub fn code_point(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_characters_and_xml_invalid_characters_are_found() {
        for c in [
            '\u{FFFE}',
            '\u{FFFF}',
            '\u{FDD0}',
            '\u{FDEF}',
            '\u{1FFFE}',
            '\u{10FFFF}',
            '\u{0}',
            '\u{1B}',
        ] {
            assert!(!is_xml_char(c), "{}", code_point(c));
        }
        for c in [
            'a',
            '\t',
            '\n',
            '\r',
            'é',
            '\u{FFFD}',
            '\u{1F3B5}',
            '\u{E000}',
        ] {
            assert!(is_xml_char(c), "{}", code_point(c));
        }
        assert_eq!(first_unfit("ok\u{FFFE}no"), Some('\u{FFFE}'));
        assert_eq!(first_unfit("fine\ttext\n"), None);
        assert_eq!(xml_safe("a\u{FFFE}b\u{0}c"), "abc");
        assert!(matches!(xml_safe("plain"), Cow::Borrowed(_)));
        assert_eq!(code_point('\u{FFFE}'), "U+FFFE");
    }
}
