//! The index's files, and how an edit rewrites only the files it touches.
//!
//! [`Encoded`] keeps the inverted index (term -> postings, written forms,
//! encoded postings) and every file. A full encoding and a patch after an
//! edit share the functions that encode one shard, one postings file, one
//! group of results, the facets and the meta file, so both give the same
//! bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound::{Excluded, Included, Unbounded};

use serde_json::json;

use super::builder::{Doc, FastMap};
use super::shard::{self, Posting};
use super::{Facet, SearchIndex, DIR, FORMAT, GROUP, SHARD_TERMS};
use crate::write::OutputFile;

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
    pub written: Vec<OutputFile>,
    pub removed: Vec<String>,
}

fn is_boundary(term: &str) -> bool {
    shard::fnv1a(term).is_multiple_of(SHARD_TERMS)
}

fn shard_path(start: &str) -> String {
    format!("{DIR}/t/{}.bin", shard::file_name(start))
}

fn ending_path(start: &str) -> String {
    format!("{DIR}/e/{}.bin", shard::file_name(start))
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

/// After the keys `touched` were added or removed and the starts went from
/// `before` to `after`: the shards to encode again (by start), and the
/// starts that are gone (whose files go). A shard is encoded again when it
/// holds a touched key, or when its extent changed because a start
/// appeared or disappeared. `key_before` gives the greatest key below a key.
fn reshard<'a>(
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
    touched: impl Iterator<Item = &'a str>,
    key_before: impl Fn(&str) -> Option<String>,
) -> (BTreeSet<String>, Vec<String>) {
    let mut shards: BTreeSet<String> = touched.map(|k| start_of(after, k)).collect();
    let vanished: Vec<String> = before.difference(after).cloned().collect();
    for gone in &vanished {
        shards.insert(start_of(after, gone));
    }
    for new in after.difference(before) {
        shards.insert(new.clone());
        // The shard before it now ends earlier.
        if let Some(b) = key_before(new) {
            shards.insert(start_of(after, &b));
        }
    }
    (shards, vanished)
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

impl Encoded {
    /// Inverts every document and encodes every file.
    pub fn full(index: &SearchIndex) -> Encoded {
        let mut inverted: FastMap<&str, (Vec<Posting>, FastMap<&str, u32>)> = FastMap::default();
        for (id, d) in index.docs.iter().enumerate() {
            let bucket = shard::length_bucket(d.len);
            for (term, t) in &d.terms {
                let e = inverted.entry(term).or_default();
                e.0.push(Posting {
                    doc: id as u32,
                    payload: shard::payload_in_bucket(t.title, t.weight, bucket),
                });
                *e.1.entry(&t.surface).or_default() += t.surface_count;
            }
        }
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
        enc.starts = starts_of(enc.terms.keys());
        let starts: Vec<String> = std::iter::once(String::new())
            .chain(enc.starts.iter().cloned())
            .collect();
        if !enc.terms.is_empty() {
            for s in &starts {
                let (path, bytes) = enc.encode_shard(s);
                enc.files.insert(path, bytes);
            }
        }
        enc.ends = enc.terms.keys().map(|t| shard::reversed(t)).collect();
        enc.end_starts = starts_of(enc.ends.iter());
        if !enc.ends.is_empty() {
            for s in std::iter::once("").chain(enc.end_starts.iter().map(String::as_str)) {
                enc.files.insert(ending_path(s), enc.encode_ending_shard(s));
            }
        }
        let big: Vec<(String, Vec<u8>)> = enc
            .terms
            .iter()
            .filter(|(_, t)| t.bytes.len() > shard::INLINE_MAX)
            .map(|(term, t)| (postings_path(term), t.bytes.clone()))
            .collect();
        enc.files.extend(big);
        for g in 0..index.docs.len().div_ceil(GROUP) {
            enc.files.insert(results_path(g), results(index, g));
        }
        enc.files
            .extend(facets_and_meta(index, &enc.starts, &enc.end_starts));
        enc
    }

    /// Encodes the shard beginning at `start` (`""`: the first shard).
    fn encode_shard(&self, start: &str) -> (String, Vec<u8>) {
        let mut entries: Vec<shard::EntryRef<'_>> = Vec::with_capacity(SHARD_TERMS as usize * 2);
        let range = if start.is_empty() {
            self.terms.range::<str, _>((Unbounded, Unbounded))
        } else {
            self.terms.range::<str, _>((Included(start), Unbounded))
        };
        for (term, t) in range {
            if !entries.is_empty() && self.starts.contains(term) {
                break;
            }
            entries.push(shard::EntryRef {
                term,
                surface: t.surface(),
                df: t.postings.len() as u32,
                inline: if t.bytes.len() > shard::INLINE_MAX {
                    &[]
                } else {
                    &t.bytes
                },
            });
        }
        (shard_path(start), shard::encode_shard_from(entries))
    }

    /// Encodes the ending shard beginning at `start` (`""`: the first).
    fn encode_ending_shard(&self, start: &str) -> Vec<u8> {
        let keys: Vec<&str> = self
            .ends
            .range::<str, _>((Included(start), Unbounded))
            .enumerate()
            .take_while(|(i, k)| *i == 0 || !self.end_starts.contains(*k))
            .map(|(_, k)| k.as_str())
            .collect();
        shard::encode_ending_shard(&keys)
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
        let before = std::mem::take(&mut self.starts);
        self.starts = starts_of(self.terms.keys());
        let (shards, vanished) = reshard(
            &before,
            &self.starts,
            touched.iter().map(String::as_str),
            |k| {
                self.terms
                    .range::<str, _>((Unbounded, Excluded(k)))
                    .next_back()
                    .map(|(k, _)| k.clone())
            },
        );
        for gone in vanished {
            self.remove(&shard_path(&gone), &mut delta);
        }
        if self.terms.is_empty() {
            self.remove(&shard_path(""), &mut delta);
        } else {
            for s in &shards {
                let (path, bytes) = self.encode_shard(s);
                self.put(path, bytes, &mut delta);
            }
        }
        self.patch_endings(&touched, &mut delta);
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
        let facets = facets_and_meta(index, &self.starts, &self.end_starts);
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
        delta
    }

    /// The ending shards after the terms `touched` changed: a term that
    /// appeared or disappeared changes its shard.
    fn patch_endings(&mut self, touched: &BTreeSet<String>, delta: &mut Delta) {
        let mut changed: BTreeSet<String> = BTreeSet::new();
        for term in touched {
            let key = shard::reversed(term);
            let now = self.terms.contains_key(term);
            if (now && self.ends.insert(key.clone())) || (!now && self.ends.remove(&key)) {
                changed.insert(key);
            }
        }
        if changed.is_empty() {
            return;
        }
        let before = std::mem::take(&mut self.end_starts);
        self.end_starts = starts_of(self.ends.iter());
        let (shards, vanished) = reshard(
            &before,
            &self.end_starts,
            changed.iter().map(String::as_str),
            |k| {
                self.ends
                    .range::<str, _>((Unbounded, Excluded(k)))
                    .next_back()
                    .cloned()
            },
        );
        for gone in vanished {
            self.remove(&ending_path(&gone), delta);
        }
        if self.ends.is_empty() {
            self.remove(&ending_path(""), delta);
        } else {
            for s in &shards {
                let bytes = self.encode_ending_shard(s);
                self.put(ending_path(s), bytes, delta);
            }
        }
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

/// Facet bitmaps and `meta.json`.
fn facets_and_meta(
    index: &SearchIndex,
    starts: &BTreeSet<String>,
    end_starts: &BTreeSet<String>,
) -> Vec<OutputFile> {
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
    let meta = json!({
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
    files.push((
        format!("{DIR}/meta.json"),
        serde_json::to_vec(&meta).expect("JSON"),
    ));
    files
}
