//! `sportello new service|office|desk|page <slug>`: a complete entry to
//! fill in, written as a draft; and `sportello init DIR`, a new guide.

mod guide;

pub use guide::init;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::diagnostics::Diagnostic;
use crate::language::Language;
use crate::load::SourceFile;
use crate::parse::front::{SiteConfig, TaxonomyFile};
use crate::slug::{is_valid_slug, suggest_slug};

/// The sample sentences `sportello new` writes. Each ends with `…` (U+2026),
/// so a file is scanned once for that character and only then for them.
pub const PLACEHOLDERS: &[&str] = &[
    "Scrivi in una frase che cosa offre il servizio e a chi…",
    "Descrivi chi può chiedere il servizio e con quali requisiti…",
    "Spiega i passi, uno per riga…",
    "Descrivi che cosa riceve la persona…",
    "Indica i tempi di risposta e le scadenze…",
    "Facoltativo: altre informazioni utili. Togli questa sezione se non serve…",
    "Scrivi qui come arrivare e che cosa portare…",
    "Scrivi qui il testo della pagina…",
];

/// Errors for placeholder text left in an entry that is not a draft.
pub fn placeholders(src: &SourceFile) -> Vec<Diagnostic> {
    let text = &src.text;
    if !text.contains('…') {
        return Vec::new();
    }
    let mut out = Vec::new();
    for p in PLACEHOLDERS {
        for (at, _) in text.match_indices(p) {
            out.push(
                Diagnostic::error(
                    &src.rel,
                    "placeholder text from `sportello new` is still here",
                )
                .at(text, at..at + p.len())
                .hint(
                    "replace it with the real text, or keep `draft = true` in the front \
                         matter until the entry is ready",
                ),
            );
        }
    }
    out
}

/// What `sportello new` creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Service,
    Office,
    Desk,
    Page,
}

impl EntryKind {
    fn folder(self) -> &'static str {
        match self {
            EntryKind::Service => "services",
            EntryKind::Office => "offices",
            EntryKind::Desk => "desks",
            EntryKind::Page => "pages",
        }
    }
}

/// Writes `content/<folder>/<slug>.md` as a draft, refusing to overwrite.
pub fn new_entry(content: &Path, theme: &Path, kind: EntryKind, slug: &str) -> Result<PathBuf> {
    if !is_valid_slug(slug) {
        bail!(
            "`{slug}` cannot be a slug: use lowercase letters, digits and hyphens, e.g. `{}`",
            suggest_slug(slug)
        );
    }
    let dir = content.join(kind.folder());
    let path = dir.join(format!("{slug}.md"));
    if path.exists() {
        bail!(
            "{} already exists: choose another slug or edit that file",
            path.display()
        );
    }
    let name = slug.replace('-', " ");
    let text = match kind {
        EntryKind::Service => service_text(content, theme, &name)?,
        EntryKind::Office => format!(
            "+++\n\
             draft = true             # remove this line when the entry is ready to publish\n\
             name = \"{name}\"\n\
             kind = \"municipal\"       # municipal | health | national | third-party\n\
             organization = \"\"        # who runs it, e.g. \"Comune di Cremona\"\n\
             {PLACE_KEYS}+++\n{}\n",
            PLACEHOLDERS[6]
        ),
        EntryKind::Desk => format!(
            "+++\n\
             draft = true             # remove this line when the entry is ready to publish\n\
             name = \"{name}\"\n\
             {PLACE_KEYS}+++\n{}\n",
            PLACEHOLDERS[6]
        ),
        EntryKind::Page => format!(
            "+++\n\
             draft = true             # remove this line when the entry is ready to publish\n\
             title = \"{name}\"\n\
             summary = \"\"             # one sentence, optional\n\
             +++\n{}\n",
            PLACEHOLDERS[7]
        ),
    };
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The contact keys of a new office or desk.
const PLACE_KEYS: &str = "address = \"\"               # street and number, postal code, town\n\
phone = \"\"                 # only real numbers: leave empty rather than invent\n\
email = \"\"\n\
website = \"\"               # https:// address, optional\n\
# step_free = true         # only when verified\n\
\n\
[[hours]]\n\
days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\n\
opens = \"09:00\"\n\
closes = \"12:00\"\n";

fn service_text(content: &Path, theme: &Path, name: &str) -> Result<String> {
    let site: SiteConfig = toml::from_str(
        &fs::read_to_string(content.join("site.toml"))
            .with_context(|| format!("reading {}", content.join("site.toml").display()))?,
    )
    .context("site.toml is not valid: run `sportello check`")?;
    let lang_path = theme
        .join("i18n")
        .join(format!("{}.toml", site.language.get_ref()));
    let lang: Language = toml::from_str(
        &fs::read_to_string(&lang_path)
            .with_context(|| format!("reading {}", lang_path.display()))?,
    )
    .with_context(|| format!("{} is not valid", lang_path.display()))?;
    // Real slugs from the taxonomy and an office, so the new entry is valid at once.
    let taxonomy: Option<TaxonomyFile> = fs::read_to_string(content.join("taxonomy.toml"))
        .ok()
        .and_then(|t| toml::from_str(&t).ok());
    let category = taxonomy
        .as_ref()
        .and_then(|t| t.categories.first())
        .map_or_else(|| "CATEGORIA".to_string(), |c| c.slug.get_ref().clone());
    let office = first_slug(&content.join("offices")).unwrap_or_else(|| "UFFICIO".into());
    let today = time::OffsetDateTime::now_utc().date();
    let s = &lang.sections;
    let p = PLACEHOLDERS;
    Ok(format!(
        r#"+++
draft = true              # remove this line when the entry is ready to publish
title = "{name}"   # the name citizens know, at most 80 characters
summary = "{summary}"   # at most 160 characters
category = "{category}"   # a slug of [[categories]] in taxonomy.toml
topics = []               # slugs of [[topics]]
audiences = []            # slugs of [[audiences]]
life_events = []          # slugs of [[life_events]]
status = "active"         # active | suspended | closed; add status_reason = "…" unless active
office = "{office}"       # the responsible office (check it!): a file name in content/offices/
# provider = ""           # the third party that runs the service, if any
cost = "free"             # free | paid | isee; unless free, add a section `## {cost}` after `## {timing}`
# age_min = 65
keywords = []             # words people type to find it, e.g. ["badante"]
updated = {today}         # last change of the content
reviewed = {today}        # last editorial check

[access]
online = ""               # https:// address of the online procedure, if any
booking = ""              # https:// address to book an appointment, if any
desks = []                # help desks where citizens can ask: file names in content/desks/
+++

## {addressed}

{p1}

## {how_to}

{p2}

## {needed}

- documento d'identità

## {outcome}

{p3}

## {timing}

{p4}

## {more}

{p5}
"#,
        summary = p[0],
        p1 = p[1],
        p2 = p[2],
        p3 = p[3],
        p4 = p[4],
        p5 = p[5],
        addressed = s.addressed,
        how_to = s.how_to,
        needed = s.needed,
        outcome = s.outcome,
        timing = s.timing,
        cost = s.cost,
        more = s.more,
    ))
}

fn first_slug(dir: &Path) -> Option<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_suffix(".md")
                .map(String::from)
        })
        .collect();
    names.sort();
    names.into_iter().next()
}
