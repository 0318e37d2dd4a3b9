//! The search index of the example guide: files, updates and edits equal
//! a full build; the lexicon's files and their targets.

use std::collections::BTreeMap;

use sportello_search::{shard, Delta, OutputFile, GROUP};

use super::*;

fn example_site() -> Site {
    crate::example_guide().1
}

fn file<'a>(files: &'a [OutputFile], name: &str) -> &'a [u8] {
    &files.iter().find(|f| f.0 == name).expect(name).1
}

#[test]
fn files_are_deterministic_and_complete() {
    let site = example_site();
    let a = build(&site).files();
    let b = build(&site).files();
    assert_eq!(a, b);
    let meta: serde_json::Value = serde_json::from_slice(file(&a, "search/meta.json")).unwrap();
    assert_eq!(meta["docs"], site.services.len());
    assert!(a.iter().any(|f| f.0 == "search/t/_.bin"));
    let fragments = a.iter().filter(|f| f.0.starts_with("search/r/")).count();
    assert_eq!(fragments, site.services.len().div_ceil(GROUP));
    // every shard decodes, and its terms are sorted and in its range
    let bounds: Vec<String> = serde_json::from_value(meta["shards"].clone()).unwrap();
    let mut seen = 0;
    for (i, first) in std::iter::once(String::new())
        .chain(bounds.clone())
        .enumerate()
    {
        let name = format!("search/t/{}.bin", shard::file_name(&first));
        let entries = shard::decode_shard(file(&a, &name)).expect(&name);
        assert!(entries.windows(2).all(|w| w[0].term < w[1].term));
        assert!(entries[0].term >= first);
        if let Some(next) = bounds.get(i) {
            assert!(entries.last().unwrap().term < *next);
        }
        for e in &entries {
            let postings = if e.inline.is_empty() {
                let p = format!("search/p/{}.bin", shard::file_name(&e.term));
                shard::decode_postings(file(&a, &p)).unwrap()
            } else {
                shard::decode_postings(&e.inline).unwrap()
            };
            assert_eq!(postings.len() as u32, e.df, "{}", e.term);
        }
        seen += entries.len();
    }
    assert!(seen > 500, "{seen} terms");

    // The ending shards hold every term once, backwards, in order and
    // each in its shard's range.
    let ends: Vec<String> = serde_json::from_value(meta["ends"].clone()).unwrap();
    let mut keys = Vec::new();
    for (i, first) in std::iter::once(String::new())
        .chain(ends.clone())
        .enumerate()
    {
        let name = format!("search/e/{}.bin", shard::file_name(&first));
        let shard_keys = shard::decode_ending_shard(file(&a, &name)).expect(&name);
        assert!(shard_keys[0] >= first);
        if let Some(next) = ends.get(i) {
            assert!(shard_keys.last().unwrap() < next);
        }
        keys.extend(shard_keys);
    }
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(keys.len(), seen);
    assert!(keys.contains(&shard::reversed("telesoccors")));
    let end_files = a.iter().filter(|f| f.0.starts_with("search/e/")).count();
    assert_eq!(end_files, ends.len() + 1);
}

#[test]
fn update_equals_a_full_build() {
    let site = example_site();
    let mut idx = build(&site);

    // nothing changed: nothing re-tokenised
    assert_eq!(idx.update(&collection(&site), &[] as &[&str]), 0);
    assert_eq!(idx.files(), build(&site).files());

    // an edit
    let mut edited = site.clone();
    let i = edited
        .services
        .iter()
        .position(|s| s.slug == "isee")
        .unwrap();
    edited.services[i].title = "ISEE: come ottenerlo al CAF".into();
    edited.services[i].sections[0]
        .html
        .push_str("<p>Nuova frase sulla dichiarazione.</p>\n");
    assert_eq!(idx.update(&collection(&edited), &["isee"]), 1);
    assert_eq!(idx.files(), build(&edited).files());

    // an edit the caller did not report is found by its fingerprint
    let mut silent = edited.clone();
    silent.services[0].summary.push_str(" Telesoccorso.");
    assert_eq!(idx.update(&collection(&silent), &[] as &[&str]), 1);
    assert_eq!(idx.files(), build(&silent).files());

    // a removal and an addition (ids shift)
    let mut moved = silent.clone();
    let mut added = moved.services[3].clone();
    moved.services.remove(5);
    added.slug = "aaa-nuovo-servizio".into();
    added.title = "Nuovo servizio di prova".into();
    moved.services.insert(0, added);
    assert_eq!(idx.update(&collection(&moved), &["aaa-nuovo-servizio"]), 1);
    assert_eq!(idx.files(), build(&moved).files());

    // a renamed category re-tokenises its services
    let mut renamed = moved.clone();
    renamed.categories[0].name = "Salute e assistenza".into();
    let n = idx.update(&collection(&renamed), &[] as &[&str]);
    assert!(n > 0 && n < renamed.services.len(), "{n}");
    assert_eq!(idx.files(), build(&renamed).files());

    // new synonyms: everything
    let mut syn = renamed.clone();
    syn.synonyms.push(vec!["ISEE".into(), "indicatore".into()]);
    assert_eq!(
        idx.update(&collection(&syn), &[] as &[&str]),
        syn.services.len()
    );
    assert_eq!(idx.files(), build(&syn).files());
}

#[test]
fn vocabulary_covers_every_word() {
    let site = example_site();
    let v = build(&site).vocabulary(&collection(&site));
    assert_eq!(v["telesoccorso"].as_deref(), Some("telesoccors"));
    assert_eq!(v["di"], None);
    assert!(v.contains_key("invalidita"));
    assert!(v.len() > 1000, "{}", v.len());
}

