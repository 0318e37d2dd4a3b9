//! The text pipeline, shared word for word with the browser (`search.js`):
//! Unicode NFC, lowercase, split on anything that is not a letter or a digit
//! (apostrophes included: `dell'ISEE` gives `dell`, `isee`), accents folded,
//! Italian stopwords dropped, acronyms kept whole, domain overrides, then
//! Snowball Italian. The tables (stopwords, overrides, acronyms) travel to the
//! browser in `meta.json`, so the two sides cannot drift apart; only the
//! Snowball algorithm itself is written twice (and tested for equality).

use std::collections::{BTreeMap, BTreeSet};

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The index's in-memory maps: short strings and integers of our own
/// content, no untrusted input, so a fast hasher with a fixed seed.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
/// [`FastMap`]'s set.
pub type FastSet<T> = std::collections::HashSet<T, foldhash::fast::FixedState>;

/// Italian stopwords (Snowball's list, accents folded) plus a few words that
/// people put in natural questions ("non riesco a pagare l'affitto") and
/// that never tell services apart.
pub const STOPWORDS: &[&str] = &[
    "a",
    "abbia",
    "abbiamo",
    "abbiano",
    "abbiate",
    "ad",
    "agl",
    "agli",
    "ai",
    "al",
    "all",
    "alla",
    "alle",
    "allo",
    "anche",
    "ancora",
    "avemmo",
    "avendo",
    "avere",
    "avesse",
    "avessero",
    "avessi",
    "avessimo",
    "aveste",
    "avesti",
    "avete",
    "aveva",
    "avevamo",
    "avevano",
    "avevate",
    "avevi",
    "avevo",
    "avra",
    "avrai",
    "avranno",
    "avrebbe",
    "avrebbero",
    "avrei",
    "avremmo",
    "avremo",
    "avreste",
    "avresti",
    "avrete",
    "avro",
    "avuta",
    "avute",
    "avuti",
    "avuto",
    "bisogno",
    "c",
    "che",
    "chi",
    "ci",
    "coi",
    "col",
    "come",
    "con",
    "contro",
    "cosa",
    "cosi",
    "cui",
    "d",
    "da",
    "dagl",
    "dagli",
    "dai",
    "dal",
    "dall",
    "dalla",
    "dalle",
    "dallo",
    "degl",
    "degli",
    "dei",
    "del",
    "dell",
    "della",
    "delle",
    "dello",
    "devo",
    "di",
    "dov",
    "dove",
    "e",
    "ebbe",
    "ebbero",
    "ebbi",
    "ed",
    "era",
    "erano",
    "eravamo",
    "eravate",
    "eri",
    "ero",
    "essendo",
    "essere",
    "faccia",
    "facciamo",
    "facciano",
    "facciate",
    "faccio",
    "facemmo",
    "facendo",
    "facesse",
    "facessero",
    "facessi",
    "facessimo",
    "faceste",
    "facesti",
    "faceva",
    "facevamo",
    "facevano",
    "facevate",
    "facevi",
    "facevo",
    "fai",
    "fanno",
    "fara",
    "farai",
    "faranno",
    "fare",
    "farebbe",
    "farebbero",
    "farei",
    "faremmo",
    "faremo",
    "fareste",
    "faresti",
    "farete",
    "faro",
    "fece",
    "fecero",
    "feci",
    "fosse",
    "fossero",
    "fossi",
    "fossimo",
    "foste",
    "fosti",
    "fu",
    "fui",
    "fummo",
    "furono",
    "gia",
    "gli",
    "ha",
    "hai",
    "hanno",
    "ho",
    "i",
    "il",
    "in",
    "io",
    "l",
    "la",
    "le",
    "lei",
    "li",
    "lo",
    "loro",
    "lui",
    "ma",
    "mi",
    "mia",
    "mie",
    "miei",
    "mio",
    "ne",
    "negl",
    "negli",
    "nei",
    "nel",
    "nell",
    "nella",
    "nelle",
    "nello",
    "noi",
    "non",
    "nostra",
    "nostre",
    "nostri",
    "nostro",
    "o",
    "per",
    "perche",
    "piu",
    "posso",
    "puo",
    "quale",
    "quando",
    "quanta",
    "quante",
    "quanti",
    "quanto",
    "quella",
    "quelle",
    "quelli",
    "quello",
    "questa",
    "queste",
    "questi",
    "questo",
    "riesce",
    "riesco",
    "riescono",
    "sara",
    "sarai",
    "saranno",
    "sarebbe",
    "sarebbero",
    "sarei",
    "saremmo",
    "saremo",
    "sareste",
    "saresti",
    "sarete",
    "saro",
    "se",
    "sei",
    "si",
    "sia",
    "siamo",
    "siano",
    "siate",
    "siete",
    "sono",
    "sta",
    "stai",
    "stando",
    "stanno",
    "stara",
    "starai",
    "staranno",
    "starebbe",
    "starebbero",
    "starei",
    "staremmo",
    "staremo",
    "stareste",
    "staresti",
    "starete",
    "staro",
    "stava",
    "stavamo",
    "stavano",
    "stavate",
    "stavi",
    "stavo",
    "stemmo",
    "stesse",
    "stessero",
    "stessi",
    "stessimo",
    "steste",
    "stesti",
    "stette",
    "stettero",
    "stetti",
    "stia",
    "stiamo",
    "stiano",
    "stiate",
    "sto",
    "su",
    "sua",
    "sue",
    "sugl",
    "sugli",
    "sui",
    "sul",
    "sull",
    "sulla",
    "sulle",
    "sullo",
    "suo",
    "suoi",
    "ti",
    "tra",
    "tu",
    "tua",
    "tue",
    "tuo",
    "tuoi",
    "tutti",
    "tutto",
    "un",
    "una",
    "uno",
    "vi",
    "voglio",
    "voi",
    "vorrei",
    "vostra",
    "vostre",
    "vostri",
    "vostro",
];

