//! The register of contacts and "Statistiche" on PostgreSQL: two `serve`
//! replicas of one configuration on one real PostgreSQL, operators over
//! mutual TLS. A contact recorded on one replica is listed, corrected and
//! deleted on the other, with SQLite's rules (one's own, on the day it was
//! recorded; a referral the desk sent); the audit names actions and ids
//! only; the SQLite file stays empty. "Statistiche" and `report` count the
//! contacts in PostgreSQL and show small counts as "<5" / "n.d.".

mod common;

use std::time::Duration;

use common::pg::Postgres;
use common::smtp;
use common::*;

struct Setup {
    pg: Postgres,
    pg_url: String,
    fx: Fixture,
    giulia: Identity,
    marco: Identity,
    _smtp: smtp::Smtp,
}

/// inbox.toml with `[store] kind = "postgres"` on a fresh database, the
/// staff key and two operators of one desk added through the CLI.
fn setup() -> anyhow::Result<Setup> {
    smtp::require_aiosmtpd();
    let pg = Postgres::start()?;
    let fx = Fixture::new(100_000, 100_000)?;
    let url = common::pg::use_postgres(&fx, &pg, "register")?;
    fx.add_staff("Staff Esempio", &fx.staff.public_armored, &[])?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let marco = fx.add_operator("Marco Esempio", "via-mantova")?;
    let (smtp, _) = smtp::start_server(
        &fx,
        smtp::Security::Starttls,
        smtp::Handler::Mailbox,
        "starttls",
        "staff@comune.example",
    )?;
    Ok(Setup {
        pg_url: url,
        pg,
        fx,
        giulia,
        marco,
        _smtp: smtp,
    })
}

impl Setup {
    /// Runs `f` on a new PostgreSQL connection, off the async threads.
    fn pg<T>(&self, f: impl FnOnce(&mut postgres::Client) -> anyhow::Result<T>) -> T {
        tokio::task::block_in_place(|| {
            let mut cfg = self.pg.config.clone();
            cfg.url = self.pg_url.clone();
            f(&mut sportello_inbox::store::pg::connect(&cfg)?)
        })
        .unwrap()
    }

    fn start(&self, name: &str) -> anyhow::Result<Server> {
        self.fx
            .start(&self.fx.dir.path().join(format!("{name}.log")))
    }

    fn count(&self, sql: &str) -> i64 {
        self.pg(|c| Ok(c.query_one(sql, &[])?.get(0)))
    }
}

fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn contact(csrf: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = [
        ("csrf", csrf),
        ("day", &today()),
        ("channel", "telefono"),
        ("user_category", "pensionato"),
        ("age_band", "75-84"),
        ("city_area", "centro"),
        ("need_areas", "solitudine"),
        ("need_areas", "casa"),
        ("outcome", "informato"),
        ("referral_reference", ""),
        ("unmet_need", ""),
        ("azione", "salva"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        set(&mut f, k, v);
    }
    f
}

async fn post(c: &mut Conn, path: &str, fields: &[(String, String)]) -> Response {
    c.request(
        "POST",
        path,
        &[("content-type", "application/x-www-form-urlencoded")],
        encode(fields).into_bytes(),
    )
    .await
    .unwrap()
}

async fn csrf_of(c: &mut Conn, path: &str) -> String {
    let page = c.get(path).await.unwrap();
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    hidden(&page.body, "csrf").unwrap()
}

/// The ids in the "Correggi" links of today's list.
fn listed_ids(html: &str) -> Vec<i64> {
    html.split("href=\"/contatti/")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_recorded_on_one_replica_is_changed_on_the_other() -> anyhow::Result<()> {
    let s = tokio::task::block_in_place(setup)?;
    let (one, two) = (s.start("one")?, s.start("two")?);
    let mut g1 = connect(one.https, &s.fx.ca, Some(&s.giulia)).await?;
    let mut g2 = connect(two.https, &s.fx.ca, Some(&s.giulia)).await?;

    // Recorded on replica 1, listed on replica 2.
    let csrf = csrf_of(&mut g1, "/contatti").await;
    let r = post(&mut g1, "/contatti", &contact(&csrf, &[])).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location().as_deref(), Some("/contatti?fatto=registrato"));
    let page = g2.get("/contatti").await?;
    assert_eq!(page.status, 200, "{}", page.body);
    let ids = listed_ids(&page.body);
    assert_eq!(ids.len(), 1, "one contact today, seen by the other replica");
    let id = ids[0];
    let stored: (String, String, i64) = s.pg(|c| {
        let r = c.query_one(
            "SELECT channel, desk, (SELECT COUNT(*) FROM inbox.contact_needs
                                    WHERE contact_id = c.id)
             FROM inbox.contacts c WHERE id = $1",
            &[&id],
        )?;
        Ok((r.get(0), r.get(1), r.get(2)))
    });
    assert_eq!(stored, ("telefono".into(), "via-mantova".into(), 2));

    // Corrected on replica 2: the form is filled from PostgreSQL.
    let edit = g2.get(&format!("/contatti/{id}")).await?;
    assert_eq!(edit.status, 200, "{}", edit.body);
    assert!(
        edit.body.contains(r#"value="telefono" checked"#),
        "prefilled"
    );
    assert!(
        edit.body.contains(r#"value="casa" checked"#),
        "needs prefilled"
    );
    let csrf = hidden(&edit.body, "csrf")?;
    let r = post(
        &mut g2,
        &format!("/contatti/{id}"),
        &contact(&csrf, &[("channel", "a_domicilio")]),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        s.count("SELECT COUNT(*) FROM inbox.contacts WHERE channel = 'a_domicilio'"),
        1
    );

    // A referral the desk never sent is refused; one it sent (on the other
    // replica) can be named.
    let csrf = csrf_of(&mut g1, "/contatti").await;
    let bad = contact(
        &csrf,
        &[
            ("outcome", "segnalato"),
            ("referral_reference", "SEG-2026-999999"),
        ],
    );
    let r = post(&mut g1, "/contatti", &bad).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("non risulta inviata da questo sportello"));
    assert_eq!(s.count("SELECT COUNT(*) FROM inbox.contacts"), 1);
    let reference = submit(&mut g2, valid_fields("", "")).await?;
    let ok = contact(
        &csrf,
        &[("outcome", "segnalato"), ("referral_reference", &reference)],
    );
    let r = post(&mut g1, "/contatti", &ok).await;
    assert_eq!(r.status, 303, "{}", r.body);

    // Another operator of the desk can neither open nor delete it.
    let mut m2 = connect(two.https, &s.fx.ca, Some(&s.marco)).await?;
    assert_eq!(m2.get(&format!("/contatti/{id}")).await?.status, 404);
    let csrf_m = csrf_of(&mut m2, "/contatti").await;
    let r = post(
        &mut m2,
        &format!("/contatti/{id}"),
        &contact(&csrf_m, &[("azione", "elimina")]),
    )
    .await;
    assert_eq!(r.status, 404);

    // Yesterday's contact is no longer the operator's to change.
    let old: i64 = s.pg(|c| {
        Ok(c.query_one(
            "INSERT INTO inbox.contacts(desk, operator_id, day, created_at, channel,
                 user_category, age_band, city_area, outcome)
             VALUES ('via-mantova', $1, '2020-01-01', '2020-01-01T10:00:00Z', 'email',
                     'altro', '18-64', 'centro', 'informato')
             RETURNING id",
            &[&s.giulia.id],
        )?
        .get(0))
    });
    assert_eq!(g2.get(&format!("/contatti/{old}")).await?.status, 404);
    let csrf = csrf_of(&mut g2, "/contatti").await;
    let r = post(
        &mut g2,
        &format!("/contatti/{old}"),
        &contact(&csrf, &[("azione", "elimina")]),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = post(&mut g2, &format!("/contatti/{old}"), &contact(&csrf, &[])).await;
    assert_eq!(r.status, 404);
    assert!(!listed_ids(&g1.get("/contatti").await?.body).contains(&old));

    // Deleted on replica 2: gone from PostgreSQL and from replica 1's list.
    let r = post(
        &mut g2,
        &format!("/contatti/{id}"),
        &contact(&csrf, &[("azione", "elimina")]),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let n = s.count(&format!(
        "SELECT COUNT(*) FROM inbox.contacts WHERE id = {id}"
    ));
    assert_eq!(n, 0);
    assert_eq!(
        s.count(&format!(
            "SELECT COUNT(*) FROM inbox.contact_needs WHERE contact_id = {id}"
        )),
        0,
        "its needs with it"
    );
    let list = listed_ids(&g1.get("/contatti").await?.body);
    assert_eq!(list.len(), 1, "the contact naming the referral stays");
    assert!(!list.contains(&id));

    // The audit: actions and ids, never a field value.
    let lines: Vec<(String, String, String)> = s.pg(|c| {
        Ok(c.query(
            "SELECT actor, action, reference FROM inbox.audit
             WHERE action LIKE 'contact.%' ORDER BY id",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
    });
    let actions: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
    assert_eq!(
        actions,
        [
            "contact.insert",
            "contact.update",
            "contact.insert",
            "contact.delete"
        ]
    );
    assert_eq!(lines[0].0, format!("operator:{}", s.giulia.id));
    assert_eq!(lines[0].2, format!("contact:{id}"));
    let all = format!("{lines:?}");
    for v in [
        "telefono",
        "a_domicilio",
        "solitudine",
        "pensionato",
        "75-84",
    ] {
        assert!(!all.contains(v), "{v} in the audit log");
    }

    // Nothing went to the SQLite file of the data directory.
    let sqlite: i64 =
        s.fx.db()?
            .query_row("SELECT COUNT(*) FROM contacts", [], |r| r.get(0))?;
    assert_eq!(sqlite, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_and_report_count_the_contacts_in_postgres() -> anyhow::Result<()> {
    let s = tokio::task::block_in_place(setup)?;
    let (one, two) = (s.start("one")?, s.start("two")?);
    let mut g1 = connect(one.https, &s.fx.ca, Some(&s.giulia)).await?;
    // Seven contacts by telephone, two in person, on replica 1.
    for channel in ["telefono"; 7].into_iter().chain(["in_presenza"; 2]) {
        let csrf = csrf_of(&mut g1, "/contatti").await;
        let r = post(
            &mut g1,
            "/contatti",
            &contact(&csrf, &[("channel", channel)]),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let mut g2 = connect(two.https, &s.fx.ca, Some(&s.giulia)).await?;
    assert_eq!(g2.get("/statistiche").await?.status, 403, "not a referent");
    tokio::task::block_in_place(|| {
        bin(&[
            "operator",
            "set-role",
            "--config",
            s.fx.config_str(),
            &s.giulia.id.to_string(),
            "referent",
        ])
    })?;
    // A running server re-reads the operator within 5 s.
    tokio::time::sleep(Duration::from_millis(5200)).await;
    let r = g2.get("/statistiche").await?;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<svg"), "charts drawn inline");
    assert!(
        r.body.contains("&#60;5") || r.body.contains("&lt;5"),
        "the two are shown as <5"
    );
    assert!(r.body.contains("n.d."), "the seven withheld");
    assert!(r.body.contains(">9<"), "the total shown");
    assert!(!r.body.contains(">7<") && !r.body.contains(">2<"));
    let r = g2.get("/statistiche?sportello=via-mantova").await?;
    assert_eq!(r.status, 200, "the desk, listed from PostgreSQL");
    assert!(r.body.contains(">9<"));
    let r = g2.get("/statistiche?sportello=nessuno").await?;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("non esiste"));

    // `report` reads the same contacts, with the same suppression.
    let out = s.fx.dir.path().join("riunione");
    let d = today();
    tokio::task::block_in_place(|| {
        bin(&[
            "report",
            "--config",
            s.fx.config_str(),
            "--from",
            &d,
            "--to",
            &d,
            "--out",
            out.to_str().unwrap(),
        ])
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json"))?)?;
    let table = json["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "contatti-mese-canale")
        .expect("the contacts by month and channel");
    let month = &d[..7];
    let row = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == month)
        .expect("this month's row");
    assert_eq!(
        row["cells"],
        serde_json::json!(["<5", "n.d.", 0, 0, 9]),
        "{row}"
    );
    Ok(())
}
