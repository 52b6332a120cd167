//! `downbeat seed --service ID FILE.csv`: a crowd baseline from past counts.

use super::UsageError;
use crate::cli::SeedArgs;
use anyhow::Context;
use downbeat_crowd::{SeedError, seed_from_csv};
use std::io::BufReader;

pub fn run(args: SeedArgs) -> anyhow::Result<()> {
    let config = super::load_config(args.store.config.as_deref())?;
    if config.service(&args.service).is_none() {
        return Err(UsageError(format!("no [[service]] has id {:?}", args.service)).into());
    }
    let (target, _) = super::store_target(&args.store, &config)?;
    let name = args.file.display().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let summary = runtime.block_on(async {
        let store = downbeat_store::open_with(&target, super::pg_timeouts(&config))
            .await
            .context("opening the store")?;
        let now = jiff::Timestamp::now();
        let result = if name == "-" {
            seed_from_csv(&*store, &args.service, std::io::stdin().lock(), now).await
        } else {
            let f = std::fs::File::open(&args.file).with_context(|| format!("opening {name}"))?;
            seed_from_csv(&*store, &args.service, BufReader::new(f), now).await
        };
        result.map_err(|e| match e {
            SeedError::Line { .. } | SeedError::Empty => {
                anyhow::Error::new(UsageError(format!("{name}: {e}")))
            }
            other => anyhow::Error::new(other).context(format!("seeding from {name}")),
        })
    })?;
    println!(
        "seeded {}: {} rows of {}-second buckets ({} minutes learned)",
        args.service, summary.rows, summary.bucket_s, summary.minutes
    );
    Ok(())
}
