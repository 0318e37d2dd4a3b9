//! The English version of one entry (`<slug>.en.md`): only its translatable
//! keys, and its body. Everything else is the Italian entry's.

use serde::Deserialize;

use super::super::parse::front::{DeskFront, OfficeFront, PageFront, ServiceFront};
use super::super::parse::schema::{Field, Schema, Ty};
use crate::diagnostics::{did_you_mean, Diagnostic};
use crate::language::{SectionKey, SectionLabels};
use crate::load::{Kind, SourceFile};
use crate::model::Section;
use crate::parse::{markdown, parse_toml, split_front_matter, RenderedBody};
use crate::urls::Urls;

/// The keys a translation may hold; which ones depends on the kind of entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslationFront {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub keywords: Option<Vec<String>>,
    #[serde(default)]
    pub status_reason: Option<String>,
}

macro_rules! front_kind {
    ($name:ident, $fields:expr) => {
        #[derive(Deserialize)]
        #[serde(transparent)]
        struct $name(TranslationFront);
        impl Schema for $name {
            const FIELDS: &'static [Field] = $fields;
        }
    };
}

front_kind!(
    ServiceTr,
    &[
        Field::req("title", Ty::Text, "title = \"…\""),
        Field::req("summary", Ty::Text, "summary = \"…\""),
        Field::opt("keywords", Ty::TextList, "keywords = [\"…\"]"),
        Field::opt("status_reason", Ty::Text, "status_reason = \"…\""),
    ]
);
front_kind!(
    PageTr,
    &[
        Field::req("title", Ty::Text, "title = \"…\""),
        Field::opt("summary", Ty::Text, "summary = \"…\""),
    ]
);
front_kind!(PlaceTr, &[]);

/// A parsed translation.
#[derive(Debug)]
pub struct Translation {
    pub src: SourceFile,
    pub front: TranslationFront,
    pub body: RenderedBody,
}

impl Translation {
    /// `services/x.md`: the Italian entry it translates.
    pub fn original(&self) -> String {
        original_rel(&self.src.rel)
    }
}

pub fn original_rel(rel: &str) -> String {
    match rel.strip_suffix(crate::load::TRANSLATION_SUFFIX) {
        Some(stem) => format!("{stem}.md"),
        None => rel.to_string(),
    }
}

/// Parses one translation; `page_path` is its English address.
pub fn parse(
    src: SourceFile,
    urls: &Urls,
    page_path: &str,
) -> (Option<Translation>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let split = match split_front_matter(&src.rel, &src.text) {
        Ok(s) => s,
        Err(d) => return (None, vec![d]),
    };
    let read = |fields_of_original: &[Field]| {
        let (front, mut ds) = match src.kind {
            Kind::Service => {
                let (f, ds) =
                    parse_toml::<ServiceTr>(&src.rel, &src.text, split.front, split.front_offset);
                (f.map(|f| f.0), ds)
            }
            Kind::Page | Kind::Index => {
                let (f, ds) =
                    parse_toml::<PageTr>(&src.rel, &src.text, split.front, split.front_offset);
                (f.map(|f| f.0), ds)
            }
            Kind::Office | Kind::Desk => {
                let (f, ds) =
                    parse_toml::<PlaceTr>(&src.rel, &src.text, split.front, split.front_offset);
                (f.map(|f| f.0), ds)
            }
        };
        // A key of the Italian entry is not unknown: it is inherited.
        let original = original_rel(&src.rel);
        for d in &mut ds {
            let Some(key) = d
                .message
                .strip_prefix("unknown key `")
                .and_then(|k| k.strip_suffix('`'))
                .map(str::to_string)
            else {
                continue;
            };
            if fields_of_original.iter().any(|f| f.key == key) {
                d.message = format!("`{key}` is not translated");
                d.hint = Some(format!("`{key}` comes from {original}; remove it here"));
            }
        }
        (front, ds)
    };
    let (front, ds) = read(match src.kind {
        Kind::Service => ServiceFront::FIELDS,
        Kind::Office => OfficeFront::FIELDS,
        Kind::Desk => DeskFront::FIELDS,
        Kind::Page | Kind::Index => PageFront::FIELDS,
    });
    diags.extend(ds);
    let body = markdown::render_body(
        &src,
        split.body,
        split.body_offset,
        page_path,
        urls,
        src.kind == Kind::Service,
        &mut diags,
    );
    let front = front.unwrap_or_default();
    (Some(Translation { src, front, body }), diags)
}

