//! Step 6: the output directory, replaced atomically so a web server (or an
//! editor's browser) never sees half a site.
//!
//! A build into an output this program made and recorded ([`owner`]) writes
//! only what changed, into a hidden second tree that is then exchanged with
//! the live one ([`swap`]); a first build, an output someone else made, or
//! `--full-write` writes everything into a fresh tree ([`staging`]).

mod durable;
mod exchange;
mod owner;
mod staging;
mod swap;
mod tree;

pub use staging::Staging;

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

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

/// What writing the site did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Files written (every file on the staging path).
    pub written: usize,
    /// Whether a new generation replaced the live tree (false: nothing
    /// differed, nothing was touched).
    pub replaced: bool,
}

/// The folder that holds `output`, and the output's own name.
/// The folder holding `path` (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn parent_and_name(output: &Path) -> Result<(PathBuf, String)> {
    let parent = parent_of(output).to_path_buf();
    fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "public".into());
    Ok((parent, name))
}

/// Where a build writes: the two trees of an output we made, or a fresh
/// staging tree. Holds the output's lock until committed or dropped.
pub enum Output {
    Swap(swap::Swap),
    Staging(Staging, owner::Owner),
}

impl Output {
    /// Takes the output's lock and chooses the way to write: the two trees
    /// when the live tree (and the hidden one, if any) are those recorded,
    /// else staging (`full_write` forces it, to compare the two).
    pub fn open(output: &Path, full_write: bool) -> Result<Output> {
        let (parent, name) = parent_and_name(output)?;
        let owner = owner::Owner::lock(&parent, &name)?;
        let hidden = hidden_path(output);
        let (live_id, hidden_id) = (owner::id_of(output), owner::id_of(&hidden));
        // A hidden path holding something other than a folder is not ours.
        let hidden_ok = hidden_id.is_some() || fs::symlink_metadata(&hidden).is_err();
        if !full_write && hidden_ok && owner.owns(live_id, hidden_id) {
            return Ok(Output::Swap(swap::Swap::new(
                output.to_path_buf(),
                hidden,
                owner,
            )));
        }
        Ok(Output::Staging(Staging::new(output)?, owner))
    }

    /// Puts the new site in place (or leaves it, when nothing changed).
    pub fn commit(self, files: usize) -> Result<Outcome> {
        match self {
            Output::Swap(s) => s.commit(),
            Output::Staging(s, mut owner) => {
                let output = s.output().to_path_buf();
                let hidden = hidden_path(&output);
                // The hidden tree stays ours if it was (also when public/
                // was removed by hand); a fresh output gets one on its
                // first build that changes something.
                let hidden_id = owner::id_of(&hidden).filter(|&h| owner.knows(h));
                s.commit()?;
                owner.record(owner::id_of(&output), hidden_id)?;
                Ok(Outcome {
                    written: files,
                    replaced: true,
                })
            }
        }
    }
}

/// The hidden tree next to `output`: `.NAME.prev`.
pub fn hidden_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "public".into());
    output.with_file_name(format!(".{name}.prev"))
}

impl Sink for Output {
    fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        match self {
            Output::Swap(s) => s.put(path, bytes),
            Output::Staging(s, _) => s.put(path, bytes),
        }
    }

    fn stream(
        &self,
        path: &str,
        write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<usize> {
        match self {
            Output::Swap(s) => s.stream(path, write),
            Output::Staging(s, _) => s.stream(path, write),
        }
    }
}
