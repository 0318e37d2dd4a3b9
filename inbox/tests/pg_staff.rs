//! The staff site and its reminders on PostgreSQL: two `serve` replicas of
//! one configuration on one real PostgreSQL, a real aiosmtpd. A staff link
//! opens on either replica; a state set through one is seen on the other
//! and on the desk's list; two conflicting clicks at once, one on each
//! replica, give one change and one 409; a due reminder goes out once
//! although both replicas look for it.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use common::pg::Postgres;
use common::smtp;
use common::*;
use pgp::composed::SignedSecretKey;
use sportello_inbox::store::pg;

const LINK: &str = "https://localhost:8444/presa-in-carico/";

/// urgent: 0.0006 h = 2.16 s; ordinary: half an hour (never in a test).
const STAFF: &str = r#"
[staff]
listen = "127.0.0.1:0"
public_url = "https://localhost:8444"
offices = [{ slug = "servizi-territoriali", label = "Servizi sociali territoriali" }]
remind_after_hours = { urgent = 0.0006, ordinary = 0.5 }
count_working_days = false
"#;

struct Setup {
    pg: Postgres,
    fx: Fixture,
    op: Identity,
    _smtp: smtp::Smtp,
    maildir: PathBuf,
}

/// `[store] kind = "postgres"` on a fresh database, `[staff]`, the staff
/// key and an operator added through the CLI (so into PostgreSQL).
fn setup() -> anyhow::Result<Setup> {
    setup_with("", &[], "via-mantova")
}

/// With `extra` configuration, the fixture's key given `key_args`, and the
/// operator at `desk`.
fn setup_with(extra: &str, key_args: &[&str], desk: &str) -> anyhow::Result<Setup> {
    smtp::require_aiosmtpd();
    let pg = Postgres::start()?;
    let fx = Fixture::new(100_000, 100_000)?;
    common::pg::use_postgres(&fx, &pg, "served")?;
    fx.configure(&[], &format!("{STAFF}{extra}"))?;
    fx.add_staff("Staff Esempio", &fx.staff.public_armored, key_args)?;
    let op = fx.add_operator("Giulia Esempio", desk)?;
    let (smtp, maildir) = smtp::start_mailbox(&fx, "Staff <staff@comune.example>")?;
    Ok(Setup {
        pg,
        fx,
        op,
        _smtp: smtp,
        maildir,
    })
}

impl Setup {
    fn start(&self, name: &str) -> anyhow::Result<Server> {
        let s = self
            .fx
            .start(&self.fx.dir.path().join(format!("{name}.log")))?;
        assert!(s.staff.is_some(), "the staff site listens on PostgreSQL");
        Ok(s)
    }

    /// A query on the served database (off the test's async threads).
    fn count(&self, sql: &str, reference: &str) -> i64 {
        tokio::task::block_in_place(|| {
            let mut cfg = self.pg.config.clone();
            cfg.url = cfg.url.replace("/postgres", "/served");
            pg::connect(&cfg)
                .unwrap()
                .query_one(sql, &[&reference])
                .unwrap()
                .get(0)
        })
    }

    /// The staff token of each referral, from the decrypted mails.
    fn tokens(&self, refs: &[String]) -> anyhow::Result<HashMap<String, String>> {
        self.tokens_for(refs, &[&self.fx.staff.secret])
    }

