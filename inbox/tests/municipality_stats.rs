//! Statistics and the meeting report of one municipality when the inbox
//! serves two: `stats` and `report --municipality SLUG` (the real binary)
//! and the "Statistiche" page (the real server) count only that
//! municipality's referrals and contacts, its small counts suppressed on
//! their own; an unknown slug, or none with two municipalities, exits 2.

mod common;

use std::process::{Command, Output};

use common::*;
use rusqlite::{params, Connection};
use serde_json::Value;
use sportello_inbox::contact::{AgeBand, Channel, NewContact, Outcome, UserCategory};
use sportello_inbox::store;
use time::macros::date;

/// Cremona's own desk, Castelverde's own desk, and one desk for both.
const TWO: &str = r#"
[[municipality]]
slug = "cremona"
name = "Comune di Cremona"
desks = ["via-mantova", "condivisa"]

[[municipality]]
slug = "castelverde"
name = "Comune di Castelverde"
desks = ["piazza-roma", "condivisa"]
"#;

const PERIOD: [&str; 4] = ["--from", "2025-01-01", "--to", "2025-12-31"];

/// Synthetic records of 2025:
/// - Cremona: 12 referrals from via-mantova (each with its contact, each
///   taken in charge) and 20 more contacts there;
/// - Castelverde: 2 referrals from piazza-roma and 1 from the shared desk
///   (each with its contact, each taken in charge), 6 more contacts at
///   piazza-roma;
/// - 6 contacts at the shared desk that led to no referral (no report
///   can tell whose they are).
fn seed(conn: &Connection) -> anyhow::Result<()> {
    let op = |desk: &str, n: u32| {
        store::insert_operator(
            conn,
            &format!("Operatore {desk}"),
            desk,
            &format!("serial-{n}"),
            &format!("sha-{n}"),
            "2030-01-01T00:00:00Z",
        )
    };
    let ops = [
        ("via-mantova", op("via-mantova", 1)?),
        ("piazza-roma", op("piazza-roma", 2)?),
        ("condivisa", op("condivisa", 3)?),
    ];
    let op_of = |desk: &str| ops.iter().find(|(d, _)| *d == desk).unwrap().1;
    let mut seq = 0;
    let mut referral = |desk: &str, municipality: &str| -> anyhow::Result<String> {
        seq += 1;
        let reference = format!("SEG-2025-{seq:06}");
        let created = format!("2025-03-{:02}T10:00:00Z", 1 + seq % 28);
        conn.execute(
            "INSERT INTO referrals(reference, created_at, desk, operator_id, need_area, urgency,
                 age_band, status, idempotency_key, municipality)
             VALUES (?1, ?2, ?3, ?4, 'casa', 'ordinary', '75-84', 'delivered', ?1, ?5)",
            params![reference, created, desk, op_of(desk), municipality],
        )?;
        let id = conn.last_insert_rowid();
        conn.execute(
            "INSERT INTO care_events(referral_id, at, state, staff_name)
             VALUES (?1, ?2, 'presa_in_carico', 'Staff')",
            params![id, format!("2025-03-{:02}T15:00:00Z", 1 + seq % 28)],
        )?;
        Ok(reference)
    };
    let contact = |desk: &str, reference: Option<String>| -> anyhow::Result<()> {
        let c = NewContact {
            day: date!(2025 - 03 - 10),
            channel: Channel::InPresenza,
            user_category: UserCategory::Pensionato,
            age_band: AgeBand::From75To84,
            city_area: "centro".into(),
            need_areas: vec!["non-autosufficienza".into()],
            services: Vec::new(),
            outcome: if reference.is_some() {
                Outcome::Segnalato
            } else {
                Outcome::Informato
            },
            referral_reference: reference,
            unmet_need: None,
        };
        store::contacts::insert_contact(conn, op_of(desk), &c)?;
        Ok(())
    };
    for _ in 0..12 {
        let r = referral("via-mantova", "cremona")?;
        contact("via-mantova", Some(r))?;
    }
    for _ in 0..20 {
        contact("via-mantova", None)?;
    }
    for desk in ["piazza-roma", "piazza-roma", "condivisa"] {
        let r = referral(desk, "castelverde")?;
        contact(desk, Some(r))?;
    }
    for _ in 0..6 {
        contact("piazza-roma", None)?;
        contact("condivisa", None)?;
    }
    Ok(())
}

