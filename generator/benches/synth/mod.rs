//! Synthetic guides in the content model, for benchmarks: N service entries
//! of realistic Italian length (300-600 words, lists, a table), with
//! offices, desks and a taxonomy. Deterministic for a given N.

#[allow(dead_code)] // the build benchmark's comparison only
pub mod hugo;

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

const WORDS: &[&str] = &[
    "assistenza",
    "domiciliare",
    "persona",
    "anziana",
    "famiglia",
    "servizio",
    "sociale",
    "comune",
    "domanda",
    "contributo",
    "reddito",
    "isee",
    "certificato",
    "medico",
    "visita",
    "ufficio",
    "sportello",
    "operatore",
    "cura",
    "casa",
    "pasti",
    "trasporto",
    "disabilità",
    "invalidità",
    "caregiver",
    "badante",
    "sostegno",
    "economico",
    "bisogno",
    "valutazione",
    "progetto",
    "individuale",
    "percorso",
    "richiesta",
    "documento",
    "identità",
    "residenza",
    "cittadino",
    "accesso",
    "modulo",
    "appuntamento",
    "assistente",
    "telefono",
    "settimana",
    "mese",
    "anno",
    "giorni",
    "ore",
    "tempo",
    "risposta",
    "graduatoria",
    "bando",
    "regione",
    "lombardia",
    "azienda",
    "sanitaria",
    "territoriale",
    "centro",
    "diurno",
    "residenza",
    "sollievo",
    "autonomia",
    "fragile",
    "solitudine",
    "quartiere",
    "volontari",
    "associazione",
    "cooperativa",
    "spesa",
    "farmaci",
    "bolletta",
    "affitto",
    "alloggio",
    "barriere",
    "architettoniche",
    "ausili",
    "protesi",
    "accompagnamento",
    "indennità",
    "pensione",
    "assegno",
    "esenzione",
    "ticket",
    "prestazione",
    "erogazione",
    "la",
    "il",
    "per",
    "con",
    "della",
    "del",
    "alle",
    "nei",
    "che",
    "una",
    "un",
    "da",
    "in",
    "e",
    "o",
    "non",
    "può",
    "deve",
    "viene",
    "sono",
    "hanno",
    "chiedere",
    "presentare",
    "ricevere",
    "ottenere",
    "rivolgersi",
];

const CATEGORIES: &[(&str, &str)] = &[
    (
        "salute-benessere-assistenza",
        "Salute, benessere e assistenza",
    ),
    (
        "tributi-finanze-contravvenzioni",
        "Tributi, finanze e contravvenzioni",
    ),
    ("mobilita-trasporti", "Mobilità e trasporti"),
    ("vita-lavorativa", "Vita lavorativa"),
];
const TOPICS: &[(&str, &str)] = &[
    ("assistenza-sociale", "Assistenza sociale"),
    ("disabilita", "Disabilità"),
    ("non-autosufficienza", "Non autosufficienza"),
    ("sostegno-economico", "Sostegno economico"),
    ("casa", "Casa"),
    ("salute", "Salute"),
];
const AUDIENCES: &[(&str, &str)] = &[
    ("anziani", "Anziani"),
    ("persone-con-disabilita", "Persone con disabilità"),
    ("caregiver-familiari", "Caregiver familiari"),
    ("famiglie", "Famiglie"),
];
pub const OFFICES: usize = 20;
pub const DESKS: usize = 5;

/// A whole-number setting from the environment, or `default`.
#[allow(dead_code)] // each bench uses what it needs of this module
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The repository root (for the theme).
#[allow(dead_code)]
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A temporary directory on tmpfs when there is one, so disk speed does not
/// blur the figures.
#[allow(dead_code)]
pub fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(base)
        .unwrap()
}

