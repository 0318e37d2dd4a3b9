//! A municipality taken out of the configuration while it still has
//! referrals: its mails never fall back to `[mail].to` (which may be
//! another Comune's staff). `serve` refuses to start while one of them is
//! still to be delivered; the reminders and the notice of one already
//! delivered go to the inbox's admin only (real SMTP server, X-RcptTo).

mod common;

use std::time::Duration;

use common::smtp;
use common::*;
use rusqlite::params;

const TWO: &str = r#"
[[municipality]]
slug = "cremona"
name = "Comune di Cremona"
desks = ["via-mantova"]
to = ["Staff Cremona <staff@comune.cremona.example>"]

[[municipality]]
slug = "soresina"
name = "Comune di Soresina"
desks = ["soresina"]
to = ["Staff Soresina <staff@comune.soresina.example>"]
"#;

const SORESINA: &str = r#"
[[municipality]]
slug = "soresina"
name = "Comune di Soresina"
desks = ["soresina"]
to = ["Staff Soresina <staff@comune.soresina.example>"]
"#;

const STAFF: &str = r#"
[staff]
listen = "127.0.0.1:0"
public_url = "https://localhost:8444"
offices = [{ slug = "servizi-territoriali", label = "Servizi sociali territoriali" }]
remind_after_hours = { urgent = 0.0006, ordinary = 0.004 }
count_working_days = false
"#;

/// Two municipalities, then Soresina's section and key removed, with one
/// referral of Soresina's in the given state left in the store.
fn soresina_removed(fx: &Fixture, status: &str) -> anyhow::Result<()> {
    fx.configure(&[], TWO)?;
    let key = fx.dir.path().join("soresina.asc");
    std::fs::write(&key, staff_keys().public_armored)?;
    let out = bin(&[
        "staff",
        "add",
        "--config",
        fx.config_str(),
        "--municipality",
        "soresina",
        "--name",
        "Staff Soresina",
        "--key",
        key.to_str().unwrap(),
    ])?;
    let id = out.split_whitespace().nth(2).unwrap().to_string();
    let conn = fx.db()?;
    let op = sportello_inbox::store::insert_operator(
        &conn,
        "Operatrice Soresina",
        "soresina",
        "serial-s",
        "sha-s",
        "2030-01-01T00:00:00Z",
    )?;
    // An hour ago: well within the retention and the link's life.
    let hour_ago =
        sportello_inbox::store::rfc3339(time::OffsetDateTime::now_utc() - time::Duration::HOUR);
    let delivered = (status == "delivered").then(|| hour_ago.clone());
    conn.execute(
        "INSERT INTO referrals(reference, created_at, desk, operator_id, need_area, urgency,
             age_band, status, idempotency_key, ciphertext, delivered_at, token_sha256,
             reminder_ciphertext, municipality)
         VALUES ('SEG-2026-000042', ?5, 'soresina', ?1, 'casa', 'urgent',
             '75-84', ?2, 'k', x'c1c2c3', ?3, ?4, x'c4c5c6', 'soresina')",
        params![op, status, delivered, "ab".repeat(32), hour_ago],
    )?;
    // Its operator leaves with it (serve refuses a desk in no municipality).
    conn.execute(
        "UPDATE operators SET revoked_at = ?2 WHERE id = ?1",
        params![op, hour_ago],
    )?;
    bin(&["staff", "remove", "--config", fx.config_str(), &id])?;
    fx.configure(&[(SORESINA, "")], "")?;
    Ok(())
}

#[test]
fn serve_refuses_to_start_while_a_removed_municipality_has_referrals_to_deliver() {
    let fx = Fixture::new(600, 100).unwrap();
    soresina_removed(&fx, "queued").unwrap();
    let log = fx.dir.path().join("server.log");
    assert!(
        fx.start(&log).is_err(),
        "serve started with a referral of Soresina still to deliver"
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("soresina") && log.contains("still to be delivered"),
        "{log}"
    );
}

#[test]
fn reminders_of_a_removed_municipality_go_to_the_admin_only() -> anyhow::Result<()> {
    smtp::require_aiosmtpd();
    let fx = Fixture::new(600, 100)?;
    let (_smtp, maildir) = smtp::start_mailbox(&fx, "Generale <generale@comune.example>")?;
    fx.configure(&[], STAFF)?;
    soresina_removed(&fx, "delivered")?;
    let _server = fx.start(&fx.dir.path().join("server.log"))?;
    // Two reminders and the notice.
    let got = smtp::wait_for_mails(&maildir, Duration::from_secs(30), |m| m.len() >= 3)?;
    for (_, mail) in &got {
        let subject = smtp::header(mail, "Subject").unwrap_or_default();
        assert!(subject.ends_with("SEG-2026-000042"), "{subject}");
        assert_eq!(
            smtp::header(mail, "X-RcptTo").as_deref(),
            Some("admin@comune.example"),
            "{subject}: not to [mail].to"
        );
    }
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(smtp::mails(&maildir).len(), 3, "nothing more");
    Ok(())
}
