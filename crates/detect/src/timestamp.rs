//! Timestamp parsing for backtest files: RFC 3339, `YYYY-MM-DD HH:MM[:SS]` (UTC), a bare
//! date, and Unix seconds (or milliseconds). Hand-written to keep the crate dependency-free.

/// Why a timestamp was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError(pub(crate) String);

impl std::fmt::Display for TimestampError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Unix seconds for a timestamp in one of the supported forms. Fractions of a second are
/// truncated; a leap second (`:60`) counts as `:59`.
///
/// Integers with 12 or more digits are taken as milliseconds (12 digits of seconds would
/// be past the year 33 000).
pub fn parse_timestamp(text: &str) -> Result<i64, TimestampError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(TimestampError("the timestamp is empty".into()));
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s
            .parse()
            .map_err(|_| TimestampError(format!("unix time `{s}` is out of range")))?;
        return Ok(if digits.len() >= 12 {
            n.div_euclid(1000)
        } else {
            n
        });
    }
    parse_datetime(s).ok_or_else(|| {
        TimestampError(format!(
            "`{s}` is not a timestamp (expected RFC 3339 like 2026-01-05T08:00:00Z, \
             `YYYY-MM-DD HH:MM:SS` in UTC, or Unix seconds)"
        ))
    })
}

fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let year = num(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = num(b, 5, 2)?;
    let day = num(b, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let date = days_from_civil(year, month, day) * 86_400;
    if b.len() == 10 {
        return Some(date);
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let hour = num(b, 11, 2)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let minute = num(b, 14, 2)?;
    let mut i = 16;
    let mut second = 0;
    if b.get(i) == Some(&b':') {
        second = num(b, 17, 2)?;
        i = 19;
        if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return None;
            }
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let local = date + hour * 3600 + minute * 60 + second.min(59);
    // Zone: none (UTC), Z, or ±HH:MM / ±HHMM / ±HH, optionally after a space.
    let mut rest = &b[i..];
    if rest.first() == Some(&b' ') {
        rest = &rest[1..];
    }
    let offset = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [b'U', b'T', b'C'] => 0,
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (h, m) = match tail {
                [h1, h2] => (num(&[*h1, *h2], 0, 2)?, 0),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (num(&[*h1, *h2], 0, 2)?, num(&[*m1, *m2], 0, 2)?)
                }
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let o = h * 3600 + m * 60;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    Some(local - offset)
}

fn num(b: &[u8], at: usize, len: usize) -> Option<i64> {
    let part = b.get(at..at + len)?;
    part.iter().try_fold(0i64, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        let cases = [
            ("2026-01-05T08:00:00Z", 1_767_600_000),
            ("2026-01-05T09:00:00+01:00", 1_767_600_000),
            ("2026-01-05T03:00:00-05:00", 1_767_600_000),
            ("2026-01-05t08:00:00.123z", 1_767_600_000),
            ("2026-01-05 08:00:00", 1_767_600_000),
            ("2026-01-05 08:00", 1_767_600_000),
            ("2026-01-05T08:00:00", 1_767_600_000),
            ("2026-01-05 10:00:00+0200", 1_767_600_000),
            ("2026-01-05", 1_767_571_200),
            ("1767600000", 1_767_600_000),
            ("1767600000000", 1_767_600_000),
            ("0", 0),
            ("1970-01-01T00:00:00Z", 0),
            ("2024-02-29T00:00:00Z", 1_709_164_800),
        ];
        for (text, want) in cases {
            assert_eq!(parse_timestamp(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejected_forms() {
        for text in [
            "",
            "yesterday",
            "2026-13-01",
            "2025-02-29",
            "2026-01-05T24:00:00Z",
            "2026-01-05T08:00:00+25:00",
            "2026-01-05T08:00:00 junk",
            "2026-01-05T08",
            "12.5",
        ] {
            assert!(parse_timestamp(text).is_err(), "{text}");
        }
    }
}
