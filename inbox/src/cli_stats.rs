//! `stats` and `report`: the counts for the meetings, of one municipality
//! when the inbox serves several.

use std::path::Path;

use anyhow::Result;

use crate::config::Config;
use crate::report::{self, Whose};
use crate::stats::{self, GroupBy};
use crate::store;

/// The metadata (on PostgreSQL, a read-only copy in memory), with the
/// rows from before municipalities given to the first one when the counts
/// are of one municipality.
fn open(cfg: &Config, whose: Option<&Whose>) -> Result<rusqlite::Connection> {
    let conn = store::db::Db::open(cfg)?.metadata()?;
    if whose.is_some() {
        crate::municipality::adopt_earlier_rows(&conn, &cfg.municipalities())?;
    }
    Ok(conn)
}

pub fn stats(
    cfg: &Config,
    by: GroupBy,
    year: Option<i32>,
    care_time: bool,
    municipality: Option<&str>,
) -> Result<()> {
    let whose = Whose::of(cfg, municipality)?;
    let conn = open(cfg, whose.as_ref())?;
    let slug = whose.as_ref().map(|w| w.slug.as_str());
    if care_time {
        println!(
            "{:<24} {:>8} {:>12} {:>12}",
            "", "taken", "median (h)", "p90 (h)"
        );
        for t in stats::care_times(&conn, by, year, slug)? {
            println!(
                "{:<24} {:>8} {:>12.1} {:>12.1}",
                t.key, t.taken, t.median_hours, t.p90_hours
            );
        }
    } else {
        for (k, n) in stats::counts(&conn, by, year, slug)? {
            println!("{k:<24} {n:>8}");
        }
    }
    Ok(())
}

pub fn report(
    cfg: &Config,
    from: time::Date,
    to: time::Date,
    desk: Option<&str>,
    out: &Path,
    municipality: Option<&str>,
) -> Result<()> {
    // Refused before anything is read or written.
    let whose = Whose::of(cfg, municipality)?;
    report::check_period(from, to)?;
    report::check_out_dir(out)?;
    let names = report::Names::from_config(cfg)?;
    let conn = open(cfg, whose.as_ref())?;
    let r = report::Report::build_for(
        &conn,
        from,
        to,
        desk,
        whose.as_ref(),
        cfg.report.min_cell,
        &names,
    )?;
    let files = r.write_dir(out)?;
    match &r.municipality {
        Some(m) => println!(
            "report {} of {m} written to {}:",
            r.period_text(),
            out.display()
        ),
        None => println!("report {} written to {}:", r.period_text(), out.display()),
    }
    for f in files {
        println!("  {}", f.display());
    }
    Ok(())
}
