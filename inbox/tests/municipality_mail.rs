//! Two municipalities on one inbox, end to end with the real server, the
//! real SMTP server (aiosmtpd on 127.0.0.1) and the staff's own tools (gpg
//! and rnp): a desk that serves both sends one referral to each; each
//! referral, its reminders and its escalation reach only its own
//! municipality's addresses (the SMTP envelope's recipients), open with its
//! own staff key and not with the other's; and each Comune's staff page
//! shows only its referral and acts only on it.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::openpgp::{self, armored_block};
use common::smtp;
use common::*;
use pgp::composed::SignedSecretKey;

const TWO: &str = r#"
[[municipality]]
slug = "cremona"
name = "Comune di Cremona"
desks = ["via-mantova", "condivisa"]
to = ["Staff Cremona <staff@comune.cremona.example>"]
admin = "admin@comune.cremona.example"

[[municipality]]
slug = "castelverde"
name = "Comune di Castelverde"
desks = ["piazza-roma", "condivisa"]
to = ["Servizi sociali <sociale@comune.castelverde.example>"]
admin = "admin@comune.castelverde.example"
"#;

/// Urgent referrals: a reminder after 2.16 s, a second one, then the
/// admin's notice; every hour counts.
const STAFF: &str = r#"
[staff]
listen = "127.0.0.1:0"
public_url = "https://localhost:8444"
offices = [{ slug = "servizi-territoriali", label = "Servizi sociali territoriali" }]
remind_after_hours = { urgent = 0.0006, ordinary = 0.004 }
count_working_days = false
"#;

const LINK: &str = "https://localhost:8444/presa-in-carico/";

/// What one municipality should get, and its staff's secret key.
struct Comune {
    slug: &'static str,
    name: &'static str,
    staff: &'static str,
    admin: &'static str,
    secret: SignedSecretKey,
}

fn token_in(text: &str) -> String {
    let at = text.find(LINK).expect("a staff link") + LINK.len();
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect()
}

