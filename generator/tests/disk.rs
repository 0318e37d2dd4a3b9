//! Rebuilds into an existing output on disk: only what changed is written,
//! a rebuild that changes nothing writes nothing, and a reader never sees
//! half a site.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{differences, files_of, Site};

/// Inode, mtime and ctime (ns) of every file and folder under `dir`.
fn stats(dir: &Path) -> BTreeMap<String, (u64, i64, i64)> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, (u64, i64, i64)>) {
        let m = fs::symlink_metadata(dir).unwrap();
        out.insert(
            rel.to_string(),
            (
                m.ino(),
                m.mtime() * 1_000_000_000 + m.mtime_nsec(),
                m.ctime() * 1_000_000_000 + m.ctime_nsec(),
            ),
        );
        if m.is_dir() {
            for e in fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                walk(
                    &e.path(),
                    &format!("{rel}/{}", e.file_name().to_string_lossy()),
                    out,
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, "", &mut out);
    }
    out
}

struct Out {
    _tmp: tempfile::TempDir,
    public: PathBuf,
    hidden: PathBuf,
}

fn out() -> Out {
    let tmp = tempfile::tempdir().unwrap();
    Out {
        public: tmp.path().join("public"),
        hidden: tmp.path().join(".public.prev"),
        _tmp: tmp,
    }
}

fn build_into(site: &Site, output: &Path) -> sportello_guide::BuildReport {
    let report = sportello_guide::build(&site.options(), output).unwrap();
    assert!(
        !report.diagnostics.has_errors(),
        "{}",
        report.diagnostics.render(false)
    );
    report
}

/// What a build into an empty folder writes.
fn fresh(site: &Site) -> BTreeMap<String, Vec<u8>> {
    let (_tmp, out) = common::build(site);
    files_of(&out)
}

fn assert_same(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>, what: &str) {
    let d = differences(a, b);
    assert!(d.is_empty(), "{what}: differ on {d:?}");
}

const ENTRY: &str = "services/trasporto-sociale.md";

#[test]
fn a_rebuild_that_changes_nothing_writes_nothing() {
    let site = Site::copy_of("valid");
    let o = out();
    build_into(&site, &o.public);
    // A change, so that the hidden tree exists too.
    site.replace(ENTRY, "title = \"", "title = \"Nuovo ");
    build_into(&site, &o.public);
    assert!(o.hidden.is_dir());
    let (live, hidden) = (stats(&o.public), stats(&o.hidden));
    let bytes = files_of(&o.public);

    let report = build_into(&site, &o.public);
    assert!(!report.written.replaced);
    assert_eq!(report.written.written, 0);
    assert_eq!(stats(&o.public), live, "the live tree was touched");
    assert_eq!(stats(&o.hidden), hidden, "the hidden tree was touched");
    assert_same(&files_of(&o.public), &bytes, "after the rebuild");
}

#[test]
fn a_one_entry_change_rewrites_only_its_files_and_equals_a_fresh_build() {
    let site = Site::copy_of("valid");
    let o = out();
    build_into(&site, &o.public);
    let first = files_of(&o.public);
    let first_stats = stats(&o.public);
    site.replace(ENTRY, "title = \"", "title = \"Nuovo ");
    build_into(&site, &o.public);
    let second = files_of(&o.public);
    assert_same(&second, &fresh(&site), "second build");

    site.replace(ENTRY, "title = \"Nuovo ", "title = \"Altro ");
    let report = build_into(&site, &o.public);
    let third = files_of(&o.public);
    assert_same(&third, &fresh(&site), "third build");
    // The previous generation is kept whole for the next build.
    assert_same(&files_of(&o.hidden), &second, "the hidden tree");

    // The live tree is the first build's tree again, brought up to date:
    // a file whose bytes are those of the first build was not rewritten.
    let changed = differences(&first, &third);
    assert!(!changed.is_empty() && changed.len() < third.len() / 2);
    assert_eq!(report.written.written, changed.len(), "{changed:?}");
    let now = stats(&o.public);
    assert_eq!(now[""].0, first_stats[""].0, "not the first build's tree");
    let mut kept = 0;
    for path in third.keys().filter(|p| !changed.contains(p)) {
        let key = format!("/{path}");
        assert_eq!(now[&key], first_stats[&key], "{path} was rewritten");
        kept += 1;
    }
    assert!(kept > 10, "{kept}");
}

#[test]
fn a_deleted_entry_disappears_and_so_does_a_stray_file() {
    let site = Site::copy_of("valid");
    let o = out();
    let extra = site
        .read(ENTRY)
        .replacen("title = \"", "title = \"Altro ", 1);
    site.write("services/trasporto-extra.md", &extra);
    build_into(&site, &o.public);
    site.replace(ENTRY, "title = \"", "title = \"Nuovo ");
    build_into(&site, &o.public);
    assert!(o
        .public
        .join("servizi/trasporto-extra/index.html")
        .is_file());

    fs::remove_file(site.path("services/trasporto-extra.md")).unwrap();
    build_into(&site, &o.public);
    let now = files_of(&o.public);
    assert!(
        !now.keys().any(|k| k.contains("trasporto-extra")),
        "{now:?}"
    );
    assert_same(&now, &fresh(&site), "after deleting an entry");

    // A file that is not the site's, left in the live tree: the only
    // difference, and the rebuild removes it too.
    fs::write(o.public.join("stray.html"), "x").unwrap();
    fs::create_dir_all(o.public.join("old/folder")).unwrap();
    let report = build_into(&site, &o.public);
    assert!(report.written.replaced);
    assert_same(&files_of(&o.public), &fresh(&site), "after a stray file");
}

