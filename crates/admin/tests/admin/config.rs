//! The Configuration section: services, components, monitors and destinations made,
//! changed and removed through the forms (real posts with the session's cookie and CSRF
//! token), in force at once; refused in the config check's words with what was typed kept;
//! the file's objects read-only; roles; write-only secrets; the reload button and the
//! dashboard's account of a file that no longer validates.

use crate::helpers::*;
use downbeat_api::auth::Role;
use reqwest::StatusCode;

const FILE_MONITOR: &str = r#"
[[monitor]]
id = "from-file"
service = "melodia"
kind = "tcp"
target = "127.0.0.1:9"
interval = "1m"
"#;

/// What `downbeat config check` says of `table` as a monitor of the file: the words the
/// forms must show too.
fn check_says(table: &str) -> String {
    let text = format!("{}\n[[monitor]]\n{table}", config_text(""));
    match downbeat_config::parse_str(&text, "f.toml") {
        Err(downbeat_config::ConfigError::Invalid { message, .. }) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A signed-in browser with `role`, and its CSRF token.
async fn signed_in(app: &TestApp, name: &str, role: Role) -> (Browser, String) {
    app.add_user(name, role).await;
    let mut b = app.browser();
    b.sign_in(name).await;
    let csrf = b.csrf().await;
    (b, csrf)
}

/// Posts `fields` with the token; the form's `advanced` text is empty unless given.
async fn send(b: &mut Browser, csrf: &str, path: &str, fields: &[(&str, &str)]) -> Page {
    let mut all = vec![("csrf", csrf)];
    all.extend_from_slice(fields);
    if !fields.iter().any(|(k, _)| *k == "advanced") {
        all.push(("advanced", ""));
    }
    b.post(path, &all).await
}

#[track_caller]
fn assert_saved(r: &Page) {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        r.location().starts_with("/admin/config?done="),
        "{}",
        r.location()
    );
}

/// The value of the form field `name` on `page`.
fn field_value(page: &Page, name: &str) -> String {
    let at = page
        .body
        .find(&format!(r#"name="{name}" type="text" value=""#))
        .unwrap_or_else(|| panic!("no field {name}:\n{}", page.body));
    let rest = &page.body[at..];
    let rest = &rest[rest.find("value=\"").unwrap() + 7..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn textarea(page: &Page) -> String {
    let at = page
        .body
        .find(r#"name="advanced""#)
        .expect("the advanced textarea");
    let rest = &page.body[at..];
    let rest = &rest[rest.find('>').unwrap() + 1..];
    rest[..rest.find("</textarea>").unwrap()]
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_makes_a_service_with_a_component_and_a_monitor_and_they_are_in_force() {
    let app = spawn_app().await;
    let (mut b, csrf) = signed_in(&app, "ed", Role::Editor).await;
    let home = b.get("/admin").await;
    assert!(
        home.body.contains(r#"href="/admin/config""#),
        "the section is in the menu"
    );
    let form = b.get("/admin/config/services").await;
    form.assert(StatusCode::OK, "New service");
    assert!(
        form.body
            .contains(r#"<textarea id="f-advanced" name="advanced""#)
    );

    let r = send(
        &mut b,
        &csrf,
        "/admin/config/services",
        &[("id", "radio"), ("name", "Radio <FM>"), ("comments", "")],
    )
    .await;
    assert_saved(&r);
    let r = send(
        &mut b,
        &csrf,
        "/admin/config/components/radio",
        &[("id", "stream"), ("name", "Streaming"), ("description", "")],
    )
    .await;
    assert_saved(&r);
    let monitor = [
        ("id", "radio-tcp"),
        ("service", "radio"),
        ("component", "stream"),
        ("kind", "tcp"),
        ("target", "127.0.0.1:9"),
        ("interval", "1m"),
        ("timeout", ""),
        ("expect_status", ""),
        ("body_contains", ""),
    ];
    let r = send(&mut b, &csrf, "/admin/config/monitors", &monitor).await;
    assert_saved(&r);

    // In force at once: the public page, with the escaped name and the component.
    app.pages.refresh().await;
    let public = app.client.get(app.url("/s/radio")).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::OK);
    let html = public.text().await.unwrap();
    assert!(
        html.contains("Radio &#60;FM&#62;") || html.contains("Radio &lt;FM&gt;"),
        "the name is on the public page, escaped"
    );
    assert!(
        html.contains("Streaming"),
        "the component is on the public page"
    );
    let config = app.app.config.get();
    let m = config
        .monitors
        .iter()
        .find(|m| m.id.as_str() == "radio-tcp")
        .expect("the monitor is in force");
    assert_eq!(m.service.as_str(), "radio");

    // Listed as managed here, escaped.
    let list = b.get("/admin/config?done=created").await;
    list.assert(StatusCode::OK, "Created: it is in force now.");
    for seen in [
        "Radio &#60;FM&#62;",
        "Streaming",
        "radio-tcp",
        "tcp 127.0.0.1:9 of radio (stream)",
        "Managed here",
        "Config file test.toml, key service[0]",
    ] {
        assert!(list.body.contains(seen), "{seen:?} missing:\n{}", list.body);
    }
    assert!(!list.body.contains("Radio <FM>"));
    assert!(
        !list.body.contains("Notification destinations"),
        "destinations are the admins'"
    );

    // Changed through the fields: the form shows the stored values.
    let edit = b.get("/admin/config/monitors/radio-tcp").await;
    edit.assert(StatusCode::OK, "Monitor &#34;radio-tcp&#34;");
    assert_eq!(field_value(&edit, "target"), "127.0.0.1:9");
    assert_eq!(field_value(&edit, "interval"), "1m");
    assert!(edit.body.contains(r#"<option value="tcp" selected>"#));
    let mut fields = monitor.to_vec();
    fields[5] = ("interval", "2m");
    let shown = textarea(&edit);
    fields.push(("advanced", &shown));
    let r = send(&mut b, &csrf, "/admin/config/monitors/radio-tcp", &fields).await;
    assert_saved(&r);
    let interval = |app: &TestApp| {
        app.app
            .config
            .get()
            .monitors
            .iter()
            .find(|m| m.id.as_str() == "radio-tcp")
            .map(|m| m.interval.as_duration())
    };
    assert_eq!(interval(&app), Some(std::time::Duration::from_secs(120)));

    // Changed through the advanced table: it wins over the fields.
    let edit = b.get("/admin/config/monitors/radio-tcp").await;
    let text = textarea(&edit).replace("interval = \"2m\"", "interval = \"4m\"");
    assert!(text.contains("4m"), "{text}");
    let mut fields = monitor.to_vec();
    fields[5] = ("interval", "3m");
    fields.push(("advanced", &text));
    let r = send(&mut b, &csrf, "/admin/config/monitors/radio-tcp", &fields).await;
    assert_saved(&r);
    assert_eq!(interval(&app), Some(std::time::Duration::from_secs(240)));

    // A component changed, through its form.
    let r = send(
        &mut b,
        &csrf,
        "/admin/config/components/radio/stream",
        &[
            ("id", "stream"),
            ("name", "Live streaming"),
            ("description", "The live channels"),
        ],
    )
    .await;
    assert_saved(&r);
    let svc = app.app.config.service("radio").unwrap();
    assert_eq!(svc.components[0].name, "Live streaming");
    app.stop().await;
}

#[tokio::test]
async fn a_refusal_shows_the_config_checks_words_and_keeps_what_was_typed() {
    let app = spawn_app().await;
    let (mut b, csrf) = signed_in(&app, "ed", Role::Editor).await;
    let r = send(
        &mut b,
        &csrf,
        "/admin/config/monitors",
        &[
            ("id", "api"),
            ("service", "melodia"),
            ("component", "login"),
            ("kind", "tcp"),
            ("target", "127.0.0.1:9"),
            ("interval", "1s"),
            ("body_contains", "<b>ok</b>"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let words = check_says(
        "id = \"api\"\nservice = \"melodia\"\ncomponent = \"login\"\nkind = \"tcp\"\ntarget = \"127.0.0.1:9\"\ninterval = \"1s\"",
    );
    let words = words.replace('"', "&#34;");
    assert!(r.body.contains(&words), "{words:?} missing:\n{}", r.body);
    assert!(
        r.body.contains("monitor &#34;api&#34;: key `interval`"),
        "the object and key are named:\n{}",
        r.body
    );
    assert_eq!(field_value(&r, "interval"), "1s");
    assert_eq!(field_value(&r, "target"), "127.0.0.1:9");
    assert_eq!(field_value(&r, "component"), "login");
    assert_eq!(
        field_value(&r, "body_contains"),
        "&#60;b&#62;ok&#60;/b&#62;"
    );
    assert!(r.body.contains(r#"<option value="tcp" selected>"#));
    assert!(r.body.contains(r#"<option value="melodia" selected>"#));
    assert!(
        r.body.contains(
            r#"name="interval" type="text" value="1s" aria-invalid="true" aria-describedby="form-error""#
        ),
        "the field at fault is marked:\n{}",
        r.body
    );
    assert!(
        app.app.config.get().monitors.is_empty(),
        "nothing was stored"
    );

    // Advanced text that is not TOML: said, and kept.
    let bad = "id = \"api\"\nkind = tcp";
    let r = send(
        &mut b,
        &csrf,
        "/admin/config/monitors",
        &[("id", "api"), ("advanced", bad)],
    )
    .await;
    r.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        "The advanced table is not valid TOML (line 2)",
    );
    assert!(r.body.contains("kind = tcp</textarea>"), "{}", r.body);
    assert!(
        r.body.contains("<details open>"),
        "the advanced part stays open"
    );

    // An unknown key, through the advanced text: the check's words name it.
    let r = send(
        &mut b,
        &csrf,
        "/admin/config/monitors",
        &[(
            "advanced",
            "id = \"api\"\nservice = \"melodia\"\nkind = \"tcp\"\ntarget = \"127.0.0.1:9\"\nintervall = \"30s\"",
        )],
    )
    .await;
    r.assert(StatusCode::UNPROCESSABLE_ENTITY, "intervall");

    // A duplicate: 409, the form kept.
    let r = send(
        &mut b,
        &csrf,
        "/admin/config/services",
        &[("id", "melodia"), ("name", "Another Melodia")],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("Another Melodia"), "{}", r.body);

    // Hand-made nonsense never makes a 500.
    for (path, fields) in [
        ("/admin/config/services", vec![("id", ""), ("name", "")]),
        ("/admin/config/monitors", vec![("kind", "ftp")]),
        ("/admin/config/destinations", vec![("channel", "Nope!")]),
        ("/admin/config/nothing", vec![("id", "x")]),
        ("/admin/config/monitors/missing", vec![("id", "missing")]),
        ("/admin/config/components/missing", vec![("id", "x")]),
        ("/admin/config/monitors/missing/remove", vec![]),
    ] {
        let r = send(&mut b, &csrf, path, &fields).await;
        assert!(
            r.status.is_client_error(),
            "{path}: {} {}",
            r.status,
            r.body
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_files_monitor_is_read_only_and_a_post_to_change_it_is_refused() {
    let app = spawn_with(&config_text(FILE_MONITOR)).await;
    let (mut b, csrf) = signed_in(&app, "ed", Role::Editor).await;
    let list = b.get("/admin/config").await;
    list.assert(
        StatusCode::OK,
        "Config file test.toml, key monitor[0] (read-only)",
    );

    let page = b.get("/admin/config/monitors/from-file").await;
    page.assert(
        StatusCode::OK,
        "Declared in the config file test.toml, key monitor[0]: change it in the file.",
    );
    assert!(
        page.body.contains("target = &#34;127.0.0.1:9&#34;"),
        "{}",
        page.body
    );
    assert!(
        !page
            .body
            .contains(r#"action="/admin/config/monitors/from-file""#),
        "no form for the file's monitor"
    );
    assert!(!page.body.contains("/remove"), "no removal either");

    let r = send(
        &mut b,
        &csrf,
        "/admin/config/monitors/from-file",
        &[
            ("id", "from-file"),
            ("service", "melodia"),
            ("kind", "tcp"),
            ("target", "127.0.0.1:10"),
            ("interval", "2m"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body.contains(
            "is declared in the config file test.toml (key `monitor[0]`): change it there"
        ),
        "{}",
        r.body
    );
    let r = send(
        &mut b,
        &csrf,
        "/admin/config/monitors/from-file/remove",
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // Nor can the file's service take a component here.
    let r = send(
        &mut b,
        &csrf,
        "/admin/config/components/melodia",
        &[("id", "x"), ("name", "X")],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let m = &app.app.config.get().monitors[0];
    assert_eq!(m.interval.as_duration(), std::time::Duration::from_secs(60));
    app.stop().await;
}

#[tokio::test]
async fn a_viewer_cannot_post_and_an_editor_cannot_touch_destinations() {
    let app = spawn_app().await;
    let (mut v, vcsrf) = signed_in(&app, "vic", Role::Viewer).await;
    let home = v.get("/admin").await;
    assert!(
        !home.body.contains("/admin/config"),
        "no menu entry for viewers"
    );
    let r = v.get("/admin/config").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &mut v,
        &vcsrf,
        "/admin/config/services",
        &[("id", "radio"), ("name", "Radio")],
    )
    .await;
    r.assert(
        StatusCode::FORBIDDEN,
        "Your role (viewer) lets you look but not change anything",
    );
    let r = send(&mut v, &vcsrf, "/admin/reload", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let (mut e, ecsrf) = signed_in(&app, "ed", Role::Editor).await;
    let r = e.get("/admin/config/destinations").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = send(
        &mut e,
        &ecsrf,
        "/admin/config/destinations",
        &[
            ("channel", "webhook"),
            ("id", "ops"),
            ("url", "http://127.0.0.1:9/"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = send(&mut e, &ecsrf, "/admin/reload", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "reloading is the admins'");
    // A token from another session is refused.
    let r = send(
        &mut e,
        &vcsrf,
        "/admin/config/services",
        &[("id", "radio"), ("name", "Radio")],
    )
    .await;
    r.assert(
        StatusCode::FORBIDDEN,
        "security (CSRF) token does not match",
    );
    assert!(
        app.app.store.config_objects().await.unwrap().is_empty(),
        "nothing was stored"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_admin_adds_a_webhook_and_its_secret_never_reaches_a_page() {
    let app = spawn_app().await;
    let (mut b, csrf) = signed_in(&app, "root", Role::Admin).await;
    let secret = "sixteen-plus-characters-of-secret";
    let url = "http://127.0.0.1:9/hooks/PATHSECRET";
    let form = b.get("/admin/config/destinations").await;
    form.assert(StatusCode::OK, r#"type="password""#);
    let r = send(
        &mut b,
        &csrf,
        "/admin/config/destinations",
        &[
            ("channel", "webhook"),
            ("id", "ops"),
            ("url", url),
            ("format", ""),
            ("events", "incident, monitor.down"),
            ("secret", secret),
        ],
    )
    .await;
    assert_saved(&r);
    let in_force = |app: &TestApp| {
        app.app
            .config
            .get()
            .notify
            .destinations
            .iter()
            .find(|d| d.id.as_str() == "ops")
            .map(|d| (d.filter.events.clone(), d.operators))
    };
    assert_eq!(
        in_force(&app),
        Some((vec!["incident".into(), "monitor.down".into()], false))
    );

    let pages = [
        "/admin",
        "/admin/config",
        "/admin/config/destinations/ops",
        "/admin/config/destinations/ops/remove",
        "/admin/notifications",
    ];
    let edit = b.get("/admin/config/destinations/ops").await;
    edit.assert(StatusCode::OK, "Set now: <code>secret</code>");
    assert_eq!(field_value(&edit, "url"), "http://127.0.0.1:9/…");

    // Changed through the fields, the secret left empty: it stays, and so does the URL.
    let r = send(
        &mut b,
        &csrf,
        "/admin/config/destinations/ops",
        &[
            ("channel", "webhook"),
            ("id", "ops"),
            ("url", &field_value(&edit, "url")),
            ("events", "incident"),
            ("secret", ""),
            ("operators", "on"),
            ("advanced", &textarea(&edit)),
        ],
    )
    .await;
    assert_saved(&r);
    assert_eq!(in_force(&app), Some((vec!["incident".into()], true)));
    let body = stored_body(&app, "ops").await;
    assert!(body.contains(secret) && body.contains(url), "kept: {body}");

    // Changed through the advanced table, which leaves the secret out: it stays.
    let edit = b.get("/admin/config/destinations/ops").await;
    let text = textarea(&edit);
    assert!(text.contains("channel = \"webhook\""), "{text}");
    let text = text.replace("operators = true", "operators = false");
    let r = send(
        &mut b,
        &csrf,
        "/admin/config/destinations/ops",
        &[("id", "ops"), ("channel", "webhook"), ("advanced", &text)],
    )
    .await;
    assert_saved(&r);
    assert_eq!(in_force(&app), Some((vec!["incident".into()], false)));
    let body = stored_body(&app, "ops").await;
    assert!(body.contains(secret) && body.contains(url), "kept: {body}");

    // A refused change does not echo the secret typed either.
    let r = send(
        &mut b,
        &csrf,
        "/admin/config/destinations/ops",
        &[
            ("channel", "webhook"),
            ("id", "ops"),
            ("url", "not a url"),
            ("secret", "another-secret-typed-here"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(!r.body.contains("another-secret-typed-here"), "{}", r.body);
    assert!(r.body.contains(r#"value="not a url""#), "{}", r.body);

    for path in pages {
        let p = b.get(path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}: {}", p.body);
        assert!(
            !p.body.contains("sixteen-plus") && !p.body.contains("PATHSECRET"),
            "{path} shows a secret:\n{}",
            p.body
        );
    }
    let list = b.get("/admin/config").await;
    assert!(
        list.body.contains("webhook to http://127.0.0.1:9/…"),
        "{}",
        list.body
    );

    // Removed, after the confirmation.
    let confirm = b.get("/admin/config/destinations/ops/remove").await;
    confirm.assert(StatusCode::OK, "Nothing more is sent to it.");
    let r = send(&mut b, &csrf, "/admin/config/destinations/ops/remove", &[]).await;
    assert_saved(&r);
    assert_eq!(in_force(&app), None);
    app.stop().await;
}

async fn stored_body(app: &TestApp, id: &str) -> String {
    let rows = app.app.store.config_objects().await.unwrap();
    rows.iter().find(|r| r.id == id).unwrap().body.clone()
}

#[tokio::test]
async fn removing_a_service_a_monitor_names_is_refused_naming_the_monitor() {
    let app = spawn_app().await;
    let (mut b, csrf) = signed_in(&app, "ed", Role::Editor).await;
    assert_saved(
        &send(
            &mut b,
            &csrf,
            "/admin/config/services",
            &[("id", "radio"), ("name", "Radio")],
        )
        .await,
    );
    assert_saved(
        &send(
            &mut b,
            &csrf,
            "/admin/config/components/radio",
            &[("id", "stream"), ("name", "Stream")],
        )
        .await,
    );
    assert_saved(
        &send(
            &mut b,
            &csrf,
            "/admin/config/monitors",
            &[
                ("id", "radio-tcp"),
                ("service", "radio"),
                ("component", "stream"),
                ("kind", "tcp"),
                ("target", "127.0.0.1:9"),
            ],
        )
        .await,
    );
    let confirm = b.get("/admin/config/services/radio/remove").await;
    confirm.assert(StatusCode::OK, "Remove service &#34;radio&#34;?");
    assert!(
        confirm
            .body
            .contains(r#"action="/admin/config/services/radio/remove""#)
    );
    let r = send(&mut b, &csrf, "/admin/config/services/radio/remove", &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body.contains("service &#34;radio&#34; cannot be removed")
            && r.body.contains("monitor &#34;radio-tcp&#34;"),
        "{}",
        r.body
    );
    let r = send(
        &mut b,
        &csrf,
        "/admin/config/components/radio/stream/remove",
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("radio-tcp"), "{}", r.body);
    assert!(app.app.config.service("radio").is_some(), "still in force");

    // The monitor first, then the service.
    let r = send(
        &mut b,
        &csrf,
        "/admin/config/monitors/radio-tcp/remove",
        &[],
    )
    .await;
    assert_saved(&r);
    let r = send(&mut b, &csrf, "/admin/config/services/radio/remove", &[]).await;
    assert_saved(&r);
    assert!(app.app.config.service("radio").is_none());
    let list = b.get("/admin/config?done=removed").await;
    list.assert(StatusCode::OK, "Removed.");
    assert!(!list.body.contains("radio"), "{}", list.body);
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_shows_a_reload_refused_and_objects_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("downbeat.toml");
    std::fs::write(&path, config_text("")).unwrap();
    let app = spawn_file(&path).await;
    let (mut b, csrf) = signed_in(&app, "root", Role::Admin).await;
    let home = b.get("/admin").await;
    home.assert(StatusCode::OK, "Reload the config file");
    assert!(!home.body.contains("was not reloaded"));

    // A stored monitor leaning on the file's component "playback".
    assert_saved(
        &send(
            &mut b,
            &csrf,
            "/admin/config/monitors",
            &[
                ("id", "play"),
                ("service", "melodia"),
                ("component", "playback"),
                ("kind", "tcp"),
                ("target", "127.0.0.1:9"),
            ],
        )
        .await,
    );

    // The file made invalid: the reload is refused with the file, key and reason, and
    // the dashboard keeps saying so.
    std::fs::write(
        &path,
        config_text("[[monitor]]\nid = \"bad\"\nservice = \"melodia\"\nkind = \"tcp\"\ntarget = \"127.0.0.1:9\"\ninterval = \"1s\"\n"),
    )
    .unwrap();
    let r = send(&mut b, &csrf, "/admin/reload", &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let file = path.display().to_string();
    for seen in ["was not reloaded", file.as_str(), "monitor[0].interval"] {
        assert!(r.body.contains(seen), "{seen:?} missing:\n{}", r.body);
    }
    let home = b.get("/admin").await;
    assert!(
        home.body
            .contains("The config file was not reloaded; the configuration in force stays")
            && home.body.contains("monitor[0].interval"),
        "{}",
        home.body
    );
    assert!(
        app.app.config.service("melodia").is_some(),
        "the config in force stays"
    );
    let (mut e, _) = signed_in(&app, "ed", Role::Editor).await;
    let ehome = e.get("/admin").await;
    assert!(ehome.body.contains("monitor[0].interval"), "editors see it");
    assert!(
        !ehome.body.contains("Reload the config file"),
        "only admins reload"
    );
    let (mut v, _) = signed_in(&app, "vic", Role::Viewer).await;
    assert!(!v.get("/admin").await.body.contains("monitor[0].interval"));

    // Valid again, without the component the stored monitor names: in force, the monitor
    // left out and listed.
    std::fs::write(
        &path,
        config_text("").replace(
            "[[service.component]]\nid = \"playback\"\nname = \"Playback\"\n",
            "",
        ),
    )
    .unwrap();
    let r = send(&mut b, &csrf, "/admin/reload", &[]).await;
    r.assert(
        StatusCode::OK,
        "The config file was read again and is in force.",
    );
    assert!(!r.body.contains("was not reloaded"), "{}", r.body);
    assert!(
        r.body.contains("monitor &#34;play&#34; (stored)"),
        "the stored monitor left out:\n{}",
        r.body
    );
    assert_eq!(
        app.app.config.service("melodia").unwrap().components.len(),
        1
    );
    let list = b.get("/admin/config").await;
    assert!(
        list.body.contains("left out of the configuration in force"),
        "{}",
        list.body
    );
    app.stop().await;
}
