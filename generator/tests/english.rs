//! The English edition: translations beside the Italian entries, built
//! under /en/ with a language switch and `hreflang` pairs.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use common::{build, read, Site};

const SAD_EN: &str = r#"+++
title = "Home care (SAD)"
summary = "Help at home with personal care and housework, for older and disabled people."
keywords = ["carer", "help at home"]
+++

## Who it is for

Older or disabled people who live at home and need help.

## How to apply

1. Ask for an interview at the desk.
2. The social worker assesses the need.

## What you need

- an identity document
- an ISEE certificate

## What you get

A care worker comes to your home. See also [social transport](@/services/trasporto-sociale.md)
and the [desk](@/desks/sportello-centro.md).

## Times and deadlines

The answer comes within 30 days.

## What it costs

The cost depends on the ISEE.

## More information

Read the [privacy notice](@/pages/privacy.md) and go back to the [services](../).
"#;

/// The valid fixture with a few English versions.
fn english_site() -> Site {
    let site = Site::copy_of("valid");
    site.write("services/assistenza-domiciliare.en.md", SAD_EN);
    site.write(
        "desks/sportello-centro.en.md",
        "+++\n+++\nBring an identity document.\n",
    );
    site.write(
        "_index.en.md",
        "+++\ntitle = \"A test guide to social services\"\n+++\nA small guide for tests.\n",
    );
    site.write(
        "taxonomy.en.toml",
        "[[categories]]\nslug = \"salute-benessere-assistenza\"\nname = \"Health, wellbeing and care\"\n",
    );
    site
}

fn errors_of(site: &Site) -> String {
    let mut diags = sportello_guide::diagnostics::Diagnostics::default();
    sportello_guide::load_site(&site.options(), &mut diags);
    assert!(diags.has_errors(), "expected errors");
    diags.render(false)
}

#[test]
fn english_pages_exist_with_english_labels_and_inherited_data() {
    let site = english_site();
    let (_tmp, out) = build(&site);
    let sad = read(&out, "en/services/assistenza-domiciliare/index.html");
    assert!(sad.contains("<html lang=\"en\">"), "{sad}");
    assert!(sad.contains("Home care (SAD)"));
    assert!(sad.contains("Who it is for") && sad.contains("What it costs"));
    assert!(!sad.contains("A chi è rivolto"));
    // Inherited: the provider and the category (in English) of the Italian entry.
    assert!(sad.contains("Cooperativa Esempio"));
    assert!(sad.contains("Health, wellbeing and care"));
    assert!(sad.contains("1 October 2026"), "English date");
    // The theme's files are the site's, not the edition's.
    assert!(sad.contains("href=\"/style.css\"") && sad.contains("src=\"/sportello.js\""));
    assert!(!out.join("en/style.css").exists());
    assert!(
        sad.contains("data-module=\"/search.js\""),
        "one search module, one index"
    );
    // Links: to the English desk, and to the Italian service without translation.
    assert!(sad.contains("href=\"/en/desks/sportello-centro/\""));
    assert!(sad.contains("href=\"/servizi/trasporto-sociale/\""));
    for rel in [
        "en/index.html",
        "en/services/index.html",
        "en/desks/index.html",
        "en/desks/sportello-centro/index.html",
        "en/offices/index.html",
        "en/topics/index.html",
        "en/categories/salute-benessere-assistenza/index.html",
        "en/search/index.html",
        "en/404.html",
    ] {
        let html = read(&out, rel);
        assert!(html.contains("<html lang=\"en\">"), "{rel}");
    }
    // Only translated entries have pages under /en/.
    assert!(!out
        .join("en/services/trasporto-sociale/index.html")
        .exists());
    assert!(!out.join("en/offices/servizio-sociale/index.html").exists());
    // The English list shows the untranslated entry in Italian, marked so.
    let list = read(&out, "en/services/index.html");
    assert!(list.contains("<li class=\"card\" lang=\"it\">"), "{list}");
    assert!(list.contains("href=\"/servizi/trasporto-sociale/\" hreflang=\"it\""));
    assert!(list.contains("href=\"/en/services/assistenza-domiciliare/\" data-element"));
    // Italian pages are unchanged apart from the switch.
    let it = read(&out, "servizi/assistenza-domiciliare/index.html");
    assert!(it.contains("<html lang=\"it\">") && it.contains("A chi è rivolto"));
}

