//! The meeting report over a large register: N contacts (default 100,000)
//! over two years at three desks, inserted through the store's API, then
//! the report of the two years built and rendered (HTML with its charts,
//! JSON, every CSV) several times.
//!
//! cargo bench -p sportello-inbox --bench report -- --contacts 100000 --runs 7
//!
//! Prints the median and the slowest run (target: under 1 s).

#[path = "../tests/register/mod.rs"]
mod register;

use std::time::{Duration, Instant};

use sportello_inbox::report::Report;
use time::macros::date;

fn arg(name: &str, default: usize) -> usize {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let contacts = arg("--contacts", 100_000);
    let runs = arg("--runs", 7).max(1);
    let dir = tempfile::tempdir()?;
    let t = Instant::now();
    let conn = register::make(&dir.path().join("bench.sqlite"), contacts, 42)?;
    println!(
        "register: {contacts} contacts inserted in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let names = register::names();
    let mut times: Vec<Duration> = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let r = Report::build(
            &conn,
            date!(2024 - 01 - 01),
            date!(2025 - 12 - 31),
            None,
            5,
            &names,
        )?;
        let html = r.html_document()?;
        let json = serde_json::to_string(&r.json())?;
        let csv: usize = r.csv_files().iter().map(|f| f.1.len()).sum();
        times.push(t.elapsed());
        bytes = html.len() + json.len() + csv;
    }
    times.sort();
    println!(
        "report of two years, 3 desks: median {:.0} ms, slowest {:.0} ms over {runs} runs ({} KiB of output)",
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0,
        bytes / 1024
    );
    Ok(())
}
