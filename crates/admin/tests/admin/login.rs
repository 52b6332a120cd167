//! Signing in and out: cookies, sessions stored as hashes, the same answer for every
//! failure, lock-out per user and address after repeated failures, attempts limited per
//! address, password checks bounded, and sessions ended when a password changes or a user
//! goes.

use crate::helpers::*;
use downbeat_admin::login::{LOCK_MS, MAX_FAILURES, authenticate};
use downbeat_api::auth::{Role, hash_password, secret_hash};
use reqwest::StatusCode;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn an_editor_signs_in_and_out_with_a_strict_httponly_cookie() {
    let app = spawn_app().await;
    app.add_user("ana", Role::Editor).await;
    let mut b = app.browser();

    let r = b.get("/admin/s/melodia").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/admin/login?next=%2Fadmin%2Fs%2Fmelodia");

    let form = b.get("/admin/login?next=%2Fadmin%2Fs%2Fmelodia").await;
    form.assert(StatusCode::OK, "<h1>Sign in</h1>");
    assert!(form.body.contains(r#"<label for="user">User name</label>"#));
    let csrf = form.csrf();
    let r = b
        .post(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("next", "/admin/s/melodia"),
                ("user", "ana"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/admin/s/melodia");
    // Plain HTTP on loopback: a Secure cookie would never come back, so it is not Secure
    // and has no __Host- prefix.
    let cookie = r.set_cookie("downbeat-session").expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attr), "{attr} missing in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    // The store keeps only the SHA-256 of the cookie's value.
    let value = b.cookies["downbeat-session"].clone();
    assert_eq!(value.len(), 64);
    let now = app.clock.now_ms();
    let row = app
        .app
        .store
        .session(secret_hash(&value), now)
        .await
        .unwrap()
        .expect("session stored under the hash");
    assert_eq!(row.user, "ana");
    assert!(row.expires_ms > now && row.expires_ms <= now + 12 * 3_600_000);

    let page = b.get("/admin/s/melodia").await;
    page.assert(StatusCode::OK, "ana <span class=\"role\">(editor)</span>");
    assert_eq!(
        page.headers["cache-control"], "no-store",
        "admin pages are never cached"
    );
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );

    let r = b.post("/admin/logout", &[("csrf", &page.csrf())]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/admin/login?done=signed-out");
    assert!(
        r.set_cookie("downbeat-session")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert!(
        app.app
            .store
            .session(secret_hash(&value), now)
            .await
            .unwrap()
            .is_none(),
        "signing out deletes the session"
    );
    // The old cookie is worthless now.
    b.cookies.insert("downbeat-session".into(), value);
    assert_eq!(b.get("/admin").await.status, StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn sessions_expire_after_twelve_hours() {
    let app = spawn_app().await;
    app.add_user("ana", Role::Viewer).await;
    let mut b = app.browser();
    b.sign_in("ana").await;
    assert_eq!(b.get("/admin").await.status, StatusCode::OK);
    app.clock.advance(Duration::from_secs(12 * 3600 + 1));
    assert_eq!(b.get("/admin").await.status, StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn behind_an_https_proxy_cookies_are_secure_and_plain_http_from_afar_is_refused() {
    let app = spawn_app().await;
    app.add_user("ana", Role::Editor).await;
    let mut b = app.remote_browser("203.0.113.7");
    let form = b.get("/admin/login").await;
    let login = form
        .set_cookie("__Host-downbeat-login")
        .expect("login cookie");
    assert!(
        login.contains("Secure") && login.contains("Path=/"),
        "{login}"
    );
    let r = b.login("ana", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let cookie = r
        .set_cookie("__Host-downbeat-session")
        .expect("secure session cookie");
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing in {cookie}");
    }
    assert_eq!(b.get("/admin").await.status, StatusCode::OK);

    // The same client without HTTPS: no password or cookie crosses a network in clear.
    let r = reqwest::Client::new()
        .get(app.url("/admin/login"))
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body = r.text().await.unwrap();
    assert!(body.contains("HTTPS needed"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    app.add_user("ana", Role::Editor).await;
    let mut b = app.browser();
    let wrong = b.login("ana", "not the password").await;
    let unknown = b.login("nobody", "not the password").await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(unknown.status, StatusCode::FORBIDDEN);
    let message = |p: &Page| {
        let at = p.body.find(r#"<p class="error""#).expect("an error");
        p.body[at..at + p.body[at..].find("</p>").unwrap()].to_owned()
    };
    assert_eq!(message(&wrong), message(&unknown));
    assert!(message(&wrong).contains("Wrong user name or password"));
    assert!(!b.cookies.contains_key("downbeat-session"));
    assert_eq!(app.failures("ana", "127.0.0.1").await.unwrap().failures, 1);
    app.stop().await;
}

#[tokio::test]
async fn repeated_failures_lock_the_user_even_against_the_right_password() {
    let app = spawn_app().await;
    app.add_user("ana", Role::Editor).await;
    let mut b = app.browser();
    for i in 1..=MAX_FAILURES {
        let r = b.login("ana", "guess").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "attempt {i}");
    }
    let u = app.failures("ana", "127.0.0.1").await.unwrap();
    assert_eq!(u.failures, MAX_FAILURES);
    assert_eq!(u.locked_until_ms, Some(app.clock.now_ms() + LOCK_MS));
    assert_eq!(LOCK_MS, 15 * 60_000);

    // Locked: the right password is refused, with the same words as any failure.
    let r = b.login("ana", PASSWORD).await;
    r.assert(StatusCode::FORBIDDEN, "Wrong user name or password");
    assert!(!b.cookies.contains_key("downbeat-session"));
    assert_eq!(
        app.failures("ana", "127.0.0.1").await.unwrap().failures,
        MAX_FAILURES,
        "locked attempts do not count"
    );

    app.clock
        .advance(Duration::from_millis(LOCK_MS as u64 - 1000));
    let r = b.login("ana", PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "still locked a second before the end"
    );

    app.clock.advance(Duration::from_secs(1));
    let r = b.login("ana", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        app.failures("ana", "127.0.0.1").await,
        None,
        "a success resets"
    );
    app.stop().await;
}

/// Regression: five bad passwords locked a user for 15 minutes from everywhere, and user
/// names are public (they sign incidents), so anyone could lock every operator out during
/// an outage. The lock is per user and client address: the flood locks out only its own
/// address (an IPv6 one by its /64), and the operator signs in from anywhere else.
#[tokio::test]
async fn a_flood_of_bad_passwords_locks_out_only_its_own_address() {
    let app = spawn_app().await;
    app.add_user("ana", Role::Editor).await;
    let mut flood = app.remote_browser("198.51.100.1");
    for i in 1..=MAX_FAILURES {
        let r = flood.login("ana", "guess").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "attempt {i}");
    }
    let r = flood.login("ana", PASSWORD).await;
    r.assert(StatusCode::FORBIDDEN, "Wrong user name or password");

    let mut ana = app.remote_browser("203.0.113.9");
    let r = ana.login("ana", PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "the operator elsewhere signs in: {}",
        r.body
    );
    assert_eq!(ana.get("/admin").await.status, StatusCode::OK);
    assert!(
        app.failures("ana", "198.51.100.1")
            .await
            .unwrap()
            .locked_at(app.clock.now_ms()),
        "the flooding address stays locked"
    );

    // Addresses of one IPv6 /64 are one client: rotating through them does not help.
    for i in 1..=MAX_FAILURES {
        let mut b = app.remote_browser(&format!("2001:db8:1:2::{i:x}"));
        assert_eq!(b.login("ana", "guess").await.status, StatusCode::FORBIDDEN);
    }
    let mut same_64 = app.remote_browser("2001:db8:1:2::ff");
    let r = same_64.login("ana", PASSWORD).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "locked for the /64");
    let mut next_64 = app.remote_browser("2001:db8:1:3::1");
    let r = next_64.login("ana", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    app.stop().await;
}

/// Regression: every sign-in ran argon2 on the blocking pool unbounded (memory and SQLite
/// share it). A flood of sign-ins, from many addresses so the address limit does not stop
/// it, now runs at most `server.password_checks` (2 by default) at once; the rest wait.
#[tokio::test]
async fn a_sign_in_flood_runs_at_most_the_bound_of_password_checks_at_once() {
    let app = spawn_app().await;
    app.add_user("ana", Role::Editor).await;
    assert_eq!(app.app.config.load().server.password_checks, 2);
    // The sign-in form's handler calls `authenticate` with its admin state; so does this.
    let admin = Arc::new(downbeat_admin::Admin::new(app.app.clone()));
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..12u8 {
        let admin = admin.clone();
        flood.spawn(async move {
            let ip = IpAddr::from([198, 51, 100, i]);
            let user = if i % 2 == 0 { "ana" } else { "nobody" };
            authenticate(&admin, user, "guess", ip).await.unwrap()
        });
    }
    while let Some(signed_in) = flood.join_next().await {
        assert_eq!(signed_in.unwrap(), None);
    }
    let peak = admin.passwords.peak();
    assert!(
        (1..=2).contains(&peak),
        "{peak} password checks ran at once; the bound is 2"
    );
    let ip = IpAddr::from([203, 0, 113, 1]);
    assert_eq!(
        authenticate(&admin, "ana", PASSWORD, ip).await.unwrap(),
        Some("ana".to_owned())
    );
    app.stop().await;
}

/// Regression: changing a password (`downbeat user add` on an existing user, which saves
/// the new hash) left the sessions signed in with the old one valid for hours.
#[tokio::test]
async fn a_new_password_ends_the_users_sessions() {
    let app = spawn_app().await;
    app.add_user("ana", Role::Editor).await;
    app.add_user("bob", Role::Editor).await;
    let mut here = app.browser();
    here.sign_in("ana").await;
    let mut there = app.remote_browser("203.0.113.7");
    there.sign_in("ana").await;
    let mut bob = app.browser();
    bob.sign_in("bob").await;

    let mut ana = app.user("ana").await;
    ana.role = Role::Admin;
    app.app.store.save_user(ana.clone()).await.unwrap();
    assert_eq!(
        here.get("/admin").await.status,
        StatusCode::OK,
        "a role change keeps the session"
    );

    ana.password_hash = hash_password("a brand new password").unwrap();
    assert_eq!(app.app.store.save_user(ana).await.unwrap(), 2);
    for b in [&mut here, &mut there] {
        let r = b.get("/admin").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "signed out: {}", r.body);
    }
    assert_eq!(
        bob.get("/admin").await.status,
        StatusCode::OK,
        "others stay"
    );
    let r = here.login("ana", "a brand new password").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(here.get("/admin").await.status, StatusCode::OK);
    app.stop().await;
}

/// Regression: a user taken out of the config file stayed in the store, signed in and able
/// to sign in again; a hash changed in the file kept the old sessions. At start, users the
/// file wrote and no longer names are removed with their sessions, a new hash ends the
/// user's sessions, and users added with the CLI are left alone.
#[tokio::test]
async fn users_dropped_from_the_config_file_or_given_a_new_hash_there_are_signed_out_at_start() {
    let user = |name: &str, hash: &str| {
        format!("[[user]]\nname = \"{name}\"\nrole = \"editor\"\npassword_hash = \"{hash}\"\n")
    };
    let hash = hash_password(PASSWORD).unwrap();
    let app = spawn_with(&config_text(&format!(
        "{}{}",
        user("gone", &hash),
        user("kept", &hash)
    )))
    .await;
    app.add_user("cli", Role::Editor).await;
    let mut gone = app.browser();
    gone.sign_in("gone").await;
    let mut kept = app.browser();
    kept.sign_in("kept").await;
    let mut cli = app.browser();
    cli.sign_in("cli").await;

    let new_hash = hash_password("a brand new password").unwrap();
    let file = config_text(&user("kept", &new_hash));
    let app = app.restart_with(&file).await;
    let (mut gone, mut kept, mut cli) = (gone.at(&app), kept.at(&app), cli.at(&app));
    assert!(app.app.store.user("gone").await.unwrap().is_none());
    assert_eq!(gone.get("/admin").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        gone.login("gone", PASSWORD).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        kept.get("/admin").await.status,
        StatusCode::SEE_OTHER,
        "a new hash in the file ends the sessions"
    );
    assert_eq!(
        kept.login("kept", "a brand new password").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        cli.get("/admin").await.status,
        StatusCode::OK,
        "users added with the CLI are not the file's"
    );

    // Starting again with the same file changes nothing and signs nobody out.
    let app = app.restart_with(&file).await;
    let mut kept = kept.at(&app);
    assert_eq!(
        downbeat_admin::sync_config_users(&app.app).await.unwrap(),
        0
    );
    assert_eq!(kept.get("/admin").await.status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address() {
    let app = spawn_app().await;
    app.add_user("ana", Role::Editor).await;
    let mut flood = app.remote_browser("198.51.100.1");
    let form = flood.get("/admin/login").await;
    let csrf = form.csrf();
    let attempt = |user: &'static str, password: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("user", user.into()),
            ("password", password.into()),
        ]
    };
    for i in 0..downbeat_admin::throttle::BURST {
        // Different (unknown) users: the address limit is not the per-user lock.
        let user = ["u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "u10"][i as usize];
        let f = attempt(user, "guess");
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = flood.post("/admin/login", &f).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "attempt {i}: {}", r.body);
    }
    let f = attempt("ana", PASSWORD);
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = flood.post("/admin/login", &f).await;
    r.assert(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many sign-in attempts from your address",
    );
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(!flood.cookies.contains_key("__Host-downbeat-session"));
    assert_eq!(
        app.failures("ana", "198.51.100.1").await,
        None,
        "refused before any password check"
    );

    // Another address is not affected.
    let mut other = app.remote_browser("198.51.100.2");
    let r = other.login("ana", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    app.stop().await;
}

#[tokio::test]
async fn the_sign_in_form_needs_its_own_token() {
    let app = spawn_app().await;
    app.add_user("ana", Role::Editor).await;
    let mut b = app.browser();
    let r = b
        .post("/admin/login", &[("user", "ana"), ("password", PASSWORD)])
        .await;
    r.assert(StatusCode::FORBIDDEN, "security cookie is missing");
    let csrf = b.get("/admin/login").await.csrf();
    let r = b
        .post(
            "/admin/login",
            &[
                ("csrf", "0".repeat(64).as_str()),
                ("user", "ana"),
                ("password", PASSWORD),
            ],
        )
        .await;
    r.assert(StatusCode::FORBIDDEN, "does not match");
    b.origin = Some("https://evil.example".into());
    let r = b
        .post(
            "/admin/login",
            &[("csrf", &csrf), ("user", "ana"), ("password", PASSWORD)],
        )
        .await;
    r.assert(StatusCode::FORBIDDEN, "sent from another site");
    assert!(!b.cookies.contains_key("downbeat-session"));
    app.stop().await;
}

#[tokio::test]
async fn users_from_the_config_file_can_sign_in() {
    let hash = downbeat_api::auth::hash_password(PASSWORD).unwrap();
    let app = spawn_with(&config_text(&format!(
        "[[user]]\nname = \"cfg\"\nrole = \"viewer\"\npassword_hash = \"{hash}\"\n"
    )))
    .await;
    let u = app.user("cfg").await;
    assert_eq!((u.role.as_str(), u.password_hash == hash), ("viewer", true));
    // A restart with the same file leaves a lock in place.
    let mut b = app.browser();
    for _ in 0..MAX_FAILURES {
        b.login("cfg", "guess").await;
    }
    assert_eq!(
        downbeat_admin::sync_config_users(&app.app).await.unwrap(),
        0
    );
    assert!(
        app.failures("cfg", "127.0.0.1")
            .await
            .unwrap()
            .locked_at(app.clock.now_ms())
    );
    app.stop().await;
}

/// A log line written while handling a request carries that request's span (method and
/// route template), so it can be tied to its request; the raw query never appears.
#[tokio::test]
async fn a_sign_in_is_logged_inside_its_request_span() {
    // The test's runtime has one thread: the server's tasks log through this subscriber.
    let (logs, _guard) = downbeat_server::testing::capture_logs();

    let app = spawn_app().await;
    app.add_user("ana", Role::Editor).await;
    let mut b = app.browser();
    let form = b.get("/admin/login?secret-looking=query").await;
    let r = b
        .post(
            "/admin/login",
            &[
                ("csrf", &form.csrf()),
                ("user", "ana"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    app.stop().await;

    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("signed in"))
        .unwrap_or_else(|| panic!("no sign-in line in:\n{text}"));
    assert!(
        line.contains("request{method=POST route=/admin/login}"),
        "{line}"
    );
    assert!(!text.contains("secret-looking"), "{text}");
}

/// The plain-HTTP exemption rests on the TCP peer alone. Behind a proxy that passes the
/// client's own X-Forwarded-For along, a client writing "127.0.0.1" (or any loopback
/// address) must not get the admin area over plain HTTP; and over HTTPS a plain-named
/// session cookie, which a plain-HTTP page could have planted, is not a session.
#[tokio::test]
async fn a_forwarded_loopback_address_does_not_earn_plain_http() {
    let app = spawn_app().await;
    for claimed in ["127.0.0.1", "::1", "127.0.0.1, 127.0.0.2"] {
        let r = reqwest::Client::new()
            .get(app.url("/admin/login"))
            .header("x-forwarded-for", claimed)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{claimed}");
        assert!(r.text().await.unwrap().contains("HTTPS needed"));
    }
    for (name, value) in [("forwarded", "for=127.0.0.1"), ("x-real-ip", "127.0.0.1")] {
        let r = reqwest::Client::new()
            .get(app.url("/admin/login"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
    }

    // Over HTTPS, the session lives only in the __Host- cookie.
    app.add_user("ana", Role::Editor).await;
    let mut local = app.browser();
    local.sign_in("ana").await;
    let plain = local.cookies["downbeat-session"].clone();
    let r = app
        .client // follows no redirects
        .get(app.url("/admin"))
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-forwarded-proto", "https")
        .header("cookie", format!("downbeat-session={plain}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "no session: sent to sign in"
    );
    app.stop().await;
}
