//! The search index: built from the model at build time, split into small
//! files that the browser downloads on demand.
//!
//! - [`text`]: the text pipeline (normalisation, stopwords, acronyms,
//!   overrides, Snowball Italian), the same as `search.js`;
//! - [`builder`]: one service to its weighted terms, synonyms expanded;
//! - [`shard`]: the binary formats (varints, postings, front-coded shards).
//!
//! Files, under `search/` in the output directory:
//!
//! ```text
//! meta.json          document count, average length, shard boundaries,
//!                    categories, audiences, the pipeline's tables
//! t/<term>.bin       dictionary shard starting at <term> (`_` for the first)
//! p/<term>.bin       postings of a frequent term
//! r/<n>.json         result fragments [title, url, summary, category] of
//!                    documents n*GROUP .. n*GROUP+GROUP-1
//! f/c-<slug>.bin     bitmap of the documents of a category (a-<slug>: audience)
//! ```
//!
//! Document ids are the services' positions in slug order. [`SearchIndex`]
//! keeps every document's terms, so [`SearchIndex::update`] re-tokenises only
//! what changed and yields exactly the files of a full build.

pub mod builder;
pub mod shard;
pub mod text;

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use serde_json::json;

use crate::model::Site;
use crate::write::OutputFile;
use builder::{index_doc, Doc, DocInput, FxMap, Synonyms, Tokenizer};
use shard::{Entry, Posting};
use text::Pipeline;

/// Postings of a term and the votes for its written forms.
type TermData<'a> = (Vec<Posting>, FxMap<&'a str, u32>);

/// Directory of the index in the output.
pub const DIR: &str = "search";
/// Result fragments per file.
pub const GROUP: usize = 8;
/// A term starts a new shard when its hash is a multiple of this: shards
/// hold about this many terms, and their boundaries depend on no other term.
pub const SHARD_TERMS: u32 = 128;
/// Version of the file formats, checked by the client.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Facet {
    slug: String,
    name: String,
}

/// The search index of a site, kept in memory so `serve` can patch it.
#[derive(Debug, Clone)]
pub struct SearchIndex {
    synonyms: Vec<Vec<String>>,
    pipeline: Pipeline,
    syn: Synonyms,
    docs: Vec<Doc>,
    categories: Vec<Facet>,
    audiences: Vec<Facet>,
}

impl Default for SearchIndex {
    fn default() -> Self {
        let pipeline = Pipeline::new(&[]);
        SearchIndex {
            synonyms: Vec::new(),
            syn: Synonyms::default(),
            pipeline,
            docs: Vec::new(),
            categories: Vec::new(),
            audiences: Vec::new(),
        }
    }
}

fn facets(terms: &[crate::model::Term]) -> Vec<Facet> {
    terms
        .iter()
        .map(|t| Facet {
            slug: t.slug.clone(),
            name: t.name.clone(),
        })
        .collect()
}

impl SearchIndex {
    /// Indexes every service of the site.
    pub fn build(site: &Site) -> SearchIndex {
        let pipeline = Pipeline::new(&site.synonyms);
        let syn = Synonyms::new(&site.synonyms, &mut pipeline.clone());
        let docs = site
            .services
            .par_iter()
            .with_min_len(16)
            .map_init(
                || Tokenizer::new(pipeline.clone(), &syn),
                |tok, s| index_doc(&DocInput::new(site, s), tok),
            )
            .collect();
        SearchIndex {
            synonyms: site.synonyms.clone(),
            pipeline,
            syn,
            docs,
            categories: facets(&site.categories),
            audiences: facets(&site.audiences),
        }
    }

