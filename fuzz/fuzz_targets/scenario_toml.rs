//! A replay scenario (`Scenario::parse`, what `downbeat replay FILE.toml` reads) over
//! arbitrary text: an error, never a panic; a scenario that loads answers its accessors.
#![no_main]

use downbeat_replay::Scenario;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match Scenario::parse(text, "fuzz.toml") {
        Ok(s) => {
            let minutes = s.minutes();
            assert!(minutes > 0);
            let _ = s.timestamp_of(minutes - 1);
            let _ = (
                s.outage_onsets(),
                s.events(),
                s.categories(),
                s.description(),
            );
            let _ = s.scaled(0.5);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
