//! Step 6: the output directory, replaced atomically so a web server (or an
//! editor's browser) never sees half a site.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use rayon::prelude::*;

/// A file of the built site: path relative to the output directory, and bytes.
pub type OutputFile = (String, Vec<u8>);

/// Where a build puts its files: a folder on disk, or memory (`serve`).
pub trait Sink: Sync {
    /// Writes one whole file, creating its folder when needed.
    fn put(&self, path: &str, bytes: &[u8]) -> Result<()>;

    /// Writes a large file through `write`, so that it need not be held
    /// whole in memory; returns its size in bytes.
    fn stream(
        &self,
        path: &str,
        write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<usize>;
}

/// Files kept in memory, by path (what `serve` serves).
#[derive(Debug, Default)]
pub struct MemorySink {
    files: Mutex<BTreeMap<String, Arc<[u8]>>>,
}

impl MemorySink {
    pub fn into_files(self) -> BTreeMap<String, Arc<[u8]>> {
        self.files.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl Sink for MemorySink {
    fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_string(), Arc::from(bytes));
        Ok(())
    }

    fn stream(
        &self,
        path: &str,
        write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<usize> {
        let mut bytes = Vec::new();
        write(&mut bytes)?;
        let n = bytes.len();
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_string(), Arc::from(bytes));
        Ok(n)
    }
}

/// Counts what goes through it.
struct Counting<W> {
    inner: W,
    n: usize,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

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
        let parent = match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
        let name = output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "public".into());
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
    pub fn create_dirs<'a>(&self, paths: impl IntoIterator<Item = &'a str>) -> Result<()> {
        let folders: BTreeSet<&str> = paths
            .into_iter()
            .filter_map(|p| p.rsplit_once('/').map(|(d, _)| d))
            .collect();
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        for f in folders {
            if made.contains(f) {
                continue;
            }
            let d = self.dir.join(f);
            fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            made.insert(f.to_string());
        }
        Ok(())
    }

    /// Writes one file; its folder must exist (see [`Staging::create_dirs`]).
    pub fn write(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let p = self.dir.join(path);
        fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))
    }

    /// Puts the new site in place of the old one.
    pub fn commit(self) -> Result<()> {
        let output = &self.output;
        if output.exists() {
            fs::rename(output, &self.old)
                .with_context(|| format!("moving the previous {} aside", output.display()))?;
        }
        fs::rename(&self.dir, output)
            .with_context(|| format!("moving the new site to {}", output.display()))?;
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
