//! The admin commands through the real binary: init, re-init refused,
//! file modes, serve refused without staff keys, bad staff keys refused,
//! and a server certificate from another (e.g. the Comune's) CA.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_layout_modes_and_refusals() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let d = dir.path().to_str().unwrap();
    let out = bin(&["init", "--dir", d])?;
    assert!(out.contains("Next steps"), "{out}");
    let data = dir.path().join("data");
    assert_eq!(mode(&data), 0o700);
    for key in ["ca.key", "server.key", "csrf.key", "inbox.sqlite"] {
        assert_eq!(mode(&data.join(key)), 0o600, "{key}");
    }
    let toml = std::fs::read_to_string(dir.path().join("inbox.toml"))?;
    assert!(toml.contains("# "), "commented config");

    // A second init must not replace the CA.
    let ca_before = std::fs::read(data.join("ca.pem"))?;
    let again = std::process::Command::new(BIN)
        .args(["init", "--dir", d])
        .output()?;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read(data.join("ca.pem"))?, ca_before);

    // serve refuses to start without a staff key.
    let config = dir.path().join("inbox.toml");
    let serve = std::process::Command::new(BIN)
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()?;
    assert!(!serve.status.success());
    assert!(String::from_utf8_lossy(&serve.stderr).contains("no staff key"));

    // Something that is not a public key is refused by `staff add`.
    let bogus = dir.path().join("bogus.asc");
    std::fs::write(&bogus, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnope\n")?;
    let add = std::process::Command::new(BIN)
        .args([
            "staff",
            "add",
            "--config",
            config.to_str().unwrap(),
            "--name",
            "X",
            "--key",
        ])
        .arg(&bogus)
        .output()?;
    assert!(!add.status.success());

    // Bad desk slug and unknown operator are clear errors, not panics.
    let bad = std::process::Command::new(BIN)
        .args([
            "operator",
            "add",
            "--config",
            config.to_str().unwrap(),
            "--name",
            "Anna Esempio",
            "--desk",
            "Via Mantova",
        ])
        .output()?;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("slug"));
    let revoke = std::process::Command::new(BIN)
        .args([
            "operator",
            "revoke",
            "--config",
            config.to_str().unwrap(),
            "99",
        ])
        .output()?;
    assert!(!revoke.status.success());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_server_certificate() -> anyhow::Result<()> {
    let fx = Fixture::new(20, 10)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    // The "Comune's CA" issues the server certificate; operators still use ours.
    let comune = sportello_inbox::pki::create_ca("CA del Comune Esempio")?;
    let issuer = rcgen::Issuer::from_ca_cert_pem(
        &comune.cert_pem,
        rcgen::KeyPair::from_pem(&comune.key_pem)?,
    )?;
    let server_cert = sportello_inbox::pki::issue_server_cert(&issuer, &["localhost".to_string()])?;
    let ext = fx.dir.path().join("external");
    std::fs::create_dir(&ext)?;
    std::fs::write(
        ext.join("chain.pem"),
        format!("{}{}", server_cert.cert_pem, comune.cert_pem),
    )?;
    std::fs::write(ext.join("key.pem"), &server_cert.key_pem)?;
    let text = std::fs::read_to_string(&fx.config)?
        .replace(
            "cert = \"data/server.pem\"",
            "cert = \"external/chain.pem\"",
        )
        .replace("key = \"data/server.key\"", "key = \"external/key.pem\"");
    std::fs::write(&fx.config, text)?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;

    let comune_root = vec![rustls::pki_types::CertificateDer::from(
        rustls::pki_types::pem::PemObject::from_pem_slice(comune.cert_pem.as_bytes())
            .map(|c: rustls::pki_types::CertificateDer<'static>| c.to_vec())?,
    )];
    let mut c = connect(server.https, &comune_root, Some(&giulia)).await?;
    assert_eq!(c.get("/").await?.status, 200);
    // A client that trusts only the inbox CA no longer trusts the server.
    assert!(connect(server.https, &fx.ca, Some(&giulia)).await.is_err());
    Ok(())
}
