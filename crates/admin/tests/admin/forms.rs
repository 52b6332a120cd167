//! Running incidents and maintenance through the forms: the ops rules apply, and their
//! error messages come back in the form that failed, with what was typed.

use crate::helpers::*;
use downbeat_api::auth::Role;
use downbeat_domain::incident::Status;
use reqwest::StatusCode;

#[tokio::test]
async fn an_editor_runs_an_incident_from_creation_to_postmortem() {
    let app = spawn_app().await;
    app.add_user("ed", Role::Editor).await;
    let mut b = app.browser();
    b.sign_in("ed").await;
    let form = b.get("/admin/s/melodia/incidents").await;
    form.assert(StatusCode::OK, "New incident for Melodia");
    assert!(
        form.body
            .contains(r#"<label for="n-c-login">Login and accounts</label>"#)
    );
    let csrf = form.csrf();

    // An empty title: the ops error, in the form, with the message kept.
    let r = b
        .post(
            "/admin/s/melodia/incidents",
            &[
                ("csrf", &csrf),
                ("title", "  "),
                ("message", "We are looking into it."),
                ("impact", "major"),
            ],
        )
        .await;
    r.assert(StatusCode::UNPROCESSABLE_ENTITY, "title: must not be empty");
    assert!(r.body.contains(">We are looking into it.</textarea>"));
    assert!(r.body.contains(r#"<option value="major" selected>"#));

    let r = b
        .post(
            "/admin/s/melodia/incidents",
            &[
                ("csrf", &csrf),
                ("title", "Login failures"),
                ("status", "investigating"),
                ("impact", "major"),
                ("component.login", "major_outage"),
                ("component.playback", ""),
                ("message", "We are looking into it."),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.location().to_owned();
    let id: i64 = loc
        .trim_start_matches("/admin/incidents/")
        .trim_end_matches("?done=created")
        .parse()
        .unwrap();
    let page = b.get(&loc).await;
    page.assert(StatusCode::OK, "The incident is created.");
    assert!(page.body.contains("Login and accounts: Major outage"));
    let public = app.public_incident(id).await.expect("published at once");
    assert_eq!(public["components"]["login"], "major_outage");

    // An update that changes status and a component.
    let r = b
        .post(
            &format!("/admin/incidents/{id}/updates"),
            &[
                ("csrf", &csrf),
                ("form", "update"),
                ("current_title", "Login failures"),
                ("title", "Login failures"),
                ("status", "identified"),
                ("impact", ""),
                ("component.login", "partial_outage"),
                ("message", "An expired certificate on the login API."),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.incident(id).await.status, Status::Identified);

    // A post-mortem before resolution: refused with the rule.
    let r = b
        .post(
            &format!("/admin/incidents/{id}/postmortem"),
            &[("csrf", &csrf), ("markdown", "# Early")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body.contains("a post-mortem follows resolution"),
        "{}",
        r.body
    );

    let r = b
        .post(
            &format!("/admin/incidents/{id}/updates"),
            &[
                ("csrf", &csrf),
                ("form", "resolve"),
                ("status", "resolved"),
                ("message", "All better."),
            ],
        )
        .await;
    assert_eq!(r.location(), format!("/admin/incidents/{id}?done=resolved"));
    let page = b.get(r.location()).await;
    page.assert(StatusCode::OK, "Resolved: the update is posted");
    assert!(page.body.contains("Time to resolve"));
    assert!(
        page.body.contains(r#"action="/admin/incidents/"#) && page.body.contains("/postmortem\"")
    );
    assert!(
        !page.body.contains("Post an update"),
        "nothing follows resolution but a post-mortem"
    );

    // Nothing follows resolution: the API's 409 and words, in the update form.
    let r = b
        .post(
            &format!("/admin/incidents/{id}/updates"),
            &[
                ("csrf", &csrf),
                ("form", "update"),
                ("message", "Oops, again"),
            ],
        )
        .await;
    r.assert(StatusCode::CONFLICT, "nothing can follow");

    let r = b
        .post(
            &format!("/admin/incidents/{id}/postmortem"),
            &[
                ("csrf", &csrf),
                ("markdown", "# What happened\n\nThe certificate expired."),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get(r.location()).await;
    page.assert(
        StatusCode::OK,
        "# What happened\n\nThe certificate expired.</textarea>",
    );
    let public = app.public_incident(id).await.unwrap();
    assert_eq!(public["status"], "resolved");
    assert_eq!(
        public["postmortem"],
        "# What happened\n\nThe certificate expired."
    );
    let authors: Vec<&str> = public["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["author"].as_str().unwrap())
        .collect();
    assert_eq!(authors, ["ed", "ed", "ed"]);

    // The dashboard lists it in the history.
    let dash = b.get("/admin/s/melodia").await;
    dash.assert(StatusCode::OK, "Recent history");
    assert!(dash.body.contains(&format!(
        r#"<a href="/admin/incidents/{id}">Login failures</a>"#
    )));
    app.stop().await;
}

#[tokio::test]
async fn maintenance_is_scheduled_from_the_form() {
    let app = spawn_app().await;
    app.add_user("ed", Role::Editor).await;
    let mut b = app.browser();
    b.sign_in("ed").await;
    let csrf = b.get("/admin/s/melodia/maintenance").await.csrf();
    let now = jiff::Timestamp::from_millisecond(app.clock.now_ms()).unwrap();
    let fmt = |t: jiff::Timestamp| {
        t.to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let start = fmt(now + jiff::SignedDuration::from_hours(2));
    let end = fmt(now + jiff::SignedDuration::from_hours(3));

    let r = b
        .post(
            "/admin/s/melodia/maintenance",
            &[
                ("csrf", &csrf),
                ("title", "Database upgrade"),
                ("message", "Short pauses."),
                ("scheduled_for", "tomorrow"),
                ("scheduled_until", &end),
            ],
        )
        .await;
    r.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        "scheduled_for: &#34;tomorrow&#34; is not a date and time",
    );
    assert!(r.body.contains(r#"value="Database upgrade""#));

    let r = b
        .post(
            "/admin/s/melodia/maintenance",
            &[
                ("csrf", &csrf),
                ("title", "Database upgrade"),
                ("message", "Short pauses."),
                ("scheduled_for", &end),
                ("scheduled_until", &start),
            ],
        )
        .await;
    r.assert(
        StatusCode::UNPROCESSABLE_ENTITY,
        "scheduled_until: must be after scheduled_for",
    );

    let r = b
        .post(
            "/admin/s/melodia/maintenance",
            &[
                ("csrf", &csrf),
                ("title", "Database upgrade"),
                ("message", "Short pauses."),
                ("scheduled_for", &start),
                ("scheduled_until", &end),
                ("components", "playback"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get(r.location()).await;
    page.assert(
        StatusCode::OK,
        "The maintenance window is scheduled and published.",
    );
    assert!(page.body.contains("Playback: Under maintenance"));
    assert!(page.body.contains(">Complete</button>"));
    let dash = b.get("/admin/s/melodia").await;
    assert!(dash.body.contains("Database upgrade"));
    app.stop().await;
}
