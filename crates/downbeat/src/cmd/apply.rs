//! `downbeat apply FILE`: a running server's runtime-managed objects made to match a file,
//! through its API (`POST /api/v1/admin/apply`): the difference first, then all of it in
//! one transaction, or nothing.

use crate::cli::{ApplyArgs, ServerArgs};
use anyhow::Context;
use serde_json::{Value, json};

pub fn run(args: ApplyArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    apply_text(&args.server, &text, !args.keep_others, args.dry_run)
}

/// Sends `text` to the server: first as a dry run, printing the difference, then (unless
/// `dry_run`, and when something changes) for real.
pub fn apply_text(
    server: &ServerArgs,
    text: &str,
    prune: bool,
    dry_run: bool,
) -> anyhow::Result<()> {
    let client = super::change::client(server)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let send = |dry_run: bool| -> anyhow::Result<Value> {
        let body = json!({"config": text, "prune": prune, "dry_run": dry_run});
        let answer = rt
            .block_on(client.post_json("/api/v1/admin/apply", body.to_string().into_bytes()))
            .with_context(|| format!("applying to {}", server.server))?;
        let said = String::from_utf8_lossy(&answer.body);
        if !answer.status.is_success() {
            return Err(super::change::refused(
                answer.status.as_u16(),
                &said,
                "the config",
            ));
        }
        serde_json::from_str(&said).context("reading the server's answer")
    };
    let plan = send(true)?;
    print!("{}", difference(&plan));
    let changes = ["create", "change", "remove"]
        .iter()
        .map(|k| plan[k].as_array().map_or(0, Vec::len))
        .sum::<usize>();
    if dry_run || changes == 0 {
        return Ok(());
    }
    send(false)?;
    println!(
        "applied: {changes} change{}",
        if changes == 1 { "" } else { "s" }
    );
    Ok(())
}

/// A plan as a declarative tool prints it: `+ service "radio"`, `~`, `-`.
fn difference(plan: &Value) -> String {
    let mut out = String::new();
    for (key, sign) in [("create", '+'), ("change", '~'), ("remove", '-')] {
        for name in plan[key].as_array().into_iter().flatten() {
            out.push_str(&format!("{sign} {}\n", name.as_str().unwrap_or_default()));
        }
    }
    let same = plan["unchanged"].as_u64().unwrap_or(0);
    out.push_str(&format!("{same} unchanged\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_difference_reads_like_a_plan() {
        let plan = json!({"create": ["service \"radio\""], "change": ["monitor \"api\""],
                          "remove": ["destination \"old\""], "unchanged": 2});
        assert_eq!(
            difference(&plan),
            "+ service \"radio\"\n~ monitor \"api\"\n- destination \"old\"\n2 unchanged\n"
        );
    }
}