/// Every `hreflang` link of every page names a page that links back.
#[test]
fn hreflang_pairs_resolve_both_ways() {
    let site = english_site();
    let (_tmp, out) = build(&site);
    let origin = "https://guida.example.org/";
    let mut pages = Vec::new();
    collect(&out, &out, &mut pages);
    let mut pairs = BTreeSet::new();
    for rel in &pages {
        let html = read(&out, rel);
        let own = format!("{origin}{}", rel.trim_end_matches("index.html"));
        let links: Vec<(String, String)> = html
            .split("<link rel=\"alternate\" hreflang=\"")
            .skip(1)
            .map(|s| {
                let (code, rest) = s.split_once("\" href=\"").unwrap();
                let href = rest.split_once('"').unwrap().0;
                (code.to_string(), href.to_string())
            })
            .collect();
        if links.is_empty() {
            continue;
        }
        assert!(links.iter().any(|(_, h)| *h == own), "{rel} lists itself");
        for (code, href) in &links {
            let target = href.strip_prefix(origin).unwrap();
            let file = out.join(format!("{target}index.html"));
            let back = fs::read_to_string(&file).unwrap_or_else(|_| panic!("{rel}: {href}"));
            assert!(back.contains(&format!("hreflang=\"{code}\" href=\"{href}\"")));
            assert!(
                back.contains(&format!("href=\"{own}\"")),
                "{href} links back to {own}"
            );
            if code != "x-default" {
                pairs.insert(target.to_string());
            }
        }
        // The switch names the other language.
        assert!(html.contains("class=\"lang-switch\""), "{rel}");
    }
    assert!(pairs.contains("servizi/assistenza-domiciliare/"));
    assert!(pairs.contains("en/services/assistenza-domiciliare/"));
    assert!(pairs.contains("en/"));
    // No pair for an entry without translation; its switch goes to /en/.
    let it = read(&out, "servizi/trasporto-sociale/index.html");
    assert!(!it.contains("hreflang=\"en\" href="));
    assert!(
        it.contains("<a href=\"/en/\" lang=\"en\" hreflang=\"en\">English</a>"),
        "{it}"
    );
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(root, &p, out);
        } else if p.file_name().is_some_and(|n| n == "index.html") {
            out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
}

#[test]
fn language_independent_keys_and_orphans_are_errors() {
    let site = english_site();
    site.write(
        "services/assistenza-domiciliare.en.md",
        &SAD_EN.replacen("keywords", "category = \"x\"\nkeywords", 1),
    );
    site.write(
        "services/non-esiste.en.md",
        "+++\ntitle = \"A\"\nsummary = \"B\"\n+++\n",
    );
    site.write(
        "desks/sportello-centro.en.md",
        "+++\nphone = \"1\"\n+++\nText.\n",
    );
    let text = errors_of(&site);
    assert!(
        text.contains("services/assistenza-domiciliare.en.md:4:1"),
        "{text}"
    );
    assert!(
        text.contains("`category` comes from services/assistenza-domiciliare.md; remove it here"),
        "{text}"
    );
    assert!(
        text.contains("`phone` comes from desks/sportello-centro.md"),
        "{text}"
    );
    assert!(
        text.contains("no Italian entry services/non-esiste.md"),
        "{text}"
    );
}

#[test]
fn english_sections_must_match_the_italian_ones() {
    let site = english_site();
    site.write(
        "services/assistenza-domiciliare.en.md",
        &SAD_EN.replace("## What it costs", "## What it cots"),
    );
    site.write(
        "taxonomy.en.toml",
        "[[topics]]\nslug = \"no-such-topic\"\nname = \"X\"\n",
    );
    let text = errors_of(&site);
    assert!(text.contains("unknown section `## What it cots`"), "{text}");
    assert!(text.contains("did you mean `## What it costs`?"), "{text}");
    assert!(
        text.contains("`no-such-topic` is not in `[[topics]]`"),
        "{text}"
    );
}

#[test]
fn no_translation_means_no_english_edition() {
    let site = Site::copy_of("valid");
    let (_tmp, out) = build(&site);
    assert!(!out.join("en").exists());
    assert!(!read(&out, "index.html").contains("hreflang"));
}

