//! Step 3: check every rule of the content model and resolve references,
//! producing the [`Site`]. Every problem is reported, not just the first.
//!
//! `service` checks one service entry, `places` offices and desks; this
//! module assembles the site; `vocabulary` checks the taxonomy's terms,
//! `links` internal links, and `lists` derives the lists of services.

mod links;
mod lists;
pub mod places;
mod service;
mod vocabulary;

pub use links::{check_links, known_paths};
pub use lists::{derive_lists, relist, Listed};
pub use places::{desk_place, office_place};
pub use service::ServiceContext;
pub use vocabulary::SlugIndex;
use vocabulary::{vocabulary_share, Vocabulary};

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use time::{Date, Month};
use toml::value::Datetime;
use toml::Spanned;

use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics};
use crate::language::{Language, SectionKey};
use crate::load::SourceFile;
use crate::model::{
    title_sort_key, Cost, OpeningHours, Page, Place, Section, Service, Site, SiteInfo, Status,
};
use crate::parse::front::{self, DeskFront, Hours, OfficeFront, ServiceFront, TaxonomyFile};
use crate::parse::{Doc, InternalLink, Parsed};
use crate::slug::suggest_slug;
use crate::urls::Urls;

pub const TITLE_MAX: usize = 80;
pub const SUMMARY_MAX: usize = 200;
pub const SUMMARY_SNIPPET: usize = 160;
/// `reviewed` older than this many days is a warning.
pub const STALE_DAYS: i64 = 365;

/// Inputs that are not content entries.
pub struct Settings<'a> {
    pub info: SiteInfo,
    pub lang: Language,
    pub urls: Urls,
    pub taxonomy: Option<(TaxonomyFile, &'a SourceFile)>,
    pub synonyms: Vec<Vec<String>>,
    pub lexicon: crate::index::Lexicon,
    pub today: Date,
    /// Addresses of every content file found, valid or not, so that an
    /// entry with an error of its own does not also break the links to it.
    pub entry_paths: HashSet<String>,
    /// Publish drafts too (`--drafts`, and `serve`).
    pub drafts: bool,
}

/// The internal links of each content file, kept to re-check them when other files change.
pub type FileLinks = Vec<(SourceFile, Vec<InternalLink>)>;

/// Checks everything and builds the site. With errors, the returned site is
/// still complete enough to report on but must not be written.
pub fn build_site(
    parsed: Vec<Parsed>,
    settings: Settings<'_>,
    diags: &mut Diagnostics,
) -> (Site, FileLinks) {
    let Settings {
        info,
        lang,
        urls,
        taxonomy,
        synonyms,
        lexicon,
        today,
        mut entry_paths,
        drafts,
    } = settings;
    // A draft left out is checked like any entry, but links to it are broken.
    let left_out = |draft: bool| draft && !drafts;
    let tax_src = taxonomy.as_ref().map(|(_, s)| *s);
    let (cats, tops, auds, evs) = match taxonomy {
        Some((t, _)) => (t.categories, t.topics, t.audiences, t.life_events),
        None => Default::default(),
    };
    let categories = Vocabulary::new(
        "category",
        "categories",
        cats,
        tax_src,
        |s| urls.category(s),
        diags,
    );
    let topics = Vocabulary::new("topic", "topics", tops, tax_src, |s| urls.topic(s), diags);
    vocabulary_share(&topics.terms, diags);
    let audiences = Vocabulary::new(
        "audience",
        "audiences",
        auds,
        tax_src,
        |s| urls.audience(s),
        diags,
    );
    let life_events = Vocabulary::new(
        "life event",
        "life_events",
        evs,
        tax_src,
        |_| String::new(),
        diags,
    );

    let mut home = None;
    let mut services_docs = Vec::new();
    let mut offices_docs = Vec::new();
    let mut desks_docs = Vec::new();
    let mut pages_docs = Vec::new();
    let mut links: Vec<(SourceFile, Vec<InternalLink>)> = Vec::new();
    for p in parsed {
        match p {
            Parsed::Index(d) => home = Some(d),
            // Boxed: ten thousand unboxed entries made a 16 MB vector.
            Parsed::Service(d) => services_docs.push(d),
            Parsed::Office(d) => offices_docs.push(d),
            Parsed::Desk(d) => desks_docs.push(d),
            Parsed::Page(d) => pages_docs.push(d),
        }
    }

    let mut offices: Vec<Place> = Vec::new();
    for d in &mut offices_docs {
        let place = office_place(d, &urls, &lang, diags);
        links.push((d.src.clone(), std::mem::take(&mut d.body.links)));
        if left_out(d.draft) {
            entry_paths.remove(&place.url);
        } else {
            offices.push(place);
        }
    }
    let mut desks: Vec<Place> = Vec::new();
    for d in &mut desks_docs {
        let place = desk_place(d, &urls, &lang, diags);
        links.push((d.src.clone(), std::mem::take(&mut d.body.links)));
        if left_out(d.draft) {
            entry_paths.remove(&place.url);
        } else {
            desks.push(place);
        }
    }
    let office_index: HashMap<String, usize> = offices
        .iter()
        .enumerate()
        .map(|(i, o)| (o.slug.clone(), i))
        .collect();
    let desk_index: HashMap<String, usize> = desks
        .iter()
        .enumerate()
        .map(|(i, o)| (o.slug.clone(), i))
        .collect();

    let reserved = urls.reserved_words();
    let mut pages = Vec::new();
    for d in &mut pages_docs {
        if reserved.contains(&d.src.slug.as_str()) {
            diags.push(
                d.error_at_top(format!(
                    "the page `{}` would have the same address as a section of the guide",
                    d.src.slug
                ))
                .hint(format!(
                    "rename the file: `{}` is reserved for {}",
                    d.src.slug,
                    reserved.join(", ")
                )),
            );
        }
        links.push((d.src.clone(), std::mem::take(&mut d.body.links)));
        if left_out(d.draft) {
            entry_paths.remove(&urls.page(&d.src.slug));
            continue;
        }
        pages.push(page_of(d, &urls));
    }
    let home = match home {
        Some(mut d) => {
            links.push((d.src.clone(), std::mem::take(&mut d.body.links)));
            page_of(&mut d, &urls)
        }
        None => {
            diags.push(Diagnostic::warning("_index.md", "there is no home page text").hint(
                "create `content/_index.md` with `+++`, `title = \"…\"`, `+++` and a welcome paragraph",
            ));
            Page {
                slug: String::new(),
                title: info.title.clone(),
                summary: String::new(),
                url: urls.home(),
                html: String::new(),
                draft: false,
            }
        }
    };

    let ctx = ServiceContext {
        categories: categories.slugs.clone(),
        topics: topics.slugs.clone(),
        audiences: audiences.slugs.clone(),
        life_events: life_events.slugs.clone(),
        offices: office_index,
        desks: desk_index,
        lang: &lang,
        urls: &urls,
        today,
    };
    // Each service is checked on its own: in parallel, the problems kept
    // in the files' order.
    let checked: Vec<_> = services_docs
        .into_par_iter()
        .map(|mut d| {
            let mut local = Vec::new();
            let service = ctx.service(&mut d, &mut local);
            let file_links = std::mem::take(&mut d.body.links);
            (service, local, (d.src, file_links))
        })
        .collect();
    let mut services = Vec::with_capacity(checked.len());
    for (service, ds, file_links) in checked {
        if let Some(s) = service {
            if left_out(s.draft) {
                entry_paths.remove(&s.url);
            } else {
                services.push(s);
            }
        }
        diags.extend(ds);
        links.push(file_links);
    }
    services.sort_by(|a, b| a.slug.cmp(&b.slug));

    let mut site = Site {
        info,
        lang,
        urls,
        home,
        categories: categories.terms,
        topics: topics.terms,
        audiences: audiences.terms,
        life_events: life_events.terms,
        services,
        offices,
        desks,
        pages,
        az: Vec::new(),
        synonyms,
        lexicon,
        edition: Default::default(),
        translation: None,
    };
    let known = known_paths(&site, entry_paths);
    for (src, file_links) in &links {
        diags.extend(check_links(src, file_links, &known));
    }
    derive_lists(&mut site);
    (site, links)
}

