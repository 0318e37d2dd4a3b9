//! Step 5: the theme's Tera templates turn the Site into HTML pages, in parallel.

mod cards;
mod context;
mod jsonld;

use std::fs;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use rayon::prelude::*;
use serde::Serialize;
use tera::{Context, Tera};

use crate::model::{Place, Site, Term};
use crate::urls::output_file;
pub use cards::{Cards, Level};
use context::PageContext;
use jsonld::json_ld;

/// The templates every theme must have.
pub const TEMPLATES: [&str; 12] = [
    "base.html",
    "card.html",
    "index.html",
    "service.html",
    "term.html",
    "topics.html",
    "services.html",
    "place.html",
    "places.html",
    "page.html",
    "search.html",
    "404.html",
];

/// The files for machines a theme may override (`templates/<name>`), with
/// the default theme's version for a theme that does not. `.xml` templates
/// are escaped as XML (the same escaping as HTML: `&`, `<`, `>`, quotes).
pub const MACHINE_TEMPLATES: [(&str, &str); 3] = [
    (
        "sitemap.xml",
        include_str!("../../../themes/default/templates/sitemap.xml"),
    ),
    (
        "feed.xml",
        include_str!("../../../themes/default/templates/feed.xml"),
    ),
    (
        "robots.txt",
        include_str!("../../../themes/default/templates/robots.txt"),
    ),
];

/// Loads the theme's templates, naming the file of any syntax error.
pub fn load_templates(theme: &Path) -> Result<Tera> {
    let dir = theme.join("templates");
    if !dir.is_dir() {
        bail!(
            "theme templates not found in {} (pass --theme DIR)",
            dir.display()
        );
    }
    let mut sources = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|e| e == "html" || e == "xml" || e == "txt")
        {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let text =
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            sources.push((name, text));
        }
    }
    for needed in TEMPLATES {
        if !sources.iter().any(|(n, _)| n == needed) {
            bail!("the theme has no template `{needed}` in {}", dir.display());
        }
    }
    // A theme made before these were templates keeps the default theme's.
    for (name, text) in MACHINE_TEMPLATES {
        if !sources.iter().any(|(n, _)| n == name) {
            sources.push((name.to_string(), text.to_string()));
        }
    }
    let mut tera = Tera::default();
    tera.set_escape_fn(escape_html);
    tera.add_raw_templates(sources)
        .map_err(|e| anyhow::anyhow!("{}", error_chain(&e)))
        .with_context(|| format!("in the theme templates of {}", dir.display()))?;
    Ok(tera)
}

/// HTML escaping without Tera's escaping of `/`, which bloats every URL
/// (`&#x2F;`) and is not needed in text or quoted attributes.
fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + 8);
    let mut last = 0;
    for (i, b) in input.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&input[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&input[last..]);
    out
}

/// Tera nests the useful message in its sources.
fn error_chain(e: &tera::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// What a list shows of a service.
#[derive(Serialize)]
struct TermCount<'a> {
    #[serde(flatten)]
    term: &'a Term,
    count: usize,
}

#[derive(Serialize)]
struct Letter {
    letter: String,
    id: String,
    /// Its services' cards, one after the other.
    cards: String,
}

/// One page of the site, by what it shows. Indexes point into the Site's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PageId {
    Home,
    Topics,
    AllServices,
    Search,
    NotFound,
    /// The list of every office.
    Offices,
    /// The list of every help desk.
    Desks,
    Service(usize),
    Category(usize),
    Topic(usize),
    Audience(usize),
    Office(usize),
    Desk(usize),
    Page(usize),
}