fn two_municipalities() -> Fixture {
    let fx = Fixture::new(600, 100).unwrap();
    fx.configure(&[], TWO).unwrap();
    seed(&fx.db().unwrap()).unwrap();
    fx
}

fn run(fx: &Fixture, args: &[&str]) -> Output {
    Command::new(BIN)
        .args([args[0], "--config", fx.config_str()])
        .args(&args[1..])
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `report --municipality slug` into a new folder: its JSON and HTML.
fn report_of(fx: &Fixture, slug: &str) -> (Value, String) {
    let out = fx.dir.path().join(format!("report-{slug}"));
    let mut args = vec!["report"];
    args.extend(PERIOD);
    args.extend(["--municipality", slug, "--out", out.to_str().unwrap()]);
    let o = run(fx, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let json = std::fs::read_to_string(out.join("report.json")).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    (serde_json::from_str(&json).unwrap(), html)
}

fn table<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("no table {id}"))
}

/// The grand total of a table with desk columns and a "Totale" row.
fn grand(r: &Value, id: &str) -> Value {
    table(r, id)["totals"]
        .as_array()
        .unwrap_or_else(|| panic!("{id} has no totals"))
        .last()
        .unwrap()
        .clone()
}

/// Every count the report publishes is 0 or at least `min`.
fn no_small_count(r: &Value, min: u64) {
    for t in r["tables"].as_array().unwrap() {
        let rows = t["rows"].as_array().unwrap().iter().map(|x| &x["cells"]);
        for cells in rows.chain(t.get("totals").filter(|x| !x.is_null())) {
            for c in cells.as_array().unwrap() {
                if let Some(n) = c.as_u64() {
                    assert!(n == 0 || n >= min, "{} shows {n}: {t}", t["id"]);
                }
            }
        }
    }
}

#[test]
fn each_municipalitys_report_counts_only_its_own_and_hides_its_small_counts() {
    let fx = two_municipalities();
    let (cremona, cremona_html) = report_of(&fx, "cremona");
    let (castelverde, castelverde_html) = report_of(&fx, "castelverde");
    assert_eq!(cremona["municipality"], "Comune di Cremona");
    assert_eq!(castelverde["municipality"], "Comune di Castelverde");

    // Cremona: its 12 referrals, its 32 contacts; the shared desk a column
    // with none of them, Castelverde's desk not at all.
    assert_eq!(grand(&cremona, "segnalazioni-urgenza"), 12);
    assert_eq!(grand(&cremona, "esiti"), 32);
    assert_eq!(grand(&cremona, "presa-in-carico"), 12);
    assert_eq!(
        table(&cremona, "esiti")["columns"],
        serde_json::json!(["via-mantova", "condivisa", "Totale"])
    );
    assert!(!cremona_html.contains("piazza-roma"));
    assert!(cremona_html.contains("Comune di Cremona"));

    // Castelverde: 3 referrals, which the whole inbox's 15 would have
    // hidden among Cremona's: shown as "<5", as is each small cell; its
    // 9 contacts (6 + 2 + 1 at the shared desk that led to its referral).
    assert_eq!(grand(&castelverde, "segnalazioni-urgenza"), "<5");
    assert_eq!(grand(&castelverde, "presa-in-carico"), "<5");
    assert_eq!(grand(&castelverde, "esiti"), 9);
    assert!(!castelverde_html.contains("via-mantova"));
    assert!(!castelverde_html.contains("Comune di Cremona"));
    for r in [&cremona, &castelverde] {
        no_small_count(r, 5);
    }
    let care = castelverde["care_time"].as_array().unwrap();
    assert!(
        care.iter().all(|c| c["median_hours"].is_null()),
        "no care time of fewer than 5 referrals: {care:?}"
    );
}

