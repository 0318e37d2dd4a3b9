//! Delivery against a real SMTP server (aiosmtpd on 127.0.0.1): PGP/MIME
//! that the staff key decrypts, no personal data in headers, retries while
//! the server is down, STARTTLS required, 5xx -> failed + admin notice.

mod common;

use std::time::{Duration, Instant};

use common::openpgp::{self, armored_block};
use common::smtp::{self, Handler, Security, Smtp};
use common::*;
use pgp::composed::Message;

/// Synthetic person with a unique marker in every free-text field.
fn marked_fields(tag: &str) -> (Vec<(String, String)>, Vec<String>) {
    let markers = vec![
        format!("Qzfn{tag}"),
        format!("Qzln{tag}"),
        format!("Qzds{tag}"),
        format!("qzem{tag}@esempio.it"),
    ];
    let mut f = valid_fields("", "");
    set(&mut f, "first_name", &markers[0]);
    set(&mut f, "last_name", &markers[1]);
    set(
        &mut f,
        "description",
        &format!("Vive sola {} e chiede aiuto.", markers[2]),
    );
    set(&mut f, "email", &markers[3]);
    (f, markers)
}

fn wait_status(
    fx: &Fixture,
    reference: &str,
    status: &str,
    timeout: Duration,
) -> (u32, Option<String>) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok((s, attempts, err)) = fx.delivery(reference) {
            if s == status {
                return (attempts, err);
            }
        }
        assert!(
            Instant::now() < deadline,
            "{reference} not {status} after {timeout:?}: {:?}",
            fx.delivery(reference)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pgp_decrypt(secret: &pgp::composed::SignedSecretKey, armored: &str) -> Vec<u8> {
    let (msg, _) = Message::from_armor(armored.as_bytes()).expect("armor parses");
    let mut msg = msg.decrypt(&"".into(), secret).expect("staff key decrypts");
    if msg.is_compressed() {
        msg = msg.decompress().unwrap();
    }
    msg.as_data_vec().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referral_arrives_as_pgp_mime_and_decrypts() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let (_smtp, maildir) = smtp::start_mailbox(&fx, "Staff <staff@comune.example>")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;

    let tag = format!("{:08x}", rand::random::<u32>());
    let (fields, markers) = marked_fields(&tag);
    let reference = submit(&mut c, fields.clone()).await?;
    let mut urgent = fields.clone();
    set(&mut urgent, "urgency", "urgent");
    let urgent_ref = submit(&mut c, urgent).await?;

    let got = smtp::wait_for_mails(&maildir, Duration::from_secs(30), |m| m.len() >= 2)?;
    assert_eq!(got.len(), 2, "exactly one mail per referral");
    let mail = got
        .iter()
        .map(|(_, t)| t)
        .find(|t| {
            smtp::header(t, "Message-ID").as_deref()
                == Some(&format!("<{reference}@comune.example>"))
        })
        .expect("Message-ID derived from the reference");

    // RFC 3156 structure.
    let ct = smtp::header(mail, "Content-Type").unwrap();
    assert!(ct.starts_with("multipart/encrypted"), "{ct}");
    assert!(
        ct.contains("protocol=\"application/pgp-encrypted\""),
        "{ct}"
    );
    let body = mail.replace("\r\n", "\n");
    let control = body
        .find("Content-Type: application/pgp-encrypted")
        .expect("control part");
    let payload = body
        .find("Content-Type: application/octet-stream")
        .expect("payload part");
    assert!(control < payload, "control part first");
    assert!(body[control..payload].contains("Version: 1"));

    // Headers: the reference and the urgency, nothing about the person.
    assert_eq!(
        smtp::header(mail, "Subject").unwrap(),
        format!("Segnalazione {reference} (ordinaria)")
    );
    assert_eq!(
        smtp::header(mail, "From").unwrap(),
        "\"Sportello Inbox\" <inbox@comune.example>"
    );
    assert_eq!(
        smtp::header(mail, "To").unwrap(),
        "Staff <staff@comune.example>"
    );
    let headers = smtp::header_block(mail);
    for m in markers.iter().map(String::as_str).chain([
        "Maria",
        "Esempio",
        "0372",
        "1941",
        "Giulia",
        "via-mantova",
        "centro",
    ]) {
        assert!(!headers.contains(m), "header holds `{m}`:\n{headers}");
    }
    // And the whole mail: only ciphertext.
    for m in &markers {
        assert!(!mail.contains(m.as_str()), "plaintext {m} in the mail");
    }
    let urgent_mail = got
        .iter()
        .map(|(_, t)| t)
        .find(|t| t.contains(&urgent_ref))
        .unwrap();
    assert_eq!(
        smtp::header(urgent_mail, "Subject").unwrap(),
        format!("Segnalazione {urgent_ref} (urgente)")
    );

    // The staff key decrypts it to exactly the submitted fields.
    let armored = armored_block(mail);
    let raw = pgp_decrypt(&fx.staff.secret, &armored);
    // Inside the encryption: a MIME entity every mail client shows as meant.
    let entity = Entity::parse(&raw).expect("a multipart/mixed entity");
    assert_eq!(entity.json_name, format!("{reference}.json"));
    assert!(
        entity
            .text
            .starts_with(&format!("Segnalazione: {reference}\n")),
        "{}",
        entity.text
    );
    assert!(
        entity.text.contains(&markers[2]),
        "the description is in the text"
    );
    let j: serde_json::Value = serde_json::from_str(&entity.json)?;
    assert_eq!(j["reference"], reference.as_str());
    let field = |k: &str| fields.iter().find(|(n, _)| n == k).unwrap().1.clone();
    let p = &j["person"];
    assert_eq!(p["first_name"], field("first_name").as_str());
    assert_eq!(p["last_name"], field("last_name").as_str());
    assert_eq!(p["birth_year"], 1941);
    assert_eq!(p["phone"], field("phone").as_str());
    assert_eq!(p["email"], field("email").as_str());
    assert_eq!(p["city_area"], field("city_area").as_str());
    assert_eq!(p["call_time"], field("call_time").as_str());
    assert_eq!(j["need"]["area"], field("need_area").as_str());
    assert_eq!(j["need"]["urgency"], "ordinary");
    assert_eq!(j["need"]["description"], field("description").as_str());
    assert_eq!(j["consent"]["privacy_notice_given"], true);
    assert_eq!(j["consent"]["consent_to_share"], true);
    let g = openpgp::gpg(&fx.staff.secret, &armored, fx.dir.path())?;
    assert_eq!(g, raw, "gpg and rpgp read the same entity");
    let r = openpgp::rnp(&fx.staff.secret, &armored, fx.dir.path())?;
    assert_eq!(r, raw, "rnp and rpgp read the same entity");

    // Marked delivered after the 250; the operator sees it; queue list too.
    wait_status(&fx, &reference, "delivered", Duration::from_secs(10));
    let page = c.get("/segnalazioni").await?;
    assert!(page.body.contains("Consegnata"), "{}", page.body);
    let list = bin(&["queue", "list", "--config", fx.config_str()])?;
    assert!(
        list.contains(&reference) && list.contains("delivered"),
        "{list}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_server_down_then_up_delivers_once() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let tls = smtp::tls_files(&fx.dir.path().join("mailtls"))?;
    let port = smtp::free_port()?; // nobody listens yet
    let maildir = fx.dir.path().join("Maildir");
    fx.configure(
        &[],
        &smtp::mail_section(port, &tls.ca, "starttls", "staff@comune.example"),
    )?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let reference = submit(&mut c, valid_fields("", "")).await?;

    // Refused connections: still queued, retried with backoff (1 s, 2 s...).
    let deadline = Instant::now() + Duration::from_secs(20);
    let (attempts, err) = loop {
        let (status, attempts, err) = fx.delivery(&reference)?;
        assert_eq!(status, "queued");
        if attempts >= 2 {
            break (attempts, err);
        }
        assert!(Instant::now() < deadline, "no retries: {attempts}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let err = err.unwrap_or_default();
    assert!(err.starts_with("connection"), "{err}");
    assert!(
        attempts < 15,
        "backoff: {attempts} attempts is a retry storm"
    );
    assert!(c.get("/segnalazioni").await?.body.contains("In consegna"));

    let _smtp = Smtp::start(
        port,
        &maildir,
        &tls,
        Security::Starttls,
        Handler::Mailbox,
        &fx.dir.path().join("smtp.log"),
    )?;
    wait_status(&fx, &reference, "delivered", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    let got = smtp::mails(&maildir);
    assert_eq!(got.len(), 1, "delivered exactly once");
    assert!(got[0].1.contains(&format!("<{reference}@comune.example>")));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_without_starttls_gets_nothing() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let (_smtp, maildir) = smtp::start_server(
        &fx,
        Security::None,
        Handler::Mailbox,
        "starttls",
        "staff@comune.example",
    )?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let reference = submit(&mut c, valid_fields("", "")).await?;

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, attempts, err) = fx.delivery(&reference)?;
        assert_eq!(status, "queued");
        if attempts >= 1 {
            let err = err.unwrap_or_default();
            assert!(err.contains("STARTTLS"), "a clear error: {err}");
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        smtp::mails(&maildir).is_empty(),
        "nothing may be sent in plaintext"
    );
    let list = bin(&["queue", "list", "--config", fx.config_str()])?;
    assert!(list.contains("STARTTLS"), "{list}");
    let log = std::fs::read_to_string(fx.dir.path().join("server.log"))?;
    assert!(log.contains("STARTTLS"), "the log says why");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failure_notifies_admin_without_personal_data() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let (_smtp, maildir) = smtp::start_server(
        &fx,
        Security::Starttls,
        Handler::RejectSome,
        "starttls",
        "rifiuta@comune.example",
    )?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let tag = format!("{:08x}", rand::random::<u32>());
    let (fields, markers) = marked_fields(&tag);
    let reference = submit(&mut c, fields).await?;

    let (attempts, err) = wait_status(&fx, &reference, "failed", Duration::from_secs(20));
    assert_eq!(attempts, 1, "a 5xx is not retried");
    assert!(err.unwrap_or_default().contains("550"));
    let got = smtp::wait_for_mails(&maildir, Duration::from_secs(20), |m| !m.is_empty())?;
    assert_eq!(got.len(), 1, "only the notice arrives");
    let notice = &got[0].1;
    assert!(
        notice.contains("X-RcptTo: admin@comune.example"),
        "{notice}"
    );
    assert!(notice.contains(&reference));
    assert!(notice.contains("550"), "the error class: {notice}");
    for m in markers.iter().map(String::as_str).chain([
        "Maria",
        "Esempio",
        "0372",
        "Giulia",
        "BEGIN PGP",
    ]) {
        assert!(!notice.contains(m), "notice holds `{m}`:\n{notice}");
    }
    // The operator sees it on the status page.
    let page = c.get("/segnalazioni").await?;
    assert!(page.body.contains("Consegna non riuscita"), "{}", page.body);

    // `queue retry` puts it back; it fails again (still 550) with one more notice.
    bin(&["queue", "retry", "--config", fx.config_str(), &reference])?;
    wait_status(&fx, &reference, "queued", Duration::from_secs(1));
    wait_status(&fx, &reference, "failed", Duration::from_secs(20));
    smtp::wait_for_mails(&maildir, Duration::from_secs(20), |m| m.len() == 2)?;
    let delivered = bin(&[
        "queue",
        "retry",
        "--config",
        fx.config_str(),
        "SEG-1999-000001",
    ]);
    assert!(delivered.is_err());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_delivers() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let (_smtp, maildir) = smtp::start_server(
        &fx,
        Security::ImplicitTls,
        Handler::Mailbox,
        "tls",
        "staff@comune.example",
    )?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let reference = submit(&mut c, valid_fields("", "")).await?;
    wait_status(&fx, &reference, "delivered", Duration::from_secs(20));
    assert_eq!(smtp::mails(&maildir).len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_mail_certificate_is_refused() -> anyhow::Result<()> {
    // The server's chain comes from a CA other than mail.ca_file.
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let tls = smtp::tls_files(&fx.dir.path().join("mailtls"))?;
    let other = smtp::tls_files(&fx.dir.path().join("othertls"))?;
    let port = smtp::free_port()?;
    let maildir = fx.dir.path().join("Maildir");
    let _smtp = Smtp::start(
        port,
        &maildir,
        &other,
        Security::Starttls,
        Handler::Mailbox,
        &fx.dir.path().join("smtp.log"),
    )?;
    fx.configure(
        &[],
        &smtp::mail_section(port, &tls.ca, "starttls", "staff@comune.example"),
    )?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let reference = submit(&mut c, valid_fields("", "")).await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, attempts, err) = fx.delivery(&reference)?;
        assert_eq!(status, "queued");
        if attempts >= 1 {
            let err = err.unwrap_or_default();
            assert!(err.starts_with("tls"), "{err}");
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(smtp::mails(&maildir).is_empty());
    Ok(())
}