/// Every page of the site.
pub fn all_pages(site: &Site) -> Vec<PageId> {
    let mut ids = vec![
        PageId::Home,
        PageId::Topics,
        PageId::AllServices,
        PageId::Search,
        PageId::NotFound,
        PageId::Offices,
        PageId::Desks,
    ];
    // A translation has the pages of its translated entries only.
    let e = &site.edition;
    let has = |list: &[bool], i: usize| !e.translated || list.get(i).copied().unwrap_or(false);
    ids.extend(
        (0..site.services.len())
            .filter(|&i| has(&e.services, i))
            .map(PageId::Service),
    );
    ids.extend((0..site.categories.len()).map(PageId::Category));
    ids.extend((0..site.topics.len()).map(PageId::Topic));
    ids.extend((0..site.audiences.len()).map(PageId::Audience));
    ids.extend(
        (0..site.offices.len())
            .filter(|&i| has(&e.offices, i))
            .map(PageId::Office),
    );
    ids.extend(
        (0..site.desks.len())
            .filter(|&i| has(&e.desks, i))
            .map(PageId::Desk),
    );
    ids.extend(
        (0..site.pages.len())
            .filter(|&i| has(&e.pages, i))
            .map(PageId::Page),
    );
    ids
}

/// Every page of the site and of its translation, with the edition of each.
pub fn all_editions(site: &Site) -> Vec<(&Site, Vec<PageId>)> {
    let mut out = vec![(site, all_pages(site))];
    if let Some(en) = &site.translation {
        out.push((&**en, all_pages(en)));
    }
    out
}

/// The site path of a page, e.g. `/servizi/telesoccorso/`.
pub fn page_url(site: &Site, id: PageId) -> String {
    let u = &site.urls;
    match id {
        PageId::Home => u.home(),
        PageId::Topics => u.topics_index(),
        PageId::AllServices => u.services_index(),
        PageId::Search => u.search(),
        PageId::NotFound => u.own_file("404.html"),
        PageId::Offices => u.offices_index(),
        PageId::Desks => u.desks_index(),
        PageId::Service(i) => site.services[i].url.clone(),
        PageId::Category(i) => site.categories[i].url.clone(),
        PageId::Topic(i) => site.topics[i].url.clone(),
        PageId::Audience(i) => site.audiences[i].url.clone(),
        PageId::Office(i) => site.offices[i].url.clone(),
        PageId::Desk(i) => site.desks[i].url.clone(),
        PageId::Page(i) => site.pages[i].url.clone(),
    }
}

/// The output file of a page, relative to the output directory.
pub fn page_file(site: &Site, id: PageId) -> String {
    output_file(site.urls.site_root(), &page_url(site, id))
}

/// Renders pages in parallel and hands each to `sink` as soon as it is
/// ready, so a build never holds the whole site in memory.
pub fn render_each(
    site: &Site,
    tera: &Tera,
    cards: &Cards,
    ids: &[PageId],
    sink: impl Fn(&str, &[u8]) -> Result<()> + Sync,
) -> Result<()> {
    let base = base_context(site);
    // One output buffer per thread, reused: a page is rendered without
    // growing a new one from nothing.
    ids.par_iter().try_for_each_init(
        || (base.clone(), Vec::with_capacity(PAGE_CAPACITY)),
        |(ctx, html), &id| {
            html.clear();
            let path = render_page(site, tera, cards, ctx, id, html)?;
            sink(&path, html)?;
            // A list of thousands of services is megabytes: not kept.
            if html.capacity() > PAGE_CAPACITY {
                *html = Vec::with_capacity(PAGE_CAPACITY);
            }
            Ok(())
        },
    )
}

/// Room for a service's page: 12.5 kB for the median one of 10,000
/// synthetic services, 13 kB for the largest.
const PAGE_CAPACITY: usize = 32 * 1024;

/// Renders the given pages in parallel.
pub fn render_pages(
    site: &Site,
    tera: &Tera,
    cards: &Cards,
    ids: &[PageId],
) -> Result<Vec<(String, Vec<u8>)>> {
    let base = base_context(site);
    ids.par_iter()
        .map_init(
            || base.clone(),
            |ctx, &id| {
                let mut html = Vec::new();
                let path = render_page(site, tera, cards, ctx, id, &mut html)?;
                Ok((path, html))
            },
        )
        .collect()
}