/// A free page, or the home page (`_index.md`), from its parsed file; its
/// text is moved out of the file.
pub fn page_of(d: &mut Doc<front::PageFront>, urls: &Urls) -> Page {
    let is_home = d.src.kind == crate::load::Kind::Index;
    Page {
        url: if is_home {
            urls.home()
        } else {
            urls.page(&d.src.slug)
        },
        slug: if is_home {
            String::new()
        } else {
            d.src.slug.clone()
        },
        title: d.front.title.clone(),
        summary: d.front.summary.clone(),
        html: std::mem::take(&mut d.body.intro_html),
        // The home page is always published.
        draft: d.draft && !is_home,
    }
}

/// Lowercase without accents, for forgiving comparisons.
pub(crate) fn fold(s: &str) -> String {
    suggest_slug(s)
}

/// The indexes a list of references names, in order, each one found by
/// `resolve`. A reference repeated is a warning and counts once: the page
/// would list it twice, and the open data would give two records one id.
pub(crate) fn resolve_list<F>(
    d: &Doc<F>,
    values: &[Spanned<String>],
    key: &str,
    diags: &mut Vec<Diagnostic>,
    mut resolve: impl FnMut(&Spanned<String>, &mut Vec<Diagnostic>) -> Option<usize>,
) -> Vec<usize> {
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        let Some(i) = resolve(value, diags) else {
            continue;
        };
        if out.contains(&i) {
            diags.push(
                d.warning_at(
                    value,
                    format!("`{}` is already in `{key}`", value.get_ref()),
                )
                .hint("remove this one: each is listed once"),
            );
        } else {
            out.push(i);
        }
    }
    out
}

pub(crate) fn resolve_place<F>(
    d: &Doc<F>,
    value: &Spanned<String>,
    index: &HashMap<String, usize>,
    what: &str,
    folder: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<usize> {
    let slug = value.get_ref();
    if let Some(&i) = index.get(slug) {
        return Some(i);
    }
    let hint = match did_you_mean(slug, index.keys().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!(
            "create `content/{folder}/{slug}.md`, or use the slug of a file in `content/{folder}/`"
        ),
    };
    diags.push(
        d.error_at(value, format!("unknown {what} `{slug}`"))
            .hint(hint),
    );
    None
}

pub(crate) fn https_url<F>(
    d: &Doc<F>,
    v: Option<&Spanned<String>>,
    diags: &mut Vec<Diagnostic>,
) -> String {
    let Some(v) = v else { return String::new() };
    let url = v.get_ref().trim();
    if url.is_empty() {
        return String::new();
    }
    if !url.starts_with("https://") || url.len() <= "https://".len() {
        let hint = match url.strip_prefix("http://") {
            Some(rest) => format!("write `https://{rest}`: pages are linked over HTTPS only"),
            None => "write the full address, starting with https://".to_string(),
        };
        diags.push(
            d.error_at(v, format!("`{url}` is not an HTTPS address"))
                .hint(hint),
        );
    }
    url.to_string()
}
