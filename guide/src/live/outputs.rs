//! Step 4 of an edit: the pages that show it, the files for machines and
//! the search index's patch. The three are made side by side: each is
//! mostly one long task (the A-Z page, services.json, the index) that
//! would otherwise wait for the others. Each compares its files with the
//! served ones as it ends, and copies only those that differ: the A-Z page
//! alone is 3 MB.

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;

use crate::render::{self, PageId};
use crate::write::OutputFile;

use super::Good;

/// The files `serve` serves, by path.
type Served = BTreeMap<Arc<str>, Arc<[u8]>>;

/// A file an edit writes, ready to be served, and whether its bytes differ
/// from the served file of that path (if they do not, they are that file's).
pub(super) type Written = (String, Arc<[u8]>, bool);

/// What an edit writes, and the files of the index it no longer has.
pub(super) struct Outputs {
    pub written: Vec<Written>,
    pub removed: Vec<String>,
}

/// Renders `ids`, makes the machine files (but the open data) and patches
/// the index for the services `changed` (slugs); `others_changed` when an
/// edit may change what other services index (an office's name).
pub(super) fn make(
    good: &mut Good,
    served: &Served,
    ids: &[PageId],
    changed: &[String],
    others_changed: bool,
) -> anyhow::Result<Outputs> {
    let Good {
        site,
        tera,
        index,
        cards,
        machine,
        ..
    } = good;
    let (site, tera, cards) = (&*site, &*tera, &*cards);
    let (pages, (delta, machine_files)) = rayon::join(
        || render::render_pages(site, tera, cards, ids).map(|pages| compared(served, pages)),
        || {
            rayon::join(
                // Only the changed services are tokenised again, and only
                // the index files they touch are encoded again.
                || {
                    let delta =
                        index.edit(&crate::index::collection(site), changed, others_changed);
                    (compared(served, delta.written), delta.removed)
                },
                || {
                    crate::export::machine_files(site, tera, machine)
                        .map(|files| compared(served, files))
                },
            )
        },
    );
    let mut written = pages?;
    written.extend(machine_files?);
    written.extend(delta.0);
    Ok(Outputs {
        written,
        removed: delta.1,
    })
}

/// `files`, each with whether it differs from the served file of its path.
fn compared(served: &Served, files: Vec<OutputFile>) -> Vec<Written> {
    files
        .into_par_iter()
        .map(|(path, bytes)| match served.get(path.as_str()) {
            Some(old) if **old == *bytes => (path, old.clone(), false),
            _ => (path, Arc::from(bytes), true),
        })
        .collect()
}
