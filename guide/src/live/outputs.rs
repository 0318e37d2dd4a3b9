//! Step 4 of an edit: the pages that show it, the files for machines and
//! the search index's patch. The three are made side by side: each is
//! mostly one long task (the A-Z page, services.json, the index) that
//! would otherwise wait for the others.

use crate::render::{self, PageId};
use crate::write::OutputFile;

use super::Good;

/// What an edit writes, and the files of the index it no longer has.
pub(super) struct Outputs {
    pub written: Vec<OutputFile>,
    pub removed: Vec<String>,
}

/// Renders `ids`, makes the machine files (but the open data) and patches
/// the index for the services `changed` (slugs); `others_changed` when an
/// edit may change what other services index (an office's name).
pub(super) fn make(
    good: &mut Good,
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
        || render::render_pages(site, tera, cards, ids),
        || {
            rayon::join(
                // Only the changed services are tokenised again, and only
                // the index files they touch are encoded again.
                || index.edit(&crate::index::collection(site), changed, others_changed),
                || crate::export::machine_files(site, tera, machine),
            )
        },
    );
    let mut written: Vec<OutputFile> = pages?
        .into_iter()
        .map(|(p, h)| (p, h.into_bytes()))
        .collect();
    written.extend(machine_files?);
    written.extend(delta.written);
    Ok(Outputs {
        written,
        removed: delta.removed,
    })
}
