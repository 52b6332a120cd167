//! `downbeat detect FILE.csv`: run the detector over any time series in a CSV file and write
//! one output row per input row.
//!
//! Input: a header row, then rows whose first two columns are a timestamp and a value (more
//! columns are ignored). Commas, semicolons or tabs separate fields (chosen from the first
//! row); fields may be quoted (`"..."`, with `""` for a quote, line breaks allowed inside);
//! CRLF line ends, a UTF-8 byte-order mark and empty lines are fine. A first row that is
//! already data (timestamp and number) is taken as data, not as a header.
//!
//! Values: empty, `NaN`, `null`, `NA`, `N/A`, `-` or non-finite values are *missing*: the
//! detector skips them and their output row has an empty score.
//!
//! Time: rows may come in any order. The detector sees them sorted by time (stable, so equal
//! timestamps keep file order; they count as no elapsed time); the output follows the input
//! order. Gaps are elapsed time with no data; for counts, a missing bucket is not read as
//! zero.
//!
//! Kind: without an override, a file whose values are all non-negative integers is read as
//! counts (higher is bad), anything else as a gauge where both directions are bad.
//!
//! Output: `anomaly_score` is [`crate::Assessment::evidence`], the ranking score (continuous,
//! high once per event, one threshold for every series), counting surprises in both
//! directions whatever the kind; `verdict` is the live verdict for the kind, with its gates.

use std::fmt;
use std::io::{BufRead, BufWriter, Write};
use std::str::FromStr;

use downbeat_domain::Verdict;

use crate::timestamp::parse_timestamp;
use crate::{Detector, DetectorConfig, Direction};

/// Which model to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindChoice {
    Counts,
    Gauge(Direction),
}

impl KindChoice {
    pub fn config(self) -> DetectorConfig {
        match self {
            KindChoice::Counts => DetectorConfig::for_counts(),
            KindChoice::Gauge(d) => DetectorConfig::for_gauge(d),
        }
    }
}

impl fmt::Display for KindChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KindChoice::Counts => "counts",
            KindChoice::Gauge(Direction::Both) => "gauge",
            KindChoice::Gauge(Direction::Up) => "gauge-up",
            KindChoice::Gauge(Direction::Down) => "gauge-down",
        })
    }
}

/// `counts`, `gauge` (both directions bad), `gauge-up`, `gauge-down`.
impl FromStr for KindChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "counts" | "count" => Ok(KindChoice::Counts),
            "gauge" | "gauge-both" => Ok(KindChoice::Gauge(Direction::Both)),
            "gauge-up" => Ok(KindChoice::Gauge(Direction::Up)),
            "gauge-down" => Ok(KindChoice::Gauge(Direction::Down)),
            other => Err(format!(
                "unknown kind `{other}` (expected counts, gauge, gauge-up or gauge-down)"
            )),
        }
    }
}

/// What a malformed file did wrong, or why it could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error("cannot read or write: {0}")]
    Io(#[from] std::io::Error),
    #[error("the file has no header row and no data")]
    Empty,
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: String },
}

fn line_error(line: usize, problem: impl Into<String>) -> BacktestError {
    BacktestError::Line {
        line,
        problem: problem.into(),
    }
}

/// What a backtest found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub rows: usize,
    /// Rows whose value was missing.
    pub missing: usize,
    pub kind: KindChoice,
    /// Whether rows had to be sorted by time.
    pub reordered: bool,
    /// Rows at each verdict: no problems, possible problems, problems.
    pub rows_by_verdict: [usize; 3],
    /// Times the verdict rose from no problems (alarms raised).
    pub alarms: usize,
    /// Times the verdict rose to problems.
    pub problems_alarms: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rows ({} missing) as {}{}; {} alarms, {} reaching problems; rows: {} no problems, {} possible problems, {} problems",
            self.rows,
            self.missing,
            self.kind,
            if self.reordered {
                ", sorted by time"
            } else {
                ""
            },
            self.alarms,
            self.problems_alarms,
            self.rows_by_verdict[0],
            self.rows_by_verdict[1],
            self.rows_by_verdict[2],
        )
    }
}

struct Row {
    timestamp: String,
    t: i64,
    value_text: String,
    value: Option<f64>,
}

