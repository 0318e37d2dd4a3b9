//! Building the valid fixture: what is written, what each page says, and
//! snapshots of one page of every template.

mod common;

use std::process::Command;

use common::{build, read, theme, Site};

#[test]
fn builds_every_page_and_machine_file() {
    let site = Site::copy_of("valid");
    let (_tmp, out) = build(&site);
    for rel in [
        "index.html",
        "404.html",
        "servizi/index.html",
        "servizi/assistenza-domiciliare/index.html",
        "servizi/trasporto-sociale/index.html",
        "categorie/salute-benessere-assistenza/index.html",
        "argomenti/index.html",
        "argomenti/disabilita/index.html",
        "destinatari/anziani/index.html",
        "uffici/servizio-sociale/index.html",
        "sportelli/sportello-centro/index.html",
        "privacy/index.html",
        "cerca/index.html",
        "sitemap.xml",
        "robots.txt",
        "feed.xml",
        "services.json",
        "style.css",
        "sportello.js",
        "favicon.svg",
    ] {
        assert!(out.join(rel).is_file(), "{rel} missing");
    }
}

#[test]
fn service_page_follows_the_designers_italia_order() {
    let site = Site::copy_of("valid");
    let (_tmp, out) = build(&site);
    let html = read(&out, "servizi/assistenza-domiciliare/index.html");
    let order = [
        "data-element=\"breadcrumb\"",
        "data-element=\"service-title\"",
        "data-element=\"service-description\"",
        "data-element=\"service-status\"",
        "data-element=\"page-index\"",
        "data-element=\"service-addressed\"",
        "data-element=\"service-how-to\"",
        "data-element=\"service-needed\"",
        "data-element=\"service-achieved\"",
        "data-element=\"service-calendar-text\"",
        "id=\"cost\"",
        "data-element=\"service-generic-access\"",
        "id=\"more\"",
        "data-element=\"service-file\"",
        "data-element=\"service-area\"",
        "data-element=\"service-topic\"",
    ];
    let mut last = 0;
    for needle in order {
        let at = html[last..]
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} missing or out of order"));
        last += at;
    }
    assert!(
        html.contains("Pagina aggiornata il <time datetime=\"2026-10-01\">1 ottobre 2026</time>")
    );
    // Links written as content paths become addresses.
    assert!(html.contains("href=\"/servizi/trasporto-sociale/\""));
    assert!(html.contains("href=\"/privacy/\""));
    // The table in the Markdown is rendered.
    assert!(html.contains("<table>"));
    // The desk where to ask, and the office's contacts.
    assert!(html.contains("href=\"/sportelli/sportello-centro/\""));
    assert!(html.contains("Servizio sociale del Comune"));
    // The print button exists, secondary, shown by CSS once sportello.js marks <html class="js">.
    assert!(html.contains("class=\"print-button button-secondary\" data-print>"));
}

#[test]
fn a_suspended_service_shows_its_banner_and_reason() {
    let site = Site::copy_of("valid");
    let (_tmp, out) = build(&site);
    let html = read(&out, "servizi/trasporto-sociale/index.html");
    assert!(html.contains("class=\"status-banner\""));
    assert!(html.contains("Servizio sospeso"));
    assert!(html.contains("Nuove domande sospese fino a gennaio 2027."));
    assert!(html.contains("data-element=\"service-online-access\""));
    let active = read(&out, "servizi/assistenza-domiciliare/index.html");
    assert!(!active.contains("status-banner"));
}

#[test]
fn json_ld_is_a_government_service() {
    let site = Site::copy_of("valid");
    let (_tmp, out) = build(&site);
    let html = read(&out, "servizi/trasporto-sociale/index.html");
    let tag = "<script type=\"application/ld+json\" data-element=\"metatag\">";
    let start = html.find(tag).unwrap() + tag.len();
    let end = start + html[start..].find("</script>").unwrap();
    let v: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
    assert_eq!(v["@type"], "GovernmentService");
    assert_eq!(v["name"], "Trasporto sociale");
    assert_eq!(
        v["url"],
        "https://guida.example.org/servizi/trasporto-sociale/"
    );
    assert_eq!(v["serviceOperator"]["name"], "Comune di Esempio");
    assert_eq!(
        v["availableChannel"]["serviceUrl"],
        "https://servizi.example.org/trasporto"
    );
}

