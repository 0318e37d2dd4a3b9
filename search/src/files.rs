//! The index's files, and how an edit rewrites only the files it touches.
//!
//! [`Encoded`] keeps the inverted index (term -> postings, written forms,
//! encoded postings) and every file. A full encoding and a patch after an
//! edit share the functions that encode one shard, one postings file, one
//! group of results, the facets and the meta file, so both give the same
//! bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::ops::Bound::{Excluded, Included, Unbounded};
use std::sync::Arc;

use serde_json::json;

use super::builder::Doc;
use super::shard::{self, Posting};
use super::text::FastMap;
use super::OutputFile;
use super::{Facet, SearchIndex, DIR, FORMAT, GROUP, SHARD_TERMS};

#[derive(Debug, Clone, Default)]
struct TermState {
    /// Sorted by document id.
    postings: Vec<Posting>,
    /// Written forms and how often each occurs, over all documents.
    surfaces: BTreeMap<String, u32>,
    /// `postings`, encoded.
    bytes: Vec<u8>,
}

impl TermState {
    /// The commonest written form; ties go to the first in byte order.
    fn surface(&self) -> &str {
        self.surfaces
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map_or("", |(s, _)| s.as_str())
    }
}

/// The inverted index and the files it makes.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    terms: BTreeMap<String, TermState>,
    /// First terms of the shards after the first (whose name is `""`).
    starts: BTreeSet<String>,
    /// Every term written backwards: the keys of the ending shards.
    ends: BTreeSet<String>,
    /// First keys of the ending shards after the first.
    end_starts: BTreeSet<String>,
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Files an update wrote or removed.
#[derive(Debug, Default)]
pub struct Delta {
    /// Files new or with other bytes, with their paths.
    pub written: Vec<OutputFile>,
    /// Paths of files no longer part of the index.
    pub removed: Vec<String>,
}

fn is_boundary(term: &str) -> bool {
    shard::fnv1a(term).is_multiple_of(SHARD_TERMS)
}

/// The two sharded dictionaries: the terms (`t/`), and the same terms
/// written backwards (`e/`), which find a word by its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dict {
    Terms,
    Endings,
}

impl Dict {
    fn path(self, start: &str) -> String {
        let dir = match self {
            Dict::Terms => "t",
            Dict::Endings => "e",
        };
        format!("{DIR}/{dir}/{}.bin", shard::file_name(start))
    }
}

/// Shard starts of sorted keys: the keys whose hash is a multiple of
/// [`SHARD_TERMS`], except the very first key, which is in the first shard
/// anyway.
fn starts_of<'a>(keys: impl Iterator<Item = &'a String>) -> BTreeSet<String> {
    keys.skip(1).filter(|k| is_boundary(k)).cloned().collect()
}

/// The shard that holds `key` (present or not): its first key, or `""`.
fn start_of(starts: &BTreeSet<String>, key: &str) -> String {
    starts
        .range::<str, _>((Unbounded, Included(key)))
        .next_back()
        .cloned()
        .unwrap_or_default()
}

fn meta_path() -> String {
    format!("{DIR}/meta.json")
}

fn postings_path(term: &str) -> String {
    format!("{DIR}/p/{}.bin", shard::file_name(term))
}

fn posting_of(id: usize, d: &Doc, t: &super::builder::DocTerm) -> Posting {
    Posting {
        doc: id as u32,
        payload: shard::payload(t.title, t.weight, d.len),
    }
}

/// Term -> its postings (by document id) and written forms with their
/// counts: what the files are encoded from.
#[derive(Debug, Default)]
pub struct Inverted(FastMap<Arc<str>, TermPostings>);

/// A term's postings and its written forms with their counts.
type TermPostings = (Vec<Posting>, FastMap<Arc<str>, u32>);

impl Inverted {
    /// Adds document `id`'s terms; ids must come in increasing order.
    pub fn add(&mut self, id: usize, d: &Doc) {
        let bucket = shard::length_bucket(d.len);
        for (term, t) in &d.terms {
            let e = self.0.entry(term.clone()).or_default();
            e.0.push(Posting {
                doc: id as u32,
                payload: shard::payload_in_bucket(t.title, t.weight, bucket),
            });
            *e.1.entry(t.surface.clone()).or_default() += t.surface_count;
        }
    }
}

impl Encoded {
    /// Inverts every document and encodes every file.
    pub fn full(index: &SearchIndex) -> Encoded {
        let mut inverted = Inverted::default();
        for (id, d) in index.docs.iter().enumerate() {
            inverted.add(id, d);
        }
        Encoded::of(index, inverted)
    }

