//! `downbeat config example | check | export`.

use crate::cli::ConfigCommand;
use anyhow::Context;
use downbeat_config::layers;

pub fn run(cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Example => {
            print!("{}", downbeat_config::EXAMPLE);
            Ok(())
        }
        ConfigCommand::Check { config, with } => {
            let path = super::config_path(config.as_deref())?;
            let mut c = downbeat_config::load_file(&path)?;
            let mut objects = Vec::new();
            for file in &with {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let name = file.display().to_string();
                objects.extend(
                    downbeat_api::manage::objects_of(&text, &name)
                        .map_err(|e| super::UsageError(format!("{name}: {e}")))?,
                );
            }
            if !objects.is_empty() {
                c = layers::compose_all(&c.source, &objects)
                    .map_err(|e| super::UsageError(e.to_string()))?;
            }
            println!(
                "{}: ok ({} service{}, {} monitor{})",
                path.display(),
                c.services.len(),
                if c.services.len() == 1 { "" } else { "s" },
                c.monitors.len(),
                if c.monitors.len() == 1 { "" } else { "s" },
            );
            Ok(())
        }
        ConfigCommand::Export { store } => export(&store),
    }
}

/// The stored objects as a file `apply` takes back, each kind in its tables.
fn export(args: &crate::cli::StoreArgs) -> anyhow::Result<()> {
    let config = super::load_config(args.config.as_deref())?;
    let (target, _) = super::store_target(args, &config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rows = rt.block_on(async {
        let store = downbeat_store::open_with(&target, super::pg_timeouts(&config))
            .await
            .context("opening the store")?;
        downbeat_api::manage::stored_in(store.as_ref())
            .await
            .context("reading the stored objects")
    })?;
    let mut doc = toml::Table::new();
    for (o, _) in &rows {
        let list = match o.kind.split_once('.') {
            Some((outer, inner)) => doc
                .entry(outer)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .and_then(|t| {
                    t.entry(inner)
                        .or_insert_with(|| toml::Value::Array(Vec::new()))
                        .as_array_mut()
                }),
            None => doc
                .entry(o.kind.as_str())
                .or_insert_with(|| toml::Value::Array(Vec::new()))
                .as_array_mut(),
        };
        if let Some(list) = list {
            list.push(toml::Value::Table(o.table.clone()));
        }
    }
    println!(
        "# Downbeat: the {} object{} managed at runtime, as `downbeat config export` read them from\n\
         # the store. Secrets included: keep this file as you keep the config file.\n\
         # `downbeat apply FILE` makes a server match it; `downbeat config check --with FILE`\n\
         # checks it beside the config file.\n",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    print!("{}", toml::to_string(&doc).context("writing TOML")?);
    Ok(())
}