#[test]
fn an_output_not_made_by_a_build_is_replaced_whole_not_patched() {
    let site = Site::copy_of("valid");
    let o = out();
    fs::create_dir_all(&o.public).unwrap();
    fs::write(o.public.join("index.html"), "someone else's").unwrap();
    build_into(&site, &o.public);
    assert_same(&files_of(&o.public), &fresh(&site), "first build");
    // A hidden tree someone else put there is left alone.
    fs::create_dir_all(&o.hidden).unwrap();
    fs::write(o.hidden.join("keep.txt"), "mine").unwrap();
    site.replace(ENTRY, "title = \"", "title = \"Nuovo ");
    build_into(&site, &o.public);
    assert_eq!(
        fs::read_to_string(o.hidden.join("keep.txt")).unwrap(),
        "mine"
    );
    assert_same(&files_of(&o.public), &fresh(&site), "second build");
}

/// The site title is in every page: a reader that finds two titles in one
/// tree has seen two generations mixed.
fn generation(text: &str) -> Option<char> {
    let at = text.find("Guida di prova ")? + "Guida di prova ".len();
    text[at..].chars().next()
}

#[test]
fn a_reader_during_rebuilds_always_sees_one_whole_generation() {
    let site = Site::copy_of("valid");
    let o = out();
    let title = |g: char| {
        let text = site.read("site.toml");
        let at = text.find("title = \"").unwrap();
        let end = text[at + 9..].find('"').unwrap() + at + 9;
        site.write(
            "site.toml",
            &format!(
                "{}title = \"Guida di prova {g}\"{}",
                &text[..at],
                &text[end + 1..]
            ),
        );
    };
    title('A');
    build_into(&site, &o.public);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, public) = (stop.clone(), o.public.clone());
        std::thread::spawn(move || {
            let files = [
                "index.html",
                "servizi/trasporto-sociale/index.html",
                "servizi/assistenza-domiciliare/index.html",
                "servizi/index.html",
            ];
            let (mut whole, mut seen) = (0usize, std::collections::BTreeSet::new());
            while !stop.load(Ordering::Relaxed) {
                // Through a descriptor of the tree, as a server resolving one
                // request's files would: every read below is in that tree.
                let dir = fs::File::open(&public).expect("public/ missing");
                let fd = std::os::fd::AsRawFd::as_raw_fd(&dir);
                let gens: Vec<Option<char>> = files
                    .iter()
                    .map(|f| {
                        let p = format!("/proc/self/fd/{fd}/{f}");
                        let text = fs::read_to_string(&p)
                            .unwrap_or_else(|e| panic!("{f} unreadable: {e}"));
                        generation(&text)
                    })
                    .collect();
                // Still the live tree after reading: a tree that is live is
                // not written into, so the files must agree.
                let live = fs::metadata(&public).map(|m| m.ino()).ok();
                if live == Some(dir.metadata().unwrap().ino()) {
                    assert!(
                        gens.iter().all(|g| g.is_some() && *g == gens[0]),
                        "a mix of generations in one tree: {gens:?}"
                    );
                    whole += 1;
                    seen.insert(gens[0]);
                }
            }
            (whole, seen)
        })
    };
    // And one that only opens public/index.html, as fast as it can, to
    // fall into any instant where public/ is missing.
    let prober = {
        let (stop, index) = (stop.clone(), o.public.join("index.html"));
        std::thread::spawn(move || {
            let (mut opened, mut missing) = (0usize, 0usize);
            while !stop.load(Ordering::Relaxed) {
                match fs::File::open(&index) {
                    Ok(_) => opened += 1,
                    Err(_) => missing += 1,
                }
            }
            (opened, missing)
        })
    };
    for i in 0..30 {
        title(if i % 2 == 0 { 'B' } else { 'A' });
        let report = build_into(&site, &o.public);
        assert!(report.written.replaced);
    }
    stop.store(true, Ordering::Relaxed);
    let (opened, missing) = prober.join().unwrap();
    assert_eq!(
        missing, 0,
        "public/index.html was missing ({opened} opened)"
    );
    let (whole, seen) = reader.join().expect("the reader failed");
    assert!(whole > 10 && seen.len() == 2, "{whole} reads, {seen:?}");
    assert_same(&files_of(&o.public), &fresh(&site), "last build");
}

#[test]
fn two_builds_at_once_leave_one_whole_site() {
    let a = Site::copy_of("valid");
    let b = Site::copy_of("valid");
    b.replace(ENTRY, "title = \"", "title = \"Nuovo ");
    let (fresh_a, fresh_b) = (fresh(&a), fresh(&b));
    let o = out();
    build_into(&a, &o.public);
    for _ in 0..10 {
        std::thread::scope(|s| {
            s.spawn(|| build_into(&a, &o.public));
            s.spawn(|| build_into(&b, &o.public));
        });
        let now = files_of(&o.public);
        assert!(
            differences(&now, &fresh_a).is_empty() || differences(&now, &fresh_b).is_empty(),
            "neither site: {:?}",
            differences(&now, &fresh_a)
        );
    }
    let names: Vec<String> = fs::read_dir(o._tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn after_public_is_removed_by_hand_rebuilds_write_only_changes_again() {
    let site = Site::copy_of("valid");
    let o = out();
    build_into(&site, &o.public);
    site.replace(ENTRY, "title = \"", "title = \"Nuovo ");
    build_into(&site, &o.public);
    fs::remove_dir_all(&o.public).unwrap();
    let report = build_into(&site, &o.public);
    assert_eq!(report.written.written, report.files);
    site.replace(ENTRY, "title = \"Nuovo ", "title = \"Altro ");
    let report = build_into(&site, &o.public);
    assert!(report.written.written < report.files / 2, "{report:?}");
    assert_same(&files_of(&o.public), &fresh(&site), "after the change");
}
