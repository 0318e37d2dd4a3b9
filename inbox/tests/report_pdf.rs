//! The report printed to PDF by a real headless Chromium (Debian's, as the
//! browser tests use; `$CHROMIUM` overrides), as a desk would print it
//! for the meeting: A4 pages, with the text of the tables in them.

mod register;

use std::path::PathBuf;
use std::process::Command;

use sportello_inbox::report::Report;
use time::macros::date;

fn chromium() -> PathBuf {
    let p = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/chromium/chromium"));
    assert!(
        p.exists(),
        "no Chromium at {} (apt-get install chromium, or set CHROMIUM)",
        p.display()
    );
    p
}

#[test]
fn chromium_prints_the_report_on_a4_pages() {
    let dir = tempfile::tempdir().unwrap();
    let conn = register::make(&dir.path().join("r.sqlite"), 2_000, 21).unwrap();
    let r = Report::build(
        &conn,
        date!(2024 - 01 - 01),
        date!(2025 - 12 - 31),
        None,
        5,
        &register::names(),
    )
    .unwrap();
    let out = dir.path().join("out");
    r.write_dir(&out).unwrap();
    let pdf = dir.path().join("report.pdf");
    let profile = dir.path().join("profile");
    let run = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--no-first-run",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", out.join("report.html").display()))
        .output()
        .unwrap();
    assert!(
        run.status.success() && pdf.exists(),
        "chromium failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let text = String::from_utf8_lossy(&bytes);
    // Every page dictionary carries its MediaBox: A4 is 595 x 842 points.
    let boxes: Vec<(f64, f64)> = text
        .split("/MediaBox")
        .skip(1)
        .filter_map(|rest| {
            let inner = &rest[rest.find('[')? + 1..rest.find(']')?];
            let n: Vec<f64> = inner
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (n.len() == 4).then(|| (n[2] - n[0], n[3] - n[1]))
        })
        .collect();
    assert!(
        boxes.len() >= 4,
        "{} pages for twelve tables with charts",
        boxes.len()
    );
    for (w, h) in &boxes {
        assert!(
            (w - 595.3).abs() < 1.0 && (h - 841.9).abs() < 1.0,
            "page {w} x {h} is not A4"
        );
    }
}
