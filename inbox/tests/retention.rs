//! Retention (ciphertext after delivery, metadata later) and the online
//! backup, with the real binary and a real SMTP server.

mod common;

use std::time::{Duration, Instant};

use common::smtp;
use common::*;

fn wait_delivered(fx: &Fixture, reference: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while fx.delivery(reference).map(|d| d.0).unwrap_or_default() != "delivered" {
        assert!(Instant::now() < deadline, "{reference} not delivered");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ciphertext_present(fx: &Fixture, reference: &str) -> anyhow::Result<bool> {
    Ok(fx.db()?.query_row(
        "SELECT ciphertext IS NOT NULL FROM referrals WHERE reference = ?1",
        [reference],
        |r| r.get(0),
    )?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ciphertext_then_metadata_are_purged() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let (_smtp, _maildir) = smtp::start_mailbox(&fx, "staff@comune.example")?;
    let mut server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let a = submit(&mut c, valid_fields("", "")).await?;
    let b = submit(&mut c, valid_fields("", "")).await?;
    wait_delivered(&fx, &a);
    wait_delivered(&fx, &b);
    server.kill();

    // Default 30 days: a fresh delivery keeps its ciphertext.
    let out = bin(&["purge", "--config", fx.config_str()])?;
    assert!(out.contains("purged: 0 ciphertexts"), "{out}");
    assert!(ciphertext_present(&fx, &a)?);
    // Delivered 31 days ago: the ciphertext goes, the metadata stays.
    fx.db()?.execute(
        "UPDATE referrals SET delivered_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-31 days')
         WHERE reference = ?1",
        [&a],
    )?;
    let out = bin(&["purge", "--config", fx.config_str()])?;
    assert!(out.contains("purged: 1 ciphertexts"), "{out}");
    assert!(!ciphertext_present(&fx, &a)?);
    assert!(ciphertext_present(&fx, &b)?);
    assert_eq!(fx.delivery(&a)?.0, "delivered", "metadata kept");
    let stats = bin(&["stats", "--config", fx.config_str(), "--by", "status"])?;
    assert!(
        stats.contains("delivered") && stats.contains('2'),
        "{stats}"
    );
    // Submitted 731 days ago: the row itself goes (and old audit lines).
    fx.db()?.execute(
        "UPDATE referrals SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-731 days')
         WHERE reference = ?1",
        [&a],
    )?;
    let out = bin(&["purge", "--config", fx.config_str()])?;
    assert!(out.contains("1 referral rows"), "{out}");
    assert!(fx.delivery(&a).is_err(), "metadata purged");
    assert!(fx.delivery(&b).is_ok());

    // retention_days = 0: deleted in the same commit that marks it delivered.
    fx.configure(&[("retention_days = 30", "retention_days = 0")], "")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let d = submit(&mut c, valid_fields("", "")).await?;
    wait_delivered(&fx, &d);
    assert!(
        !ciphertext_present(&fx, &d)?,
        "retention 0: gone at delivery"
    );
    // And at start the purge applied the new rule to the older delivery too.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ciphertext_present(&fx, &b)? {
        assert!(Instant::now() < deadline, "purge at start did not run");
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_serving_holds_only_ciphertext_and_metadata() -> anyhow::Result<()> {
    let fx = Fixture::new(100_000, 100_000)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let tag = format!("{:08x}", rand::random::<u32>());
    let marker = format!("Qzbk{tag}");
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let mut f = valid_fields("", "");
    set(&mut f, "last_name", &marker);
    let first = submit(&mut c, f.clone()).await?;

    // Submissions keep coming while the backup runs.
    let (ca, id, addr, f2) = (fx.ca.clone(), giulia.clone(), server.https, f.clone());
    let load = tokio::spawn(async move {
        let mut c = connect(addr, &ca, Some(&id)).await.unwrap();
        let mut n = 0;
        for _ in 0..150 {
            if submit(&mut c, f2.clone()).await.is_ok() {
                n += 1;
            }
        }
        n
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let file = fx.dir.path().join("backup-2026-01.sqlite");
    let out = bin(&[
        "backup",
        "--config",
        fx.config_str(),
        file.to_str().unwrap(),
    ])?;
    assert!(out.contains("backup written"), "{out}");
    let submitted = load.await?;
    assert_eq!(submitted, 150);
    assert!(
        bin(&[
            "backup",
            "--config",
            fx.config_str(),
            file.to_str().unwrap()
        ])
        .is_err(),
        "no overwrite"
    );

    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file)?.permissions());
    assert_eq!(mode & 0o777, 0o600);
    let bytes = std::fs::read(&file)?;
    assert!(
        !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
        "plaintext in the backup"
    );
    let db = rusqlite::Connection::open(&file)?;
    let ok: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(ok, "ok");
    let n: i64 = db.query_row("SELECT COUNT(*) FROM referrals", [], |r| r.get(0))?;
    assert!(n >= 1, "{n}");
    let ct: Vec<u8> = db.query_row(
        "SELECT ciphertext FROM referrals WHERE reference = ?1",
        [&first],
        |r| r.get(0),
    )?;
    assert!(
        decrypt(&fx.staff.secret, &ct)?.contains(&marker),
        "the staff key reads the backup"
    );
    // Every column of every table: nothing but ciphertext and metadata.
    let cols: Vec<String> = db
        .prepare("SELECT name FROM pragma_table_info('referrals')")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for col in &cols {
        assert!(
            [
                "id",
                "reference",
                "created_at",
                "desk",
                "operator_id",
                "need_area",
                "urgency",
                "age_band",
                "status",
                "idempotency_key",
                // A keyed HMAC of the form (key only on the server), kept a
                // day to tell a resend from a reused form; no content.
                "content_mac",
                "ciphertext",
                "attempts",
                "next_attempt_at",
                "delivered_at",
                "last_error",
                "failed_at",
                "notice_sent_at",
                "retried_at",
                // SHA-256 of the staff link's token (the token is only in
                // the ciphertext): whoever reads the database cannot open
                // the staff page.
                "token_sha256",
                // The slug of the Comune it is routed to (metadata, like
                // the desk): which staff keys and address it went to.
                "municipality",
                // The reminder: ciphertext of the reference and the link,
                // and when reminders went out.
                "reminder_ciphertext",
                "reminders_sent",
                "last_reminder_at",
                "escalated_at"
            ]
            .contains(&col.as_str()),
            "unexpected column {col}"
        );
    }
    eprintln!("backup while serving: {n} referrals, {} bytes", bytes.len());
    Ok(())
}