/// The English sections of a service, checked against the Italian entry's:
/// the same ones, in the same order, under the English headings.
pub fn sections(
    t: &Translation,
    labels: &SectionLabels,
    original: &[Section],
    diags: &mut Vec<Diagnostic>,
) -> Vec<Section> {
    let src = &t.src;
    let all = || {
        SectionKey::ALL
            .iter()
            .map(|&k| format!("`## {}`", labels.label(k)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !sportello_search::html::is_blank(&t.body.intro_html) {
        diags.push(
            Diagnostic::error(&src.rel, "text before the first section")
                .at(&src.text, t.body.intro_span.clone())
                .hint(format!("put it under `## {}`", labels.addressed)),
        );
    }
    let mut out: Vec<Section> = Vec::new();
    for raw in &t.body.sections {
        let Some(key) = labels.key_for(&raw.heading) else {
            let close = did_you_mean(
                &raw.heading,
                SectionKey::ALL.iter().map(|&k| labels.label(k)),
            );
            diags.push(
                Diagnostic::error(&src.rel, format!("unknown section `## {}`", raw.heading))
                    .at(&src.text, raw.heading_span.clone())
                    .hint(match close {
                        Some(l) => format!("did you mean `## {l}`?"),
                        None => format!("the English sections are: {}", all()),
                    }),
            );
            continue;
        };
        if out.iter().any(|s| s.key >= key) {
            diags.push(
                Diagnostic::error(
                    &src.rel,
                    format!(
                        "section `## {}` is out of order or twice",
                        labels.label(key)
                    ),
                )
                .at(&src.text, raw.heading_span.clone())
                .hint(format!("the order is {}", all())),
            );
            continue;
        }
        if !original.iter().any(|s| s.key == key) {
            diags.push(
                Diagnostic::error(
                    &src.rel,
                    format!("section `## {}` is not in {}", labels.label(key), t.original()),
                )
                .at(&src.text, raw.heading_span.clone())
                .hint("translate the sections of the Italian entry, no others: remove it here or add it there"),
            );
            continue;
        }
        out.push(Section::new(
            key,
            labels.label(key).to_string(),
            raw.html.clone(),
        ));
    }
    for s in original {
        if !out.iter().any(|o| o.key == s.key) {
            diags.push(
                Diagnostic::error(
                    &src.rel,
                    format!("missing section `## {}`", labels.label(s.key)),
                )
                .at(&src.text, src.text.len()..src.text.len())
                .hint(format!(
                    "{} has `## {}`: add its translation `## {}`",
                    t.original(),
                    s.label,
                    labels.label(s.key)
                )),
            );
        }
    }
    out
}

const TERM_EN_FIELDS: &[Field] = &[
    Field::req("slug", Ty::Text, "slug = \"…\""),
    Field::req("name", Ty::Text, "name = \"…\""),
    Field::opt("description", Ty::Text, "description = \"…\""),
];

/// `taxonomy.en.toml`: every table optional, a term's `slug` with its
/// English `name` and `description` only.
#[derive(Deserialize)]
#[serde(transparent)]
struct TaxonomyEn(crate::parse::front::TaxonomyFile);

impl Schema for TaxonomyEn {
    const FIELDS: &'static [Field] = &[
        Field::opt("categories", Ty::Tables(TERM_EN_FIELDS), "[[categories]]"),
        Field::opt("topics", Ty::Tables(TERM_EN_FIELDS), "[[topics]]"),
        Field::opt("audiences", Ty::Tables(TERM_EN_FIELDS), "[[audiences]]"),
        Field::opt("life_events", Ty::Tables(TERM_EN_FIELDS), "[[life_events]]"),
    ];
}

pub fn taxonomy(src: &SourceFile) -> (Option<crate::parse::front::TaxonomyFile>, Vec<Diagnostic>) {
    let (t, ds) = parse_toml::<TaxonomyEn>(&src.rel, &src.text, &src.text, 0);
    (t.map(|t| t.0), ds)
}
