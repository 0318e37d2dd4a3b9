//! The guide's services as documents of the search crate
//! (`sportello_search`), which knows nothing of the site model: here a
//! service becomes a [`DocInput`], a site an index's [`Collection`], and
//! the theme's and the guide's lexicon files a [`Lexicon`].

use std::path::Path;

use sportello_search::lexicon::LexiconFile;
pub use sportello_search::{Collection, Conditions, DocInput, Facet, Lang, Lexicon, SearchIndex};

use crate::diagnostics::Diagnostics;
use crate::load::{read_text, SourceFile};
use crate::model::{Service, Site, Term};
use crate::parse::parse_toml_strict;

/// What the index reads of one service, resolved to text.
pub fn document<'a>(site: &'a Site, s: &'a Service) -> DocInput<'a> {
    DocInput {
        slug: &s.slug,
        title: &s.title,
        url: &s.url,
        summary: &s.summary,
        keywords: &s.keywords,
        sections: s.sections.iter().map(|x| x.html.as_str()).collect(),
        category: s.category,
        category_name: &site.categories[s.category].name,
        audiences: &s.audiences,
        audience_names: s
            .audiences
            .iter()
            .map(|&a| site.audiences[a].name.as_str())
            .collect(),
        office_name: &site.offices[s.office].name,
        conditions: Conditions {
            age_min: s.age_min,
            age_max: s.age_max,
            isee_max: s.isee_max,
            invalidity_min: s.invalidity_min,
        },
    }
}

fn facets(terms: &[Term]) -> Vec<Facet> {
    terms
        .iter()
        .map(|t| Facet {
            slug: t.slug.clone(),
            name: t.name.clone(),
        })
        .collect()
}

/// The services of one edition as a collection. The lexicon leads everyday
/// words to the guide's Italian terms: an edition in another language has
/// only its own synonym groups (`synonyms.en.toml`), and its index goes
/// under `search/<code>/`.
pub fn collection(site: &Site) -> Collection<'_> {
    static NO_LEXICON: std::sync::LazyLock<Lexicon> = std::sync::LazyLock::new(Lexicon::default);
    let lang = Lang::from_code(&site.lang.code);
    Collection {
        dir: if site.edition.translated {
            format!("{}/{}", sportello_search::DIR, site.lang.code)
        } else {
            sportello_search::DIR.to_string()
        },
        lang,
        synonyms: &site.synonyms,
        lexicon: match lang {
            Lang::Italian => &site.lexicon,
            Lang::English => &NO_LEXICON,
        },
        categories: facets(&site.categories),
        audiences: facets(&site.audiences),
        docs: site.services.iter().map(|s| document(site, s)).collect(),
    }
}

/// The search index's files of one edition, for a one-off build (the
/// index is not kept: see [`SearchIndex::build_files`]).
pub fn files(site: &Site) -> Vec<sportello_search::OutputFile> {
    SearchIndex::build_files(&collection(site))
}

/// The search index of one edition.
pub fn build(site: &Site) -> SearchIndex {
    SearchIndex::build(&collection(site))
}

/// The theme's lexicon for language `code` (`i18n/lexicon/<code>.toml`,
/// none is fine), extended by the guide's `content/lexicon.toml`. A file
/// that is not valid is an error, and the lexicon goes without it.
pub fn load_lexicon(
    theme: &Path,
    code: &str,
    guide: Option<&SourceFile>,
    diags: &mut Diagnostics,
) -> Lexicon {
    let mut lex = Lexicon::default();
    let path = theme.join("i18n/lexicon").join(format!("{code}.toml"));
    if path.is_file() {
        let rel = path.display().to_string();
        match read_text(&path, &rel)
            .and_then(|text| parse_toml_strict::<LexiconFile>(&rel, &text, &text, 0))
        {
            Ok(f) => lex.extend(f),
            Err(d) => diags.push(d),
        }
    }
    if let Some(src) = guide {
        match parse_toml_strict::<LexiconFile>(&src.rel, &src.text, &src.text, 0) {
            Ok(f) => lex.extend(f),
            Err(d) => diags.push(d),
        }
    }
    lex
}

#[cfg(test)]
mod tests;
