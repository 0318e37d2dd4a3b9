//! The referral form over real mTLS: submit, validation, CSRF, idempotency,
//! body limit, rate limit, security headers, "Le mie segnalazioni".

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_confirm_and_list() -> anyhow::Result<()> {
    let fx = Fixture::new(60, 20)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let marco = fx.add_operator("Marco Esempio", "cavatigozzi")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;

    let form = c.get("/").await?;
    // Security headers on every page.
    let h = |n: &str| {
        form.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert!(h("content-security-policy").contains("default-src 'none'"));
    assert!(h("content-security-policy").contains("frame-ancestors 'none'"));
    assert!(!h("content-security-policy").contains("unsafe-inline"));
    assert!(h("strict-transport-security").starts_with("max-age="));
    assert_eq!(h("referrer-policy"), "no-referrer");
    assert_eq!(h("x-content-type-options"), "nosniff");
    // No script, no inline style; consent boxes unticked.
    assert!(!form.body.contains("<script"));
    assert!(!form.body.contains("style="));
    assert!(!form.body.contains("checked"));
    assert!(form.body.contains("<legend>La persona</legend>"));
    assert!(!form.body.contains("codice fiscale\"")); // no tax code field

    let (csrf, key) = (
        hidden(&form.body, "csrf")?,
        hidden(&form.body, "idempotency_key")?,
    );
    let res = c.post_form(&valid_fields(&csrf, &key)).await?;
    assert_eq!(res.status, 303, "{}", res.body);
    let location = res.location().unwrap();
    let year = time::OffsetDateTime::now_utc().year();
    assert!(
        location.starts_with(&format!("/segnalazioni/SEG-{year}-")),
        "{location}"
    );
    let reference = location.trim_start_matches("/segnalazioni/").to_string();
    assert_eq!(reference.len(), "SEG-2026-000001".len());

    let confirm = c.get(&location).await?;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains(&reference));

    let list = c.get("/segnalazioni").await?;
    assert!(list.body.contains(&reference));
    assert!(list.body.contains("In consegna"));
    assert!(
        !list.body.contains("Esempio</td>"),
        "no content in the list"
    );
    assert!(!list.body.contains("Vive sola"));

    // Another operator sees neither the referral in the list nor its page.
    let mut m = connect(server.https, &fx.ca, Some(&marco)).await?;
    assert!(!m.get("/segnalazioni").await?.body.contains(&reference));
    assert_eq!(m.get(&location).await?.status, 404);

    // Metadata stored, no personal data; audit log has the action.
    let db = fx.db()?;
    let (desk, op, need, urg, band, status): (String, i64, String, String, String, String) = db.query_row(
        "SELECT desk, operator_id, need_area, urgency, age_band, status FROM referrals WHERE reference = ?1",
        [&reference],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
    )?;
    assert_eq!((desk.as_str(), op), ("via-mantova", giulia.id));
    assert_eq!(
        (need.as_str(), urg.as_str(), status.as_str()),
        ("non-autosufficienza", "ordinary", "queued")
    );
    assert_eq!(band, "85+");
    let audited: i64 = db.query_row(
        "SELECT COUNT(*) FROM audit WHERE action = 'referral.accepted' AND reference = ?1",
        [&reference],
        |r| r.get(0),
    )?;
    assert_eq!(audited, 1);
    let ct: Vec<u8> = db.query_row(
        "SELECT ciphertext FROM referrals WHERE reference = ?1",
        [&reference],
        |r| r.get(0),
    )?;
    let text = decrypt(&fx.staff.secret, &ct)?;
    assert!(text.contains(&reference) && text.contains("Maria") && text.contains("Giulia Esempio"));
    assert!(text.contains("\"need\""), "JSON part present");

    // stats counts it.
    let stats = bin(&["stats", "--config", fx.config_str(), "--by", "desk"])?;
    assert!(
        stats.contains("via-mantova") && stats.contains('1'),
        "{stats}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_are_shown_next_to_fields_with_values_kept() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let (csrf, key) = c.form_tokens().await?;

    // Missing consent, bad year, bad phone; typed values come back.
    let mut f = valid_fields(&csrf, &key);
    set(&mut f, "consent", "");
    set(&mut f, "birth_year", "19x1");
    set(&mut f, "phone", "chiamare dopo");
    set(&mut f, "last_name", "Esempio & <Figli>");
    let res = c.post_form(&f).await?;
    assert_eq!(res.status, 422);
    for field in ["consent", "birth_year", "phone"] {
        assert!(
            res.body
                .contains(&format!(r#"aria-describedby="{field}-error""#)),
            "{field}"
        );
        assert!(
            res.body.contains(&format!(r#"id="{field}-error""#)),
            "{field}"
        );
    }
    assert!(
        res.body.contains(r##"href="#consent""##),
        "error summary links to the field"
    );
    // Kept and escaped (the templates write numeric character references).
    assert!(
        res.body.contains("value=\"Esempio &#38; &#60;Figli&#62;\""),
        "value kept, escaped"
    );
    assert!(!res.body.contains("<Figli>"), "never raw");
    assert!(res.body.contains("value=\"chiamare dopo\""));
    assert!(res.body.contains("Vive sola"));
    assert_eq!(hidden(&res.body, "idempotency_key")?, key, "same key kept");

    // Control characters are refused.
    let mut f = valid_fields(&csrf, &key);
    set(&mut f, "first_name", "Maria\u{0007}");
    let res = c.post_form(&f).await?;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("caratteri non ammessi"));

    // Per-field limits: 2,001 characters of description.
    let mut f = valid_fields(&csrf, &key);
    set(&mut f, "description", &"à".repeat(2001));
    let res = c.post_form(&f).await?;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("al massimo 2000 caratteri"));
    // 2,000 are fine.
    set(&mut f, "description", &"à".repeat(2000));
    assert_eq!(c.post_form(&f).await?.status, 303);

    // Values outside the configured lists.
    let (csrf, key) = c.form_tokens().await?;
    let mut f = valid_fields(&csrf, &key);
    set(&mut f, "need_area", "diagnosi");
    set(&mut f, "urgency", "subito");
    let res = c.post_form(&f).await?;
    assert_eq!(res.status, 422);
    assert!(
        res.body.contains(r#"id="need_area-error""#) && res.body.contains(r#"id="urgency-error""#)
    );

    // A repeated field is a malformed request: 400 with a page, no panic.
    let mut f = valid_fields(&csrf, &key);
    f.push(("first_name".into(), "Anna".into()));
    let res = c.post_form(&f).await?;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("<h1>"));

    // Wrong content type.
    let res = c
        .request(
            "POST",
            "/segnalazioni",
            &[("content-type", "application/json")],
            b"{}".to_vec(),
        )
        .await?;
    assert_eq!(res.status, 415);

    // Unknown page, wrong method, unreadable reference: pages, not bare errors.
    let res = c.get("/nulla").await?;
    assert_eq!(res.status, 404);
    assert!(res.body.contains("Pagina non trovata"));
    let res = c.request("POST", "/", &[], Vec::new()).await?;
    assert_eq!(res.status, 405);
    assert!(res.body.contains("<h1>"));
    let res = c.get("/segnalazioni/%FF%FE").await?;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("<h1>"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_idempotency_body_limit() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let marco = fx.add_operator("Marco Esempio", "cavatigozzi")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let (csrf, key) = c.form_tokens().await?;

    // No token, a forged token, another operator's token, a cross-site post.
    let mut f = valid_fields("", &key);
    assert_eq!(c.post_form(&f).await?.status, 403);
    set(&mut f, "csrf", "1700000000.00ff");
    assert_eq!(c.post_form(&f).await?.status, 403);
    let mut m = connect(server.https, &fx.ca, Some(&marco)).await?;
    let (marco_csrf, _) = m.form_tokens().await?;
    set(&mut f, "csrf", &marco_csrf);
    assert_eq!(c.post_form(&f).await?.status, 403);
    set(&mut f, "csrf", &csrf);
    let res = c
        .post_raw(encode(&f).into_bytes(), &[("sec-fetch-site", "cross-site")])
        .await?;
    assert_eq!(res.status, 403);
    let res = c
        .post_raw(
            encode(&f).into_bytes(),
            &[("origin", "https://evil.example")],
        )
        .await?;
    assert_eq!(res.status, 403);
    let db = fx.db()?;
    let count = |db: &rusqlite::Connection| -> i64 {
        db.query_row("SELECT COUNT(*) FROM referrals", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&db), 0);

    // Double submit: one referral, the same reference twice. The first is
    // sent as Chromium sends it under `Referrer-Policy: no-referrer`:
    // `Origin: null` with `Sec-Fetch-Site: same-origin`.
    let first = c
        .post_raw(
            encode(&f).into_bytes(),
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        )
        .await?;
    let second = c.post_form(&f).await?;
    assert_eq!(first.status, 303);
    assert_eq!(second.status, 303);
    assert_eq!(first.location(), second.location());
    // Two concurrent submits of one form, on two connections.
    let (csrf2, key2) = c.form_tokens().await?;
    let f2 = valid_fields(&csrf2, &key2);
    let mut c2 = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let (a, b) = tokio::join!(c.post_form(&f2), c2.post_form(&f2));
    assert_eq!(a?.location(), b?.location());
    assert_eq!(count(&db), 2);

    // Body limit: 64 KiB.
    let mut big = f.clone();
    set(&mut big, "description", &"a".repeat(70 * 1024));
    let res = c.post_form(&big).await?;
    assert_eq!(res.status, 413);
    assert!(res.body.contains("64 KiB"));
    assert_eq!(count(&db), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_per_operator() -> anyhow::Result<()> {
    let fx = Fixture::new(1, 3)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let marco = fx.add_operator("Marco Esempio", "cavatigozzi")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    for _ in 0..3 {
        let (csrf, key) = c.form_tokens().await?;
        assert_eq!(c.post_form(&valid_fields(&csrf, &key)).await?.status, 303);
    }
    let (csrf, key) = c.form_tokens().await?;
    let res = c.post_form(&valid_fields(&csrf, &key)).await?;
    assert_eq!(res.status, 429);
    assert!(res.headers.contains_key("retry-after"));
    assert!(res.body.contains("Troppi invii"));
    // Other operators are not affected.
    let mut m = connect(server.https, &fx.ca, Some(&marco)).await?;
    let (csrf, key) = m.form_tokens().await?;
    assert_eq!(m.post_form(&valid_fields(&csrf, &key)).await?.status, 303);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggested_services_from_the_guide() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    // The guide's services.json format: [{slug, title, category, url}].
    std::fs::write(
        fx.dir.path().join("services.json"),
        r#"[{"slug":"telesoccorso","title":"Telesoccorso","category":"casa-e-abitare","url":"https://guida.example/servizi/telesoccorso/"},
            {"slug":"pasti-a-domicilio","title":"Pasti a domicilio","category":"salute-benessere-assistenza","url":"https://guida.example/servizi/pasti-a-domicilio/"}]"#,
    )?;
    let text = std::fs::read_to_string(&fx.config)?.replace(
        "# services_json = \"../public/services.json\"",
        "services_json = \"services.json\"",
    );
    std::fs::write(&fx.config, text)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let page = c.get("/").await?;
    assert!(page.body.contains("Servizi suggeriti"));
    assert!(page.body.contains("<summary>Casa e abitare</summary>"));
    assert!(page.body.contains(r#"value="telesoccorso""#));

    let (csrf, key) = (
        hidden(&page.body, "csrf")?,
        hidden(&page.body, "idempotency_key")?,
    );
    let mut f = valid_fields(&csrf, &key);
    f.push(("services".into(), "inventato".into()));
    let res = c.post_form(&f).await?;
    assert_eq!(res.status, 422);
    assert!(res.body.contains(r#"id="services-error""#));

    f.pop();
    f.push(("services".into(), "telesoccorso".into()));
    f.push(("services".into(), "pasti-a-domicilio".into()));
    let res = c.post_form(&f).await?;
    assert_eq!(res.status, 303);
    let reference = res
        .location()
        .unwrap()
        .trim_start_matches("/segnalazioni/")
        .to_string();
    let ct: Vec<u8> = fx.db()?.query_row(
        "SELECT ciphertext FROM referrals WHERE reference = ?1",
        [&reference],
        |r| r.get(0),
    )?;
    let text = decrypt(&fx.staff.secret, &ct)?;
    assert!(text.contains("- Telesoccorso (https://guida.example/servizi/telesoccorso/)"));
    assert!(text.contains("Pasti a domicilio"));
    Ok(())
}
