//! Step 1: find the content files and read them as text.

use crate::slug::{is_valid_slug, suggest_slug};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::diagnostics::{Diagnostic, Diagnostics};

/// What a content file is, from the folder it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Index,
    Service,
    Office,
    Desk,
    Page,
}

impl Kind {
    pub const FOLDERS: [(&'static str, Kind); 4] = [
        ("services", Kind::Service),
        ("offices", Kind::Office),
        ("desks", Kind::Desk),
        ("pages", Kind::Page),
    ];
}

/// A file of the content directory, read into memory.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the content directory, with `/`: `services/sad.md`.
    pub rel: String,
    pub kind: Kind,
    pub slug: String,
    pub text: Arc<str>,
}

/// Everything read from `content/`.
#[derive(Debug, Default)]
pub struct Loaded {
    pub site: Option<SourceFile>,
    pub taxonomy: Option<SourceFile>,
    pub synonyms: Option<SourceFile>,
    pub lexicon: Option<SourceFile>,
    /// `_index.md` first, then entries sorted by path.
    pub files: Vec<SourceFile>,
    /// English versions (`<slug>.en.md`), same order; `slug` is the Italian one.
    pub translations: Vec<SourceFile>,
    /// `taxonomy.en.toml`: English names of the terms.
    pub taxonomy_en: Option<SourceFile>,
    /// `synonyms.en.toml`: synonym groups of the English edition's index.
    pub synonyms_en: Option<SourceFile>,
}

/// The files of `content/` that are not entries; all but `site.toml` and
/// `taxonomy.toml` are optional. A change to one rebuilds the whole guide.
pub const GLOBAL_FILES: &[&str] = &[
    "site.toml",
    "taxonomy.toml",
    "synonyms.toml",
    "lexicon.toml",
    "taxonomy.en.toml",
    "synonyms.en.toml",
];

/// The file-name suffix of an entry's English version.
pub const TRANSLATION_SUFFIX: &str = ".en.md";

/// Editors' tools leave these behind; they are never content.
pub fn is_ignored_name(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name.ends_with(".bak")
}

/// Reads the content directory. Problems become diagnostics; what can be read is returned.
pub fn load(content: &Path, diags: &mut Diagnostics) -> Loaded {
    let mut loaded = Loaded::default();
    if !content.is_dir() {
        diags.push(
            Diagnostic::error(content.display().to_string(), "content directory not found").hint(
                "run the command from the folder that holds `content/`, or pass `--content DIR`",
            ),
        );
        return loaded;
    }

    let mut paths: Vec<(PathBuf, String, Kind)> = Vec::new();
    let index = content.join("_index.md");
    if index.is_file() {
        paths.push((index, "_index.md".into(), Kind::Index));
    }
    let index_en = content.join("_index.en.md");
    if index_en.is_file() {
        paths.push((index_en, "_index.en.md".into(), Kind::Index));
    }
    for (folder, kind) in Kind::FOLDERS {
        let dir = content.join(folder);
        let Ok(entries) = fs::read_dir(&dir) else {
            if kind == Kind::Service {
                diags.push(
                    Diagnostic::error(format!("{folder}/"), "the folder of service entries is missing")
                        .hint("create `content/services/` and add entries with `sportello new service <slug>`"),
                );
            }
            continue;
        };
        let mut names: Vec<String> = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_ignored_name(&name) {
                continue;
            }
            let path = entry.path();
            // The entry's type from the listing: no stat per file; a
            // symbolic link is followed.
            let is_dir = match entry.file_type() {
                Ok(t) if !t.is_symlink() => t.is_dir(),
                _ => path.is_dir(),
            };
            if is_dir {
                diags.push(
                    Diagnostic::warning(
                        format!("{folder}/{name}/"),
                        "folders inside content folders are not read",
                    )
                    .hint(format!(
                        "move the entries directly into `content/{folder}/`"
                    )),
                );
            } else if name.ends_with(".md") {
                names.push(name);
            }
        }
        names.sort();
        for name in names {
            paths.push((dir.join(&name), format!("{folder}/{name}"), kind));
        }
    }

    let (files, problems): (Vec<_>, Vec<_>) = paths
        .par_iter()
        .map(|(path, rel, kind)| read_entry(path, rel, *kind))
        .partition(Result::is_ok);
    let (translations, files): (Vec<_>, Vec<_>) = files
        .into_iter()
        .map(Result::unwrap)
        .partition(|f: &SourceFile| f.rel.ends_with(TRANSLATION_SUFFIX));
    loaded.files = files;
    loaded.translations = translations;
    diags.extend(problems.into_iter().map(|r| r.unwrap_err()));

    for (name, slot) in [
        ("site.toml", &mut loaded.site),
        ("taxonomy.toml", &mut loaded.taxonomy),
        ("synonyms.toml", &mut loaded.synonyms),
        ("lexicon.toml", &mut loaded.lexicon),
        ("taxonomy.en.toml", &mut loaded.taxonomy_en),
        ("synonyms.en.toml", &mut loaded.synonyms_en),
    ] {
        debug_assert!(GLOBAL_FILES.contains(&name));
        let path = content.join(name);
        if path.is_file() {
            match read_text(&path, name) {
                Ok(text) => {
                    *slot = Some(SourceFile {
                        rel: name.into(),
                        kind: Kind::Page,
                        slug: String::new(),
                        text,
                    })
                }
                Err(d) => diags.push(d),
            }
        } else if matches!(name, "site.toml" | "taxonomy.toml") {
            diags.push(
                Diagnostic::error(name, format!("`content/{name}` is missing"))
                    .hint("see the content format in the README for its keys"),
            );
        }
    }
    loaded
}