/// Runs the detector over a CSV time series and writes
/// `timestamp,value,anomaly_score,expected,verdict`, one row per input row, in input order.
pub fn backtest(
    input: impl BufRead,
    output: impl Write,
    kind: Option<KindChoice>,
) -> Result<Summary, BacktestError> {
    let rows = read_rows(input)?;
    let kind = kind.unwrap_or_else(|| guess_kind(&rows));
    let mut config = kind.config();
    // The ranking score counts surprises both ways, even where the verdict only cares
    // about more reports: a labelled anomaly in a count (demand collapsing on a holiday, a
    // feed going quiet) is as often a drop as a rise.
    config.evidence_direction = Some(Direction::Both);
    if let Some(step) = typical_step(&rows) {
        config.nominal_interval_s = step;
    }

    let mut order: Vec<usize> = (0..rows.len()).collect();
    let reordered = rows.windows(2).any(|w| w[1].t < w[0].t);
    if reordered {
        order.sort_by_key(|&i| rows[i].t);
    }
    let mut detector = Detector::new(config);
    let mut results = vec![None; rows.len()];
    for &i in &order {
        let row = &rows[i];
        results[i] = Some(detector.observe(row.t, row.value.unwrap_or(f64::NAN)));
    }

    let mut out = BufWriter::new(output);
    writeln!(out, "timestamp,value,anomaly_score,expected,verdict")?;
    let mut summary = Summary {
        rows: rows.len(),
        missing: rows.iter().filter(|r| r.value.is_none()).count(),
        kind,
        reordered,
        rows_by_verdict: [0; 3],
        alarms: 0,
        problems_alarms: 0,
    };
    for (row, a) in rows.iter().zip(&results) {
        let Some(a) = a else { continue };
        let score = if a.ignored {
            String::new()
        } else {
            format!("{:.6}", a.evidence)
        };
        writeln!(
            out,
            "{},{},{},{},{}",
            csv_field(&row.timestamp),
            csv_field(&row.value_text),
            score,
            format_number(a.expected),
            a.verdict.as_str()
        )?;
    }
    for &i in &order {
        if let Some(a) = &results[i] {
            summary.rows_by_verdict[match a.verdict {
                Verdict::NoProblems => 0,
                Verdict::PossibleProblems => 1,
                Verdict::Problems => 2,
            }] += 1;
            if a.changed && a.previous == Verdict::NoProblems {
                summary.alarms += 1;
            }
            if a.changed && a.verdict == Verdict::Problems {
                summary.problems_alarms += 1;
            }
        }
    }
    out.flush()?;
    Ok(summary)
}

fn guess_kind(rows: &[Row]) -> KindChoice {
    let counts = rows
        .iter()
        .filter_map(|r| r.value)
        .all(|v| v >= 0.0 && v.fract() == 0.0);
    if counts {
        KindChoice::Counts
    } else {
        KindChoice::Gauge(Direction::Both)
    }
}

/// The median positive spacing between consecutive timestamps (after sorting).
fn typical_step(rows: &[Row]) -> Option<i64> {
    let mut ts: Vec<i64> = rows.iter().map(|r| r.t).collect();
    ts.sort_unstable();
    let mut gaps: Vec<i64> = ts
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|g| *g > 0)
        .collect();
    if gaps.is_empty() {
        return None;
    }
    let mid = gaps.len() / 2;
    Some(*gaps.select_nth_unstable(mid).1)
}

fn read_rows(input: impl BufRead) -> Result<Vec<Row>, BacktestError> {
    let mut reader = CsvReader {
        input,
        line: 0,
        delimiter: None,
        buf: Vec::new(),
    };
    let mut rows = Vec::new();
    let mut seen_record = false;
    while let Some((line, fields)) = reader.next_record()? {
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if fields.len() < 2 {
            return Err(line_error(
                line,
                "expected at least two columns (timestamp, value), found one; \
                 columns are separated by commas, semicolons or tabs",
            ));
        }
        let timestamp = fields[0].trim().to_string();
        let value_text = fields[1].trim().to_string();
        let t = parse_timestamp(&timestamp);
        let value = parse_value(&value_text);
        if !seen_record {
            seen_record = true;
            if t.is_err() || value.is_err() {
                // A header row; a first row that reads as data is data.
                continue;
            }
        }
        let t = t.map_err(|e| line_error(line, format!("timestamp: {e}")))?;
        let value = value.map_err(|e| line_error(line, e))?;
        rows.push(Row {
            timestamp,
            t,
            value_text,
            value,
        });
    }
    if !seen_record {
        return Err(BacktestError::Empty);
    }
    Ok(rows)
}

/// `Ok(None)` for a missing value.
fn parse_value(text: &str) -> Result<Option<f64>, String> {
    const MISSING: [&str; 7] = ["", "nan", "null", "na", "n/a", "-", "none"];
    if MISSING.contains(&text.to_ascii_lowercase().as_str()) {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        Ok(_) => Ok(None),
        Err(_) => Err(format!("value `{text}` is not a number")),
    }
}

/// A small RFC 4180 reader that keeps line numbers for error messages.
struct CsvReader<R> {
    input: R,
    line: usize,
    delimiter: Option<char>,
    buf: Vec<u8>,
}

