//! The guide's search, with no knowledge of the guide: plain documents in
//! (an id, weighted text fields, facets as numbers), the index files that
//! the browser's `search.js` reads out.
//!
//! - [`text`]: the text pipeline (normalisation, stopwords, acronyms,
//!   overrides, Snowball Italian and English), the same as `search.js`;
//! - [`lexicon`]: the one-way entries from everyday words to the guide's
//!   terms, applied at query time;
//! - [`shard`]: the binary formats (varints, postings, front-coded shards);
//! - [`SearchIndex`]: a [`Collection`] of documents to its files, and an
//!   edit to only the files it changes.
//!
//! Files, under `search/` (or the collection's own folder):
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
//! l/<term>.json      lexicon entries by their first term
//! ```
//!
//! Document ids are the documents' positions in the collection. A
//! [`SearchIndex`] keeps every document's terms, so [`SearchIndex::update`]
//! re-tokenises only what changed and yields exactly the files of a full
//! build. Nothing here can fail: every input is text, and every output is
//! bytes in memory; writing them is the caller's.

#![deny(missing_docs)]

mod builder;
mod english;
mod files;
pub mod html;
pub mod lexicon;
pub mod shard;
pub mod text;

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;

use builder::{index_doc, Doc, Synonyms, Tokenizer};
pub use builder::{Conditions, DocInput};
pub use files::Delta;
pub use lexicon::Lexicon;
pub use text::Lang;
use text::Pipeline;

/// The browser's side: `search.js`, a dependency-free ES2017 module that
/// reads these files with the same pipeline as [`text`] (tested against it
/// word for word by the repository's `tests/search/`).
pub const CLIENT_JS: &str = include_str!("../js/search.js");
/// Where a site serves [`CLIENT_JS`], relative to its root.
pub const CLIENT_PATH: &str = "search.js";

/// Directory of the index in the output.
pub const DIR: &str = "search";
/// Result fragments per file.
pub const GROUP: usize = 8;
/// A term starts a new shard when its hash is a multiple of this: shards
/// hold about this many terms, and their boundaries depend on no other term.
pub const SHARD_TERMS: u32 = 128;
/// Version of the file formats, checked by the client.
pub const FORMAT: u32 = 1;

/// A value of a facet (a category, an audience): documents name it by its
/// position in [`Collection::categories`] or [`Collection::audiences`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facet {
    /// Its name in file names and in the browser's filters.
    pub slug: String,
    /// Its label, which is also indexed as text of its documents.
    pub name: String,
}

/// What an index is built from: the documents, in id order, and what
/// applies to all of them.
#[derive(Debug, Clone)]
pub struct Collection<'a> {
    /// Where the files go (`search`, or a folder under it for another
    /// language's own index); paths of [`SearchIndex::files`] start with it.
    pub dir: String,
    /// The language of the text pipeline.
    pub lang: Lang,
    /// Synonym groups, expanded into the documents.
    pub synonyms: &'a [Vec<String>],
    /// The lexicon, applied by the browser at query time.
    pub lexicon: &'a Lexicon,
    /// Category facets, indexed by [`DocInput::category`].
    pub categories: Vec<Facet>,
    /// Audience facets, indexed by [`DocInput::audiences`].
    pub audiences: Vec<Facet>,
    /// The documents, sorted by [`DocInput::slug`] (their ids are their
    /// positions).
    pub docs: Vec<DocInput<'a>>,
}

/// A file of the index: its path in the output and its bytes.
pub type OutputFile = (String, Vec<u8>);

/// The search index of a collection, kept in memory so a preview server
/// can patch it.
#[derive(Debug, Clone)]
pub struct SearchIndex {
    /// Where its files go.
    dir: String,
    synonyms: Vec<Vec<String>>,
    lexicon: Lexicon,
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
            lexicon: Lexicon::default(),
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

impl SearchIndex {
    /// Indexes every document of the collection.
    pub fn build(c: &Collection<'_>) -> SearchIndex {
        let pipeline = Pipeline::for_lang(c.lang, c.synonyms);
        let syn = Synonyms::new(c.synonyms, &mut pipeline.clone());
        let docs = c
            .docs
            .par_iter()
            // Each tokeniser starts with an empty cache and stems every new
            // word again: chunks of a few documents make a small guide stem
            // its vocabulary twice over (with chunks of 16 the index added
            // 16% to the example guide's build, with 128 it adds 8%).
            .with_min_len(128)
            .map_init(
                || Tokenizer::new(pipeline.clone(), &syn),
                |tok, d| index_doc(d, tok),
            )
            .collect();
        let lex = lexicon::compile(c.lexicon, &mut pipeline.clone());
        SearchIndex {
            dir: c.dir.clone(),
            synonyms: c.synonyms.to_vec(),
            lexicon: c.lexicon.clone(),
            lex,
            pipeline,
            syn,
            docs,
            categories: c.categories.clone(),
            audiences: c.audiences.clone(),
            encoded: None,
        }
    }

