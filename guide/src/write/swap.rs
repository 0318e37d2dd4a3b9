//! A rebuild into an output we made: two trees, the live one and a hidden
//! sibling one generation behind, and only what changed written.
//!
//! Each file is first compared with the live tree. While nothing differs,
//! nothing is written: a rebuild that changes nothing writes nothing (no
//! swap, no new mtimes). From the first difference on, files are compared
//! with the hidden tree instead and written there where they differ; the
//! files that matched the live tree before that are brought over at the
//! end. Then the hidden tree is cleaned of stale files and exchanged with
//! the live one in one `renameat2(RENAME_EXCHANGE)`, so a web server sees
//! either generation whole, and the old one stays hidden for the next build.

use std::fs;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use anyhow::{anyhow, Context, Result};
use rayon::prelude::*;

use super::durable;
use super::exchange::exchange;
use super::owner::{id_of, Owner};
use super::tree::{folders_of, holds, open_to_read, Tree};
use super::{Counting, Outcome, Sink};

pub struct Swap {
    live: PathBuf,
    hidden: PathBuf,
    owner: Owner,
    /// Set at the first file that differs from the live tree: from then on
    /// the build will exchange the trees.
    differs: AtomicBool,
    /// The hidden tree as read when it was first needed.
    tree: OnceLock<std::result::Result<Mutex<Tree>, String>>,
    /// Every file of the new site.
    expected: Mutex<Vec<String>>,
    /// Files equal to the live tree's, seen before the first difference.
    deferred: Mutex<Vec<String>>,
    written: AtomicUsize,
}

impl Swap {
    pub fn new(live: PathBuf, hidden: PathBuf, owner: Owner) -> Swap {
        Swap {
            live,
            hidden,
            owner,
            differs: AtomicBool::new(false),
            tree: OnceLock::new(),
            expected: Mutex::new(Vec::new()),
            deferred: Mutex::new(Vec::new()),
            written: AtomicUsize::new(0),
        }
    }

    fn expect(&self, path: &str) {
        lock(&self.expected).push(path.to_string());
    }

