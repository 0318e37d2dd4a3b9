//! Step 3: check every rule of the content model and resolve references,
//! producing the [`Site`]. Every problem is reported, not just the first.

use std::collections::{HashMap, HashSet};

use time::{Date, Month};
use toml::value::Datetime;
use toml::Spanned;

use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics};
use crate::language::{Language, SectionKey};
use crate::load::{is_valid_slug, suggest_slug, SourceFile};
use crate::model::{
    title_sort_key, OpeningHours, Page, Place, Section, Service, Site, SiteInfo, Term,
};
use crate::parse::front::{
    self, Cost, DeskFront, Hours, OfficeFront, ServiceFront, Status, TaxonomyFile,
};
use crate::parse::{Doc, InternalLink, Parsed};
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
    pub today: Date,
    /// Addresses of every content file found, valid or not, so that an
    /// entry with an error of its own does not also break the links to it.
    pub entry_paths: HashSet<String>,
}

/// A vocabulary with its slug index, while checking references.
struct Vocabulary {
    terms: Vec<Term>,
    slugs: SlugIndex,
}

/// Slug to position in a list, with the words for error messages.
#[derive(Debug, Clone)]
pub struct SlugIndex {
    label: &'static str,
    key: &'static str,
    index: HashMap<String, usize>,
}

impl SlugIndex {
    fn of_terms(label: &'static str, key: &'static str, terms: &[Term]) -> Self {
        SlugIndex {
            label,
            key,
            index: terms
                .iter()
                .enumerate()
                .map(|(i, t)| (t.slug.clone(), i))
                .collect(),
        }
    }
}

impl Vocabulary {
    fn new(
        label: &'static str,
        key: &'static str,
        terms: Vec<front::Term>,
        src: Option<&SourceFile>,
        url: impl Fn(&str) -> String,
        diags: &mut Diagnostics,
    ) -> Self {
        let mut v = Vocabulary {
            terms: Vec::with_capacity(terms.len()),
            slugs: SlugIndex {
                label,
                key,
                index: HashMap::new(),
            },
        };
        for t in terms {
            let slug = t.slug.get_ref().clone();
            let at = |d: Diagnostic| match src {
                Some(s) => d.at(&s.text, t.slug.span()),
                None => d,
            };
            if !is_valid_slug(&slug) {
                diags.push(at(Diagnostic::error(
                    "taxonomy.toml",
                    format!("`{slug}` cannot be a slug"),
                )
                .hint(format!(
                    "use lowercase letters, digits and hyphens: `{}`",
                    suggest_slug(&slug)
                ))));
                continue;
            }
            if v.slugs.index.contains_key(&slug) {
                diags.push(at(Diagnostic::error(
                    "taxonomy.toml",
                    format!("duplicate {label} slug `{slug}`"),
                )
                .hint("each slug may appear once in its list: remove or rename one")));
                continue;
            }
            v.slugs.index.insert(slug.clone(), v.terms.len());
            v.terms.push(Term {
                url: url(&slug),
                slug,
                name: t.name,
                description: t.description,
                services: Vec::new(),
            });
        }
        v
    }
}

impl SlugIndex {
    /// Index of a referenced slug, or an error with the closest slug.
    fn resolve<F>(
        &self,
        doc: &Doc<F>,
        value: &Spanned<String>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<usize> {
        let slug = value.get_ref();
        if let Some(&i) = self.index.get(slug) {
            return Some(i);
        }
        let hint = match did_you_mean(slug, self.index.keys().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "use a {} slug listed under `[[{}]]` in taxonomy.toml, or add it there",
                self.label, self.key
            ),
        };
        diags.push(
            doc.error_at(value, format!("unknown {} `{slug}`", self.label))
                .hint(hint),
        );
        None
    }
}

