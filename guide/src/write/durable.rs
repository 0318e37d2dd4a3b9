//! Making a new generation durable before it goes live: without it, a
//! power cut soon after a build could leave `public/` pointing at a tree
//! whose files never reached the disk (empty or missing pages).
//!
//! One `syncfs(2)` of the file system holding the new tree, not an `fsync`
//! per file: a build writes thousands of files, and the kernel flushes
//! them together far faster than one by one. After the exchange the parent
//! folder is synced, so the renames themselves survive.

use std::fs::File;
use std::io;
use std::path::Path;

use anyhow::{Context, Result};

/// Flushes to disk everything written into the file system holding `dir`
/// (the new tree), before it is exchanged with the live one.
pub fn sync_tree(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| sync_fs(&f))
        .with_context(|| format!("flushing {} to disk", dir.display()))
}

/// Flushes `dir`'s own entries (the names renamed into it).
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("flushing {} to disk", dir.display()))
}

#[cfg(target_os = "linux")]
fn sync_fs(f: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a file descriptor owned by `f`, open for the whole call.
    if unsafe { libc::syncfs(f.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Elsewhere, no per-file-system flush: the whole machine's.
#[cfg(not(target_os = "linux"))]
fn sync_fs(_: &File) -> io::Result<()> {
    // SAFETY: no arguments; sync(2) cannot fail.
    unsafe { libc::sync() };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_and_its_parent_are_flushed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.html"), "x").unwrap();
        sync_tree(dir.path()).unwrap();
        sync_dir(dir.path()).unwrap();
    }

    #[test]
    fn a_missing_tree_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("public");
        for e in [sync_tree(&gone).unwrap_err(), sync_dir(&gone).unwrap_err()] {
            let msg = format!("{e:#}");
            assert!(
                msg.contains("flushing") && msg.contains(&*gone.to_string_lossy()),
                "{msg}"
            );
        }
    }
}
