//! One invalid fixture per rule of the content model: each case changes the
//! valid fixture in one place and asserts the message, the file, the line
//! (the line where the offending text really is) and the hint.

mod common;

use common::{line_of, Site};
use sportello_guide::diagnostics::{Diagnostic, Severity};

const SAD: &str = "services/assistenza-domiciliare.md";
const TRASPORTO: &str = "services/trasporto-sociale.md";

struct Case {
    name: &'static str,
    file: &'static str,
    /// (from, to) replacements applied to `file`.
    edits: &'static [(&'static str, &'static str)],
    severity: Severity,
    message: &'static str,
    /// Text whose line the diagnostic must point at; `None` for file-level problems.
    at: Option<&'static str>,
    hint: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "unknown front-matter key",
        file: TRASPORTO,
        edits: &[("title =", "tittle =")],
        severity: Severity::Error,
        message: "unknown key `tittle`",
        at: Some("tittle ="),
        hint: "did you mean `title`?",
    },
    Case {
        name: "missing required field",
        file: TRASPORTO,
        edits: &[("summary = \"Accompagnamento in auto a visite mediche e terapie per chi non può muoversi da solo.\"\n", "")],
        severity: Severity::Error,
        message: "missing required key `summary`",
        at: Some("+++"),
        hint: "add `summary = …`",
    },
    Case {
        name: "missing required section",
        file: TRASPORTO,
        edits: &[("## Cosa serve\n\n- documento d'identità\n\n", "")],
        severity: Severity::Error,
        message: "missing section `## Cosa serve`",
        at: Some("## Cosa si ottiene"),
        hint: "add `## Cosa serve` after `## Come fare`",
    },
    Case {
        name: "section out of order",
        file: TRASPORTO,
        edits: &[
            ("## Cosa serve\n\n- documento d'identità\n\n", ""),
            ("## Tempi e scadenze\n", "## Tempi e scadenze\n\nPrenota.\n\n## Cosa serve\n\n- documento d'identità\n\n"),
            ("\nPrenota tre giorni prima.\n", "\n"),
        ],
        severity: Severity::Error,
        message: "section `## Cosa serve` is out of order",
        at: Some("## Cosa serve"),
        hint: "move it before `## Tempi e scadenze`",
    },
    Case {
        name: "unknown section heading",
        file: TRASPORTO,
        edits: &[("## Tempi e scadenze", "## Tempi e scadeze")],
        severity: Severity::Error,
        message: "unknown section `## Tempi e scadeze`",
        at: Some("## Tempi e scadeze"),
        hint: "did you mean `## Tempi e scadenze`?",
    },
    Case {
        name: "a heading that is no section lists the sections",
        file: TRASPORTO,
        edits: &[("## Come fare", "## Orari dello sportello")],
        severity: Severity::Error,
        message: "unknown section `## Orari dello sportello`",
        at: Some("## Orari dello sportello"),
        hint: "use `###` for a sub-heading",
    },
    Case {
        name: "section written twice",
        file: TRASPORTO,
        edits: &[("## Tempi e scadenze\n", "## Tempi e scadenze\n\nUno.\n\n## Tempi e scadenze\n")],
        severity: Severity::Error,
        message: "section `## Tempi e scadenze` appears twice",
        at: Some("## Tempi e scadenze\n\nPrenota"),
        hint: "merge",
    },
    Case {
        name: "cost section required unless free",
        file: SAD,
        edits: &[("## Quanto costa\n\nIl costo dipende dall'ISEE.\n\n", "")],
        severity: Severity::Error,
        message: "missing section `## Quanto costa` (required because `cost` is not \"free\")",
        at: Some("cost ="),
        hint: "add `## Quanto costa` after `## Tempi e scadenze`",
    },
    Case {
        name: "text before the first section",
        file: TRASPORTO,
        edits: &[("+++\n\n## A chi è rivolto", "+++\nUna frase fuori posto.\n\n## A chi è rivolto")],
        severity: Severity::Error,
        message: "text before the first section",
        at: Some("Una frase fuori posto."),
        hint: "## A chi è rivolto",
    },
    Case {
        name: "unknown category",
        file: TRASPORTO,
        edits: &[("category = \"mobilita-trasporti\"", "category = \"mobilita-trasporto\"")],
        severity: Severity::Error,
        message: "unknown category `mobilita-trasporto`",
        at: Some("\"mobilita-trasporto\""),
        hint: "did you mean `mobilita-trasporti`?",
    },
    Case {
        name: "unknown topic",
        file: TRASPORTO,
        edits: &[("topics = [\"disabilita\"]", "topics = [\"disabilità\"]")],
        severity: Severity::Error,
        message: "unknown topic `disabilità`",
        at: Some("topics ="),
        hint: "did you mean `disabilita`?",
    },
    Case {
        name: "unknown audience",
        file: SAD,
        edits: &[("audiences = [\"anziani\",", "audiences = [\"giovani\",")],
        severity: Severity::Error,
        message: "unknown audience `giovani`",
        at: Some("audiences ="),
        hint: "[[audiences]]",
    },
    Case {
        name: "unknown office",
        file: TRASPORTO,
        edits: &[("office = \"servizio-sociale\"", "office = \"servizi-sociali\"")],
        severity: Severity::Error,
        message: "unknown office `servizi-sociali`",
        at: Some("office ="),
        hint: "did you mean `servizio-sociale`?",
    },
    Case {
        name: "unknown desk",
        file: TRASPORTO,
        edits: &[("desks = [\"sportello-centro\"]", "desks = [\"via-roma\"]")],
        severity: Severity::Error,
        message: "unknown desk `via-roma`",
        at: Some("desks ="),
        hint: "create `content/desks/via-roma.md`",
    },
    Case {
        name: "impossible date",
        file: TRASPORTO,
        edits: &[("updated = 2026-09-15", "updated = 2026-02-30")],
        severity: Severity::Error,
        message: "",
        at: Some("updated ="),
        hint: "2026-10-01",
    },
    Case {
        name: "date written as a string",
        file: TRASPORTO,
        edits: &[("updated = 2026-09-15", "updated = \"2026-09-15\"")],
        severity: Severity::Error,
        message: "a date is written without quotes",
        at: Some("updated ="),
        hint: "without quotes",
    },
    Case {
        name: "status_reason missing",
        file: TRASPORTO,
        edits: &[("status_reason = \"Nuove domande sospese fino a gennaio 2027.\"\n", "")],
        severity: Severity::Error,
        message: "a service that is not active needs `status_reason`",
        at: Some("status ="),
        hint: "status_reason = ",
    },
    Case {
        name: "unknown status",
        file: TRASPORTO,
        edits: &[("status = \"suspended\"", "status = \"sospeso\"")],
        severity: Severity::Error,
        message: "`sospeso` is not an allowed value",
        at: Some("status ="),
        hint: "active, suspended, closed",
    },
    Case {
        name: "non-HTTPS URL",
        file: TRASPORTO,
        edits: &[("online = \"https://servizi.example.org/trasporto\"", "online = \"http://servizi.example.org/trasporto\"")],
        severity: Severity::Error,
        message: "`http://servizi.example.org/trasporto` is not an HTTPS address",
        at: Some("online ="),
        hint: "https://servizi.example.org/trasporto",
    },
    Case {
        name: "non-HTTPS link in the text",
        file: SAD,
        edits: &[("Un operatore viene a casa", "Un [operatore](http://example.org/) viene a casa")],
        severity: Severity::Error,
        message: "link `http://example.org/` is not HTTPS",
        at: Some("[operatore]"),
        hint: "https://",
    },
    Case {
        name: "broken link by content path",
        file: SAD,
        edits: &[("(@/services/trasporto-sociale.md)", "(@/services/trasporto.md)")],
        severity: Severity::Error,
        message: "broken link `@/services/trasporto.md`",
        at: Some("[trasporto sociale]"),
        hint: "did you mean `@/services/trasporto-sociale.md`?",
    },
    Case {
        name: "broken relative link",
        file: TRASPORTO,
        edits: &[("(../assistenza-domiciliare/)", "(../assistenza-domiciliar/)")],
        severity: Severity::Error,
        message: "broken link `../assistenza-domiciliar/`",
        at: Some("[assistenza domiciliare]"),
        hint: "/servizi/assistenza-domiciliare/",
    },
    Case {
        name: "title over 80 characters",
        file: TRASPORTO,
        edits: &[("title = \"Trasporto sociale\"", "title = \"Trasporto sociale per visite mediche, terapie, esami e ogni altra necessità quotidiana\"")],
        severity: Severity::Error,
        message: "the title is 86 characters long, more than 80",
        at: Some("title ="),
        hint: "summary",
    },
    Case {
        name: "summary over 200 characters",
        file: TRASPORTO,
        edits: &[("summary = \"Accompagnamento", "summary = \"Servizio che offre accompagnamento con un mezzo attrezzato e un autista formato, andata e ritorno, a chi non può usare i mezzi pubblici per motivi di salute o di età. Accompagnamento")],
        severity: Severity::Error,
        message: "more than 200",
        at: Some("summary ="),
        hint: "one sentence",
    },
    Case {
        name: "unterminated front matter",
        file: TRASPORTO,
        edits: &[("+++\n\n## A chi", "\n\n## A chi")],
        severity: Severity::Error,
        message: "the front matter is not closed",
        at: Some("+++"),
        hint: "add a line with just `+++`",
    },
    Case {
        name: "bad TOML syntax",
        file: TRASPORTO,
        edits: &[("title = \"Trasporto sociale\"", "title = \"Trasporto sociale")],
        severity: Severity::Error,
        message: "",
        at: Some("title ="),
        hint: "TOML",
    },
    Case {
        name: "duplicate taxonomy slug",
        file: "taxonomy.toml",
        edits: &[("slug = \"disabilita\"", "slug = \"assistenza-sociale\"")],
        severity: Severity::Error,
        message: "duplicate topic slug `assistenza-sociale`",
        at: Some("slug = \"assistenza-sociale\"\nname = \"Disabilità\""),
        hint: "remove or rename one",
    },
    Case {
        name: "stale review is a warning",
        file: TRASPORTO,
        edits: &[("reviewed = 2026-09-15", "reviewed = 2025-01-10")],
        severity: Severity::Warning,
        message: "last reviewed 685 days ago, more than 12 months",
        at: Some("reviewed ="),
        hint: "set `reviewed` to today's date",
    },
    Case {
        name: "summary too long for snippets is a warning",
        file: TRASPORTO,
        edits: &[("summary = \"Accompagnamento in auto", "summary = \"Servizio comunale con autista e mezzo attrezzato, su prenotazione, per visite ed esami. Accompagnamento in auto")],
        severity: Severity::Warning,
        message: "search results cut it at 160",
        at: Some("summary ="),
        hint: "shorten",
    },
    Case {
        name: "empty contact details is a warning",
        file: "desks/sportello-centro.md",
        edits: &[("website = \"https://sportello.example.org\"\n", "")],
        severity: Severity::Warning,
        message: "no contact details",
        at: Some("+++"),
        hint: "never invent them",
    },
    Case {
        name: "invalidity over 100%",
        file: TRASPORTO,
        edits: &[("cost = \"free\"\n", "cost = \"free\"\ninvalidity_min = 110\n")],
        severity: Severity::Error,
        message: "`invalidity_min` is 110, more than 100%",
        at: Some("invalidity_min ="),
        hint: "1 to 100",
    },
    Case {
        name: "an ISEE limit of 0 euro",
        file: TRASPORTO,
        edits: &[("cost = \"free\"\n", "cost = \"free\"\nisee_max = 0\n")],
        severity: Severity::Error,
        message: "`isee_max` is 0 euro",
        at: Some("isee_max ="),
        hint: "in euro",
    },
    Case {
        name: "bad opening time",
        file: "offices/servizio-sociale.md",
        edits: &[("opens = \"09:00\"", "opens = \"9.00\"")],
        severity: Severity::Error,
        message: "`9.00` is not a time",
        at: Some("opens ="),
        hint: "HH:MM",
    },
    Case {
        name: "a topic listed twice",
        file: TRASPORTO,
        edits: &[("topics = [\"disabilita\"]", "topics = [\"disabilita\",\n  \"disabilita\"]")],
        severity: Severity::Warning,
        message: "`disabilita` is already in `topics`",
        at: Some("  \"disabilita\"]"),
        hint: "remove this one",
    },
    Case {
        name: "a desk listed twice",
        file: TRASPORTO,
        edits: &[(
            "desks = [\"sportello-centro\"]",
            "desks = [\"sportello-centro\",\n  \"sportello-centro\"]",
        )],
        severity: Severity::Warning,
        message: "`sportello-centro` is already in `desks`",
        at: Some("  \"sportello-centro\"]"),
        hint: "remove this one",
    },
];