fn base_context(site: &Site) -> Context {
    let u = &site.urls;
    let mut ctx = Context::new();
    ctx.insert("site", &site.info);
    ctx.insert("lang", &site.lang.code);
    ctx.insert("t", &site.lang.labels);
    ctx.insert("sec", &site.lang.sections);
    // Where the theme's files are: the site's root, for both editions.
    ctx.insert("root", u.site_root());
    ctx.insert(
        "nav",
        &serde_json::json!({
            "home": u.home(),
            "services": u.services_index(),
            "topics": u.topics_index(),
            "search": u.search(),
            // A translated edition's own search index (see search_form.html).
            "search_index": if site.edition.translated { u.file(&format!("search/{}/", site.lang.code)) } else { String::new() },
            "offices": u.offices_index(),
            "desks": u.desks_index(),
            "style": u.file("style.css"),
            "script": u.file("sportello.js"),
            "favicon": u.file("favicon.svg"),
            "feed": u.file("feed.xml"),
        }),
    );
    let pages: Vec<_> = site
        .pages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let e = &site.edition;
            let lang = (e.translated && !e.pages.get(i).copied().unwrap_or(false))
                .then(|| e.other.as_ref().map(|o| o.main_code.clone()))
                .flatten();
            serde_json::json!({"title": p.title, "url": p.url, "slug": p.slug, "lang": lang})
        })
        .collect();
    ctx.insert("footer_pages", &pages);
    ctx
}

fn counts(terms: &[Term]) -> Vec<TermCount<'_>> {
    terms
        .iter()
        .map(|term| TermCount {
            term,
            count: term.services.len(),
        })
        .collect()
}