/// Checks everything and builds the site. With errors, the returned site is
/// still complete enough to report on but must not be written.
/// The internal links of each content file, kept to re-check them when other files change.
pub type FileLinks = Vec<(SourceFile, Vec<InternalLink>)>;

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
        today,
        entry_paths,
    } = settings;
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
            Parsed::Service(d) => services_docs.push(*d),
            Parsed::Office(d) => offices_docs.push(d),
            Parsed::Desk(d) => desks_docs.push(d),
            Parsed::Page(d) => pages_docs.push(d),
        }
    }

    let mut offices: Vec<Place> = Vec::new();
    for d in &mut offices_docs {
        let place = office_place(d, &urls, &lang, diags);
        links.push((d.src.clone(), std::mem::take(&mut d.body.links)));
        offices.push(place);
    }
    let mut desks: Vec<Place> = Vec::new();
    for d in &mut desks_docs {
        let place = desk_place(d, &urls, &lang, diags);
        links.push((d.src.clone(), std::mem::take(&mut d.body.links)));
        desks.push(place);
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
        pages.push(Page {
            url: urls.page(&d.src.slug),
            slug: d.src.slug.clone(),
            title: d.front.title.clone(),
            summary: d.front.summary.clone(),
            html: std::mem::take(&mut d.body.intro_html),
        });
    }
    let home = match home {
        Some(mut d) => {
            links.push((d.src.clone(), std::mem::take(&mut d.body.links)));
            Page {
                slug: String::new(),
                title: d.front.title.clone(),
                summary: d.front.summary.clone(),
                url: urls.home(),
                html: d.body.intro_html,
            }
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
    let mut services = Vec::with_capacity(services_docs.len());
    let mut local = Vec::new();
    for mut d in services_docs {
        if let Some(s) = ctx.service(&d, &mut local) {
            services.push(s);
        }
        links.push((d.src.clone(), std::mem::take(&mut d.body.links)));
    }
    diags.extend(local);
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
    };
    let known = known_paths(&site, entry_paths);
    for (src, file_links) in &links {
        diags.extend(check_links(src, file_links, &known));
    }
    derive_lists(&mut site);
    (site, links)
}

/// Every address the site has: `entries` (pages of content files) and the
/// pages and files generated from the model.
pub fn known_paths(site: &Site, entries: HashSet<String>) -> HashSet<String> {
    let urls = &site.urls;
    let mut known = entries;
    known.insert(urls.home());
    known.insert(urls.services_index());
    known.insert(urls.topics_index());
    known.insert(urls.search());
    for t in site
        .categories
        .iter()
        .chain(&site.topics)
        .chain(&site.audiences)
    {
        known.insert(t.url.clone());
    }
    for name in crate::export::FILES {
        known.insert(urls.file(name));
    }
    known
}

/// Errors for the links of one file that point nowhere.
pub fn check_links(
    src: &SourceFile,
    links: &[InternalLink],
    known: &HashSet<String>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for l in links {
        if known.contains(&l.path) {
            continue;
        }
        let stem = l.path.trim_end_matches('/');
        let longer = known
            .iter()
            .filter(|k| k.starts_with(stem))
            .min_by_key(|k| k.len());
        let hint = match longer
            .map(String::as_str)
            .or_else(|| did_you_mean(&l.path, known.iter().map(String::as_str)))
        {
            Some(s) => format!("no page has this address; did you mean `{s}`?"),
            None => "link another entry as `@/services/<slug>.md` and check the slug".into(),
        };
        out.push(
            Diagnostic::error(&src.rel, format!("broken link `{}`", l.written))
                .at(&src.text, l.span.clone())
                .hint(hint),
        );
    }
    out
}

