//! One file with ten mistakes of eight kinds: one `check` reports them all,
//! each at its line with its hint (the case of an editor's first entry).

mod common;

use common::{line_of, Site};

const FILE: &str = "services/nuovo.md";

/// A service written by a new editor: curly quotes, two misspelt keys, a
/// text for a list, a value not allowed, a quoted number and date, two
/// missing sections and a broken link.
const ENTRY: &str = r#"+++
title = “Trasporto amico”
sumary = "Un passaggio in auto per visite mediche."
categroy = "mobilita-trasporti"
topics = "disabilita"
status = "attivo"
office = "servizio-sociale"
cost = "isee"
age_min = "65"
updated = "2026-09-15"
reviewed = 2026-09-15
+++

## A chi è rivolto

Persone che non possono usare i mezzi pubblici.

## Come fare

Telefona allo sportello. Vedi [il trasporto](@/services/trasporto-social.md).

## Cosa si ottiene

Un passaggio in auto.

## Tempi e scadenze

Prenota tre giorni prima.
"#;

/// (text on the line the error must point at, part of the message, part of the hint)
const EXPECTED: [(&str, &str, &str); 9] = [
    ("title = “", "is not a TOML quote", "straight double quotes"),
    (
        "sumary =",
        "unknown key `sumary`",
        "did you mean `summary`?",
    ),
    (
        "categroy =",
        "unknown key `categroy`",
        "did you mean `category`?",
    ),
    ("topics =", "`topics` must be a list", "[\"disabilita\"]"),
    (
        "status =",
        "`attivo` is not an allowed value",
        "active, suspended, closed",
    ),
    ("age_min =", "`age_min` must be a number", "`age_min = 65`"),
    (
        "updated =",
        "a date is written without quotes",
        "`updated = 2026-09-15`",
    ),
    (
        "## Cosa si ottiene",
        "missing section `## Cosa serve`",
        "after `## Come fare`",
    ),
    // The ninth: `cost = "isee"` needs `## Quanto costa`, pointed at `cost`.
    (
        "cost =",
        "missing section `## Quanto costa`",
        "after `## Tempi e scadenze`",
    ),
];

#[test]
fn one_check_reports_every_mistake_of_a_file() {
    let site = Site::copy_of("valid");
    site.write(FILE, ENTRY);
    let diags = site.diagnostics();
    let mine: Vec<_> = diags.iter().filter(|d| d.file == FILE).collect();
    let listing: String = mine.iter().map(|d| format!("  {d}\n")).collect();
    for (at, message, hint) in EXPECTED {
        let line = line_of(ENTRY, at);
        let d = mine
            .iter()
            .find(|d| d.message.contains(message))
            .unwrap_or_else(|| panic!("no error {message:?}; got:\n{listing}"));
        assert_eq!(d.line_col().map(|(l, _)| l), Some(line), "{d}\n{listing}");
        let h = d.hint.as_deref().unwrap_or_default();
        assert!(h.contains(hint), "{d}: hint lacks {hint:?}");
    }
    // The broken `@/` link is answered in the `@/` form.
    let link = mine
        .iter()
        .find(|d| d.message.contains("broken link"))
        .unwrap_or_else(|| panic!("no broken link; got:\n{listing}"));
    assert_eq!(
        link.line_col().map(|(l, _)| l),
        Some(line_of(ENTRY, "[il trasporto]"))
    );
    assert!(
        link.hint
            .as_deref()
            .unwrap()
            .contains("`@/services/trasporto-sociale.md`"),
        "{link}"
    );
    // Nothing else: no "missing summary" beside "did you mean `summary`?".
    assert_eq!(mine.len(), EXPECTED.len() + 1, "{listing}");
}

/// The README's example: a misspelt key, with its snippet and hint.
#[test]
fn the_readme_example_is_what_check_prints() {
    let site = Site::copy_of("valid");
    site.replace("services/trasporto-sociale.md", "title =", "tittle =");
    let diags = site.diagnostics();
    let d = diags
        .iter()
        .find(|d| d.message == "unknown key `tittle`")
        .expect("the error");
    let out = d.render(false);
    assert!(
        out.starts_with("error: services/trasporto-sociale.md:2:1: unknown key `tittle`"),
        "{out}"
    );
    assert!(out.contains(" 2 │ tittle = \"Trasporto sociale\""), "{out}");
    assert!(out.contains("help: did you mean `title`?"), "{out}");
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    assert!(readme.contains("help: did you mean `title`?"));
    assert!(readme.contains("error: services/telesoccorso.md:2:1: unknown key `tittle`"));
}
