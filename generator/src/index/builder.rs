//! From one service to its index data: fields with weights, synonym
//! expansion, term counts. Pure function of the service and the pipeline,
//! so a document can be re-tokenised alone.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::text::{self, Pipeline};
use crate::model::{Service, Site};

/// A small fast hasher for the index's in-memory maps (short strings and
/// integers; no untrusted input, so no need for SipHash's protection).
#[derive(Default, Clone, Copy)]
pub struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fx>>;

/// Field weights: a word in the title counts as twelve in the body.
pub const W_TITLE: u32 = 12;
pub const W_KEYWORDS: u32 = 6;
pub const W_SUMMARY: u32 = 3;
pub const W_BODY: u32 = 1;
pub const W_LABEL: u32 = 1;
/// Terms brought by a synonym group; more when the group matched the title
/// or a keyword.
pub const W_SYNONYM: u32 = 1;
pub const W_SYNONYM_STRONG: u32 = 3;

/// Everything of a service that the index reads, resolved to text.
#[derive(Debug, Clone, Hash)]
pub struct DocInput<'a> {
    pub slug: &'a str,
    pub title: &'a str,
    pub url: &'a str,
    pub summary: &'a str,
    pub keywords: &'a [String],
    pub sections: Vec<&'a str>,
    pub category: usize,
    pub category_name: &'a str,
    pub audiences: &'a [usize],
    pub audience_names: Vec<&'a str>,
    pub office_name: &'a str,
}

impl<'a> DocInput<'a> {
    pub fn new(site: &'a Site, s: &'a Service) -> Self {
        DocInput {
            slug: &s.slug,
            title: &s.title,
            url: &s.url,
            summary: &s.summary,
            keywords: &s.keywords,
            sections: s.sections.iter().map(|x| x.text.as_str()).collect(),
            category: s.category,
            category_name: &site.categories[s.category].name,
            audiences: &s.audiences,
            audience_names: s
                .audiences
                .iter()
                .map(|&a| site.audiences[a].name.as_str())
                .collect(),
            office_name: &site.offices[s.office].name,
        }
    }

    pub fn fingerprint(&self) -> u64 {
        // Change detection only: the fast hasher is enough and keeps a
        // full build from hashing all the text twice as slowly.
        let mut h = Fx::default();
        self.hash(&mut h);
        h.finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocTerm {
    pub weight: u32,
    pub title: bool,
    /// The commonest written form in this document and how often it occurs.
    pub surface: Arc<str>,
    pub surface_count: u32,
}

/// What the index keeps of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    pub slug: String,
    pub fingerprint: u64,
    /// Sorted by term. Terms and written forms are shared with the
    /// tokeniser's tables (`Arc`), not copied per document.
    pub terms: Vec<(Arc<str>, DocTerm)>,
    /// Number of indexed words (for BM25's length normalisation).
    pub len: u32,
    pub title: String,
    pub url: String,
    pub summary: String,
    pub category: usize,
    pub audiences: Vec<usize>,
}

/// Synonym groups as term sequences, looked up by their first term.
#[derive(Debug, Clone, Default)]
pub struct Synonyms {
    groups: Vec<Vec<Vec<String>>>,
}

impl Synonyms {
    pub fn new(groups: &[Vec<String>], p: &mut Pipeline) -> Synonyms {
        let mut s = Synonyms::default();
        for group in groups {
            let phrases: Vec<Vec<String>> = group
                .iter()
                .map(|m| p.term_list(m))
                .filter(|t| !t.is_empty())
                .collect();
            s.groups.push(phrases);
        }
        s
    }
}

/// A per-thread tokeniser: the pipeline plus interning, so that the hot
/// path (one ASCII word seen before) is one hash lookup, no allocation.
pub struct Tokenizer {
    p: Pipeline,
    /// lowercase written word -> (term id, written-form id)
    cache: FxMap<String, Option<(u32, u32)>>,
    terms: Vec<Arc<str>>,
    term_ids: FxMap<String, u32>,
    surfaces: Vec<Arc<str>>,
    buf: String,
    syn_ids: Vec<Vec<Vec<u32>>>,
    syn_first: FxMap<u32, Vec<(usize, usize)>>,
}

impl Tokenizer {
    pub fn new(p: Pipeline, syn: &Synonyms) -> Self {
        let mut t = Tokenizer {
            p,
            cache: FxMap::default(),
            terms: Vec::new(),
            term_ids: FxMap::default(),
            surfaces: Vec::new(),
            buf: String::new(),
            syn_ids: Vec::new(),
            syn_first: FxMap::default(),
        };
        for (g, group) in syn.groups.iter().enumerate() {
            let ids: Vec<Vec<u32>> = group
                .iter()
                .map(|ph| ph.iter().map(|w| t.intern(w)).collect())
                .collect();
            for (i, ph) in ids.iter().enumerate() {
                t.syn_first.entry(ph[0]).or_default().push((g, i));
            }
            t.syn_ids.push(ids);
        }
        t
    }