/// Word families that Snowball splits (or merges) badly for this domain:
/// every word of a family gets the family's term. Words are accent-folded.
pub const FAMILIES: &[(&str, &[&str])] = &[
    ("anzian", &["anziano", "anziana", "anziani", "anziane"]),
    (
        "domicil",
        &["domicilio", "domiciliare", "domiciliari", "domiciliarita"],
    ),
    ("disabil", &["disabile", "disabili", "disabilita"]),
    (
        "invalid",
        &["invalido", "invalida", "invalidi", "invalide", "invalidita"],
    ),
    (
        "familiar",
        &["familiare", "familiari", "famigliare", "famigliari"],
    ),
    ("famigl", &["famiglia", "famiglie"]),
    ("assistent", &["assistente", "assistenti"]),
    (
        "assistenz",
        &["assistenza", "assistenze", "assistenziale", "assistenziali"],
    ),
    (
        "sanitar",
        &["sanitario", "sanitaria", "sanitari", "sanitarie"],
    ),
    ("social", &["sociale", "sociali"]),
    ("badant", &["badante", "badanti"]),
    (
        "accompagn",
        &[
            "accompagnamento",
            "accompagnamenti",
            "accompagnare",
            "accompagnatore",
        ],
    ),
    (
        "autosufficient",
        &["autosufficiente", "autosufficienti", "autosufficienza"],
    ),
    ("casa", &["casa", "case"]),
    ("caregiver", &["caregiver", "caregivers"]),
    (
        "pension",
        &[
            "pensione",
            "pensioni",
            "pensionato",
            "pensionata",
            "pensionati",
        ],
    ),
    (
        "ricover",
        &["ricovero", "ricoveri", "ricoverato", "ricoverata"],
    ),
    ("bollett", &["bolletta", "bollette"]),
    ("contribut", &["contributo", "contributi"]),
    ("inclusion", &["inclusione"]),
];

