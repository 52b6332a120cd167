//! `downbeat detect FILE.csv` without the rest of the binary: the same library function,
//! for the evaluation harness (`bench/detect-score.py`), which would otherwise have to build
//! the whole server. Usage: `backtest FILE.csv [KIND]`, output on stdout, summary on stderr.

use std::io::{BufReader, Write};

use downbeat_detect::{KindChoice, backtest};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: backtest FILE.csv [counts|gauge|gauge-up|gauge-down]");
        std::process::exit(2);
    };
    let kind = match args.next().map(|k| k.parse::<KindChoice>()).transpose() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match backtest(BufReader::new(file), &mut out, kind) {
        Ok(summary) => {
            let _ = out.flush();
            eprintln!("{summary}");
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    }
}
