//! Managing a running server without restarts, as an operator does from a shell: SIGHUP and
//! the reload endpoint read the config file again (a bad file changes nothing and says why),
//! `config export` writes what the API made, `config check --with` checks it, `apply` makes
//! a server match a file (difference first), and `import --apply` brings another tool's
//! monitors and past incidents in.

use super::*;

fn local(args: &[&str], config: &Path, data: &Path) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .args(if args[0] == "config" && args.get(1) == Some(&"export") {
            vec!["--data-dir".to_owned(), data.display().to_string()]
        } else {
            Vec::new()
        })
        .output()
        .expect("run downbeat");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn status_of(client: &reqwest::Client, url: &str, service: &str) -> u16 {
    client
        .get(format!("{url}/api/v1/services/{service}/status"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_and_the_reload_endpoint_read_the_file_again_and_a_bad_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = (dir.path().join("downbeat.toml"), dir.path().join("data"));
    std::fs::write(&config, MELODIA).unwrap();
    let server = start_server(&config, &data);
    let url = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let (code, admin, err) = create_token(&config, &data, "ops", "admin");
    assert_eq!(code, 0, "{err}");

    // A service added to the file, then SIGHUP: served without a restart.
    std::fs::write(
        &config,
        format!("{MELODIA}\n[[service]]\nid = \"radio\"\nname = \"Radio\"\n"),
    )
    .unwrap();
    assert_eq!(status_of(&client, &url, "radio").await, 404);
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    eventually("the reloaded service is served", async || {
        status_of(&client, &url, "radio").await == 200
    })
    .await;

    // A file that does not validate: refused whole, the running config stays, and the
    // endpoint says the file, the key and the reason.
    std::fs::write(
        &config,
        format!("{MELODIA}\n[[service]]\nid = \"Radio FM\"\nname = \"Radio\"\n"),
    )
    .unwrap();
    let r = client
        .post(format!("{url}/api/v1/admin/reload"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let said = r.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        said.contains("downbeat.toml") && said.contains("service[1].id"),
        "{said}"
    );
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        status_of(&client, &url, "radio").await,
        200,
        "the config in force stays"
    );
    let (s, v) = {
        let r = client
            .get(format!("{url}/api/v1/config/objects"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(s, 200);
    assert!(
        v["problems"][0]
            .as_str()
            .unwrap_or_default()
            .contains("service[1].id"),
        "the refusal is kept for the dashboard: {v}"
    );

    // Fixed and reloaded through the endpoint: the service goes.
    std::fs::write(&config, MELODIA).unwrap();
    let r = client
        .post(format!("{url}/api/v1/admin/reload"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(status_of(&client, &url, "radio").await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_check_and_apply_go_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = (dir.path().join("downbeat.toml"), dir.path().join("data"));
    std::fs::write(&config, MELODIA).unwrap();
    let server = start_server(&config, &data);
    let url = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let (_, admin, _) = create_token(&config, &data, "ops", "admin");

    // Made through the API: a service and a monitor of the file's service.
    for (path, body) in [
        (
            "/api/v1/services",
            serde_json::json!({"id": "radio", "name": "Radio"}),
        ),
        (
            "/api/v1/monitors",
            serde_json::json!({"id": "login-tcp", "service": "melodia", "component": "login", "kind": "tcp", "target": "127.0.0.1:9", "interval": "1m"}),
        ),
    ] {
        let r = client
            .post(format!("{url}{path}"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    }

    // Exported, and checked beside the file (alone, its monitor names a service it lacks).
    let (code, exported, err) = local(&["config", "export"], &config, &data);
    assert_eq!(code, 0, "{err}");
    assert!(
        exported.contains("[[service]]") && exported.contains("login-tcp"),
        "{exported}"
    );
    let file = dir.path().join("objects.toml");
    std::fs::write(&file, &exported).unwrap();
    let (code, out, err) = local(
        &["config", "check", "--with", file.to_str().unwrap()],
        &config,
        &data,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 services, 1 monitor"), "{out}");

    // The same file applied: nothing to do.
    let (code, out, err) = against(&["apply", file.to_str().unwrap()], &url, &admin);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("2 unchanged") && !out.contains("applied"),
        "{out}"
    );

    // Edited: the monitor goes, a service changes, one comes; the difference first.
    let edited = "[[service]]\nid = \"radio\"\nname = \"Radio FM\"\n\n[[service]]\nid = \"tv\"\nname = \"TV\"\n";
    std::fs::write(&file, edited).unwrap();
    let (code, out, err) = against(
        &["apply", "--dry-run", file.to_str().unwrap()],
        &url,
        &admin,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "+ service \"tv\"\n~ service \"radio\"\n- monitor \"login-tcp\"\n0 unchanged\n"
    );
    assert_eq!(
        status_of(&client, &url, "tv").await,
        404,
        "a dry run changes nothing"
    );
    let (code, out, err) = against(&["apply", file.to_str().unwrap()], &url, &admin);
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with("applied: 3 changes\n"), "{out}");
    assert_eq!(status_of(&client, &url, "tv").await, 200);

    // A bad file: refused with the check's words, exit code 2, nothing changed.
    std::fs::write(&file, "[[service]]\nid = \"tv\"\nname = \"\"\n").unwrap();
    let (code, out, err) = against(&["apply", file.to_str().unwrap()], &url, &admin);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("service \"tv\": key `name`: must not be empty"),
        "{err}"
    );
    assert_eq!(status_of(&client, &url, "radio").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_apply_brings_a_statuspage_in_with_its_history_once() {
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = (dir.path().join("downbeat.toml"), dir.path().join("data"));
    std::fs::write(&config, MELODIA).unwrap();
    let server = start_server(&config, &data);
    let url = format!("http://{}", server.addr);
    let (_, admin, _) = create_token(&config, &data, "ops", "admin");
    let source = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../import/tests/data/statuspage/written-groups"
    );
    let run = || against(&["import", "statuspage", source, "--apply"], &url, &admin);
    let (code, out, err) = run();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("history: ") && out.contains(" added"), "{out}");
    // Again: the objects are there as they were, the history is known.
    let (code, out, err) = run();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("history: 0 added"), "{out}");
    // The incidents show on the imported service's public API.
    let objects: Value = reqwest::Client::new()
        .get(format!("{url}/api/v1/config/objects"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let service = objects["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "service" && o["origin"] == "store")
        .expect("an imported service")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let incidents: Value = reqwest::Client::new()
        .get(format!("{url}/api/v1/services/{service}/incidents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(incidents.to_string().contains("resolved"), "{incidents}");
}
