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

mod patch;

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
