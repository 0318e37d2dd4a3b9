//! `store copy-to-postgres` with the real binary and a real PostgreSQL: an
//! SQLite inbox (a synthetic register, what `serve`'s purge at start left
//! of it, a referral and a contact made through `serve`) copied whole. Refused while `serve` holds the data
//! directory and into a schema that holds rows; after the copy every
//! table equals the SQLite one value for value (ciphertext too), `report`
//! writes the same numbers, and `serve` on PostgreSQL carries on: the
//! operator sees the referral, the next reference and the next contact id
//! follow the copied ones.

mod common;
mod register;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::pg::Postgres;
use common::*;

const TABLES: &[&str] = &[
    "operators",
    "staff",
    "referrals",
    "care_events",
    "contacts",
    "contact_needs",
    "contact_services",
    "audit",
];

type Rows = Vec<Vec<Option<String>>>;

fn sqlite_rows(db: &rusqlite::Connection, table: &str) -> (Vec<String>, Rows) {
    let mut st = db.prepare(&format!("SELECT * FROM {table}")).unwrap();
    let cols: Vec<String> = st.column_names().map(str::to_string).collect();
    let mut rows: Rows = st
        .query_map([], |r| {
            (0..cols.len())
                .map(|i| {
                    use rusqlite::types::Value;
                    Ok(match r.get::<_, Value>(i)? {
                        Value::Null => None,
                        Value::Integer(n) => Some(n.to_string()),
                        Value::Real(x) => Some(x.to_string()),
                        Value::Text(s) => Some(s),
                        Value::Blob(b) => Some(format!(
                            "\\x{}",
                            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
                        )),
                    })
                })
                .collect()
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    rows.sort();
    (cols, rows)
}

fn pg_rows(pg: &mut postgres::Client, table: &str, cols: &[String], skip_copy_line: bool) -> Rows {
    let list: Vec<String> = cols.iter().map(|c| format!("{c}::text")).collect();
    let filter = if skip_copy_line {
        " WHERE action <> 'store.copy_from_sqlite'"
    } else {
        ""
    };
    let mut rows: Rows = pg
        .query(
            &format!("SELECT {} FROM inbox.{table}{filter}", list.join(", ")),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (0..cols.len()).map(|i| r.get(i)).collect())
        .collect();
    rows.sort();
    rows
}

fn report_json(fx: &Fixture, out: &Path) -> serde_json::Value {
    bin(&[
        "report",
        "--config",
        fx.config_str(),
        "--from",
        "2024-01-01",
        "--to",
        "2025-12-31",
        "--out",
        out.to_str().unwrap(),
    ])
    .unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("generated_at");
    v
}

fn copy(fx: &Fixture) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sportello-inbox"))
        .args(["store", "copy-to-postgres", "--config", fx.config_str()])
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqlite_inbox_is_copied_whole_into_an_empty_postgres() -> anyhow::Result<()> {
    let pg = tokio::task::block_in_place(Postgres::start)?;
    let fx = Fixture::new(100_000, 100_000)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    register::make(&fx.data_dir().join("inbox.sqlite"), 300, 11)?;

    // Through serve on SQLite: a sealed referral and a contact of today.
    let server = fx.start(&fx.dir.path().join("sqlite.log"))?;
    let mut g = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let reference = submit(&mut g, valid_fields("", "")).await?;
    let page = g.get("/contatti").await?;
    let csrf = hidden(&page.body, "csrf")?;
    let today = time::OffsetDateTime::now_utc().date();
    let day = sportello_inbox::contact::format_date(today);
    let fields: Vec<(String, String)> = [
        ("csrf", csrf.as_str()),
        ("day", &day),
        ("channel", "telefono"),
        ("user_category", "pensionato"),
        ("age_band", "75-84"),
        ("city_area", "centro"),
        ("need_areas", "casa"),
        ("outcome", "segnalato"),
        ("referral_reference", &reference),
        ("unmet_need", ""),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let r = g
        .request(
            "POST",
            "/contatti",
            &[("content-type", "application/x-www-form-urlencoded")],
            encode(&fields).into_bytes(),
        )
        .await?;
    assert_eq!(r.status, 303, "{}", r.body);
    let before = report_json(&fx, &fx.dir.path().join("report-sqlite"));

    // The target: a new database, named in [store].
    tokio::task::block_in_place(|| -> anyhow::Result<()> {
        Ok(pg.client()?.batch_execute("CREATE DATABASE moved")?)
    })?;
    let pw = fx.dir.path().join("pg-password");
    std::fs::copy(pg.config.password_file.as_ref().unwrap(), &pw)?;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600))?;
    let mut target = pg.config.clone();
    target.url = format!("postgresql://inbox@127.0.0.1:{}/moved", pg.port);
    fx.configure(
        &[],
        &format!(
            "\n[store]\nkind = \"postgres\"\nurl = \"{}\"\npassword_file = \"{}\"\nca_file = \"{}\"\n",
            target.url,
            pw.display(),
            pg.config.ca_file.display()
        ),
    )?;
    let client = || sportello_inbox::store::pg::connect(&target).unwrap();

    // Refused while serve holds the data directory.
    let out = tokio::task::block_in_place(|| copy(&fx));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("serve is using"), "{err}");
    drop(g);
    drop(server);

    // The copy.
    let out = tokio::task::block_in_place(|| copy(&fx));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sqlite = fx.db()?;
    let contacts: i64 = sqlite.query_row("SELECT COUNT(*) FROM contacts", [], |r| r.get(0))?;
    assert!(
        said.contains(&format!("contacts: {contacts} rows")),
        "{said}"
    );
    tokio::task::block_in_place(|| {
        let mut pg = client();
        for table in TABLES {
            let (cols, want) = sqlite_rows(&sqlite, table);
            assert!(!want.is_empty(), "{table} has rows to copy");
            let got = pg_rows(&mut pg, table, &cols, *table == "audit");
            assert_eq!(got.len(), want.len(), "{table}");
            assert!(got == want, "{table}: the copy differs");
        }
        let lines: i64 = pg
            .query_one(
                "SELECT COUNT(*) FROM inbox.audit WHERE action = 'store.copy_from_sqlite'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(lines, 1, "the copy is an audit line");
    });
    let sealed: i64 = sqlite.query_row(
        "SELECT COUNT(*) FROM referrals WHERE ciphertext IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(
        sealed, 1,
        "the served referral's ciphertext was compared too"
    );
    assert_eq!(
        report_json(&fx, &fx.dir.path().join("report-pg")),
        before,
        "report reads the same numbers from PostgreSQL"
    );

    // Into a schema that holds rows: refused, nothing added.
    let out = tokio::task::block_in_place(|| copy(&fx));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not empty"), "{err}");
    let n: i64 = tokio::task::block_in_place(|| {
        client()
            .query_one("SELECT COUNT(*) FROM inbox.contacts", &[])
            .unwrap()
            .get(0)
    });
    assert_eq!(n, contacts);

    // serve on PostgreSQL carries on where SQLite stopped.
    let server = fx.start(&fx.dir.path().join("pg.log"))?;
    let mut g = connect(server.https, &fx.ca, Some(&giulia)).await?;
    let mine = g.get("/segnalazioni").await?;
    assert!(
        mine.body.contains(&reference),
        "the copied referral is listed"
    );
    let next = submit(&mut g, valid_fields("", "")).await?;
    let number = |r: &str| r.rsplit('-').next().unwrap().parse::<u32>().unwrap();
    assert_eq!(
        number(&next),
        number(&reference) + 1,
        "{reference} then {next}"
    );
    let page = g.get("/contatti").await?;
    assert_eq!(page.body.matches("href=\"/contatti/").count(), 1);
    let mut again = fields.clone();
    set(&mut again, "csrf", &hidden(&page.body, "csrf")?);
    let r = g
        .request(
            "POST",
            "/contatti",
            &[("content-type", "application/x-www-form-urlencoded")],
            encode(&again).into_bytes(),
        )
        .await?;
    assert_eq!(
        r.status, 303,
        "a new contact after the copied ids: {}",
        r.body
    );
    let max: i64 = tokio::task::block_in_place(|| {
        client()
            .query_one("SELECT MAX(id) FROM inbox.contacts", &[])
            .unwrap()
            .get(0)
    });
    let copied_max: i64 = sqlite.query_row("SELECT MAX(id) FROM contacts", [], |r| r.get(0))?;
    assert_eq!(max, copied_max + 1);
    Ok(())
}
