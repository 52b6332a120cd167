//! `downbeat replay`: scenario traffic as CSV, as live HTTP reports, or a summary of it.

use super::UsageError;
use crate::cli::ReplayArgs;
use anyhow::Context;
use downbeat_domain::Span;
use downbeat_replay::{
    Progress, Scenario, SendError, SendOptions, Traffic, Window, csv, send, shipped,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{BufWriter, IsTerminal, Write};
use std::time::Duration;

pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    if args.list {
        return list();
    }
    let name = args
        .scenario
        .as_deref()
        .ok_or_else(|| UsageError("give a scenario (a TOML file or a name from --list)".into()))?;
    let mut scenario = Scenario::load(name).map_err(|e| UsageError(e.to_string()))?;
    if let Some(seed) = args.seed {
        scenario = scenario.with_seed(seed);
    }
    if let Some(f) = args.scale {
        if !(f > 0.0 && f.is_finite()) {
            return Err(UsageError(format!("--scale {f}: must be a positive number")).into());
        }
        scenario = scenario.scaled(f);
    }
    let window = scenario
        .window(args.from, args.until)
        .map_err(|e| UsageError(e.to_string()))?;
    if let Some(path) = &args.csv {
        let value = if args.counted {
            csv::Value::Counted
        } else {
            csv::Value::Sent
        };
        return write_csv(&scenario, window, path, value, args.breakdown, args.reports);
    }
    if let Some(url) = &args.server {
        let service = args
            .service
            .clone()
            .or_else(|| scenario.service().map(str::to_owned))
            .ok_or_else(|| UsageError("the scenario names no service: pass --service ID".into()))?;
        let mut options = SendOptions::new(url.clone(), service, window);
        options.speed = args.speed;
        options.concurrency = args.concurrency.max(1);
        let sending = |token: &String| downbeat_replay::send::SignalSending {
            token: token.clone(),
            clock: std::sync::Arc::new(downbeat_domain::SystemClock),
        };
        options.signals = args.signal_token.as_ref().map(sending);
        options.changes = args.deployer_token.as_ref().map(sending);
        return send_live(&scenario, &options);
    }
    describe(&scenario, window);
    Ok(())
}

fn list() -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for s in shipped::all() {
        let length = Span::from_secs(u64::from(s.minutes()) * 60);
        writeln!(
            out,
            "{:<21} {:<9} {}",
            s.name(),
            length.to_string(),
            s.description()
        )?;
    }
    Ok(())
}

fn write_csv(
    scenario: &Scenario,
    window: Window,
    path: &std::path::Path,
    value: csv::Value,
    breakdown: bool,
    reports: bool,
) -> anyhow::Result<()> {
    let traffic = Traffic::generate(scenario);
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        let mut out = BufWriter::with_capacity(1 << 16, out);
        if reports {
            csv::write_reports(&traffic, window, &mut out)?;
        } else {
            csv::write_minutes(&traffic, window, value, breakdown, &mut out)?;
        }
        out.flush()
    };
    let result = if path.as_os_str() == "-" {
        write(&mut std::io::stdout().lock())
    } else {
        let mut file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        write(&mut file)
    };
    match result {
        // `| head` closing the pipe is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.with_context(|| format!("writing {}", path.display())),
    }
}

fn send_live(scenario: &Scenario, options: &SendOptions) -> anyhow::Result<()> {
    let planned = Traffic::generate(scenario).total(options.window);
    eprintln!(
        "replaying {} from {} to {} ({} reports) to {} for service {} at {}",
        scenario.name(),
        scenario.timestamp_of(options.window.from),
        scenario.timestamp_of(options.window.until),
        planned,
        options.base_url,
        options.service,
        options.speed,
    );
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(planned), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} sent · {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let on_progress = |p: &Progress| {
        bar.set_position(p.sent);
        bar.set_message(format!(
            "{} acknowledged ({} counted) · {} refused (429) · {} failed · simulated {}",
            p.acknowledged(),
            p.counted,
            p.rate_limited,
            p.failed,
            p.simulated.strftime("%Y-%m-%d %H:%M"),
        ));
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(send(scenario, options, on_progress, async {
        // A second ctrl-c is the default (kill) again only after this returns.
        let _ = tokio::signal::ctrl_c().await;
    }));
    bar.finish_and_clear();
    match result {
        Ok(summary) => {
            println!("{summary}");
            Ok(())
        }
        Err(e @ (SendError::BadUrl { .. } | SendError::BadService(_))) => {
            Err(UsageError(e.to_string()).into())
        }
        Err(e @ SendError::UnknownService { .. }) => Err(UsageError(e.to_string()).into()),
        Err(e) => Err(e.into()),
    }
}

/// With no output chosen: what the scenario holds.
fn describe(scenario: &Scenario, window: Window) {
    let traffic = Traffic::generate(scenario);
    let (mut total, mut expected, mut peak) = (0u64, 0.0f64, None);
    for c in traffic.minutes(window) {
        total += c.total;
        expected += c.expected;
        if peak.is_none_or(|(_, n)| c.total > n) {
            peak = Some((c.timestamp, c.total));
        }
    }
    println!("{}: {}", scenario.name(), scenario.description());
    println!(
        "  {} to {} ({} minutes{}), seed {}",
        scenario.timestamp_of(window.from),
        scenario.timestamp_of(window.until),
        window.len(),
        if window.len() == scenario.minutes() {
            String::new()
        } else {
            format!(" of {}", scenario.minutes())
        },
        scenario.seed()
    );
    println!("  {total} reports (expected {expected:.0})");
    if let Some((at, n)) = peak {
        println!("  busiest minute: {at} with {n}");
    }
    for e in scenario.events() {
        println!("  {e}");
    }
    println!("Write it with --csv FILE, or send it with --server URL.");
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use downbeat_replay::{Position, Speed};

    fn parse(args: &[&str]) -> Result<crate::cli::ReplayArgs, clap::Error> {
        let mut argv = vec!["downbeat", "replay"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Command::Replay(r) => r,
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn flags_parse_and_conflict_as_documented() {
        let a = parse(&[
            "design-outage",
            "--server",
            "http://127.0.0.1:8080",
            "--speed",
            "max",
            "--from",
            "1d",
        ])
        .unwrap();
        assert_eq!(a.speed, Speed::Max);
        assert_eq!(a.from, Some(Position::Offset(1440)));
        assert_eq!(
            parse(&["x", "--server", "http://h"]).unwrap().speed,
            Speed::Times(60.0)
        );
        assert!(parse(&["--list"]).unwrap().list);
        for bad in [
            &["x", "--csv", "-", "--server", "http://h"][..],
            &["x", "--breakdown"],
            &["x", "--csv", "-", "--breakdown", "--reports"],
            &["x", "--speed", "600"],
            &["x", "--server", "http://h", "--speed", "0"],
            &["--list", "x"],
            &[],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn csv_to_a_file_is_what_the_library_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let p = path.to_str().unwrap();
        super::run(parse(&["regional-cdn", "--csv", p, "--until", "10"]).unwrap()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("timestamp,value\n2026-12-05T18:00:00Z,"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 11);
        let e =
            super::run(parse(&["regional-cdn", "--csv", p, "--scale=-1"]).unwrap()).unwrap_err();
        assert_eq!(super::super::exit_code(&e), 2, "{e}");
    }
}