fn render_page(
    site: &Site,
    tera: &Tera,
    cards: &Cards,
    shared: &mut Context,
    id: PageId,
    html: &mut Vec<u8>,
) -> Result<String> {
    let mut ctx = PageContext::new(shared);
    let u = &site.urls;
    let t = |k: &str| site.lang.labels.get(k).cloned().unwrap_or_default();
    let url = page_url(site, id);
    let (template, title) = match id {
        PageId::Home => {
            ctx.insert("home", &site.home);
            ctx.insert("categories", &counts(&site.categories));
            ctx.insert("audiences", &counts(&site.audiences));
            ctx.insert("desks", &site.desks);
            ctx.insert("service_count", &site.services.len());
            ("index.html", site.home.title.clone())
        }
        PageId::Service(i) => {
            let s = &site.services[i];
            ctx.insert("service", s);
            ctx.insert("category", &site.categories[s.category]);
            let topics: Vec<&Term> = s.topics.iter().map(|&i| &site.topics[i]).collect();
            let audiences: Vec<&Term> = s.audiences.iter().map(|&i| &site.audiences[i]).collect();
            let desks: Vec<&Place> = s.desks.iter().map(|&i| &site.desks[i]).collect();
            ctx.insert("topics", &topics);
            ctx.insert("audiences", &audiences);
            ctx.insert("office", &site.offices[s.office]);
            ctx.insert("desks", &desks);
            ctx.insert("json_ld", &json_ld(site, s));
            ("service.html", s.title.clone())
        }
        PageId::Category(i) | PageId::Topic(i) | PageId::Audience(i) => {
            let (kind, term) = match id {
                PageId::Category(_) => ("category", &site.categories[i]),
                PageId::Topic(_) => ("topic", &site.topics[i]),
                _ => ("audience", &site.audiences[i]),
            };
            ctx.insert("kind", kind);
            ctx.insert("term", term);
            ctx.insert("cards", &cards.list(site, tera, &term.services, Level::H2)?);
            ctx.insert("count", &term.services.len());
            ("term.html", term.name.clone())
        }
        PageId::Topics => {
            ctx.insert("topics", &counts(&site.topics));
            ctx.insert("categories", &counts(&site.categories));
            ctx.insert("audiences", &counts(&site.audiences));
            ("topics.html", t("topics_title"))
        }
        PageId::AllServices => {
            let mut letters: Vec<Letter> = Vec::new();
            for &i in &site.az {
                let first = site.services[i].sort_key.chars().next().map_or('#', |c| {
                    if c.is_ascii_alphabetic() {
                        c.to_ascii_uppercase()
                    } else {
                        '#'
                    }
                });
                let letter = first.to_string();
                if letters.last().map(|l| &l.letter) != Some(&letter) {
                    letters.push(Letter {
                        id: format!(
                            "lettera-{}",
                            if first == '#' {
                                "0".into()
                            } else {
                                first.to_ascii_lowercase().to_string()
                            }
                        ),
                        letter,
                        cards: String::new(),
                    });
                }
                if let Some(l) = letters.last_mut() {
                    l.cards.push_str(cards.get(site, tera, i, Level::H3)?);
                }
            }
            ctx.insert("letters", &letters);
            ctx.insert("service_count", &site.services.len());
            ("services.html", t("services_title"))
        }
        PageId::Office(i) | PageId::Desk(i) => {
            let is_desk = matches!(id, PageId::Desk(_));
            let p = if is_desk {
                &site.desks[i]
            } else {
                &site.offices[i]
            };
            ctx.insert("place", p);
            ctx.insert("is_desk", &is_desk);
            ctx.insert("cards", &cards.list(site, tera, &p.services, Level::H3)?);
            ctx.insert("count", &p.services.len());
            ("place.html", p.name.clone())
        }
        PageId::Page(i) => {
            let p = &site.pages[i];
            ctx.insert("page", p);
            ("page.html", p.title.clone())
        }
        PageId::Search => {
            ctx.insert("categories", &counts(&site.categories));
            ("search.html", t("search_title"))
        }
        PageId::NotFound => ("404.html", t("not_found_title")),
        PageId::Offices | PageId::Desks => {
            let is_desk = id == PageId::Desks;
            ctx.insert("is_desk", &is_desk);
            ctx.insert("places", if is_desk { &site.desks } else { &site.offices });
            (
                "places.html",
                t(if is_desk {
                    "desks_title"
                } else {
                    "offices_title"
                }),
            )
        }
    };
    ctx.insert("page_url", &url);
    // The language switch and the `hreflang` pairs (see base.html).
    if let Some(other) = &site.edition.other {
        let alternate = site.edition.alternates.get(&url);
        let href = alternate.unwrap_or(&other.home);
        ctx.insert(
            "switch",
            &serde_json::json!({"href": href, "code": other.code, "name": other.name, "same_page": alternate.is_some()}),
        );
        if let Some(alt) = alternate {
            let (it, en) = if site.edition.translated {
                (alt, &url)
            } else {
                (&url, alt)
            };
            let main_code = &other.main_code;
            let en_code = if site.edition.translated {
                &site.lang.code
            } else {
                &other.code
            };
            ctx.insert(
                "hreflang",
                &serde_json::json!([
                    {"code": main_code, "href": u.permalink(it)},
                    {"code": en_code, "href": u.permalink(en)},
                    {"code": "x-default", "href": u.permalink(it)},
                ]),
            );
        }
    }
    ctx.insert("permalink", &u.permalink(&url));
    ctx.insert("page_title", &title);
    // Into bytes: Tera writes only `str`s, so checking them again as UTF-8
    // (what `render` does) would be wasted.
    tera.render_to(template, ctx.get(), &mut *html)
        .map_err(|e| anyhow::anyhow!("rendering {url} with {template}: {}", error_chain(&e)))?;
    Ok(output_file(u.site_root(), &url))
}

#[cfg(test)]
mod engine_tests;
