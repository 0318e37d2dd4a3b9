//! The meeting report: what the desks recorded in a period, by desk and
//! overall, with small counts suppressed (see `suppress`). One
//! self-contained HTML file with SVG charts, a CSV per table and the same
//! numbers as JSON; the same HTML body for the "Statistiche" page.

mod aggregate;
mod charts;
mod export;
mod html;
pub mod suppress;
pub mod table;
mod whose;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use time::Date;

pub use aggregate::months;
pub use export::JsonReport;
pub use table::{Cell, Table};
pub use whose::Whose;

use crate::config::Config;
use crate::contact::format_date;

/// The longest period one report may cover.
pub const MAX_DAYS: i64 = 3_660;

/// Why no report was made. The first six are the caller's mistake
/// (`sportello-inbox report` exits with 2 for them).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the period is reversed: --from {from} is after --to {to}")]
    Reversed { from: String, to: String },
    #[error("the period from {from} to {to} is longer than {MAX_DAYS} days")]
    TooLong { from: String, to: String },
    #[error("unknown desk {0:?}: no operator, contact or referral has it (see `operator list`)")]
    UnknownDesk(String),
    #[error("min_cell = {0}: it must be at least 3")]
    MinCell(u32),
    #[error("the output folder {0} exists and is not empty: choose a new or empty folder")]
    OutputNotEmpty(PathBuf),
    #[error("the folder {0} (where the output folder goes) does not exist")]
    NoParent(PathBuf),
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot render the report: {0}")]
    Render(String),
}

impl ReportError {
    /// A mistake in what was asked (not a failure of the machine).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            ReportError::Reversed { .. }
                | ReportError::TooLong { .. }
                | ReportError::UnknownDesk(_)
                | ReportError::MinCell(_)
                | ReportError::OutputNotEmpty(_)
                | ReportError::NoParent(_)
        )
    }
}

/// Labels of the configured need areas and of the guide's services.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// (slug, label) in the configured order.
    pub need_areas: Vec<(String, String)>,
    /// slug -> title.
    pub services: BTreeMap<String, String>,
}

impl Names {
    /// From `[form]`: need areas, and `services_json` if set.
    pub fn from_config(cfg: &Config) -> anyhow::Result<Names> {
        let services = match &cfg.form.services_json {
            Some(p) => crate::form::load_services(p)?,
            None => Vec::new(),
        };
        Ok(Names {
            need_areas: cfg
                .form
                .need_areas
                .iter()
                .map(|c| (c.slug.clone(), c.label.clone()))
                .collect(),
            services: services.into_iter().map(|s| (s.slug, s.title)).collect(),
        })
    }

    fn need_rows(&self) -> Vec<(String, String)> {
        self.need_areas.clone()
    }

    fn service(&self, slug: &str) -> String {
        self.services
            .get(slug)
            .cloned()
            .unwrap_or_else(|| slug.to_string())
    }
}

/// Hours to the first "presa in carico" of one desk or of all: only when
/// the number taken in charge is published.
#[derive(Debug, Clone, PartialEq)]
pub struct CareRow {
    pub label: String,
    pub taken: Cell,
    pub median_hours: Option<f64>,
    pub p90_hours: Option<f64>,
}

/// A built report: every number already suppressed.
#[derive(Debug, Clone)]
pub struct Report {
    pub from: Date,
    pub to: Date,
    /// The previous period of the same length (for the needs).
    pub prev_from: Date,
    pub prev_to: Date,
    /// The desk of a one-desk report.
    pub desk: Option<String>,
    /// The municipality of the report (several configured), by name.
    pub municipality: Option<String>,
    /// The desks shown as columns.
    pub desks: Vec<String>,
    pub min_cell: u64,
    pub tables: Vec<Table>,
    /// The counts taken in charge, as a table (desks, "Totale").
    pub care_table: Table,
    pub care: Vec<CareRow>,
    /// When it was made (RFC 3339, UTC).
    pub generated_at: String,
}

