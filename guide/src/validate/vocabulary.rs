//! The taxonomy's vocabularies (categories, topics, audiences, life
//! events): their terms checked, and the index by which entries' slugs are
//! resolved, with a suggestion when one is unknown.

use std::collections::HashMap;

use toml::Spanned;

use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics};
use crate::load::SourceFile;
use crate::model::Term;
use crate::parse::{front, Doc};
use crate::slug::{is_valid_slug, suggest_slug};

/// A vocabulary with its slug index, while checking references.
pub(super) struct Vocabulary {
    pub(super) terms: Vec<Term>,
    pub(super) slugs: SlugIndex,
}

/// Slug to position in a list, with the words for error messages.
#[derive(Debug, Clone)]
pub struct SlugIndex {
    label: &'static str,
    key: &'static str,
    index: HashMap<String, usize>,
}

impl SlugIndex {
    pub(super) fn of_terms(label: &'static str, key: &'static str, terms: &[Term]) -> Self {
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
    pub(super) fn new(
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
            if t.description.trim().is_empty() {
                // Required by the open data (HSDS taxonomy_term.description),
                // which falls back to the name meanwhile.
                diags.push(at(Diagnostic::warning(
                    "taxonomy.toml",
                    "the term has no description, required by the open data (HSDS taxonomy_term.description)",
                )
                .hint("add `description = \"…\"` (one sentence) under its `slug`")));
            }
            v.slugs.index.insert(slug.clone(), v.terms.len());
            v.terms.push(Term {
                url: url(&slug),
                slug,
                name: t.name,
                description: t.description,
                vocabulary: t.vocabulary,
                services: Vec::new(),
            });
        }
        v
    }
}

impl SlugIndex {
    /// Index of a referenced slug, or an error with the closest slug.
    pub(super) fn resolve<F>(
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

/// Designers Italia C.SI.1.5 asks that at least half of the topics be terms
/// of the Modello Comuni vocabulary (its 64 "argomenti", or EuroVoc): a
/// warning, since the guide works without it.
pub(super) fn vocabulary_share(topics: &[Term], diags: &mut Diagnostics) {
    let with = topics.iter().filter(|t| !t.vocabulary.is_empty()).count();
    if !topics.is_empty() && with * 2 < topics.len() {
        diags.push(
            Diagnostic::warning(
                "taxonomy.toml",
                format!(
                    "only {with} of {} topics carry a Modello Comuni vocabulary term",
                    topics.len()
                ),
            )
            .hint(
                "add `vocabulary = \"...\"` (an \"argomento\" of the Designers Italia model, \
                 e.g. \"Assistenza sociale\") to at least half of the [[topics]], \
                 and name them with it",
            ),
        );
    }
}
