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
//! meta.json          document count, average length, shard boundaries
//!                    (of the dictionary and of the endings),
//!                    categories, audiences, the pipeline's tables, and
//!                    `version`, a hash of every other file (the browser
//!                    asks for them with `?v=<version>`)
//! t/<term>.bin       dictionary shard starting at <term> (`_` for the first)
//! p/<term>.bin       postings of a frequent term
//! e/<key>.bin        ending shard: the terms written backwards, from <key>,
//!                    to find a word whose first letters carry a typo
//! r/<n>.json         result fragments [title, url, summary, category] of
//!                    documents n*GROUP .. n*GROUP+GROUP-1
//! f/c-<slug>.bin     bitmap of the documents of a category (a-<slug>: audience)
//! ```
//!
//! Document ids are the services' positions in slug order. [`SearchIndex`]
//! keeps every document's terms, so [`SearchIndex::update`] re-tokenises only
//! what changed and yields exactly the files of a full build.

pub mod builder;
pub mod english;
pub mod files;
pub mod lexicon;
pub mod shard;
pub mod text;

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;

use crate::model::Site;
use builder::{index_doc, Doc, DocInput, Synonyms, Tokenizer};
use text::{Lang, Pipeline};

/// A file of the index: its path in the output and its bytes (the same
/// shape as the sinks' files, without depending on the write step).
pub type OutputFile = (String, Vec<u8>);

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
    /// Where its files go: `search`, or `search/<code>` for a translated
    /// edition's own index.
    dir: String,
    synonyms: Vec<Vec<String>>,
    lexicon: lexicon::Lexicon,
    /// `lexicon` as terms, for its files.
    lex: lexicon::Compiled,
    pipeline: Pipeline,
    syn: Synonyms,
    docs: Vec<Doc>,
    categories: Vec<Facet>,
    audiences: Vec<Facet>,
    /// The files as last encoded by [`SearchIndex::edit`], to patch them.
    encoded: Option<files::Encoded>,
}

