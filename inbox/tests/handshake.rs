//! Real TLS handshakes against the real server: only a valid, unrevoked
//! operator certificate from the inbox's CA gets an answer.

mod common;

use common::*;
use rcgen::KeyPair;
use rustls::pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

/// Any request on a refused connection must fail: with TLS 1.3 the client
/// learns of the refusal at its first read, so try a full request.
async fn refused(server: &Server, fx: &Fixture, id: Option<&Identity>) -> bool {
    match connect(server.https, &fx.ca, id).await {
        Err(_) => true,
        Ok(mut c) => c.get("/").await.is_err(),
    }
}

fn identity_from(issued: sportello_inbox::pki::Issued) -> Identity {
    Identity {
        chain: vec![CertificateDer::from(issued.cert_der)],
        key_der: issued.key_der,
        id: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_valid_operator_certificates_are_accepted() -> anyhow::Result<()> {
    let fx = Fixture::new(20, 10)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;

    // A valid operator gets the form.
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let page = c.get("/").await?;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Nuova segnalazione"));
    assert!(page.body.contains("Giulia Esempio"));

    // TLS 1.2 works too, with the same client certificate.
    let mut c12 = connect_with(
        server.https,
        &fx.ca,
        Some(&giulia),
        &[&rustls::version::TLS12],
    )
    .await?;
    assert_eq!(c12.get("/").await?.status, 200);

    // No certificate.
    assert!(
        refused(&server, &fx, None).await,
        "no certificate must be refused"
    );

    // A certificate from another CA.
    let other_ca = sportello_inbox::pki::create_ca("Altra CA")?;
    let other_issuer =
        rcgen::Issuer::from_ca_cert_pem(&other_ca.cert_pem, KeyPair::from_pem(&other_ca.key_pem)?)?;
    let now = OffsetDateTime::now_utc();
    let stranger = sportello_inbox::pki::issue_client_cert(
        &other_issuer,
        "Intruso Esempio",
        "via-mantova",
        now - Duration::days(1),
        now + Duration::days(30),
    )?;
    assert!(
        refused(&server, &fx, Some(&identity_from(stranger))).await,
        "other CA must be refused"
    );

    // An expired certificate from the right CA.
    let issuer = sportello_inbox::pki::load_issuer(
        &fx.data_dir().join("ca.pem"),
        &fx.data_dir().join("ca.key"),
    )?;
    let expired = sportello_inbox::pki::issue_client_cert(
        &issuer,
        "Scaduto Esempio",
        "via-mantova",
        now - Duration::days(400),
        now - Duration::days(35),
    )?;
    assert!(
        refused(&server, &fx, Some(&identity_from(expired))).await,
        "expired must be refused"
    );

    // A valid certificate of the CA that is not in the operators table
    // (e.g. a database restored from an old backup) passes TLS but gets 403.
    let unknown = sportello_inbox::pki::issue_client_cert(
        &issuer,
        "Sconosciuto Esempio",
        "via-mantova",
        now - Duration::days(1),
        now + Duration::days(30),
    )?;
    let mut c2 = connect(server.https, &fx.ca, Some(&identity_from(unknown))).await?;
    assert_eq!(c2.get("/").await?.status, 403);

    // Health answers on plain HTTP, on loopback only.
    assert!(server.health.ip().is_loopback());
    let mut tcp = tokio::net::TcpStream::connect(server.health).await?;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await?;
    let mut buf = String::new();
    tcp.read_to_string(&mut buf).await?;
    assert!(buf.starts_with("HTTP/1.1 200"), "{buf}");

    // The three refusals happened in the TLS layer, not in HTTP.
    let log = std::fs::read_to_string(fx.dir.path().join("server.log"))?;
    assert!(log.matches("TLS handshake refused").count() >= 3, "{log}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_applies_at_next_handshake_without_restart() -> anyhow::Result<()> {
    let fx = Fixture::new(20, 10)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let marco = fx.add_operator("Marco Esempio", "cavatigozzi")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let pid = server.child.id();

    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    assert_eq!(c.get("/").await?.status, 200);

    bin(&[
        "operator",
        "revoke",
        "--config",
        fx.config_str(),
        &giulia.id.to_string(),
    ])?;
    let listed = bin(&["operator", "list", "--config", fx.config_str()])?;
    assert!(listed.contains("revoked"), "{listed}");

    // Same process, new handshake: refused. The other operator still works.
    assert_eq!(server.child.id(), pid);
    assert!(
        refused(&server, &fx, Some(&giulia)).await,
        "revoked must be refused"
    );
    let mut m = connect(server.https, &fx.ca, Some(&marco)).await?;
    assert_eq!(m.get("/").await?.status, 200);

    // The connection opened before the revocation is cut off too, at the
    // latest after the server's periodic re-check (5 s).
    tokio::time::sleep(std::time::Duration::from_millis(5200)).await;
    assert_eq!(c.get("/").await?.status, 403);

    // Revoking twice is harmless and keeps the CRL.
    bin(&[
        "operator",
        "revoke",
        "--config",
        fx.config_str(),
        &giulia.id.to_string(),
    ])?;
    assert!(refused(&server, &fx, Some(&giulia)).await);
    Ok(())
}
