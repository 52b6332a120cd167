//! `downbeat config example | check`.

use crate::cli::ConfigCommand;

pub fn run(cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Example => {
            print!("{}", downbeat_config::EXAMPLE);
            Ok(())
        }
        ConfigCommand::Check { config } => {
            let path = super::config_path(config.as_deref())?;
            let c = downbeat_config::load_file(&path)?;
            println!(
                "{}: ok ({} service{})",
                path.display(),
                c.services.len(),
                if c.services.len() == 1 { "" } else { "s" }
            );
            Ok(())
        }
    }
}
