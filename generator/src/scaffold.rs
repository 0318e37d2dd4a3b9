//! `sportello new service <slug>`: a complete entry to fill in.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::language::Language;
use crate::load::{is_valid_slug, suggest_slug};
use crate::parse::front::{SiteConfig, TaxonomyFile};

/// Writes `content/services/<slug>.md`, refusing to overwrite.
pub fn new_service(content: &Path, theme: &Path, slug: &str) -> Result<PathBuf> {
    if !is_valid_slug(slug) {
        bail!(
            "`{slug}` cannot be a slug: use lowercase letters, digits and hyphens, e.g. `{}`",
            suggest_slug(slug)
        );
    }
    let dir = content.join("services");
    let path = dir.join(format!("{slug}.md"));
    if path.exists() {
        bail!(
            "{} already exists: choose another slug or edit that file",
            path.display()
        );
    }
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
    // Real slugs from the taxonomy and the first office, so the new entry builds at once.
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
    let text = format!(
        r#"+++
title = "{title}"   # the name citizens know, at most 80 characters
summary = "Scrivi in una frase che cosa offre il servizio e a chi."   # at most 160 characters
category = "{category}"   # a slug of [[categories]] in taxonomy.toml
topics = []               # slugs of [[topics]]
audiences = []            # slugs of [[audiences]]
life_events = []          # slugs of [[life_events]]
status = "active"         # active | suspended | closed; add status_reason = "…" unless active
office = "{office}"       # the responsible office: a file name in content/offices/
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

Descrivi chi può chiedere il servizio e con quali requisiti.

## {how_to}

Spiega i passi, uno per riga:

1. primo passo;
2. secondo passo.

## {needed}

- documento d'identità

## {outcome}

Descrivi che cosa riceve la persona.

## {timing}

Indica i tempi di risposta e le scadenze.

## {more}

Facoltativo: altre informazioni utili. Togli questa sezione se non serve.
"#,
        title = slug.replace('-', " "),
        addressed = s.addressed,
        how_to = s.how_to,
        needed = s.needed,
        outcome = s.outcome,
        timing = s.timing,
        cost = s.cost,
        more = s.more,
    );
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
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
