//! The English edition: the Italian Site with the text of each entry's
//! `<slug>.en.md`, English labels and addresses under `/en/`. It goes
//! through the same render and write stages as the Italian one.

pub mod parse;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rayon::prelude::*;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::language::Language;
use crate::load::{Kind, SourceFile};
use crate::model::{OtherEdition, Site};
use crate::parse::front::TaxonomyFile;
use crate::render::{all_pages, page_url, PageId};
use parse::Translation;

/// The language of translations, and the first word of their addresses.
pub const CODE: &str = "en";

/// Adds the English edition to `main` from the translations read by `load`.
/// `originals` are the content paths of every Italian file found.
pub fn attach(
    main: &mut Site,
    lang: Language,
    translations: Vec<SourceFile>,
    taxonomy: Option<(TaxonomyFile, &SourceFile)>,
    originals: &HashSet<String>,
    diags: &mut Diagnostics,
) {
    let mut present: HashSet<String> = HashSet::new();
    let mut usable = Vec::new();
    for src in translations {
        let original = parse::original_rel(&src.rel);
        if src.kind != Kind::Index && !originals.contains(&original) {
            diags.push(
                Diagnostic::error(&src.rel, format!("no Italian entry {original} for this translation"))
                    .at(&src.text, 0..0)
                    .hint(format!(
                        "a translation sits beside its Italian entry: create {original}, or rename this file after an existing one"
                    )),
            );
            continue;
        }
        present.insert(original);
        usable.push(src);
    }
    // A translation is a draft with its Italian entry: out of drafts, the
    // placeholder text of `sportello new` is an error in it too.
    let drafts: HashSet<String> = main
        .services
        .iter()
        .filter(|s| s.draft)
        .map(|s| format!("services/{}.md", s.slug))
        .chain(
            main.offices
                .iter()
                .filter(|p| p.draft)
                .map(|p| format!("offices/{}.md", p.slug)),
        )
        .chain(
            main.desks
                .iter()
                .filter(|p| p.draft)
                .map(|p| format!("desks/{}.md", p.slug)),
        )
        .chain(
            main.pages
                .iter()
                .filter(|p| p.draft)
                .map(|p| format!("pages/{}.md", p.slug)),
        )
        .collect();
    for src in &usable {
        if !drafts.contains(&parse::original_rel(&src.rel)) {
            diags.extend(crate::scaffold::placeholders(src));
        }
    }
    let urls = main
        .urls
        .edition(CODE, lang.paths.clone(), Arc::new(present.clone()));
    let parsed: Vec<(Option<Translation>, Vec<Diagnostic>)> = usable
        .into_par_iter()
        .map(|src| {
            let path = match src.kind {
                Kind::Index => urls.home(),
                Kind::Service => urls.service(&src.slug),
                Kind::Office => urls.office(&src.slug),
                Kind::Desk => urls.desk(&src.slug),
                Kind::Page => urls.page(&src.slug),
            };
            parse::parse(src, &urls, &path)
        })
        .collect();
    let mut by_rel: HashMap<String, Translation> = HashMap::new();
    for (t, ds) in parsed {
        diags.extend(ds);
        if let Some(t) = t {
            by_rel.insert(t.original(), t);
        }
    }

    let mut en = main.clone();
    en.translation = None;
    en.urls = urls;
    en.edition.translated = true;
    let mut links = Vec::new();
    let mut ds = Vec::new();
    let u = en.urls.clone();
    en.edition.services = en
        .services
        .iter_mut()
        .map(|s| {
            let Some(t) = by_rel.remove(&format!("services/{}.md", s.slug)) else {
                return false;
            };
            let f = &t.front;
            if let Some(title) = &f.title {
                s.set_title(title.clone());
            }
            s.summary = f.summary.clone().unwrap_or_else(|| s.summary.clone());
            if let Some(k) = &f.keywords {
                s.keywords = k.clone();
            }
            match (&f.status_reason, s.status_reason.is_empty()) {
                (Some(_), true) => ds.push(
                    Diagnostic::error(&t.src.rel, "`status_reason` without one to translate")
                        .at(&t.src.text, 0..3)
                        .hint(format!(
                            "{} has no `status_reason`; remove it here",
                            t.original()
                        )),
                ),
                (Some(r), false) => s.status_reason = r.clone(),
                (None, false) => ds.push(
                    Diagnostic::warning(&t.src.rel, "`status_reason` is not translated")
                        .at(&t.src.text, 0..3)
                        .hint("add `status_reason = \"…\"` in English"),
                ),
                (None, true) => {}
            }
            s.sections = parse::sections(&t, &lang.sections, &s.sections, &mut ds);
            s.url = u.service(&s.slug);
            s.permalink = u.permalink(&s.url);
            s.updated_label = lang.format_date(s.updated);
            links.push(t);
            true
        })
        .collect();
    let mut places = |list: &mut Vec<crate::model::Place>, folder: &str, desk: bool| {
        list.iter_mut()
            .map(|p| {
                for h in &mut p.hours {
                    h.days_label = crate::validate::places::days_label(&h.days, &lang);
                }
                let Some(t) = by_rel.remove(&format!("{folder}/{}.md", p.slug)) else {
                    return false;
                };
                p.html = t.body.intro_html.clone();
                p.url = if desk {
                    u.desk(&p.slug)
                } else {
                    u.office(&p.slug)
                };
                p.permalink = u.permalink(&p.url);
                links.push(t);
                true
            })
            .collect::<Vec<bool>>()
    };
    en.edition.offices = places(&mut en.offices, "offices", false);
    en.edition.desks = places(&mut en.desks, "desks", true);
    en.edition.pages = en
        .pages
        .iter_mut()
        .map(|p| {
            let Some(t) = by_rel.remove(&format!("pages/{}.md", p.slug)) else {
                return false;
            };
            p.title = t.front.title.clone().unwrap_or_default();
            p.summary = t.front.summary.clone().unwrap_or_default();
            p.html = t.body.intro_html.clone();
            p.url = u.page(&p.slug);
            links.push(t);
            true
        })
        .collect();
    en.home.url = u.home();
    match by_rel.remove("_index.en.md") {
        Some(t) => {
            en.home.title = t.front.title.clone().unwrap_or_default();
            en.home.summary = t.front.summary.clone().unwrap_or_default();
            en.home.html = t.body.intro_html.clone();
            links.push(t);
        }
        None => {
            en.home.title = en.info.title.clone();
            en.home.summary = String::new();
            en.home.html = String::new();
        }
    }
    terms(&mut en, taxonomy, diags);
    let mut az = en.az.clone();
    az.sort_by(|&a, &b| en.services[a].sort_key.cmp(&en.services[b].sort_key));
    en.az = az;
    en.lang = lang;
    diags.extend(ds);

    pair(main, &mut en);
    // Links of the English bodies: to any page of either edition.
    let known: HashSet<String> = [&*main, &en]
        .iter()
        .flat_map(|s| all_pages(s).into_iter().map(|id| page_url(s, id)))
        .collect();
    for t in &links {
        for l in &t.body.links {
            if !known.contains(&l.path) {
                diags.push(
                    Diagnostic::error(&t.src.rel, format!("link `{}` leads nowhere", l.written))
                        .at(&t.src.text, l.span.clone())
                        .hint(format!(
                            "`{}` is no page of the guide: write `@/services/<slug>.md` for an entry, or a path of the English edition under {}",
                            l.path,
                            en.urls.home()
                        )),
                );
            }
        }
    }
    main.translation = Some(Box::new(en));
}

