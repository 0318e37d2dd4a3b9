//! The site kept in memory while an editor works, and how one changed file
//! updates it: re-parse that file, re-check it against the rest, re-render
//! only the pages that show it. The result is byte-identical to a full build.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use tera::Tera;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::index::SearchIndex;
use crate::model::Site;
use crate::render::{self};
use crate::{export, write, Options};

mod changes;
mod incremental;
mod links;
mod outputs;
#[cfg(test)]
mod tests;
use changes::classify;
pub use changes::{describe, Change};
use links::slug_of;

/// The start of the note that marks the page of a draft while previewing;
/// `build` never writes it.
pub const DRAFT_NOTE_START: &str = "<p id=\"sportello-draft\" role=\"note\" style=\"position:sticky;top:0;z-index:2147483646;margin:0;padding:.5rem 1rem;background:#fff3cd;color:#3d2e00;border-bottom:2px solid #8a6d00;font:bold 16px/1.4 system-ui,sans-serif\">";

/// The note's text for a theme whose language file has no `draft_note`.
pub const DRAFT_NOTE_FALLBACK: &str =
    "Bozza: questa pagina non viene pubblicata finché nella scheda c'è draft = true.";

/// The note that marks a draft's page, with `text` from the page's language file.
pub fn draft_note(text: &str) -> String {
    format!("{DRAFT_NOTE_START}{}</p>", tera::escape_html(text))
}

/// What a rebuild did, for the terminal and the browser.
#[derive(Debug)]
pub enum Outcome {
    /// The site changed: how many files were rewritten or removed.
    Updated {
        what: String,
        files: usize,
        took: Duration,
        full: bool,
    },
    /// Nothing visible changed (e.g. a file saved without edits).
    Unchanged { what: String, took: Duration },
    /// The content has errors: the last good site stays served.
    Errors { what: String, report: String },
    /// The theme itself is broken (templates do not parse or render).
    Failed { what: String, error: String },
}

/// The last good site and everything needed to update it.
struct Good {
    site: Site,
    tera: Tera,
    index: SearchIndex,
    /// The services' cards, rendered again only for the services edited.
    cards: render::Cards,
    /// The sitemap and the objects of services.json, made again only when
    /// what they show changes.
    machine: export::Kept,
    /// Internal links of every content file, by relative path.
    links: links::Links,
    /// Every address a link may point to, as of the last good edit.
    known: Option<HashSet<String>>,
}

pub struct Live {
    opts: Options,
    good: Option<Good>,
    /// The served files: path relative to the site root, and bytes.
    /// Shared keys: a snapshot of the map for the readers costs no copy of them.
    pub files: BTreeMap<Arc<str>, Arc<[u8]>>,
    /// Content files changed since the last good state (relative paths).
    dirty: BTreeSet<String>,
    /// Errors of the current content, rendered as in the terminal.
    pub errors: Option<String>,
    /// Warnings of the last good content, by file, for the terminal and
    /// the overlay's strip.
    warnings: BTreeMap<String, Vec<Diagnostic>>,
    /// Whether the served open data predates the last edit: it is made
    /// again when next asked for (see [`Live::refresh_open_data`]).
    open_data_stale: bool,
}

impl Live {
    /// Whether the open data in `files` predates the last edit.
    pub fn open_data_is_stale(&self) -> bool {
        self.open_data_stale
    }

    /// After a rebuild panicked half-way: the state may be half-updated,
    /// so the next change rebuilds everything.
    pub fn forget_after_panic(&mut self) {
        self.good = None;
        self.dirty.clear();
    }

    /// Makes the open data of the last good site again, if an edit made it stale.
    pub fn refresh_open_data(&mut self) {
        if !self.open_data_stale {
            return;
        }
        if let Some(good) = &self.good {
            for (path, bytes) in crate::opendata::files(&good.site) {
                self.files.insert(Arc::from(path), Arc::from(bytes));
            }
        }
        self.open_data_stale = false;
    }

    /// The warnings of the content, summarised as in the terminal; `None` when there are none.
    pub fn warnings_report(&self) -> Option<String> {
        if self.warnings.is_empty() {
            return None;
        }
        let mut all = Diagnostics::default();
        all.extend(self.warnings.values().flatten().cloned());
        all.sort();
        Some(all.render_with(false, crate::diagnostics::Verbosity::Summary))
    }

