//! A build flushes the new tree to disk before it goes live, and the
//! renames after: traced with strace on the real binary, so the order of
//! the system calls is what is checked, not a helper's return value.

mod common;

use std::path::Path;
use std::process::Command;

use common::{theme, Site};

/// The build's `syncfs`, `fsync`, `fdatasync` and renames of `output`,
/// in the order made (pids stripped).
fn traced_build(site: &Site, output: &Path) -> Vec<String> {
    let log = site.dir.path().join("strace.log");
    let status = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=syncfs,fsync,fdatasync,rename,renameat2",
            "-o",
        ])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_sportello"))
        .args(["build", "-q", "--content"])
        .arg(site.content())
        .arg("--theme")
        .arg(theme())
        .arg("-o")
        .arg(output)
        .status()
        .expect("strace runs (Debian package strace; ./test.sh installs it)");
    assert!(status.success(), "the build failed");
    let out = output.to_string_lossy().into_owned();
    std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| {
            l.split_once(' ')
                .map_or(l, |(_, rest)| rest)
                .trim()
                .to_string()
        })
        .filter(|l| {
            l.starts_with("syncfs(")
                || l.starts_with("fsync(")
                || l.starts_with("fdatasync(")
                || (l.contains(&format!("\"{out}\"")) && l.starts_with("rename"))
        })
        .map(|l| l.split('(').next().unwrap().to_string())
        .collect()
}

#[test]
fn the_new_tree_reaches_the_disk_before_it_goes_live() {
    let site = Site::copy_of("valid");
    let output = site.dir.path().join("public");

    // First build: the staging tree, renamed into place.
    let calls = traced_build(&site, &output);
    assert_eq!(
        calls,
        ["syncfs", "rename", "fsync", "fdatasync"],
        "first build"
    );

    // Nothing changed: nothing written, nothing flushed.
    let calls = traced_build(&site, &output);
    assert!(
        calls.is_empty(),
        "a rebuild that changes nothing: {calls:?}"
    );

    // One change: the hidden tree, exchanged with the live one.
    site.replace(
        "services/trasporto-sociale.md",
        "title = \"",
        "title = \"Prova ",
    );
    let calls = traced_build(&site, &output);
    assert_eq!(
        calls,
        ["syncfs", "renameat2", "fsync", "fdatasync"],
        "rebuild"
    );
}