/// English names of the terms from `taxonomy.en.toml`, English addresses.
fn terms(en: &mut Site, taxonomy: Option<(TaxonomyFile, &SourceFile)>, diags: &mut Diagnostics) {
    let u = en.urls.clone();
    let (mut cats, mut tops, mut auds, mut evs) = match taxonomy {
        Some((t, src)) => {
            let mut tables = [t.categories, t.topics, t.audiences, t.life_events];
            let known = [&en.categories, &en.topics, &en.audiences, &en.life_events];
            for (table, (terms, name)) in tables.iter_mut().zip(known.into_iter().zip([
                "categories",
                "topics",
                "audiences",
                "life_events",
            ])) {
                table.retain(|t| {
                    let ok = terms.iter().any(|x| &x.slug == t.slug.get_ref());
                    if !ok {
                        diags.push(
                            Diagnostic::error(&src.rel, format!("`{}` is not in `[[{name}]]` of taxonomy.toml", t.slug.get_ref()))
                                .at(&src.text, t.slug.span())
                                .hint("use the slug of taxonomy.toml; only `name` and `description` are translated here"),
                        );
                    }
                    ok
                });
            }
            let [a, b, c, d] = tables;
            (a, b, c, d)
        }
        None => Default::default(),
    };
    let apply = |terms: &mut Vec<crate::model::Term>,
                 tr: &mut Vec<crate::parse::front::Term>,
                 url: &dyn Fn(&str) -> String| {
        for term in terms.iter_mut() {
            if let Some(t) = tr.iter().find(|t| t.slug.get_ref() == &term.slug) {
                term.name = t.name.clone();
                if !t.description.is_empty() {
                    term.description = t.description.clone();
                }
            }
            term.url = url(&term.slug);
        }
    };
    apply(&mut en.categories, &mut cats, &|s| u.category(s));
    apply(&mut en.topics, &mut tops, &|s| u.topic(s));
    apply(&mut en.audiences, &mut auds, &|s| u.audience(s));
    apply(&mut en.life_events, &mut evs, &|_| String::new());
}

/// Each page of an edition with the same page of the other, both ways.
fn pair(main: &mut Site, en: &mut Site) {
    for id in all_pages(en) {
        if id == PageId::NotFound {
            continue;
        }
        let (e, i) = (page_url(en, id), page_url(main, id));
        main.edition.alternates.insert(i.clone(), e.clone());
        en.edition.alternates.insert(e, i);
    }
    let name = |l: &Language| {
        l.labels
            .get("language_name")
            .cloned()
            .unwrap_or_else(|| l.code.clone())
    };
    main.edition.other = Some(OtherEdition {
        code: en.lang.code.clone(),
        name: name(&en.lang),
        home: en.urls.home(),
        main_code: main.lang.code.clone(),
    });
    en.edition.other = Some(OtherEdition {
        code: main.lang.code.clone(),
        name: name(&main.lang),
        home: main.urls.home(),
        main_code: main.lang.code.clone(),
    });
}
