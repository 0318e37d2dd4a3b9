//! Which trees next to the output are ours, and one build at a time.
//!
//! A file `.NAME.sportello` next to the output (`NAME` the output's folder
//! name) is both the lock and the record: it is held with `flock` for the
//! whole build, so two builds into the same output wait for each other
//! instead of writing into the same hidden tree, and it names the device and
//! inode of the live tree and of the hidden one. A tree is written into in
//! place only when its inode is the one recorded: a `public/` someone else
//! made, or restored from a backup, gets the staging path, which never
//! writes into it.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A folder's identity: device and inode (stable across renames).
pub type Id = (u64, u64);

const HEADER: &str = "sportello output v1";

/// The held lock, with what the record said when it was taken.
pub struct Owner {
    file: fs::File,
    path: PathBuf,
    /// The recorded live tree and hidden tree, when the record could be read.
    pub recorded: Option<(Option<Id>, Option<Id>)>,
}

impl Owner {
    /// Takes the lock next to `output` (waiting for another build), and
    /// reads the record.
    pub fn lock(parent: &Path, name: &str) -> Result<Owner> {
        let path = parent.join(format!(".{name}.sportello"));
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        flock(&file).with_context(|| format!("locking {}", path.display()))?;
        let mut text = String::new();
        // An unreadable record means nothing is ours: the safe answer.
        let recorded = file
            .read_to_string(&mut text)
            .ok()
            .and_then(|_| parse(&text));
        Ok(Owner {
            file,
            path,
            recorded,
        })
    }

    /// Whether `live` and `hidden` (either may be missing) are the trees
    /// the record names. The two may have traded places: a build that
    /// stopped between the exchange and the record left them so, and both
    /// are still ours.
    pub fn owns(&self, live: Option<Id>, hidden: Option<Id>) -> bool {
        let Some((rec_live, rec_hidden)) = self.recorded else {
            return false;
        };
        let Some(live) = live else { return false };
        let known = |id: Id| rec_live == Some(id) || rec_hidden == Some(id);
        known(live) && hidden.is_none_or(|h| h != live && known(h))
    }

    /// Whether the record names this tree, live or hidden.
    pub fn knows(&self, id: Id) -> bool {
        self.recorded
            .is_some_and(|(live, hidden)| live == Some(id) || hidden == Some(id))
    }

    /// Records the trees now in place.
    pub fn record(&mut self, live: Option<Id>, hidden: Option<Id>) -> Result<()> {
        let line = |what: &str, id: Option<Id>| match id {
            Some((dev, ino)) => format!("{what} {dev} {ino}\n"),
            None => format!("{what} none\n"),
        };
        let text = format!("{HEADER}\n{}{}", line("live", live), line("hidden", hidden));
        (|| -> std::io::Result<()> {
            self.file.seek(SeekFrom::Start(0))?;
            self.file.set_len(0)?;
            self.file.write_all(text.as_bytes())?;
            // The record must match the trees on disk after a power cut.
            self.file.sync_data()
        })()
        .with_context(|| format!("writing {}", self.path.display()))
    }
}

fn parse(text: &str) -> Option<(Option<Id>, Option<Id>)> {
    let mut lines = text.lines();
    if lines.next()? != HEADER {
        return None;
    }
    let mut id = |what: &str| -> Option<Option<Id>> {
        let rest = lines.next()?.strip_prefix(what)?.trim();
        if rest == "none" {
            return Some(None);
        }
        let (dev, ino) = rest.split_once(' ')?;
        Some(Some((dev.parse().ok()?, ino.parse().ok()?)))
    };
    Some((id("live ")?, id("hidden ")?))
}

/// The identity of a real folder at `path` (not a link to one).
pub fn id_of(path: &Path) -> Option<Id> {
    let m = fs::symlink_metadata(path).ok()?;
    m.is_dir().then(|| dev_ino(&m))
}

#[cfg(unix)]
fn dev_ino(m: &fs::Metadata) -> Id {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn dev_ino(_: &fs::Metadata) -> Id {
    // No inodes to tell trees apart: nothing is ever recognised as ours,
    // so every build takes the staging path.
    (0, 0)
}

#[cfg(unix)]
fn flock(file: &fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: flock on a descriptor we own; released when it closes.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(not(unix))]
fn flock(_: &fs::File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_reads_back_and_a_garbled_one_owns_nothing() {
        let t = format!("{HEADER}\nlive 1 2\nhidden none\n");
        assert_eq!(parse(&t), Some((Some((1, 2)), None)));
        let t = format!("{HEADER}\nlive 1 2\nhidden 1 3\n");
        assert_eq!(parse(&t), Some((Some((1, 2)), Some((1, 3)))));
        assert_eq!(parse("live 1 2\n"), None);
        assert_eq!(parse(&format!("{HEADER}\nlive x 2\nhidden none\n")), None);
    }
}
