//! Gathering a burst of watcher events into one rebuild.
//!
//! An editor's save is several events (a temporary file and a rename, a
//! backup, truncate then write). Waiting a fixed quiet time after each
//! event is safe but costs that time on every save; on Linux the watcher
//! also says when a file written to is closed, so once every file being
//! written is closed (or renamed or removed) only a short quiet time is
//! needed to catch the rest of the burst.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::EventKind;

/// The quiet time while a file is being written (opened for writing and
/// not closed yet), or where the platform does not report closes.
pub const DEBOUNCE: Duration = Duration::from_millis(30);
/// The quiet time once every file written to is closed: the rest of a
/// save (a rename, a backup removed) follows within microseconds.
pub const SETTLE: Duration = Duration::from_millis(5);
/// A rebuild starts at the latest this long after the first event of a burst.
pub const DEBOUNCE_MAX: Duration = Duration::from_millis(300);

/// The events of one burst so far.
#[derive(Debug, Default)]
pub struct Burst {
    /// Every path an event named, in the order seen.
    pub paths: Vec<PathBuf>,
    /// Files created or written to and not closed yet.
    writing: HashSet<PathBuf>,
    /// The watcher lost events (its queue overflowed): any file may have
    /// changed, so everything is rebuilt.
    pub missed: bool,
}

/// Whether an event only says a file was opened or read (the rebuild's own
/// reads among them): it changes nothing.
pub fn is_read(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Access(k) if *k != AccessKind::Close(AccessMode::Write))
}

impl Burst {
    /// Adds an event. Returns false for events that change nothing (a file
    /// opened or read), which neither start a burst nor extend one.
    pub fn add(&mut self, event: &notify::Event) -> bool {
        let (kind, paths) = (&event.kind, &event.paths[..]);
        if event.need_rescan() {
            self.missed = true;
            return true;
        }
        match kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                for p in paths {
                    self.writing.remove(p);
                }
                // The close of a file nobody saw written (its events came
                // before the burst) still means it changed.
            }
            _ if is_read(kind) => return false,
            EventKind::Create(CreateKind::Folder) => {}
            EventKind::Create(_)
            | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any | ModifyKind::Other) => {
                self.writing.extend(paths.iter().cloned());
            }
            EventKind::Modify(ModifyKind::Name(RenameMode::From | RenameMode::Both))
            | EventKind::Remove(_) => {
                // A file moved away or removed is no longer written here
                // (for `Both`, the first path is where it came from).
                if let Some(from) = paths.first() {
                    self.writing.remove(from);
                }
            }
            _ => {}
        }
        self.paths.extend(paths.iter().cloned());
        true
    }

    /// How long to wait for the next event before rebuilding.
    pub fn quiet(&self) -> Duration {
        if self.writing.is_empty() {
            SETTLE
        } else {
            DEBOUNCE
        }
    }

    /// Whether no event of the burst named a path or lost some.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && !self.missed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{DataChange, Flag, MetadataKind, RemoveKind};

    const WRITE: EventKind = EventKind::Modify(ModifyKind::Data(DataChange::Any));
    const CLOSE: EventKind = EventKind::Access(AccessKind::Close(AccessMode::Write));

    fn add(b: &mut Burst, kind: EventKind, paths: &[&str]) -> bool {
        let mut e = notify::Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        b.add(&e)
    }

    #[test]
    fn a_write_waits_until_it_is_closed() {
        let mut b = Burst::default();
        assert!(add(&mut b, WRITE, &["services/a.md"]));
        assert_eq!(b.quiet(), DEBOUNCE);
        assert!(add(&mut b, CLOSE, &["services/a.md"]));
        assert_eq!(b.quiet(), SETTLE);
        assert_eq!(b.paths.len(), 2);
    }

    #[test]
    fn an_atomic_save_settles_when_the_temporary_file_is_renamed() {
        let mut b = Burst::default();
        add(
            &mut b,
            EventKind::Create(CreateKind::File),
            &["s/.a.md.tmp"],
        );
        add(&mut b, WRITE, &["s/.a.md.tmp"]);
        assert_eq!(b.quiet(), DEBOUNCE);
        let rename = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        add(&mut b, rename, &["s/.a.md.tmp", "s/a.md"]);
        assert_eq!(b.quiet(), SETTLE);
        assert!(b.paths.contains(&PathBuf::from("s/a.md")));
    }

    #[test]
    fn one_file_still_open_keeps_the_long_wait() {
        let mut b = Burst::default();
        add(&mut b, WRITE, &["a.md"]);
        add(&mut b, WRITE, &["b.md"]);
        add(&mut b, CLOSE, &["a.md"]);
        assert_eq!(b.quiet(), DEBOUNCE);
        add(&mut b, EventKind::Remove(RemoveKind::File), &["b.md"]);
        assert_eq!(b.quiet(), SETTLE);
    }

    #[test]
    fn reads_do_not_count_and_metadata_does_not_reopen() {
        let mut b = Burst::default();
        let open = EventKind::Access(AccessKind::Open(AccessMode::Any));
        assert!(!add(&mut b, open, &["a.md"]));
        let read = EventKind::Access(AccessKind::Close(AccessMode::Read));
        assert!(!add(&mut b, read, &["a.md"]));
        assert!(b.is_empty());
        let chmod = EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any));
        add(&mut b, chmod, &["a.md"]);
        assert_eq!(b.quiet(), SETTLE);
        assert!(!b.is_empty());
    }

    #[test]
    fn lost_events_make_a_burst_of_their_own() {
        let mut b = Burst::default();
        let overflow = notify::Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert!(b.add(&overflow));
        assert!(b.missed && !b.is_empty());
    }

    /// The short wait rests on inotify reporting closes: a save through
    /// the real watcher ends settled, and a file still open does not.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_save_seen_by_the_real_watcher_settles_only_once_closed() {
        use notify::Watcher;
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
            let _ = tx.send(e.unwrap());
        })
        .unwrap();
        watcher
            .watch(dir.path(), notify::RecursiveMode::Recursive)
            .unwrap();
        let path = dir.path().join("a.md");
        let mut burst = Burst::default();
        let until = |burst: &mut Burst, done: &dyn Fn(&notify::Event) -> bool| loop {
            let e = rx.recv_timeout(Duration::from_secs(10)).expect("an event");
            burst.add(&e);
            if done(&e) {
                break;
            }
        };
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(b"title = ").unwrap();
        until(&mut burst, &|e| matches!(e.kind, EventKind::Modify(_)));
        assert_eq!(burst.quiet(), DEBOUNCE, "written to and still open");
        drop(file);
        until(&mut burst, &|e| e.kind == CLOSE);
        assert_eq!(burst.quiet(), SETTLE, "closed");
        assert!(burst.paths.contains(&path));
    }
}