#[test]
fn stats_count_one_municipalitys_referrals() {
    let fx = two_municipalities();
    let o = run(
        &fx,
        &["stats", "--by", "desk", "--municipality", "castelverde"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<Vec<String>> = stdout(&o)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    assert_eq!(
        rows,
        [["condivisa", "1"], ["piazza-roma", "2"]],
        "{}",
        stdout(&o)
    );
    let o = run(
        &fx,
        &["stats", "--by", "month", "--municipality", "cremona"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).split_whitespace().collect::<Vec<_>>(),
        ["2025-03", "12"]
    );
    let o = run(
        &fx,
        &[
            "stats",
            "--care-time",
            "--by",
            "desk",
            "--municipality",
            "cremona",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("via-mantova"), "{out}");
    assert!(
        !out.contains("piazza-roma") && !out.contains("condivisa"),
        "{out}"
    );
}

#[test]
fn an_unknown_or_missing_municipality_exits_2_and_lists_the_known_ones() {
    let fx = two_municipalities();
    let out = fx.dir.path().join("nothing");
    let o_str = out.to_str().unwrap();
    let mut report = vec!["report"];
    report.extend(PERIOD);
    report.extend(["--out", o_str]);
    let mut unknown_report = report.clone();
    unknown_report.extend(["--municipality", "soresina"]);
    for args in [
        vec!["stats", "--municipality", "soresina"],
        vec!["stats", "--care-time", "--municipality", "soresina"],
        unknown_report,
    ] {
        let o = run(&fx, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("soresina"), "{err}");
        assert!(
            err.contains("cremona") && err.contains("castelverde"),
            "{err}"
        );
        assert!(stdout(&o).is_empty());
    }
    // Two municipalities and no flag: never the two together.
    for args in [vec!["stats"], report] {
        let o = run(&fx, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("--municipality"), "{}", stderr(&o));
    }
    assert!(!out.exists(), "nothing written");
}

#[test]
fn one_municipality_needs_no_flag() {
    let fx = Fixture::new(600, 100).unwrap();
    let conn = fx.db().unwrap();
    seed(&conn).unwrap();
    let o = run(&fx, &["stats", "--by", "desk"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 3, "{}", stdout(&o));
    let o = run(&fx, &["stats", "--municipality", "comune"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = fx.dir.path().join("all");
    let mut args = vec!["report"];
    args.extend(PERIOD);
    args.extend(["--out", out.to_str().unwrap()]);
    let o = run(&fx, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(grand(&r, "segnalazioni-urgenza"), 15);
    assert!(r.get("municipality").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statistics_page_shows_one_municipality_of_the_referents_desk() -> anyhow::Result<()> {
    let fx = two_municipalities();
    // serve needs a key for each municipality.
    let key = fx.dir.path().join("castelverde.asc");
    std::fs::write(&key, staff_keys().public_armored)?;
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
    let shared = fx.add_operator("Giulia Esempio", "condivisa")?;
    let own = fx.add_operator("Paolo Esempio", "piazza-roma")?;
    for id in [shared.id, own.id] {
        bin(&[
            "operator",
            "set-role",
            "--config",
            fx.config_str(),
            &id.to_string(),
            "referent",
        ])?;
    }
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let period = "dal=2025-01-01&al=2025-12-31";

    // The shared desk's referent: either municipality, one at a time.
    let mut g = connect(server.https, &fx.ca, Some(&shared)).await?;
    let r = g
        .get(&format!("/statistiche?{period}&comune=castelverde"))
        .await?;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Comune di Castelverde"));
    assert!(r.body.contains("piazza-roma"));
    assert!(
        !r.body.contains("via-mantova"),
        "Cremona's desk on Castelverde's page"
    );
    assert!(
        r.body.contains("&#60;5") || r.body.contains("&lt;5"),
        "its 3 referrals shown as <5"
    );
    let r = g
        .get(&format!("/statistiche?{period}&comune=cremona"))
        .await?;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("via-mantova"));
    assert!(
        !r.body.contains("piazza-roma"),
        "Castelverde's desk on Cremona's page"
    );
    // By default the first of the desk's municipalities, never both.
    let r = g.get(&format!("/statistiche?{period}")).await?;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("piazza-roma"));

    // A referent of Castelverde's own desk cannot ask for Cremona's.
    let mut p = connect(server.https, &fx.ca, Some(&own)).await?;
    let r = p
        .get(&format!("/statistiche?{period}&comune=cremona"))
        .await?;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(!r.body.contains("via-mantova"), "{}", r.body);
    assert!(!r.body.contains("report-title"), "no report at all");
    assert!(!r.body.contains("Comune di Cremona"), "not offered either");
    let r = p.get(&format!("/statistiche?{period}")).await?;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Comune di Castelverde"));
    assert!(!r.body.contains("via-mantova"));
    Ok(())
}
