//! The first build, or a build forced to write everything: a fresh tree
//! next to the output, filled while the old site stays in place, then
//! swapped in with two renames and the old tree removed.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use rayon::prelude::*;

use super::durable;
use super::{Counting, Sink};

/// A fresh directory next to the output, filled while the old site stays in
/// place, then swapped in with two renames.
pub struct Staging {
    output: PathBuf,
    dir: PathBuf,
    old: PathBuf,
    /// Folders made so far, relative to `dir`.
    made: Mutex<BTreeSet<String>>,
}

impl Staging {
    pub fn new(output: &Path) -> Result<Staging> {
        let (parent, name) = super::parent_and_name(output)?;
        let dir = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir).ok();
        }
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Staging {
            output: output.to_path_buf(),
            old: parent.join(format!(".{name}.old-{}", std::process::id())),
            dir,
            made: Mutex::new(BTreeSet::new()),
        })
    }

    /// Creates the folders that will hold these files (relative paths).
    /// The lock is not held while a folder is made: the page writers make
    /// theirs in parallel (ten thousand folders made one by one before
    /// rendering took 50-70 ms of a 10,000-service build on one core).
    pub fn create_dirs<'a>(&self, paths: impl IntoIterator<Item = &'a str>) -> Result<()> {
        for f in paths
            .into_iter()
            .filter_map(|p| p.rsplit_once('/').map(|(d, _)| d))
        {
            if self
                .made
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(f)
            {
                continue;
            }
            let d = self.dir.join(f);
            // Two writers may make the same folder: create_dir_all accepts
            // one that exists.
            fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            self.made
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(f.to_string());
        }
        Ok(())
    }

    /// Writes one file; its folder must exist (see [`Staging::create_dirs`]).
    pub fn write(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let p = self.dir.join(path);
        fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))
    }

    pub fn output(&self) -> &Path {
        &self.output
    }

    /// Puts the new site in place of the old one.
    pub fn commit(self) -> Result<()> {
        let output = &self.output;
        durable::sync_tree(&self.dir)?;
        if output.exists() {
            fs::rename(output, &self.old)
                .with_context(|| format!("moving the previous {} aside", output.display()))?;
        }
        fs::rename(&self.dir, output)
            .with_context(|| format!("moving the new site to {}", output.display()))?;
        durable::sync_dir(super::parent_of(output))?;
        if self.old.exists() {
            remove_dir_parallel(&self.old)
                .with_context(|| format!("removing {}", self.old.display()))?;
        }
        Ok(())
    }
}

impl Drop for Staging {
    /// A build that failed half-way leaves no staging folder behind.
    fn drop(&mut self) {
        if self.dir.exists() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

impl Sink for Staging {
    fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        self.create_dirs([path])?;
        self.write(path, bytes)
    }

    fn stream(
        &self,
        path: &str,
        write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<usize> {
        self.create_dirs([path])?;
        let p = self.dir.join(path);
        let file = fs::File::create(&p).with_context(|| format!("writing {}", p.display()))?;
        let mut w = Counting {
            inner: io::BufWriter::with_capacity(1 << 16, file),
            n: 0,
        };
        write(&mut w)
            .and_then(|()| w.flush())
            .with_context(|| format!("writing {}", p.display()))?;
        Ok(w.n)
    }
}

/// Removes a tree, its top-level entries in parallel.
fn remove_dir_parallel(dir: &Path) -> Result<()> {
    let entries: Vec<PathBuf> = fs::read_dir(dir)?.flatten().map(|e| e.path()).collect();
    entries.par_iter().try_for_each(|p| {
        if p.is_dir() {
            // Large folders (e.g. one per service) are split further.
            let inner: Vec<PathBuf> = fs::read_dir(p)?.flatten().map(|e| e.path()).collect();
            inner.par_iter().try_for_each(|q| {
                if q.is_dir() {
                    fs::remove_dir_all(q)
                } else {
                    fs::remove_file(q)
                }
            })?;
            fs::remove_dir(p)
        } else {
            fs::remove_file(p)
        }
    })?;
    fs::remove_dir(dir)?;
    Ok(())
}
