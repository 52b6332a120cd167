//! The crate layout of ARCHITECTURE.md holds: every crate is in its tier table, and each
//! depends only on crates of a lower tier (dev-dependencies aside: tests may use the
//! assembly).

use std::collections::BTreeMap;
use std::path::Path;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the workspace root")
}

/// Crate name (without `downbeat-`) → tier, from the table in ARCHITECTURE.md.
fn tiers() -> BTreeMap<String, u32> {
    let text =
        std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            // "| 3 | intake | ... |" splits into ["", "3", "intake", "...", ""]
            let tier = cells.get(1)?.parse::<u32>().ok()?;
            Some((cells.get(2)?.to_string(), tier))
        })
        .collect()
}

/// Crate name → the workspace crates it depends on (normal dependencies).
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(workspace().join("crates")).expect("crates/") {
        let dir = entry.expect("entry").path();
        let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let manifest: toml::Table = toml::from_str(&text).expect("a valid Cargo.toml");
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let deps = manifest
            .get("dependencies")
            .and_then(|d| d.as_table())
            .map(|t| {
                t.keys()
                    .filter_map(|k| k.strip_prefix("downbeat-").map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(name, deps);
    }
    out
}

#[test]
fn every_crate_depends_only_on_lower_tiers() {
    let tiers = tiers();
    let deps = dependencies();
    assert!(deps.len() > 10, "found only {deps:?}");
    let mut wrong = Vec::new();
    for (krate, uses) in &deps {
        let Some(&tier) = tiers.get(krate) else {
            wrong.push(format!("{krate} is not in ARCHITECTURE.md's crate table"));
            continue;
        };
        for d in uses {
            match tiers.get(d) {
                Some(&t) if t < tier => {}
                Some(&t) => wrong.push(format!(
                    "{krate} (tier {tier}) depends on {d} (tier {t}): only lower tiers"
                )),
                None => wrong.push(format!("{krate} depends on {d}, which is not in the table")),
            }
        }
    }
    for listed in tiers.keys() {
        if !deps.contains_key(listed) {
            wrong.push(format!(
                "ARCHITECTURE.md lists {listed}, which is not a crate"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
