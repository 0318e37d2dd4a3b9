//! What a change the watcher saw is: one entry, or a file everything
//! depends on (settings, taxonomy, synonyms, lexicon, translations, the
//! theme), and how it is named in messages.

use std::collections::BTreeSet;
use std::path::Path;

use crate::load::{is_ignored_name, Kind};

/// A change the watcher saw, relative to the content or the theme.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Content(String),
    /// Settings, taxonomy or theme: everything depends on them.
    Global(String),
}

/// "services/a.md, services/b.md" or "3 files".
pub fn describe(changes: &[Change]) -> String {
    let names: BTreeSet<&str> = changes
        .iter()
        .map(|c| match c {
            Change::Content(s) | Change::Global(s) => s.as_str(),
        })
        .collect();
    if names.len() <= 3 {
        names.into_iter().collect::<Vec<_>>().join(", ")
    } else {
        format!("{} files", names.len())
    }
}

/// Which input `path` is: a global file (site, taxonomy, synonyms, lexicon,
/// anything of the theme) or one entry; `None` for anything else.
pub(super) fn classify(content: &Path, theme: &Path, path: &Path) -> Option<Change> {
    let name = path.file_name()?.to_string_lossy();
    if is_ignored_name(&name) {
        return None;
    }
    let abs = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let content = abs(content);
    let theme = abs(theme);
    // The file may be gone (deleted, renamed): resolve its folder instead.
    let path = match path.parent() {
        Some(parent) => abs(parent).join(path.file_name()?),
        None => path.to_path_buf(),
    };
    if let Ok(rel) = path.strip_prefix(&theme) {
        return Some(Change::Global(format!("theme/{}", rel.display())));
    }
    let rel = path.strip_prefix(&content).ok()?;
    let rel = rel.to_string_lossy().replace('\\', "/");
    if crate::load::GLOBAL_FILES.contains(&rel.as_str())
        || rel.ends_with(crate::load::TRANSLATION_SUFFIX)
    {
        // An English version changes pages of both editions (the switch,
        // the hreflang pairs, the English lists): rebuilt whole.
        return Some(Change::Global(rel));
    }
    if !rel.ends_with(".md") {
        return None;
    }
    let is_entry = rel == "_index.md"
        || Kind::FOLDERS.iter().any(|(f, _)| {
            rel.strip_prefix(f)
                .and_then(|r| r.strip_prefix('/'))
                .is_some_and(|r| !r.contains('/'))
        });
    is_entry.then_some(Change::Content(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editors_global_files_rebuild_everything_and_entries_only_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let (content, theme) = (dir.path().join("content"), dir.path().join("theme"));
        std::fs::create_dir_all(content.join("services")).unwrap();
        std::fs::create_dir_all(&theme).unwrap();
        for name in [
            "site.toml",
            "taxonomy.toml",
            "synonyms.toml",
            "lexicon.toml",
        ] {
            assert_eq!(
                classify(&content, &theme, &content.join(name)),
                Some(Change::Global(name.into())),
                "{name}"
            );
        }
        assert!(matches!(
            classify(&content, &theme, &content.join("services/sad.md")),
            Some(Change::Content(_))
        ));
        assert_eq!(classify(&content, &theme, &content.join("notes.txt")), None);
        for name in [
            "services/sad.en.md",
            "_index.en.md",
            "taxonomy.en.toml",
            "synonyms.en.toml",
        ] {
            assert_eq!(
                classify(&content, &theme, &content.join(name)),
                Some(Change::Global(name.into())),
                "{name}"
            );
        }
    }
}
