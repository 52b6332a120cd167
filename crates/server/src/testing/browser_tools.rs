//! Whether the browser-test tools are here: node, an npm folder's packages (playwright-core
//! and friends) and Debian's chromium, for the pages', admin and demo browser tests. Under
//! CI a missing tool fails the calling test; otherwise it is skipped with a loud message.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `dir` (an npm folder) when node and its packages are installed — and chromium too, with
/// `chromium` — else None after saying why (or a panic under CI).
pub fn tools(dir: &Path, what: &str, chromium: bool) -> Option<PathBuf> {
    let browser = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let missing = if !node_ok {
        Some("node is not installed (apt-get install nodejs npm)".to_owned())
    } else if !dir.join("node_modules/playwright-core").is_dir() {
        Some(format!(
            "npm packages missing (npm ci --prefix {})",
            dir.display()
        ))
    } else if chromium && !Path::new(&browser).exists() {
        Some(format!("{browser} is missing (apt-get install chromium)"))
    } else {
        None
    };
    match missing {
        None => Some(dir.to_owned()),
        Some(why) if std::env::var_os("CI").is_some() => {
            panic!("{what}: {why}; under CI this must run")
        }
        Some(why) => {
            eprintln!("\n*** SKIPPED: {what}: {why} ***\n");
            None
        }
    }
}