/// Acronyms kept whole (never stemmed), accent-folded and lowercase. The
/// all-capital words of `synonyms.toml` are added at build time.
pub const ACRONYMS: &[&str] = &[
    "adi", "ads", "aler", "arera", "asl", "asst", "ats", "caf", "cdi", "cgil", "cie", "cisl",
    "cns", "cude", "dsu", "erp", "fna", "inail", "inca", "inps", "isee", "naspi", "pec", "rai",
    "rsa", "rsd", "sad", "sap", "sil", "sla", "spi", "spid", "tv", "uil", "uvm", "ztl",
];

/// Lowercase, NFC, accents folded: the form every table is keyed by.
pub fn fold(token: &str) -> String {
    if token.is_ascii() {
        return token.to_ascii_lowercase();
    }
    let lower: String = token.nfc().collect::<String>().to_lowercase();
    lower
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .nfc()
        .collect()
}

/// Lowercase NFC form, accents kept: what a person would write.
pub fn surface(token: &str) -> String {
    if token.is_ascii() {
        return token.to_ascii_lowercase();
    }
    token.nfc().collect::<String>().to_lowercase()
}

fn is_word_char(c: char) -> bool {
    // Most characters are ASCII: skip the Unicode tables for them.
    if c.is_ascii() {
        return ASCII_WORD[c as usize];
    }
    c.is_alphanumeric() || is_combining_mark(c)
}

/// The ASCII bytes that are part of a word (letters and digits), looked up
/// instead of compared with three ranges: this test runs on every byte of
/// every service's text.
const ASCII_WORD: [bool; 128] = {
    let mut table = [false; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    table
};

/// The raw words of a text, in order (letters, digits and their marks).
pub fn raw_words(text: &str) -> RawWords<'_> {
    RawWords { text, pos: 0 }
}

/// Iterator of [`raw_words`]. It scans bytes and decodes a character only
/// where the byte is not ASCII: most of an Italian text is ASCII, and this
/// loop runs over every word of every service.
#[derive(Debug, Clone)]
pub struct RawWords<'a> {
    text: &'a str,
    pos: usize,
}

impl RawWords<'_> {
    /// From byte `i`, the end of the run of characters that are (`word`)
    /// or are not (`!word`) part of a word. ASCII bytes are classified
    /// without decoding.
    #[inline(always)]
    fn run(&self, mut i: usize, word: bool) -> usize {
        let bytes = self.text.as_bytes();
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii() {
                if ASCII_WORD[usize::from(b)] != word {
                    break;
                }
                i += 1;
            } else {
                let c = self.text[i..]
                    .chars()
                    .next()
                    .expect("a character starts here");
                if is_word_char(c) != word {
                    break;
                }
                i += c.len_utf8();
            }
        }
        i
    }
}

impl<'a> Iterator for RawWords<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let start = self.run(self.pos, false);
        self.pos = self.run(start, true);
        (start < self.pos).then(|| &self.text[start..self.pos])
    }
}

/// Is `raw` written like an acronym (`ISEE`, `RSA`, `AdS`)?
pub fn looks_like_acronym(raw: &str) -> bool {
    let n = raw.chars().count();
    (2..=6).contains(&n)
        && raw.chars().all(|c| c.is_alphabetic())
        && raw.chars().next().is_some_and(char::is_uppercase)
        && raw.chars().filter(|c| c.is_uppercase()).count() >= 2
}

/// The language of an index: its stopwords and its Snowball stemmer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// The guide's own language: Italian stopwords, the domain families
    /// and Snowball Italian.
    Italian,
    /// The English edition: English stopwords and Snowball English.
    English,
}

impl Lang {
    /// The language of an edition's code (`it`, `en`); Italian for any other.
    pub fn from_code(code: &str) -> Lang {
        match code {
            "en" => Lang::English,
            _ => Lang::Italian,
        }
    }

    fn algorithm(self) -> Algorithm {
        match self {
            Lang::Italian => Algorithm::Italian,
            Lang::English => Algorithm::English,
        }
    }
}

/// Turns folded words into index terms. Cheap to clone, not thread-safe
/// to share (holds a cache): make one per thread with [`Pipeline::clone`].
pub struct Pipeline {
    lang: Lang,
    stemmer: Stemmer,
    // Hash tables: every new word of a build is looked up in each.
    stop: FastSet<String>,
    overrides: FastMap<String, String>,
    acronyms: FastSet<String>,
    cache: FastMap<String, Option<String>>,
}

