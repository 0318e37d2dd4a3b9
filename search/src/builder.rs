//! From one service to its index data: fields with weights, synonym
//! expansion, term counts. Pure function of the service and the pipeline,
//! so a document can be re-tokenised alone.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use super::html;
use super::text::{self, FastMap, Pipeline};

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
    /// Its id in the collection, unique; documents are sorted by it.
    pub slug: &'a str,
    /// Weighs most ([`W_TITLE`]) and is shown in the results.
    pub title: &'a str,
    /// Where a result links to.
    pub url: &'a str,
    /// Shown under the title in the results.
    pub summary: &'a str,
    /// Words an editor chose to be found by.
    pub keywords: &'a [String],
    /// The body, one HTML fragment per section as pulldown-cmark writes
    /// it ([`crate::html::text`] reads its words).
    pub sections: Vec<&'a str>,
    /// Position of its category in [`crate::Collection::categories`].
    pub category: usize,
    /// That category's label, indexed as text.
    pub category_name: &'a str,
    /// Positions of its audiences in [`crate::Collection::audiences`].
    pub audiences: &'a [usize],
    /// Their labels, indexed as text.
    pub audience_names: Vec<&'a str>,
    /// The name of who provides it, indexed as text.
    pub office_name: &'a str,
    /// Eligibility, for ranking a query that states it.
    pub conditions: Conditions,
}

/// A service's eligibility: `age_min`, `age_max`, `isee_max`, `invalidity_min`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Conditions {
    /// Minimum age in years.
    pub age_min: Option<u32>,
    /// Maximum age in years.
    pub age_max: Option<u32>,
    /// Highest ISEE, in euros.
    pub isee_max: Option<u32>,
    /// Lowest civil invalidity, in percent.
    pub invalidity_min: Option<u32>,
}

impl Conditions {
    /// No condition stated.
    pub fn is_empty(&self) -> bool {
        *self == Conditions::default()
    }
}

