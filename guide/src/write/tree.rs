//! What a tree on disk holds, read with one `getdents` pass per folder (the
//! kernel's file types, no `stat`), and the folder work of writing into it.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// The regular files and folders of a tree, relative to its root with `/`;
/// anything else (links, sockets, names that are not UTF-8) in `others`.
#[derive(Debug, Default)]
pub struct Tree {
    pub files: HashSet<String>,
    pub dirs: HashSet<String>,
    pub others: Vec<PathBuf>,
}

impl Tree {
    /// Reads the tree under `root`, its folders in parallel (a guide has a
    /// folder per page).
    pub fn read(root: &Path) -> io::Result<Tree> {
        read_dir(root, "")
    }

    /// Makes the folder of `path` in the tree at `root`, replacing files
    /// that stand where a folder must be, and removes a folder standing
    /// where the file must be. Returns whether a file `path` is there.
    /// Called under one lock: folders are few next to files, and two
    /// threads must not both create or remove the same one.
    pub fn prepare(&mut self, root: &Path, path: &str) -> io::Result<bool> {
        if let Some((parent, _)) = path.rsplit_once('/') {
            if !self.dirs.contains(parent) {
                let mut at = 0;
                while at <= parent.len() {
                    let end = parent[at..].find('/').map_or(parent.len(), |i| at + i);
                    let dir = &parent[..end];
                    at = end + 1;
                    if self.dirs.contains(dir) {
                        continue;
                    }
                    if self.files.remove(dir) {
                        fs::remove_file(root.join(dir))?;
                    }
                    match fs::create_dir(root.join(dir)) {
                        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                        _ => {}
                    }
                    self.dirs.insert(dir.to_string());
                }
            }
        }
        if self.dirs.remove(path) {
            fs::remove_dir_all(root.join(path))?;
            let inside = format!("{path}/");
            self.dirs.retain(|d| !d.starts_with(&inside));
            self.files.retain(|f| !f.starts_with(&inside));
        }
        Ok(!self.files.insert(path.to_string()))
    }
}

fn read_dir(dir: &Path, rel: &str) -> io::Result<Tree> {
    let mut tree = Tree::default();
    let mut subdirs = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            tree.others.push(Path::new(rel).join(&name));
            continue;
        };
        let path = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        if kind.is_dir() {
            subdirs.push((entry.path(), path));
        } else if kind.is_file() {
            tree.files.insert(path);
        } else {
            tree.others.push(PathBuf::from(path));
        }
    }
    let subtrees = subdirs
        .into_par_iter()
        .map(|(abs, path)| read_dir(&abs, &path).map(|t| (path, t)))
        .collect::<io::Result<Vec<_>>>()?;
    for (path, sub) in subtrees {
        tree.dirs.insert(path);
        tree.dirs.extend(sub.dirs);
        tree.files.extend(sub.files);
        tree.others.extend(sub.others);
    }
    Ok(tree)
}

/// Every folder that holds one of `files`.
pub fn folders_of<'a>(files: impl Iterator<Item = &'a String>) -> HashSet<&'a str> {
    let mut dirs = HashSet::new();
    for f in files {
        let mut rest = f.as_str();
        while let Some((parent, _)) = rest.rsplit_once('/') {
            if !dirs.insert(parent) {
                break;
            }
            rest = parent;
        }
    }
    dirs
}

/// Opens a file to compare it, without updating its access time where the
/// system allows it: a rebuild that changes nothing should not make the
/// file system journal 10,000 access times either.
pub fn open_to_read(path: &Path) -> io::Result<fs::File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NOATIME is refused (EPERM) on files of another user.
        if let Ok(f) = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOATIME)
            .open(path)
        {
            return Ok(f);
        }
    }
    fs::File::open(path)
}

/// Whether the file at `path` holds exactly `bytes` (false when missing
/// or not a file).
pub fn holds(path: &Path, bytes: &[u8]) -> bool {
    let Ok(f) = open_to_read(path) else {
        return false;
    };
    // One byte more than expected tells a longer file apart without
    // reading all of it.
    let mut have = Vec::with_capacity(bytes.len() + 1);
    match f.take(bytes.len() as u64 + 1).read_to_end(&mut have) {
        Ok(_) => have == bytes,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_lists_every_ancestor_once() {
        let files = ["a/b/c.html".to_string(), "a/d.html".into(), "e".into()];
        let mut got: Vec<&str> = folders_of(files.iter()).into_iter().collect();
        got.sort();
        assert_eq!(got, ["a", "a/b"]);
    }

    #[test]
    fn prepare_replaces_a_file_standing_where_a_folder_goes_and_back() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), "x").unwrap();
        fs::create_dir_all(dir.path().join("b/c")).unwrap();
        fs::write(dir.path().join("b/c/d"), "x").unwrap();
        let mut tree = Tree::read(dir.path()).unwrap();
        assert!(!tree.prepare(dir.path(), "a/index.html").unwrap());
        assert!(dir.path().join("a").is_dir());
        assert!(!tree.prepare(dir.path(), "b").unwrap());
        assert!(!dir.path().join("b").exists());
        assert!(tree.files.contains("b") && !tree.files.contains("b/c/d"));
        assert!(tree.prepare(dir.path(), "b").unwrap());
    }
}
