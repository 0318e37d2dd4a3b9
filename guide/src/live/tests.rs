//! `Live` against a full build, for what it keeps between edits.

use std::path::{Path, PathBuf};

use super::{Change, Live, Outcome};
use crate::Options;

/// A copy of the test guide without translations (an English edition
/// rebuilds everything), served as `serve` does.
struct Guide {
    dir: tempfile::TempDir,
    opts: Options,
}

impl Guide {
    fn new() -> Guide {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&root.join("generator/tests/fixtures/valid"), dir.path());
        let mut opts = Options::new(dir.path(), root.join("themes/default"));
        opts.drafts = true;
        Guide { dir, opts }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes (or, with `None`, removes) `rel` and applies the change.
    fn save(&self, live: &mut Live, rel: &str, text: Option<&str>) -> Outcome {
        match text {
            Some(t) => std::fs::write(self.path(rel), t).unwrap(),
            None => std::fs::remove_file(self.path(rel)).unwrap(),
        }
        live.apply(&[Change::Content(rel.into())])
    }

    fn assert_same_as_build(&self, live: &mut Live, step: &str) {
        live.refresh_open_data();
        let fresh = super::full_build_files(&self.opts).unwrap();
        let served: std::collections::BTreeMap<String, Vec<u8>> = live
            .files
            .iter()
            .map(|(p, b)| (p.to_string(), b.to_vec()))
            .collect();
        assert_eq!(
            served.keys().collect::<Vec<_>>(),
            fresh.keys().collect::<Vec<_>>(),
            "{step}"
        );
        for (path, bytes) in &fresh {
            assert!(served[path] == *bytes, "{step}: {path} differs");
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn is_error(o: &Outcome) -> bool {
    matches!(o, Outcome::Errors { .. } | Outcome::Failed { .. })
}

/// The addresses links may point to are kept between edits: an entry
/// added or removed must change them for the edits after it.
#[test]
fn links_to_an_added_or_removed_entry_follow_the_kept_addresses() {
    let g = Guide::new();
    let (mut live, first) = Live::new(g.opts.clone());
    assert!(!is_error(&first), "{first:?}");
    let linking = "services/assistenza-domiciliare.md";
    let text = std::fs::read_to_string(g.path(linking)).unwrap();
    let with_link = format!("{text}\nVedi i [pasti](@/services/pasti.md).\n");
    let new_entry = std::fs::read_to_string(g.path("services/trasporto-sociale.md"))
        .unwrap()
        .replace(
            "title = \"Trasporto sociale\"",
            "title = \"Pasti a domicilio\"",
        );

    let o = g.save(&mut live, linking, Some(&with_link));
    assert!(is_error(&o), "no such entry yet: {o:?}");
    let o = g.save(&mut live, linking, Some(&text));
    assert!(!is_error(&o), "{o:?}");
    g.assert_same_as_build(&mut live, "the link taken out");

    let o = g.save(&mut live, "services/pasti.md", Some(&new_entry));
    assert!(!is_error(&o), "{o:?}");
    let o = g.save(&mut live, linking, Some(&with_link));
    assert!(!is_error(&o), "the added entry is linked: {o:?}");
    g.assert_same_as_build(&mut live, "a link to the added entry");

    let o = g.save(&mut live, linking, Some(&text));
    assert!(!is_error(&o), "{o:?}");
    let o = g.save(&mut live, "services/pasti.md", None);
    assert!(!is_error(&o), "{o:?}");
    g.assert_same_as_build(&mut live, "the entry removed");
    let o = g.save(&mut live, linking, Some(&with_link));
    assert!(is_error(&o), "the removed entry is not linked: {o:?}");
}
