//! The closed loop: each mail carries, inside the encryption only, a link
//! to the staff site; the staff open it without a client certificate and
//! set the states; tampered, foreign and purged tokens open nothing;
//! illegal transitions are 409; no field value reaches the staff page or
//! the audit log.

mod common;

use std::time::Duration;

use common::smtp;
use common::*;

const STAFF: &str = r#"
[staff]
listen = "127.0.0.1:0"
public_url = "https://localhost:8444"
offices = [
  { slug = "servizi-territoriali", label = "Servizi sociali territoriali" },
]
"#;

/// The token of the link in a decrypted mail.
fn token_of(text: &str) -> String {
    let at = text
        .find("https://localhost:8444/presa-in-carico/")
        .unwrap_or_else(|| panic!("no staff link in:\n{text}"));
    let rest = &text[at + "https://localhost:8444/presa-in-carico/".len()..];
    rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect()
}

async fn staff_post(c: &mut Conn, token: &str, fields: &[(&str, &str)]) -> Response {
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
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_take_charge_through_the_link_in_the_mail() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let (_smtp, maildir) = smtp::start_mailbox(&fx, "Staff <staff@comune.example>")?;
    fx.configure(&[], STAFF)?;
    let log = fx.dir.path().join("server.log");
    let server = fx.start(&log)?;
    let staff_addr = server.staff.expect("the staff site listens");
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;

    // A canary in every free-text field.
    let tag = format!("{:08x}", rand::random::<u32>());
    let markers = [
        format!("Qzfn{tag}"),
        format!("Qzln{tag}"),
        format!("Qzds{tag}"),
        format!("qzem{tag}@esempio.it"),
    ];
    let mut fields = valid_fields("", "");
    set(&mut fields, "first_name", &markers[0]);
    set(&mut fields, "last_name", &markers[1]);
    set(
        &mut fields,
        "description",
        &format!("Sola {} in casa.", markers[2]),
    );
    set(&mut fields, "email", &markers[3]);
    let first = submit(&mut c, fields.clone()).await?;
    let second = submit(&mut c, fields.clone()).await?;

    let got = smtp::wait_for_mails(&maildir, Duration::from_secs(30), |m| m.len() >= 2)?;
    let mut tokens = std::collections::HashMap::new();
    for (_, mail) in &got {
        // The link is only inside the encryption.
        assert!(
            !mail.contains("presa-in-carico"),
            "link outside the ciphertext"
        );
        let start = mail.find("-----BEGIN PGP MESSAGE-----").unwrap();
        let end = mail.find("-----END PGP MESSAGE-----").unwrap() + 25;
        let armored = mail[start..end].replace("\r\n", "\n");
        let (msg, _) = pgp::composed::Message::from_armor(armored.as_bytes())?;
        let mut msg = msg.decrypt(&"".into(), &fx.staff.secret)?;
        if msg.is_compressed() {
            msg = msg.decompress()?;
        }
        let entity = Entity::parse(&msg.as_data_vec()?)?;
        // The link comes after the text, on a line of its own.
        let token = token_of(&entity.text);
        assert_eq!(token.len(), 32, "128 bits as hex");
        let line = format!("https://localhost:8444/presa-in-carico/{token}");
        assert!(entity.text.lines().any(|l| l == line), "{}", entity.text);
        let reference = if entity.text.contains(&first) {
            &first
        } else {
            &second
        };
        tokens.insert(reference.clone(), token);
    }
    let t1 = tokens[&first].clone();
    let t2 = tokens[&second].clone();
    assert_ne!(t1, t2, "a token per referral");

    // The database keeps only the hash.
    let db = fx.db()?;
    let stored: String = db.query_row(
        "SELECT token_sha256 FROM referrals WHERE reference = ?1",
        [&first],
        |r| r.get(0),
    )?;
    assert_eq!(stored.len(), 64);
    assert_ne!(stored, t1);
    let raw_db = std::fs::read(fx.data_dir().join("inbox.sqlite"))?;
    let wal = std::fs::read(fx.data_dir().join("inbox.sqlite-wal")).unwrap_or_default();
    for hay in [&raw_db, &wal] {
        assert!(
            !hay.windows(32).any(|w| w == t1.as_bytes()),
            "the token itself is on disk"
        );
    }

    // The staff open it without any client certificate.
    let mut s = connect(staff_addr, &fx.ca, None).await?;
    let page = s.get(&format!("/presa-in-carico/{t1}")).await?;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&first));
    assert!(!page.body.contains(&second), "only its own referral");
    for needle in [
        "via-mantova",
        "Ordinaria",
        "Non autosufficienza",
        "In attesa di presa in carico",
    ] {
        assert!(page.body.contains(needle), "{needle} on the staff page");
    }
    for m in &markers {
        assert!(
            !page.body.contains(m.as_str()),
            "canary {m} on the staff page"
        );
    }
    let csp = page.headers.get("content-security-policy").unwrap();
    assert!(csp.to_str()?.starts_with("default-src 'none'"));
    assert_eq!(page.headers.get("x-frame-options").unwrap(), "DENY");

    // The second token opens the second referral only.
    let other = s.get(&format!("/presa-in-carico/{t2}")).await?;
    assert!(other.body.contains(&second) && !other.body.contains(&first));

    // Tampered, unknown, malformed: the same plain 404.
    let mut tampered = t1.clone().into_bytes();
    tampered[5] = if tampered[5] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered)?;
    let bodies = [
        s.get(&format!("/presa-in-carico/{tampered}")).await?,
        s.get(&format!("/presa-in-carico/{}", "0".repeat(32)))
            .await?,
        s.get("/presa-in-carico/SEG-2026-000001").await?,
        s.get(&format!("/presa-in-carico/{}", t1.to_uppercase()))
            .await?,
    ];
    for b in &bodies {
        assert_eq!(b.status, 404);
        assert_eq!(b.body, bodies[0].body, "one page for every unknown token");
        assert!(!b.body.contains("SEG-"), "names no reference");
    }

    let csrf = hidden(&page.body, "csrf")?;
    // CSRF: missing, or another referral's.
    let r = staff_post(
        &mut s,
        &t1,
        &[("state", "presa_in_carico"), ("staff_name", "Anna Verdi")],
    )
    .await;
    assert_eq!(r.status, 403);
    let csrf2 = hidden(&other.body, "csrf")?;
    let r = staff_post(
        &mut s,
        &t1,
        &[
            ("csrf", &csrf2),
            ("state", "presa_in_carico"),
            ("staff_name", "Anna Verdi"),
        ],
    )
    .await;
    assert_eq!(r.status, 403, "a token of another referral's page");

    // Illegal: closing what nobody took in charge.
    let r = staff_post(
        &mut s,
        &t1,
        &[
            ("csrf", &csrf),
            ("state", "chiusa"),
            ("outcome", "informazioni"),
        ],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("In attesa di presa in carico"));
    // The name is required, and at most 80 characters.
    let r = staff_post(
        &mut s,
        &t1,
        &[
            ("csrf", &csrf),
            ("state", "presa_in_carico"),
            ("staff_name", " "),
        ],
    )
    .await;
    assert_eq!(r.status, 422);
    let long = "A".repeat(81);
    let r = staff_post(
        &mut s,
        &t1,
        &[
            ("csrf", &csrf),
            ("state", "presa_in_carico"),
            ("staff_name", &long),
        ],
    )
    .await;
    assert_eq!(r.status, 422);
    let r = staff_post(
        &mut s,
        &t1,
        &[
            ("csrf", &csrf),
            ("state", "non_di_competenza"),
            ("target", "inventato"),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "a target outside the list");

    let r = staff_post(
        &mut s,
        &t1,
        &[
            ("csrf", &csrf),
            ("state", "presa_in_carico"),
            ("staff_name", "Anna Verdi"),
            ("planned_contact", "2030-03-04"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = s.get(&format!("/presa-in-carico/{t1}")).await?;
    assert!(
        page.body
            .contains("Presa in carico da Anna Verdi (primo contatto previsto il 2030-03-04)"),
        "{}",
        page.body
    );
    // Twice: the second is a conflict, not a second taking charge.
    let r = staff_post(
        &mut s,
        &t1,
        &[
            ("csrf", &csrf),
            ("state", "presa_in_carico"),
            ("staff_name", "Bruno Neri"),
        ],
    )
    .await;
    assert_eq!(r.status, 409);
    let r = staff_post(
        &mut s,
        &t1,
        &[
            ("csrf", &csrf),
            ("state", "chiusa"),
            ("outcome", "informazioni"),
        ],
    )
    .await;
    assert_eq!(r.status, 303);
    let r = staff_post(
        &mut s,
        &t1,
        &[("csrf", &csrf), ("state", "non_rintracciabile")],
    )
    .await;
    assert_eq!(r.status, 409, "nothing after chiusa");
    let r = staff_post(
        &mut s,
        &t2,
        &[
            ("csrf", &csrf2),
            ("state", "non_di_competenza"),
            ("target", "servizi-territoriali"),
        ],
    )
    .await;
    assert_eq!(r.status, 303);
    let other = s.get(&format!("/presa-in-carico/{t2}")).await?;
    assert!(other
        .body
        .contains("Non di competenza: inviata a Servizi sociali territoriali"));

    // The audit log: the staff's actions by reference, no field value.
    let audit: Vec<(String, String, Option<String>)> = db
        .prepare("SELECT actor, action, reference FROM audit ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let has = |action: &str, reference: &str| {
        audit
            .iter()
            .any(|(a, act, r)| a == "staff" && act == action && r.as_deref() == Some(reference))
    };
    assert!(has("care.presa_in_carico", &first), "{audit:?}");
    assert!(has("care.chiusa", &first));
    assert!(has("care.non_di_competenza", &second));
    let all = format!("{audit:?}");
    for m in &markers {
        assert!(!all.contains(m.as_str()), "canary {m} in the audit log");
    }

    // The desk sees it: the operator's list shows the state, since when
    // and who took it in charge; another operator of the desk sees none
    // of it; the desk's referent sees every referral of the desk.
    let list = c.get("/segnalazioni").await?;
    let row = |body: &str, reference: &str| -> String {
        let at = body
            .find(reference)
            .unwrap_or_else(|| panic!("{reference} not in {body}"));
        body[at..at + body[at..].find("</tr>").unwrap()].to_string()
    };
    let r1 = row(&list.body, &first);
    assert!(r1.contains("Chiusa dal "), "{r1}");
    assert!(r1.contains("presa in carico da Anna Verdi"), "{r1}");
    assert!(row(&list.body, &second).contains("Non di competenza dal "));
    for m in &markers {
        assert!(!list.body.contains(m.as_str()), "canary {m} in the list");
    }
    let third = submit(&mut c, fields.clone()).await?;
    let mut waited = 0;
    while fx.delivery(&third)?.0 != "delivered" {
        waited += 1;
        assert!(waited < 200, "third referral not delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let list = c.get("/segnalazioni").await?;
    assert!(
        row(&list.body, &third).contains("In attesa da 0 giorni lavorativi"),
        "{}",
        row(&list.body, &third)
    );
    let paolo = fx.add_operator("Paolo Esempio", "via-mantova")?;
    let mut p = connect(server.https, &fx.ca, Some(&paolo)).await?;
    let theirs = p.get("/segnalazioni").await?;
    assert!(!theirs.body.contains(&first), "another operator's referral");
    bin(&[
        "operator",
        "set-role",
        "--config",
        fx.config_str(),
        &paolo.id.to_string(),
        "referent",
    ])?;
    // A running server re-reads the operator within 5 s.
    tokio::time::sleep(Duration::from_millis(5200)).await;
    let desk = p.get("/segnalazioni").await?;
    for r in [&first, &second, &third] {
        assert!(desk.body.contains(r.as_str()), "the referent sees {r}");
    }
    assert!(desk.body.contains("Giulia Esempio"), "and who sent it");
    assert!(row(&desk.body, &first).contains("presa in carico da Anna Verdi"));
    // A referent of another desk sees nothing of this one.
    let out = bin(&[
        "operator",
        "add",
        "--config",
        fx.config_str(),
        "--name",
        "Rita Esempio",
        "--desk",
        "altro-sportello",
        "--role",
        "referent",
    ])?;
    assert!(out.contains("added"), "{out}");
    let ops = bin(&["operator", "list", "--config", fx.config_str()])?;
    let rita = ops.lines().find(|l| l.contains("Rita Esempio")).unwrap();
    assert!(rita.contains("referent"), "{ops}");
    let paolo_line = ops.lines().find(|l| l.contains("Paolo Esempio")).unwrap();
    assert!(paolo_line.contains("referent"), "{ops}");

    // stats: time to presa in carico by desk (one referral taken).
    let st = bin(&[
        "stats",
        "--config",
        fx.config_str(),
        "--care-time",
        "--by",
        "desk",
    ])?;
    let line = st
        .lines()
        .find(|l| l.starts_with("via-mantova"))
        .unwrap_or_else(|| panic!("{st}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[1], "1", "{st}");
    assert!(cols[2].parse::<f64>()? < 1.0, "{st}");

    // After `staff.link_days` the purge forgets the token: 404.
    db.execute(
        "UPDATE referrals SET created_at = '2000-01-01T00:00:00Z' WHERE reference = ?1",
        [&second],
    )?;
    bin(&["purge", "--config", fx.config_str()])?;
    let gone = s.get(&format!("/presa-in-carico/{t2}")).await?;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.body, bodies[0].body);
    let log_text = std::fs::read_to_string(&log)?;
    for m in &markers {
        assert!(!log_text.contains(m.as_str()), "canary {m} in the log");
    }
    assert!(!log_text.contains(&t1), "the token in the log");
    Ok(())
}
