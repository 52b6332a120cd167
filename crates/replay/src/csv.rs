//! CSV output: per-minute totals that feed `downbeat detect` directly, optionally broken down,
//! or one row per report.
//!
//! - [`write_minutes`]: `timestamp,value` — the start of each minute (RFC 3339, UTC) and the
//!   reports sent in it ([`Value::Sent`], floods included: what reaches the server), or those a
//!   correct server counts ([`Value::Counted`]: each client once per dedupe window).
//! - with `breakdown`: then `expected,normal,outage,flood,counted` and one column per problem
//!   kind (`problem:login`), platform (`platform:ios`) and country (`country:GB`) any mix of
//!   the scenario can produce, tallied over the reports sent.
//! - [`write_reports`]: `timestamp,problem,platform,country,city,client,source`, one row per
//!   report in sending order; the timestamp has milliseconds, `city` may be empty.

use crate::generate::Traffic;
use crate::scenario::Window;
use std::collections::HashMap;
use std::io::{self, Write};
use std::time::Duration;

/// The server's default dedupe window, used for [`Value::Counted`].
pub const DEDUPE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What the `value` column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Value {
    /// Every report sent that minute.
    #[default]
    Sent,
    /// Reports a correct server counts (dedupe per client over [`DEDUPE_WINDOW`]).
    Counted,
}

/// Writes one row per minute of `window`.
pub fn write_minutes(
    traffic: &Traffic<'_>,
    window: Window,
    value: Value,
    breakdown: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    let counted = if value == Value::Counted || breakdown {
        traffic.counted(window, DEDUPE_WINDOW)
    } else {
        Vec::new()
    };
    let value_of = |i: usize, total: u64| match value {
        Value::Sent => total,
        Value::Counted => counted[i],
    };
    if !breakdown {
        writeln!(out, "timestamp,value")?;
        for (i, c) in traffic.minutes(window).enumerate() {
            writeln!(out, "{},{}", c.timestamp, value_of(i, c.total))?;
        }
        return Ok(());
    }
    let (problems, platforms, countries) = traffic.scenario().categories();
    write!(out, "timestamp,value,expected,normal,outage,flood,counted")?;
    for p in &problems {
        write!(out, ",problem:{p}")?;
    }
    for p in &platforms {
        write!(out, ",platform:{p}")?;
    }
    for c in &countries {
        write!(out, ",country:{c}")?;
    }
    writeln!(out)?;
    let problem_col: HashMap<&str, usize> = problems
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let mut tally = vec![0u64; problems.len() + platforms.len() + countries.len()];
    for (i, c) in traffic.minutes(window).enumerate() {
        tally.fill(0);
        for r in traffic.reports(c.minute) {
            tally[problem_col[r.problem.as_str()]] += 1;
            let p = platforms
                .binary_search(&r.platform)
                .expect("listed platform");
            tally[problems.len() + p] += 1;
            let k = countries.binary_search(&r.country).expect("listed country");
            tally[problems.len() + platforms.len() + k] += 1;
        }
        write!(
            out,
            "{},{},{:.3},{},{},{},{}",
            c.timestamp,
            value_of(i, c.total),
            c.expected,
            c.normal,
            c.outage,
            c.flood,
            counted[i]
        )?;
        for n in &tally {
            write!(out, ",{n}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Writes one row per report of `window`.
pub fn write_reports(
    traffic: &Traffic<'_>,
    window: Window,
    out: &mut impl Write,
) -> io::Result<()> {
    writeln!(out, "timestamp,problem,platform,country,city,client,source")?;
    for m in window.minutes() {
        for r in traffic.reports(m) {
            write!(out, "{},{},{},{},", r.at, r.problem, r.platform, r.country)?;
            if let Some(city) = &r.city {
                write_field(out, city)?;
            }
            writeln!(out, ",{},{}", r.client, r.source.as_str())?;
        }
    }
    Ok(())
}

/// A CSV field, quoted when it needs to be (city names are free text).
fn write_field(out: &mut impl Write, s: &str) -> io::Result<()> {
    if s.contains([',', '"', '\n', '\r']) {
        write!(out, "\"{}\"", s.replace('"', "\"\""))
    } else {
        out.write_all(s.as_bytes())
    }
}
