//! Step 6: the output directory, replaced atomically so a web server (or an
//! editor's browser) never sees half a site.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;

/// A file of the built site: path relative to the output directory, and bytes.
pub type OutputFile = (String, Vec<u8>);

/// The theme's static files (`static/**`), as output files at the site root.
pub fn read_static(static_dir: &Path) -> Result<Vec<OutputFile>> {
    let mut out = Vec::new();
    if static_dir.is_dir() {
        read_dir_into(static_dir, "", &mut out)?;
    }
    out.sort();
    Ok(out)
}

fn read_dir_into(dir: &Path, prefix: &str, out: &mut Vec<OutputFile>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if crate::load::is_ignored_name(&name) {
            continue;
        }
        let rel = format!("{prefix}{name}");
        if entry.file_type()?.is_dir() {
            read_dir_into(&entry.path(), &format!("{rel}/"), out)?;
        } else {
            let bytes = fs::read(entry.path())
                .with_context(|| format!("reading {}", entry.path().display()))?;
            out.push((rel, bytes));
        }
    }
    Ok(())
}

/// Writes `files` into a fresh directory next to `output`, then swaps it into place.
pub fn write_site(output: &Path, files: &[OutputFile]) -> Result<()> {
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "public".into());
    let staging = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).ok();
    }
    write_tree(&staging, files)?;

    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    if output.exists() {
        fs::rename(output, &old)
            .with_context(|| format!("moving the previous {} aside", output.display()))?;
    }
    fs::rename(&staging, output)
        .with_context(|| format!("moving the new site to {}", output.display()))?;
    if old.exists() {
        fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    Ok(())
}

/// Writes every file under `dir`, creating folders first, then files in parallel.
pub fn write_tree(dir: &Path, files: &[OutputFile]) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let folders: BTreeSet<&str> = files
        .iter()
        .filter_map(|(p, _)| p.rsplit_once('/').map(|(d, _)| d))
        .collect();
    for f in folders {
        fs::create_dir_all(dir.join(f))
            .with_context(|| format!("creating {}", dir.join(f).display()))?;
    }
    files.par_iter().try_for_each(|(path, bytes)| {
        let p = dir.join(path);
        fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))
    })
}
