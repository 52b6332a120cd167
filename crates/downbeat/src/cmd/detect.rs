//! `downbeat detect FILE.csv`: the detector over any time series, as a backtest.

use super::UsageError;
use crate::cli::DetectArgs;
use anyhow::Context;
use downbeat_detect::backtest::{BacktestError, KindChoice, backtest};
use std::io::{BufReader, BufWriter, Write};

pub fn run(args: DetectArgs) -> anyhow::Result<()> {
    let kind = args
        .kind
        .as_deref()
        .map(|k| {
            k.parse::<KindChoice>()
                .map_err(|e| UsageError(format!("--kind: {e}")))
        })
        .transpose()?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let name = args.file.display().to_string();
    let summary = if name == "-" {
        backtest(std::io::stdin().lock(), &mut out, kind)
    } else {
        let f = std::fs::File::open(&args.file).with_context(|| format!("opening {name}"))?;
        backtest(BufReader::new(f), &mut out, kind)
    }
    .map_err(|e| match e {
        BacktestError::Io(io) => anyhow::Error::new(io).context(format!("reading {name}")),
        other => UsageError(format!("{name}: {other}")).into(),
    })?;
    out.flush()?;
    eprintln!("{summary}");
    Ok(())
}
