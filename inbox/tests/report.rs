//! The meeting report over a synthetic register (2,000 contacts, two
//! years, three desks, inserted through the store's API): every published
//! number equals an independent SQL count written here, small counts are
//! never published, the HTML is self-contained and the CSV parses with
//! Python's `csv`.

mod register;

use std::process::Command;

use rusqlite::Connection;
use serde_json::Value;
use sportello_inbox::contact::{format_date, AgeBand, Channel, Outcome, UserCategory};
use sportello_inbox::report::{months, Report};
use time::macros::date;
use time::Date;

fn count(conn: &Connection, base: &str, conds: &[&str]) -> u64 {
    let mut sql = base.to_string();
    for c in conds {
        sql.push_str(" AND ");
        sql.push_str(c);
    }
    let n: i64 = conn
        .query_row(&format!("SELECT COUNT(*) {sql}"), [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    n as u64
}

#[derive(Default, Debug)]
struct Seen {
    shown: usize,
    small: usize,
    hidden: usize,
}

/// A published cell against the true count.
fn check(cell: &Value, n: u64, what: &str, seen: &mut Seen) {
    match cell {
        Value::Number(x) => {
            assert_eq!(x.as_u64(), Some(n), "{what}");
            assert!(n == 0 || n >= 5, "{what}: {n} published");
            seen.shown += 1;
        }
        Value::String(s) if s == "<5" => {
            assert!((1..5).contains(&n), "{what}: {n} shown as <5");
            seen.small += 1;
        }
        Value::String(s) if s == "n.d." => {
            assert!(n >= 1, "{what}: a zero hidden as n.d.");
            seen.hidden += 1;
        }
        other => panic!("{what}: unexpected cell {other}"),
    }
}

struct Spec {
    base: String,
    rows: Vec<String>,
    cols: Vec<String>,
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn specs(conn: &Connection, from: Date, to: Date, desk: Option<&str>) -> Vec<(&'static str, Spec)> {
    let (f, t) = (format_date(from), format_date(to));
    let len = (to - from).whole_days() + 1;
    let (pf, pt) = (
        format_date(from - time::Duration::days(len)),
        format_date(from - time::Duration::days(1)),
    );
    let dc = |col: &str| desk.map_or(String::new(), |d| format!(" AND {col} = {}", q(d)));
    let contacts = format!(
        "FROM contacts c WHERE c.day >= '{f}' AND c.day <= '{t}'{}",
        dc("c.desk")
    );
    let needs_any = format!(
        "FROM contacts c JOIN contact_needs n ON n.contact_id = c.id WHERE 1 = 1{}",
        dc("c.desk")
    );
    let needs = format!("{needs_any} AND c.day >= '{f}' AND c.day <= '{t}'");
    let services = format!("FROM contact_services s JOIN contacts c ON c.id = s.contact_id WHERE c.day >= '{f}' AND c.day <= '{t}'{}", dc("c.desk"));
    let referrals = format!(
        "FROM referrals r WHERE date(r.created_at) >= '{f}' AND date(r.created_at) <= '{t}'{}",
        dc("r.desk")
    );
    let desks: Vec<String> = match desk {
        Some(d) => vec![d.to_string()],
        None => register::DESKS
            .iter()
            .map(|d| d.to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    let by_desk = |col: &str| {
        desks
            .iter()
            .map(|d| format!("{col} = {}", q(d)))
            .collect::<Vec<_>>()
    };
    let eq = |col: &str, vals: Vec<String>| {
        vals.iter()
            .map(|v| format!("{col} = {}", q(v)))
            .collect::<Vec<_>>()
    };
    let ms = months(from, to);
    let mut top: Vec<(String, i64)> = conn
        .prepare(&format!(
            "SELECT s.service, COUNT(*) {services} GROUP BY s.service"
        ))
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(10);
    let slugs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let state = "COALESCE((SELECT x.state FROM care_events x WHERE x.id =
                   (SELECT MAX(y.id) FROM care_events y WHERE y.referral_id = r.id)), 'in_attesa')";
    let mut out = Vec::new();
    if desk.is_none() {
        out.push((
            "contatti-mese-sportello",
            Spec {
                base: contacts.clone(),
                rows: eq("substr(c.day, 1, 7)", ms.clone()),
                cols: by_desk("c.desk"),
            },
        ));
    }
    out.push((
        "contatti-mese-canale",
        Spec {
            base: contacts.clone(),
            rows: eq("substr(c.day, 1, 7)", ms),
            cols: eq(
                "c.channel",
                Channel::ALL.iter().map(|c| c.slug().to_string()).collect(),
            ),
        },
    ));
    out.push((
        "tipologia-utenza",
        Spec {
            base: contacts.clone(),
            rows: eq(
                "c.user_category",
                UserCategory::ALL
                    .iter()
                    .map(|c| c.slug().to_string())
                    .collect(),
            ),
            cols: by_desk("c.desk"),
        },
    ));
    out.push((
        "fasce-eta",
        Spec {
            base: contacts.clone(),
            rows: eq(
                "c.age_band",
                AgeBand::ALL.iter().map(|c| c.slug().to_string()).collect(),
            ),
            cols: by_desk("c.desk"),
        },
    ));
    out.push((
        "esiti",
        Spec {
            base: contacts.clone(),
            rows: eq(
                "c.outcome",
                Outcome::ALL.iter().map(|c| c.slug().to_string()).collect(),
            ),
            cols: by_desk("c.desk"),
        },
    ));
    out.push((
        "bisogni",
        Spec {
            base: needs,
            rows: eq("n.need_area", slugs(&register::NEEDS)),
            cols: by_desk("c.desk"),
        },
    ));
    out.push((
        "bisogni-confronto",
        Spec {
            base: needs_any,
            rows: eq("n.need_area", slugs(&register::NEEDS)),
            cols: vec![
                format!("c.day BETWEEN '{pf}' AND '{pt}'"),
                format!("c.day BETWEEN '{f}' AND '{t}'"),
            ],
        },
    ));
    out.push((
        "servizi",
        Spec {
            base: services,
            rows: eq("s.service", top.into_iter().map(|t| t.0).collect()),
            cols: by_desk("c.desk"),
        },
    ));
    out.push((
        "bisogni-non-coperti",
        Spec {
            base: format!("{contacts} AND c.unmet_need IS NOT NULL"),
            rows: eq("c.unmet_need", slugs(&register::NEEDS)),
            cols: by_desk("c.desk"),
        },
    ));
    out.push((
        "segnalazioni-urgenza",
        Spec {
            base: referrals.clone(),
            rows: eq("r.urgency", slugs(&["ordinary", "urgent"])),
            cols: by_desk("r.desk"),
        },
    ));
    out.push((
        "segnalazioni-stato",
        Spec {
            base: referrals.clone(),
            rows: eq(
                state,
                slugs(&[
                    "in_attesa",
                    "presa_in_carico",
                    "non_di_competenza",
                    "non_rintracciabile",
                    "chiusa",
                ]),
            ),
            cols: by_desk("r.desk"),
        },
    ));
    out.push(("presa-in-carico", Spec {
        base: format!("{referrals} AND EXISTS (SELECT 1 FROM care_events e WHERE e.referral_id = r.id AND e.state = 'presa_in_carico')"),
        rows: by_desk("r.desk"),
        cols: vec!["1 = 1".into()],
    }));
    out
}

/// Checks every cell of every table of `json` against SQL; returns the tally.
fn check_all(conn: &Connection, json: &Value, from: Date, to: Date, desk: Option<&str>) -> Seen {
    let mut seen = Seen::default();
    let tables = json["tables"].as_array().unwrap();
    let specs = specs(conn, from, to, desk);
    assert_eq!(tables.len(), specs.len(), "one table per spec");
    for (id, spec) in specs {
        let t = tables
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("no table {id}"));
        let rows = t["rows"].as_array().unwrap();
        assert_eq!(rows.len(), spec.rows.len(), "{id}: rows");
        let columns = t["columns"].as_array().unwrap().len();
        let has_total_col = columns == spec.cols.len() + 1;
        assert!(has_total_col || columns == spec.cols.len(), "{id}: columns");
        for (i, row) in rows.iter().enumerate() {
            let cells = row["cells"].as_array().unwrap();
            assert_eq!(cells.len(), columns);
            for (j, col) in spec.cols.iter().enumerate() {
                let n = count(conn, &spec.base, &[&spec.rows[i], col]);
                check(&cells[j], n, &format!("{id}[{i}][{j}]"), &mut seen);
            }
            if has_total_col {
                let n = count(conn, &spec.base, &[&spec.rows[i]]);
                check(
                    &cells[columns - 1],
                    n,
                    &format!("{id}[{i}][total]"),
                    &mut seen,
                );
            }
        }
        if let Some(tot) = t["totals"].as_array() {
            for (j, col) in spec.cols.iter().enumerate() {
                let n = count(conn, &spec.base, &[col]);
                check(&tot[j], n, &format!("{id}[total][{j}]"), &mut seen);
            }
            if has_total_col {
                let n = count(conn, &spec.base, &[]);
                check(
                    &tot[columns - 1],
                    n,
                    &format!("{id}[total][total]"),
                    &mut seen,
                );
            }
        }
    }
    check_care_times(conn, json, from, to, desk);
    seen
}

/// Nearest rank, written again here.
fn nearest_rank(v: &[f64], p: f64) -> f64 {
    let k = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[k.clamp(1, v.len()) - 1]
}

fn check_care_times(conn: &Connection, json: &Value, from: Date, to: Date, desk: Option<&str>) {
    let (f, t) = (format_date(from), format_date(to));
    let hours = |d: Option<&str>| -> Vec<f64> {
        let mut v: Vec<f64> = conn
            .prepare(
                "SELECT (julianday(MIN(e.at)) - julianday(r.created_at)) * 24 FROM referrals r
                 JOIN care_events e ON e.referral_id = r.id AND e.state = 'presa_in_carico'
                 WHERE date(r.created_at) BETWEEN ?1 AND ?2 AND (?3 IS NULL OR r.desk = ?3)
                 GROUP BY r.id",
            )
            .unwrap()
            .query_map(rusqlite::params![f, t, d], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    for row in json["care_time"].as_array().unwrap() {
        let label = row["label"].as_str().unwrap();
        let d = if label == "Tutti gli sportelli" {
            desk
        } else {
            Some(label)
        };
        let v = hours(d);
        if row["taken"].is_u64() && !v.is_empty() {
            assert_eq!(row["taken"].as_u64(), Some(v.len() as u64));
            for (key, p) in [("median_hours", 50.0), ("p90_hours", 90.0)] {
                let got = row[key].as_f64().unwrap();
                assert!(
                    (got - nearest_rank(&v, p)).abs() < 0.051,
                    "{label} {key}: {got} vs {}",
                    nearest_rank(&v, p)
                );
            }
        } else {
            assert!(
                row["median_hours"].is_null() && row["p90_hours"].is_null(),
                "{row}"
            );
        }
    }
}

fn build(conn: &Connection, from: Date, to: Date, desk: Option<&str>) -> (Report, Value) {
    let r = Report::build(conn, from, to, desk, 5, &register::names()).unwrap();
    let json = serde_json::to_value(r.json()).unwrap();
    (r, json)
}

#[test]
fn every_published_number_equals_an_independent_count() {
    let dir = tempfile::tempdir().unwrap();
    let conn = register::make(&dir.path().join("r.sqlite"), 2_000, 12).unwrap();
    assert_eq!(count(&conn, "FROM contacts WHERE 1 = 1", &[]), 2_000);

    // The two years, every desk and all together.
    let (from, to) = (date!(2024 - 01 - 01), date!(2025 - 12 - 31));
    let (_, json) = build(&conn, from, to, None);
    let seen = check_all(&conn, &json, from, to, None);
    assert!(seen.shown > 300, "{seen:?}");
    assert!(
        seen.small > 0 && seen.hidden > 0,
        "suppression exercised: {seen:?}"
    );
    assert_eq!(
        json["tables"][0]["totals"]
            .as_array()
            .unwrap()
            .last()
            .unwrap(),
        2_000
    );

    // Half a year of one desk (the previous half year for the needs).
    let (from, to) = (date!(2025 - 03 - 01), date!(2025 - 08 - 31));
    let (_, json) = build(&conn, from, to, Some("stazione"));
    let seen = check_all(&conn, &json, from, to, Some("stazione"));
    assert!(seen.small > 0, "{seen:?}");
    assert_eq!(json["desk"], "stazione");
}

#[test]
fn the_html_is_self_contained_and_the_section_is_its_body() {
    let dir = tempfile::tempdir().unwrap();
    let conn = register::make(&dir.path().join("r.sqlite"), 400, 3).unwrap();
    let (r, _) = build(&conn, date!(2024 - 01 - 01), date!(2024 - 12 - 31), None);
    let doc = r.html_document().unwrap();
    let section = r.html_section().unwrap();
    assert!(doc.starts_with("<!DOCTYPE html>") && doc.contains("<html lang=\"it\">"));
    assert!(doc.contains(&section), "the document holds the section");
    assert!(!section.contains("<html") && !section.contains("<head"));
    // The SVG namespace is a name, not a place anything is loaded from.
    let lower = doc
        .to_lowercase()
        .replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for bad in ["<script", "http://", "https://", "src=", "@import", "url("] {
        assert!(!lower.contains(bad), "{bad} in the report");
    }
    // One chart per table, each described by its sentence.
    let svgs = doc.matches("<svg ").count();
    assert_eq!(svgs, r.all_tables().count());
    for t in r.all_tables() {
        assert!(
            doc.contains(&format!("aria-labelledby=\"{}-s\"", t.id)),
            "{}",
            t.id
        );
        assert!(doc.contains(&format!("id=\"{}-s\"", t.id)), "{}", t.id);
    }
    assert!(doc.contains("@page") && doc.contains("A4"));
}

#[test]
fn the_csv_files_parse_with_python_and_match_the_json() {
    let dir = tempfile::tempdir().unwrap();
    let conn = register::make(&dir.path().join("r.sqlite"), 600, 5).unwrap();
    let (r, _) = build(&conn, date!(2024 - 01 - 01), date!(2025 - 12 - 31), None);
    let out = dir.path().join("out");
    let files = r.write_dir(&out).unwrap();
    assert!(files.iter().any(|f| f.ends_with("report.html")));
    let script = r#"
import csv, json, pathlib, sys
out = pathlib.Path(sys.argv[1])
report = json.loads((out / "report.json").read_text(encoding="utf-8"))
def text(c):
    return str(c) if isinstance(c, int) else c
n = 0
for t in report["tables"]:
    if t["id"] == "presa-in-carico":
        continue
    with open(out / (t["id"] + ".csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, strict=True))
    assert rows[0] == [t["row_head"]] + t["columns"], (t["id"], rows[0])
    body = rows[1:]
    want = [[r["label"]] + [text(c) for c in r["cells"]] for r in t["rows"]]
    if t["totals"] is not None:
        want.append(["Totale"] + [text(c) for c in t["totals"]])
    assert body == want, (t["id"], body, want)
    n += 1
with open(out / "presa-in-carico.csv", newline="", encoding="utf-8") as f:
    rows = list(csv.reader(f, strict=True))
assert len(rows) == 1 + len(report["care_time"]), rows
print(n)
"#;
    let run = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let n: usize = String::from_utf8_lossy(&run.stdout).trim().parse().unwrap();
    assert_eq!(n, r.tables.len());
}