    /// The hidden tree, read (or made, on the first rebuild that changes
    /// something) on first use. Entries that are neither files nor folders
    /// are never ours to keep: removed, so no write follows a link out.
    fn tree(&self) -> Result<&Mutex<Tree>> {
        let t = self.tree.get_or_init(|| {
            (|| -> io::Result<Mutex<Tree>> {
                match fs::create_dir(&self.hidden) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                    _ => {}
                }
                let mut tree = Tree::read(&self.hidden)?;
                for p in tree.others.drain(..) {
                    let p = self.hidden.join(p);
                    if fs::symlink_metadata(&p)?.is_dir() {
                        fs::remove_dir_all(&p)?; // a folder whose name is not UTF-8
                    } else {
                        fs::remove_file(&p)?;
                    }
                }
                Ok(Mutex::new(tree))
            })()
            .map_err(|e| format!("reading {}: {e}", self.hidden.display()))
        });
        t.as_ref().map_err(|e| anyhow!("{e}"))
    }

    /// Makes the hidden tree's `path` hold `bytes`, writing only if it
    /// does not already.
    fn put_hidden(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let there = self.prepare(path)?;
        if there && holds(&self.hidden.join(path), bytes) {
            return Ok(());
        }
        let mut out = self.open_hidden(path, there)?;
        out.file.write_all(bytes).map_err(|e| out.error(e))?;
        self.close_hidden(out)
    }

    /// Makes room for the hidden tree's `path`; whether a file is there.
    fn prepare(&self, path: &str) -> Result<bool> {
        lock(self.tree()?)
            .prepare(&self.hidden, path)
            .with_context(|| format!("preparing {}", self.hidden.join(path).display()))
    }

    /// Opens the hidden tree's `path` for writing: a new file to be renamed
    /// over the old one when there is one, so that a reader still holding
    /// the old file (a download begun two generations ago) keeps reading
    /// intact bytes.
    fn open_hidden(&self, path: &str, there: bool) -> Result<Pending> {
        let target = self.hidden.join(path);
        let tmp = if there {
            let mut name = target.file_name().unwrap_or_default().to_os_string();
            name.push(".sportello-new");
            Some(target.with_file_name(name))
        } else {
            None
        };
        let file = fs::File::create(tmp.as_ref().unwrap_or(&target))
            .with_context(|| format!("writing {}", target.display()))?;
        Ok(Pending {
            file: io::BufWriter::with_capacity(1 << 16, file),
            tmp,
            target,
        })
    }

    fn close_hidden(&self, mut out: Pending) -> Result<()> {
        out.file.flush().map_err(|e| out.error(e))?;
        if let Some(tmp) = &out.tmp {
            fs::rename(tmp, &out.target).map_err(|e| out.error(e))?;
        }
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Finishes the hidden tree and exchanges it with the live one, unless
    /// nothing differs.
    pub fn commit(mut self) -> Result<Outcome> {
        let expected = std::mem::take(&mut *lock(&self.expected));
        let folders = folders_of(expected.iter());
        let wanted: std::collections::HashSet<&str> = expected.iter().map(String::as_str).collect();
        if !self.differs.load(Ordering::Relaxed) {
            // Every file matched: only a stale file in the live tree (an
            // entry deleted) can still call for a new generation.
            let live = Tree::read(&self.live)
                .with_context(|| format!("reading {}", self.live.display()))?;
            let stale = !live.others.is_empty()
                || live.files.iter().any(|f| !wanted.contains(f.as_str()))
                || live.dirs.iter().any(|d| !folders.contains(d.as_str()));
            if !stale {
                return Ok(Outcome {
                    written: 0,
                    replaced: false,
                });
            }
        }
        let deferred = std::mem::take(&mut *lock(&self.deferred));
        deferred.par_iter().try_for_each(|path| {
            let p = self.live.join(path);
            let mut bytes = Vec::new();
            open_to_read(&p)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .with_context(|| format!("reading {}", p.display()))?;
            self.put_hidden(path, &bytes)
        })?;
        self.remove_stale(&wanted, &folders)?;
        durable::sync_tree(&self.hidden)?;
        let (live_id, hidden_id) = (id_of(&self.live), id_of(&self.hidden));
        exchange(&self.live, &self.hidden).with_context(|| {
            format!(
                "exchanging {} with {}",
                self.hidden.display(),
                self.live.display()
            )
        })?;
        durable::sync_dir(super::parent_of(&self.live))?;
        self.owner.record(hidden_id, live_id)?;
        Ok(Outcome {
            written: self.written.load(Ordering::Relaxed),
            replaced: true,
        })
    }

    /// Removes from the hidden tree what the new site does not have: whole
    /// folders at their top (in parallel: a deleted entry is a folder),
    /// then single files.
    fn remove_stale(
        &self,
        wanted: &std::collections::HashSet<&str>,
        folders: &std::collections::HashSet<&str>,
    ) -> Result<()> {
        let tree = lock(self.tree()?);
        let gone = |d: &str| !folders.contains(d);
        let top: Vec<&String> = tree
            .dirs
            .iter()
            .filter(|d| gone(d) && !d.rsplit_once('/').is_some_and(|(p, _)| gone(p)))
            .collect();
        let files: Vec<&String> = tree
            .files
            .iter()
            .filter(|f| {
                !wanted.contains(f.as_str()) && f.rsplit_once('/').is_none_or(|(p, _)| !gone(p))
            })
            .collect();
        let root = &self.hidden;
        top.par_iter()
            .try_for_each(|d| fs::remove_dir_all(root.join(d)))
            .and_then(|()| {
                files
                    .par_iter()
                    .try_for_each(|f| fs::remove_file(root.join(f)))
            })
            .with_context(|| format!("removing stale files from {}", root.display()))
    }
}