/// A reference listed twice counts once: the page lists the topic once and
/// the open data has one record per id.
#[test]
fn a_repeated_reference_counts_once() {
    let site = Site::copy_of("valid");
    site.replace(
        TRASPORTO,
        "topics = [\"disabilita\"]",
        "topics = [\"disabilita\", \"disabilita\"]",
    );
    let (_dir, out) = common::build(&site);
    let page = common::read(&out, "servizi/trasporto-sociale/index.html");
    assert_eq!(page.matches("data-element=\"service-topic\"").count(), 1);
    let services = common::read(&out, "opendata/hsds/services.json");
    let ids: Vec<&str> = services
        .split("\"id\":\"")
        .skip(1)
        .map(|s| &s[..36])
        .collect();
    let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "an id given twice in services.json"
    );
}

fn find<'a>(diags: &'a [Diagnostic], case: &Case) -> Option<&'a Diagnostic> {
    diags.iter().find(|d| {
        d.file == case.file && d.severity == case.severity && d.message.contains(case.message)
    })
}

#[test]
fn every_rule_reports_its_message_line_and_hint() {
    let mut failures = Vec::new();
    for case in CASES {
        let site = Site::copy_of("valid");
        for (from, to) in case.edits {
            site.replace(case.file, from, to);
        }
        let text = site.read(case.file);
        let diags = site.diagnostics();
        let Some(d) = find(&diags, case) else {
            failures.push(format!(
                "{}: no {:?} in {} containing {:?}; got:\n{}",
                case.name,
                case.severity,
                case.file,
                case.message,
                diags.iter().map(|d| format!("  {d}\n")).collect::<String>()
            ));
            continue;
        };
        if let Some(at) = case.at {
            let expected = line_of(&text, at);
            let got = d.line_col().map(|(l, _)| l);
            if got != Some(expected) {
                failures.push(format!(
                    "{}: expected line {expected}, got {got:?} ({d})",
                    case.name
                ));
            }
        }
        let hint = d.hint.clone().unwrap_or_default();
        if !hint.contains(case.hint) {
            failures.push(format!(
                "{}: hint {hint:?} lacks {:?}",
                case.name, case.hint
            ));
        }
        // The rendered report names file:line:col and shows the snippet.
        let rendered = d.render(false);
        if !rendered.contains(&d.location()) {
            failures.push(format!(
                "{}: rendered report lacks {}",
                case.name,
                d.location()
            ));
        }
        // Only errors stop the build: a warning case must not have errors.
        if case.severity == Severity::Warning && diags.iter().any(Diagnostic::is_error) {
            failures.push(format!("{}: a warning case produced errors", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_valid_fixture_has_no_diagnostics() {
    let diags = Site::copy_of("valid").diagnostics();
    assert!(diags.is_empty(), "{diags:?}");
}

#[test]
fn all_errors_are_reported_at_once() {
    let site = Site::copy_of("valid");
    site.replace(TRASPORTO, "title =", "tittle =");
    site.replace(
        SAD,
        "category = \"salute-benessere-assistenza\"",
        "category = \"salute\"",
    );
    // A misspelt heading is one error, not also a missing section.
    site.replace(SAD, "## Come fare", "## Come frae");
    site.replace(
        "offices/servizio-sociale.md",
        "closes = \"12:00\"",
        "closes = \"08:00\"",
    );
    let diags = site.diagnostics();
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    let messages: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
    assert_eq!(errors.len(), 4, "{messages:#?}");
}

#[test]
fn invalid_utf8_names_file_and_line() {
    let site = Site::copy_of("valid");
    let text = site.read(TRASPORTO);
    let line = line_of(&text, "Persone ");
    let mut bytes = text.into_bytes();
    let at = bytes.windows(8).position(|w| w == b"Persone ").unwrap();
    bytes[at + 1] = 0xff;
    std::fs::write(site.path(TRASPORTO), bytes).unwrap();
    let diags = site.diagnostics();
    let d = diags
        .iter()
        .find(|d| d.message.contains("not valid UTF-8"))
        .expect("a UTF-8 error");
    assert_eq!(d.location(), format!("{TRASPORTO}:{line}:2"), "{d}");
    assert!(d.hint.as_deref().unwrap_or_default().contains("UTF-8"));
}

#[test]
fn a_file_name_that_is_not_a_slug_is_an_error() {
    let site = Site::copy_of("valid");
    let text = site.read(TRASPORTO);
    site.write("services/Trasporto Sociale.md", &text);
    let diags = site.diagnostics();
    let d = diags
        .iter()
        .find(|d| d.file == "services/Trasporto Sociale.md")
        .expect("an error for the file name");
    assert!(
        d.hint.as_deref().unwrap().contains("trasporto-sociale.md"),
        "{d}"
    );
}

#[test]
fn a_page_cannot_take_a_section_address() {
    let site = Site::copy_of("valid");
    site.write(
        "pages/servizi.md",
        "+++\ntitle = \"Servizi\"\n+++\nTesto.\n",
    );
    let diags = site.diagnostics();
    assert!(
        diags
            .iter()
            .any(|d| d.file == "pages/servizi.md" && d.message.contains("same address")),
        "{diags:?}"
    );
}

#[test]
fn yaml_front_matter_gets_a_hint() {
    let site = Site::copy_of("valid");
    site.write("pages/privacy.md", "---\ntitle: Privacy\n---\nTesto.\n");
    let diags = site.diagnostics();
    let d = diags.iter().find(|d| d.file == "pages/privacy.md").unwrap();
    assert_eq!(d.line_col(), Some((1, 1)));
    assert!(d.hint.as_deref().unwrap().contains("`+++`"));
}

#[test]
fn malformed_files_are_errors_never_panics() {
    let cases: &[&[u8]] = &[
        b"",
        b"+++",
        b"+++\n",
        b"+++\n+++\n",
        b"+++\r\ntitle = \"x\"\r\n+++\r\n## A chi \xc3\xa8 rivolto\r\n",
        b"+++\ntitle = \n+++\n",
        b"+++\n[access]\ndesks = \"sportello-centro\"\n+++\n",
        b"+++\ntitle = \"a\"\nsummary = \"b\"\ncategory = 3\n+++\n",
        b"+++\ntitle = \"\xff\xfe\"\n+++\n",
        b"\xef\xbb\xbf+++\ntitle = \"BOM\"\n+++\n## \n\n## ##\n",
        b"+++\nupdated = 2026-10-01T10:00:00Z\n+++\n",
        b"+++\nage_min = -4\n+++\n",
        b"+++\n+++\n[link](@/)\n[x](@/services/.md)\n[y](../../../../)\n<script>alert(1)</script>\n",
    ];
    for (i, bytes) in cases.iter().enumerate() {
        let site = Site::copy_of("valid");
        std::fs::write(site.path(TRASPORTO), bytes).unwrap();
        let diags = site.diagnostics();
        assert!(
            diags
                .iter()
                .any(|d| d.is_error() && d.file.starts_with(TRASPORTO)),
            "case {i}: expected an error in {TRASPORTO}, got {diags:?}"
        );
        for d in &diags {
            let _ = d.render(false);
        }
    }
}
