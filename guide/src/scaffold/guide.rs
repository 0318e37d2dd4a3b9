//! `sportello init DIR`: a new guide with one entry of each kind that passes
//! `check` and builds at once. Contacts are left empty: they are warnings
//! until the editor writes the real ones (never invented here).

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

const SITE: &str = r#"# Impostazioni della guida.
title = "Guida ai servizi sociali"
base_url = "https://guida.example.org"   # the public address of the guide
language = "it"                          # a file in themes/default/i18n/
owner = "Comune di Esempio"              # who publishes the guide (the open data's publisher)
inbox_url = ""                           # address of the referral inbox, if any
licence = "https://creativecommons.org/licenses/by/4.0/"   # licence of the open data
city = "Esempio"                         # the town, for addresses that do not name it
province = ""                            # e.g. "CR"
postal_code = ""
country = "IT"
ipa_code = ""                            # the Comune's code in the IPA index (indicepa.gov.it), for the open data catalogue
"#;

const TAXONOMY: &str = r#"# Vocabolari controllati: categorie, argomenti, destinatari, eventi della vita.

[[categories]]
slug = "salute-benessere-assistenza"
name = "Salute, benessere e assistenza"
description = "Aiuti per la salute, l'assistenza a casa e il sostegno alle famiglie."

[[topics]]
slug = "assistenza-sociale"
name = "Assistenza sociale"
description = "Servizi del Comune per chi ha bisogno di aiuto."

[[audiences]]
slug = "anziani"
name = "Persone anziane"
description = "Chi ha più di 65 anni."

[[life_events]]
slug = "invecchiamento"
name = "Invecchiamento"
description = "Quando l'età porta nuovi bisogni."
"#;

const SYNONYMS: &str = r#"# Gruppi di sinonimi per la ricerca: le parole di un gruppo si trovano a vicenda.
groups = [
  ["badante", "assistente familiare"],
]
"#;

const HOME: &str = r#"+++
title = "Guida ai servizi sociali"
+++
Benvenuti. Questa guida spiega, con parole semplici, gli aiuti che si possono chiedere in Comune.
"#;

const OFFICE: &str = r#"+++
name = "Servizio Sociale del Comune"
kind = "municipal"
organization = "Comune di Esempio"
address = ""               # street and number, postal code, town
phone = ""                 # only real numbers: leave empty rather than invent
email = ""
website = ""

[[hours]]
days = ["mon", "wed", "fri"]
opens = "09:00"
closes = "12:00"
+++
L'ufficio del Comune che segue i servizi per le persone e le famiglie.
"#;

const DESK: &str = r#"+++
name = "Sportello Sociale"
address = ""
phone = ""
email = ""

[[hours]]
days = ["tue", "thu"]
opens = "09:00"
closes = "12:30"
+++
Allo sportello potete chiedere informazioni su tutti i servizi della guida.
"#;

const SERVICE: &str = r#"+++
title = "Assistenza domiciliare"
summary = "Un operatore aiuta a casa le persone anziane nella cura di sé e della casa."
category = "salute-benessere-assistenza"
topics = ["assistenza-sociale"]
audiences = ["anziani"]
life_events = ["invecchiamento"]
status = "active"
office = "servizio-sociale"
cost = "isee"
keywords = ["aiuto a casa", "SAD"]
updated = 2026-01-01
reviewed = 2026-01-01

[access]
desks = ["sportello-sociale"]
+++

## A chi è rivolto

Persone anziane che vivono a casa e hanno bisogno di aiuto nella vita di ogni giorno.

## Come fare

1. Chiedete un colloquio al Servizio Sociale o allo Sportello Sociale.
2. Un'assistente sociale valuta con voi di quale aiuto avete bisogno.

## Cosa serve

- documento d'identità
- ISEE in corso di validità

## Cosa si ottiene

Un operatore viene a casa, nei giorni concordati, per aiutare nell'igiene personale e nelle faccende.

## Tempi e scadenze

La domanda si può presentare tutto l'anno.

## Quanto costa

Il costo dipende dall'ISEE.
"#;

const PAGES: [(&str, &str); 3] = [
    (
        "privacy",
        "+++\ntitle = \"Informativa sulla privacy\"\n+++\nQuesta guida non usa cookie e non raccoglie dati personali.\n",
    ),
    (
        "accessibilita",
        "+++\ntitle = \"Dichiarazione di accessibilità\"\n+++\nLa guida è progettata per rispettare le WCAG 2.1 al livello AA.\n",
    ),
    (
        "chi-siamo",
        "+++\ntitle = \"Chi siamo\"\n+++\nLa guida è curata dal Comune con gli sportelli sociali del territorio.\n",
    ),
];

/// Creates `dir/content/` and copies the theme into `dir/themes/default/`.
pub fn init(dir: &Path, theme: &Path) -> Result<()> {
    if dir.exists()
        && fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty: choose a new folder, so nothing is overwritten",
            dir.display()
        );
    }
    if !theme.join("templates").is_dir() {
        bail!(
            "no theme at {}: pass --theme DIR (the themes/default folder of sportello)",
            theme.display()
        );
    }
    let content = dir.join("content");
    let files: Vec<(String, &str)> = [
        ("site.toml".to_string(), SITE),
        ("taxonomy.toml".into(), TAXONOMY),
        ("synonyms.toml".into(), SYNONYMS),
        ("_index.md".into(), HOME),
        ("offices/servizio-sociale.md".into(), OFFICE),
        ("desks/sportello-sociale.md".into(), DESK),
        ("services/assistenza-domiciliare.md".into(), SERVICE),
    ]
    .into_iter()
    .chain(
        PAGES
            .iter()
            .map(|(slug, text)| (format!("pages/{slug}.md"), *text)),
    )
    .collect();
    // Reviewed today: no stale-review warning on a new guide.
    let today = time::OffsetDateTime::now_utc().date().to_string();
    for (rel, text) in files {
        let text = text.replace("2026-01-01", &today);
        let path = content.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    copy_dir(theme, &dir.join("themes/default"))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}