    fn intern(&mut self, term: &str) -> u32 {
        if let Some(&id) = self.term_ids.get(term) {
            return id;
        }
        let id = self.terms.len() as u32;
        self.terms.push(Arc::from(term));
        self.term_ids.insert(term.to_string(), id);
        id
    }

    fn word(&mut self, raw: &str) -> Option<(u32, u32)> {
        if raw.is_ascii() {
            self.buf.clear();
            self.buf
                .extend(raw.bytes().map(|b| char::from(b.to_ascii_lowercase())));
        } else {
            self.buf = text::surface(raw);
        }
        if let Some(v) = self.cache.get(self.buf.as_str()) {
            return *v;
        }
        let key = self.buf.clone();
        let v = self.p.term(&text::fold(&key)).map(|t| {
            let s = self.surfaces.len() as u32;
            self.surfaces.push(Arc::from(key.as_str()));
            (self.intern(&t), s)
        });
        self.cache.insert(key, v);
        v
    }
}

type TermAcc = (u32, bool, Vec<(u32, u32)>);

/// Tokenises one service.
pub fn index_doc(input: &DocInput<'_>, tok: &mut Tokenizer) -> Doc {
    let mut acc: FxMap<u32, TermAcc> = FxMap::default();
    let mut len = 0u32;
    let mut segments: Vec<(&str, u32, bool)> = vec![(input.title, W_TITLE, true)];
    segments.extend(
        input
            .keywords
            .iter()
            .map(|k| (k.as_str(), W_KEYWORDS, false)),
    );
    segments.push((input.summary, W_SUMMARY, false));
    segments.extend(input.sections.iter().map(|t| (*t, W_BODY, false)));
    segments.push((input.category_name, W_LABEL, false));
    segments.extend(input.audience_names.iter().map(|a| (*a, W_LABEL, false)));
    segments.push((input.office_name, W_LABEL, false));

    // group -> strongest weight of a field where one of its phrases occurs
    let mut matched: BTreeMap<usize, u32> = BTreeMap::new();
    let mut ids: Vec<u32> = Vec::new();
    for (txt, weight, title) in segments {
        ids.clear();
        for raw in text::raw_words(txt) {
            let Some((t, s)) = tok.word(raw) else {
                continue;
            };
            ids.push(t);
            let e = acc.entry(t).or_insert_with(|| (0, false, Vec::new()));
            e.0 += weight;
            e.1 |= title;
            match e.2.iter_mut().find(|x| x.0 == s) {
                Some(x) => x.1 += 1,
                None => e.2.push((s, 1)),
            }
        }
        for i in 0..ids.len() {
            if let Some(cands) = tok.syn_first.get(&ids[i]) {
                for &(g, ph) in cands {
                    let phrase = &tok.syn_ids[g][ph];
                    if ids[i..].starts_with(phrase) {
                        let m = matched.entry(g).or_default();
                        *m = (*m).max(weight);
                    }
                }
            }
        }
        len += ids.len() as u32;
    }
    for (g, field_weight) in matched {
        let w = if field_weight >= W_KEYWORDS {
            W_SYNONYM_STRONG
        } else {
            W_SYNONYM
        };
        let mut seen: Vec<u32> = Vec::new();
        for phrase in &tok.syn_ids[g] {
            for &t in phrase {
                if !seen.contains(&t) {
                    seen.push(t);
                    acc.entry(t).or_insert_with(|| (0, false, Vec::new())).0 += w;
                }
            }
        }
    }
    let mut terms: Vec<(Arc<str>, DocTerm)> = acc
        .into_iter()
        .map(|(t, (weight, title, surfaces))| {
            let term = tok.terms[t as usize].clone();
            let (surface, surface_count) = surfaces
                .iter()
                .map(|&(s, n)| (&tok.surfaces[s as usize], n))
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
                // a term known only from the synonym list: its written
                // form is unknown, the term itself will do
                .map_or_else(|| (term.clone(), 0), |(s, n)| (s.clone(), n));
            (
                term,
                DocTerm {
                    weight,
                    title,
                    surface,
                    surface_count,
                },
            )
        })
        .collect();
    terms.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Doc {
        slug: input.slug.to_string(),
        fingerprint: input.fingerprint(),
        terms,
        len,
        title: input.title.to_string(),
        url: input.url.to_string(),
        summary: input.summary.to_string(),
        category: input.category,
        audiences: input.audiences.to_vec(),
    }
}