    /// The served files (`servizi/x/index.html`) that are pages of drafts,
    /// in both editions, each with the note that marks it in its language.
    pub fn draft_pages(&self) -> BTreeMap<String, Arc<str>> {
        let Some(good) = &self.good else {
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for site in std::iter::once(&good.site).chain(good.site.translation.as_deref()) {
            let note: Arc<str> = draft_note(
                site.lang
                    .labels
                    .get("draft_note")
                    .map_or(DRAFT_NOTE_FALLBACK, String::as_str),
            )
            .into();
            let root = site.urls.site_root();
            // An entry without translation keeps its Italian address in the
            // English edition: only the edition's own pages are its drafts.
            let own = site.urls.home();
            let urls = site
                .services
                .iter()
                .filter(|s| s.draft)
                .map(|s| &s.url)
                .chain(
                    site.offices
                        .iter()
                        .chain(&site.desks)
                        .filter(|p| p.draft)
                        .map(|p| &p.url),
                )
                .chain(site.pages.iter().filter(|p| p.draft).map(|p| &p.url))
                .filter(|u| u.starts_with(&own));
            for u in urls {
                out.insert(crate::urls::output_file(root, u), note.clone());
            }
        }
        out
    }

    /// Builds the whole site. Errors are kept in `errors`, not returned.
    pub fn new(opts: Options) -> (Live, Outcome) {
        let mut live = Live {
            opts,
            good: None,
            files: BTreeMap::new(),
            dirty: BTreeSet::new(),
            errors: None,
            warnings: BTreeMap::new(),
            open_data_stale: false,
        };
        let outcome = live.full_rebuild("initial build".into());
        (live, outcome)
    }

    /// Classifies a path from the watcher; `None` for files that are not input.
    pub fn classify(&self, path: &Path) -> Option<Change> {
        classify(&self.opts.content, &self.opts.theme, path)
    }

    /// Applies a batch of changes.
    pub fn apply(&mut self, changes: &[Change]) -> Outcome {
        let what = describe(changes);
        let global = changes.iter().any(|c| matches!(c, Change::Global(_)));
        if global || self.good.is_none() {
            return self.full_rebuild(what);
        }
        for c in changes {
            if let Change::Content(rel) = c {
                self.dirty.insert(rel.clone());
            }
        }
        // Offices, desks and pages that appear or disappear change the shape
        // of the site (indexes, footer): rebuild it all.
        let good = self.good.as_ref().expect("checked above");
        let shape_changes = self.dirty.iter().any(|rel| {
            let exists = self.opts.content.join(rel).is_file();
            let known = good.links.contains_key(rel);
            !rel.starts_with("services/") && exists != known
        });
        // With an English edition, an Italian entry shows on pages of both
        // (inherited data, lists, pairs): the incremental path patches the
        // Italian one only, so rebuild it all, through the same stages.
        if shape_changes || good.site.translation.is_some() {
            return self.full_rebuild(what);
        }
        self.incremental(what)
    }

    fn full_rebuild(&mut self, what: String) -> Outcome {
        let start = Instant::now();
        self.dirty.clear();
        let mut diags = Diagnostics::default();
        let built = crate::load_site_with_links(&self.opts, &mut diags);
        self.warnings.clear();
        for d in diags.iter().filter(|d| !d.is_error()) {
            self.warnings
                .entry(d.file.clone())
                .or_default()
                .push(d.clone());
        }
        let Some((site, links)) = built.filter(|_| !diags.has_errors()) else {
            let report = diags.render(false);
            self.errors = Some(report.clone());
            // Keep serving the last good files, but every change rebuilds all
            // until the content is whole again.
            self.good = None;
            return Outcome::Errors { what, report };
        };
        let tera = match render::load_templates(&self.opts.theme) {
            Ok(t) => t,
            Err(e) => return self.theme_failed(what, &e),
        };
        // The same stages as `build`, into memory, keeping the search
        // index so that later edits can patch its files.
        let sink = write::MemorySink::default();
        let mut timings = crate::Timings::default();
        let (index, cards) =
            match crate::write_site(&site, &tera, &self.opts, true, &sink, &mut timings) {
                Ok(w) => (
                    w.index.unwrap_or_else(|| crate::index::build(&site)),
                    w.cards,
                ),
                Err(e) => return self.theme_failed(what, &e),
            };
        let new: BTreeMap<Arc<str>, Arc<[u8]>> = sink
            .into_files()
            .into_iter()
            .map(|(p, b)| (Arc::from(p), b))
            .collect();
        let changed = count_changes(&self.files, &new);
        self.files = new;
        self.open_data_stale = false;
        self.errors = None;
        self.good = Some(Good {
            site,
            tera,
            index,
            cards,
            machine: export::Kept::default(),
            links: links
                .into_iter()
                .map(|(src, l)| (src.rel.clone(), (src, l)))
                .collect(),
            known: None,
        });
        Outcome::Updated {
            what,
            files: changed,
            took: start.elapsed(),
            full: true,
        }
    }

    fn theme_failed(&mut self, what: String, e: &anyhow::Error) -> Outcome {
        let error = format!("{e:#}");
        self.errors = Some(format!("error: {error}\n"));
        self.good = None;
        Outcome::Failed { what, error }
    }

    /// Every content file this state knows, for tests and messages.
    pub fn content_dir(&self) -> &PathBuf {
        &self.opts.content
    }
}

fn count_changes(
    old: &BTreeMap<Arc<str>, Arc<[u8]>>,
    new: &BTreeMap<Arc<str>, Arc<[u8]>>,
) -> usize {
    let changed = new
        .iter()
        .filter(|(p, b)| old.get(*p).is_none_or(|o| o != *b))
        .count();
    changed + old.keys().filter(|p| !new.contains_key(*p)).count()
}

/// For tests: the output of a full build, the way `serve` holds it.
pub fn full_build_files(opts: &Options) -> Result<BTreeMap<String, Vec<u8>>> {
    match crate::build_in_memory(opts)? {
        Ok(files) => Ok(files.into_iter().map(|(p, b)| (p, b.to_vec())).collect()),
        Err(diags) => anyhow::bail!("content errors:\n{}", diags.render(false)),
    }
}
