//! Reminders with second-scale settings against the real SMTP server: a
//! referral nobody takes in charge gets a first and a second reminder
//! (PGP/MIME, the same link, the reference only in the subject), then a
//! notice to the admin; one taken in charge in time gets none.

mod common;

use std::time::{Duration, Instant};

use common::smtp;
use common::*;

/// urgent: 0.0006 h = 2.16 s; ordinary: 0.004 h = 14.4 s; every hour counts.
const STAFF: &str = r#"
[staff]
listen = "127.0.0.1:0"
public_url = "https://localhost:8444"
offices = [{ slug = "servizi-territoriali", label = "Servizi sociali territoriali" }]
remind_after_hours = { urgent = 0.0006, ordinary = 0.004 }
count_working_days = false
"#;

const LINK: &str = "https://localhost:8444/presa-in-carico/";

fn decrypt_mail(fx: &Fixture, mail: &str) -> String {
    let start = mail.find("-----BEGIN PGP MESSAGE-----").unwrap();
    let end = mail.find("-----END PGP MESSAGE-----").unwrap() + 25;
    let armored = mail[start..end].replace("\r\n", "\n");
    let (msg, _) = pgp::composed::Message::from_armor(armored.as_bytes()).unwrap();
    let mut msg = msg.decrypt(&"".into(), &fx.staff.secret).unwrap();
    if msg.is_compressed() {
        msg = msg.decompress().unwrap();
    }
    String::from_utf8(msg.as_data_vec().unwrap()).unwrap()
}

fn token_in(text: &str) -> String {
    let at = text.find(LINK).expect("a staff link") + LINK.len();
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_then_escalation_and_none_after_taking_charge() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let (_smtp, maildir) = smtp::start_mailbox(&fx, "Staff <staff@comune.example>")?;
    fx.configure(&[], STAFF)?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let tag = format!("{:08x}", rand::random::<u32>());
    let marker = format!("Qzrm{tag}");
    let mut fields = valid_fields("", "");
    set(&mut fields, "last_name", &marker);

    // `taken`: ordinary (14 s), taken in charge at once; `ignored`: urgent (2 s).
    let taken = submit(&mut c, fields.clone()).await?;
    let mut urgent = fields.clone();
    set(&mut urgent, "urgency", "urgent");
    let ignored = submit(&mut c, urgent).await?;
    let t0 = Instant::now();

    let got = smtp::wait_for_mails(&maildir, Duration::from_secs(20), |m| m.len() >= 2)?;
    let original = |reference: &str| {
        got.iter()
            .find(|(_, m)| {
                smtp::header(m, "Subject").is_some_and(|s| s.starts_with("Segnalazione"))
                    && m.contains(&format!("<{reference}@"))
            })
            .map(|(_, m)| m.clone())
            .unwrap()
    };
    let taken_token = token_in(&decrypt_mail(&fx, &original(&taken)));
    let ignored_token = token_in(&decrypt_mail(&fx, &original(&ignored)));

    // Take the ordinary one in charge well before its 14 s.
    let mut s = connect(server.staff.unwrap(), &fx.ca, None).await?;
    let page = s.get(&format!("/presa-in-carico/{taken_token}")).await?;
    let csrf = hidden(&page.body, "csrf")?;
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", csrf.as_str()),
            ("state", "presa_in_carico"),
            ("staff_name", "Anna Verdi"),
        ])
        .finish();
    let r = s
        .request(
            "POST",
            &format!("/presa-in-carico/{taken_token}"),
            &[("content-type", "application/x-www-form-urlencoded")],
            body.into_bytes(),
        )
        .await?;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        t0.elapsed() < Duration::from_secs(12),
        "test too slow to be meaningful"
    );

    // The urgent one: two reminders and the admin notice (2 + 2 s).
    let all = smtp::wait_for_mails(&maildir, Duration::from_secs(30), |m| {
        m.iter().any(|(_, t)| {
            smtp::header(t, "Subject").as_deref()
                == Some(&format!("Non presa in carico: {ignored}"))
        })
    })?;
    let reminders: Vec<&String> = all
        .iter()
        .map(|(_, m)| m)
        .filter(|m| {
            smtp::header(m, "Subject").as_deref()
                == Some(&format!("Promemoria: segnalazione {ignored}"))
        })
        .collect();
    assert_eq!(reminders.len(), 2, "two reminders");
    let ids: Vec<String> = reminders
        .iter()
        .map(|m| smtp::header(m, "Message-ID").unwrap())
        .collect();
    assert!(
        ids.contains(&format!("<reminder1.{ignored}@comune.example>")),
        "{ids:?}"
    );
    assert!(
        ids.contains(&format!("<reminder2.{ignored}@comune.example>")),
        "{ids:?}"
    );
    for m in &reminders {
        let ct = smtp::header(m, "Content-Type").unwrap();
        assert!(ct.starts_with("multipart/encrypted"), "{ct}");
        assert!(
            !m.contains("presa-in-carico"),
            "the link only inside the encryption"
        );
        assert!(!m.contains(&marker));
        let text = decrypt_mail(&fx, m);
        assert_eq!(
            token_in(&text),
            ignored_token,
            "the same link as the referral"
        );
        assert!(!text.contains(&marker), "a reminder carries no field value");
    }
    let notice = all
        .iter()
        .map(|(_, m)| m)
        .find(|m| {
            smtp::header(m, "Subject").as_deref()
                == Some(&format!("Non presa in carico: {ignored}"))
        })
        .unwrap();
    assert_eq!(smtp::header(notice, "To").unwrap(), "admin@comune.example");
    assert!(!notice.contains(&marker) && !notice.contains("presa-in-carico/"));

    // Nothing for the referral taken in charge, even past its 14 s.
    let wait = Duration::from_secs(17).saturating_sub(t0.elapsed());
    tokio::time::sleep(wait).await;
    let late = smtp::mails(&maildir);
    assert!(
        !late.iter().any(|(_, m)| smtp::header(m, "Subject")
            .is_some_and(|s| s == format!("Promemoria: segnalazione {taken}"))),
        "a reminder after presa in carico"
    );
    // And no third reminder, no second notice.
    let count = |subject: &str| {
        late.iter()
            .filter(|(_, m)| smtp::header(m, "Subject").as_deref() == Some(subject))
            .count()
    };
    assert_eq!(count(&format!("Promemoria: segnalazione {ignored}")), 2);
    assert_eq!(count(&format!("Non presa in carico: {ignored}")), 1);

    let db = fx.db()?;
    let audit = |action: &str, reference: &str| -> i64 {
        db.query_row(
            "SELECT COUNT(*) FROM audit WHERE action = ?1 AND reference = ?2",
            [action, reference],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(audit("referral.reminder", &ignored), 2);
    assert_eq!(audit("referral.escalated", &ignored), 1);
    assert_eq!(audit("referral.reminder", &taken), 0);
    let left: Option<Vec<u8>> = db.query_row(
        "SELECT reminder_ciphertext FROM referrals WHERE reference = ?1",
        [&taken],
        |r| r.get(0),
    )?;
    assert!(
        left.is_none(),
        "the reminder is dropped once taken in charge"
    );
    Ok(())
}