/// The envelope recipients aiosmtpd recorded for a mail.
fn rcpt(mail: &str) -> String {
    smtp::header(mail, "X-RcptTo").expect("X-RcptTo recorded by aiosmtpd")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_municipality_gets_only_its_referral_and_its_staff_page_only_that(
) -> anyhow::Result<()> {
    smtp::require_aiosmtpd();
    let fx = Fixture::new(600, 100)?;
    fx.configure(&[], TWO)?;
    // The fixture's key (added first) is Cremona's; a new one for Castelverde.
    let castelverde_keys = staff_keys();
    let key = fx.dir.path().join("castelverde.asc");
    std::fs::write(&key, &castelverde_keys.public_armored)?;
    bin(&[
        "staff",
        "add",
        "--config",
        fx.config_str(),
        "--municipality",
        "castelverde",
        "--name",
        "Staff Castelverde",
        "--key",
        key.to_str().unwrap(),
    ])?;
    let (_smtp, maildir) = smtp::start_mailbox(&fx, "Generale <generale@comune.example>")?;
    fx.configure(&[], STAFF)?;
    let giulia = fx.add_operator("Giulia Esempio", "condivisa")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;

    let comuni = [
        Comune {
            slug: "cremona",
            name: "Comune di Cremona",
            staff: "staff@comune.cremona.example",
            admin: "admin@comune.cremona.example",
            secret: fx.staff.secret.clone(),
        },
        Comune {
            slug: "castelverde",
            name: "Comune di Castelverde",
            staff: "sociale@comune.castelverde.example",
            admin: "admin@comune.castelverde.example",
            secret: castelverde_keys.secret.clone(),
        },
    ];
    // One urgent referral for each, a marker in the description.
    let tag = format!("{:08x}", rand::random::<u32>());
    let mut sent = BTreeMap::new();
    for m in &comuni {
        let marker = format!("Qzmu{}{tag}", m.slug);
        let mut f = valid_fields("", "");
        set(&mut f, "urgency", "urgent");
        set(&mut f, "description", &format!("Vive sola {marker}."));
        f.push(("municipality".into(), m.slug.into()));
        let reference = submit(&mut c, f).await?;
        sent.insert(m.slug, (reference, marker));
    }

    // Per referral: the mail, two reminders, the admin's notice.
    let got = smtp::wait_for_mails(&maildir, Duration::from_secs(60), |m| m.len() >= 8)?;
    assert_eq!(got.len(), 8, "one mail, two reminders and one notice each");
    let mut tokens = BTreeMap::new();
    for m in &comuni {
        let other = comuni.iter().find(|o| o.slug != m.slug).unwrap();
        let (reference, marker) = &sent[m.slug];
        let (other_ref, other_marker) = &sent[other.slug];
        let mine: Vec<&String> = got
            .iter()
            .map(|(_, t)| t)
            .filter(|t| {
                smtp::header(t, "Subject").is_some_and(|s| {
                    s.ends_with(reference.as_str())
                        || s.starts_with(&format!("Segnalazione {reference} "))
                })
            })
            .collect();
        assert_eq!(mine.len(), 4, "{}: {} mails", m.slug, mine.len());
        let mut token = None;
        for mail in mine {
            let subject = smtp::header(mail, "Subject").unwrap();
            if subject.starts_with("Non presa in carico") {
                assert_eq!(
                    rcpt(mail),
                    m.admin,
                    "{subject}: the notice to its own admin"
                );
                assert!(!mail.contains(other_ref.as_str()));
                continue;
            }
            // The referral and its reminders: only to its staff, sealed to them.
            assert_eq!(rcpt(mail), m.staff, "{subject}");
            let armored = armored_block(mail);
            let dir = fx.dir.path();
            let by_gpg = openpgp::gpg(&m.secret, &armored, dir)?;
            let by_rnp = openpgp::rnp(&m.secret, &armored, dir)?;
            assert_eq!(by_gpg, by_rnp, "{subject}: gpg and rnp read the same");
            let text = String::from_utf8_lossy(&by_gpg).replace("\r\n", "\n");
            assert!(text.contains(reference.as_str()), "{subject}: {text}");
            assert!(!text.contains(other_ref.as_str()), "{subject}");
            if subject.starts_with("Segnalazione") {
                assert!(text.contains(marker.as_str()), "{subject}: {text}");
                assert!(!text.contains(other_marker.as_str()));
            }
            let t = token_in(&text);
            assert_eq!(token.get_or_insert(t.clone()), &t, "the same link");
            for (tool, r) in [
                ("gpg", openpgp::gpg(&other.secret, &armored, dir)),
                ("rnp", openpgp::rnp(&other.secret, &armored, dir)),
            ] {
                assert!(
                    r.is_err(),
                    "{subject}: {}'s key opened {}'s mail with {tool}",
                    other.slug,
                    m.slug
                );
            }
            let (msg, _) = pgp::composed::Message::from_armor(armored.as_bytes())?;
            assert!(
                msg.decrypt(&"".into(), &other.secret).is_err(),
                "{subject}: {}'s key opened it with the pgp crate",
                other.slug
            );
        }
        tokens.insert(m.slug, token.expect("a link in its mails"));
    }
    let everyone: Vec<String> = got.iter().map(|(_, t)| rcpt(t)).collect();
    for fallback in ["generale@comune.example", "admin@comune.example"] {
        assert!(
            !everyone.iter().any(|r| r.contains(fallback)),
            "a mail went to [mail]'s {fallback}: {everyone:?}"
        );
    }

    // Each Comune's staff page: its referral only, named with its Comune.
    let mut s = connect(server.staff.expect("staff site"), &fx.ca, None).await?;
    let mut csrf = BTreeMap::new();
    for m in &comuni {
        let other = comuni.iter().find(|o| o.slug != m.slug).unwrap();
        let page = s
            .get(&format!("/presa-in-carico/{}", tokens[m.slug]))
            .await?;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(sent[m.slug].0.as_str()));
        assert!(page.body.contains(m.name));
        assert!(
            !page.body.contains(sent[other.slug].0.as_str()),
            "{}",
            page.body
        );
        assert!(!page.body.contains(other.name), "{}", page.body);
        csrf.insert(m.slug, hidden(&page.body, "csrf")?);
    }
    // Cremona's page cannot act on Castelverde's referral: its form token
    // is refused there, and nothing is recorded.
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("state", "presa_in_carico"),
            ("staff_name", "Anna Esempio"),
            ("csrf", csrf["cremona"].as_str()),
        ])
        .finish();
    let r = s
        .request(
            "POST",
            &format!("/presa-in-carico/{}", tokens["castelverde"]),
            &[("content-type", "application/x-www-form-urlencoded")],
            body.into_bytes(),
        )
        .await?;
    assert_eq!(r.status, 403, "{}", r.body);
    let events: i64 = fx.db()?.query_row(
        "SELECT count(*) FROM care_events e JOIN referrals r ON r.id = e.referral_id
         WHERE r.reference = ?1",
        [&sent["castelverde"].0],
        |r| r.get(0),
    )?;
    assert_eq!(
        events, 0,
        "Castelverde's referral changed from Cremona's page"
    );
    Ok(())
}
