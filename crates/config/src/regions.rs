//! `[[region]]`: what a vantage region stands for — its public name and its countries — so
//! crowd reports concentrated in those countries and that region's failing probes are told
//! as one story. Well-known region ids (`eu-west`, `ap-southeast`, ...) have defaults
//! ([`downbeat_domain::region::default_area`]); a table here replaces a region's default or
//! names a region of the operator's own.
//!
//! ```toml
//! [[region]]
//! id = "ap-southeast"
//! name = "Asia"
//! countries = ["JP", "IN", "SG", "AU", "KR", "ID"]
//! ```

use crate::load::Validator;
use downbeat_domain::region::{Area, default_area};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegion {
    pub id: String,
    pub name: String,
    pub countries: Vec<String>,
}

/// The configured regions, and the defaults of well-known ids.
#[derive(Debug, Clone, Default)]
pub struct Regions {
    configured: Vec<Area>,
}

impl Regions {
    /// What `region` stands for: as configured, else its default, else nothing.
    pub fn area(&self, region: &str) -> Option<Area> {
        self.configured
            .iter()
            .find(|a| a.region == region)
            .cloned()
            .or_else(|| default_area(region))
    }
}

impl Validator<'_> {
    pub(crate) fn regions(&self, raw: Vec<RawRegion>) -> Result<Regions, crate::ConfigError> {
        let mut configured: Vec<Area> = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            let key = |k: &str| format!("region[{i}].{k}");
            let id = downbeat_domain::Slug::parse(&r.id).map_err(|e| self.err(key("id"), e))?;
            if configured.iter().any(|a| a.region == id.as_str()) {
                return Err(self.err(key("id"), format!("duplicate region {:?}", id.as_str())));
            }
            let name = r.name.trim();
            if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
                return Err(self.err(
                    key("name"),
                    "must be 1 to 60 characters, without control characters",
                ));
            }
            if r.countries.is_empty() {
                return Err(self.err(key("countries"), "must name at least one country"));
            }
            let countries = r
                .countries
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    downbeat_domain::CountryCode::parse(c)
                        .map(|c| c.as_str().to_owned())
                        .map_err(|e| self.err(format!("region[{i}].countries[{j}]"), e))
                })
                .collect::<Result<_, _>>()?;
            configured.push(Area {
                region: id.as_str().to_owned(),
                name: name.to_owned(),
                countries,
            });
        }
        Ok(Regions { configured })
    }
}

#[cfg(test)]
mod tests {
    use crate::parse_str;

    #[test]
    fn configured_regions_replace_defaults_and_mistakes_are_named() {
        let c = parse_str(
            "[[region]]\nid = \"ap-southeast\"\nname = \"Asia-Pacific\"\ncountries = [\"jp\", \"AU\"]\n\
             [[region]]\nid = \"moon-base\"\nname = \"the Moon\"\ncountries = [\"AQ\"]\n",
            "test.toml",
        )
        .unwrap();
        let asia = c.regions.area("ap-southeast").unwrap();
        assert_eq!(
            (asia.name.as_str(), asia.countries.clone()),
            ("Asia-Pacific", vec!["JP".to_owned(), "AU".to_owned()])
        );
        assert_eq!(c.regions.area("moon-base").unwrap().name, "the Moon");
        assert_eq!(c.regions.area("eu-west").unwrap().name, "Western Europe");
        assert!(c.regions.area("nowhere").is_none());
        for (text, key) in [
            (
                "[[region]]\nid = \"Asia\"\nname = \"x\"\ncountries = [\"JP\"]\n",
                "region[0].id",
            ),
            (
                "[[region]]\nid = \"a\"\nname = \"\"\ncountries = [\"JP\"]\n",
                "region[0].name",
            ),
            (
                "[[region]]\nid = \"a\"\nname = \"x\"\ncountries = []\n",
                "region[0].countries",
            ),
            (
                "[[region]]\nid = \"a\"\nname = \"x\"\ncountries = [\"Japan\"]\n",
                "region[0].countries[0]",
            ),
            (
                "[[region]]\nid = \"a\"\nname = \"x\"\ncountries = [\"JP\"]\n[[region]]\nid = \"a\"\nname = \"y\"\ncountries = [\"JP\"]\n",
                "region[1].id",
            ),
        ] {
            let e = parse_str(text, "test.toml").unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