impl<R: BufRead> CsvReader<R> {
    /// The next record and the line it starts on; `None` at the end of input.
    fn next_record(&mut self) -> Result<Option<(usize, Vec<String>)>, BacktestError> {
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut in_quotes = false;
        let mut start_line = None;
        loop {
            self.buf.clear();
            if self.input.read_until(b'\n', &mut self.buf)? == 0 {
                match start_line {
                    None => return Ok(None),
                    Some(line) if in_quotes => {
                        return Err(line_error(line, "a quoted field is never closed"));
                    }
                    Some(_) => break,
                }
            }
            self.line += 1;
            start_line.get_or_insert(self.line);
            let mut text = std::str::from_utf8(&self.buf)
                .map_err(|_| line_error(self.line, "the line is not valid UTF-8"))?;
            if self.line == 1 {
                text = text.strip_prefix('\u{feff}').unwrap_or(text);
            }
            let text = text.strip_suffix('\n').unwrap_or(text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            if self.delimiter.is_none() && !text.trim().is_empty() {
                self.delimiter = Some(
                    [',', ';', '\t']
                        .into_iter()
                        .find(|d| text.contains(*d))
                        .unwrap_or(','),
                );
            }
            let delimiter = self.delimiter.unwrap_or(',');
            let mut chars = text.chars().peekable();
            while let Some(c) = chars.next() {
                if in_quotes {
                    if c == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            field.push('"');
                        } else {
                            in_quotes = false;
                        }
                    } else {
                        field.push(c);
                    }
                } else if c == '"' && field.trim().is_empty() {
                    field.clear();
                    in_quotes = true;
                } else if c == delimiter {
                    fields.push(std::mem::take(&mut field));
                } else {
                    field.push(c);
                }
            }
            if in_quotes {
                field.push('\n');
                continue;
            }
            break;
        }
        fields.push(field);
        Ok(start_line.map(|line| (line, fields)))
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Up to four decimals, trailing zeros trimmed; scientific for tiny magnitudes.
fn format_number(x: f64) -> String {
    if x != 0.0 && x.abs() < 1e-3 {
        return format!("{x:.3e}");
    }
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str, kind: Option<KindChoice>) -> Result<(Summary, String), BacktestError> {
        let mut out = Vec::new();
        let summary = backtest(input.as_bytes(), &mut out, kind)?;
        Ok((summary, String::from_utf8(out).unwrap()))
    }

    #[test]
    fn echoes_rows_in_input_order_with_the_header() {
        let input = "time,count\r\n2026-01-05T08:02:00Z,3\r\n\r\n2026-01-05T08:00:00Z,1\r\n2026-01-05 08:01:00,2\r\n";
        let (summary, out) = run(input, None).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "timestamp,value,anomaly_score,expected,verdict");
        assert_eq!(lines.len(), 4);
        assert!(lines[1].starts_with("2026-01-05T08:02:00Z,3,"));
        assert!(lines[2].starts_with("2026-01-05T08:00:00Z,1,"));
        assert!(lines[3].starts_with("2026-01-05 08:01:00,2,"));
        assert!(lines[3].ends_with(",no_problems"));
        assert!(summary.reordered);
        assert_eq!(summary.kind, KindChoice::Counts);
    }

    #[test]
    fn quoted_fields_semicolons_and_missing_values() {
        let input = "\u{feff}\"ts\";\"value\"\n\"1767600000\";\"1.5\"\n1767600060;\n\"1767600120\";\"NaN\"\n";
        let (summary, out) = run(input, None).unwrap();
        assert_eq!(summary.kind, KindChoice::Gauge(Direction::Both));
        assert_eq!(summary.missing, 2);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[2].starts_with("1767600060,,,"), "{}", lines[2]);
    }

    #[test]
    fn a_first_row_of_data_is_not_swallowed_as_header() {
        let (summary, _) = run("1767600000,4\n1767600060,5\n", None).unwrap();
        assert_eq!(summary.rows, 2);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (
                "t,v\n2026-01-05T08:00:00Z,1\n2026-01-05T08:01:00Z,abc\n",
                "line 3: value `abc` is not a number",
            ),
            (
                "t,v\n2026-01-05T08:00:00Z,1\nnot-a-time,2\n",
                "line 3: timestamp: `not-a-time` is not a timestamp",
            ),
            (
                "t,v\n2026-01-05T08:00:00Z\n",
                "line 2: expected at least two columns",
            ),
            (
                "t,v\n\"2026-01-05T08:00:00Z,1\n",
                "line 2: a quoted field is never closed",
            ),
        ];
        for (input, want) in cases {
            let err = run(input, None).unwrap_err().to_string();
            assert!(err.starts_with(want), "{err}");
        }
        assert!(matches!(run("", None), Err(BacktestError::Empty)));
        assert!(matches!(run("\n\n", None), Err(BacktestError::Empty)));
    }

    #[test]
    fn kind_names_parse() {
        assert_eq!("counts".parse(), Ok(KindChoice::Counts));
        assert_eq!("Gauge".parse(), Ok(KindChoice::Gauge(Direction::Both)));
        assert_eq!("gauge-down".parse(), Ok(KindChoice::Gauge(Direction::Down)));
        assert!("bananas".parse::<KindChoice>().is_err());
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(format_number(12.5), "12.5");
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(0.0001234), "1.234e-4");
    }
}