impl Clone for Pipeline {
    fn clone(&self) -> Self {
        Pipeline {
            lang: self.lang,
            stemmer: Stemmer::create(self.lang.algorithm()),
            stop: self.stop.clone(),
            overrides: self.overrides.clone(),
            acronyms: self.acronyms.clone(),
            cache: FastMap::default(),
        }
    }
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("acronyms", &self.acronyms())
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// The Italian pipeline for a site whose synonym groups are `synonyms`.
    pub fn new(synonyms: &[Vec<String>]) -> Pipeline {
        Pipeline::for_lang(Lang::Italian, synonyms)
    }

    /// The pipeline of an index in `lang`. The domain families are Italian
    /// words: only the Italian pipeline has them.
    pub fn for_lang(lang: Lang, synonyms: &[Vec<String>]) -> Pipeline {
        let mut acronyms: FastSet<String> = ACRONYMS.iter().map(|s| s.to_string()).collect();
        for phrase in synonyms.iter().flatten() {
            for w in raw_words(phrase) {
                if looks_like_acronym(w) {
                    acronyms.insert(fold(w));
                }
            }
        }
        let mut overrides = FastMap::default();
        let stopwords = match lang {
            Lang::Italian => {
                for (term, words) in FAMILIES {
                    for w in *words {
                        overrides.insert(w.to_string(), term.to_string());
                    }
                }
                STOPWORDS
            }
            Lang::English => super::english::STOPWORDS,
        };
        Pipeline {
            lang,
            stemmer: Stemmer::create(lang.algorithm()),
            stop: stopwords.iter().map(|s| s.to_string()).collect(),
            overrides,
            acronyms,
            cache: FastMap::default(),
        }
    }

