//! Trading two folders' places: the live tree and the hidden one, in one
//! `renameat2(RENAME_EXCHANGE)` so a web server sees one generation whole.

use std::fs;
use std::io;
use std::path::Path;

/// Puts `hidden` in place of `live` and `live` in place of `hidden` at once.
/// Where the kernel or the file system cannot (EINVAL, ENOSYS; not Linux),
/// three renames do it, leaving `live` missing for an instant as the staging
/// path does.
pub(super) fn exchange(live: &Path, hidden: &Path) -> io::Result<()> {
    match rename_exchange(live, hidden) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {
            three_renames(live, hidden)
        }
        other => other,
    }
}

fn three_renames(live: &Path, hidden: &Path) -> io::Result<()> {
    let mut name = hidden.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".old-{}", std::process::id()));
    let aside = hidden.with_file_name(name);
    fs::rename(live, &aside)?;
    fs::rename(hidden, live)?;
    fs::rename(&aside, hidden)
}

#[cfg(target_os = "linux")]
fn rename_exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two NUL-terminated paths that outlive the call. The raw
    // system call, so an older C library without the wrapper is no matter.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn rename_exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_trades_the_two_trees_too() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("public"), dir.path().join(".public.prev"));
        fs::create_dir(&a).unwrap();
        fs::create_dir(&b).unwrap();
        fs::write(a.join("index.html"), "old").unwrap();
        fs::write(b.join("index.html"), "new").unwrap();
        three_renames(&a, &b).unwrap();
        assert_eq!(fs::read_to_string(a.join("index.html")).unwrap(), "new");
        assert_eq!(fs::read_to_string(b.join("index.html")).unwrap(), "old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
        exchange(&a, &b).unwrap();
        assert_eq!(fs::read_to_string(a.join("index.html")).unwrap(), "old");
    }
}
