//! Signing in and out: cookies, sessions stored as hashes, the same answer for every
//! failure, lock-out after repeated failures, and attempts limited per address.

use crate::helpers::*;
use downbeat_admin::login::{LOCK_MS, MAX_FAILURES};
use downbeat_api::auth::{Role, secret_hash};
use reqwest::StatusCode;
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
    assert_eq!(app.user("ana").await.failed_logins, 1);
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
    let u = app.user("ana").await;
    assert_eq!(u.failed_logins, MAX_FAILURES);
    assert_eq!(u.locked_until_ms, Some(app.clock.now_ms() + LOCK_MS));
    assert_eq!(LOCK_MS, 15 * 60_000);

    // Locked: the right password is refused, with the same words as any failure.
    let r = b.login("ana", PASSWORD).await;
    r.assert(StatusCode::FORBIDDEN, "Wrong user name or password");
    assert!(!b.cookies.contains_key("downbeat-session"));
    assert_eq!(
        app.user("ana").await.failed_logins,
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
    let u = app.user("ana").await;
    assert_eq!(
        (u.failed_logins, u.locked_until_ms),
        (0, None),
        "a success resets"
    );
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
        app.user("ana").await.failed_logins,
        0,
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
    assert!(app.user("cfg").await.locked_until_ms.is_some());
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
