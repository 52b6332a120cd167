//! The world map of report density: country outlines from [`crate::map_data`], grouped into
//! five density levels so the page carries one `<path>` per level, not one per country.

use crate::map_data::{COUNTRIES, HEIGHT, WIDTH};
use downbeat_domain::CountryCode;
use std::collections::BTreeMap;

/// One density level: its CSS class and the outlines of its countries.
#[derive(Debug, Clone)]
pub struct Layer {
    pub class: &'static str,
    pub d: String,
}

#[derive(Debug, Clone)]
pub struct MapView {
    pub view_box: String,
    pub layers: Vec<Layer>,
    /// What the map shows, in words, for screen readers.
    pub label: String,
}

/// Levels by share of reports: none, under 3%, under 10%, under 25%, 25% and more.
fn level(share: f64) -> usize {
    match share {
        s if s <= 0.0 => 0,
        s if s < 0.03 => 1,
        s if s < 0.10 => 2,
        s if s < 0.25 => 3,
        _ => 4,
    }
}

/// The map for reports per country (alpha-2 → count).
pub fn view(by_country: &BTreeMap<String, u64>) -> MapView {
    let total: u64 = by_country.values().sum();
    let mut layers: Vec<Layer> = ["l0", "l1", "l2", "l3", "l4"]
        .into_iter()
        .map(|class| Layer {
            class,
            d: String::new(),
        })
        .collect();
    for (code, d) in COUNTRIES {
        let n = by_country.get(*code).copied().unwrap_or(0);
        let share = if total > 0 {
            n as f64 / total as f64
        } else {
            0.0
        };
        layers[level(share)].d.push_str(d);
    }
    layers.retain(|l| !l.d.is_empty());
    let mut top: Vec<(&String, &u64)> = by_country.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let label = if total == 0 {
        "World map of reports: no reports with a country yet.".to_owned()
    } else {
        let named: Vec<String> = top
            .iter()
            .take(5)
            .map(|(c, n)| {
                let name = CountryCode::parse(c).map_or(c.as_str(), |c| c.name());
                format!("{name} {:.0}%", **n as f64 * 100.0 / total as f64)
            })
            .collect();
        format!(
            "World map of reports by country; most from {}.",
            named.join(", ")
        )
    };
    MapView {
        view_box: format!("0 0 {WIDTH} {HEIGHT}"),
        layers,
        label,
    }
}
