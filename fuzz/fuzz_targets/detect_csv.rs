//! `downbeat detect FILE.csv`: the backtest over arbitrary input. A bad file is an error,
//! never a panic; a good one gives the header plus one output row per input row.
#![no_main]

use downbeat_detect::backtest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    match backtest(data, &mut out, None) {
        Ok(summary) => {
            let text = String::from_utf8(out).expect("the output is UTF-8");
            assert!(text.starts_with("timestamp,value,anomaly_score,expected,verdict\n"));
            assert_eq!(summary.rows_by_verdict.iter().sum::<usize>(), summary.rows);
            assert!(summary.missing <= summary.rows);
            let _ = summary.to_string();
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