/// Every desk known to the inbox: of an operator, a contact or a referral.
pub fn desks(conn: &Connection) -> Result<Vec<String>, ReportError> {
    let mut stmt = conn.prepare(
        "SELECT desk FROM operators UNION SELECT desk FROM contacts
         UNION SELECT desk FROM referrals ORDER BY 1",
    )?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Checks a period; returns the previous period of the same length.
pub fn check_period(from: Date, to: Date) -> Result<(Date, Date), ReportError> {
    if from > to {
        return Err(ReportError::Reversed {
            from: format_date(from),
            to: format_date(to),
        });
    }
    let days = (to - from).whole_days() + 1;
    let too_long = || ReportError::TooLong {
        from: format_date(from),
        to: format_date(to),
    };
    if days > MAX_DAYS {
        return Err(too_long());
    }
    let prev_to = from.previous_day().ok_or_else(too_long)?;
    let prev_from = from
        .checked_sub(time::Duration::days(days))
        .ok_or_else(too_long)?;
    Ok((prev_from, prev_to))
}

impl Report {
    /// Counts everything §2 of the meeting report lists for the contacts
    /// recorded from `from` to `to` (both included) and the referrals sent
    /// in those days, of one desk or of all, and suppresses small counts.
    pub fn build(
        conn: &Connection,
        from: Date,
        to: Date,
        desk: Option<&str>,
        min_cell: u32,
        names: &Names,
    ) -> Result<Report, ReportError> {
        Report::build_for(conn, from, to, desk, None, min_cell, names)
    }

    /// [`Report::build`] of one municipality's referrals and contacts
    /// (`None`: all of them), its desks as the columns. The small counts
    /// are suppressed in these numbers, so each municipality's report hides
    /// its own small counts.
    pub fn build_for(
        conn: &Connection,
        from: Date,
        to: Date,
        desk: Option<&str>,
        municipality: Option<&Whose>,
        min_cell: u32,
        names: &Names,
    ) -> Result<Report, ReportError> {
        if min_cell < 3 {
            return Err(ReportError::MinCell(min_cell));
        }
        let (prev_from, prev_to) = check_period(from, to)?;
        let known = match municipality {
            Some(w) => w.desks.clone(),
            None => desks(conn)?,
        };
        let desks = match desk {
            Some(d) if known.iter().any(|k| k == d) => vec![d.to_string()],
            Some(d) => return Err(ReportError::UnknownDesk(d.to_string())),
            None if known.is_empty() => vec!["-".to_string()],
            None => known,
        };
        let scope = aggregate::Scope {
            from,
            to,
            prev_from,
            prev_to,
            desk: desk.map(str::to_string),
            desks,
            municipality: municipality.cloned(),
        };
        let mut tables = aggregate::tables(conn, &scope, names)?;
        let m = u64::from(min_cell);
        let hours = crate::stats::care_hours_by_desk(
            conn,
            &format_date(from),
            &format_date(to),
            desk,
            municipality.map(|w| w.slug.as_str()),
        )
        .map_err(|e| ReportError::Render(format!("{e:#}")))?;
        let mut care_table = Table::new(
            "presa-in-carico",
            "Segnalazioni prese in carico",
            "Sportello",
            scope.desks.clone(),
            vec!["Prese in carico".into()],
            scope
                .desks
                .iter()
                .map(|d| vec![hours.get(d).map_or(0, |v| v.len() as u64)])
                .collect(),
            false,
            true,
        );
        for (j, d) in scope.desks.iter().enumerate() {
            let key = if scope.desks.len() == 1 {
                "care:all".to_string()
            } else {
                format!("care:desk:{d}")
            };
            care_table.key((j, 0), key);
        }
        if let Some(at) = care_table.grand_at() {
            care_table.key(at, "care:all");
        }
        tables.push(care_table);
        table::suppress_all(&mut tables, m);
        let care_table = tables.pop().expect("the care table was pushed");
        let mut care = Vec::new();
        let mut all = Vec::new();
        for (i, d) in scope.desks.iter().enumerate() {
            let v = hours.get(d).cloned().unwrap_or_default();
            all.extend_from_slice(&v);
            care.push(care_row(d.clone(), care_table.cell(i, 0), v));
        }
        if care_table.col_totals {
            let at = care_table.grand_at().expect("a totals row");
            care.push(care_row(
                "Tutti gli sportelli".into(),
                care_table.cell(at.0, at.1),
                all,
            ));
        }
        Ok(Report {
            from,
            to,
            prev_from,
            prev_to,
            desk: scope.desk,
            municipality: municipality.map(|w| w.name.clone()),
            desks: scope.desks,
            min_cell: m,
            tables,
            care_table,
            care,
            generated_at: crate::store::now_rfc3339(),
        })
    }

    /// The table with this id.
    pub fn table(&self, id: &str) -> Option<&Table> {
        self.tables
            .iter()
            .chain(std::iter::once(&self.care_table))
            .find(|t| t.id == id)
    }

    /// Every table, the one of the "presa in carico" last.
    pub fn all_tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.iter().chain(std::iter::once(&self.care_table))
    }

    /// The whole HTML file: no script, nothing from another origin.
    pub fn html_document(&self) -> Result<String, ReportError> {
        html::document(self)
    }

    /// The same body without `<html>`/`<head>` (for a page of the inbox,
    /// which adds [`Report::css`] to its own stylesheet).
    pub fn html_section(&self) -> Result<String, ReportError> {
        html::section(self)
    }

    /// The same body for a page of the inbox under its own `<h1>`: the
    /// report's headings one level down.
    pub fn html_section_in_page(&self) -> Result<String, ReportError> {
        html::section_in_page(self)
    }

    /// The report's stylesheet (screen and A4 print).
    pub fn css() -> &'static str {
        html::CSS
    }

    /// The same numbers as the HTML, as JSON.
    pub fn json(&self) -> JsonReport {
        export::json(self)
    }

    /// (file name, content) of each table as CSV.
    pub fn csv_files(&self) -> Vec<(String, String)> {
        export::csv_files(self)
    }

    /// Writes `report.html`, `report.json` and one CSV per table into
    /// `dir`, which must not exist or be empty. All or nothing: the files
    /// are written to a new folder next to it, then renamed into place.
    pub fn write_dir(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        export::write_dir(self, dir)
    }

    /// "dal 1 gennaio 2026 al 31 dicembre 2026".
    pub fn period_text(&self) -> String {
        format!(
            "dal {} al {}",
            html::long_date(self.from),
            html::long_date(self.to)
        )
    }
}

fn care_row(label: String, taken: Cell, hours: Vec<f64>) -> CareRow {
    let t = crate::stats::CareTime::of(label.clone(), hours);
    let shown = taken.count().is_some_and(|n| n > 0);
    CareRow {
        label,
        taken,
        median_hours: shown.then_some(t.median_hours),
        p90_hours: shown.then_some(t.p90_hours),
    }
}

/// Refuses an output folder that exists and is not empty.
pub fn check_out_dir(dir: &Path) -> Result<(), ReportError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                Err(ReportError::OutputNotEmpty(dir.to_path_buf()))
            } else {
                Ok(())
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            if parent.is_dir() {
                Ok(())
            } else {
                Err(ReportError::NoParent(parent.to_path_buf()))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            Err(ReportError::OutputNotEmpty(dir.to_path_buf()))
        }
        Err(source) => Err(ReportError::Io {
            path: dir.to_path_buf(),
            source,
        }),
    }
}