    /// Encodes every file from `inverted`, the terms of `index`'s
    /// documents (which need not keep them).
    pub fn of(index: &SearchIndex, inverted: Inverted) -> Encoded {
        let inverted = inverted.0;
        let mut enc = Encoded::default();
        for (term, (postings, surfaces)) in inverted {
            let bytes = shard::encode_postings(&postings);
            let surfaces = surfaces
                .into_iter()
                .map(|(s, n)| (s.to_string(), n))
                .collect();
            enc.terms.insert(
                term.to_string(),
                TermState {
                    postings,
                    surfaces,
                    bytes,
                },
            );
        }
        enc.ends = enc.terms.keys().map(|t| shard::reversed(t)).collect();
        for dict in [Dict::Terms, Dict::Endings] {
            let starts = starts_of(enc.keys(dict));
            *enc.starts_mut(dict) = starts;
            if enc.keys(dict).next().is_some() {
                let starts: Vec<String> = std::iter::once(String::new())
                    .chain(enc.starts(dict).iter().cloned())
                    .collect();
                for s in starts {
                    let bytes = enc.encode(dict, &s);
                    enc.files.insert(dict.path(&s), bytes);
                }
            }
        }
        let big: Vec<(String, Vec<u8>)> = enc
            .terms
            .iter()
            .filter(|(_, t)| t.bytes.len() > shard::INLINE_MAX)
            .map(|(term, t)| (postings_path(term), t.bytes.clone()))
            .collect();
        enc.files.extend(big);
        enc.files.extend(super::lexicon::files(&index.lex).0);
        for g in 0..index.docs.len().div_ceil(GROUP) {
            enc.files.insert(results_path(g), results(index, g));
        }
        let (facets, meta) = facets_and_meta(index, &enc.starts, &enc.end_starts);
        enc.files.extend(facets);
        let (path, bytes) = enc.meta_file(meta);
        enc.files.insert(path, bytes);
        enc
    }

    /// `meta.json`, with the version of the other files: a hash of
    /// them all. The browser always revalidates `meta.json` and asks for
    /// the other files with `?v=<version>`, so a cache never mixes files
    /// of two builds, and files are cached for as long as nothing changed.
    fn meta_file(&self, mut meta: serde_json::Value) -> OutputFile {
        let meta_path = meta_path();
        let mut h = foldhash::fast::FixedState::default().build_hasher();
        for (path, bytes) in &self.files {
            if *path != meta_path {
                path.hash(&mut h);
                bytes.hash(&mut h);
            }
        }
        meta["version"] = format!("{:016x}", h.finish()).into();
        (meta_path, serde_json::to_vec(&meta).expect("JSON"))
    }