/// Small deterministic generator (xorshift64*), so runs are comparable.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    fn word(&mut self) -> &'static str {
        WORDS[self.below(WORDS.len())]
    }
    fn sentence(&mut self, words: usize) -> String {
        let mut s = String::new();
        for i in 0..words {
            let w = self.word();
            if i == 0 {
                let mut c = w.chars();
                if let Some(f) = c.next() {
                    s.extend(f.to_uppercase());
                    s.push_str(c.as_str());
                }
            } else {
                s.push(' ');
                s.push_str(w);
            }
        }
        s.push('.');
        s
    }
    fn paragraph(&mut self, sentences: usize) -> String {
        (0..sentences)
            .map(|_| {
                let n = 8 + self.below(10);
                self.sentence(n)
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The slug of the i-th synthetic service.
pub fn service_slug(i: usize) -> String {
    format!("servizio-{i:05}")
}

/// One service entry; `variant` changes its text (for edit benchmarks).
pub fn service_text(i: usize, n: usize, variant: u64) -> String {
    let mut r = Rng::new(i as u64 * 7919 + variant);
    let mut t = String::with_capacity(4096);
    let cat = CATEGORIES[i % CATEGORIES.len()].0;
    let topic = TOPICS[i % TOPICS.len()].0;
    // Two different topics: a topic listed twice is a warning.
    let mut topic2 = TOPICS[(i / 7) % TOPICS.len()].0;
    if topic2 == topic {
        topic2 = TOPICS[(i / 7 + 1) % TOPICS.len()].0;
    }
    let aud = AUDIENCES[i % AUDIENCES.len()].0;
    let title = format!("{} {} {i}", capital(r.word()), r.word());
    let summary = r.sentence(12);
    let cost = ["free", "isee", "paid"][i % 3];
    let _ = writeln!(t, "+++");
    let _ = writeln!(t, "title = \"{title}\"");
    let _ = writeln!(t, "summary = \"{summary}\"");
    let _ = writeln!(t, "category = \"{cat}\"");
    let _ = writeln!(t, "topics = [\"{topic}\", \"{topic2}\"]");
    let _ = writeln!(t, "audiences = [\"{aud}\"]");
    let _ = writeln!(t, "status = \"active\"");
    let _ = writeln!(t, "office = \"ufficio-{:02}\"", i % OFFICES);
    let _ = writeln!(t, "cost = \"{cost}\"");
    let _ = writeln!(t, "keywords = [\"{}\", \"{}\"]", r.word(), r.word());
    let _ = writeln!(t, "updated = 2026-{:02}-{:02}", 1 + i % 12, 1 + i % 28);
    let _ = writeln!(t, "reviewed = 2026-10-01");
    let _ = writeln!(t, "\n[access]\ndesks = [\"sportello-{}\"]", i % DESKS);
    let _ = writeln!(t, "+++\n");
    let _ = writeln!(t, "## A chi è rivolto\n\n{}\n", r.paragraph(4));
    let _ = writeln!(t, "## Come fare\n");
    for step in 1..=4 {
        let n = 10 + r.below(6);
        let _ = writeln!(t, "{step}. {}", r.sentence(n));
    }
    let _ = writeln!(t, "\n{}\n", r.paragraph(3));
    let _ = writeln!(t, "## Cosa serve\n");
    for _ in 0..4 {
        let n = 4 + r.below(5);
        let _ = writeln!(t, "- {}", r.sentence(n));
    }
    let _ = writeln!(
        t,
        "\n## Cosa si ottiene\n\n{}\n\n{}\n",
        r.paragraph(4),
        r.paragraph(3)
    );
    let _ = writeln!(t, "## Tempi e scadenze\n\n{}\n", r.paragraph(2));
    let _ = writeln!(t, "| Fase | Tempo |\n|------|-------|");
    for _ in 0..3 {
        let _ = writeln!(t, "| {} | {} giorni |", capital(r.word()), 5 + r.below(60));
    }
    if cost != "free" {
        let _ = writeln!(t, "\n## Quanto costa\n\n{}\n", r.paragraph(2));
    }
    let _ = writeln!(
        t,
        "\n## Ulteriori informazioni\n\n{} Vedi anche [un altro servizio](@/services/{}.md).",
        r.paragraph(2),
        service_slug((i + 1) % n.clamp(1, 10))
    );
    t
}

fn capital(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn terms(out: &mut String, key: &str, list: &[(&str, &str)]) {
    for (slug, name) in list {
        let _ = writeln!(out, "[[{key}]]\nslug = \"{slug}\"\nname = \"{name}\"\n");
    }
}

/// Writes a whole synthetic guide with `n` services into `dir`.
pub fn write_guide(dir: &Path, n: usize) {
    for sub in ["services", "offices", "desks", "pages"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    fs::write(
        dir.join("site.toml"),
        "title = \"Guida sintetica\"\nbase_url = \"https://guida.example.org\"\nlanguage = \"it\"\nowner = \"Comune di Esempio\"\n",
    )
    .unwrap();
    let mut tax = String::new();
    terms(&mut tax, "categories", CATEGORIES);
    terms(&mut tax, "topics", TOPICS);
    terms(&mut tax, "audiences", AUDIENCES);
    fs::write(dir.join("taxonomy.toml"), tax).unwrap();
    fs::write(
        dir.join("synonyms.toml"),
        "groups = [[\"badante\", \"assistente familiare\"]]\n",
    )
    .unwrap();
    fs::write(
        dir.join("_index.md"),
        "+++\ntitle = \"Guida sintetica\"\n+++\nBenvenuti.\n",
    )
    .unwrap();
    fs::write(
        dir.join("pages/privacy.md"),
        "+++\ntitle = \"Privacy\"\n+++\nNessun cookie.\n",
    )
    .unwrap();
    for o in 0..OFFICES {
        fs::write(
            dir.join(format!("offices/ufficio-{o:02}.md")),
            format!("+++\nname = \"Ufficio {o}\"\nkind = \"municipal\"\nwebsite = \"https://www.example.org/{o}\"\n+++\nUfficio di esempio.\n"),
        )
        .unwrap();
    }
    for d in 0..DESKS {
        fs::write(
            dir.join(format!("desks/sportello-{d}.md")),
            format!("+++\nname = \"Sportello {d}\"\nwebsite = \"https://www.example.org/s{d}\"\nstep_free = true\n[[hours]]\ndays = [\"mon\", \"tue\", \"wed\"]\nopens = \"09:00\"\ncloses = \"12:00\"\n+++\nSportello di esempio.\n"),
        )
        .unwrap();
    }
    for i in 0..n {
        fs::write(
            dir.join(format!("services/{}.md", service_slug(i))),
            service_text(i, n, 0),
        )
        .unwrap();
    }
}