    /// The same, each mail decrypted with whichever of `secrets` opens it.
    fn tokens_for(
        &self,
        refs: &[String],
        secrets: &[&SignedSecretKey],
    ) -> anyhow::Result<HashMap<String, String>> {
        let originals = |m: &[(PathBuf, String)]| {
            m.iter()
                .filter(|(_, t)| {
                    smtp::header(t, "Subject").is_some_and(|s| s.starts_with("Segnalazione"))
                })
                .count()
        };
        let got = tokio::task::block_in_place(|| {
            smtp::wait_for_mails(&self.maildir, Duration::from_secs(60), |m| {
                originals(m) >= refs.len()
            })
        })?;
        let mut out = HashMap::new();
        for (_, mail) in &got {
            let id = smtp::header(mail, "Message-ID").unwrap_or_default();
            let Some(r) = refs.iter().find(|r| id == format!("<{r}@comune.example>")) else {
                continue;
            };
            let text = secrets
                .iter()
                .find_map(|k| decrypt_mail(k, mail))
                .expect("a mail one of the keys opens");
            let at = text.find(LINK).expect("a staff link") + LINK.len();
            let token = text[at..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            out.insert(r.clone(), token);
        }
        assert_eq!(out.len(), refs.len(), "a token for each referral");
        Ok(out)
    }
}

fn decrypt_mail(secret: &SignedSecretKey, mail: &str) -> Option<String> {
    let start = mail.find("-----BEGIN PGP MESSAGE-----").unwrap();
    let end = mail.find("-----END PGP MESSAGE-----").unwrap() + 25;
    let armored = mail[start..end].replace("\r\n", "\n");
    let (msg, _) = pgp::composed::Message::from_armor(armored.as_bytes()).unwrap();
    let mut msg = msg.decrypt(&"".into(), secret).ok()?;
    if msg.is_compressed() {
        msg = msg.decompress().unwrap();
    }
    Some(String::from_utf8(msg.as_data_vec().unwrap()).unwrap())
}

async fn staff_post(
    c: &mut Conn,
    token: &str,
    fields: &[(&str, &str)],
) -> anyhow::Result<Response> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    c.request(
        "POST",
        &format!("/presa-in-carico/{token}"),
        &[("content-type", "application/x-www-form-urlencoded")],
        body.into_bytes(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staff_links_and_states_across_two_replicas_on_postgres() -> anyhow::Result<()> {
    let s = tokio::task::block_in_place(setup)?;
    let a = s.start("replica-a")?;
    let b = s.start("replica-b")?;
    let (staff_a, staff_b) = (a.staff.unwrap(), b.staff.unwrap());
    assert_ne!(staff_a, staff_b);

    let mut c = connect(a.https, &s.fx.ca, Some(&s.op)).await?;
    let mut refs = Vec::new();
    for _ in 0..7 {
        refs.push(submit(&mut c, valid_fields("", "")).await?);
    }
    let tokens = s.tokens(&refs)?;
    let (first, t1) = (&refs[0], &tokens[&refs[0]]);

    // The link opens on either replica, only its own referral.
    let mut on_a = connect(staff_a, &s.fx.ca, None).await?;
    let mut on_b = connect(staff_b, &s.fx.ca, None).await?;
    for conn in [&mut on_a, &mut on_b] {
        let page = conn.get(&format!("/presa-in-carico/{t1}")).await?;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(first.as_str()));
        assert!(page.body.contains("In attesa di presa in carico"));
        assert!(
            !page.body.contains(refs[1].as_str()),
            "only its own referral"
        );
        let unknown = conn
            .get(&format!("/presa-in-carico/{}", "0".repeat(32)))
            .await?;
        assert_eq!(unknown.status, 404);
    }

    // Presa in carico through A: B's staff page and the desk's list on B show it.
    let page = on_a.get(&format!("/presa-in-carico/{t1}")).await?;
    let csrf = hidden(&page.body, "csrf")?;
    let fields = [
        ("csrf", csrf.as_str()),
        ("state", "presa_in_carico"),
        ("staff_name", "Anna Verdi"),
        ("planned_contact", "2030-03-04"),
    ];
    let r = staff_post(&mut on_a, t1, &fields).await?;
    assert_eq!(r.status, 303, "{}", r.body);
    let seen = on_b.get(&format!("/presa-in-carico/{t1}")).await?;
    assert!(
        seen.body
            .contains("Presa in carico da Anna Verdi (primo contatto previsto il 2030-03-04)"),
        "{}",
        seen.body
    );
    // The same click again, on B: a conflict, not a second taking charge.
    let again = staff_post(&mut on_b, t1, &fields).await?;
    assert_eq!(again.status, 409, "{}", again.body);
    let mut desk = connect(b.https, &s.fx.ca, Some(&s.op)).await?;
    let list = desk.get("/segnalazioni").await?;
    let at = list.body.find(first.as_str()).expect("in the desk's list");
    let row = &list.body[at..at + list.body[at..].find("</tr>").unwrap()];
    assert!(row.contains("Presa in carico dal "), "{row}");
    assert!(row.contains("presa in carico da Anna Verdi"), "{row}");
    assert_eq!(
        s.count(
            "SELECT count(*) FROM inbox.audit WHERE action = 'care.presa_in_carico' AND reference = $1",
            first
        ),
        1
    );

    // Two conflicting clicks at once, one on each replica: one 303, one 409.
    for r in &refs[1..] {
        let t = &tokens[r];
        let csrf = hidden(
            &on_a.get(&format!("/presa-in-carico/{t}")).await?.body,
            "csrf",
        )?;
        let (mut x, mut y) = (
            connect(staff_a, &s.fx.ca, None).await?,
            connect(staff_b, &s.fx.ca, None).await?,
        );
        let (ca, cb, ta, tb) = (csrf.clone(), csrf.clone(), t.clone(), t.clone());
        let ja = tokio::spawn(async move {
            let f = [
                ("csrf", ca.as_str()),
                ("state", "non_di_competenza"),
                ("target", "servizi-territoriali"),
            ];
            staff_post(&mut x, &ta, &f).await.map(|r| r.status)
        });
        let jb = tokio::spawn(async move {
            let f = [
                ("csrf", cb.as_str()),
                ("state", "presa_in_carico"),
                ("staff_name", "Bruno Neri"),
            ];
            staff_post(&mut y, &tb, &f).await.map(|r| r.status)
        });
        let mut got = vec![ja.await??, jb.await??];
        got.sort();
        assert_eq!(got, [303, 409], "{r}");
        assert_eq!(
            s.count(
                "SELECT count(*) FROM inbox.care_events e JOIN inbox.referrals r
                 ON r.id = e.referral_id WHERE r.reference = $1",
                r
            ),
            1,
            "{r}: one state recorded"
        );
    }
    drop((a, b));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_reminder_is_mailed_once_by_two_replicas() -> anyhow::Result<()> {
    let s = tokio::task::block_in_place(setup)?;
    let a = s.start("replica-a")?;
    let b = s.start("replica-b")?;
    let mut c = connect(b.https, &s.fx.ca, Some(&s.op)).await?;
    let mut urgent = valid_fields("", "");
    set(&mut urgent, "urgency", "urgent");
    let mut refs = Vec::new();
    for _ in 0..4 {
        refs.push(submit(&mut c, urgent.clone()).await?);
    }
    // Each: two reminders (2 s apart), then the notice to the admin.
    let subjects = |m: &[(PathBuf, String)]| -> Vec<String> {
        m.iter()
            .filter_map(|(_, t)| smtp::header(t, "Subject"))
            .collect()
    };
    tokio::task::block_in_place(|| {
        smtp::wait_for_mails(&s.maildir, Duration::from_secs(60), |m| {
            let subs = subjects(m);
            refs.iter()
                .all(|r| subs.contains(&format!("Non presa in carico: {r}")))
        })
    })?;
    // Both replicas keep looking for a while: nothing more goes out.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mails = smtp::mails(&s.maildir);
    let ids: Vec<String> = mails
        .iter()
        .filter_map(|(_, t)| smtp::header(t, "Message-ID"))
        .collect();
    for r in &refs {
        for id in [
            format!("<reminder1.{r}@comune.example>"),
            format!("<reminder2.{r}@comune.example>"),
            format!("<escalation.{r}@comune.example>"),
        ] {
            assert_eq!(ids.iter().filter(|i| **i == id).count(), 1, "{id}: {ids:?}");
        }
        let audit = |action: &str| {
            s.count(
                &format!(
                    "SELECT count(*) FROM inbox.audit WHERE action = '{action}' AND reference = $1"
                ),
                r,
            )
        };
        assert_eq!(audit("referral.reminder"), 2, "{r}");
        assert_eq!(audit("referral.escalated"), 1, "{r}");
    }
    assert_eq!(mails.len(), refs.len() * 4, "{ids:?}");
    drop((a, b));
    Ok(())
}

const TWO: &str = r#"
[[municipality]]
slug = "cremona"
name = "Comune di Cremona"
desks = ["condivisa"]
to = ["Staff Cremona <staff@comune.cremona.example>"]
admin = "admin@comune.cremona.example"

[[municipality]]
slug = "castelverde"
name = "Comune di Castelverde"
desks = ["condivisa"]
to = ["Servizi sociali <sociale@comune.castelverde.example>"]
admin = "admin@comune.castelverde.example"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_municipality_s_link_opens_only_its_referral_on_either_replica() -> anyhow::Result<()>
{
    let s = tokio::task::block_in_place(|| {
        setup_with(TWO, &["--municipality", "cremona"], "condivisa")
    })?;
    let other = staff_keys();
    let key = s.fx.dir.path().join("castelverde.asc");
    std::fs::write(&key, &other.public_armored)?;
    let cfg = s.fx.config_str();
    bin(&[
        "staff",
        "add",
        "--config",
        cfg,
        "--municipality",
        "castelverde",
        "--name",
        "Staff Castelverde",
        "--key",
        key.to_str().unwrap(),
    ])?;
    let a = s.start("replica-a")?;
    let b = s.start("replica-b")?;
    let mut c = connect(a.https, &s.fx.ca, Some(&s.op)).await?;
    let comuni = [
        ("cremona", "Comune di Cremona"),
        ("castelverde", "Comune di Castelverde"),
    ];
    let mut refs = Vec::new();
    for (slug, _) in comuni {
        let mut f = valid_fields("", "");
        f.push(("municipality".into(), slug.into()));
        refs.push(submit(&mut c, f).await?);
    }
    let tokens = s.tokens_for(&refs, &[&s.fx.staff.secret, &other.secret])?;
    for server in [&a, &b] {
        let mut st = connect(server.staff.unwrap(), &s.fx.ca, None).await?;
        for (i, (_, name)) in comuni.iter().enumerate() {
            let (theirs, their_name) = (&refs[1 - i], comuni[1 - i].1);
            let page = st
                .get(&format!("/presa-in-carico/{}", tokens[&refs[i]]))
                .await?;
            assert_eq!(page.status, 200, "{}", page.body);
            assert!(page.body.contains(refs[i].as_str()) && page.body.contains(name));
            assert!(!page.body.contains(theirs.as_str()), "{}", page.body);
            assert!(!page.body.contains(their_name), "{}", page.body);
        }
    }
    drop((a, b));
    Ok(())
}