pub fn read_entry(path: &Path, rel: &str, kind: Kind) -> Result<SourceFile, Diagnostic> {
    let text = read_text(path, rel)?;
    let slug = rel
        .rsplit('/')
        .next()
        .and_then(|f| f.strip_suffix(TRANSLATION_SUFFIX).or(f.strip_suffix(".md")))
        .unwrap_or_default()
        .to_string();
    if kind != Kind::Index && !is_valid_slug(&slug) {
        let suggestion = suggest_slug(&slug);
        return Err(Diagnostic::error(
            rel,
            format!("`{slug}` cannot be a slug: the file name becomes the page address"),
        )
        .hint(format!(
            "use lowercase letters, digits and hyphens only: rename it to `{suggestion}.md`"
        )));
    }
    Ok(SourceFile {
        rel: rel.to_string(),
        kind,
        slug,
        text,
    })
}

/// Reads a file as UTF-8, explaining where it is not.
pub fn read_text(path: &Path, rel: &str) -> Result<Arc<str>, Diagnostic> {
    let bytes = fs::read(path).map_err(|e| {
        Diagnostic::error(rel, format!("cannot read the file: {e}"))
            .hint("check that the file exists and is readable")
    })?;
    match String::from_utf8(bytes) {
        Ok(mut s) => {
            // A byte-order mark from some Windows editors is harmless: drop it.
            if s.starts_with('\u{feff}') {
                s.drain(..3);
            }
            Ok(Arc::from(s))
        }
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = bytes[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = bytes[..valid]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let col = String::from_utf8_lossy(&bytes[line_start..valid])
                .chars()
                .count()
                + 1;
            Err(Diagnostic::error(
                format!("{rel}:{line}:{col}"),
                format!("the file is not valid UTF-8 (byte {valid})"),
            )
            .hint("save the file with UTF-8 encoding (in most editors: File > Save with encoding > UTF-8)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_leftovers_are_ignored() {
        for name in [".sad.md.swp", "sad.md~", "#sad.md#", ".#sad.md", "4913"] {
            assert!(is_ignored_name(name) || !name.ends_with(".md"), "{name}");
        }
    }
}