impl Default for SearchIndex {
    fn default() -> Self {
        let pipeline = Pipeline::new(&[]);
        SearchIndex {
            dir: DIR.to_string(),
            synonyms: Vec::new(),
            lexicon: lexicon::Lexicon::default(),
            lex: lexicon::Compiled::default(),
            syn: Synonyms::default(),
            pipeline,
            docs: Vec::new(),
            categories: Vec::new(),
            audiences: Vec::new(),
            encoded: None,
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
    /// The synonym groups and the lexicon an index of `site` applies. The
    /// lexicon leads everyday words to the guide's Italian terms: an
    /// edition in another language has only its own synonym groups
    /// (`synonyms.en.toml`).
    fn tables(site: &Site) -> (Vec<Vec<String>>, lexicon::Lexicon) {
        match Lang::from_code(&site.lang.code) {
            Lang::Italian => (site.synonyms.clone(), site.lexicon.clone()),
            Lang::English => (site.synonyms.clone(), lexicon::Lexicon::default()),
        }
    }

    /// Indexes every service of the site (of one edition: the English
    /// edition's index is English, under `search/en/`).
    pub fn build(site: &Site) -> SearchIndex {
        let lang = Lang::from_code(&site.lang.code);
        let (synonyms, lexicon) = Self::tables(site);
        let pipeline = Pipeline::for_lang(lang, &synonyms);
        let syn = Synonyms::new(&synonyms, &mut pipeline.clone());
        let docs = site
            .services
            .par_iter()
            // Each tokeniser starts with an empty cache and stems every new
            // word again: chunks of a few services make a small guide stem
            // its vocabulary twice over (with chunks of 16 the index added
            // 16% to the example guide's build, with 128 it adds 8%).
            .with_min_len(128)
            .map_init(
                || Tokenizer::new(pipeline.clone(), &syn),
                |tok, s| index_doc(&DocInput::new(site, s), tok),
            )
            .collect();
        let lex = lexicon::compile(&lexicon, &mut pipeline.clone());
        SearchIndex {
            dir: if site.edition.translated {
                format!("{DIR}/{}", site.lang.code)
            } else {
                DIR.to_string()
            },
            synonyms,
            lexicon,
            lex,
            pipeline,
            syn,
            docs,
            categories: facets(&site.categories),
            audiences: facets(&site.audiences),
            encoded: None,
        }
    }

    /// For `serve`: brings the index up to date after the services named in
    /// `changed` were edited, added or removed, and returns only the files
    /// that changed. When the set of services is the same and nothing but
    /// those services changed (`others_may_change` false), only their
    /// documents are tokenised and only the files they touch are encoded
    /// again; otherwise it falls back to [`SearchIndex::update`] and a full
    /// encoding. Either way the files equal those of a full build.
    pub fn edit<S: AsRef<str>>(
        &mut self,
        site: &Site,
        changed: &[S],
        others_may_change: bool,
    ) -> files::Delta {
        let same_services = site.services.len() == self.docs.len()
            && site
                .services
                .iter()
                .zip(&self.docs)
                .all(|(s, d)| s.slug == d.slug);
        let (synonyms, lexicon) = Self::tables(site);
        let in_place = same_services
            && !others_may_change
            && synonyms == self.synonyms
            && lexicon == self.lexicon;
        match self.encoded.take() {
            Some(mut enc) if in_place => {
                let mut tok = Tokenizer::new(self.pipeline.clone(), &self.syn);
                let mut edits = Vec::new();
                for slug in changed {
                    let Ok(id) = self
                        .docs
                        .binary_search_by(|d| d.slug.as_str().cmp(slug.as_ref()))
                    else {
                        continue;
                    };
                    let doc = index_doc(&DocInput::new(site, &site.services[id]), &mut tok);
                    if doc != self.docs[id] {
                        edits.push((id, std::mem::replace(&mut self.docs[id], doc)));
                    }
                }
                let delta = enc.patch(self, &edits);
                self.encoded = Some(enc);
                self.own_delta(delta)
            }
            old => {
                self.update(site, changed);
                let enc = files::Encoded::full(self);
                let delta = enc.delta_from(&old.unwrap_or_default());
                self.encoded = Some(enc);
                self.own_delta(delta)
            }
        }
    }

    fn own_delta(&self, delta: files::Delta) -> files::Delta {
        files::Delta {
            written: delta
                .written
                .into_iter()
                .map(|(p, b)| (self.own_path(p), b))
                .collect(),
            removed: delta
                .removed
                .into_iter()
                .map(|p| self.own_path(p))
                .collect(),
        }
    }

    /// Brings the index up to date with `site` after the services named in
    /// `changed` (slugs) were edited, added or removed. Every other service
    /// is re-tokenised only if what the index reads of it differs (a renamed
    /// category or office, say), which a cheap fingerprint tells; a change
    /// of the synonym groups rebuilds everything. Afterwards the index equals
    /// `SearchIndex::build(site)`. Returns how many services were tokenised.
    pub fn update<S: AsRef<str>>(&mut self, site: &Site, changed: &[S]) -> usize {
        let (synonyms, lexicon) = Self::tables(site);
        if synonyms != self.synonyms || lexicon != self.lexicon {
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

    /// The lexicon as terms, keyed by first term (for tests and tools).
    pub fn lexicon(&self) -> &lexicon::Compiled {
        &self.lex
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
        self.synonyms.iter().flatten().for_each(|t| add(t));
        self.lexicon.frames.iter().for_each(|t| add(t));
        for (k, v) in &self.lexicon.entries {
            add(k);
            v.iter().for_each(|t| add(t));
        }
        out
    }

    /// The files of the index, relative to the output directory, sorted.
    pub fn files(&self) -> Vec<OutputFile> {
        files::Encoded::full(self)
            .files
            .into_iter()
            .map(|(path, bytes)| (self.own_path(path), bytes))
            .collect()
    }

    /// `search/...` as a path under this index's folder.
    fn own_path(&self, path: String) -> String {
        match path.strip_prefix(DIR) {
            Some(rest) if self.dir != DIR => format!("{}{rest}", self.dir),
            _ => path,
        }
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

        // The ending shards hold every term once, backwards, in order and
        // each in its shard's range.
        let ends: Vec<String> = serde_json::from_value(meta["ends"].clone()).unwrap();
        let mut keys = Vec::new();
        for (i, first) in std::iter::once(String::new())
            .chain(ends.clone())
            .enumerate()
        {
            let name = format!("search/e/{}.bin", shard::file_name(&first));
            let shard_keys = shard::decode_ending_shard(file(&a, &name)).expect(&name);
            assert!(shard_keys[0] >= first);
            if let Some(next) = ends.get(i) {
                assert!(shard_keys.last().unwrap() < next);
            }
            keys.extend(shard_keys);
        }
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(keys.len(), seen);
        assert!(keys.contains(&shard::reversed("telesoccors")));
        let end_files = a.iter().filter(|f| f.0.starts_with("search/e/")).count();
        assert_eq!(end_files, ends.len() + 1);
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
        let term = |t: &str| d.terms.iter().find(|(k, _)| &**k == t).map(|(_, v)| v);
        assert!(term("telesoccors").unwrap().title);
        assert!(term("telesoccors").unwrap().weight >= builder::W_TITLE);
        // from the group ["telesoccorso", "teleassistenza", "braccialetto salvavita"]
        let salvavita = idx.pipeline.clone().term("salvavita").unwrap();
        assert!(term(&salvavita).is_some(), "{salvavita}");
        assert!(term("di").is_none());
        assert!(d.terms.windows(2).all(|w| w[0].0 < w[1].0), "terms sorted");
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

    /// Applies the `Delta`s of `edit` to a map of files, as `serve` does.
    fn apply(files: &mut BTreeMap<String, Vec<u8>>, delta: files::Delta) {
        for p in delta.removed {
            files.remove(&p);
        }
        files.extend(delta.written);
    }

    #[test]
    fn edits_patch_exactly_the_files_of_a_full_build() {
        let site = example_site();
        let mut idx = SearchIndex::build(&site);
        let mut served: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        apply(&mut served, idx.edit(&site, &[] as &[&str], false));
        assert_eq!(
            served,
            SearchIndex::build(&site).files().into_iter().collect()
        );

        let mut site = site;
        let slug = |site: &Site, s: &str| site.services.iter().position(|x| x.slug == s).unwrap();
        // Rewrite a service's text: words appear and disappear, some only in it.
        let i = slug(&site, "telesoccorso");
        site.services[i].title = "Telesoccorso zzyzxparola".into();
        site.services[i].sections[0].text =
            "Testo nuovissimo con parole inedite: qwertyuiop asdfgh.".into();
        let d = idx.edit(&site, &["telesoccorso"], false);
        assert!(!d.written.is_empty());
        apply(&mut served, d);
        assert_eq!(
            served,
            SearchIndex::build(&site).files().into_iter().collect()
        );

        // Many words in two services at once, then back: shards split and merge.
        let (a, b) = (slug(&site, "isee"), slug(&site, "rsa"));
        let version = |files: &BTreeMap<String, Vec<u8>>| {
            let meta: serde_json::Value =
                serde_json::from_slice(&files["search/meta.json"]).unwrap();
            meta["version"].as_str().unwrap().to_string()
        };
        let before = version(&served);
        let original = (site.services[a].clone(), site.services[b].clone());
        let many: String = (0..3000).map(|n| format!("parola{n} ")).collect();
        site.services[a].sections[1].text = many.clone();
        site.services[b].summary = many;
        apply(&mut served, idx.edit(&site, &["isee", "rsa"], false));
        assert_eq!(
            served,
            SearchIndex::build(&site).files().into_iter().collect()
        );
        assert_ne!(version(&served), before, "an edit changes the version");
        site.services[a] = original.0;
        site.services[b] = original.1;
        apply(&mut served, idx.edit(&site, &["isee", "rsa"], false));
        assert_eq!(version(&served), before, "the same files, the same version");
        assert_eq!(
            served,
            SearchIndex::build(&site).files().into_iter().collect()
        );

        // A service changes category and audiences; then one is removed (full path).
        site.services[i].category = (site.services[i].category + 1) % site.categories.len();
        site.services[i].audiences.clear();
        apply(&mut served, idx.edit(&site, &["telesoccorso"], false));
        assert_eq!(
            served,
            SearchIndex::build(&site).files().into_iter().collect()
        );
        site.services.remove(i);
        let d = idx.edit(&site, &["telesoccorso"], false);
        apply(&mut served, d);
        assert_eq!(
            served,
            SearchIndex::build(&site).files().into_iter().collect()
        );
    }
}
