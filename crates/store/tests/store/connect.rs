//! PostgreSQL connections (integrity item 17): TLS as the URL's `sslmode` says, against a
//! server of the test's own that requires TLS with a certificate made here; and a bounded
//! wait, never a hang, for a server that does not answer.

use downbeat_store::testing::{PgCluster, PgTls};
use downbeat_store::{PgTimeouts, StoreError, StoreTarget, open_with};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::time::Duration;

/// A CA named `ca_name` (its PEM) and a server certificate and key it signed for `names`.
fn ca_and_server(ca_name: &str, names: &[&str]) -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, names[0]);
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

const QUICK: PgTimeouts = PgTimeouts {
    connect: Duration::from_secs(2),
    statement: Duration::from_secs(5),
};

async fn open(url: String) -> Result<(), StoreError> {
    // Never a hang: a test that waits this long has failed.
    let store = tokio::time::timeout(
        Duration::from_secs(60),
        open_with(&StoreTarget::Postgres(url), QUICK),
    )
    .await
    .expect("opening returned")?;
    store.ping().await
}

#[tokio::test]
async fn tls_modes_against_a_server_that_requires_tls() {
    let (ca, cert, key) = ca_and_server("Downbeat test database CA", &["localhost"]);
    let Some(pg) = PgCluster::start(Some(PgTls {
        cert_pem: &cert,
        key_pem: &key,
        required: true,
    })) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let (other_ca, _, _) = ca_and_server("Another CA", &["localhost"]);
    let other_file = dir.path().join("other-ca.pem");
    std::fs::write(&other_file, &other_ca).unwrap();
    let (ca_file, other_file) = (ca_file.display(), other_file.display());
    let port = pg.port;
    // A name the certificate does not carry, for the same server.
    let wrong_host = format!(
        "postgres://postgres@db.wrong.test:{port}/postgres?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={ca_file}"
    );

    // Encrypted, the certificate unchecked (libpq's `require` and `prefer`).
    for query in ["?sslmode=require", "?sslmode=prefer", ""] {
        open(pg.url("localhost", query))
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
    }
    // Verified against the CA: the chain and the host name, or the chain only.
    open(pg.url(
        "localhost",
        &format!("?sslmode=verify-full&sslrootcert={ca_file}"),
    ))
    .await
    .expect("verify-full with the right CA and host name");
    open(wrong_host.replace("verify-full", "verify-ca"))
        .await
        .expect("verify-ca does not compare the host name");

    // Refused, each with a reason that says what is wrong.
    for (url, words) in [
        (wrong_host.clone(), "not valid for name"),
        (
            pg.url(
                "localhost",
                &format!("?sslmode=verify-full&sslrootcert={other_file}"),
            ),
            "UnknownIssuer",
        ),
        (
            pg.url(
                "localhost",
                &format!("?sslmode=require&sslrootcert={other_file}"),
            ),
            "UnknownIssuer",
        ),
        (pg.url("localhost", "?sslmode=verify-full"), "UnknownIssuer"),
        (pg.url("localhost", "?sslmode=disable"), "no encryption"),
    ] {
        let e = open(url.clone()).await.expect_err(&url);
        let words_seen = e.to_string();
        assert!(
            matches!(e, StoreError::Unavailable(_)),
            "{url}: {words_seen}"
        );
        assert!(words_seen.contains(words), "{url}: {words_seen}");
        if url.contains("verify") || url.contains("require") {
            assert!(words_seen.contains("TLS"), "{url}: {words_seen}");
        }
    }
    let e = open(wrong_host.clone()).await.unwrap_err().to_string();
    assert!(
        e.contains("db.wrong.test") && e.contains("sslmode=verify-full"),
        "the error names the host and the mode: {e}"
    );
}

#[tokio::test]
async fn tls_is_refused_when_the_server_offers_none() {
    let Some(pg) = PgCluster::start(None) else {
        return;
    };
    open(pg.url("127.0.0.1", "?sslmode=prefer"))
        .await
        .expect("prefer falls back to plain");
    let e = open(pg.url("127.0.0.1", "?sslmode=require"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not offer TLS"), "{e}");
}

/// A listener that accepts and never says a word: opening gives up within the connect
/// timeout with an *unavailable* error, whatever the mode.
#[tokio::test]
async fn a_server_that_never_answers_is_given_up_on() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s);
        }
    });
    for mode in ["disable", "require"] {
        let url = format!("postgres://postgres:pw@127.0.0.1:{port}/db?sslmode={mode}");
        let e = open(url).await.expect_err(mode);
        assert!(matches!(e, StoreError::Unavailable(_)), "{mode}: {e}");
        assert!(e.to_string().contains("connect timeout"), "{mode}: {e}");
        assert!(!e.to_string().contains("pw"), "{e}");
    }
    held.abort();
}

/// A server ending a session says why (SQLSTATE 57P01 when it shuts down or an operator
/// ends it): the store calls that unavailable — retry later — not an internal error.
#[tokio::test]
async fn a_session_the_server_ends_is_unavailable_not_internal() {
    let Some(t) = downbeat_store::testing::postgres().await else {
        return;
    };
    let StoreTarget::Postgres(url) = &t.target else {
        unreachable!("a PostgreSQL target")
    };
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let io = tokio::spawn(connection);
    let e = client
        .batch_execute("SELECT pg_terminate_backend(pg_backend_pid())")
        .await
        .expect_err("the session is ended");
    assert_eq!(
        e.code().map(|c| c.code()),
        Some("57P01"),
        "the server said why: {e}"
    );
    let e = StoreError::from(e);
    assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
    let _ = io.await;
}
