//! The domain lexicon: one-way entries from the words people use ("la 104",
//! "sedia a rotelle", "can't afford my rent") to the guide's terms, and the
//! question frames ("come si fa a", "vorrei sapere se") whose words never
//! count as content. Unlike the synonym groups, which are expanded into the
//! documents when the index is built, the lexicon is applied when a query
//! runs, and a term it brings weighs less than the same term typed.
//!
//! A theme ships it with its language data and a guide extends it (the
//! generator reads those files into a [`Lexicon`]). Its files
//! are sharded by the first term of an entry, like the dictionary, so a
//! query downloads only the entries that start with its own words:
//!
//! ```text
//! l/<term>.json   {"<first term>": [[[rest of the key], [[target terms], ...]], ...], ...}
//! ```
//!
//! An entry whose targets are empty is a frame: its words are dropped from
//! a query that has other words.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use super::shard;
use super::text::Pipeline;
use super::OutputFile;
use super::DIR;

/// About this many first terms per lexicon file.
pub const LEX_SHARD: u32 = 16;

/// A lexicon file, the theme's or the guide's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LexiconFile {
    /// Target words that are not in the example guide's dictionary on
    /// purpose (words a guide's text commonly uses), for the test that
    /// checks every other target against it.
    #[serde(default)]
    pub generic: Vec<String>,
    /// Question frames and function words: never content.
    #[serde(default)]
    pub frames: Vec<String>,
    /// What people say -> the guide's words (one or more phrases).
    #[serde(default)]
    pub entries: BTreeMap<String, Vec<String>>,
}

/// The lexicon of a site: the theme's, extended by the guide's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicon {
    /// See [`LexiconFile::generic`].
    pub generic: Vec<String>,
    /// See [`LexiconFile::frames`].
    pub frames: Vec<String>,
    /// See [`LexiconFile::entries`].
    pub entries: BTreeMap<String, Vec<String>>,
}

impl Lexicon {
    /// Adds the entries of `file`: a key already present gets the new
    /// targets after its own.
    pub fn extend(&mut self, file: LexiconFile) {
        self.generic.extend(file.generic);
        self.frames.extend(file.frames);
        for (k, v) in file.entries {
            let e = self.entries.entry(k).or_default();
            for t in v {
                if !e.contains(&t) {
                    e.push(t);
                }
            }
        }
    }

    /// Number of entries (frames not counted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Neither entries nor frames.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.frames.is_empty()
    }
}

/// One entry as terms: the key's terms after the first, and the targets.
pub type Compiled = BTreeMap<String, Vec<(Vec<String>, Vec<Vec<String>>)>>;

/// The lexicon as the browser reads it: keyed by the first term of each
/// key. A key or target phrase made only of stopwords is left out.
pub fn compile(lex: &Lexicon, p: &mut Pipeline) -> Compiled {
    let mut out: Compiled = BTreeMap::new();
    let mut add = |key: Vec<String>, targets: Vec<Vec<String>>| {
        let Some((first, rest)) = key.split_first() else {
            return;
        };
        let list = out.entry(first.clone()).or_default();
        match list.iter_mut().find(|(r, _)| r == rest) {
            Some((_, t)) => {
                for x in targets {
                    if !t.contains(&x) {
                        t.push(x);
                    }
                }
            }
            None => list.push((rest.to_vec(), targets)),
        }
    };
    for frame in &lex.frames {
        add(p.term_list(frame), Vec::new());
    }
    for (key, targets) in &lex.entries {
        let key_terms = p.term_list(key);
        let targets: Vec<Vec<String>> = targets
            .iter()
            .map(|t| p.term_list(t))
            .filter(|t| !t.is_empty())
            // an entry that maps a word to itself adds nothing
            .filter(|t| *t != key_terms)
            .collect();
        if !targets.is_empty() {
            add(key_terms, targets);
        }
    }
    out
}

fn is_boundary(term: &str) -> bool {
    shard::fnv1a(term).is_multiple_of(LEX_SHARD)
}

/// The lexicon's files and their first terms (after the first file's).
pub fn files(compiled: &Compiled) -> (Vec<OutputFile>, Vec<String>) {
    let mut files = Vec::new();
    let mut starts = Vec::new();
    let mut current: (String, serde_json::Map<String, serde_json::Value>) =
        (String::new(), serde_json::Map::new());
    let flush = |files: &mut Vec<OutputFile>, start: &str, m: serde_json::Map<_, _>| {
        if !m.is_empty() {
            let path = format!("{DIR}/l/{}.json", shard::file_name(start));
            files.push((path, serde_json::to_vec(&m).expect("JSON")));
        }
    };
    for (i, (first, list)) in compiled.iter().enumerate() {
        if i > 0 && is_boundary(first) {
            let done = std::mem::replace(&mut current, (first.clone(), serde_json::Map::new()));
            flush(&mut files, &done.0, done.1);
            starts.push(first.clone());
        }
        let v: Vec<_> = list.iter().map(|(rest, t)| json!([rest, t])).collect();
        current.1.insert(first.clone(), v.into());
    }
    flush(&mut files, &current.0, current.1);
    (files, starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(entries: &[(&str, &[&str])], frames: &[&str]) -> Lexicon {
        let mut l = Lexicon::default();
        l.extend(LexiconFile {
            generic: vec![],
            frames: frames.iter().map(|s| s.to_string()).collect(),
            entries: entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
        });
        l
    }

    #[test]
    fn compiles_keys_to_terms_by_their_first_term() {
        let l = lex(
            &[
                ("sedia a rotelle", &["carrozzina"]),
                ("la 104", &["permessi legge 104"]),
                ("badante", &["badante"]),
            ],
            &["come si fa a", "vorrei sapere se"],
        );
        let c = compile(&l, &mut Pipeline::new(&[]));
        assert_eq!(
            c["sed"],
            [(
                vec!["rotell".to_string()],
                vec![vec!["carrozzin".to_string()]]
            )]
        );
        assert_eq!(c["104"][0].1, [vec!["permess", "legg", "104"]]);
        // a word mapped to itself is no entry; a frame has no targets
        assert!(!c.contains_key("badant"));
        assert_eq!(c["fa"], [(vec![], vec![])]);
        assert_eq!(c["sap"], [(vec![], vec![])]);
    }

    #[test]
    fn a_guide_extends_the_theme() {
        let mut l = lex(&[("sedia a rotelle", &["carrozzina"])], &[]);
        l.extend(LexiconFile {
            entries: [(
                "sedia a rotelle".into(),
                vec!["ausili".into(), "carrozzina".into()],
            )]
            .into(),
            ..Default::default()
        });
        assert_eq!(l.entries["sedia a rotelle"], ["carrozzina", "ausili"]);
    }

    #[test]
    fn files_are_sharded_by_first_term() {
        let entries: Vec<(String, Vec<String>)> = (0..500)
            .map(|i| (format!("parola{i}"), vec!["casa".into()]))
            .collect();
        let mut l = Lexicon::default();
        l.extend(LexiconFile {
            entries: entries.into_iter().collect(),
            ..Default::default()
        });
        let c = compile(&l, &mut Pipeline::new(&[]));
        let (files, starts) = files(&c);
        assert_eq!(files.len(), starts.len() + 1);
        assert!(files.len() > 5, "{}", files.len());
        let mut seen = 0;
        for (_, bytes) in &files {
            let m: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(bytes).unwrap();
            assert!(m.len() < 200);
            seen += m.len();
        }
        assert_eq!(seen, c.len());
    }
}