/// Recomputes every list derived from the services (A-Z, by term, by office
/// and desk), each in A-Z order. `services` must be sorted by slug.
pub fn derive_lists(site: &mut Site) {
    let services = &site.services;
    let mut az: Vec<usize> = (0..services.len()).collect();
    let keys: Vec<String> = services.iter().map(|s| title_sort_key(&s.title)).collect();
    az.sort_by(|&a, &b| {
        keys[a]
            .cmp(&keys[b])
            .then_with(|| services[a].slug.cmp(&services[b].slug))
    });
    for list in [&mut site.categories, &mut site.topics, &mut site.audiences] {
        for t in list.iter_mut() {
            t.services.clear();
        }
    }
    for p in site.offices.iter_mut().chain(site.desks.iter_mut()) {
        p.services.clear();
    }
    for &i in &az {
        let s = &services[i];
        site.categories[s.category].services.push(i);
        for &t in &s.topics {
            site.topics[t].services.push(i);
        }
        for &t in &s.audiences {
            site.audiences[t].services.push(i);
        }
        site.offices[s.office].services.push(i);
        for &d in &s.desks {
            site.desks[d].services.push(i);
        }
    }
    site.az = az;
}
/// What checking a service entry needs to know of the rest of the site.
pub struct ServiceContext<'a> {
    categories: SlugIndex,
    topics: SlugIndex,
    audiences: SlugIndex,
    life_events: SlugIndex,
    offices: HashMap<String, usize>,
    desks: HashMap<String, usize>,
    lang: &'a Language,
    urls: &'a Urls,
    today: Date,
}

impl<'a> ServiceContext<'a> {
    /// The context of an already built site, to check one changed entry.
    pub fn of_site(site: &'a Site, today: Date) -> Self {
        let places = |list: &[Place]| {
            list.iter()
                .enumerate()
                .map(|(i, p)| (p.slug.clone(), i))
                .collect()
        };
        ServiceContext {
            categories: SlugIndex::of_terms("category", "categories", &site.categories),
            topics: SlugIndex::of_terms("topic", "topics", &site.topics),
            audiences: SlugIndex::of_terms("audience", "audiences", &site.audiences),
            life_events: SlugIndex::of_terms("life event", "life_events", &site.life_events),
            offices: places(&site.offices),
            desks: places(&site.desks),
            lang: &site.lang,
            urls: &site.urls,
            today,
        }
    }

    /// Checks one entry; `None` when a reference is missing (already reported).
    pub fn service(&self, d: &Doc<ServiceFront>, diags: &mut Vec<Diagnostic>) -> Option<Service> {
        let f = &d.front;
        let title = f.title.get_ref().trim();
        let n = title.chars().count();
        if n == 0 {
            diags.push(
                d.error_at(&f.title, "the title is empty")
                    .hint("write the service's name as citizens know it"),
            );
        } else if n > TITLE_MAX {
            diags.push(
                d.error_at(
                    &f.title,
                    format!("the title is {n} characters long, more than {TITLE_MAX}"),
                )
                .hint("keep the name short; put details in `summary`"),
            );
        }
        let summary = f.summary.get_ref().trim();
        let n = summary.chars().count();
        if n == 0 {
            diags.push(
                d.error_at(&f.summary, "the summary is empty")
                    .hint("say in one sentence what the service gives and to whom"),
            );
        } else if n > SUMMARY_MAX {
            diags.push(
                d.error_at(
                    &f.summary,
                    format!("the summary is {n} characters long, more than {SUMMARY_MAX}"),
                )
                .hint(
                    "one sentence: what the service gives and to whom; details go in the sections",
                ),
            );
        } else if n > SUMMARY_SNIPPET {
            diags.push(
                d.warning_at(&f.summary, format!("the summary is {n} characters long: search results cut it at {SUMMARY_SNIPPET}"))
                    .hint("shorten it so it reads whole in search results"),
            );
        }

        let category = self.categories.resolve(d, &f.category, diags);
        let topics: Vec<usize> = f
            .topics
            .iter()
            .filter_map(|t| self.topics.resolve(d, t, diags))
            .collect();
        let audiences: Vec<usize> = f
            .audiences
            .iter()
            .filter_map(|t| self.audiences.resolve(d, t, diags))
            .collect();
        let life_events: Vec<usize> = f
            .life_events
            .iter()
            .filter_map(|t| self.life_events.resolve(d, t, diags))
            .collect();
        let office = resolve_place(d, &f.office, &self.offices, "office", "offices", diags);
        let desks: Vec<usize> = f
            .access
            .desks
            .iter()
            .filter_map(|s| resolve_place(d, s, &self.desks, "desk", "desks", diags))
            .collect();

        let status = *f.status.get_ref();
        let status_reason = f
            .status_reason
            .as_ref()
            .map(|r| r.get_ref().trim().to_string())
            .unwrap_or_default();
        if status != Status::Active && status_reason.is_empty() {
            diags.push(
                d.error_at(&f.status, "a service that is not active needs `status_reason`")
                    .hint("add `status_reason = \"…\"` saying why and until when, e.g. \"Domande chiuse fino a marzo 2027\""),
            );
        }

        let updated = self.date(d, &f.updated, diags);
        let reviewed = self.date(d, &f.reviewed, diags);
        if let Some(r) = reviewed {
            let age = (self.today - r).whole_days();
            if age > STALE_DAYS {
                diags.push(
                    d.warning_at(
                        &f.reviewed,
                        format!("last reviewed {age} days ago, more than 12 months"),
                    )
                    .hint("check the entry with the office, then set `reviewed` to today's date"),
                );
            }
        }
        if let (Some(min), Some(max)) = (&f.age_min, &f.age_max) {
            if min.get_ref() > max.get_ref() {
                diags.push(
                    d.error_at(max, "`age_max` is lower than `age_min`")
                        .hint("swap the two values"),
                );
            }
        }
        let online = https_url(d, f.access.online.as_ref(), diags);
        let booking = https_url(d, f.access.booking.as_ref(), diags);
        let sections = self.sections(d, *f.cost.get_ref(), diags);

        let (category, office, updated, reviewed) = (category?, office?, updated?, reviewed?);
        let url = self.urls.service(&d.src.slug);
        Some(Service {
            permalink: self.urls.permalink(&url),
            url,
            slug: d.src.slug.clone(),
            title: title.to_string(),
            summary: summary.to_string(),
            category,
            topics,
            audiences,
            life_events,
            status,
            status_reason,
            office,
            provider: f.provider.clone().unwrap_or_default(),
            cost: *f.cost.get_ref(),
            age_min: f.age_min.as_ref().map(|v| *v.get_ref()),
            age_max: f.age_max.as_ref().map(|v| *v.get_ref()),
            keywords: f.keywords.clone(),
            updated,
            updated_iso: updated.to_string(),
            updated_label: self.lang.format_date(updated),
            reviewed,
            online,
            booking,
            desks,
            sections,
            file: d.src.rel.clone(),
        })
    }

