//! Expected HTTP status codes, written like `200-299,304` or `2xx,3xx`.

use crate::endpoint::Malformed;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A set of inclusive status ranges. The default is `200-399`: a redirect that is not followed
/// still proves the server answers, as with blackbox_exporter's default `valid_status_codes`
/// being 2xx only when redirects are followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRanges(Vec<(u16, u16)>);

impl Default for StatusRanges {
    fn default() -> Self {
        StatusRanges(vec![(200, 399)])
    }
}

impl StatusRanges {
    /// Parses a comma-separated list of `NNN`, `NNN-MMM` or `Nxx` items.
    pub fn parse(s: &str) -> Result<Self, Malformed> {
        let mut ranges = Vec::new();
        for item in s.split(',').map(str::trim) {
            if item.is_empty() {
                continue;
            }
            let range = if let Some(class) = item.strip_suffix("xx").or(item.strip_suffix("XX")) {
                let c = class
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (1..=5).contains(c))
                    .ok_or_else(|| Malformed(format!("`{item}` is not a status class like 2xx")))?;
                (c * 100, c * 100 + 99)
            } else if let Some((lo, hi)) = item.split_once('-') {
                let (lo, hi) = (code(lo.trim())?, code(hi.trim())?);
                if lo > hi {
                    return Err(Malformed(format!("`{item}`: the range is backwards")));
                }
                (lo, hi)
            } else {
                let c = code(item)?;
                (c, c)
            };
            ranges.push(range);
        }
        if ranges.is_empty() {
            return Err(Malformed("no status code given".into()));
        }
        Ok(StatusRanges(ranges))
    }

    /// Whether `status` is expected.
    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| (lo..=hi).contains(&status))
    }
}

fn code(s: &str) -> Result<u16, Malformed> {
    s.parse::<u16>()
        .ok()
        .filter(|c| (100..=599).contains(c))
        .ok_or_else(|| Malformed(format!("`{s}` is not an HTTP status (100-599)")))
}

impl fmt::Display for StatusRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (lo, hi)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

impl Serialize for StatusRanges {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StatusRanges {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        StatusRanges::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_match() {
        let r = StatusRanges::parse("200-299, 304,4xx").expect("valid");
        for (status, want) in [
            (200, true),
            (299, true),
            (300, false),
            (304, true),
            (404, true),
            (500, false),
        ] {
            assert_eq!(r.contains(status), want, "{status}");
        }
        assert_eq!(r.to_string(), "200-299,304,400-499");
        assert!(StatusRanges::default().contains(302));
        assert!(!StatusRanges::default().contains(404));
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "abc", "299-200", "99", "600", "6xx", "2x"] {
            assert!(StatusRanges::parse(bad).is_err(), "{bad}");
        }
    }
}
