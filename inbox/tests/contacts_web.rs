//! "Registra un contatto" and "Statistiche" over real mutual TLS: record,
//! correct and delete one's own contacts of today; another operator's is a
//! 404; bad fields are a 422 with the values kept; every change is an
//! audit line without field values; the statistics are for referents and
//! show small counts as "<5".

mod common;

use common::*;

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

fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
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
async fn record_correct_and_delete_contacts_of_today() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let marco = fx.add_operator("Marco Esempio", "via-mantova")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut g = connect(server.https, &fx.ca, Some(&giulia)).await?;

    // The form: today's date filled in, every list offered.
    let page = g.get("/contatti").await?;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!(r#"value="{}""#, today())));
    for v in ["in_presenza", "caregiver", "85+", "segnalato", "solitudine"] {
        assert!(page.body.contains(&format!(r#"value="{v}""#)), "{v}");
    }
    assert!(page.body.contains("Nessun contatto registrato oggi."));

    // Record.
    let csrf = hidden(&page.body, "csrf")?;
    let r = post(&mut g, "/contatti", &contact(&csrf, &[])).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location().as_deref(), Some("/contatti?fatto=registrato"));
    let page = g.get("/contatti?fatto=registrato").await?;
    assert!(page.body.contains("Contatto registrato."));
    let ids = listed_ids(&page.body);
    assert_eq!(ids.len(), 1, "one contact today");
    let id = ids[0];
    let db = fx.db()?;
    let stored: (String, String, i64) = db.query_row(
        "SELECT channel, desk, (SELECT COUNT(*) FROM contact_needs WHERE contact_id = c.id)
         FROM contacts c WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    assert_eq!(stored, ("telefono".into(), "via-mantova".into(), 2));

    // Bad fields: 422, every error at once, the values kept, nothing stored.
    let csrf = csrf_of(&mut g, "/contatti").await;
    let bad = contact(
        &csrf,
        &[
            ("channel", "piccione"),
            ("outcome", "segnalato"),
            ("referral_reference", "SEG-2026-999999"),
        ],
    );
    let r = post(&mut g, "/contatti", &bad).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains(r#"id="channel-error""#), "{}", r.body);
    assert!(r.body.contains(r#"value="SEG-2026-999999""#), "value kept");
    let bad = contact(
        &csrf,
        &[
            ("outcome", "segnalato"),
            ("referral_reference", "SEG-2026-999999"),
        ],
    );
    let r = post(&mut g, "/contatti", &bad).await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("non risulta inviata da questo sportello"),
        "a referral this desk never sent"
    );
    let n: i64 = db.query_row("SELECT COUNT(*) FROM contacts", [], |r| r.get(0))?;
    assert_eq!(n, 1, "nothing stored on a refusal");

    // A referral the desk did send can be named.
    let reference = submit(&mut g, valid_fields("", "")).await?;
    let csrf = csrf_of(&mut g, "/contatti").await;
    let r = post(
        &mut g,
        "/contatti",
        &contact(
            &csrf,
            &[("outcome", "segnalato"), ("referral_reference", &reference)],
        ),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // Correct the first one.
    let edit = g.get(&format!("/contatti/{id}")).await?;
    assert_eq!(edit.status, 200);
    assert!(
        edit.body.contains(r#"value="telefono" checked"#),
        "prefilled"
    );
    let csrf = hidden(&edit.body, "csrf")?;
    let r = post(
        &mut g,
        &format!("/contatti/{id}"),
        &contact(&csrf, &[("channel", "a_domicilio")]),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let ch: String = db.query_row("SELECT channel FROM contacts WHERE id = ?1", [id], |r| {
        r.get(0)
    })?;
    assert_eq!(ch, "a_domicilio");

    // Another operator can neither open, correct nor delete it.
    let mut m = connect(server.https, &fx.ca, Some(&marco)).await?;
    assert_eq!(m.get(&format!("/contatti/{id}")).await?.status, 404);
    let csrf_m = csrf_of(&mut m, "/contatti").await;
    let r = post(
        &mut m,
        &format!("/contatti/{id}"),
        &contact(&csrf_m, &[("azione", "elimina")]),
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("Contatto non trovato"));
    // Nor with Giulia's token (bound to her certificate).
    let r = post(
        &mut m,
        &format!("/contatti/{id}"),
        &contact(&csrf, &[("azione", "elimina")]),
    )
    .await;
    assert_eq!(r.status, 403);

    // Delete.
    let csrf = csrf_of(&mut g, &format!("/contatti/{id}")).await;
    let r = post(
        &mut g,
        &format!("/contatti/{id}"),
        &contact(&csrf, &[("azione", "elimina")]),
    )
    .await;
    assert_eq!(r.status, 303);
    let n: i64 = db.query_row("SELECT COUNT(*) FROM contacts WHERE id = ?1", [id], |r| {
        r.get(0)
    })?;
    assert_eq!(n, 0);

    // The audit: actions and ids, never a field value.
    let mut stmt =
        db.prepare("SELECT action, reference FROM audit WHERE action LIKE 'contact.%'")?;
    let lines: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let actions: Vec<&str> = lines.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(
        actions,
        [
            "contact.insert",
            "contact.insert",
            "contact.update",
            "contact.delete"
        ]
    );
    let all: String = db.query_row(
        "SELECT group_concat(actor || action || coalesce(reference, ''), ' ') FROM audit",
        [],
        |r| r.get(0),
    )?;
    for v in [
        "telefono",
        "a_domicilio",
        "solitudine",
        "pensionato",
        "75-84",
    ] {
        assert!(!all.contains(v), "{v} in the audit log");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_are_for_referents_and_hide_small_counts() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut g = connect(server.https, &fx.ca, Some(&giulia)).await?;
    // Seven contacts by telephone, two in person.
    for channel in ["telefono"; 7].into_iter().chain(["in_presenza"; 2]) {
        let csrf = csrf_of(&mut g, "/contatti").await;
        let r = post(
            &mut g,
            "/contatti",
            &contact(&csrf, &[("channel", channel)]),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let r = g.get("/statistiche").await?;
    assert_eq!(r.status, 403, "an operator is not a referent");
    assert!(!r.body.contains("Statistiche</a>"), "nor offered the link");

    bin(&[
        "operator",
        "set-role",
        "--config",
        fx.config_str(),
        &giulia.id.to_string(),
        "referent",
    ])?;
    // A running server re-reads the operator within 5 s.
    tokio::time::sleep(std::time::Duration::from_millis(5200)).await;
    let r = g.get("/statistiche").await?;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("Statistiche</a>"),
        "the link for a referent"
    );
    assert!(r.body.contains("/static/report.css"));
    assert!(r.body.contains("<svg"), "charts drawn inline");
    assert_eq!(
        r.body.matches("<h1").count(),
        1,
        "one page title; the report's headings below it"
    );
    assert!(r.body.contains(r#"<h2 id="report-title""#));
    assert!(
        r.body.contains("&#60;5") || r.body.contains("&lt;5"),
        "the two are shown as <5"
    );
    // Secondary suppression: with the row's total (9) shown, the seven
    // would reveal the two, so it is withheld too.
    assert!(r.body.contains("n.d."), "the seven withheld");
    assert!(r.body.contains(">9<"), "the total shown");
    let css = g.get("/static/report.css").await?;
    assert_eq!(css.status, 200);
    assert!(css.body.contains("@media print") || css.body.contains("@page"));

    // Bad input: a reversed period, an unknown desk, a date that is not one.
    let r = g
        .get(&format!("/statistiche?dal={}&al=2020-01-01", today()))
        .await?;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("successiva"), "{}", r.body);
    let r = g.get("/statistiche?sportello=nessuno").await?;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("non esiste"));
    let r = g.get("/statistiche?dal=ieri").await?;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("AAAA-MM-GG"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_posts_are_rate_limited_per_operator() -> anyhow::Result<()> {
    // One referral a minute, burst 1: contacts get three of each.
    let fx = Fixture::new(1, 1)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut g = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let csrf = csrf_of(&mut g, "/contatti").await;
    for _ in 0..3 {
        let r = post(&mut g, "/contatti", &contact(&csrf, &[])).await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let r = post(&mut g, "/contatti", &contact(&csrf, &[])).await;
    assert_eq!(r.status, 429);
    assert!(r.headers.contains_key("retry-after"));
    assert!(r.body.contains("Troppi invii"));
    let n: i64 = fx
        .db()?
        .query_row("SELECT COUNT(*) FROM contacts", [], |r| r.get(0))?;
    assert_eq!(n, 3, "the refused one is not stored");
    Ok(())
}
