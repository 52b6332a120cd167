//! The config loader (`downbeat_config::parse_str`, what `load_file` and `config check`
//! run) over arbitrary text: an error names what is wrong, never a panic; a config that
//! loads keeps the validator's promises (unique ids, every service offers a problem).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;

fuzz_target!(|text: &str| {
    match downbeat_config::parse_str(text, "fuzz.toml") {
        Ok(config) => {
            let mut ids = HashSet::new();
            for s in &config.services {
                assert!(ids.insert(s.id.as_str()), "duplicate service {:?}", s.id);
                assert!(
                    !s.problems.is_empty(),
                    "service {:?} offers no problem",
                    s.id
                );
            }
            let mut ids = HashSet::new();
            for m in &config.monitors {
                assert!(ids.insert(m.id.as_str()), "duplicate monitor {:?}", m.id);
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
