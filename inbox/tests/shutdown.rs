//! Graceful shutdown: on SIGTERM the server stops accepting, finishes the
//! request in flight (its referral is committed and acknowledged), exits 0.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let mut server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let (csrf, key) = c.form_tokens().await?;
    let body = encode(&valid_fields(&csrf, &key));

    // A blocking TLS client that sends half of the POST, then waits.
    let mut roots = rustls::RootCertStore::empty();
    for ca in &fx.ca {
        roots.add(ca.clone())?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_client_auth_cert(
        giulia.chain.clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(giulia.key_der.clone())),
    )?;
    let conn = rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost")?)?;
    let tcp = TcpStream::connect(server.https)?;
    tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let head = format!(
        "POST /segnalazioni HTTP/1.1\r\nHost: localhost:{}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        server.https.port(),
        body.len()
    );
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    tls.write_all(head.as_bytes())?;
    tls.write_all(first)?;
    tls.flush()?;
    std::thread::sleep(Duration::from_millis(300));

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()?;
    assert!(kill.success());
    std::thread::sleep(Duration::from_millis(500));
    // New connections are no longer accepted...
    let refused = connect(server.https, &fx.ca, Some(&giulia)).await;
    assert!(refused.is_err(), "still accepting after SIGTERM");
    // ...but the request in flight completes.
    tls.write_all(rest)?;
    tls.flush()?;
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 303"), "{response}");
    let reference = response
        .lines()
        .find_map(|l| l.strip_prefix("location: /segnalazioni/"))
        .expect("location")
        .trim()
        .to_string();

    let status = server.child.wait()?;
    assert!(status.success(), "exit status {status}");
    assert_eq!(
        fx.delivery(&reference)?.0,
        "queued",
        "committed before the answer"
    );
    Ok(())
}
