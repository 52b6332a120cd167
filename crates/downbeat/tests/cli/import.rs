//! `downbeat import` as a user runs it: one real file of each kind becomes config that
//! `downbeat config check` accepts, what was not carried over goes to stderr, and a file of
//! the wrong kind is refused with exit code 2 and nothing on stdout.

use super::run;
use std::path::PathBuf;

fn data(rel: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../import/tests/data");
    root.join(rel).to_string_lossy().into_owned()
}

#[test]
fn each_kind_imports_to_config_that_passes_its_check() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, file, stdout_has, stderr_has) in [
        (
            "uptime-kuma",
            "uptime-kuma/uptime-mon-importer-test.json",
            "target = \"db.internal:5432\"",
            r#"monitorList[5] "basic".authMethod: not carried over: add the credentials as an Authorization header"#,
        ),
        (
            "gatus",
            "gatus/config.yaml",
            "json_pointer = \"/status\"",
            r#"endpoints[6].conditions[0] "[DOMAIN_EXPIRATION] > 720h": not carried over"#,
        ),
        (
            "statuspage",
            "statuspage/github",
            "# 1 incident with 7 updates and 0 maintenance windows: add --apply to write them into the store",
            "",
        ),
    ] {
        let (code, out, err) = run(&["import", kind, &data(file)]);
        assert_eq!(code, 0, "{kind}: {err}");
        assert!(out.contains(stdout_has), "{kind}: {out}");
        assert!(err.contains(stderr_has), "{kind}: {err}");
        let path = dir.path().join(format!("{kind}.toml"));
        std::fs::write(&path, &out).unwrap();
        let (code, out, err) = run(&["config", "check", "--config", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{kind}: {err}");
        assert!(out.contains("ok"), "{out}");
    }
}

#[test]
fn a_file_of_the_wrong_kind_is_refused_with_nothing_on_stdout() {
    let (code, out, err) = run(&["import", "uptime-kuma", &data("gatus/config.yaml")]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("config.yaml"), "{err}");
    let (code, out, err) = run(&[
        "import",
        "gatus",
        &data("uptime-kuma/uptime-mon-importer-test.json"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("is not a Gatus config: no endpoints (expected Gatus's config.yaml"),
        "{err}"
    );
    let (code, _, err) = run(&["import", "statuspage", &data("gatus")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("none of summary.json"), "{err}");
}
