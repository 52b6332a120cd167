//! Changes on the public chart (issue 18, item 1): only where the service opts in, in public
//! words — the kind and the component's name, never a version, a title or a link.

use crate::helpers::*;
use downbeat_domain::change::{Change, ChangeKind};

async fn with_a_deploy(opt_in: bool) -> String {
    let mut config = config_text("");
    if opt_in {
        config = config.replace(
            "name = \"Melodia\"\n",
            "name = \"Melodia\"\npublic_changes = true\n",
        );
    }
    let app = spawn_with(
        &config,
        downbeat_store::testing::sqlite(),
        jiff::Timestamp::now(),
    )
    .await;
    let now_ms = app.clock.now_ms();
    let deploy = Change {
        kind: ChangeKind::Deploy,
        component: Some(downbeat_domain::Slug::parse("login").unwrap()),
        version: Some("2.3.0-secret".into()),
        title: Some("<b>new TLS</b> config".into()),
        link: Some("https://ci.internal.example/run/812".into()),
        region: None,
        at_ms: now_ms - 3_600_000,
    };
    app.app
        .store
        .insert_change("melodia", &deploy, "ci", now_ms)
        .await
        .unwrap();
    app.app.intake.generations.bump("melodia");
    app.pages.refresh().await;
    let page = app.page("/s/melodia").await;
    app.stop().await;
    page
}

#[tokio::test]
async fn a_service_that_opts_in_shows_its_changes_on_the_chart_in_public_words() {
    let page = with_a_deploy(true).await;
    assert!(page.contains("<line class=\"change\""), "a marker");
    assert!(
        page.contains("<title>Deploy of Login and accounts at "),
        "its words"
    );
    assert!(
        page.contains("Changes marked: Deploy of Login and accounts at "),
        "told in the chart's description"
    );
    for secret in ["2.3.0-secret", "new TLS", "ci.internal.example"] {
        assert!(!page.contains(secret), "{secret} on the public page");
    }
}

#[tokio::test]
async fn a_service_that_does_not_opt_in_shows_none() {
    let page = with_a_deploy(false).await;
    assert!(!page.contains("class=\"change\""));
    assert!(!page.contains("Deploy of"));
}
