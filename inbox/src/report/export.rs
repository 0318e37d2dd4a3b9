//! CSV (one file per table) and JSON, with the same cells as the HTML.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::table::{Cell, JsonCell, Table};
use super::{check_out_dir, Report, ReportError};
use crate::contact::format_date;

#[derive(Debug, Clone, Serialize)]
pub struct JsonRow {
    pub label: String,
    /// One per column, then the row's total when the table has one.
    pub cells: Vec<JsonCell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JsonTable {
    pub id: String,
    pub title: String,
    pub row_head: String,
    /// Count columns, "Totale" included.
    pub columns: Vec<String>,
    pub rows: Vec<JsonRow>,
    /// The "Totale" row, if any.
    pub totals: Option<Vec<JsonCell>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JsonCare {
    pub label: String,
    pub taken: JsonCell,
    pub median_hours: Option<f64>,
    pub p90_hours: Option<f64>,
}

/// The JSON file: the same numbers as the HTML.
#[derive(Debug, Clone, Serialize)]
pub struct JsonReport {
    pub from: String,
    pub to: String,
    pub previous_from: String,
    pub previous_to: String,
    pub desk: Option<String>,
    /// The municipality's name (an inbox with several), else absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub municipality: Option<String>,
    pub min_cell: u64,
    /// What a hidden count is shown as: "<5" (1 to min_cell - 1) and "n.d.".
    pub small: String,
    pub hidden: String,
    pub generated_at: String,
    pub tables: Vec<JsonTable>,
    pub care_time: Vec<JsonCare>,
}

fn jcell(c: Cell, m: u64) -> JsonCell {
    match c {
        Cell::Count(n) => JsonCell::Count(n),
        other => JsonCell::Text(other.text(m)),
    }
}

fn jtable(t: &Table, m: u64) -> JsonTable {
    JsonTable {
        id: t.id.to_string(),
        title: t.title.clone(),
        row_head: t.row_head.clone(),
        columns: t.headers(),
        rows: t
            .rows_with_cells()
            .map(|(label, cells)| JsonRow {
                label: label.to_string(),
                cells: cells.iter().map(|&c| jcell(c, m)).collect(),
            })
            .collect(),
        totals: t
            .totals_row()
            .map(|r| r.iter().map(|&c| jcell(c, m)).collect()),
    }
}

pub fn json(r: &Report) -> JsonReport {
    let m = r.min_cell;
    JsonReport {
        from: format_date(r.from),
        to: format_date(r.to),
        previous_from: format_date(r.prev_from),
        previous_to: format_date(r.prev_to),
        desk: r.desk.clone(),
        municipality: r.municipality.clone(),
        min_cell: m,
        small: Cell::Small.text(m),
        hidden: Cell::Hidden.text(m),
        generated_at: r.generated_at.clone(),
        tables: r.all_tables().map(|t| jtable(t, m)).collect(),
        care_time: r
            .care
            .iter()
            .map(|c| JsonCare {
                label: c.label.clone(),
                taken: jcell(c.taken, m),
                median_hours: c.median_hours.map(round1),
                p90_hours: c.p90_hours.map(round1),
            })
            .collect(),
    }
}

pub fn round1(h: f64) -> f64 {
    (h * 10.0).round() / 10.0
}

/// RFC 4180: quoted when it holds a comma, a quote or a line break.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn line(out: &mut String, fields: impl IntoIterator<Item = String>) {
    let v: Vec<String> = fields.into_iter().map(|f| field(&f)).collect();
    out.push_str(&v.join(","));
    out.push_str("\r\n");
}

fn csv(t: &Table, m: u64) -> String {
    let mut out = String::new();
    line(
        &mut out,
        std::iter::once(t.row_head.clone()).chain(t.headers()),
    );
    for (label, cells) in t.rows_with_cells() {
        line(
            &mut out,
            std::iter::once(label.to_string()).chain(cells.iter().map(|c| c.text(m))),
        );
    }
    if let Some(tot) = t.totals_row() {
        line(
            &mut out,
            std::iter::once("Totale".to_string()).chain(tot.iter().map(|c| c.text(m))),
        );
    }
    out
}

fn care_csv(r: &Report) -> String {
    let mut out = String::new();
    line(
        &mut out,
        [
            "Sportello",
            "Prese in carico",
            "Ore mediane",
            "Ore (90° percentile)",
        ]
        .map(String::from),
    );
    let h = |v: Option<f64>| v.map_or_else(|| "n.d.".to_string(), |h| format!("{:.1}", round1(h)));
    for c in &r.care {
        line(
            &mut out,
            [
                c.label.clone(),
                c.taken.text(r.min_cell),
                h(c.median_hours),
                h(c.p90_hours),
            ],
        );
    }
    out
}

pub fn csv_files(r: &Report) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = r
        .tables
        .iter()
        .map(|t| (format!("{}.csv", t.id), csv(t, r.min_cell)))
        .collect();
    files.push(("presa-in-carico.csv".into(), care_csv(r)));
    files
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn write_dir(r: &Report, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    check_out_dir(dir)?;
    let html = r.html_document()?;
    let json =
        serde_json::to_string_pretty(&r.json()).map_err(|e| ReportError::Render(e.to_string()))?;
    let mut files = vec![
        ("report.html".to_string(), html),
        ("report.json".to_string(), json),
    ];
    files.extend(csv_files(r));
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dir
        .file_name()
        .map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        std::fs::create_dir(&tmp).map_err(io(&tmp))?;
        for (f, content) in &files {
            let p = tmp.join(f);
            let mut file = std::fs::File::create(&p).map_err(io(&p))?;
            file.write_all(content.as_bytes()).map_err(io(&p))?;
            file.sync_all().map_err(io(&p))?;
        }
        // Still empty or absent (checked again just before the rename,
        // which replaces an empty folder and fails on a full one).
        check_out_dir(dir)?;
        std::fs::rename(&tmp, dir).map_err(io(dir))?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    Ok(files.into_iter().map(|(f, _)| dir.join(f)).collect())
}