    fn keys(&self, dict: Dict) -> Box<dyn Iterator<Item = &String> + '_> {
        match dict {
            Dict::Terms => Box::new(self.terms.keys()),
            Dict::Endings => Box::new(self.ends.iter()),
        }
    }

    /// First keys of the shards after the first (whose name is `""`).
    fn starts(&self, dict: Dict) -> &BTreeSet<String> {
        match dict {
            Dict::Terms => &self.starts,
            Dict::Endings => &self.end_starts,
        }
    }

    fn starts_mut(&mut self, dict: Dict) -> &mut BTreeSet<String> {
        match dict {
            Dict::Terms => &mut self.starts,
            Dict::Endings => &mut self.end_starts,
        }
    }

    /// The greatest key below `key`.
    fn key_before(&self, dict: Dict, key: &str) -> Option<String> {
        let below = (Unbounded, Excluded(key));
        match dict {
            Dict::Terms => self.terms.range::<str, _>(below).next_back().map(|e| e.0),
            Dict::Endings => self.ends.range::<str, _>(below).next_back(),
        }
        .cloned()
    }

    /// Encodes the shard of `dict` beginning at `start` (`""`: the first).
    fn encode(&self, dict: Dict, start: &str) -> Vec<u8> {
        let starts = self.starts(dict);
        let in_shard = |i: usize, key: &String| i == 0 || !starts.contains(key);
        match dict {
            Dict::Terms => {
                let entries = self
                    .terms
                    .range::<str, _>((Included(start), Unbounded))
                    .enumerate()
                    .take_while(|(i, (term, _))| in_shard(*i, term))
                    .map(|(_, (term, t))| shard::EntryRef {
                        term,
                        surface: t.surface(),
                        df: t.postings.len() as u32,
                        inline: if t.bytes.len() > shard::INLINE_MAX {
                            &[]
                        } else {
                            &t.bytes
                        },
                    })
                    .collect();
                shard::encode_shard_from(entries)
            }
            Dict::Endings => {
                let keys: Vec<&str> = self
                    .ends
                    .range::<str, _>((Included(start), Unbounded))
                    .enumerate()
                    .take_while(|(i, k)| in_shard(*i, k))
                    .map(|(_, k)| k.as_str())
                    .collect();
                shard::encode_ending_shard(&keys)
            }
        }
    }

    /// After the keys `touched` of `dict` were added, removed or changed:
    /// the shard starts again, and the shards encoded again that hold a
    /// touched key or whose extent changed because a start appeared or
    /// disappeared (a vanished start's file goes).
    fn reshard(&mut self, dict: Dict, touched: &BTreeSet<String>, delta: &mut Delta) {
        let after = starts_of(self.keys(dict));
        let before = std::mem::replace(self.starts_mut(dict), after);
        let after = self.starts(dict);
        let mut shards: BTreeSet<String> = touched.iter().map(|k| start_of(after, k)).collect();
        let vanished: Vec<String> = before.difference(after).cloned().collect();
        for gone in &vanished {
            shards.insert(start_of(after, gone));
        }
        for new in after.difference(&before) {
            shards.insert(new.clone());
            // The shard before it now ends earlier.
            if let Some(b) = self.key_before(dict, new) {
                shards.insert(start_of(after, &b));
            }
        }
        for gone in vanished {
            self.remove(&dict.path(&gone), delta);
        }
        if self.keys(dict).next().is_none() {
            self.remove(&dict.path(""), delta);
        } else {
            for s in &shards {
                let bytes = self.encode(dict, s);
                self.put(dict.path(s), bytes, delta);
            }
        }
    }

    /// After documents were edited in place (ids unchanged): `edits` holds
    /// each edited id with its document before the edit; `index.docs` holds
    /// the new ones. Rewrites only the files the edits touch.
    pub fn patch(&mut self, index: &SearchIndex, edits: &[(usize, Doc)]) -> Delta {
        let mut touched: BTreeSet<String> = BTreeSet::new();
        for (id, old) in edits {
            let new = &index.docs[*id];
            let doc = *id as u32;
            for (term, t) in &old.terms {
                if let Some(state) = self.terms.get_mut(&**term) {
                    if let Ok(i) = state.postings.binary_search_by_key(&doc, |p| p.doc) {
                        state.postings.remove(i);
                    }
                    if let Some(n) = state.surfaces.get_mut(&*t.surface) {
                        *n = n.saturating_sub(t.surface_count);
                        if *n == 0 {
                            state.surfaces.remove(&*t.surface);
                        }
                    }
                }
                touched.insert(term.to_string());
            }
            for (term, t) in &new.terms {
                let state = self.terms.entry(term.to_string()).or_default();
                let p = posting_of(*id, new, t);
                match state.postings.binary_search_by_key(&doc, |p| p.doc) {
                    Ok(i) => state.postings[i] = p,
                    Err(i) => state.postings.insert(i, p),
                }
                *state.surfaces.entry(t.surface.to_string()).or_default() += t.surface_count;
                touched.insert(term.to_string());
            }
        }
        for term in &touched {
            let gone = match self.terms.get_mut(term) {
                Some(state) if state.postings.is_empty() => true,
                Some(state) => {
                    state.bytes = shard::encode_postings(&state.postings);
                    false
                }
                None => false,
            };
            if gone {
                self.terms.remove(term);
            }
        }

        let mut delta = Delta::default();
        self.reshard(Dict::Terms, &touched, &mut delta);
        // A term that appeared or disappeared changes its ending shard.
        let mut endings: BTreeSet<String> = BTreeSet::new();
        for term in &touched {
            let key = shard::reversed(term);
            let now = self.terms.contains_key(term);
            if (now && self.ends.insert(key.clone())) || (!now && self.ends.remove(&key)) {
                endings.insert(key);
            }
        }
        if !endings.is_empty() {
            self.reshard(Dict::Endings, &endings, &mut delta);
        }
        for term in &touched {
            let path = postings_path(term);
            match self.terms.get(term) {
                Some(t) if t.bytes.len() > shard::INLINE_MAX => {
                    let bytes = t.bytes.clone();
                    self.put(path, bytes, &mut delta);
                }
                _ => self.remove(&path, &mut delta),
            }
        }
        let groups: BTreeSet<usize> = edits.iter().map(|(id, _)| id / GROUP).collect();
        for g in groups {
            self.put(results_path(g), results(index, g), &mut delta);
        }
        let (facets, meta) = facets_and_meta(index, &self.starts, &self.end_starts);
        // A facet that lost its last document has no bitmap any more.
        let stale: Vec<String> = self
            .files
            .keys()
            .filter(|p| p.starts_with(&format!("{DIR}/f/")) && !facets.iter().any(|(q, _)| q == *p))
            .cloned()
            .collect();
        for path in stale {
            self.remove(&path, &mut delta);
        }
        for (path, bytes) in facets {
            self.put(path, bytes, &mut delta);
        }
        let (path, bytes) = self.meta_file(meta);
        self.put(path, bytes, &mut delta);
        delta
    }

    fn put(&mut self, path: String, bytes: Vec<u8>, delta: &mut Delta) {
        if self.files.get(&path) != Some(&bytes) {
            self.files.insert(path.clone(), bytes.clone());
            delta.written.push((path, bytes));
        }
    }

    fn remove(&mut self, path: &str, delta: &mut Delta) {
        if self.files.remove(path).is_some() {
            delta.removed.push(path.to_string());
        }
    }

    /// The difference from `old` to `self`, file by file.
    pub fn delta_from(&self, old: &Encoded) -> Delta {
        let mut delta = Delta::default();
        for (path, bytes) in &self.files {
            if old.files.get(path) != Some(bytes) {
                delta.written.push((path.clone(), bytes.clone()));
            }
        }
        for path in old.files.keys() {
            if !self.files.contains_key(path) {
                delta.removed.push(path.clone());
            }
        }
        delta
    }
}

