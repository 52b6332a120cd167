//! An agent's results batch (`POST /api/v1/agent/results`) through the server's parse and
//! number checks (`downbeat_api::agent::parse_push`). A bad batch is an error, never a
//! panic; an accepted one keeps every promise the endpoint makes: phase timings are
//! durations of at most a day, the words and explanation render, and it survives a round
//! trip through JSON.
#![no_main]

use downbeat_api::agent::parse_push;
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

fuzz_target!(|data: &[u8]| {
    let push = match parse_push(data) {
        Ok(p) => p,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    for r in &push.results {
        let t = &r.result.timings;
        for phase in [t.dns, t.connect, t.tls, t.ttfb, t.total]
            .into_iter()
            .flatten()
        {
            assert!(phase <= DAY, "{phase:?} over a day passed the checks");
        }
        if let Some(s) = r.result.http_status {
            assert!((100..=599).contains(&s), "status {s} passed the checks");
        }
        if let Some(c) = &r.result.certificate {
            assert!(c.days_until_expiry.abs() <= 3_000_000);
        }
        let _ = r.result.explanation();
    }
    let json = serde_json::to_vec(&push).expect("a batch serializes");
    parse_push(&json).expect("a batch the server took, written again, is taken again");
});
