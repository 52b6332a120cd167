//! ISO 3166-1 alpha-2 country codes with short English names.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// Every officially assigned ISO 3166-1 alpha-2 code, sorted, with a short common name and
/// whether the name reads with "the" ("In the United Kingdom").
const COUNTRIES: [(&str, &str, bool); 249] = [
    ("AD", "Andorra", false),
    ("AE", "United Arab Emirates", true),
    ("AF", "Afghanistan", false),
    ("AG", "Antigua and Barbuda", false),
    ("AI", "Anguilla", false),
    ("AL", "Albania", false),
    ("AM", "Armenia", false),
    ("AO", "Angola", false),
    ("AQ", "Antarctica", false),
    ("AR", "Argentina", false),
    ("AS", "American Samoa", false),
    ("AT", "Austria", false),
    ("AU", "Australia", false),
    ("AW", "Aruba", false),
    ("AX", "Åland Islands", false),
    ("AZ", "Azerbaijan", false),
    ("BA", "Bosnia and Herzegovina", false),
    ("BB", "Barbados", false),
    ("BD", "Bangladesh", false),
    ("BE", "Belgium", false),
    ("BF", "Burkina Faso", false),
    ("BG", "Bulgaria", false),
    ("BH", "Bahrain", false),
    ("BI", "Burundi", false),
    ("BJ", "Benin", false),
    ("BL", "Saint Barthélemy", false),
    ("BM", "Bermuda", false),
    ("BN", "Brunei", false),
    ("BO", "Bolivia", false),
    ("BQ", "Caribbean Netherlands", false),
    ("BR", "Brazil", false),
    ("BS", "Bahamas", true),
    ("BT", "Bhutan", false),
    ("BV", "Bouvet Island", false),
    ("BW", "Botswana", false),
    ("BY", "Belarus", false),
    ("BZ", "Belize", false),
    ("CA", "Canada", false),
    ("CC", "Cocos (Keeling) Islands", true),
    ("CD", "DR Congo", true),
    ("CF", "Central African Republic", true),
    ("CG", "Republic of the Congo", true),
    ("CH", "Switzerland", false),
    ("CI", "Côte d'Ivoire", false),
    ("CK", "Cook Islands", true),
    ("CL", "Chile", false),
    ("CM", "Cameroon", false),
    ("CN", "China", false),
    ("CO", "Colombia", false),
    ("CR", "Costa Rica", false),
    ("CU", "Cuba", false),
    ("CV", "Cape Verde", false),
    ("CW", "Curaçao", false),
    ("CX", "Christmas Island", false),
    ("CY", "Cyprus", false),
    ("CZ", "Czechia", true),
    ("DE", "Germany", false),
    ("DJ", "Djibouti", false),
    ("DK", "Denmark", false),
    ("DM", "Dominica", false),
    ("DO", "Dominican Republic", true),
    ("DZ", "Algeria", false),
    ("EC", "Ecuador", false),
    ("EE", "Estonia", false),
    ("EG", "Egypt", false),
    ("EH", "Western Sahara", false),
    ("ER", "Eritrea", false),
    ("ES", "Spain", false),
    ("ET", "Ethiopia", false),
    ("FI", "Finland", false),
    ("FJ", "Fiji", false),
    ("FK", "Falkland Islands", true),
    ("FM", "Micronesia", false),
    ("FO", "Faroe Islands", true),
    ("FR", "France", false),
    ("GA", "Gabon", false),
    ("GB", "United Kingdom", true),
    ("GD", "Grenada", false),
    ("GE", "Georgia", false),
    ("GF", "French Guiana", false),
    ("GG", "Guernsey", false),
    ("GH", "Ghana", false),
    ("GI", "Gibraltar", false),
    ("GL", "Greenland", false),
    ("GM", "Gambia", true),
    ("GN", "Guinea", false),
    ("GP", "Guadeloupe", false),
    ("GQ", "Equatorial Guinea", false),
    ("GR", "Greece", false),
    ("GS", "South Georgia and the South Sandwich Islands", false),
    ("GT", "Guatemala", false),
    ("GU", "Guam", false),
    ("GW", "Guinea-Bissau", false),
    ("GY", "Guyana", false),
    ("HK", "Hong Kong", false),
    ("HM", "Heard Island and McDonald Islands", false),
    ("HN", "Honduras", false),
    ("HR", "Croatia", false),
    ("HT", "Haiti", false),
    ("HU", "Hungary", false),
    ("ID", "Indonesia", false),
    ("IE", "Ireland", false),
    ("IL", "Israel", false),
    ("IM", "Isle of Man", true),
    ("IN", "India", false),
    ("IO", "British Indian Ocean Territory", false),
    ("IQ", "Iraq", false),
    ("IR", "Iran", false),
    ("IS", "Iceland", false),
    ("IT", "Italy", false),
    ("JE", "Jersey", false),
    ("JM", "Jamaica", false),
    ("JO", "Jordan", false),
    ("JP", "Japan", false),
    ("KE", "Kenya", false),
    ("KG", "Kyrgyzstan", false),
    ("KH", "Cambodia", false),
    ("KI", "Kiribati", false),
    ("KM", "Comoros", false),
    ("KN", "Saint Kitts and Nevis", false),
    ("KP", "North Korea", false),
    ("KR", "South Korea", false),
    ("KW", "Kuwait", false),
    ("KY", "Cayman Islands", true),
    ("KZ", "Kazakhstan", false),
    ("LA", "Laos", false),
    ("LB", "Lebanon", false),
    ("LC", "Saint Lucia", false),
    ("LI", "Liechtenstein", false),
    ("LK", "Sri Lanka", false),
    ("LR", "Liberia", false),
    ("LS", "Lesotho", false),
    ("LT", "Lithuania", false),
    ("LU", "Luxembourg", false),
    ("LV", "Latvia", false),
    ("LY", "Libya", false),
    ("MA", "Morocco", false),
    ("MC", "Monaco", false),
    ("MD", "Moldova", false),
    ("ME", "Montenegro", false),
    ("MF", "Saint Martin", false),
    ("MG", "Madagascar", false),
    ("MH", "Marshall Islands", true),
    ("MK", "North Macedonia", false),
    ("ML", "Mali", false),
    ("MM", "Myanmar", false),
    ("MN", "Mongolia", false),
    ("MO", "Macao", false),
    ("MP", "Northern Mariana Islands", true),
    ("MQ", "Martinique", false),
    ("MR", "Mauritania", false),
    ("MS", "Montserrat", false),
    ("MT", "Malta", false),
    ("MU", "Mauritius", false),
    ("MV", "Maldives", false),
    ("MW", "Malawi", false),
    ("MX", "Mexico", false),
    ("MY", "Malaysia", false),
    ("MZ", "Mozambique", false),
    ("NA", "Namibia", false),
    ("NC", "New Caledonia", false),
    ("NE", "Niger", false),
    ("NF", "Norfolk Island", false),
    ("NG", "Nigeria", false),
    ("NI", "Nicaragua", false),
    ("NL", "Netherlands", true),
    ("NO", "Norway", false),
    ("NP", "Nepal", false),
    ("NR", "Nauru", false),
    ("NU", "Niue", false),
    ("NZ", "New Zealand", false),
    ("OM", "Oman", false),
    ("PA", "Panama", false),
    ("PE", "Peru", false),
    ("PF", "French Polynesia", false),
    ("PG", "Papua New Guinea", false),
    ("PH", "Philippines", true),
    ("PK", "Pakistan", false),
    ("PL", "Poland", false),
    ("PM", "Saint Pierre and Miquelon", false),
    ("PN", "Pitcairn Islands", false),
    ("PR", "Puerto Rico", false),
    ("PS", "Palestine", false),
    ("PT", "Portugal", false),
    ("PW", "Palau", false),
    ("PY", "Paraguay", false),
    ("QA", "Qatar", false),
    ("RE", "Réunion", false),
    ("RO", "Romania", false),
    ("RS", "Serbia", false),
    ("RU", "Russia", false),
    ("RW", "Rwanda", false),
    ("SA", "Saudi Arabia", false),
    ("SB", "Solomon Islands", true),
    ("SC", "Seychelles", false),
    ("SD", "Sudan", false),
    ("SE", "Sweden", false),
    ("SG", "Singapore", false),
    ("SH", "Saint Helena", false),
    ("SI", "Slovenia", false),
    ("SJ", "Svalbard and Jan Mayen", false),
    ("SK", "Slovakia", false),
    ("SL", "Sierra Leone", false),
    ("SM", "San Marino", false),
    ("SN", "Senegal", false),
    ("SO", "Somalia", false),
    ("SR", "Suriname", false),
    ("SS", "South Sudan", false),
    ("ST", "São Tomé and Príncipe", false),
    ("SV", "El Salvador", false),
    ("SX", "Sint Maarten", false),
    ("SY", "Syria", false),
    ("SZ", "Eswatini", false),
    ("TC", "Turks and Caicos Islands", true),
    ("TD", "Chad", false),
    ("TF", "French Southern Territories", false),
    ("TG", "Togo", false),
    ("TH", "Thailand", false),
    ("TJ", "Tajikistan", false),
    ("TK", "Tokelau", false),
    ("TL", "Timor-Leste", false),
    ("TM", "Turkmenistan", false),
    ("TN", "Tunisia", false),
    ("TO", "Tonga", false),
    ("TR", "Türkiye", false),
    ("TT", "Trinidad and Tobago", false),
    ("TV", "Tuvalu", false),
    ("TW", "Taiwan", false),
    ("TZ", "Tanzania", false),
    ("UA", "Ukraine", false),
    ("UG", "Uganda", false),
    ("UM", "U.S. Minor Outlying Islands", true),
    ("US", "United States", true),
    ("UY", "Uruguay", false),
    ("UZ", "Uzbekistan", false),
    ("VA", "Vatican City", false),
    ("VC", "Saint Vincent and the Grenadines", false),
    ("VE", "Venezuela", false),
    ("VG", "British Virgin Islands", true),
    ("VI", "U.S. Virgin Islands", true),
    ("VN", "Vietnam", false),
    ("VU", "Vanuatu", false),
    ("WF", "Wallis and Futuna", false),
    ("WS", "Samoa", false),
    ("YE", "Yemen", false),
    ("YT", "Mayotte", false),
    ("ZA", "South Africa", false),
    ("ZM", "Zambia", false),
    ("ZW", "Zimbabwe", false),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an ISO 3166-1 alpha-2 country code (two letters, e.g. GB, US, DE)")]
pub struct UnknownCountry(pub String);

/// An officially assigned ISO 3166-1 alpha-2 code, stored upper-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountryCode(u16);

impl CountryCode {
    /// Parses a code, accepting lower case (`gb` → `GB`).
    pub fn parse(s: &str) -> Result<Self, UnknownCountry> {
        let upper = s.to_ascii_uppercase();
        COUNTRIES
            .binary_search_by(|(c, _, _)| (*c).cmp(upper.as_str()))
            .map(|i| CountryCode(i as u16))
            .map_err(|_| UnknownCountry(s.chars().take(16).collect()))
    }

    pub fn as_str(self) -> &'static str {
        COUNTRIES[self.0 as usize].0
    }

    /// Short English name ("United Kingdom").
    pub fn name(self) -> &'static str {
        COUNTRIES[self.0 as usize].1
    }

    /// The name as it reads after "in": "the United Kingdom", "France".
    pub fn name_in_sentence(self) -> String {
        let (_, name, the) = COUNTRIES[self.0 as usize];
        if the {
            format!("the {name}")
        } else {
            name.to_owned()
        }
    }

    pub fn all() -> impl Iterator<Item = CountryCode> {
        (0..COUNTRIES.len() as u16).map(CountryCode)
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CountryCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CountryCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_so_binary_search_works() {
        assert!(COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(COUNTRIES.iter().all(|(c, _, _)| c.len() == 2));
    }

    #[test]
    fn parses_assigned_codes_only() {
        assert_eq!(CountryCode::parse("GB").unwrap().name(), "United Kingdom");
        assert_eq!(CountryCode::parse("gb").unwrap().as_str(), "GB");
        assert_eq!(
            CountryCode::parse("GB").unwrap().name_in_sentence(),
            "the United Kingdom"
        );
        assert_eq!(
            CountryCode::parse("FR").unwrap().name_in_sentence(),
            "France"
        );
        for bad in ["XX", "XX1", "UK", "G", "", "GBR", "1A"] {
            assert!(CountryCode::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(CountryCode::all().count(), 249);
    }
}