#[test]
fn english_language_file_has_every_italian_key() {
    let theme = common::theme().join("i18n");
    let keys = |name: &str| -> BTreeSet<String> {
        let t: toml::Table = fs::read_to_string(theme.join(name))
            .unwrap()
            .parse()
            .unwrap();
        t.iter()
            .flat_map(|(k, v)| match v.as_table() {
                Some(sub) => sub.keys().map(|s| format!("{k}.{s}")).collect::<Vec<_>>(),
                None => vec![k.clone()],
            })
            .collect()
    };
    assert_eq!(keys("it.toml"), keys("en.toml"));
}

#[test]
fn the_sitemap_lists_english_pages_with_their_pairs() {
    let site = english_site();
    let (_tmp, out) = build(&site);
    let map = read(&out, "sitemap.xml");
    let en = "https://guida.example.org/en/services/assistenza-domiciliare/";
    let it = "https://guida.example.org/servizi/assistenza-domiciliare/";
    assert!(map.contains(&format!("<loc>{en}</loc>")), "{map}");
    assert!(map.contains(&format!(
        "<xhtml:link rel=\"alternate\" hreflang=\"it\" href=\"{it}\"/><xhtml:link rel=\"alternate\" hreflang=\"en\" href=\"{en}\"/>"
    )));
    // Once each: the English list's Italian entries are not listed again.
    assert_eq!(
        map.matches("<loc>https://guida.example.org/servizi/trasporto-sociale/</loc>")
            .count(),
        1
    );
    assert!(!map.contains("/en/services/trasporto-sociale/"));
}

#[test]
fn english_errors_come_with_the_italian_ones_at_once() {
    let site = english_site();
    site.write(
        "desks/sportello-centro.en.md",
        "+++\naddress = \"Piazza\"\n+++\nText.\n",
    );
    site.replace(
        "services/trasporto-sociale.md",
        "status = \"suspended\"",
        "status = \"sospeso\"",
    );
    let text = errors_of(&site);
    assert!(
        text.contains("`address` comes from desks/sportello-centro.md"),
        "{text}"
    );
    assert!(text.contains("services/trasporto-sociale.md:7:"), "{text}");
}

#[test]
fn the_english_edition_has_its_own_index_of_its_english_text() {
    let site = english_site();
    let (_tmp, out) = build(&site);
    let meta: serde_json::Value =
        serde_json::from_str(&read(&out, "search/en/meta.json")).expect("JSON");
    assert_eq!(meta["language"], "en");
    assert!(meta["stopwords"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w == "the"));
    let italian: serde_json::Value =
        serde_json::from_str(&read(&out, "search/meta.json")).expect("JSON");
    assert!(
        italian.get("language").is_none(),
        "the Italian index is unchanged"
    );
    // The English results: English titles, English addresses.
    let mut fragments = String::new();
    for e in fs::read_dir(out.join("search/en/r")).unwrap() {
        fragments.push_str(&fs::read_to_string(e.unwrap().path()).unwrap());
    }
    assert!(fragments.contains("Home care (SAD)"), "{fragments}");
    assert!(fragments.contains("/en/services/assistenza-domiciliare/"));
    // Every English page's boxes name it; no Italian page does.
    let en = read(&out, "en/services/assistenza-domiciliare/index.html");
    assert!(en.contains("data-index=\"/search/en/\""), "{en}");
    let it = read(&out, "servizi/assistenza-domiciliare/index.html");
    assert!(!it.contains("data-index"));
}

#[test]
fn placeholder_text_in_the_translation_of_a_published_entry_is_an_error() {
    let site = english_site();
    let rel = "services/assistenza-domiciliare.en.md";
    site.replace(
        rel,
        "The answer comes within 30 days.",
        "Indica i tempi di risposta e le scadenze…",
    );
    let err = errors_of(&site);
    let line = site
        .read(rel)
        .lines()
        .position(|l| l.contains("Indica i tempi"))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!(
            "error: {rel}:{line}:1: placeholder text from `sportello new` is still here"
        )),
        "{err}"
    );
    // A draft's translation may keep it, as the draft itself may.
    site.replace(
        "services/assistenza-domiciliare.md",
        "+++\n",
        "+++\ndraft = true\n",
    );
    let mut diags = sportello_guide::diagnostics::Diagnostics::default();
    let mut opts = site.options();
    opts.drafts = true;
    sportello_guide::load_site(&opts, &mut diags);
    assert!(
        !diags.render(false).contains("placeholder"),
        "{}",
        diags.render(false)
    );
}