    /// The language of this pipeline.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The tables, sorted (for `meta.json`).
    pub fn stopwords(&self) -> BTreeSet<&str> {
        self.stop.iter().map(String::as_str).collect()
    }
    /// Words whose term is fixed rather than stemmed.
    pub fn overrides(&self) -> BTreeMap<&str, &str> {
        self.overrides
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
    /// Words kept whole, never stemmed.
    pub fn acronyms(&self) -> BTreeSet<&str> {
        self.acronyms.iter().map(String::as_str).collect()
    }

    /// The Snowball stemmer alone, for the equivalence test with the browser.
    pub fn snowball(&self, folded: &str) -> String {
        self.stemmer.stem(folded).into_owned()
    }

    /// The index term of a folded word, or `None` for a stopword or a
    /// lone letter.
    pub fn term(&mut self, folded: &str) -> Option<String> {
        if let Some(t) = self.cache.get(folded) {
            return t.clone();
        }
        let t = self.term_uncached(folded);
        self.cache.insert(folded.to_string(), t.clone());
        t
    }

    fn term_uncached(&self, w: &str) -> Option<String> {
        if self.stop.contains(w) {
            return None;
        }
        if w.chars().count() < 2 && !w.chars().all(|c| c.is_numeric()) {
            return None;
        }
        if self.acronyms.contains(w) {
            return Some(w.to_string());
        }
        if let Some(t) = self.overrides.get(w) {
            return Some(t.clone());
        }
        if w.chars().any(|c| c.is_numeric()) {
            return Some(w.to_string());
        }
        Some(self.stemmer.stem(w).into_owned())
    }

    /// Terms of a text, with the surface word each came from.
    pub fn terms<'a>(&'a mut self, text: &'a str) -> impl Iterator<Item = (String, String)> + 'a {
        raw_words(text).filter_map(move |raw| {
            let folded = fold(raw);
            self.term(&folded).map(|t| (t, surface(raw)))
        })
    }

    /// Terms of a text without surfaces (queries, synonym phrases).
    pub fn term_list(&mut self, text: &str) -> Vec<String> {
        self.terms(text).map(|(t, _)| t).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Pipeline {
        Pipeline::new(&[vec!["ERP".into(), "case popolari".into()]])
    }

    #[test]
    fn folds_case_accents_and_normal_forms() {
        assert_eq!(fold("Invalidità"), "invalidita");
        // "e" + combining grave (NFD) folds like the precomposed letter
        assert_eq!(fold("PERCHE\u{300}"), "perche");
        assert_eq!(fold("CITTÀ"), "citta");
        assert_eq!(surface("Città"), "città");
    }

    #[test]
    fn splits_on_apostrophes_and_punctuation() {
        let words: Vec<&str> = raw_words("dell'ISEE, l’assegno (730)-bis").collect();
        assert_eq!(words, ["dell", "ISEE", "l", "assegno", "730", "bis"]);
        // Accented letters, combining marks and non-Latin letters are part
        // of words; any other character, ASCII or not, separates them.
        let words: Vec<&str> = raw_words("«Città» e\u{300} — perché… Ελλάδα 2°piano ").collect();
        assert_eq!(
            words,
            ["Città", "e\u{300}", "perché", "Ελλάδα", "2", "piano"]
        );
        assert_eq!(raw_words("").count(), 0);
        assert_eq!(raw_words(" ,;— ").count(), 0);
        // The same words as the plain definition, on mixed text.
        for text in [
            "Perché l'ISEE? È così: 3–4 volte… «ok»",
            "a\u{301}b c\u{300}\u{301}, 日本語 x",
            "\u{300}inizio e fine\u{301}",
        ] {
            let plain: Vec<&str> = text
                .split(|c: char| !is_word_char(c))
                .filter(|w| !w.is_empty())
                .collect();
            assert_eq!(raw_words(text).collect::<Vec<_>>(), plain, "{text}");
        }
        assert_eq!(p().term_list("dell'ISEE"), ["isee"]);
    }

    #[test]
    fn drops_stopwords_and_lone_letters() {
        assert_eq!(
            p().term_list("non riesco a pagare l'affitto"),
            ["pag", "affitt"]
        );
        assert_eq!(p().term_list("è più di 3"), ["3"]);
    }

    #[test]
    fn acronyms_stay_whole_and_synonym_acronyms_are_added() {
        let mut p = p();
        for a in ["isee", "rsa", "cdi", "cude", "sad", "adi", "erp"] {
            assert_eq!(p.term(a).as_deref(), Some(a));
        }
        assert!(looks_like_acronym("AdS"));
        assert!(!looks_like_acronym("Casa"));
        assert!(!looks_like_acronym("A"));
    }

    #[test]
    fn domain_families_share_a_term() {
        let mut p = p();
        let t: Vec<_> = ["anziano", "anziani", "anziane", "Anziana"]
            .iter()
            .map(|w| p.term(&fold(w)))
            .collect();
        assert!(t.iter().all(|x| x.as_deref() == Some("anzian")), "{t:?}");
        assert_eq!(p.term("domiciliare"), p.term("domiciliari"));
        assert_eq!(p.term(&fold("invalidità")), p.term("invalido"));
    }

    #[test]
    fn english_pipeline_stems_in_english_without_italian_families() {
        let mut en = Pipeline::for_lang(Lang::English, &[]);
        assert_eq!(en.lang(), Lang::English);
        assert_eq!(en.term("services"), en.term("service"));
        assert_eq!(en.term("caring").as_deref(), Some("care"));
        assert_eq!(en.term("the"), None);
        // an Italian stopword is a word in English, and the families stay Italian
        assert_eq!(en.term("anziani").as_deref(), Some("anziani"));
        assert_eq!(en.term("isee").as_deref(), Some("isee"));
        assert_eq!(en.clone().term("living").as_deref(), Some("live"));
    }

    #[test]
    fn snowball_italian_stems() {
        let mut p = p();
        assert_eq!(p.term("telesoccorso").as_deref(), Some("telesoccors"));
        assert_eq!(p.term("pagare").as_deref(), Some("pag"));
        assert_eq!(p.term("affitti"), p.term("affitto"));
        assert_eq!(p.term("730").as_deref(), Some("730"));
        assert_eq!(p.term("b2").as_deref(), Some("b2"));
    }
}
