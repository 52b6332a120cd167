//! Operators hide a message cluster that should not be public (an insult, a rumour) and
//! show it again: by its key, so every variant goes, from the API and the pages.

use crate::helpers::*;
use downbeat_api::auth::Role;
use reqwest::StatusCode;

async fn say(app: &TestApp, text: &str, net: u32) {
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/services/melodia/reports"))
        .header("x-forwarded-for", format!("10.{net}.0.1"))
        .json(&serde_json::json!({"problem": "login", "message": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
}

async fn listed(app: &TestApp) -> Vec<String> {
    let v: serde_json::Value = reqwest::get(app.url("/api/v1/services/melodia/messages"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut texts: Vec<String> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    texts.sort();
    texts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_hides_a_message_cluster_everywhere_and_shows_it_again() {
    let app = spawn_app().await;
    for (net, text) in [
        "Melodia <i>sucks</i>",
        "melodia <i>SUCKS</i>!!",
        "Melodia <i>sucks</i>",
    ]
    .into_iter()
    .enumerate()
    {
        say(&app, text, net as u32).await;
        say(&app, "Can't log in", net as u32 + 10).await;
    }
    assert_eq!(listed(&app).await, ["Can't log in", "Melodia <i>sucks</i>"]);

    app.add_user("viewer", Role::Viewer).await;
    app.add_user("ed", Role::Editor).await;
    let key = downbeat_crowd::messages::normalise("Melodia <i>sucks</i>");

    let mut v = app.browser();
    v.sign_in("viewer").await;
    let dash = v.get("/admin/s/melodia").await;
    dash.assert(StatusCode::OK, "What the error says (last hour)");
    assert!(
        dash.body.contains("Melodia &#60;i&#62;sucks&#60;/i&#62;"),
        "escaped: {}",
        dash.body
    );
    assert!(!dash.body.contains("Hide “"), "viewers see no button");
    let csrf = dash.csrf();
    let r = v
        .post(
            "/admin/s/melodia/messages",
            &[("csrf", &csrf), ("key", &key)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(listed(&app).await.len(), 2);

    let mut b = app.browser();
    b.sign_in("ed").await;
    let dash = b.get("/admin/s/melodia").await;
    assert!(dash.body.contains("Hide “Melodia"), "{}", dash.body);
    let csrf = dash.csrf();
    let r = b
        .post(
            "/admin/s/melodia/messages",
            &[("csrf", &csrf), ("key", &key)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(listed(&app).await, ["Can't log in"]);
    // A new variant of the hidden text stays hidden.
    say(&app, "MELODIA <i>sucks</i>", 20).await;
    assert_eq!(listed(&app).await, ["Can't log in"]);
    let dash = b.get("/admin/s/melodia").await;
    assert!(dash.body.contains("Hidden"), "{}", dash.body);
    assert!(dash.body.contains("again</button>"), "{}", dash.body);

    let r = b
        .post(
            "/admin/s/melodia/messages",
            &[("csrf", &csrf), ("key", &key), ("action", "show")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(listed(&app).await.len(), 2);

    let r = b
        .post(
            "/admin/s/melodia/messages",
            &[("csrf", &csrf), ("key", " ")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    app.stop().await;
}
