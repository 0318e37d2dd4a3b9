//! Writes a sample meeting report of a synthetic register (2,000 contacts
//! over two years at three desks) into DIR, for the browser tests
//! (axe-core in Chromium): `report_sample DIR [--desk SLUG]`.

#[path = "../tests/register/mod.rs"]
mod register;

use sportello_inbox::report::Report;
use time::macros::date;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(
        args.get(1)
            .ok_or_else(|| anyhow::anyhow!("usage: report_sample DIR [--desk SLUG]"))?,
    );
    let desk = args
        .iter()
        .position(|a| a == "--desk")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    let db = tempfile::tempdir()?;
    let conn = register::make(&db.path().join("sample.sqlite"), 2_000, 12)?;
    let r = Report::build(
        &conn,
        date!(2024 - 01 - 01),
        date!(2025 - 12 - 31),
        desk,
        5,
        &register::names(),
    )?;
    for f in r.write_dir(&out)? {
        println!("{}", f.display());
    }
    Ok(())
}