    /// For a preview server: brings the index up to date after the
    /// documents named in `changed` were edited, added or removed, and
    /// returns only the files that changed. When the set of documents is
    /// the same and nothing but those documents changed
    /// (`others_may_change` false), only they are tokenised and only the
    /// files they touch are encoded again; otherwise it falls back to
    /// [`SearchIndex::update`] and a full encoding. Either way the files
    /// equal those of a full build.
    pub fn edit<S: AsRef<str>>(
        &mut self,
        c: &Collection<'_>,
        changed: &[S],
        others_may_change: bool,
    ) -> Delta {
        let same_docs = c.docs.len() == self.docs.len()
            && c.docs.iter().zip(&self.docs).all(|(s, d)| s.slug == d.slug);
        let in_place = same_docs
            && !others_may_change
            && c.synonyms == self.synonyms.as_slice()
            && *c.lexicon == self.lexicon;
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
                    let doc = index_doc(&c.docs[id], &mut tok);
                    if doc != self.docs[id] {
                        edits.push((id, std::mem::replace(&mut self.docs[id], doc)));
                    }
                }
                let delta = enc.patch(self, &edits);
                self.encoded = Some(enc);
                self.own_delta(delta)
            }
            old => {
                self.update(c, changed);
                let enc = files::Encoded::full(self);
                let delta = enc.delta_from(&old.unwrap_or_default());
                self.encoded = Some(enc);
                self.own_delta(delta)
            }
        }
    }

    fn own_delta(&self, delta: Delta) -> Delta {
        Delta {
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

    /// Brings the index up to date with `c` after the documents named in
    /// `changed` (slugs) were edited, added or removed. Every other
    /// document is re-tokenised only if its input differs (a renamed
    /// category, say), which a cheap fingerprint tells; a change of the
    /// synonym groups or the lexicon rebuilds everything. Afterwards the
    /// index equals `SearchIndex::build(c)`. Returns how many documents
    /// were tokenised.
    pub fn update<S: AsRef<str>>(&mut self, c: &Collection<'_>, changed: &[S]) -> usize {
        if c.synonyms != self.synonyms.as_slice() || *c.lexicon != self.lexicon {
            *self = SearchIndex::build(c);
            return self.docs.len();
        }
        let changed: std::collections::HashSet<&str> = changed.iter().map(|s| s.as_ref()).collect();
        let mut old: HashMap<String, Doc> = std::mem::take(&mut self.docs)
            .into_iter()
            .map(|d| (d.slug.clone(), d))
            .collect();
        let inputs = &c.docs;
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
                    .expect("a document is either fresh or unchanged")
            })
            .collect();
        self.categories = c.categories.clone();
        self.audiences = c.audiences.clone();
        stale.len()
    }

    /// Number of indexed documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether the index has no document.
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

    /// Every distinct word the index reads from `c` (documents, facet
    /// labels, synonyms, lexicon), folded, with its term (`None`: a
    /// stopword): the vocabulary on which the browser's pipeline must
    /// agree with this one.
    pub fn vocabulary(&self, c: &Collection<'_>) -> BTreeMap<String, Option<String>> {
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
        for d in &c.docs {
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

    /// The files of `c`'s index, for a one-off build: the documents are
    /// tokenised a few thousand at a time and their terms folded into the
    /// inverted index at once, so that the terms of all of them (most of
    /// an index's memory) are never held together. The same files as
    /// `SearchIndex::build(c).files()`.
    pub fn build_files(c: &Collection<'_>) -> Vec<OutputFile> {
        // Each tokeniser stems its vocabulary again (see `build`): large
        // chunks keep that rare, small ones keep the memory low.
        Self::build_files_in_chunks(c, 2048)
    }

    fn build_files_in_chunks(c: &Collection<'_>, chunk_len: usize) -> Vec<OutputFile> {
        let mut index = SearchIndex::build(&Collection {
            dir: c.dir.clone(),
            docs: Vec::new(),
            categories: c.categories.clone(),
            audiences: c.audiences.clone(),
            ..*c
        });
        let mut inverted = files::Inverted::default();
        index.docs.reserve_exact(c.docs.len());
        for chunk in c.docs.chunks(chunk_len) {
            let docs: Vec<Doc> = chunk
                .par_iter()
                .with_min_len(128)
                .map_init(
                    || Tokenizer::new(index.pipeline.clone(), &index.syn),
                    |tok, d| index_doc(d, tok),
                )
                .collect();
            for mut d in docs {
                inverted.add(index.docs.len(), &d);
                d.terms = Vec::new();
                index.docs.push(d);
            }
        }
        files::Encoded::of(&index, inverted)
            .files
            .into_iter()
            .map(|(path, bytes)| (index.own_path(path), bytes))
            .collect()
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
mod tests;