#[test]
fn the_footer_links_the_accessibility_statement_on_agid_form_site() {
    // Designers Italia C.SI.3.2: the statement published with AgID's form.
    let site = Site::copy_of("valid");
    let form = "https://form.agid.gov.it/view/00000000-0000-0000-0000-000000000000";
    site.replace(
        "site.toml",
        "inbox_url = \"\"",
        &format!("inbox_url = \"\"\naccessibility_form = \"{form}\""),
    );
    let (_tmp, out) = build(&site);
    let home = read(&out, "index.html");
    assert!(
        home.contains(&format!(
            "<a href=\"{form}\" data-element=\"accessibility-link\">Dichiarazione di accessibilità</a>"
        )),
        "{home}"
    );

    // Any other address is an error at its line, with a hint.
    site.replace("site.toml", form, "https://www.example.org/accessibilita");
    let diags = site.diagnostics();
    let d = diags
        .iter()
        .find(|d| d.file == "site.toml" && d.is_error())
        .unwrap_or_else(|| panic!("no error in site.toml: {diags:?}"));
    assert!(
        d.message
            .contains("not an accessibility statement on AgID's form site"),
        "{d}"
    );
    assert_eq!(d.line_col().map(|(l, _)| l), Some(6), "{d}");
    assert!(
        d.hint
            .as_deref()
            .unwrap_or("")
            .contains("https://form.agid.gov.it/view/"),
        "{d}"
    );
}

#[test]
fn condizioni_di_servizio_is_a_section_of_the_entry_checked_like_the_others() {
    // Designers Italia C.SI.1.3: the entry's own conditions, in `service-file`.
    let site = Site::copy_of("valid");
    let tail = "Prenota tre giorni prima.\n";
    site.replace(
        "services/trasporto-sociale.md",
        tail,
        &format!(
            "{tail}\n## Condizioni di servizio\n\nIl [regolamento](https://www.example.org/regolamento.pdf) del servizio.\n"
        ),
    );
    let (_tmp, out) = build(&site);
    let html = read(&out, "servizi/trasporto-sociale/index.html");
    let file = html
        .split("data-element=\"service-file\"")
        .nth(1)
        .expect("no service-file");
    let file = &file[..file.find("</section>").unwrap()];
    assert!(
        file.contains("<a href=\"https://www.example.org/regolamento.pdf\">regolamento</a>"),
        "{file}"
    );
    // without the section the sheet points to its own sections
    let other = read(&out, "servizi/assistenza-domiciliare/index.html");
    assert!(other
        .contains("Le condizioni per ottenere il servizio sono quelle descritte in questa scheda"));

    // Like the other sections: in its place (the last), its links checked.
    site.replace(
        "services/trasporto-sociale.md",
        "## Tempi e scadenze",
        "## Condizioni di servizio\n\nVedi [qui](http://www.example.org/).\n\n## Tempi e scadenze",
    );
    let errs: Vec<String> = site
        .diagnostics()
        .iter()
        .filter(|d| d.file == "services/trasporto-sociale.md" && d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert!(errs.iter().any(|m| m.contains("out of order")), "{errs:?}");
    assert!(
        errs.iter().any(|m| m.contains("http://www.example.org/")),
        "{errs:?}"
    );
}

#[test]
fn machine_files() {
    let site = Site::copy_of("valid");
    let (_tmp, out) = build(&site);
    let services: serde_json::Value = serde_json::from_str(&read(&out, "services.json")).unwrap();
    let list = services.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["slug"], "assistenza-domiciliare");
    assert_eq!(list[0]["category"], "salute-benessere-assistenza");
    assert_eq!(
        list[0]["url"],
        "https://guida.example.org/servizi/assistenza-domiciliare/"
    );

    let feed = read(&out, "feed.xml");
    let first = feed.find("<entry>").unwrap();
    // Newest change first: assistenza-domiciliare (2026-10-01) before trasporto (2026-09-15).
    assert!(
        feed[first..].find("Assistenza domiciliare").unwrap()
            < feed[first..].find("Trasporto sociale").unwrap()
    );
    assert!(feed.contains("<updated>2026-10-01T00:00:00Z</updated>"));

    let sitemap = read(&out, "sitemap.xml");
    assert!(sitemap.contains("<loc>https://guida.example.org/servizi/trasporto-sociale/</loc><lastmod>2026-09-15</lastmod>"));
    assert!(!sitemap.contains("404"));
    assert!(read(&out, "robots.txt").contains("Sitemap: https://guida.example.org/sitemap.xml"));
}

