//! The places a vantage region stands for: probes from `ap-southeast` speak for listeners in
//! Asia. When the crowd's reports concentrate in a region's countries while that region's
//! probes fail, the two are one story ("Playback fails in Asia"). Operators name their own
//! regions and countries in the config; well-known region ids have defaults here.

/// A vantage region's public name and the countries (ISO 3166-1 alpha-2) it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Area {
    pub region: String,
    /// Shown to the public: "Asia".
    pub name: String,
    pub countries: Vec<String>,
}

/// Region ids as clouds and CDNs name them, with their places.
const DEFAULTS: &[(&str, &str, &[&str])] = &[
    (
        "eu-west",
        "Western Europe",
        &["GB", "IE", "FR", "BE", "NL", "LU", "ES", "PT"],
    ),
    (
        "eu-central",
        "Central Europe",
        &["DE", "AT", "CH", "PL", "CZ", "SK", "HU", "SI"],
    ),
    (
        "eu-north",
        "Northern Europe",
        &["SE", "NO", "DK", "FI", "IS", "EE", "LV", "LT"],
    ),
    (
        "eu-south",
        "Southern Europe",
        &["IT", "GR", "MT", "CY", "HR", "RO", "BG"],
    ),
    ("us-east", "North America", &["US", "CA"]),
    ("us-west", "North America", &["US", "CA", "MX"]),
    ("us-central", "North America", &["US", "CA", "MX"]),
    ("ca-central", "Canada", &["CA"]),
    (
        "sa-east",
        "South America",
        &["BR", "AR", "CL", "CO", "PE", "UY", "PY", "BO", "EC", "VE"],
    ),
    (
        "ap-southeast",
        "Asia",
        &[
            "JP", "IN", "SG", "ID", "MY", "TH", "VN", "PH", "AU", "NZ", "KR", "HK", "TW",
        ],
    ),
    (
        "ap-northeast",
        "North-East Asia",
        &["JP", "KR", "TW", "HK", "CN", "MN"],
    ),
    ("ap-south", "South Asia", &["IN", "PK", "BD", "LK", "NP"]),
    ("ap-east", "East Asia", &["HK", "TW", "CN", "MO"]),
    ("au-southeast", "Australia and New Zealand", &["AU", "NZ"]),
    (
        "me-central",
        "the Middle East",
        &["AE", "SA", "QA", "BH", "KW", "OM", "IL", "JO"],
    ),
    (
        "af-south",
        "Africa",
        &["ZA", "NG", "KE", "EG", "MA", "GH", "TZ"],
    ),
];

/// The default area of a well-known region id (`eu-west`, `ap-southeast`, ...).
pub fn default_area(region: &str) -> Option<Area> {
    DEFAULTS
        .iter()
        .find(|(id, _, _)| *id == region)
        .map(|(id, name, countries)| Area {
            region: (*id).to_owned(),
            name: (*name).to_owned(),
            countries: countries.iter().map(|c| (*c).to_owned()).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_regions_stand_for_real_countries() {
        let asia = default_area("ap-southeast").unwrap();
        assert_eq!(asia.name, "Asia");
        assert!(
            asia.countries.iter().any(|c| c == "JP") && asia.countries.iter().any(|c| c == "IN")
        );
        assert_eq!(default_area("mars-north"), None);
        for (id, _, countries) in DEFAULTS {
            for c in *countries {
                assert!(
                    crate::CountryCode::parse(c).is_ok(),
                    "{id}: {c} is not a country code"
                );
            }
        }
    }
}
