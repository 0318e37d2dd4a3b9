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
use crate::load::{self, Kind};
use crate::model::{Page, Place, Service, Site};
use crate::parse::{self, Parsed};
use crate::render::{self, PageId};
use crate::validate::{self, derive_lists, ServiceContext};
use crate::{export, write, Options};

mod changes;
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

    /// Re-parses the dirty files and, if the whole content is valid with
    /// them, updates the site and re-renders what shows them.
    fn incremental(&mut self, what: String) -> Outcome {
        let start = Instant::now();
        let good = self.good.as_mut().expect("incremental needs a good site");
        let site = &good.site;
        let urls = site.urls.clone();
        let mut diags: Vec<Diagnostic> = Vec::new();

        // 1. Parse and check each dirty file on its own.
        let mut services: Vec<(String, Option<Service>)> = Vec::new();
        let mut places: Vec<(Kind, usize, Place)> = Vec::new();
        let mut pages: Vec<(Option<usize>, Page)> = Vec::new();
        let mut new_links = links::NewLinks::new();
        let ctx = ServiceContext::of_site(site, self.opts.today);
        for rel in &self.dirty {
            let path = self.opts.content.join(rel);
            if !path.is_file() {
                // Only services and pages can disappear here (see `apply`).
                let slug = slug_of(rel);
                services.push((slug, None));
                new_links.insert(rel.clone(), None);
                continue;
            }
            let kind = if rel == "_index.md" {
                Kind::Index
            } else {
                Kind::FOLDERS
                    .iter()
                    .find(|(f, _)| rel.starts_with(f))
                    .map(|(_, k)| *k)
                    .unwrap_or(Kind::Page)
            };
            let src = match load::read_entry(&path, rel, kind) {
                Ok(s) => s,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            let (parsed, ds) = parse::parse_file(src, &urls);
            diags.extend(ds);
            let Some(parsed) = parsed else { continue };
            let mut local = Diagnostics::default();
            match parsed {
                Parsed::Service(mut d) => {
                    let service = ctx.service(&mut d, &mut diags);
                    new_links.insert(
                        rel.clone(),
                        Some((d.src.clone(), std::mem::take(&mut d.body.links))),
                    );
                    match service {
                        Some(s) => services.push((s.slug.clone(), Some(s))),
                        None => continue,
                    }
                }
                Parsed::Office(mut d) => {
                    let place = validate::office_place(&d, &urls, &site.lang, &mut local);
                    new_links.insert(
                        rel.clone(),
                        Some((d.src.clone(), std::mem::take(&mut d.body.links))),
                    );
                    if let Some(i) = site.offices.iter().position(|o| o.slug == place.slug) {
                        places.push((Kind::Office, i, place));
                    }
                }
                Parsed::Desk(mut d) => {
                    let place = validate::desk_place(&d, &urls, &site.lang, &mut local);
                    new_links.insert(
                        rel.clone(),
                        Some((d.src.clone(), std::mem::take(&mut d.body.links))),
                    );
                    if let Some(i) = site.desks.iter().position(|o| o.slug == place.slug) {
                        places.push((Kind::Desk, i, place));
                    }
                }
                Parsed::Page(mut d) | Parsed::Index(mut d) => {
                    let is_home = d.src.kind == Kind::Index;
                    new_links.insert(
                        rel.clone(),
                        Some((d.src.clone(), std::mem::take(&mut d.body.links))),
                    );
                    let page = validate::page_of(&mut d, &urls);
                    let idx = if is_home {
                        None
                    } else {
                        site.pages.iter().position(|p| p.slug == page.slug)
                    };
                    pages.push((idx, page));
                }
            }
            diags.extend(local.into_vec());
        }

        // 2. Links, against the addresses the site would have.
        let (links_diags, known) = links::check(site, &good.links, &new_links, good.known.take());
        diags.extend(links_diags);

        if diags.iter().any(Diagnostic::is_error) {
            let mut all = Diagnostics::default();
            all.extend(diags);
            all.sort();
            let report = all.render(false);
            self.errors = Some(report.clone());
            return Outcome::Errors { what, report };
        }
        for rel in &self.dirty {
            self.warnings.remove(rel);
        }
        for d in &diags {
            self.warnings
                .entry(d.file.clone())
                .or_default()
                .push(d.clone());
        }

        // 3. Apply: update the model and note the pages that show the changes.
        let site = &mut good.site;
        let mut affected: BTreeSet<PageId> = [
            PageId::Home,
            PageId::Topics,
            PageId::AllServices,
            PageId::Search,
            // the lists of offices and desks show their names and contacts
            PageId::Offices,
            PageId::Desks,
        ]
        .into_iter()
        .collect();
        let mut removed: Vec<String> = Vec::new();
        let mut changed_services: Vec<String> = Vec::new();
        // Services edited in place, with where they were listed; `None`
        // once one is added or removed (positions shift).
        let mut edited: Option<Vec<(usize, validate::Listed)>> = Some(Vec::new());
        let mut footer_changed = false;
        // An office or desk edit may change what other services index.
        let others_changed = !places.is_empty();
        for (slug, new) in services {
            let pos = site
                .services
                .binary_search_by(|s| s.slug.as_str().cmp(&slug));
            if let Ok(i) = pos {
                add_service_lists(&site.services[i], &mut affected);
            }
            match (pos, new) {
                (Ok(i), Some(s)) => {
                    let old = std::mem::replace(&mut site.services[i], s);
                    if let Some(e) = &mut edited {
                        e.push((i, validate::Listed::of(&old)));
                    }
                }
                (Err(i), Some(s)) => {
                    site.services.insert(i, s);
                    edited = None;
                }
                (Ok(i), None) => {
                    edited = None;
                    removed.push(crate::urls::output_file(
                        urls.site_root(),
                        &site.services[i].url,
                    ));
                    site.services.remove(i);
                }
                (Err(_), None) => {}
            }
            changed_services.push(slug);
        }
        for (kind, i, place) in places {
            if kind == Kind::Office {
                site.offices[i] = Place {
                    services: std::mem::take(&mut site.offices[i].services),
                    ..place
                };
                affected.insert(PageId::Office(i));
            } else {
                site.desks[i] = Place {
                    services: std::mem::take(&mut site.desks[i].services),
                    ..place
                };
                affected.insert(PageId::Desk(i));
            }
            // Service pages show the office's and desks' details.
            for (si, s) in site.services.iter().enumerate() {
                if (kind == Kind::Office && s.office == i)
                    || (kind == Kind::Desk && s.desks.contains(&i))
                {
                    affected.insert(PageId::Service(si));
                }
            }
        }
        for (idx, page) in pages {
            match idx {
                None => site.home = page,
                Some(i) => {
                    footer_changed |= site.pages[i].title != page.title;
                    site.pages[i] = page;
                    affected.insert(PageId::Page(i));
                }
            }
        }
        match &edited {
            Some(edited) => validate::relist(site, edited),
            None => derive_lists(site),
        }
        // Tests of `serve` make a rebuild panic half-way, with the model
        // already changed; release builds have no such switch.
        #[cfg(debug_assertions)]
        if let Some(file) = std::env::var_os("SPORTELLO_TEST_PANIC_ON") {
            if self.dirty.contains(file.to_string_lossy().as_ref()) {
                panic!("test switch: the rebuild of {}", file.to_string_lossy());
            }
        }
        // What the open data needs of the edited entries (the rest changes
        // only with site.toml or taxonomy.toml, which rebuild everything).
        for d in crate::opendata::warnings(site) {
            if self.dirty.contains(&d.file) {
                self.warnings.entry(d.file.clone()).or_default().push(d);
            }
        }
        for slug in &changed_services {
            if let Ok(i) = site
                .services
                .binary_search_by(|s| s.slug.as_str().cmp(slug))
            {
                affected.insert(PageId::Service(i));
                add_service_lists(&site.services[i], &mut affected);
            }
        }
        good.cards.forget(site, &changed_services);
        good.known = Some(known);
        for (rel, l) in new_links {
            match l {
                Some(x) => good.links.insert(rel, x),
                None => good.links.remove(&rel),
            };
        }
        let ids: Vec<PageId> = if footer_changed {
            render::all_pages(site)
        } else {
            affected.into_iter().collect()
        };

        // 4. Render, export and index; keep only what really changed.
        let outputs =
            match outputs::make(good, &self.files, &ids, &changed_services, others_changed) {
                Ok(o) => o,
                Err(e) => return self.theme_failed(what, &e),
            };
        removed.extend(outputs.removed);
        // The open data lists every service: made again only when asked for,
        // so that a save stays as fast as the pages it changes.
        self.open_data_stale = true;
        let mut count = 0;
        for path in removed {
            count += usize::from(self.files.remove(path.as_str()).is_some());
        }
        for (path, bytes, differs) in outputs.written {
            // Compared before the removals: a file removed and made again is new.
            if differs || !self.files.contains_key(path.as_str()) {
                self.files.insert(Arc::from(path), bytes);
                count += 1;
            }
        }
        self.dirty.clear();
        self.errors = None;
        if count == 0 {
            Outcome::Unchanged {
                what,
                took: start.elapsed(),
            }
        } else {
            Outcome::Updated {
                what,
                files: count,
                took: start.elapsed(),
                full: false,
            }
        }
    }

    /// Every content file this state knows, for tests and messages.
    pub fn content_dir(&self) -> &PathBuf {
        &self.opts.content
    }
}

fn add_service_lists(s: &Service, affected: &mut BTreeSet<PageId>) {
    affected.insert(PageId::Category(s.category));
    affected.extend(s.topics.iter().map(|&i| PageId::Topic(i)));
    affected.extend(s.audiences.iter().map(|&i| PageId::Audience(i)));
    affected.insert(PageId::Office(s.office));
    affected.extend(s.desks.iter().map(|&i| PageId::Desk(i)));
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