#[test]
fn base_url_with_a_path_prefixes_every_link() {
    let site = Site::copy_of("valid");
    let mut opts = site.options();
    opts.base_url = Some("https://example.org/guida/".into());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("public");
    sportello_guide::build(&opts, &out).unwrap();
    let html = read(&out, "servizi/assistenza-domiciliare/index.html");
    assert!(html.contains("href=\"/guida/style.css\""));
    assert!(html.contains("href=\"/guida/servizi/trasporto-sociale/\""));
    assert!(!html.contains("href=\"/servizi/"));
}

#[test]
fn a_build_with_errors_leaves_the_previous_site_untouched() {
    let site = Site::copy_of("valid");
    let (_tmp, out) = build(&site);
    let before = read(&out, "servizi/trasporto-sociale/index.html");
    site.replace("services/trasporto-sociale.md", "title =", "tittle =");
    let report = sportello_guide::build(&site.options(), &out).unwrap();
    assert!(report.diagnostics.has_errors());
    assert_eq!(report.files, 0);
    assert_eq!(read(&out, "servizi/trasporto-sociale/index.html"), before);
}

#[test]
fn builds_are_reproducible() {
    let site = Site::copy_of("valid");
    let (_a, out_a) = build(&site);
    let (_b, out_b) = build(&site);
    for rel in [
        "index.html",
        "servizi/assistenza-domiciliare/index.html",
        "feed.xml",
        "sitemap.xml",
    ] {
        assert_eq!(read(&out_a, rel), read(&out_b, rel), "{rel}");
    }
}

/// One page of every template, as HTML snapshots: a change to the theme or
/// the renderer shows up as a reviewable diff.
#[test]
fn snapshots_of_every_template() {
    let site = Site::copy_of("valid");
    let (_tmp, out) = build(&site);
    for (name, rel) in [
        ("home", "index.html"),
        ("service", "servizi/assistenza-domiciliare/index.html"),
        ("service_suspended", "servizi/trasporto-sociale/index.html"),
        (
            "category",
            "categorie/salute-benessere-assistenza/index.html",
        ),
        ("topics", "argomenti/index.html"),
        ("a_z", "servizi/index.html"),
        ("office", "uffici/servizio-sociale/index.html"),
        ("desk", "sportelli/sportello-centro/index.html"),
        ("page", "privacy/index.html"),
        ("search", "cerca/index.html"),
        ("not_found", "404.html"),
    ] {
        insta::assert_snapshot!(name, read(&out, rel));
    }
}

fn sportello() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sportello"))
}

#[test]
fn cli_check_reports_file_line_and_hint_and_exits_1() {
    let site = Site::copy_of("valid");
    site.replace("services/trasporto-sociale.md", "title =", "tittle =");
    let out = sportello()
        .args(["check", "--content"])
        .arg(site.content())
        .arg("--theme")
        .arg(theme())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: services/trasporto-sociale.md:2:1: unknown key `tittle`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `title`?"), "{stderr}");
    assert!(stderr.contains("1 error, 0 warnings"), "{stderr}");
}

#[test]
fn check_warns_when_fewer_than_half_the_topics_are_in_the_model_vocabulary() {
    // The fixture has one of its two topics in the vocabulary: no warning.
    // Without it, none of two: the warning names the share and how to fix it.
    let site = Site::copy_of("valid");
    site.replace("taxonomy.toml", "vocabulary = \"Assistenza sociale\"\n", "");
    let out = sportello()
        .args(["check", "--content"])
        .arg(site.content())
        .arg("--theme")
        .arg(theme())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "warning: taxonomy.toml: only 0 of 2 topics carry a Modello Comuni vocabulary term"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("vocabulary = "), "{stderr}");
}