    fn date(
        &self,
        d: &Doc<ServiceFront>,
        v: &Spanned<Datetime>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Date> {
        let dt = v.get_ref();
        let converted = match (dt.date, dt.time) {
            (Some(date), None) => Month::try_from(date.month)
                .ok()
                .and_then(|m| Date::from_calendar_date(i32::from(date.year), m, date.day).ok()),
            _ => None,
        };
        if converted.is_none() {
            diags.push(
                d.error_at(v, format!("`{dt}` is not a calendar date"))
                    .hint("write the day only, as YYYY-MM-DD, e.g. 2026-10-01"),
            );
        }
        converted
    }

    /// Maps `##` headings to sections and checks names, order and presence.
    fn sections(
        &self,
        d: &Doc<ServiceFront>,
        cost: Cost,
        diags: &mut Vec<Diagnostic>,
    ) -> Vec<Section> {
        let labels = &self.lang.sections;
        let src = &d.src;
        if !d.body.intro_text.trim().is_empty() {
            diags.push(
                Diagnostic::error(&src.rel, "text before the first section")
                    .at(&src.text, d.body.intro_span.clone())
                    .hint(format!(
                        "put it under `## {}`, or make it the `summary` if it is one sentence",
                        labels.addressed
                    )),
            );
        }
        let mut out: Vec<Section> = Vec::with_capacity(7);
        // Sections an unknown heading probably meant: not reported missing too.
        let mut misspelt: Vec<SectionKey> = Vec::new();
        for raw in &d.body.sections {
            let Some(key) = labels.key_for(&raw.heading) else {
                let all: Vec<&str> = SectionKey::ALL.iter().map(|&k| labels.label(k)).collect();
                let folded: Vec<(String, &str)> = all.iter().map(|l| (fold(l), *l)).collect();
                let close =
                    did_you_mean(&fold(&raw.heading), folded.iter().map(|(f, _)| f.as_str()))
                        .and_then(|f| folded.iter().find(|(x, _)| x == f).map(|(_, l)| *l));
                misspelt.extend(close.and_then(|l| labels.key_for(l)));
                let hint = match close {
                    Some(l) => format!("did you mean `## {l}`?"),
                    None => format!(
                        "the sections are: {}; use `###` for a sub-heading inside a section",
                        all.join(", ")
                    ),
                };
                diags.push(
                    Diagnostic::error(&src.rel, format!("unknown section `## {}`", raw.heading))
                        .at(&src.text, raw.heading_span.clone())
                        .hint(hint),
                );
                continue;
            };
            if out.iter().any(|s| s.key == key) {
                diags.push(
                    Diagnostic::error(
                        &src.rel,
                        format!("section `## {}` appears twice", labels.label(key)),
                    )
                    .at(&src.text, raw.heading_span.clone())
                    .hint("merge the two sections into one"),
                );
                continue;
            }
            if let Some(last) = out.last() {
                if last.key > key {
                    diags.push(
                        Diagnostic::error(
                            &src.rel,
                            format!("section `## {}` is out of order", labels.label(key)),
                        )
                        .at(&src.text, raw.heading_span.clone())
                        .hint(format!(
                            "move it before `## {}`: the order is {}",
                            labels.label(last.key),
                            SectionKey::ALL
                                .iter()
                                .map(|&k| labels.label(k))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    );
                }
            }
            if raw.text.trim().is_empty() {
                diags.push(
                    Diagnostic::error(
                        &src.rel,
                        format!("section `## {}` is empty", labels.label(key)),
                    )
                    .at(&src.text, raw.heading_span.clone())
                    .hint("write its text, or remove the heading if the section is optional"),
                );
            }
            out.push(Section {
                key,
                data_element: key.data_element(),
                label: labels.label(key).to_string(),
                html: raw.html.clone(),
                text: raw.text.clone(),
            });
        }
        let required: Vec<SectionKey> = SectionKey::ALL
            .into_iter()
            .filter(|&k| k != SectionKey::More && (k != SectionKey::Cost || cost != Cost::Free))
            .collect();
        for (i, &key) in required.iter().enumerate() {
            if out.iter().any(|s| s.key == key) || misspelt.contains(&key) {
                continue;
            }
            let after = required[..i]
                .iter()
                .rev()
                .find(|k| out.iter().any(|s| s.key == **k));
            let placement = match after {
                Some(&k) => format!("after `## {}`", labels.label(k)),
                None => "at the start of the text, after the front matter".to_string(),
            };
            let why = if key == SectionKey::Cost {
                " (required because `cost` is not \"free\")"
            } else {
                ""
            };
            diags.push(
                Diagnostic::error(
                    &src.rel,
                    format!("missing section `## {}`{why}", labels.label(key)),
                )
                .at(&src.text, d.body.intro_span.start..d.body.intro_span.start)
                .hint(format!("add `## {}` {placement}", labels.label(key))),
            );
        }
        out.sort_by_key(|s| s.key);
        out
    }
}

/// Lowercase without accents, for forgiving comparisons.
fn fold(s: &str) -> String {
    suggest_slug(s)
}

fn resolve_place<F>(
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

fn https_url<F>(d: &Doc<F>, v: Option<&Spanned<String>>, diags: &mut Vec<Diagnostic>) -> String {
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

fn hours(
    d: &Doc<impl Sized>,
    hours: &[Hours],
    lang: &Language,
    diags: &mut Diagnostics,
) -> Vec<OpeningHours> {
    let mut out = Vec::new();
    for h in hours {
        let mut ok = true;
        for t in [&h.opens, &h.closes] {
            if parse_hhmm(t.get_ref()).is_none() {
                ok = false;
                diags.push(
                    d.error_at(t, format!("`{}` is not a time", t.get_ref()))
                        .hint("write times as HH:MM, e.g. \"09:00\""),
                );
            }
        }
        if ok && parse_hhmm(h.opens.get_ref()) >= parse_hhmm(h.closes.get_ref()) {
            ok = false;
            diags.push(
                d.error_at(&h.closes, "closing time is not after opening time")
                    .hint("check `opens` and `closes`"),
            );
        }
        if h.days.is_empty() {
            ok = false;
            diags.push(
                d.error_at(&h.opens, "opening hours without days")
                    .hint("add `days = [\"mon\", \"tue\"]`"),
            );
        }
        if ok {
            let mut days: Vec<front::Day> = h.days.iter().map(|d| *d.get_ref()).collect();
            days.sort();
            days.dedup();
            out.push(OpeningHours {
                days_label: days_label(&days, lang),
                days,
                opens: h.opens.get_ref().clone(),
                closes: h.closes.get_ref().clone(),
            });
        }
    }
    out
}

/// "Lunedì – venerdì" for a run of three or more days, else "Martedì, giovedì".
fn days_label(days: &[front::Day], lang: &Language) -> String {
    let name = |d: front::Day| {
        lang.days
            .get(d.key())
            .cloned()
            .unwrap_or_else(|| d.key().to_string())
    };
    let consecutive = days.windows(2).all(|w| w[1] as u8 == w[0] as u8 + 1);
    let label = if days.len() >= 3 && consecutive {
        format!(
            "{} – {}",
            name(days[0]),
            name(days[days.len() - 1]).to_lowercase()
        )
    } else {
        days.iter()
            .enumerate()
            .map(|(i, &d)| {
                if i == 0 {
                    name(d)
                } else {
                    name(d).to_lowercase()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    label
}

fn parse_hhmm(s: &str) -> Option<(u8, u8)> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

fn contact_warning<F>(
    d: &Doc<F>,
    phone: &str,
    email: &str,
    website: &str,
    diags: &mut Diagnostics,
) {
    if phone.trim().is_empty() && email.trim().is_empty() && website.trim().is_empty() {
        diags.push(
            Diagnostic::warning(
                &d.src.rel,
                "no contact details: phone, email and website are all empty",
            )
            .at(&d.src.text, 0..3)
            .hint("add the real phone, email or website when known; never invent them"),
        );
    }
}

pub fn office_place(
    d: &Doc<OfficeFront>,
    urls: &Urls,
    lang: &Language,
    diags: &mut Diagnostics,
) -> Place {
    let f = &d.front;
    let mut local = Vec::new();
    let website = https_url(d, f.website.as_ref(), &mut local);
    diags.extend(local);
    contact_warning(d, &f.phone, &f.email, &website, diags);
    let url = urls.office(&d.src.slug);
    Place {
        permalink: urls.permalink(&url),
        url,
        slug: d.src.slug.clone(),
        name: f.name.clone(),
        kind: Some(f.kind),
        organization: f.organization.clone(),
        address: f.address.clone(),
        phone: f.phone.clone(),
        email: f.email.clone(),
        website,
        step_free: f.step_free,
        hours: hours(d, &f.hours, lang, diags),
        html: d.body.intro_html.clone(),
        services: Vec::new(),
    }
}

pub fn desk_place(
    d: &Doc<DeskFront>,
    urls: &Urls,
    lang: &Language,
    diags: &mut Diagnostics,
) -> Place {
    let f = &d.front;
    let mut local = Vec::new();
    let website = https_url(d, f.website.as_ref(), &mut local);
    diags.extend(local);
    contact_warning(d, &f.phone, &f.email, &website, diags);
    let url = urls.desk(&d.src.slug);
    Place {
        permalink: urls.permalink(&url),
        url,
        slug: d.src.slug.clone(),
        name: f.name.clone(),
        kind: None,
        organization: String::new(),
        address: f.address.clone(),
        phone: f.phone.clone(),
        email: f.email.clone(),
        website,
        step_free: f.step_free,
        hours: hours(d, &f.hours, lang, diags),
        html: d.body.intro_html.clone(),
        services: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_hhmm("09:30"), Some((9, 30)));
        assert_eq!(parse_hhmm("9:30"), None);
        assert_eq!(parse_hhmm("24:00"), None);
    }
}
