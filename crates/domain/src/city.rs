//! A city name typed by a listener: free text, so bounded and cleaned; and which cities a
//! public page may show.
//!
//! One anonymous report can type anything, so no single report's city reaches a public
//! page: a city is shown only when reports from at least a minimum of distinct client
//! networks (`reports.city_min_networks`, 3 by default) typed it ([`PublicCities`]).

use crate::CountryCode;
use crate::screen_text::FreeText;
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
        match crate::screen_text::free_text(s, MAX_CITY_CHARS) {
            Ok(t) => Ok(t.map(|t| City(t.to_owned()))),
            Err(FreeText::TooLong(n)) => Err(CityError::TooLong(n)),
            Err(FreeText::ControlChar) => Err(CityError::ControlChar),
        }
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

/// How many counted reports typed one exact spelling of a city in one country, and from
/// how many distinct client networks (a lower bound: see the store's `top_cities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CityTally<'a> {
    /// As typed (trimmed); untrusted text.
    pub city: &'a str,
    pub country: Option<CountryCode>,
    pub reports: u64,
    pub networks: u64,
}

/// A city a public page may show, with the counted reports that named it in any letter case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicCity {
    /// A spelling that at least the minimum of networks typed; still untrusted text, to be
    /// escaped like any other.
    pub city: String,
    pub country: Option<CountryCode>,
    pub reports: u64,
}

/// The cities a public page may show, most reports first, and how many counted reports named
/// any city at all (what shares are of).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicCities {
    pub named: u64,
    pub cities: Vec<PublicCity>,
}

impl PublicCities {
    /// Folds spellings that differ only in letter case within one country ("london" and
    /// "London" in GB are one city, their reports added up) and keeps a city only when one
    /// of its spellings was typed from at least `min_networks` distinct networks; that
    /// spelling is the one shown (the most networks, then the most reports). Networks are
    /// not added up across spellings: the same network may have typed both, and the text on
    /// the page must be one that many networks typed.
    pub fn from_tallies<'a>(
        named: u64,
        tallies: impl IntoIterator<Item = CityTally<'a>>,
        min_networks: u64,
    ) -> PublicCities {
        struct Folded<'c> {
            key: (String, Option<&'static str>),
            reports: u64,
            /// The spelling to show, with its networks and reports, once one qualifies.
            shown: Option<(&'c str, u64, u64)>,
        }
        let mut folded: Vec<Folded> = Vec::new();
        for t in tallies {
            let key = (t.city.to_lowercase(), t.country.map(CountryCode::as_str));
            let i = match folded.iter().position(|f| f.key == key) {
                Some(i) => i,
                None => {
                    folded.push(Folded {
                        key,
                        reports: 0,
                        shown: None,
                    });
                    folded.len() - 1
                }
            };
            let f = &mut folded[i];
            f.reports += t.reports;
            let better = f
                .shown
                .is_none_or(|(_, n, r)| (t.networks, t.reports) > (n, r));
            if t.networks >= min_networks && better {
                f.shown = Some((t.city, t.networks, t.reports));
            }
        }
        folded.sort_by(|a, b| b.reports.cmp(&a.reports).then_with(|| a.key.cmp(&b.key)));
        PublicCities {
            named,
            cities: folded
                .into_iter()
                .filter_map(|f| {
                    let (city, _, _) = f.shown?;
                    Some(PublicCity {
                        city: city.to_owned(),
                        country: f.key.1.and_then(|c| CountryCode::parse(c).ok()),
                        reports: f.reports,
                    })
                })
                .collect(),
        }
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

    #[test]
    fn a_city_shows_only_once_enough_networks_typed_it() {
        let gb = CountryCode::parse("GB").ok();
        let tally = |city, country, reports, networks| CityTally {
            city,
            country,
            reports,
            networks,
        };
        let shown = |tallies: Vec<CityTally>, min| {
            PublicCities::from_tallies(99, tallies, min)
                .cities
                .into_iter()
                .map(|c| (c.city, c.reports))
                .collect::<Vec<_>>()
        };
        // Two networks: not yet; a third: shown.
        assert_eq!(shown(vec![tally("Leeds", gb, 2, 2)], 3), vec![]);
        assert_eq!(
            shown(vec![tally("Leeds", gb, 3, 3)], 3),
            vec![("Leeds".to_owned(), 3)]
        );
        // Many reports from one network: never.
        assert_eq!(shown(vec![tally("Leeds", gb, 500, 1)], 3), vec![]);
        // Case variants fold (reports add up); the spelling shown is one enough networks
        // typed, even when another has more reports.
        assert_eq!(
            shown(
                vec![
                    tally("LEEDS", gb, 40, 1),
                    tally("Leeds", gb, 4, 3),
                    tally("leeds", gb, 2, 2),
                ],
                3
            ),
            vec![("Leeds".to_owned(), 46)]
        );
        // Networks do not add up across spellings.
        assert_eq!(
            shown(vec![tally("Leeds", gb, 2, 2), tally("leeds", gb, 2, 2)], 3),
            vec![]
        );
        // Other countries are other cities; most reports first.
        let cities = PublicCities::from_tallies(
            10,
            vec![
                tally("London", CountryCode::parse("CA").ok(), 3, 3),
                tally("London", gb, 5, 4),
            ],
            3,
        );
        assert_eq!(cities.named, 10);
        assert_eq!(
            cities
                .cities
                .iter()
                .map(|c| (c.city.as_str(), c.country.map(CountryCode::as_str)))
                .collect::<Vec<_>>(),
            vec![("London", Some("GB")), ("London", Some("CA"))]
        );
    }
}