#[test]
fn cli_build_writes_the_site() {
    let site = Site::copy_of("valid");
    let tmp = tempfile::tempdir().unwrap();
    let output = tmp.path().join("site");
    let build = |extra: &[&str]| {
        let out = sportello()
            .arg("build")
            .arg("--content")
            .arg(site.content())
            .arg("--theme")
            .arg(theme())
            .arg("--output")
            .arg(&output)
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        stderr
    };
    let stderr = build(&[]);
    assert!(stderr.contains("built 2 services"), "{stderr}");
    assert!(output
        .join("servizi/trasporto-sociale/index.html")
        .is_file());
    assert!(output.join("search/meta.json").is_file());

    // The benchmark's baseline: the same pages, no search index.
    build(&["--no-search-index"]);
    assert!(output
        .join("servizi/trasporto-sociale/index.html")
        .is_file());
    assert!(!output.join("search").exists());
}

#[test]
fn cli_new_service_scaffolds_an_entry_that_passes_check() {
    let site = Site::copy_of("valid");
    let run = |args: &[&str]| {
        sportello()
            .args(args)
            .arg("--content")
            .arg(site.content())
            .arg("--theme")
            .arg(theme())
            .output()
            .unwrap()
    };
    let out = run(&["new", "service", "pasti-a-domicilio"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = site.read("services/pasti-a-domicilio.md");
    for heading in [
        "## A chi è rivolto",
        "## Come fare",
        "## Cosa serve",
        "## Cosa si ottiene",
        "## Tempi e scadenze",
    ] {
        assert!(text.contains(heading), "{heading}");
    }
    let check = run(&["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Never overwrites.
    let again = run(&["new", "service", "pasti-a-domicilio"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    // Refuses a bad slug with a suggestion.
    let bad = run(&["new", "service", "Pasti a domicilio"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("pasti-a-domicilio"));
}

#[test]
fn the_example_guide_builds_without_errors() {
    let opts = sportello_guide::Options::new(common::repo_root().join("content"), theme());
    let mut diags = sportello_guide::diagnostics::Diagnostics::default();
    let site = sportello_guide::load_site(&opts, &mut diags).expect("site");
    assert!(!diags.has_errors(), "{}", diags.render(false));
    assert!(
        site.services.len() >= 30,
        "{} services",
        site.services.len()
    );
}

#[test]
fn the_sitemap_feed_and_robots_are_theme_templates_a_theme_may_override() {
    let site = Site::copy_of("valid");
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("theme");
    common::copy_dir(&theme(), &own);
    // A theme of its own: robots.txt changed, the feed and the sitemap left
    // out (made before they were templates): those are the default theme's.
    std::fs::write(
        own.join("templates/robots.txt"),
        "User-agent: *\nDisallow: /bozze/\n\nSitemap: {{ sitemap }}\n",
    )
    .unwrap();
    std::fs::remove_file(own.join("templates/feed.xml")).unwrap();
    std::fs::remove_file(own.join("templates/sitemap.xml")).unwrap();
    let mut opts = site.options();
    opts.theme = own;
    let out = dir.path().join("public");
    let report = sportello_guide::build(&opts, &out).unwrap();
    assert!(!report.diagnostics.has_errors());
    assert_eq!(
        read(&out, "robots.txt"),
        "User-agent: *\nDisallow: /bozze/\n\nSitemap: https://guida.example.org/sitemap.xml\n"
    );
    let (_tmp, default) = build(&site);
    assert_eq!(read(&out, "feed.xml"), read(&default, "feed.xml"));
    assert_eq!(read(&out, "sitemap.xml"), read(&default, "sitemap.xml"));
    // Escaped as XML, and a well-formed start.
    let feed = read(&default, "feed.xml");
    assert!(feed.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed "));
    assert!(!feed.contains("{#"));
}

#[test]
fn the_search_client_comes_from_the_search_crate_unless_the_theme_has_its_own() {
    let site = Site::copy_of("valid");
    let (_tmp, default) = build(&site);
    assert_eq!(read(&default, "search.js"), sportello_search::CLIENT_JS);
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("theme");
    common::copy_dir(&theme(), &own);
    let theirs = "export class SearchEngine {}\n";
    std::fs::write(own.join("static/search.js"), theirs).unwrap();
    let mut opts = site.options();
    opts.theme = own;
    let out = dir.path().join("public");
    let report = sportello_guide::build(&opts, &out).unwrap();
    assert!(!report.diagnostics.has_errors());
    assert_eq!(read(&out, "search.js"), theirs);
}