/// Applies the `Delta`s of `edit` to a map of files, as `serve` does.
fn apply(files: &mut BTreeMap<String, Vec<u8>>, delta: Delta) {
    for p in delta.removed {
        files.remove(&p);
    }
    files.extend(delta.written);
}

#[test]
fn edits_patch_exactly_the_files_of_a_full_build() {
    let site = example_site();
    let mut idx = build(&site);
    let mut served: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    apply(
        &mut served,
        idx.edit(&collection(&site), &[] as &[&str], false),
    );
    assert_eq!(served, build(&site).files().into_iter().collect());

    let mut site = site;
    let slug = |site: &Site, s: &str| site.services.iter().position(|x| x.slug == s).unwrap();
    // Rewrite a service's text: words appear and disappear, some only in it.
    let i = slug(&site, "telesoccorso");
    site.services[i].title = "Telesoccorso zzyzxparola".into();
    site.services[i].sections[0].html =
        "<p>Testo nuovissimo con parole inedite: qwertyuiop asdfgh.</p>\n".into();
    let d = idx.edit(&collection(&site), &["telesoccorso"], false);
    assert!(!d.written.is_empty());
    apply(&mut served, d);
    assert_eq!(served, build(&site).files().into_iter().collect());

    // Many words in two services at once, then back: shards split and merge.
    let (a, b) = (slug(&site, "isee"), slug(&site, "rsa"));
    let version = |files: &BTreeMap<String, Vec<u8>>| {
        let meta: serde_json::Value = serde_json::from_slice(&files["search/meta.json"]).unwrap();
        meta["version"].as_str().unwrap().to_string()
    };
    let before = version(&served);
    let original = (site.services[a].clone(), site.services[b].clone());
    let many: String = (0..3000).map(|n| format!("parola{n} ")).collect();
    site.services[a].sections[1].html = format!("<p>{many}</p>\n");
    site.services[b].summary = many;
    apply(
        &mut served,
        idx.edit(&collection(&site), &["isee", "rsa"], false),
    );
    assert_eq!(served, build(&site).files().into_iter().collect());
    assert_ne!(version(&served), before, "an edit changes the version");
    site.services[a] = original.0;
    site.services[b] = original.1;
    apply(
        &mut served,
        idx.edit(&collection(&site), &["isee", "rsa"], false),
    );
    assert_eq!(version(&served), before, "the same files, the same version");
    assert_eq!(served, build(&site).files().into_iter().collect());

    // A service changes category and audiences; then one is removed (full path).
    site.services[i].category = (site.services[i].category + 1) % site.categories.len();
    site.services[i].audiences.clear();
    apply(
        &mut served,
        idx.edit(&collection(&site), &["telesoccorso"], false),
    );
    assert_eq!(served, build(&site).files().into_iter().collect());
    site.services.remove(i);
    let d = idx.edit(&collection(&site), &["telesoccorso"], false);
    apply(&mut served, d);
    assert_eq!(served, build(&site).files().into_iter().collect());
}
/// Every target of the theme's lexicon is a term of the example guide,
/// or one of the words its `generic` list names: an entry that points
/// nowhere finds nothing.
#[test]
fn every_target_is_in_the_example_guide() {
    let site = example_site();
    assert!(site.lexicon.len() >= 400, "{} entries", site.lexicon.len());
    assert!(site.lexicon.frames.len() >= 20);
    let index = build(&site);
    let files = index.files();
    let mut dict = std::collections::HashSet::new();
    for (path, bytes) in &files {
        if path.starts_with("search/t/") {
            dict.extend(
                shard::decode_shard(bytes)
                    .unwrap()
                    .into_iter()
                    .map(|e| e.term),
            );
        }
    }
    let mut p = index.pipeline().clone();
    let generic: std::collections::HashSet<String> = site
        .lexicon
        .generic
        .iter()
        .flat_map(|g| p.term_list(g))
        .collect();
    let mut missing = Vec::new();
    for (key, targets) in &site.lexicon.entries {
        for t in targets {
            for term in p.term_list(t) {
                if !dict.contains(&term) && !generic.contains(&term) {
                    missing.push(format!("{key} -> {t} ({term})"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} targets not in the guide: {missing:#?}",
        missing.len()
    );
    // every key is reachable: compiled, in a file named by meta.json
    assert!(index.lexicon().values().map(Vec::len).sum::<usize>() >= 400);
    assert!(files.iter().any(|f| f.0 == "search/l/_.json"));
}

#[test]
fn a_guide_file_that_is_not_valid_is_an_error_and_the_theme_still_loads() {
    let theme = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../themes/default");
    let src = |text: &str| SourceFile {
        rel: "lexicon.toml".into(),
        kind: crate::load::Kind::Page,
        slug: String::new(),
        text: text.into(),
    };
    let mut diags = Diagnostics::default();
    let lex = load_lexicon(
        &theme,
        "it",
        Some(&src("[entries]\n\"sedia\" = \"carrozzina\"\n")),
        &mut diags,
    );
    assert!(diags.has_errors(), "a target must be a list");
    assert!(lex.len() >= 400, "the theme's entries stay");
    let mut diags = Diagnostics::default();
    let lex = load_lexicon(
        &theme,
        "it",
        Some(&src("[entries]\n\"zzparola\" = [\"telesoccorso\"]\n")),
        &mut diags,
    );
    assert!(!diags.has_errors(), "{diags:?}");
    assert_eq!(lex.entries["zzparola"], ["telesoccorso"]);
    // a language without a lexicon file has none
    let mut diags = Diagnostics::default();
    assert!(load_lexicon(&theme, "xx", None, &mut diags).is_empty());
    assert!(!diags.has_errors());
}