impl DocInput<'_> {
    /// A hash of everything the index reads of the document, to tell
    /// whether it must be tokenised again.
    pub fn fingerprint(&self) -> u64 {
        // Change detection only: the fast hasher is enough and keeps a
        // full build from hashing all the text twice as slowly.
        foldhash::fast::FixedState::default().hash_one(self)
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
    pub conditions: Conditions,
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
/// path (a word seen before, written the same way) is one hash lookup and
/// no allocation, and the per-document tables are reused from one document
/// to the next.
pub struct Tokenizer {
    p: Pipeline,
    /// written word, exactly as in the text -> (term id, written-form id);
    /// `None`: not indexed (a stopword)
    raw: FastMap<Box<str>, Option<(u32, u32)>>,
    /// the same, keyed by the lowercase NFC form, so that "Casa" and "casa"
    /// share one written form
    lower: FastMap<Box<str>, Option<(u32, u32)>>,
    terms: Vec<Arc<str>>,
    /// The first 16 bytes of each term, big-endian: sorting by this first
    /// rarely needs to compare the strings.
    prefixes: Vec<u128>,
    term_ids: FastMap<Box<str>, u32>,
    surfaces: Vec<Arc<str>>,
    syn_ids: Vec<Vec<Vec<u32>>>,
    /// Indexed by term id: the (group, phrase) that start with the term.
    /// Synonym terms are interned first, so this covers the low ids only.
    syn_first: Vec<Vec<(usize, usize)>>,
    /// Per document: term id -> position in `acc` plus one (0: absent).
    slot: Vec<u32>,
    /// Per document: the terms seen; entries past `used` keep their
    /// allocations for the next document.
    acc: Vec<Acc>,
    used: usize,
}

/// What a document has gathered of one term.
#[derive(Default)]
struct Acc {
    term: u32,
    weight: u32,
    title: bool,
    /// (written-form id, occurrences)
    forms: Vec<(u32, u32)>,
}

fn prefix(term: &str) -> u128 {
    let mut b = [0u8; 16];
    let n = term.len().min(16);
    b[..n].copy_from_slice(&term.as_bytes()[..n]);
    u128::from_be_bytes(b)
}

impl Tokenizer {
    pub fn new(p: Pipeline, syn: &Synonyms) -> Self {
        let mut t = Tokenizer {
            p,
            raw: FastMap::default(),
            lower: FastMap::default(),
            terms: Vec::new(),
            prefixes: Vec::new(),
            term_ids: FastMap::default(),
            surfaces: Vec::new(),
            syn_ids: Vec::new(),
            syn_first: Vec::new(),
            slot: Vec::new(),
            acc: Vec::new(),
            used: 0,
        };
        for group in &syn.groups {
            let ids: Vec<Vec<u32>> = group
                .iter()
                .map(|ph| ph.iter().map(|w| t.intern(w)).collect())
                .collect();
            t.syn_ids.push(ids);
        }
        t.syn_first = vec![Vec::new(); t.terms.len()];
        for (g, group) in t.syn_ids.iter().enumerate() {
            for (i, ph) in group.iter().enumerate() {
                t.syn_first[ph[0] as usize].push((g, i));
            }
        }
        t
    }

    fn intern(&mut self, term: &str) -> u32 {
        if let Some(&id) = self.term_ids.get(term) {
            return id;
        }
        let id = self.terms.len() as u32;
        self.terms.push(Arc::from(term));
        self.prefixes.push(prefix(term));
        self.slot.push(0);
        self.term_ids.insert(term.into(), id);
        id
    }

    fn word(&mut self, raw: &str) -> Option<(u32, u32)> {
        if let Some(v) = self.raw.get(raw) {
            return *v;
        }
        let v = self.word_uncached(raw);
        self.raw.insert(raw.into(), v);
        v
    }

    fn word_uncached(&mut self, raw: &str) -> Option<(u32, u32)> {
        let key = text::surface(raw);
        if let Some(v) = self.lower.get(key.as_str()) {
            return *v;
        }
        let v = self.p.term(&text::fold(&key)).map(|t| {
            let s = self.surfaces.len() as u32;
            self.surfaces.push(Arc::from(key.as_str()));
            (self.intern(&t), s)
        });
        self.lower.insert(key.into(), v);
        v
    }

    /// Adds `weight` to term `t` in the current document.
    fn add(&mut self, t: u32, weight: u32) -> &mut Acc {
        let slot = &mut self.slot[t as usize];
        if *slot == 0 {
            if self.used == self.acc.len() {
                self.acc.push(Acc::default());
            }
            let a = &mut self.acc[self.used];
            a.term = t;
            a.weight = 0;
            a.title = false;
            a.forms.clear();
            self.used += 1;
            *slot = self.used as u32;
        }
        let a = &mut self.acc[*slot as usize - 1];
        a.weight += weight;
        a
    }
}

/// Tokenises one service.
pub fn index_doc(input: &DocInput<'_>, tok: &mut Tokenizer) -> Doc {
    let mut len = 0u32;
    // Sections come as HTML: their text exists only while they are read.
    let bodies: Vec<String> = input.sections.iter().map(|h| html::text(h)).collect();
    let mut segments: Vec<(&str, u32, bool)> = vec![(input.title, W_TITLE, true)];
    segments.extend(
        input
            .keywords
            .iter()
            .map(|k| (k.as_str(), W_KEYWORDS, false)),
    );
    segments.push((input.summary, W_SUMMARY, false));
    segments.extend(bodies.iter().map(|t| (t.as_str(), W_BODY, false)));
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
            let a = tok.add(t, weight);
            a.title |= title;
            match a.forms.iter_mut().find(|x| x.0 == s) {
                Some(x) => x.1 += 1,
                None => a.forms.push((s, 1)),
            }
        }
        for i in 0..ids.len() {
            for &(g, ph) in tok.syn_first.get(ids[i] as usize).into_iter().flatten() {
                if ids[i..].starts_with(&tok.syn_ids[g][ph]) {
                    let m = matched.entry(g).or_default();
                    *m = (*m).max(weight);
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
        for p in 0..tok.syn_ids[g].len() {
            for i in 0..tok.syn_ids[g][p].len() {
                let t = tok.syn_ids[g][p][i];
                if !seen.contains(&t) {
                    seen.push(t);
                    tok.add(t, w);
                }
            }
        }
    }
    let mut order: Vec<(u128, u32)> = tok.acc[..tok.used]
        .iter()
        .enumerate()
        .map(|(i, a)| (tok.prefixes[a.term as usize], i as u32))
        .collect();
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| {
            let term = |i: u32| &*tok.terms[tok.acc[i as usize].term as usize];
            term(a.1).cmp(term(b.1))
        })
    });
    let terms: Vec<(Arc<str>, DocTerm)> = order
        .iter()
        .map(|&(_, i)| {
            let a = &tok.acc[i as usize];
            let term = tok.terms[a.term as usize].clone();
            let (surface, surface_count) = a
                .forms
                .iter()
                .map(|&(s, n)| (&tok.surfaces[s as usize], n))
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
                // a term known only from the synonym list: its written
                // form is unknown, the term itself will do
                .map_or_else(|| (term.clone(), 0), |(s, n)| (s.clone(), n));
            (
                term,
                DocTerm {
                    weight: a.weight,
                    title: a.title,
                    surface,
                    surface_count,
                },
            )
        })
        .collect();
    for a in &tok.acc[..tok.used] {
        tok.slot[a.term as usize] = 0;
    }
    tok.used = 0;
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
        conditions: input.conditions,
    }
}