fn results_path(g: usize) -> String {
    format!("{DIR}/r/{g}.json")
}

/// Result fragments of documents `g*GROUP ..`.
fn results(index: &SearchIndex, g: usize) -> Vec<u8> {
    let end = ((g + 1) * GROUP).min(index.docs.len());
    let rows: Vec<_> = index.docs[g * GROUP..end]
        .iter()
        .map(|d| json!([d.title, d.url, d.summary, d.category]))
        .collect();
    serde_json::to_vec(&rows).expect("JSON of strings")
}

/// Facet bitmaps, and `meta.json` but for its `version`.
fn facets_and_meta(
    index: &SearchIndex,
    starts: &BTreeSet<String>,
    end_starts: &BTreeSet<String>,
) -> (Vec<OutputFile>, serde_json::Value) {
    let n = index.docs.len();
    let mut files = Vec::new();
    let mut facet_meta = |kind: &str, list: &[Facet], of: &dyn Fn(&Doc, usize) -> bool| {
        let mut out = Vec::new();
        for (i, f) in list.iter().enumerate() {
            let ids: Vec<usize> = (0..n).filter(|&d| of(&index.docs[d], i)).collect();
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
    let categories = facet_meta("c", &index.categories, &|d, i| d.category == i);
    let audiences = facet_meta("a", &index.audiences, &|d, i| d.audiences.contains(&i));
    let total: u64 = index.docs.iter().map(|d| u64::from(d.len)).sum();
    let avgdl = if n == 0 {
        0.0
    } else {
        (total as f64 / n as f64 * 10.0).round() / 10.0
    };
    let mut meta = json!({
        "format": FORMAT,
        "docs": n,
        "avgdl": avgdl,
        "group": GROUP,
        "shards": starts.iter().collect::<Vec<_>>(),
        "ends": end_starts.iter().collect::<Vec<_>>(),
        "categories": categories,
        "audiences": audiences,
        "stopwords": index.pipeline.stopwords(),
        "acronyms": index.pipeline.acronyms(),
        "overrides": index.pipeline.overrides(),
    });
    // Only an index in another language says so: the Italian index's bytes
    // (and its first query) stay as they were.
    if index.pipeline.lang() == super::text::Lang::English {
        meta["language"] = "en".into();
    }
    // [id, age_min, age_max, isee_max, invalidity_min] of the services that
    // state a condition
    let conditions: Vec<_> = index
        .docs
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.conditions.is_empty())
        .map(|(i, d)| {
            let c = &d.conditions;
            json!([i, c.age_min, c.age_max, c.isee_max, c.invalidity_min])
        })
        .collect();
    if !conditions.is_empty() {
        meta["conditions"] = conditions.into();
    }
    if !index.lex.is_empty() {
        meta["lexicon"] = super::lexicon::files(&index.lex).1.into();
    }
    (files, meta)
}
