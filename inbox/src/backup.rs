//! `sportello-inbox backup FILE`: a consistent copy of the live database
//! with SQLite's online backup API, safe while `serve` runs. The copy holds
//! what the database holds: ciphertext and non-identifying metadata.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub referrals: i64,
    pub bytes: u64,
}

pub fn backup(db: &Path, out: &Path) -> Result<Summary> {
    if out.exists() {
        bail!("{} already exists: choose a new file name", out.display());
    }
    let src = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .with_context(|| format!("cannot open database {}", db.display()))?;
    src.busy_timeout(Duration::from_secs(10))?;
    // Written under a temporary name and renamed at the end: a file with the
    // final name is always a complete backup.
    let tmp = out.with_extension("partial");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    let result = copy(&src, &tmp);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, out)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), out.display()))?;
    if let Some(dir) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    let check = Connection::open_with_flags(out, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let referrals = check.query_row("SELECT COUNT(*) FROM referrals", [], |r| r.get(0))?;
    Ok(Summary {
        referrals,
        bytes: std::fs::metadata(out)?.len(),
    })
}

fn copy(src: &Connection, tmp: &Path) -> Result<()> {
    let mut dst = Connection::open(tmp)?;
    {
        let b = Backup::new(src, &mut dst)?;
        // All pages in one step: one read transaction, hence one snapshot,
        // and in WAL mode the server's writer is not blocked meanwhile.
        loop {
            match b.step(-1)? {
                StepResult::Done => break,
                StepResult::More => continue,
                StepResult::Busy | StepResult::Locked => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    let ok: String = dst.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if ok != "ok" {
        bail!("the backup does not pass the integrity check: {ok}");
    }
    // The copy inherits WAL mode; a single self-contained file is easier to
    // move and to restore.
    dst.pragma_update(None, "journal_mode", "DELETE")?;
    dst.close().map_err(|(_, e)| e)?;
    std::fs::File::open(tmp)?.sync_all()?;
    Ok(())
}
