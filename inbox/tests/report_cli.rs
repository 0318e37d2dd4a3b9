//! `sportello-inbox report` with the real binary: the files it writes, and
//! bad input (reversed or malformed dates, an unknown desk, a folder in the
//! way) refused with exit code 2 and nothing written.

mod register;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_sportello-inbox");

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["init", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dir.path().join("inbox.toml");
    register::make(&dir.path().join("data/inbox.sqlite"), 300, 7).unwrap();
    Setup { dir, config }
}

fn report(s: &Setup, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("report")
        .arg("--config")
        .arg(&s.config)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn entries(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_report_is_written_into_a_new_or_empty_folder() {
    let s = setup();
    let out = s.dir.path().join("riunione");
    let o = report(
        &s,
        &[
            "--from",
            "2024-01-01",
            "--to",
            "2025-12-31",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let files = entries(&out);
    assert!(files.contains(&"report.html".to_string()), "{files:?}");
    assert!(files.contains(&"report.json".to_string()));
    assert!(files.contains(&"esiti.csv".to_string()));
    assert!(
        !entries(s.dir.path()).iter().any(|f| f.contains(".tmp-")),
        "no temporary folder left"
    );

    let empty = s.dir.path().join("vuota");
    std::fs::create_dir(&empty).unwrap();
    let o = report(
        &s,
        &[
            "--from",
            "2025-01-01",
            "--to",
            "2025-03-31",
            "--desk",
            "stazione",
            "--out",
            empty.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(empty.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["desk"], "stazione");
    assert_eq!(json["from"], "2025-01-01");
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let s = setup();
    let out = s.dir.path().join("out");
    let o = out.to_str().unwrap();
    let deep = s.dir.path().join("manca/out");
    let deep = deep.to_str().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &["--from", "2025-01-01", "--to", "2025-01-31", "--out", deep],
            "does not exist",
        ),
        (
            &["--from", "2025-02-01", "--to", "2025-01-31", "--out", o],
            "reversed",
        ),
        (
            &[
                "--from",
                "2025-01-01",
                "--to",
                "2025-01-31",
                "--desk",
                "piazza",
                "--out",
                o,
            ],
            "unknown desk",
        ),
        (
            &["--from", "", "--to", "2025-01-31", "--out", o],
            "not a date",
        ),
        (
            &["--from", "2025-13-01", "--to", "2025-12-31", "--out", o],
            "not a date",
        ),
        (
            &["--from", "2025-01-01", "--to", "31/01/2025", "--out", o],
            "not a date",
        ),
        (
            &["--from", "1990-01-01", "--to", "2025-01-31", "--out", o],
            "longer than",
        ),
    ];
    for (args, why) in cases {
        let r = report(&s, args);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", stderr(&r));
        assert!(stderr(&r).contains(why), "{args:?}: {}", stderr(&r));
        assert!(!out.exists(), "{args:?} wrote something");
    }

    // A folder that is not empty: refused, its file untouched.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("verbale.txt"), "riunione di marzo").unwrap();
    let r = report(
        &s,
        &["--from", "2025-01-01", "--to", "2025-01-31", "--out", o],
    );
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(stderr(&r).contains("not empty"), "{}", stderr(&r));
    assert_eq!(entries(&out), ["verbale.txt"]);
    assert_eq!(
        std::fs::read_to_string(out.join("verbale.txt")).unwrap(),
        "riunione di marzo"
    );
    // A file where the folder should be.
    let file = s.dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let r = report(
        &s,
        &[
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-31",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(!entries(s.dir.path()).iter().any(|f| f.contains(".tmp-")));
}

#[test]
fn min_cell_below_3_is_refused_by_the_configuration() {
    let s = setup();
    let text = std::fs::read_to_string(&s.config).unwrap();
    assert!(text.contains("min_cell = 5"), "the template documents it");
    std::fs::write(&s.config, text.replace("min_cell = 5", "min_cell = 2")).unwrap();
    let out = s.dir.path().join("out");
    let r = report(
        &s,
        &[
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-31",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!r.status.success());
    assert!(
        stderr(&r).contains("report.min_cell = 2 is out of range"),
        "{}",
        stderr(&r)
    );
    assert!(!out.exists());
}
