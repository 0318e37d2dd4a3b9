//! Canary: a unique marker in every free-text field; afterwards no marker
//! may appear in the data directory, the SQLite files, the logs or a backup,
//! while the staff's secret key recovers every one of them.

mod common;

use std::path::Path;

use common::*;

fn scan(dir: &Path, markers: &[String], hits: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scan(&path, markers, hits);
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for m in markers {
            if bytes.windows(m.len()).any(|w| w == m.as_bytes()) {
                hits.push(format!("{} in {}", m, path.display()));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_at_rest_or_in_logs() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 100)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let log = fx.dir.path().join("server.log");
    let server = fx.start(&log)?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;

    let tag = format!("{:08x}", rand::random::<u32>());
    let mut all_markers = Vec::new();
    let mut references = Vec::new();
    for i in 0..3 {
        let m = |f: &str| format!("Qz{f}{tag}{i}");
        // Digits only for the phone: a marker made of digits.
        let phone = format!(
            "0372{}{i}",
            &u64::from_str_radix(&tag, 16)?.to_string()[..6]
        );
        let markers = vec![
            m("fn"),
            m("ln"),
            phone.clone(),
            format!("{}@esempio.it", m("em")),
            m("ds"),
        ];
        let (csrf, key) = c.form_tokens().await?;
        let mut f = valid_fields(&csrf, &key);
        set(&mut f, "first_name", &markers[0]);
        set(&mut f, "last_name", &markers[1]);
        set(&mut f, "phone", &markers[2]);
        set(&mut f, "email", &markers[3]);
        set(
            &mut f,
            "description",
            &format!("Riga uno {}\nRiga due", markers[4]),
        );
        // An invalid submission too: it must not leave traces either.
        let mut bad = f.clone();
        set(&mut bad, "consent", "");
        assert_eq!(c.post_form(&bad).await?.status, 422);
        let res = c.post_form(&f).await?;
        assert_eq!(res.status, 303, "{}", res.body);
        references.push(
            res.location()
                .unwrap()
                .trim_start_matches("/segnalazioni/")
                .to_string(),
        );
        all_markers.push(markers);
    }

    // A backup made while the server runs (SQLite's own consistent copy).
    let backup = fx.dir.path().join("backup");
    std::fs::create_dir(&backup)?;
    fx.db()?.execute(
        "VACUUM INTO ?1",
        [backup.join("inbox.sqlite").to_str().unwrap()],
    )?;
    drop(c);
    // Stop the server so that the log is complete and the WAL is on disk.
    drop(server);

    let flat: Vec<String> = all_markers.iter().flatten().cloned().collect();
    // Also the markers' URL-encoded form (e.g. the @ of the email).
    let mut needles = flat.clone();
    needles.extend(
        flat.iter()
            .filter(|m| m.contains('@'))
            .map(|m| m.replace('@', "%40")),
    );
    // The scanner itself works: a planted marker is found.
    let probe = fx.dir.path().join("probe");
    std::fs::create_dir(&probe)?;
    std::fs::write(probe.join("x"), format!("..{}..", flat[0]))?;
    let mut found = Vec::new();
    scan(&probe, &needles, &mut found);
    assert_eq!(found.len(), 1);
    std::fs::remove_dir_all(&probe)?;

    let mut hits = Vec::new();
    scan(&fx.data_dir(), &needles, &mut hits);
    scan(&backup, &needles, &mut hits);
    scan(fx.dir.path(), &needles, &mut hits); // the log and everything else
    assert!(hits.is_empty(), "plaintext found: {hits:?}");
    let log_text = std::fs::read_to_string(&log)?;
    assert!(
        log_text.contains(&references[0]),
        "the log does carry references"
    );

    // The staff key recovers every marker, from the database and the backup.
    for db_path in [
        fx.data_dir().join("inbox.sqlite"),
        backup.join("inbox.sqlite"),
    ] {
        let db = rusqlite::Connection::open(&db_path)?;
        for (reference, markers) in references.iter().zip(&all_markers) {
            let ct: Vec<u8> = db.query_row(
                "SELECT ciphertext FROM referrals WHERE reference = ?1",
                [reference],
                |r| r.get(0),
            )?;
            let text = decrypt(&fx.staff.secret, &ct)?;
            for m in markers {
                assert!(text.contains(m.as_str()), "{m} missing from {reference}");
            }
        }
    }
    Ok(())
}