impl Sink for Swap {
    fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        self.expect(path);
        if !self.differs.load(Ordering::Relaxed) {
            if holds(&self.live.join(path), bytes) {
                lock(&self.deferred).push(path.to_string());
                return Ok(());
            }
            self.differs.store(true, Ordering::Relaxed);
        }
        self.put_hidden(path, bytes)
    }

    fn stream(
        &self,
        path: &str,
        write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<usize> {
        self.expect(path);
        // Compared as it comes, so a large file is never held whole: with
        // the live tree's file until the first difference, then with the
        // hidden tree's; written from the first byte that differs.
        let (reference, there) = if self.differs.load(Ordering::Relaxed) {
            (self.hidden.join(path), Some(self.prepare(path)?))
        } else {
            (self.live.join(path), None)
        };
        let mut cmp = Compare {
            swap: self,
            path,
            old: open_to_read(&reference).ok(),
            reference,
            there,
            same: 0,
            out: None,
        };
        // Buffered, so the reference is read in large pieces rather than
        // one read per small write of the stream.
        let mut w = Counting {
            inner: io::BufWriter::with_capacity(1 << 16, &mut cmp),
            n: 0,
        };
        write(&mut w)
            .and_then(|()| w.flush())
            .with_context(|| format!("writing {path}"))?;
        let n = w.n;
        drop(w);
        let mut one = [0u8; 1];
        let equal = cmp.out.is_none()
            && cmp
                .old
                .as_mut()
                .is_some_and(|f| matches!(f.read(&mut one), Ok(0)));
        if equal {
            if cmp.there.is_none() {
                lock(&self.deferred).push(path.to_string());
            }
            return Ok(n);
        }
        if cmp.out.is_none() {
            // The reference is longer: all the stream matched its start.
            cmp.diverge().map_err(anyhow::Error::from)?;
        }
        let out = cmp.out.take().expect("opened when diverging");
        self.close_hidden(out)?;
        Ok(n)
    }
}

/// A file being written into the hidden tree.
struct Pending {
    file: io::BufWriter<fs::File>,
    tmp: Option<PathBuf>,
    target: PathBuf,
}

impl Pending {
    fn error(&self, e: io::Error) -> anyhow::Error {
        anyhow::Error::from(e).context(format!("writing {}", self.target.display()))
    }
}

/// Compares a stream with the `reference` file, `same` bytes matching so
/// far; from the first difference on, writes it into the hidden tree.
struct Compare<'a> {
    swap: &'a Swap,
    path: &'a str,
    reference: PathBuf,
    /// Whether the hidden tree has the file, when the reference is there.
    there: Option<bool>,
    old: Option<fs::File>,
    same: u64,
    out: Option<Pending>,
}

impl Compare<'_> {
    /// Opens the hidden file and copies into it the bytes that matched.
    fn diverge(&mut self) -> io::Result<()> {
        let swap = self.swap;
        let opened = (|| -> Result<Pending> {
            let there = match self.there {
                Some(t) => t,
                None => {
                    swap.differs.store(true, Ordering::Relaxed);
                    swap.prepare(self.path)?
                }
            };
            let mut out = swap.open_hidden(self.path, there)?;
            if self.same > 0 {
                let mut old = open_to_read(&self.reference)
                    .map_err(|e| out.error(e))?
                    .take(self.same);
                io::copy(&mut old, &mut out.file).map_err(|e| out.error(e))?;
            }
            Ok(out)
        })()
        .map_err(|e| io::Error::other(format!("{e:#}")))?;
        self.old = None;
        self.out = Some(opened);
        Ok(())
    }
}

impl Write for Compare<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.out.is_none() {
            if let Some(f) = &mut self.old {
                let mut have = vec![0u8; buf.len()];
                let mut got = 0;
                while got < buf.len() {
                    match f.read(&mut have[got..]) {
                        Ok(0) => break,
                        Ok(k) => got += k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                if have[..got] == *buf {
                    self.same += buf.len() as u64;
                    return Ok(buf.len());
                }
            }
            self.diverge()?;
        }
        let out = self.out.as_mut().expect("opened when diverging");
        out.file.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