    /// Brings the index up to date with `site` after the services named in
    /// `changed` (slugs) were edited, added or removed. Every other service
    /// is re-tokenised only if what the index reads of it differs (a renamed
    /// category or office, say), which a cheap fingerprint tells; a change
    /// of the synonym groups rebuilds everything. Afterwards the index equals
    /// `SearchIndex::build(site)`. Returns how many services were tokenised.
    pub fn update<S: AsRef<str>>(&mut self, site: &Site, changed: &[S]) -> usize {
        if site.synonyms != self.synonyms {
            *self = SearchIndex::build(site);
            return self.docs.len();
        }
        let changed: std::collections::HashSet<&str> = changed.iter().map(|s| s.as_ref()).collect();
        let mut old: HashMap<String, Doc> = std::mem::take(&mut self.docs)
            .into_iter()
            .map(|d| (d.slug.clone(), d))
            .collect();
        let inputs: Vec<DocInput<'_>> = site
            .services
            .iter()
            .map(|s| DocInput::new(site, s))
            .collect();
        let stale: Vec<usize> = inputs
            .par_iter()
            .enumerate()
            .filter(|(_, input)| {
                changed.contains(input.slug)
                    || old
                        .get(input.slug)
                        .is_none_or(|d| d.fingerprint != input.fingerprint())
            })
            .map(|(i, _)| i)
            .collect();
        let pipeline = &self.pipeline;
        let syn = &self.syn;
        let mut fresh: HashMap<usize, Doc> = stale
            .par_iter()
            .with_min_len(16)
            .map_init(
                || Tokenizer::new(pipeline.clone(), syn),
                |tok, &i| (i, index_doc(&inputs[i], tok)),
            )
            .collect();
        self.docs = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                fresh
                    .remove(&i)
                    .or_else(|| old.remove(input.slug))
                    .expect("a service is either fresh or unchanged")
            })
            .collect();
        self.categories = facets(&site.categories);
        self.audiences = facets(&site.audiences);
        stale.len()
    }

    /// Number of indexed services.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The pipeline of this index (for tests and tools).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Every distinct word the index reads from `site` (services, labels,
    /// synonyms), folded, with its term (`None`: a stopword): the vocabulary
    /// on which the browser's pipeline must agree with this one.
    pub fn vocabulary(&self, site: &Site) -> BTreeMap<String, Option<String>> {
        let mut p = self.pipeline.clone();
        let mut out = BTreeMap::new();
        let mut add = |text: &str| {
            for w in text::raw_words(text) {
                let f = text::fold(w);
                if let std::collections::btree_map::Entry::Vacant(e) = out.entry(f) {
                    let t = p.term(e.key());
                    e.insert(t);
                }
            }
        };
        for s in &site.services {
            let d = DocInput::new(site, s);
            for t in [d.title, d.summary, d.category_name, d.office_name] {
                add(t);
            }
            d.keywords.iter().for_each(|k| add(k));
            d.sections.iter().for_each(|t| add(t));
            d.audience_names.iter().for_each(|t| add(t));
        }
        site.synonyms.iter().flatten().for_each(|t| add(t));
        out
    }

    /// The files of the index, relative to the output directory.
    pub fn files(&self) -> Vec<OutputFile> {
        let n = self.docs.len();
        let mut files: Vec<OutputFile> = Vec::new();

        // Invert: term -> postings, and the commonest written form.
        let mut inverted: FxMap<&str, (Vec<Posting>, FxMap<&str, u32>)> = FxMap::default();
        for (id, d) in self.docs.iter().enumerate() {
            for (term, t) in &d.terms {
                let e = inverted.entry(term).or_default();
                e.0.push(Posting {
                    doc: id as u32,
                    payload: shard::payload(t.title, t.weight, d.len),
                });
                *e.1.entry(&t.surface).or_default() += t.surface_count;
            }
        }
        let mut terms: Vec<(&str, TermData<'_>)> = inverted.into_iter().collect();
        terms.sort_unstable_by(|a, b| a.0.cmp(b.0));

        // Dictionary shards and posting files.
        let mut boundaries: Vec<String> = Vec::new();
        let mut shard: Vec<Entry> = Vec::new();
        let flush = |shard: &mut Vec<Entry>, files: &mut Vec<OutputFile>, first: &str| {
            if !shard.is_empty() {
                files.push((
                    format!("{DIR}/t/{}.bin", shard::file_name(first)),
                    shard::encode_shard(shard),
                ));
                shard.clear();
            }
        };
        let mut first = String::new();
        for (term, (postings, surfaces)) in &terms {
            if !shard.is_empty() && shard::fnv1a(term).is_multiple_of(SHARD_TERMS) {
                flush(&mut shard, &mut files, &first);
                first = term.to_string();
                boundaries.push(first.clone());
            }
            let bytes = shard::encode_postings(postings);
            let inline = if bytes.len() > shard::INLINE_MAX {
                files.push((format!("{DIR}/p/{}.bin", shard::file_name(term)), bytes));
                Vec::new()
            } else {
                bytes
            };
            let surface = surfaces
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map(|(s, _)| s.to_string())
                .unwrap_or_default();
            shard.push(Entry {
                term: term.to_string(),
                surface,
                df: postings.len() as u32,
                inline,
            });
        }
        flush(&mut shard, &mut files, &first);

        // Result fragments, GROUP per file.
        for (g, chunk) in self.docs.chunks(GROUP).enumerate() {
            let rows: Vec<_> = chunk
                .iter()
                .map(|d| json!([d.title, d.url, d.summary, d.category]))
                .collect();
            files.push((
                format!("{DIR}/r/{g}.json"),
                serde_json::to_vec(&rows).expect("JSON of strings"),
            ));
        }

        // Facet bitmaps.
        let mut facet_meta = |kind: &str, list: &[Facet], of: &dyn Fn(&Doc, usize) -> bool| {
            let mut out = Vec::new();
            for (i, f) in list.iter().enumerate() {
                let ids: Vec<usize> = (0..n).filter(|&d| of(&self.docs[d], i)).collect();
                if !ids.is_empty() {
                    files.push((
                        format!("{DIR}/f/{kind}-{}.bin", f.slug),
                        shard::bitmap(n, ids.iter().copied()),
                    ));
                }
                out.push(json!({"slug": f.slug, "name": f.name, "n": ids.len()}));
            }
            out
        };
        let categories = facet_meta("c", &self.categories, &|d, i| d.category == i);
        let audiences = facet_meta("a", &self.audiences, &|d, i| d.audiences.contains(&i));

        let total: u64 = self.docs.iter().map(|d| u64::from(d.len)).sum();
        let avgdl = if n == 0 {
            0.0
        } else {
            (total as f64 / n as f64 * 10.0).round() / 10.0
        };
        let meta = json!({
            "format": FORMAT,
            "docs": n,
            "avgdl": avgdl,
            "group": GROUP,
            "shards": boundaries,
            "categories": categories,
            "audiences": audiences,
            "stopwords": self.pipeline.stopwords(),
            "acronyms": self.pipeline.acronyms(),
            "overrides": self.pipeline.overrides(),
        });
        files.push((
            format!("{DIR}/meta.json"),
            serde_json::to_vec(&meta).expect("JSON"),
        ));
        files.sort_by(|a, b| a.0.cmp(&b.0));
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::Diagnostics;
    use crate::{load_site, Options};

    fn example_site() -> Site {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let opts = Options::new(root.join("content"), root.join("themes/default"));
        let mut diags = Diagnostics::default();
        let site = load_site(&opts, &mut diags).expect("the example guide loads");
        assert!(!diags.has_errors(), "{diags:?}");
        site
    }

    fn file<'a>(files: &'a [OutputFile], name: &str) -> &'a [u8] {
        &files.iter().find(|f| f.0 == name).expect(name).1
    }

    #[test]
    fn files_are_deterministic_and_complete() {
        let site = example_site();
        let a = SearchIndex::build(&site).files();
        let b = SearchIndex::build(&site).files();
        assert_eq!(a, b);
        let meta: serde_json::Value = serde_json::from_slice(file(&a, "search/meta.json")).unwrap();
        assert_eq!(meta["docs"], site.services.len());
        assert!(a.iter().any(|f| f.0 == "search/t/_.bin"));
        let fragments = a.iter().filter(|f| f.0.starts_with("search/r/")).count();
        assert_eq!(fragments, site.services.len().div_ceil(GROUP));
        // every shard decodes, and its terms are sorted and in its range
        let bounds: Vec<String> = serde_json::from_value(meta["shards"].clone()).unwrap();
        let mut seen = 0;
        for (i, first) in std::iter::once(String::new())
            .chain(bounds.clone())
            .enumerate()
        {
            let name = format!("search/t/{}.bin", shard::file_name(&first));
            let entries = shard::decode_shard(file(&a, &name)).expect(&name);
            assert!(entries.windows(2).all(|w| w[0].term < w[1].term));
            assert!(entries[0].term >= first);
            if let Some(next) = bounds.get(i) {
                assert!(entries.last().unwrap().term < *next);
            }
            for e in &entries {
                let postings = if e.inline.is_empty() {
                    let p = format!("search/p/{}.bin", shard::file_name(&e.term));
                    shard::decode_postings(file(&a, &p)).unwrap()
                } else {
                    shard::decode_postings(&e.inline).unwrap()
                };
                assert_eq!(postings.len() as u32, e.df, "{}", e.term);
            }
            seen += entries.len();
        }
        assert!(seen > 500, "{seen} terms");
    }

    #[test]
    fn telesoccorso_is_indexed_under_its_title_and_synonyms() {
        let site = example_site();
        let idx = SearchIndex::build(&site);
        let id = site
            .services
            .iter()
            .position(|s| s.slug == "telesoccorso")
            .unwrap();
        let d = &idx.docs[id];
        assert!(d.terms["telesoccors"].title);
        assert!(d.terms["telesoccors"].weight >= builder::W_TITLE);
        // from the group ["telesoccorso", "teleassistenza", "braccialetto salvavita"]
        let salvavita = idx.pipeline.clone().term("salvavita").unwrap();
        assert!(d.terms.contains_key(&salvavita), "{salvavita}");
        assert!(!d.terms.contains_key("di"));
    }

    #[test]
    fn update_equals_a_full_build() {
        let site = example_site();
        let mut idx = SearchIndex::build(&site);

        // nothing changed: nothing re-tokenised
        assert_eq!(idx.update(&site, &[] as &[&str]), 0);
        assert_eq!(idx.files(), SearchIndex::build(&site).files());

        // an edit
        let mut edited = site.clone();
        let i = edited
            .services
            .iter()
            .position(|s| s.slug == "isee")
            .unwrap();
        edited.services[i].title = "ISEE: come ottenerlo al CAF".into();
        edited.services[i].sections[0]
            .text
            .push_str(" Nuova frase sulla dichiarazione.");
        assert_eq!(idx.update(&edited, &["isee"]), 1);
        assert_eq!(idx.files(), SearchIndex::build(&edited).files());

        // an edit the caller did not report is found by its fingerprint
        let mut silent = edited.clone();
        silent.services[0].summary.push_str(" Telesoccorso.");
        assert_eq!(idx.update(&silent, &[] as &[&str]), 1);
        assert_eq!(idx.files(), SearchIndex::build(&silent).files());

        // a removal and an addition (ids shift)
        let mut moved = silent.clone();
        let mut added = moved.services[3].clone();
        moved.services.remove(5);
        added.slug = "aaa-nuovo-servizio".into();
        added.title = "Nuovo servizio di prova".into();
        moved.services.insert(0, added);
        assert_eq!(idx.update(&moved, &["aaa-nuovo-servizio"]), 1);
        assert_eq!(idx.files(), SearchIndex::build(&moved).files());

        // a renamed category re-tokenises its services
        let mut renamed = moved.clone();
        renamed.categories[0].name = "Salute e assistenza".into();
        let n = idx.update(&renamed, &[] as &[&str]);
        assert!(n > 0 && n < renamed.services.len(), "{n}");
        assert_eq!(idx.files(), SearchIndex::build(&renamed).files());

        // new synonyms: everything
        let mut syn = renamed.clone();
        syn.synonyms.push(vec!["ISEE".into(), "indicatore".into()]);
        assert_eq!(idx.update(&syn, &[] as &[&str]), syn.services.len());
        assert_eq!(idx.files(), SearchIndex::build(&syn).files());
    }

    #[test]
    fn vocabulary_covers_every_word() {
        let site = example_site();
        let v = SearchIndex::build(&site).vocabulary(&site);
        assert_eq!(v["telesoccorso"].as_deref(), Some("telesoccors"));
        assert_eq!(v["di"], None);
        assert!(v.contains_key("invalidita"));
        assert!(v.len() > 1000, "{}", v.len());
    }
}
