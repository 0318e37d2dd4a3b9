//! An edit applied in place: the dirty files parsed again and checked
//! against the rest, the model updated, and only the pages, lists, machine
//! files and index files that show them made again.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::{self, Kind};
use crate::model::{Page, Place, Service};
use crate::parse::{self, Parsed};
use crate::render::{self, PageId};
use crate::validate::{self, derive_lists, ServiceContext};

use super::{links, outputs, slug_of, Live, Outcome};

impl Live {
    /// Re-parses the dirty files and, if the whole content is valid with
    /// them, updates the site and re-renders what shows them.
    pub(super) fn incremental(&mut self, what: String) -> Outcome {
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
}

fn add_service_lists(s: &Service, affected: &mut BTreeSet<PageId>) {
    affected.insert(PageId::Category(s.category));
    affected.extend(s.topics.iter().map(|&i| PageId::Topic(i)));
    affected.extend(s.audiences.iter().map(|&i| PageId::Audience(i)));
    affected.insert(PageId::Office(s.office));
    affected.extend(s.desks.iter().map(|&i| PageId::Desk(i)));
}
